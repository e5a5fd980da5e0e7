#!/bin/bash
# fn scaling: a burst on --concurrency 1 --max 5 runs on exactly 5 instances
# and gets 429 past the queue; --idle scales back to zero; --min keeps a warm
# pool; a crash gives 502 and a new instance; --timeout gives 504 and a
# recycled instance; two functions' instances cannot see each other.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/lib.sh"

q "$ISOLA" fn deploy fnt-burst --image "$HTTP" --concurrency 1 --max 5 --queue 10 --timeout 20 \
	--idle 2 -- /httpd || not_ok "deploy fnt-burst"
gw_start 18020 || not_ok "gateway starts"

# 50 concurrent requests, each holding its instance for 1.5 s
pids=()
for i in $(seq 50); do
	curl -s -o /dev/null -D "$FN_TMP/burst.$i" -w '%{http_code}\n' \
		"$GW/function/fnt-burst/sleep/1500" >"$FN_TMP/code.$i" &
	pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$FN_TMP"/code.* | sort | uniq -c)
diag "$codes"
n200=$(cat "$FN_TMP"/code.* | grep -c '^200$')
n429=$(cat "$FN_TMP"/code.* | grep -c '^429$')
check_eq "every request got 200 or 429" 50 "$((n200 + n429))"
check "some were refused with 429 past the queue" [ "$n429" -gt 0 ]
check "at least --max requests were served" [ "$n200" -ge 5 ]
check "at most --max + --queue were served" [ "$n200" -le 15 ]
insts=$(cat "$FN_TMP"/burst.* | grep -i '^X-Isola-Instance' | sort -u | wc -l)
check_eq "the burst ran on exactly 5 instances" 5 "$insts"
check_eq "5 instance starts were recorded" 5 "$(grep -c 'fn=fnt-burst event=instance-start' "$FN_TMP/events")"
check_match "scale-ups are events" "$(cat "$FN_TMP/events")" "fn=fnt-burst event=scale-up instances=5"

# --idle 2: back to zero
for _ in $(seq 60); do
	[ "$(fn_mounts fnt-burst)" = 0 ] && break
	sleep 0.1
done
check_eq "idle instances are removed down to zero" 0 "$(fn_mounts fnt-burst)"
check_match "scale-downs are events" "$(cat "$FN_TMP/events")" "fn=fnt-burst event=scale-down instances=0"
check_match "metrics show zero instances" "$(curl -s "$GW/metrics")" 'isola_fn_instances\{function="fnt-burst"\} 0'

# --min 1: a warm pool without requests
q "$ISOLA" fn deploy fnt-warm --image "$HTTP" --min 1 --idle 1 -- /httpd
curl -s "$GW/function/fnt-warm/hello" >/dev/null # the gateway learns of it
sleep 2.5
check_eq "--min keeps one instance past --idle" 1 "$(fn_mounts fnt-warm)"

# a crash
q "$ISOLA" fn deploy fnt-crash --image "$HTTP" -- /httpd
first=$(curl -s -D - -o /dev/null "$GW/function/fnt-crash/hello" | grep -i '^X-Isola-Instance' | tr -d '\r')
check_eq "a crashing handler gives 502" 502 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/fnt-crash/crash")"
second=$(curl -s -D - -o /dev/null "$GW/function/fnt-crash/hello" | grep -i '^X-Isola-Instance' | tr -d '\r')
check "the next request gets a new instance" test -n "$second" -a "$first" != "$second"
check_match "the dead instance was stopped" "$(cat "$FN_TMP/events")" "fn=fnt-crash event=instance-stop serial=[0-9]+ reason=(dead|recycled)"

# a timeout
q "$ISOLA" fn deploy fnt-slow --image "$HTTP" --timeout 1 -- /httpd
check_eq "a handler past --timeout gives 504" 504 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/fnt-slow/sleep/5000")"
check_match "the instance was recycled" "$(cat "$FN_TMP/events")" "fn=fnt-slow event=instance-stop serial=[0-9]+ reason=recycled"
check_eq "the function still answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/fnt-slow/hello")"
# a warm instance: the gateway's event loop runs the exchange itself
check_eq "a warm handler past --timeout gives 504 too" 504 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/fnt-slow/sleep/5000")"
check_eq "and is answered by a new instance" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/fnt-slow/hello")"
check_eq "one client connection carries several requests" "200 1 200 0 200 0" \
	"$(curl -s -w '%{http_code} %{num_connects} ' -o /dev/null "$GW/function/fnt-slow/hello" \
		-o /dev/null "$GW/function/fnt-slow/hello" -o /dev/null "$GW/function/fnt-slow/hello" |
		sed 's/ $//')"
q "$ISOLA" fn deploy fnt-count --image "$BOX" --mode stdio -- wc -c
curl -s -d x "$GW/function/fnt-count" >/dev/null # cold; the next ones are warm
head -c 2097152 /dev/zero >"$FN_TMP/2m"
check_eq "a 2 MiB body reaches a warm handler whole" 2097152 \
	"$(curl -s --data-binary @"$FN_TMP/2m" "$GW/function/fnt-count" | tr -d ' ')"
q "$ISOLA" fn rm fnt-count

# isolation between functions
q "$ISOLA" fn deploy fnt-a --image "$BOX" --mode stdio -- sh -c \
	'cat /tmp/a-secret 2>/dev/null; echo s3cr3t >/tmp/a-secret; sleep 321 >/dev/null 2>&1 & echo done'
q "$ISOLA" fn deploy fnt-b --image "$BOX" --mode stdio -- sh -c 'ls /tmp; ps -o pid,args; hostname'
curl -s -d x "$GW/function/fnt-a" >/dev/null
check_match "a function's instance keeps its files between requests" \
	"$(curl -s -d x "$GW/function/fnt-a")" "s3cr3t"
out=$(curl -s -d x "$GW/function/fnt-b")
diag "$out"
check "another function cannot see its files" bash -c "! grep -q a-secret <<<'$out'"
check "another function cannot see its processes" bash -c "! grep -q 'sleep 321' <<<'$out'"
check_match "and runs as its own host name" "$out" "fnt-b"

gw_stop
check_eq "stopping the gateway leaves no mount" 0 "$(grep -c " $FN_RUN" /proc/self/mountinfo)"
check_eq "stopping the gateway leaves no cgroup" 0 \
	"$(find /sys/fs/cgroup -maxdepth 2 -name 'isola-fn-fnt-*' | wc -l)"
done_testing
