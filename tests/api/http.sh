#!/usr/bin/env bash
# The HTTP surface with curl: TCP bearer token, Docker's error codes for bad
# input, /metrics checked by promtool.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
. "$(dirname "$0")/lib.sh"
PORT=$((17000 + RANDOM % 100))

"$ISOLA" serve --socket "$API_TMP/x.sock" --listen 127.0.0.1:$PORT >"$API_TMP/notoken.log" 2>&1
check_eq "TCP without a token file refuses to start" "$?" "1"
check_match "... and says why" "$(cat "$API_TMP/notoken.log")" 'token-file'

head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$API_TMP/token"
TOKEN=$(cat "$API_TMP/token")
start_serve --listen 127.0.0.1:$PORT --token-file "$API_TMP/token" || skip_all "serve did not start"
check_eq "socket mode 0660" "$(stat -c %a "$SOCK")" "660"
url=http://127.0.0.1:$PORT/_ping
check_eq "TCP: no token 401" "$(curl -s -o /dev/null -w '%{http_code}' "$url")" "401"
check_eq "TCP: wrong token 401" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrongwrongwrongwrong' "$url")" "401"
check_eq "TCP: right token 200" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$url")" "200"
check_eq "versioned and unversioned paths" "$(api GET /v1.41/_ping) / $(api GET /_ping)" "200 OK / 200 OK"
check_eq "unknown path 404" "$(api GET /nope)" '404 {"message":"page not found"}'
check_match "unknown container 404" "$(api GET /containers/nosuch/json)" '^404 \{"message":'
check_match "malformed JSON 400" "$(api POST /containers/create -H 'Content-Type: application/json' -d '{bad')" '^400 \{"message":"invalid JSON'
check_match "wrong type 400 names the field" "$(api POST /containers/create -d '{"Image":"x","Cmd":5}')" '^400 .*Cmd: wrong type'
check_match "missing image 404" "$(api POST /containers/create -d '{"Image":"nosuch:1"}')" '^404 '
check_match "unknown fields are ignored (as Docker)" "$(api POST '/containers/create?name=apit-u' -d "{\"Image\":\"$IMG\",\"Cmd\":[\"true\"],\"Bogus\":1}")" '^201 \{"Id":'
check_match "duplicate name 409" "$(api POST '/containers/create?name=apit-u' -d "{\"Image\":\"$IMG\"}")" '^409 '
check_match "a name with '/' 400" "$(api POST '/containers/create?name=a/b' -d "{\"Image\":\"$IMG\"}")" '^400 .*Invalid container name'
head -c 2000000 /dev/zero | tr '\0' 'a' >"$API_TMP/big"
check_match "huge body 413" "$(api POST /containers/create --data-binary @"$API_TMP/big")" '^413 '
check_match "path traversal in a path parameter 404" "$(api GET /containers/../../etc/json)" '^404 '
check_match "exec in a stopped container 409" "$(api POST /containers/apit-u/exec -d '{"Cmd":["true"]}')" '^409 '
check_eq "delete 204" "$(api DELETE /containers/apit-u)" "204 "
api GET /metrics | sed '1s/^200 //' >"$API_TMP/metrics.txt"
check_match "/metrics has the container families" "$(cat "$API_TMP/metrics.txt")" 'isola_container_cpu_seconds_total'
if command -v promtool >/dev/null; then
	check "promtool check metrics" sh -c "promtool check metrics <'$API_TMP/metrics.txt'"
else
	skip "no promtool (apt-get install prometheus)"
fi
done_testing
