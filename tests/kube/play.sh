#!/bin/bash
# isola kube play / generate / down against the engine: a pod of two
# containers talking over localhost, ConfigMap and Secret as env and volumes,
# limits and securityContext, a Service port reached from the host with
# curl, a Deployment of 2 replicas with a claim and an emptyDir, generate ->
# down -> play round trip (python3-yaml reads what generate writes), and down
# leaving nothing (containers, volumes, pod directories, netns, nft rules).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/play_lib.sh"

k2_init play
trap k2_cleanup EXIT

# wait_http URL: the body once the server answers (up to 5 s).
wait_http() {
	local i body
	for i in $(seq 50); do
		body=$(curl -s --max-time 2 "$1") && [ -n "$body" ] && { echo "$body"; return 0; }
		sleep 0.1
	done
	return 1
}

# --- a pod of two containers ---
out=$(ik play app.yaml 2>&1); rc=$?
check_eq "play app.yaml exits 0" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
check_match "play names the pod and its containers" "$out" $'Pod k2-web\n  Container k2-web-server [0-9a-f]{12}\n  Container k2-web-client'
check_eq "infra + 2 containers running" "$(names)" "k2-web-client k2-web-infra k2-web-server "
check_eq "client reaches server over localhost" \
	"$("$ISOLA" exec k2-web-client sh -c 'for i in $(seq 50); do wget -qO- http://localhost:8080/index.html && break; sleep 0.1; done')" \
	"served-by-k2-web"
inside=$("$ISOLA" exec k2-web-client sh -c 'echo "$GREETING|$TOKEN|$PLAIN"; cat /conf/app.conf /creds/TOKEN; echo; id -u; pwd; hostname; touch /conf/x 2>/dev/null || echo ro')
check_match "ConfigMap env (configMapKeyRef)" "$inside" '^hello-from-configmap\|'
check_match "Secret env (secretKeyRef, base64 decoded)" "$inside" '\|s3cret-token\|a b'
check_match "ConfigMap volume file" "$inside" $'\nkey=value\n'
check_match "Secret volume file" "$inside" $'\ns3cret-token\n'
check_match "runAsUser" "$inside" $'\n1000\n'
check_match "workingDir" "$inside" $'\n/conf\n'
check_match "hostname is the pod name" "$inside" $'\nk2-web\n'
check_match "ConfigMap volume is read-only" "$inside" 'ro$'
check_match "memory limit (64Mi)" "$("$ISOLA" stats --no-stream k2-web-client 2>&1)" '/ 64MiB'
# cpu: 500m is half of a period in the container's cgroup (v1 or v2)
cid=$("$ISOLA" container-inspect k2-web-client | jq -r '.[0].Id')
quota=$(cat "/sys/fs/cgroup/cpu/isola/$cid/cpu.cfs_quota_us" 2>/dev/null ||
	awk '{print $1}' "/sys/fs/cgroup/isola/$cid/cpu.max" 2>/dev/null)
check_eq "cpu limit (500m) in the container's cgroup" "$quota" 50000
check_eq "Service port reached from the host" "$(wait_http http://127.0.0.1:28080/index.html)" "served-by-k2-web"
check_match "Service nodePort published on the infra" "$("$ISOLA" port k2-web-infra)" '8080/tcp -> 0.0.0.0:28080'

out=$(ik play app.yaml 2>&1); rc=$?
check "second play refused" [ $rc -ne 0 ]
check_match "second play: one clear error" "$out" '^isola kube play: pod k2-web already exists \(kube down FILE, or play --replace\)$'
old=$("$ISOLA" container-inspect k2-web-server | jq -r '.[0].Id')
out=$(ik play --replace app.yaml 2>&1); rc=$?
check_eq "play --replace exits 0" "$rc" 0
check "--replace made new containers" [ "$("$ISOLA" container-inspect k2-web-server | jq -r '.[0].Id')" != "$old" ]
check_eq "--replace: same app" "$(wait_http http://127.0.0.1:28080/index.html)" "served-by-k2-web"

# --- generate -> down -> play ---
check "generate --service -f FILE" ikq generate --service -f "$WORK/gen.yaml" k2-web
kinds=$(python3 -c 'import sys, yaml; print(" ".join(d["kind"] for d in yaml.safe_load_all(open(sys.argv[1])) if d))' "$WORK/gen.yaml" 2>&1)
check_eq "python3-yaml reads generate's output" "$kinds" "ConfigMap ConfigMap Pod Service"
gen_fields=$(python3 - "$WORK/gen.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
pod = next(d for d in docs if d["kind"] == "Pod")
svc = next(d for d in docs if d["kind"] == "Service")
c = {x["name"]: x for x in pod["spec"]["containers"]}
print(sorted(c), c["client"]["resources"]["limits"], c["client"]["securityContext"],
      {e["name"]: e["value"] for e in c["client"]["env"]}["PLAIN"],
      c["server"]["ports"][0]["containerPort"], svc["spec"]["ports"][0]["nodePort"],
      svc["spec"]["selector"] == pod["metadata"]["labels"])
PY
)
check_eq "generate: containers, limits, securityContext, env, ports, Service" "$gen_fields" \
	"['client', 'server'] {'cpu': '500m', 'memory': '64Mi'} {'runAsUser': 1000} a b 8080 28080 True"
