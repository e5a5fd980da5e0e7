#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes isola serve's /metrics over TCP with
# the bearer token: the target is up, its series are queryable through
# Prometheus's own HTTP API, and a job with a wrong token is refused (401).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
command -v prometheus >/dev/null || skip_all "no prometheus (apt-get install prometheus)"
. "$(dirname "$0")/lib.sh"

PORT=$((24500 + RANDOM % 200))
PPORT=$((PORT + 200))
head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$API_TMP/token"
echo wrongwrongwrongwrongwrong >"$API_TMP/badtoken"
start_serve --listen 127.0.0.1:$PORT --token-file "$API_TMP/token" || skip_all "serve did not start"
"$ISOLA" run -d --name v2-prom "$IMG" sh -c 'while true; do sleep 1; done' >/dev/null 2>&1
check_match "a running container" "$(api GET /isola/v1/containers/v2-prom)" '"state":"running"'
# and a running VM where this binary has the VM manager, KVM and the test guest
GUEST=$ISOLA_BUILD/guest/testguest.elf
HAVE_VM=
if [ "$(api GET /isola/v1/vms | cut -c1-3)" = 200 ] && [ -f "$GUEST" ] && [ -c /dev/kvm ]; then
	api POST /isola/v1/vms -d "{\"name\": \"v2-pvm\", \"config\": {\"kernel\": \"$GUEST\", \"memory_mib\": 64, \"cmdline\": \"tests=uart,rtc,sleep sleep_ms=600000\"}}" >/dev/null
	check_eq "a running VM" "$(api POST /isola/v1/vms/v2-pvm/start)" "204 "
	HAVE_VM=1
fi

cat >"$API_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: isola
    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
    authorization: {type: Bearer, credentials_file: "$API_TMP/token"}
  - job_name: isola-badtoken
    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
    authorization: {type: Bearer, credentials_file: "$API_TMP/badtoken"}
YML
check "promtool accepts the scrape config" sh -c "promtool check config '$API_TMP/prometheus.yml' >/dev/null"
prometheus --config.file="$API_TMP/prometheus.yml" --storage.tsdb.path="$API_TMP/prom-data" \
	--web.listen-address=127.0.0.1:$PPORT >"$API_TMP/prometheus.log" 2>&1 &
PROM_PID=$!
trap 'kill $PROM_PID 2>/dev/null; wait $PROM_PID 2>/dev/null; api_cleanup' EXIT
P=http://127.0.0.1:$PPORT

# health of one job's target ("up", "down", or "" before the first scrape)
health() {
	curl -s "$P/api/v1/targets" |
		jq -r --arg j "$1" '.data.activeTargets[]? | select(.labels.job == $j) | .health'
}
for _ in $(seq 120); do
	[ "$(health isola)" = up ] && [ "$(health isola-badtoken)" = down ] && break
	sleep 0.5
done
check_eq "Prometheus scraped isola serve (target up)" "$(health isola)" "up"
check_eq "the job with a wrong token is down" "$(health isola-badtoken)" "down"
check_match "... because of the 401" \
	"$(curl -s "$P/api/v1/targets" | jq -r '.data.activeTargets[] | select(.labels.job == "isola-badtoken") | .lastError')" '401'
q() { curl -s --data-urlencode "query=$1" "$P/api/v1/query"; }
for _ in $(seq 20); do
	[ "$(q 'isola_containers_running{job="isola"}' | jq -r '.data.result[0].value[1]')" = 1 ] && break
	sleep 0.5
done
check_eq "isola_containers_running through Prometheus's API" \
	"$(q 'isola_containers_running{job="isola"}' | jq -r '.data.result[0].value[1]')" "1"
mem=$(q 'isola_container_memory_bytes{job="isola",name="v2-prom"}' | jq -r '.data.result[0].value[1]')
check "the container's memory series, labelled with its name ($mem bytes)" test "${mem%.*}" -gt 0
if [ -n "$HAVE_VM" ]; then
	pio=$(q 'isola_vm_exits_total{job="isola",name="v2-pvm",source="vmm",reason="pio"}' | jq -r '.data.result[0].value[1]')
	check "the VM's port I/O exits through Prometheus ($pio)" test "${pio:-0}" -gt 0
	rss=$(q 'isola_vm_memory_bytes{job="isola",name="v2-pvm"}' | jq -r '.data.result[0].value[1]')
	check "the VM's VMM memory through Prometheus ($rss bytes)" test "${rss:-0}" -gt 0
	api GET /metrics | sed '1s/^200 //' >"$API_TMP/metrics.txt"
	check "promtool check metrics with a VM's families" sh -c "promtool check metrics <'$API_TMP/metrics.txt'"
	api DELETE "/isola/v1/vms/v2-pvm?force=1" >/dev/null
else
	skip "VM series: no VM manager in this binary, no /dev/kvm or no test guest"
fi
check_eq "no isola series from the refused job" \
	"$(q 'isola_containers{job="isola-badtoken"}' | jq -r '.data.result | length')" "0"
done_testing
