#!/usr/bin/env bash
# isola's own API: every route of docs/api/openapi.yaml is implemented and
# every /isola/v1 route is documented (both read by tests/api/v1_check.py),
# each answer validates against the document's schemas (python3-jsonschema),
# and the figures are real: a running container's usage, a deployed
# function, the host's totals. Routes whose library is missing in this
# binary answer 501 and are listed as skips that name them.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
PY=/usr/bin/python3 # Debian's, with python3-yaml and python3-jsonschema
$PY -c 'import yaml, jsonschema' 2>/dev/null || skip_all "needs python3-yaml and python3-jsonschema"
. "$(dirname "$0")/lib.sh"

start_serve || skip_all "serve did not start"
"$ISOLA" run -d --name v2-c1 "$IMG" sh -c 'echo v2-hello; while true; do sleep 1; done' >/dev/null 2>&1
check_eq "a running container for the checks" "$(api GET /containers/v2-c1/json | sed 's/^200 //' | jq -r .State.Status)" "running"
"$ISOLA" fn deploy v2-fn --image "$IMG" --mode stdio -- sh -c 'echo "in: $(cat)"' >/dev/null 2>"$API_TMP/fn.err"
check "a deployed function for the checks" grep -q v2-fn <<<"$("$ISOLA" fn ls 2>&1)"

# A running VM for the VM routes, where this binary has the VM manager,
# /dev/kvm opens and the project's test guest is built: it prints its test
# lines, then idles (the guest of tests/vm/managed.sh).
GUEST=$ISOLA_BUILD/guest/testguest.elf
VM_CFG="{\"kernel\": \"$GUEST\", \"memory_mib\": 64, \"cmdline\": \"tests=uart,rtc,sleep sleep_ms=600000\"}"
HAVE_VM=
if [ "$(api GET /isola/v1/vms | cut -c1-3)" = 200 ] && [ -f "$GUEST" ] && [ -c /dev/kvm ]; then
	check_eq "VM create through the API" "$(api POST /isola/v1/vms -d "{\"name\": \"v2-vm\", \"config\": $VM_CFG}" |
		sed 's/ .*"state":"\([a-z]*\)".*/ \1/')" "201 created"
	check_eq "VM start through the API" "$(api POST /isola/v1/vms/v2-vm/start)" "204 "
	HAVE_VM=1
	follow() { curl -sN --max-time 3 --unix-socket "$SOCK" "http://d/isola/v1/vms/v2-vm/console?follow=1"; }
	for _ in $(seq 50); do follow | grep -q ISOLA-GUEST && break; sleep 0.2; done
	check_match "VM console stream (follow) has the guest's output" "$(follow)" 'ISOLA-GUEST boot='
	check_match "... and again after the last client went away" "$(follow)" 'ISOLA-GUEST boot='
	# snapshots (issue #13): two to start from; the route cases below
	# restore, revert, delete and add to them
	trap 'for v in v2-vm v2-vm2 v2-vm3; do "$ISOLA" vm rm --force $v >/dev/null 2>&1; done; api_cleanup' EXIT
	check_match "VM snapshot through the API" \
		"$(api POST /isola/v1/vms/v2-vm/snapshots -d '{"name": "s3-a"}')" '^201 \{.*"paused_ms":'
	check_match "... and a second one" "$(api POST /isola/v1/vms/v2-vm/snapshots -d '{"name": "s3-del"}')" '^201 '
