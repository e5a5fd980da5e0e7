#!/bin/bash
# The state isola-runtime reports through a container's life (creating,
# created, running, paused, stopped), on `state`, to hooks on stdin and in
# `list --format json`, validated against the OCI runtime-spec state schema
# (oci-state.schema.json, with runc's extra "paused" status where runc reports
# it); and the shape of `ps --format json`.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ctr.sh"

SCHEMA=$ISOLA_SRC/tests/ctr/oci-state.schema.json
# Debian's python3-jsonschema lives with Debian's interpreter, which a
# python3 earlier on PATH (pyenv, a venv) would not see.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip_all "python3 missing"
"$PY" -c 'import jsonschema' 2>/dev/null || skip_all "python3 jsonschema module missing (Debian: python3-jsonschema)"
ctr_test_init stateschema
ID=ctrtss-life

trap ctr_test_cleanup EXIT

# validate.py MODE < JSON: MODE "state" (the OCI schema), "paused" (plus
# runc's "paused" status, which needs a pid like running), "list" (null or an
# array of paused-mode states that also carry "created" as RFC 3339 time), or
# "ps" (an array of positive pids). Prints what is wrong; exit 1 if anything.
cat >"$WORK/validate.py" <<'EOF'
import copy, json, re, sys
import jsonschema

mode, schema_path = sys.argv[1], sys.argv[2]
with open(schema_path) as f:
    schema = json.load(f)
jsonschema.Draft7Validator.check_schema(schema)
runc = copy.deepcopy(schema)
runc["properties"]["status"]["enum"].append("paused")
runc["if"]["properties"]["status"]["enum"].append("paused")
rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

doc = json.load(sys.stdin)
errors = []
if mode == "state":
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
elif mode == "paused":
    errors = [e.message for e in jsonschema.Draft7Validator(runc).iter_errors(doc)]
elif mode == "list":
    if doc is not None and not isinstance(doc, list):
        errors.append("not an array (or null)")
    for i, entry in enumerate(doc or []):
        errors += ["[%d]: %s" % (i, e.message) for e in jsonschema.Draft7Validator(runc).iter_errors(entry)]
        if not isinstance(entry, dict) or not rfc3339.match(str(entry.get("created", ""))):
            errors.append("[%d]: created is not an RFC 3339 time" % i)
elif mode == "ps":
    if not isinstance(doc, list) or not all(type(p) is int and p > 0 for p in doc):
        errors.append("not an array of positive integers")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
EOF
# valid MODE JSON: passes when JSON validates in MODE (shows why not).
valid() {
	local out
	out=$("$PY" "$WORK/validate.py" "$1" "$SCHEMA" <<<"$2" 2>&1) && return 0
	diag "$2"
	diag "$out"
	return 1
}
invalid() { ! "$PY" "$WORK/validate.py" "$1" "$SCHEMA" <<<"$2" >/dev/null 2>&1; }

# --- the schema itself rejects what the spec forbids (so the checks below can fail)
check "schema: a well-formed state passes" valid state '{"ociVersion": "1.1.0", "id": "a", "status": "stopped", "bundle": "/b"}'
check "schema: running without pid fails" invalid state '{"ociVersion": "1.1.0", "id": "a", "status": "running", "bundle": "/b"}'
check "schema: relative bundle fails" invalid state '{"ociVersion": "1.1.0", "id": "a", "status": "stopped", "bundle": "b"}'
check "schema: unknown status fails" invalid state '{"ociVersion": "1.1.0", "id": "a", "status": "exited", "bundle": "/b"}'
check "schema: non-string annotation fails" invalid state '{"ociVersion": "1.1.0", "id": "a", "status": "stopped", "bundle": "/b", "annotations": {"k": 1}}'
check "schema: paused is not OCI" invalid state '{"ociVersion": "1.1.0", "id": "a", "status": "paused", "pid": 5, "bundle": "/b"}'
check "ps shape: strings fail" invalid ps '["1"]'

# The bundle: hooks save the state they get on stdin; annotations set.
make_bundle "$WORK/b" sleep 1000 || { echo "Bail out! make_bundle failed"; exit 1; }
hook() { jq -n --arg f "$WORK/hook-$1.json" '{path: "/bin/sh", args: ["sh", "-c", "cat >\"$0\"", $f]}'; }
edit_config "$WORK/b" '.annotations = {"org.isola.test": "state-schema", "empty": ""}
	| .hooks = {createRuntime: [$cr], poststart: [$ps], poststop: [$po]}' \
	--argjson cr "$(hook createRuntime)" --argjson ps "$(hook poststart)" --argjson po "$(hook poststop)"