# kubectl without a cluster: annotate --local reads every document; set env
# --local decodes the Pod into Kubernetes' typed objects (field types checked)
if command -v kubectl >/dev/null; then
	check_eq "kubectl reads every document (annotate --local)" \
		"$(kubectl annotate --local -f "$WORK/gen.yaml" k2=checked -o name 2>&1 | tr '\n' ' ')" \
		"configmap/k2-web-conf-configmap-0 configmap/k2-web-creds-configmap-1 pod/k2-web service/k2-web "
	python3 -c 'import sys, yaml; yaml.safe_dump_all([d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Pod"], open(sys.argv[2], "w"))' \
		"$WORK/gen.yaml" "$WORK/gen-pod.yaml"
	check_eq "kubectl decodes the Pod into its typed API (set env --local)" \
		"$(kubectl set env --local -f "$WORK/gen-pod.yaml" K2=1 -o name 2>&1)" "pod/k2-web"
else
	skip "kubectl not installed"
	skip "kubectl not installed"
fi

out=$(ik down app.yaml 2>&1); rc=$?
check_eq "down exits 0" "$rc" 0
check_eq "down says what it removed" "$out" "Pod k2-web removed"
check "down leaves nothing (containers, pod dirs, netns, nft DNAT)" nothing_left
check "host port closed after down" bash -c "! curl -s --max-time 2 http://127.0.0.1:28080/ >/dev/null"
out=$(ik play "$WORK/gen.yaml" 2>&1); rc=$?
check_eq "play of generated YAML exits 0" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
check_eq "round trip: same containers" "$(names)" "k2-web-client k2-web-infra k2-web-server "
check_eq "round trip: same page from the host" "$(wait_http http://127.0.0.1:28080/index.html)" "served-by-k2-web"
check_eq "round trip: same env, files and user inside" \
	"$("$ISOLA" exec k2-web-client sh -c 'echo "$GREETING|$TOKEN|$PLAIN"; cat /conf/app.conf /creds/TOKEN; echo; id -u; pwd; hostname; touch /conf/x 2>/dev/null || echo ro')" \
	"$inside"
check "down of the generated file" ikq down "$WORK/gen.yaml"
check "nothing left after the round trip" nothing_left

# --- a Deployment of 2 replicas with a claim ---
out=$(ik play deploy.yaml 2>&1); rc=$?
check_eq "play deploy.yaml exits 0" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
check_eq "replicas as separate pods" "$(names)" \
	"k2-dep-pod-0-infra k2-dep-pod-0-main k2-dep-pod-0-side k2-dep-pod-1-infra k2-dep-pod-1-main k2-dep-pod-1-side "
check_eq "the claim is a named volume" "$(vols)" "k2-data "
# the main containers write at start: wait for both files (up to 10 s)
for i in $(seq 100); do
	[ "$("$ISOLA" exec k2-dep-pod-0-side cat /scratch/f 2>/dev/null)" = shared ] &&
		[ "$("$ISOLA" exec k2-dep-pod-0-main ls /data 2>/dev/null | wc -l)" = 2 ] && break
	sleep 0.1
done
check_eq "both replicas write to the claim" \
	"$("$ISOLA" exec k2-dep-pod-1-side sh -c 'ls /data 2>/dev/null || echo no /data'; "$ISOLA" exec k2-dep-pod-0-main ls /data | tr '\n' ' ')" \
	$'no /data\nk2-dep-pod-0 k2-dep-pod-1 '
check_eq "emptyDir shared inside a pod" "$("$ISOLA" exec k2-dep-pod-0-side cat /scratch/f)" "shared"
check "replicas have their own network namespace" bash -c \
	"[ \"\$('$ISOLA' exec k2-dep-pod-0-main hostname -i)\" != \"\$('$ISOLA' exec k2-dep-pod-1-main hostname -i)\" ]"
out=$(ik down --keep-volumes deploy.yaml 2>&1)
check_eq "down --keep-volumes" "$out" $'Pod k2-dep-pod-0 removed\nPod k2-dep-pod-1 removed'
check_eq "the claim's volume is kept" "$(vols)" "k2-data "
check "play again: the claim's data is still there" ikq play deploy.yaml
check_match "data kept across down --keep-volumes" "$("$ISOLA" exec k2-dep-pod-0-main ls /data | tr '\n' ' ')" 'k2-dep-pod-1'
out=$(ik play --down deploy.yaml 2>&1)
check_match "play --down removes pods and the claim's volume" "$out" 'Volume k2-data removed$'
check "nothing left after down" nothing_left

# --- generate of a compose project: its services as one pod ---
if (cd compose && timeout 120 "$ISOLA" compose -p k2cp up -d >/dev/null 2>&1); then
	check "generate --service PROJECT" ikq generate --service -f "$WORK/cp.yaml" k2cp
	check_eq "the project's containers, its volume as a claim, a Service" \
		"$(python3 -c 'import sys, yaml; print(" ".join(d["kind"] + "/" + d["metadata"]["name"] for d in yaml.safe_load_all(open(sys.argv[1])) if d))' "$WORK/cp.yaml")" \
		"PersistentVolumeClaim/k2cp-data Pod/k2cp Service/k2cp"
	(cd compose && timeout 60 "$ISOLA" compose -p k2cp down >/dev/null 2>&1)
	check "play of the generated project" ikq play "$WORK/cp.yaml"
	check_eq "the project's web service from the host" "$(wait_http http://127.0.0.1:28085/index.html)" "from-compose"
	check_eq "services reach each other on localhost in the pod" \
		"$("$ISOLA" exec k2cp-client-1 sh -c 'wget -qO- http://localhost:8080/index.html; echo $FROM_COMPOSE')" \
		$'from-compose\nyes'
	check "down of the generated project" ikq down "$WORK/cp.yaml"
	"$ISOLA" volume rm k2cp_data >/dev/null 2>&1
	check "nothing left after the project's pod" nothing_left
else
	skip "compose up failed"
fi

done_testing
