#!/usr/bin/env bash
# The dashboard in a real browser: isola serve on TCP with a token, a running
# container, Debian's headless Chromium driven by playwright-core (npm, in
# web/node_modules). The page must list the container, draw a chart, show
# its log, and stop it with a click; the screenshot is a test artefact
# (meson-logs/dashboard.png; DASH_SHOT=PATH puts it elsewhere).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
WEB=$ISOLA_SRC/web
[ -x /usr/bin/chromium ] || skip_all "no /usr/bin/chromium (apt-get install chromium)"
command -v node >/dev/null || skip_all "no node"
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || skip_all "playwright-core needs Node 20 or newer"
[ -d "$WEB/node_modules/playwright-core" ] || skip_all "no web/node_modules (scripts/deps build runs npm ci)"
. "$(dirname "$0")/lib.sh"

PORT=$((24000 + RANDOM % 500))
head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$API_TMP/token"
TOKEN=$(cat "$API_TMP/token")
start_serve --listen 127.0.0.1:$PORT --token-file "$API_TMP/token" || skip_all "serve did not start"
check_eq "TCP: the page needs no token" \
	"$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" "200"
check_eq "TCP: the API behind it does" \
	"$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/isola/v1/containers")" "401"
check_match "the page is the built dashboard (web/node_modules was there)" \
	"$(curl -s "http://127.0.0.1:$PORT/dashboard")" 'id="cpu-chart"'

"$ISOLA" run -d --name v2-dash "$IMG" sh -c 'echo v2-dash-hello; while true; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 0.2; done' >/dev/null 2>&1
ctr_state() { api GET /containers/v2-dash/json | sed 's/^200 //' | jq -r .State.Status; }
check_eq "a running container" "$(ctr_state)" "running"

# A VM beside it where this binary has the VM manager, /dev/kvm opens and
# the test guest is built (it idles after its test lines).
GUEST=$ISOLA_BUILD/guest/testguest.elf
DASH_VM=
if [ "$(api GET /isola/v1/vms | cut -c1-3)" = 200 ] && [ -f "$GUEST" ] && [ -c /dev/kvm ]; then
	api POST /isola/v1/vms -d "{\"name\": \"v2-dvm\", \"config\": {\"kernel\": \"$GUEST\", \"memory_mib\": 64, \"cmdline\": \"tests=uart,rtc,sleep sleep_ms=600000\"}}" >/dev/null
	check_eq "a running VM" "$(api POST /isola/v1/vms/v2-dvm/start)" "204 "
	DASH_VM=v2-dvm
fi
"$ISOLA" fn deploy v2-dfn --image "$IMG" --mode stdio -- cat >/dev/null 2>&1

SHOT=${DASH_SHOT:-$ISOLA_BUILD/meson-logs/dashboard.png}
mkdir -p "$(dirname "$SHOT")"
while IFS= read -r line; do
	case $line in
	PASS\ *) ok "${line#PASS }" ;;
	FAIL\ *) not_ok "${line#FAIL }" ;;
	*) diag "$line" ;;
	esac
done < <(DASH_URL="http://127.0.0.1:$PORT/?interval=500#token=$TOKEN" DASH_WEB=$WEB \
	DASH_CTR=v2-dash DASH_SHOT=$SHOT DASH_VM=$DASH_VM timeout 180 node "$(dirname "$0")/dashboard.mjs" 2>&1)
check_eq "the container is stopped (Docker API, after the click)" \
	"$(ctr_state)" "exited"
check "a screenshot was saved ($SHOT)" test -s "$SHOT"
[ -z "$DASH_VM" ] || api DELETE "/isola/v1/vms/$DASH_VM?force=1" >/dev/null
"$ISOLA" fn rm v2-dfn >/dev/null 2>&1
done_testing
