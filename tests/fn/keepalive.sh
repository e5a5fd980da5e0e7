#!/bin/bash
# fn keep-alive for stdio: the shim serves several requests per connection,
# so warm stdio requests reuse the gateway's connection to the instance (the
# instance's network namespace counts the connections it accepted: TCP
# PassiveOpens in /proc/PID/net/snmp). A failing handler (500) and one cut at
# the output limit (502) in the middle of the stream leave the connection
# usable: every later request gets its own answer. The shim itself answers
# HTTP/1.1 keep-alive, honours Connection: close, and an idle kept
# connection does not hold up requests on another one.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/lib.sh"
command -v nsenter >/dev/null || skip_all "needs nsenter (util-linux)"

q "$ISOLA" fn deploy fnt-ka --image "$BOX" --mode stdio --concurrency 4 --max 1 --idle 120 -- \
	sh -c 'read -r x; case "$x" in fail) echo partial; exit 3;; flood) yes;; *) echo "got $x";; esac' ||
	not_ok "deploy fnt-ka"
gw_start 39120 || not_ok "gateway starts"

check_eq "the first stdio request starts an instance" "got first" "$(curl -s -d first "$GW/function/fnt-ka")"
run=$(ls -d "$FN_RUN"/fnt-ka/*/running 2>/dev/null | head -1)
run=${run%/running}
ipid=$(jq -r .pid "$FN_RUN/ctr/fn-fnt-ka-${run##*/}/state.json" 2>/dev/null)
check "the instance's init is known" test -n "$ipid" -a -d "/proc/$ipid"
# connections the instance's network namespace accepted so far
accepted() { awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "PassiveOpens") c = i; h = 1 } else print $c }' \
	"/proc/$ipid/net/snmp"; }
a0=$(accepted)

# 30 requests over one client connection; a failure at 10 and a flood at 20
args=()
for i in $(seq 30); do
	body=r$i
	[ "$i" = 10 ] && body=fail
	[ "$i" = 20 ] && body=flood
	[ "$i" -gt 1 ] && args+=(--next)
	args+=(-s -o "$FN_TMP/ka.$i" -w "%{http_code} %{num_connects}\n" -d "$body" "$GW/function/fnt-ka")
done
curl "${args[@]}" >"$FN_TMP/ka.codes"
a1=$(accepted)
diag "instance accepted $((a1 - a0)) connection(s) for 30 requests (before: $a0)"
check_eq "30 requests over one client connection" "1 29" \
	"$(awk '{s += $2} END {print s, NR - 1}' "$FN_TMP/ka.codes")"
check_eq "a failing handler in the stream gives 500" "500" "$(sed -n 10p "$FN_TMP/ka.codes" | cut -d' ' -f1)"
check_eq "a handler over the output limit gives 502" "502" "$(sed -n 20p "$FN_TMP/ka.codes" | cut -d' ' -f1)"
check_eq "every other request gives 200" 28 "$(grep -c '^200 ' "$FN_TMP/ka.codes")"
bad=0
for i in $(seq 30); do
	case $i in 10 | 20) continue ;; esac
	[ "$(cat "$FN_TMP/ka.$i")" = "got r$i" ] || bad=$((bad + 1))
done
check_eq "every request got its own answer, also after the failures" 0 "$bad"
check_eq "the failed handler's output is its answer" partial "$(cat "$FN_TMP/ka.10")"
check "the gateway reused its connection to the instance (< 3 accepted for 30)" \
	test "$((a1 - a0))" -lt 3

# concurrent requests: at most --concurrency connections, then reused
pids=()
for i in $(seq 8); do
	curl -s -o "$FN_TMP/par.$i" -d "p$i" "$GW/function/fnt-ka" &
	pids+=($!)
done
wait "${pids[@]}"
bad=0
for i in $(seq 8); do [ "$(cat "$FN_TMP/par.$i")" = "got p$i" ] || bad=$((bad + 1)); done
check_eq "8 concurrent requests on one instance get their own answers" 0 "$bad"
a2=$(accepted)
for i in $(seq 10); do curl -s -o /dev/null -d "s$i" "$GW/function/fnt-ka"; done
a3=$(accepted)
diag "concurrent: $((a2 - a1)) new connection(s); 10 sequential after: $((a3 - a2))"
check "the burst opened at most --concurrency (4) connections" test "$((a2 - a1))" -le 4
check_eq "later requests open none" 0 "$((a3 - a2))"
check_match "one instance served it all" "$(curl -s "$GW/metrics")" 'isola_fn_cold_starts_total\{function="fnt-ka"\} 1'

# the shim directly, from inside the instance's network namespace
in_ns() { nsenter --net="/proc/$ipid/ns/net" "$@"; }
W='%{http_code} %{num_connects}\n'
check_eq "the shim keeps an HTTP/1.1 connection" "200 1 200 0" \
	"$(in_ns curl -s -o /dev/null -w "$W" -d a http://127.0.0.1:8080/ --next -s -o /dev/null -w "$W" \
		-d b http://127.0.0.1:8080/ | tr '\n' ' ' | sed 's/ $//')"
check_eq "Connection: close is honoured" "200 1 200 1" \
	"$(in_ns curl -s -o /dev/null -w "$W" -H 'Connection: close' -d a http://127.0.0.1:8080/ \
		--next -s -o /dev/null -w "$W" -d b http://127.0.0.1:8080/ | tr '\n' ' ' | sed 's/ $//')"
h=$(in_ns curl -s -0 -D - -o /dev/null -d a http://127.0.0.1:8080/)
check_match "HTTP/1.0 without keep-alive is answered with close" "$h" "Connection: close"
out=$(in_ns bash -c 'exec 7<>/dev/tcp/127.0.0.1/8080 && curl -s --max-time 5 -d other http://127.0.0.1:8080/')
check_eq "an idle kept connection does not hold up another one" "got other" "$out"
out=$(in_ns bash -c 'exec 7<>/dev/tcp/127.0.0.1/8080 &&
	printf "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nq1POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nq2" >&7 &&
	timeout 5 cat <&7' | tr -d '\r' | grep -c '^got q[12]$')
check_eq "two pipelined requests get two answers" 2 "$out"
check_eq "malformed input is 400" 400 \
	"$(in_ns bash -c 'exec 7<>/dev/tcp/127.0.0.1/8080 && printf "BLAH\r\n\r\n" >&7 && timeout 5 head -1 <&7' |
		cut -d' ' -f2)"
check_eq "the function still answers" "got after" "$(curl -s -d after "$GW/function/fnt-ka")"

# a handler past --timeout on a kept connection: 504, the instance is
# recycled and the next request is answered (by a new one)
q "$ISOLA" fn deploy fnt-kslow --image "$BOX" --mode stdio --timeout 1 -- \
	sh -c 'read -r x; [ "$x" = slow ] && sleep 5; echo "got $x"'
check_eq "a warm stdio request" "got a" "$(curl -s -d a "$GW/function/fnt-kslow")"
check_eq "a stdio handler past --timeout on the kept connection gives 504" 504 \
	"$(curl -s -o /dev/null -w '%{http_code}' -d slow "$GW/function/fnt-kslow")"
check_eq "the next request is answered" "got b" "$(curl -s -d b "$GW/function/fnt-kslow")"

q "$ISOLA" fn rm fnt-ka fnt-kslow
gw_stop
check_eq "nothing is left mounted" 0 "$(grep -c " $FN_TMP" /proc/self/mountinfo)"
done_testing
