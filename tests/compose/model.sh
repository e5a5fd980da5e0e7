#!/bin/bash
# isola compose config: discovery, override files, .env / --env-file,
# interpolation, anchors, extends, profiles, -p, warnings for unknown keys;
# and the bad input of the issue: one clear message, non-zero exit.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

ISOLA=$ISOLA_BUILD/isola
[ -x "$ISOLA" ] || skip_all "$ISOLA not built"
"$ISOLA" compose --help >/dev/null 2>&1 || skip_all "isola compose not built"
WORK=$(mktemp -d /tmp/isola-cmp-model.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp -r "$ISOLA_SRC/tests/compose/files" "$WORK/files"
export ISOLA_ROOT=$WORK/root
ic() { timeout 30 "$ISOLA" compose "$@"; }

cd "$WORK/files/allkeys" || exit 1
out=$(ic config 2>"$WORK/err"); rc=$?
check_eq "config exits 0" "$rc" 0
check_match "project name from name:" "$out" $'^name: cmpkeys\n'
check_match ".env interpolated" "$out" 'GREETING: hi'
check_match "override file merged" "$out" 'OVERRIDDEN: "yes"'
check_match "env_file read" "$out" 'QUOTED: "a b"'
check_match "\$\$ kept as a literal (escaped again)" "$out" 'echo \\"\$\$GREETING'
check_match "bind source made absolute" "$out" "source: $WORK/files/allkeys/conf"
check_match "extends from another file" "$out" 'init:'$'\n''    command:'$'\n''      - sh'
check_match "anchor merged" "$out" 'tier: test'
check_match "replicas" "$out" 'replicas: 2'
check "profiled service left out" bash -c "! grep -q '^  debug:' <<<\"\$1\"" _ "$out"
services=$(ic config --services | tr '\n' ' ')
check_eq "config --services" "$services" "app db init scaled "
services=$(ic --profile debug config --services | tr '\n' ' ')
check_eq "--profile enables a service" "$services" "app db debug init scaled "
check_eq "process environment wins over .env" \
	"$(GREETING=shell ic config | grep -c 'GREETING: shell')" 1
printf 'GREETING=fromfile\n' >"$WORK/alt.env"
check_eq "--env-file" "$(ic --env-file "$WORK/alt.env" config | grep -c 'GREETING: fromfile')" 1
check_match "-p overrides the name" "$(ic -p other config)" '^name: other'
check_match "COMPOSE_PROJECT_NAME" "$(COMPOSE_PROJECT_NAME=envname ic config)" '^name: envname'
ic config >"$WORK/flat.yaml" 2>/dev/null
check_eq "config output loads again to the same model" \
	"$(ic -f "$WORK/flat.yaml" --project-directory . config 2>/dev/null)" "$(cat "$WORK/flat.yaml")"
check_eq "-f with one file skips the override" \
	"$(ic -f compose.yaml config | grep -c OVERRIDDEN)" 0

# discovery walks up from a subdirectory
check_match "found from a subdirectory" "$(cd conf && ic config --services)" 'app'

# warnings name the key and its line
printf 'services:\n  a:\n    image: x\n    frobnicate: 1\n' >"$WORK/warn.yaml"
ic -f "$WORK/warn.yaml" config >/dev/null 2>"$WORK/err"
check_match "unknown key warned with file and line" "$(cat "$WORK/err")" \
	"warn.yaml:4: services.a.frobnicate: unknown key"

# bad input: one line naming the problem, non-zero exit
bad() { # name file want-regex
	local msg rc
	msg=$(ic -f "$WORK/files/bad/$2" config 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && [[ "$msg" =~ $3 ]] && [ "$(wc -l <<<"$msg")" -eq 1 ]; then
		ok "$1"
	else
		not_ok "$1"; diag "rc=$rc msg=$msg"
	fi
}
bad "YAML syntax error names file, line and column" syntax.yaml 'syntax.yaml:4:[0-9]+: '
bad "wrong type names the path in the model" type.yaml \
	'type.yaml:5:[0-9]+: services.web.ports\[0\].target: expected an integer'
bad "depends_on cycle named" cycle.yaml 'depends_on cycle: a -> b -> a'
bad "undefined required variable with its message" required.yaml \
	'required variable CMP_NOPE is missing a value: set CMP_NOPE to an image'
bad "port conflict inside the project" ports.yaml 'port conflict: services a and b'
msg=$(cd "$WORK" && ic config 2>&1); rc=$?
check "no compose file: clear message" test $rc -ne 0 -a -n "$(grep 'no compose file found' <<<"$msg")"
done_testing
