#!/bin/bash
# isola kube generate against podman kube generate for the same container
# (same image, command, env, port, limits, user, working dir, capability,
# read-only root): the fields both write must agree, and isola kube play
# must accept podman's file. podman only creates its container (runc as its
# runtime, its own root in WORK), so nothing runs on podman's side.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/play_lib.sh"

command -v podman >/dev/null || skip_all "podman not installed"
k2_init podman
PM=(podman --root "$WORK/pm-root" --runroot "$WORK/pm-run" --runtime runc --storage-driver vfs)
pm_cleanup() {
	timeout 60 "${PM[@]}" rm -af >/dev/null 2>&1
	k2_cleanup
}
trap pm_cleanup EXIT

FLAGS=(-e PLAIN=x -p 28090:80 --memory 64m --cpus 0.5 --user 1000 -w /tmp --cap-add NET_ADMIN
	--read-only)
check "podman import + create" bash -c '"$@" >/dev/null 2>&1' _ \
	"${PM[@]}" import "$WORK/rootfs.tar" localhost/k2busybox:latest
check "podman create" bash -c '"$@" >/dev/null 2>&1' _ \
	"${PM[@]}" create --name k2-cmp "${FLAGS[@]}" localhost/k2busybox:latest sleep 100
check "isola create" bash -c '"$@" >/dev/null 2>&1' _ \
	"$ISOLA" create --name k2-cmp "${FLAGS[@]}" k2busybox:latest sleep 100
"${PM[@]}" kube generate k2-cmp >"$WORK/podman.yaml" 2>/dev/null
ik generate k2-cmp >"$WORK/isola.yaml" 2>/dev/null

# the container as both write it, normalised where Kubernetes allows two
# spellings (command vs args for an image without Entrypoint, CAP_ prefix,
# the image's registry)
fields() {
	python3 - "$1" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
pod = next(d for d in docs if d["kind"] == "Pod")
c = pod["spec"]["containers"][0]
sc = c.get("securityContext", {})
print("pod", pod["metadata"]["name"], "labels", pod["metadata"]["labels"])
print("name", c["name"], "image", c["image"].split("/")[-1])
print("argv", (c.get("command") or []) + (c.get("args") or []))
print("env", {e["name"]: e["value"] for e in c.get("env", [])})
print("ports", [(p["containerPort"], p.get("hostPort")) for p in c.get("ports", [])])
print("limits", c["resources"]["limits"])
print("user", sc.get("runAsUser"), "ro", sc.get("readOnlyRootFilesystem"),
      "caps", [x.removeprefix("CAP_") for x in sc.get("capabilities", {}).get("add", [])])
print("workdir", c.get("workingDir"))
PY
}
pm=$(fields "$WORK/podman.yaml" 2>&1)
is=$(fields "$WORK/isola.yaml" 2>&1)
check_match "podman's file read" "$pm" '^pod k2-cmp-pod'
check_eq "isola generate agrees with podman kube generate" "$is" "$pm"

"$ISOLA" rm -f k2-cmp >/dev/null 2>&1
# podman's own file (annotations, hostPath tmpfs volumes, its Service style)
sed -i 's#localhost/k2busybox#k2busybox#' "$WORK/podman.yaml"
out=$(ik play "$WORK/podman.yaml" 2>&1); rc=$?
check_eq "isola kube play accepts podman's file" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
check_eq "its container runs as podman described it" \
	"$("$ISOLA" exec k2-cmp-pod-k2-cmp sh -c 'echo $PLAIN; id -u; pwd')" $'x\n1000\n/tmp'
check "down of podman's file" ikq down "$WORK/podman.yaml"
check "nothing left" nothing_left

done_testing
