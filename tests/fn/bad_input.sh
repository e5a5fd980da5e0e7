#!/bin/bash
# fn bad input: unknown images, a port never opened, absurd limits, unknown
# functions, oversized bodies, a handler writing without end — clear errors
# and nothing left behind.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/lib.sh"

out=$("$ISOLA" fn deploy fnt-x --image localhost/no-such-image:latest -- /httpd 2>&1)
check "an unknown image is refused" [ $? -ne 0 ]
expect_match "the error names the function and the image" "fnt-x.*no-such-image" "$out"
check_eq "no row for it" "" "$("$ISOLA" fn ls -q)"

bad() { # bad NAME REGEX ARGS...: deploy fails and names the problem
	local name=$1 re=$2 out; shift 2
	out=$("$ISOLA" fn deploy fnt-bad --image "$HTTP" "$@" -- /httpd 2>&1)
	if [ $? -ne 0 ] && [[ "$out" =~ $re ]]; then ok "$name"; else not_ok "$name"; diag "$out"; fi
}
bad "--max 0 is refused" "--max 0" --max 0
bad "negative --min is refused" "--min -1" --min -1
bad "--min above --max is refused" "--min 5" --min 5 --max 2
bad "absurd --concurrency is refused" "--concurrency 100000" --concurrency 100000
bad "absurd --memory is refused" "--memory 99999999" --memory 99999999
bad "negative --timeout is refused" "--timeout -3" --timeout -3
bad "--port 0 is refused" "--port 0" --port 0
bad "non-numeric --max is refused" "--max 'x'" --max x
bad "bad --mode is refused" "--mode 'tcp'" --mode tcp
bad "--isolation vm is not there yet" "--isolation 'vm'" --isolation vm
out=$("$ISOLA" fn deploy Bad_Name --image "$HTTP" -- /httpd 2>&1)
expect_match "upper case names are refused" "function name 'Bad_Name'" "$out"
check "a duplicate deploy is refused" bash -c "'$ISOLA' fn deploy fnt-dup --image '$HTTP' -- /httpd >/dev/null && ! '$ISOLA' fn deploy fnt-dup --image '$HTTP' -- /httpd 2>/dev/null"
q "$ISOLA" fn rm fnt-dup fnt-bad 2>/dev/null

gw_start 18030 || not_ok "gateway starts"
check_eq "an unknown function is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/nope")"
check_eq "a path outside /function is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/other")"

# a process that never opens its port
q "$ISOLA" fn deploy fnt-noport --image "$BOX" --timeout 2 -- sleep 100
code=$(curl -s -o "$FN_TMP/noport" -w '%{http_code}' "$GW/function/fnt-noport")
check_eq "a port never opened gives 502" 502 "$code"
expect_match "naming the function and the port" "fnt-noport.*port 8080" "$(cat "$FN_TMP/noport")"
check_eq "and leaves no instance" 0 "$(fn_mounts fnt-noport)"
out=$("$ISOLA" fn invoke fnt-noport 2>&1)
check "fn invoke fails too" [ $? -ne 0 ]
q "$ISOLA" fn deploy fnt-exit --image "$BOX" -- false
expect_match "a process that exits at once is named" "exited before it listened on port 8080" \
	"$(curl -s "$GW/function/fnt-exit")"

# bodies
q "$ISOLA" fn deploy fnt-web --image "$HTTP" -- /httpd
head -c $((7 * 1024 * 1024)) /dev/zero >"$FN_TMP/big"
check_eq "a body over the limit is 413" 413 \
	"$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$FN_TMP/big" "$GW/function/fnt-web/echo")"
check_eq "a chunked upload is refused (411)" 411 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$FN_TMP/box.tar" "$GW/function/fnt-web/echo")"
garbage() { # raw bytes to the gateway, the status code back
	exec 7<>"/dev/tcp/127.0.0.1/$GW_PORT" || return 1
	printf '%b' "$1" >&7
	head -1 <&7 | cut -d' ' -f2
	exec 7>&-
}
check_eq "garbage is 400" 400 "$(garbage 'BLAH\r\n\r\n')"
check_eq "a bad Content-Length is 400" 400 "$(garbage 'POST /function/fnt-web HTTP/1.1\r\nContent-Length: -1\r\n\r\n')"
check_eq "huge headers are 431" 431 "$(garbage "GET /function/fnt-web HTTP/1.1\r\nX: $(head -c 20000 /dev/zero | tr '\0' a)\r\n\r\n")"
check_eq "a handler writing without end is cut (502)" 502 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$GW/function/fnt-web/big")"
check_eq "the gateway still answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/fnt-web/hello")"
q "$ISOLA" fn deploy fnt-flood --image "$BOX" --mode stdio -- sh -c 'yes'
check_eq "a stdio handler writing without end is cut (502)" 502 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -d x "$GW/function/fnt-flood")"
check_eq "a failing stdio handler is 500" 500 \
	"$(q "$ISOLA" fn deploy fnt-fail --image "$BOX" --mode stdio -- sh -c 'exit 3'; curl -s -o /dev/null -w '%{http_code}' -d x "$GW/function/fnt-fail")"
for f in fnt-noport fnt-exit fnt-web fnt-flood fnt-fail; do q "$ISOLA" fn rm "$f"; done
gw_stop
check_eq "nothing is left mounted" 0 "$(grep -c " $FN_TMP" /proc/self/mountinfo)"
check_eq "no cgroup is left" 0 "$(find /sys/fs/cgroup -maxdepth 2 -name 'isola-fn-fnt-*' | wc -l)"
check_eq "no row is left" "" "$("$ISOLA" fn ls -q)"
done_testing