fi
vm_cases() { # the real VM's cases, when there is one
	[ -n "$HAVE_VM" ] || return 0
	cat <<JSON
 "GET /isola/v1/vms/{name}": [{"path": {"name": "v2-vm"}, "want": 200}, {"path": {"name": "v2-nosuch"}, "want": 404}],
 "GET /isola/v1/vms/{name}/counters": [{"path": {"name": "v2-vm"}, "want": 200}, {"path": {"name": "v2-nosuch"}, "want": 404}],
 "GET /isola/v1/vms/{name}/console": [{"path": {"name": "v2-vm"}, "want": 200}, {"path": {"name": "v2-nosuch"}, "want": 404}],
 "DELETE /isola/v1/vms/{name}": [{"path": {"name": "v2-vm"}, "want": 409}, {"path": {"name": "v2-nosuch"}, "want": 404}],
 "POST /isola/v1/vms/{name}/start": [{"path": {"name": "v2-vm"}, "want": 304}, {"path": {"name": "v2-nosuch"}, "want": 404}],
 "POST /isola/v1/vms/{name}/stop": [{"path": {"name": "v2-vm"}, "query": "t=2", "want": 204}, {"path": {"name": "v2-nosuch"}, "want": 404}],
 "DELETE /isola/v1/vms/{name}/snapshots/{snap}": [{"path": {"name": "v2-vm", "snap": "s3-del"}, "want": 204},
                        {"path": {"name": "v2-vm", "snap": "s3-del"}, "want": 404},
                        {"path": {"name": "v2-vm", "snap": "s3\$bad"}, "want": 400},
                        {"path": {"name": "v2-nosuch", "snap": "s3-a"}, "want": 404}],
 "GET /isola/v1/vms/{name}/snapshots": [{"path": {"name": "v2-vm"}, "want": 200}, {"path": {"name": "v2-nosuch"}, "want": 404}],
 "POST /isola/v1/vms/{name}/restore": [{"path": {"name": "v2-vm"}, "body": {"snapshot": "s3-a", "name": "v2-vm3"}, "want": 201},
                        {"path": {"name": "v2-vm"}, "body": {"snapshot": "s3-a", "name": "v2-vm3"}, "want": 409},
                        {"path": {"name": "v2-vm"}, "body": {"snapshot": "s3-a"}, "want": 409},
                        {"path": {"name": "v2-vm"}, "body": {"snapshot": "s3-nosuch"}, "want": 404},
                        {"path": {"name": "v2-vm"}, "body": {"snapshot": "../s3-a"}, "want": 400},
                        {"path": {"name": "v2-vm"}, "body": {"snapshot": 5}, "want": 400},
                        {"path": {"name": "v2-vm2"}, "body": {"snapshot": "s3-a"}, "want": 404},
                        {"path": {"name": "v2-nosuch"}, "body": {"snapshot": "s3-a"}, "want": 404}],
 "POST /isola/v1/vms/{name}/revert": [{"path": {"name": "v2-vm"}, "body": {"snapshot": "s3-a"}, "want": 200},
                        {"path": {"name": "v2-vm"}, "body": {"snapshot": "s3\$bad"}, "want": 400},
                        {"path": {"name": "v2-vm"}, "body": {}, "want": 400},
                        {"path": {"name": "v2-nosuch"}, "body": {"snapshot": "s3-a"}, "want": 404}],
 "POST /isola/v1/vms/{name}/snapshots": [{"path": {"name": "v2-vm"}, "body": {"name": "s3-b"}, "want": 201},
                        {"path": {"name": "v2-vm"}, "body": {"name": "s3-live", "live": true}, "want": 201},
                        {"path": {"name": "v2-vm"}, "body": {"name": "s3-live2", "live": "yes"}, "want": 400},
                        {"path": {"name": "v2-vm"}, "body": {"name": "s3-b"}, "want": 409},
                        {"path": {"name": "v2-vm"}, "body": {"name": "../x"}, "want": 400},
                        {"path": {"name": "v2-vm"}, "body": {"name": 5}, "want": 400},
                        {"path": {"name": "v2-vm2"}, "body": {"name": "s3-c"}, "want": 409},
                        {"path": {"name": "v2-nosuch"}, "body": {"name": "s3-c"}, "want": 404}],
 "POST /isola/v1/vms": [{"body": {"name": "v2-vm2", "config": $VM_CFG}, "want": 201},
                        {"body": {"name": "v2-vm2", "config": $VM_CFG}, "want": 409},
                        {"body": {"name": "v2-vm-bad", "config": {"kernel": "$API_TMP/nosuch-kernel"}}, "want": 404},
                        {"body": {"name": 5}, "want": 400}],
JSON
}

