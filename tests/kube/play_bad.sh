#!/bin/bash
# Bad input to isola kube play: invalid YAML, an unknown kind or apiVersion,
# fields that would change behaviour, dangling references, a hostile file
# (billion laughs), a missing image, and a failure half-way through a file.
# Each gives one clear line naming the file/document/kind/path and leaves
# nothing behind; unsupported harmless fields only warn.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/play_lib.sh"

k2_init bad
trap k2_cleanup EXIT

POD_HEAD='apiVersion: v1
kind: Pod
metadata:
  name: k2-bad
spec:
  containers:'

# bad NAME REGEX < FILE: play of the file fails with exactly one line on
# stderr matching REGEX and creates nothing.
bad() {
	local name=$1 want=$2 out rc
	cat >"$WORK/bad.yaml"
	out=$(ik play "$WORK/bad.yaml" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && [[ "$out" =~ $want ]] && nothing_left; then
		ok "$name"
	else
		not_ok "$name"
		diag "rc=$rc out: $out"
		diag "want one line matching: $want"
	fi
}

bad "invalid YAML: file:line:col" "^isola kube play: $WORK/bad.yaml:9:1: did not find expected" < <(printf '%s\n  - name: a\n    image: [k2busybox\n' "$POD_HEAD")
bad "unknown kind: named with its document" "bad.yaml: document 2 \(StatefulSet\): kind 'StatefulSet' is not supported" < <(printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: k2-ok}\nspec:\n  containers: [{name: a, image: k2busybox}]\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: k2-x}\n')
bad "wrong apiVersion" "document 1 \(Pod\): apiVersion 'v2' is not supported for Pod \(v1\)" < <(printf 'apiVersion: v2\nkind: Pod\nmetadata: {name: k2-x}\n')
bad "initContainers refused (dropping them would change behaviour)" "document 1 \(Pod k2-bad\): spec: initContainers are not supported" < <(printf '%s\n  - name: a\n    image: k2busybox\n  initContainers: [{name: i, image: k2busybox}]\n' "$POD_HEAD")
bad "subPath refused, with its path" "spec.containers\[0\].volumeMounts\[0\]: subPath is not supported" < <(printf '%s\n  - name: a\n    image: k2busybox\n    volumeMounts: [{name: v, mountPath: /v, subPath: x}]\n  volumes: [{name: v, emptyDir: {}}]\n' "$POD_HEAD")
bad "privileged refused" "spec.containers\[0\].securityContext: privileged containers are not supported" < <(printf '%s\n  - name: a\n    image: k2busybox\n    securityContext: {privileged: true}\n' "$POD_HEAD")
bad "bad quantity" "spec.containers\[0\].resources.limits: memory 'lots' is not a quantity" < <(printf '%s\n  - name: a\n    image: k2busybox\n    resources: {limits: {memory: lots}}\n' "$POD_HEAD")
bad "invalid container name" "spec.containers\[0\]: name is missing or not a valid name" < <(printf '%s\n  - name: Bad_Name\n    image: k2busybox\n' "$POD_HEAD")
bad "dangling ConfigMap reference" "container 'a': env X: ConfigMap 'k2-missing' is not in the file" < <(printf '%s\n  - name: a\n    image: k2busybox\n    env: [{name: X, valueFrom: {configMapKeyRef: {name: k2-missing, key: k}}}]\n' "$POD_HEAD")
bad "dangling claim" "spec.volumes: PersistentVolumeClaim 'k2-nope' is not in the file" < <(printf '%s\n  - name: a\n    image: k2busybox\n    volumeMounts: [{name: d, mountPath: /d}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: k2-nope}}]\n' "$POD_HEAD")
bad "mount of an undeclared volume" "container 'a' mounts volume 'nope', which is not in volumes" < <(printf '%s\n  - name: a\n    image: k2busybox\n    volumeMounts: [{name: nope, mountPath: /d}]\n' "$POD_HEAD")
bad "a document that is no object" "document 1 \(\?\): expected a mapping" < <(printf -- '- just\n- a list\n')
bad "billion laughs stops at the node bound" "manifest too large" < <(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k2-lol}\ndata:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n')
bad "duplicate key" "duplicate key 'a'" < <(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k2-dup}\ndata: {a: x, a: y}\n')
bad "a file over 4 MiB" "bad.yaml: larger than 4194304 bytes" < <(head -c 5000000 /dev/zero | tr '\0' '#')
# a missing image: the first pod of the file is not created either
bad "missing image: error names pod, container and image" "pod k2-bad: container 'a': image 'localhost:1/k2-no-such-image:v1'" < <(printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: k2-first}\nspec:\n  containers: [{name: a, image: k2busybox, command: [sleep, "60"]}]\n---\n%s\n  - name: a\n    image: localhost:1/k2-no-such-image:v1\n' "$POD_HEAD")
# a failure in the engine half-way: the claim's volume and the pods made so far go
printf 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: k2-claim}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: k2-first}\nspec:\n  containers: [{name: a, image: k2busybox, command: [sleep, "60"], volumeMounts: [{name: d, mountPath: /d}]}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: k2-claim}}]\n---\n%s\n  - {name: a, image: k2busybox, command: [sleep, "60"]}\n  - {name: b, image: k2busybox, command: [sleep, "60"], volumeMounts: [{name: h, mountPath: /h}]}\n  volumes: [{name: h, hostPath: {path: /nonexistent/k2}}]\n' "$POD_HEAD" >"$WORK/half.yaml"
out=$(ik play "$WORK/half.yaml" 2>/dev/null); err=$(ik play "$WORK/half.yaml" 2>&1 >/dev/null); rc=$?
check_match "half-way failure: the first pod was running" "$out" $'Pod k2-first\n'
check_match "half-way failure: one line naming pod, container and source" "$err" \
	"^isola kube play: pod k2-bad: container 'b': .*'/nonexistent/k2'.*No such file or directory$"
check "half-way failure: rolled back, nothing left" nothing_left

# an unsupported but harmless field: a warning naming it, and the pod runs
printf '%s\n  - name: a\n    image: k2busybox\n    command: [sleep, "60"]\n    livenessProbe: {exec: {command: ["true"]}}\n' "$POD_HEAD" >"$WORK/warn.yaml"
err=$(ik play "$WORK/warn.yaml" 2>&1 >/dev/null); rc=$?
check_eq "unsupported field: play still runs" "$rc" 0
check_eq "unsupported field: one warning naming document, kind and path" "$err" \
	"warning: $WORK/warn.yaml: document 1 (Pod k2-bad): spec.containers[0].livenessProbe: unsupported field, ignored"
check "down of the warned file" ikq down "$WORK/warn.yaml"
check "nothing left" nothing_left
check_match "down of a file whose pods are gone: nothing to do" "$(ik down "$WORK/warn.yaml" 2>/dev/null; echo "rc=$?")" '^rc=0$'
check_match "generate of an unknown name" "$(ik generate k2-nothing 2>&1)" \
	"^isola kube generate: 'k2-nothing' is no pod, container or compose project"
check_match "kube without a command: usage" "$(ik 2>&1; echo "rc=$?")" 'usage: isola kube play.*rc=125$'

done_testing
