#!/bin/bash
# fn lifecycle: deploy, cold then warm invoke (http and stdio), headers and
# query passed through, env, logs, usage counts and billing, fn rm cleanup.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/lib.sh"

check "deploy an http function" q "$ISOLA" fn deploy fnt-web --image "$HTTP" --port 8080 \
	--env GREETING=hi-there --idle 60 -- /httpd
check "deploy a stdio function" q "$ISOLA" fn deploy fnt-echo --image "$BOX" --mode stdio \
	-- sh -c 'echo "in: $(cat)"; echo handled >&2'
expect_match "fn ls lists both" "fnt-echo.*stdio" "$("$ISOLA" fn ls)"
expect_match "fn inspect shows the settings" '"concurrency":1' "$("$ISOLA" fn inspect fnt-web)"

# one-shot invoke without a gateway
check_eq "fn invoke without a gateway (stdio)" "in: abc" "$("$ISOLA" fn invoke fnt-echo --data abc)"
check_eq "one-shot leaves no instance" 0 "$(fn_mounts fnt-echo)"

gw_start 18010 || not_ok "gateway starts"
h1=$(curl -s -D - -o "$FN_TMP/b1" "$GW/function/fnt-web/hello")
h2=$(curl -s -D - -o "$FN_TMP/b2" "$GW/function/fnt-web/hello")
expect_match "first request starts an instance (cold)" "X-Isola-Cold: 1" "$h1"
expect_match "second request is warm" "X-Isola-Cold: 0" "$h2"
expect_match "the handler answered" "^hello fnt-web" "$(cat "$FN_TMP/b1")"
check_eq "same instance (same pid) answered both" "$(cut -d' ' -f3 "$FN_TMP/b1")" \
	"$(cut -d' ' -f3 "$FN_TMP/b2")"
expect_match "instance's response headers pass through" "X-Fn: test" "$h1"
out=$(curl -s -H 'X-Test: abc' -d 'payload' "$GW/function/fnt-web/echo?x=1&y=2")
check_eq "method, path, query, header and body reach the handler" \
	"POST /echo?x=1&y=2 x-test=abc body=payload" "$out"
check_eq "--env reaches the instance" "hi-there" "$(curl -s "$GW/function/fnt-web/env")"
check_eq "stdio through the gateway" "in: hello" "$(curl -s -d hello "$GW/function/fnt-echo")"
check_eq "fn invoke uses the running gateway" "in: x" "$("$ISOLA" fn invoke fnt-echo --data x)"
expect_match "instance starts are events" "fn=fnt-web event=instance-start" "$(cat "$FN_TMP/events")"
expect_match "metrics count invocations" 'isola_fn_invocations_total\{function="fnt-web",code="2xx"\} 4' \
	"$(curl -s "$GW/metrics")"
expect_match "metrics count cold starts" 'isola_fn_cold_starts_total\{function="fnt-web"\} 1' \
	"$(curl -s "$GW/metrics")"
expect_match "metrics have a duration histogram" 'isola_fn_duration_seconds_bucket\{function="fnt-web",le="\+Inf"\} 4' \
	"$(curl -s "$GW/metrics")"

# metering: 3 calls sleeping 200 ms each
for _ in 1 2 3; do curl -s "$GW/function/fnt-web/sleep/200" >/dev/null; done
gw_stop
u=$("$ISOLA" fn usage fnt-web --format json)
check_eq "fn usage counts every request" 7 "$(jq '.[0].invocations' <<<"$u")"
check "billed ms >= the handler's sleeping time" [ "$(jq '.[0].billed_ms' <<<"$u")" -ge 600 ]
check "billed ms >= measured wall time" q jq -e '.[0].billed_ms * 1000 >= .[0].wall_us' <<<"$u"
check "GB-seconds = 128 MiB x billed seconds" q \
	jq -e '(.[0].gb_seconds - .[0].billed_ms / 1000 * 0.125 | fabs) < 1e-6' <<<"$u"
check "usage model has cpu seconds" q jq -e '.[0].cpu_seconds >= 0 and .[0].cost_usage_usd > 0' <<<"$u"
expect_match "fn usage table has both price models" "COST_LAMBDA.*COST_USAGE" "$("$ISOLA" fn usage)"
expect_match "records survive the gateway's restart" "fnt-web" "$("$ISOLA" fn usage)"
expect_match "fn logs shows the instance's output" "handled" "$("$ISOLA" fn logs fnt-echo)"

# a gateway killed with its instances running: the next one cleans up
gw_start 18012 || not_ok "gateway starts"
curl -s "$GW/function/fnt-web/hello" >/dev/null
old=$GW_PID
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
GW_PID=
check_eq "a killed gateway leaves its instance behind" 1 "$(fn_mounts fnt-web)"
gw_start 18013 || not_ok "gateway restarts"
check_eq "the next gateway removes the dead one's mounts" 0 "$(fn_mounts fnt-web)"
check_eq "and its cgroups" 0 "$(find /sys/fs/cgroup -maxdepth 2 -name "isola-fn-fnt-web-$old-*" | wc -l)"
check_eq "and its runtime state" 0 "$(find "$FN_RUN/ctr" -maxdepth 1 -name "fn-fnt-web-$old-*" | wc -l)"
gw_stop

# fn rm with a live instance
gw_start 18011 || not_ok "gateway restarts"
curl -s "$GW/function/fnt-web/hello" >/dev/null
check_eq "an instance is running" 1 "$(fn_mounts fnt-web)"
check "fn rm" q "$ISOLA" fn rm fnt-web
check_eq "fn rm leaves no mount" 0 "$(fn_mounts fnt-web)"
check_eq "fn rm leaves no cgroup" 0 "$(find /sys/fs/cgroup -maxdepth 2 -name "isola-fn-fnt-web-*" | wc -l)"
check_eq "fn rm leaves no runtime state" 0 "$(find "$FN_RUN/ctr" -maxdepth 1 -name 'fn-fnt-web-*' | wc -l)"
check "fn rm leaves no row" bash -c "! '$ISOLA' fn ls -q | grep -qx fnt-web"
check "fn rm leaves no usage rows" test "$("$ISOLA" fn usage fnt-web --format json)" = "[]"
check_eq "a removed function is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/fnt-web/hello")"
"$ISOLA" fn rm fnt-echo >/dev/null
gw_stop
check_eq "the gateway leaves no mount" 0 "$(grep -c " $FN_TMP" /proc/self/mountinfo)"
done_testing