# Path parameters and bodies per operation: a real object (200 and its
# schema), and an object that does not exist (404 and the Error schema).
# (a repeated key: the last one counts, so the real VM's cases come last)
{ echo "{"; cat <<JSON
 "GET /isola/v1/containers/{id}": [{"path": {"id": "v2-c1"}, "want": 200},
                                   {"path": {"id": "v2-nosuch"}, "want": 404}],
 "GET /isola/v1/functions/{name}": [{"path": {"name": "v2-fn"}, "want": 200},
                                    {"path": {"name": "v2-nosuch"}, "want": 404}],
 "GET /isola/v1/functions/{name}/usage": [{"path": {"name": "v2-fn"}, "want": 200},
                                          {"path": {"name": "v2-fn"}, "query": "since=0", "want": 200},
                                          {"path": {"name": "v2-fn"}, "query": "since=x", "want": 400},
                                          {"path": {"name": "v2-nosuch"}, "want": 404}],
 "POST /isola/v1/vms": [{"body": {"name": "v2-vm-bad", "config": {"kernel": "$API_TMP/nosuch-kernel"}}, "want": 404},
                        {"body": {"name": 5}, "want": 400}],
 "GET /isola/v1/vms/{name}": [{"path": {"name": "v2-nosuch"}, "want": 404}],
 "DELETE /isola/v1/vms/{name}": [{"path": {"name": "v2-nosuch"}, "want": 404}],
 "POST /isola/v1/vms/{name}/start": [{"path": {"name": "v2-nosuch"}, "want": 404}],
 "POST /isola/v1/vms/{name}/stop": [{"path": {"name": "v2-nosuch"}, "want": 404}],
 "GET /isola/v1/vms/{name}/console": [{"path": {"name": "v2-nosuch"}, "want": 404}],
 "GET /isola/v1/vms/{name}/counters": [{"path": {"name": "v2-nosuch"}, "want": 404}],
 "GET /isola/v1/vms/{name}/snapshots": [{"path": {"name": "v2-nosuch"}, "want": 404}],
 "POST /isola/v1/vms/{name}/snapshots": [{"path": {"name": "v2-nosuch"}, "body": {"name": "s3-a"}, "want": 404}],
 "DELETE /isola/v1/vms/{name}/snapshots/{snap}": [{"path": {"name": "v2-nosuch", "snap": "s3-a"}, "want": 404}],
 "POST /isola/v1/vms/{name}/restore": [{"path": {"name": "v2-nosuch"}, "body": {"snapshot": "s3-a"}, "want": 404}],
 "POST /isola/v1/vms/{name}/revert": [{"path": {"name": "v2-nosuch"}, "body": {"snapshot": "s3-a"}, "want": 404}],
JSON
vm_cases; echo ' "_": []'; echo "}"; } >"$API_TMP/params.json"
while IFS= read -r line; do
	case $line in
	PASS\ *) ok "${line#PASS }" ;;
	FAIL\ *) not_ok "${line#FAIL }" ;;
	SKIP\ *) skip "${line#SKIP }" ;;
	*) diag "$line" ;;
	esac
done < <($PY "$(dirname "$0")/v1_check.py" "$ISOLA_SRC/docs/api/openapi.yaml" \
	"$ISOLA_SRC/src/api/v1_routes.c" "$SOCK" "$API_TMP/params.json" 2>&1)

if command -v node >/dev/null && [ -d "$ISOLA_SRC/web/node_modules/@apidevtools/swagger-parser" ]; then
	line=$(node "$(dirname "$0")/v1_openapi.mjs" "$ISOLA_SRC/web" "$ISOLA_SRC/docs/api/openapi.yaml" 2>&1)
	case $line in
	PASS\ *) ok "${line#PASS }" ;;
	*) not_ok "the document is valid OpenAPI"; diag "$line" ;;
	esac
else
	skip "OpenAPI validation: no node or web/node_modules (scripts/deps build runs npm ci)"
fi

# The figures themselves (the schemas say only their shapes).
j=$(api GET /isola/v1/containers/v2-c1 | sed 's/^200 //')
check "the running container uses memory" test "$(jq -r .memory_bytes <<<"$j")" -gt 0
check "... and has processes" test "$(jq -r .pids <<<"$j")" -ge 1
check_eq "... and its name and state" "$(jq -r '.name + " " + .state' <<<"$j")" "v2-c1 running"
j=$(api GET /isola/v1/system | sed 's/^200 //')
check_eq "system counts the container and the function" \
	"$(jq -c '[.counts.containers_running, .counts.functions]' <<<"$j")" "[1,1]"
j=$(api GET /isola/v1/system/cost | sed 's/^200 //')
check_eq "host CPU seconds and memory are positive" \
	"$(jq '.host.cpu_seconds > 0 and .host.memory_used_bytes > 0' <<<"$j")" "true"
check_eq "the container kind has the running container" \
	"$(jq -c '.kinds[] | select(.kind == "container") | [.running, (.memory_bytes > 0)]' <<<"$j")" "[1,true]"
j=$(api GET /isola/v1/metrics/summary | sed 's/^200 //')
check_eq "the summary lists the container as a workload" \
	"$(jq -r '.workloads[] | select(.kind == "container") | .name' <<<"$j")" "v2-c1"
