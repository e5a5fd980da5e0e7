#!/bin/bash
# fn pool and serve mount: the gateway keeps a prepared shell per function
# (counted apart from instances), a cold start takes it, the pool refills,
# fn rm leaves no shell, netns, cgroup, mount or process behind; then the
# gateway mounted in `isola serve`, over its Unix socket and over TCP with
# the bearer token, with its events in `isola events`.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/lib.sh"

metric() { # NAME FUNCTION -> value
	curl -s "$GW/metrics" | sed -n "s/^$1{function=\"$2\"} //p"
}
wait_metric() { # NAME FUNCTION VALUE
	for _ in $(seq 100); do
		[ "$(metric "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
cgroups_of() { find /sys/fs/cgroup -maxdepth 2 -name "isola-fn-$1-*" | sed 's|.*/||' | sort -u | wc -l; }
procs_of() { grep -ls "isola-fn-$1-" /proc/[0-9]*/cgroup 2>/dev/null | wc -l; }
# without a subreaper (isola serve) init(1) reaps the killed instances: give it a moment
no_procs() { for _ in $(seq 50); do [ "$(procs_of "$1")" = 0 ] && return 0; sleep 0.1; done; return 1; }
netns_fds() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'net:\['; }

q "$ISOLA" fn deploy fnt-p --image "$HTTP" --idle 1 -- /httpd || not_ok "deploy fnt-p"
FN_POOL=1 gw_start 25010 || not_ok "gateway starts"
check "a shell is prepared before any request" wait_metric isola_fn_pool_shells fnt-p 1
check_eq "shells are not counted as instances" 0 "$(metric isola_fn_instances fnt-p)"
check_eq "the shell has its mount" 1 "$(fn_mounts fnt-p)"
check_eq "and its cgroup" 1 "$(cgroups_of fnt-p)"
check_eq "and its parked init" 1 "$(procs_of fnt-p)"
check_match "shells are events" "$(cat "$FN_TMP/events")" "fn=fnt-p event=shell-ready serial=[0-9]+ create_us=[0-9]+ prepare_us=[0-9]+"

h=$(curl -s -D - -o "$FN_TMP/b" "$GW/function/fnt-p/hello")
check_match "the first request is a cold start" "$h" "X-Isola-Cold: 1"
expect_match "the handler answered" "^hello fnt-p" "$(cat "$FN_TMP/b")"
check_match "it ran on the prepared shell" "$(cat "$FN_TMP/events")" "fn=fnt-p event=instance-start serial=[0-9]+ pooled=1"
check "the pool refills" wait_metric isola_fn_pool_shells fnt-p 1
check_eq "one instance and one shell" "1 1" "$(metric isola_fn_instances fnt-p) $(metric isola_fn_pool_shells fnt-p)"
check_eq "two mounts" 2 "$(fn_mounts fnt-p)"
out=$(for _ in 1 2 3; do curl -s "$GW/function/fnt-p/hello"; done | cut -d' ' -f3 | sort -u | wc -l)
check_eq "warm requests reuse the instance (kept connections)" 1 "$out"
check "idle instances go, the shell stays" wait_metric isola_fn_instances fnt-p 0
check_eq "the shell is still there" 1 "$(metric isola_fn_pool_shells fnt-p)"

check "fn rm" q "$ISOLA" fn rm fnt-p
check "the shell goes with the function" wait_metric isola_fn_pool_shells fnt-p 0
check_eq "fn rm leaves no mount" 0 "$(fn_mounts fnt-p)"
check_eq "fn rm leaves no cgroup" 0 "$(cgroups_of fnt-p)"
check "fn rm leaves no process" no_procs fnt-p
check_eq "fn rm leaves no runtime state" 0 "$(find "$FN_RUN/ctr" -maxdepth 1 -name 'fn-fnt-p-*' | wc -l)"
check_eq "the gateway holds no network namespace" 0 "$(netns_fds "$GW_PID")"
gw_stop

# the gateway mounted in isola serve
SOCK=$FN_TMP/api.sock
printf 'f2-token-0123456789abcdef' >"$FN_TMP/token"
q "$ISOLA" fn deploy fnt-s --image "$HTTP" --idle 60 -- /httpd || not_ok "deploy fnt-s"
"$ISOLA" serve --socket "$SOCK" --listen 127.0.0.1:25011 --token-file "$FN_TMP/token" \
	>"$FN_TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
U=(curl -s --unix-socket "$SOCK")
check_eq "isola serve answers /_ping" OK "$("${U[@]}" http://x/_ping)"
h=$("${U[@]}" -D - -o "$FN_TMP/s1" http://x/function/fnt-s/hello)
check_match "a function through serve's socket (cold)" "$h" "X-Isola-Cold: 1"
expect_match "the handler answered through serve" "^hello fnt-s" "$(cat "$FN_TMP/s1")"
check_match "the instance's headers pass through serve" "$h" "X-Fn: test"
check_eq "method, path, query, header and body through serve" \
	"POST /echo?x=1&y=a%20b x-test=abc body=payload" \
	"$("${U[@]}" -H 'X-Test: abc' -d payload 'http://x/function/fnt-s/echo?x=1&y=a%20b')"
check_eq "an unknown function is 404 through serve" 404 \
	"$("${U[@]}" -o /dev/null -w '%{http_code}' http://x/function/fnt-nope/hello)"
check_eq "TCP without the token is refused" 401 \
	"$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:25011/function/fnt-s/hello)"
h=$(curl -s -D - -o "$FN_TMP/s2" -H "Authorization: Bearer $(cat "$FN_TMP/token")" \
	http://127.0.0.1:25011/function/fnt-s/hello)
check_match "TCP with the token reaches the warm instance" "$h" "X-Isola-Cold: 0"
check_eq "the same instance answered both listeners" "$(cut -d' ' -f3 "$FN_TMP/s1")" "$(cut -d' ' -f3 "$FN_TMP/s2")"
sleep 0.5 # events are flushed every 100 ms
ev=$("$ISOLA" events --since 10m --until 0s --filter type=function 2>&1)
diag "$(head -c 600 <<<"$ev")"
check_match "instance starts are in isola events" "$ev" "instance-start"
check_match "invocations are in isola events" "$ev" "invoke"
kill "$SERVE_PID" 2>/dev/null
wait "$SERVE_PID" 2>/dev/null
check_eq "serve's exit leaves no mount" 0 "$(fn_mounts fnt-s)"
check_eq "and no cgroup" 0 "$(cgroups_of fnt-s)"
check "and no process" no_procs fnt-s
"$ISOLA" fn rm fnt-s >/dev/null
done_testing