# A second bundle whose createRuntime hook is slow enough to see "creating".
make_bundle "$WORK/slow" true &&
	edit_config "$WORK/slow" '.hooks = {createRuntime: [{path: "/bin/sleep", args: ["sleep", "1"]}]}'

# --- creating (while the slow hook runs)
rt create --bundle "$WORK/slow" ctrtss-slow &
CPID=$!
SEEN=
for _ in $(seq 100); do
	SEEN=$(rt state ctrtss-slow 2>/dev/null)
	[ -n "$SEEN" ] && break
	sleep 0.02
done
check_eq "status while create runs" "$(jq -r .status <<<"$SEEN")" creating
check "creating state valid" valid state "$SEEN"
wait $CPID
rt delete ctrtss-slow

# --- created; a relative --bundle is reported absolute
(cd "$WORK" && timeout 30 "$RT" --root "$STATE" create --bundle b "$ID")
S=$(rt state "$ID")
check_eq "status after create" "$(jq -r .status <<<"$S")" created
check "created state valid" valid state "$S"
check_eq "bundle made absolute" "$(jq -r .bundle <<<"$S")" "$WORK/b"
check_eq "id" "$(jq -r .id <<<"$S")" "$ID"
check_eq "annotations from config.json" "$(jq -c .annotations <<<"$S")" '{"org.isola.test":"state-schema","empty":""}'
PID=$(jq -r .pid <<<"$S")
check "pid is a live process" [ -d /proc/"$PID" ]
check "createRuntime hook's stdin state valid" valid state "$(cat "$WORK/hook-createRuntime.json" 2>/dev/null)"
check_eq "createRuntime saw creating" "$(jq -r .status "$WORK/hook-createRuntime.json" 2>/dev/null)" creating
check "list in created state valid" valid list "$(rt list --format json)"
check "ps of a created container valid" valid ps "$(rt ps --format json "$ID")"

# --- running
rt start "$ID"
S=$(rt state "$ID")
check_eq "status after start" "$(jq -r .status <<<"$S")" running
check "running state valid" valid state "$S"
check_eq "pid unchanged by start" "$(jq -r .pid <<<"$S")" "$PID"
check "poststart hook's stdin state valid" valid state "$(cat "$WORK/hook-poststart.json" 2>/dev/null)"
rt exec -d --pid-file "$WORK/exec.pid" "$ID" sleep 500
PS=$(rt ps --format json "$ID")
check "ps with an exec'd process valid" valid ps "$PS"
check_eq "ps lists the init and the exec'd process" "$(jq -c 'sort' <<<"$PS")" \
	"$(printf '%s\n' "$PID" "$(cat "$WORK/exec.pid")" | sort -n | jq -sc .)"
L=$(rt list --format json)
check "list while running valid" valid list "$L"
check_eq "list entry agrees with state" "$(jq -c '.[] | select(.id == "'$ID'") | [.pid, .status, .bundle]' <<<"$L")" \
	"[$PID,\"running\",\"$WORK/b\"]"

# --- paused (runc's extra status)
rt pause "$ID"
S=$(rt state "$ID")
check_eq "status after pause" "$(jq -r .status <<<"$S")" paused
check "paused state valid (OCI + runc's paused)" valid paused "$S"
check "list while paused valid" valid list "$(rt list --format json)"
check "ps while paused valid" valid ps "$(rt ps --format json "$ID")"
rt resume "$ID"
check_eq "running again after resume" "$(status_of "$ID")" running

# --- stopped
rt kill "$ID" KILL
for _ in $(seq 200); do [ "$(status_of "$ID")" = stopped ] && break; sleep 0.05; done
S=$(rt state "$ID")
check_eq "status after kill" "$(jq -r .status <<<"$S")" stopped
check "stopped state valid" valid state "$S"
check "list with a stopped container valid" valid list "$(rt list --format json)"
rt delete "$ID"
check "poststop hook's stdin state valid" valid state "$(cat "$WORK/hook-poststop.json" 2>/dev/null)"
check_eq "poststop saw stopped" "$(jq -r .status "$WORK/hook-poststop.json" 2>/dev/null)" stopped
check "list with no containers valid (null or [])" valid list "$(rt list --format json)"

check_eq "no container left in the state root" "$(ls "$STATE" 2>/dev/null)" ""
check_eq "no cgroup left" "$(find /sys/fs/cgroup -maxdepth 7 -type d -name 'ctrtss-*' 2>/dev/null)" ""
check "no mount left" bash -c "! grep -q '$WORK' /proc/self/mountinfo"
check "no process left" bash -c "[ -z \"\$(grep -ls '/ctrtss-[a-z]*\$' /proc/[0-9]*/cgroup 2>/dev/null)\" ]"
done_testing