check_match "unknown /isola/v1 path 404" "$(api GET /isola/v1/nosuch)" '^404 \{"message":"page not found"\}'
check_match "wrong method 405" "$(api POST /isola/v1/system)" '^405 '
check_match "path traversal 404" "$(api GET /isola/v1/containers/..)" '^404 '
check_match "VM create: malformed JSON 400" "$(api POST /isola/v1/vms -d '{bad')" '^(400|501) '
page=$(api GET /)
check_match "GET / is the dashboard page" "$page" '^200 <!doctype html>.*<title>isola</title>'
check_match "... with the bundle inlined (no external loads)" "$page" 'uplot'
check "GET /dashboard is the same page" test "$(api GET /dashboard)" == "$page"
check_eq "the same route under the Docker version prefix" \
	"$(api GET /v1.41/isola/v1/containers/v2-c1 | cut -c1-3)" "200"
if [ -n "$HAVE_VM" ]; then
	check_match "the VM's console through the API shows the guest's output" \
		"$(api GET /isola/v1/vms/v2-vm/console)" 'ISOLA-GUEST'
	check_eq "the stopped VM is stopped" "$(api GET /isola/v1/vms/v2-vm | sed 's/.*"state":"\([a-z]*\)".*/\1/')" "stopped"
	check_eq "its snapshots: the first, two after the revert (the deleted one gone)" \
		"$(api GET /isola/v1/vms/v2-vm/snapshots | sed 's/^200 //' | jq -c '[.[].name]')" '["s3-a","s3-b","s3-live"]'
	check_eq "the VM restored under a new name runs" \
		"$(api GET /isola/v1/vms/v2-vm3 | sed 's/.*"state":"\([a-z]*\)".*/\1/')" "running"
	check_eq "... from the snapshot, not booted (no boot line on its console)" \
		"$(api GET /isola/v1/vms/v2-vm3/console | grep -c 'ISOLA-GUEST boot=')" "0"
	check_eq "restore of the stopped VM itself 200" \
		"$(api POST /isola/v1/vms/v2-vm/restore -d '{"snapshot": "s3-b"}' | sed 's/ .*"state":"\([a-z]*\)".*/ \1/')" "200 running"
	check_eq "snapshot delete while the VM runs 204" \
		"$(api DELETE /isola/v1/vms/v2-vm/snapshots/s3-b)" "204 "
	check_eq "VM v2-vm3 delete (force) 204" "$(api DELETE '/isola/v1/vms/v2-vm3?force=1')" "204 "
	check_eq "VM v2-vm delete (force) 204" "$(api DELETE '/isola/v1/vms/v2-vm?force=1')" "204 "
	check_eq "... and v2-vm2 (created, never started)" "$(api DELETE /isola/v1/vms/v2-vm2)" "204 "
	check_eq "no VMs left" "$(api GET /isola/v1/vms)" "200 []"
else
	skip "the VM life cycle: no VM manager in this binary, no /dev/kvm or no test guest"
fi
# One invocation, metered: fn invoke runs an instance in-process. It is
# src/fn's to make work; when it does not answer here the usage checks
# skip and say so (the shapes above were checked already).
out=$(timeout -s KILL 30 "$ISOLA" fn invoke v2-fn --data v2-ping 2>&1)
if [ "$out" = "in: v2-ping" ]; then
	ok "one invocation of the function"
	j=$(api GET /isola/v1/functions/v2-fn/usage | sed 's/^200 //')
	check_eq "its usage counts it, with a cost under both models" \
		"$(jq -c '[.invocations, .cold_starts, .billed_ms > 0, .cost_lambda_usd > 0, .cost_usage_usd > 0]' <<<"$j")" \
		"[1,1,true,true,true]"
	j=$(api GET /isola/v1/system/cost | sed 's/^200 //')
	check_eq "the function kind counts the invocation" \
		"$(jq -c '.kinds[] | select(.kind == "function") | [.count, .invocations]' <<<"$j")" "[1,1]"
else
	skip "function usage after an invocation: isola fn invoke did not answer (${out:-no output in 30 s})"
	for d in $(find /sys/fs/cgroup -maxdepth 2 -name 'isola-fn-v2-fn-*' 2>/dev/null); do rmdir "$d" 2>/dev/null; done
fi
"$ISOLA" fn rm v2-fn >/dev/null 2>&1
done_testing
