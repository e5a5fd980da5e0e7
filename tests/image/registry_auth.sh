#!/usr/bin/env bash
# Registry authentication and TLS: docker-registry with TLS (a CA this test
# makes with openssl) and htpasswd basic auth on 127.0.0.1 (a port in
# 15050-15099): certificate checks, --cert-dir, --tls-verify=false, 401
# without credentials, login refused with a wrong password and accepted with
# the right one (auth file mode 0600), pull and push with the stored
# credentials, logout. Then a stub registry (registry_stub.py) for what
# docker-registry cannot stage: a Bearer token service, blob transfers cut
# half-way (resumed with Range) and 500 answers with an error body.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/registry_lib.sh"
isola=$ISOLA_BUILD/isola

for t in docker-registry skopeo jq zstd curl openssl htpasswd python3 sqlite3; do
	command -v "$t" >/dev/null || skip_all "$t not installed (scripts/deps test)"
done
[ -x "$isola" ] || skip_all "isola not built"
"$isola" login --help >/dev/null 2>&1 || skip_all "isola login not built"

work=$(mktemp -d /tmp/isola-regauth.XXXXXX)
REGISTRY_PID=
STUB_PID=
cleanup() {
	registry_stop "${pull_pid:-}"
	registry_stop "$REGISTRY_PID"
	registry_stop "$STUB_PID"
	rm -rf "$work"
}
trap cleanup EXIT
export ISOLA_ROOT=$work/root
unset REGISTRY_AUTH_FILE
port=$(free_port 15050 15099) || skip_all "no free port in 15050-15099"
reg=127.0.0.1:$port

# ---- CA, server certificate for 127.0.0.1, htpasswd
certs=$work/certs
mkdir -p "$certs" "$work/pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/pki/ca.key" -out "$certs/ca.crt" \
	-days 2 -subj "/CN=isola registry test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$work/pki/srv.key" -out "$work/pki/srv.csr" \
	-subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$work/pki/ext"
openssl x509 -req -in "$work/pki/srv.csr" -CA "$certs/ca.crt" -CAkey "$work/pki/ca.key" \
	-CAcreateserial -out "$work/pki/srv.crt" -days 2 -extfile "$work/pki/ext" 2>/dev/null
htpasswd -Bbn isola 's3cret pass' >"$work/htpasswd"
registry_start "$work/reg" "$port" "$work/pki/srv.crt" "$work/pki/srv.key" "$work/htpasswd" ||
	{ not_ok "docker-registry with TLS and htpasswd starts"; done_testing; exit; }

layout=$work/oci
oci_init "$layout"
make_busybox_rootfs "$work/l1"
mkdir -p "$work/l2/data"
head -c 300000 /dev/urandom >"$work/l2/data/random"
L1=$(oci_layer "$layout" "$work/l1" gzip)
L2=$(oci_layer "$layout" "$work/l2" zstd)
oci_tag "$layout" v1 "$(oci_image "$layout" amd64 "$L1" "$L2")"
check "skopeo pushes with credentials and the CA" skopeo copy -q \
	--dest-creds 'isola:s3cret pass' --dest-cert-dir "$certs" "oci:$layout:v1" \
	"docker://$reg/a/b:v1"

rows() { sqlite3 "$ISOLA_ROOT/isola.db" "select count(*) from images" 2>/dev/null || echo 0; }
authfile=$ISOLA_ROOT/auth.json
run() { "$isola" "$@" >"$work/out" 2>"$work/err"; }

run pull "$reg/a/b:v1"
check "no CA: pull fails" [ $? -ne 0 ]
check_match "... on the certificate" "$(cat "$work/err")" "$reg.*(certificate|SSL)"
run pull --cert-dir "$certs" "$reg/a/b:v1"
check "no credentials: pull fails" [ $? -ne 0 ]
check_match "... with the registry's 401" "$(cat "$work/err")" \
	"registry $reg: repository a/b: .*HTTP 401"
check_eq "... and one line" "$(wc -l <"$work/err")" 1
check_eq "... and no row" "$(rows)" 0

run login --cert-dir "$certs" -u isola -p wrong "$reg"
check "login with a wrong password fails" [ $? -ne 0 ]
check_match "... saying so" "$(cat "$work/err")" "$reg.*wrong username or password"
check "... and stores nothing" [ ! -e "$authfile" ]
run login --cert-dir "$certs" -u isola -p 's3cret pass' "$reg"
check_eq "login with the right password" "$?:$(cat "$work/out")" "0:Login Succeeded!"
check_eq "the auth file is mode 0600" "$(stat -c %a "$authfile" 2>/dev/null)" 600
check_eq "... with an entry for the registry" \
	"$(jq -r --arg r "$reg" '.auths[$r].auth' "$authfile" | base64 -d)" "isola:s3cret pass"

run pull --cert-dir "$certs" "$reg/a/b:v1"
check_eq "pull with the stored credentials" "$?" 0
check_eq "... registers the image" "$(rows)" 1
run push --cert-dir "$certs" "$reg/a/b:v1" "$reg/a/c:v2"
check_eq "push with the stored credentials" "$?" 0
[ -s "$work/err" ] && diag "$(cat "$work/err")"
check_match "skopeo sees the pushed image" \
	"$(skopeo inspect --creds 'isola:s3cret pass' --cert-dir "$certs" "docker://$reg/a/c:v2" 2>&1 | jq -r .Digest)" \
	"^sha256:"
run pull --tls-verify=false "$reg/a/c:v2"
check_eq "--tls-verify=false pulls without the CA" "$?" 0

run logout "$reg"
check_eq "logout" "$?:$(cat "$work/out")" "0:Removed login credentials for $reg"
check_eq "... removes the entry" "$(jq -r --arg r "$reg" '.auths[$r] // "gone"' "$authfile")" gone
run pull --cert-dir "$certs" "$reg/a/c:v2"
check "after logout pull gets 401" grep -q "HTTP 401" "$work/err"
run logout "$reg"
check_match "logout twice: not logged in" "$?:$(cat "$work/err")" "^1:.*not logged in to $reg"
echo 's3cret pass' | "$isola" login --cert-dir "$certs" -u isola --password-stdin "$reg" \
	>"$work/out" 2>"$work/err"
check_eq "login --password-stdin" "$?" 0
"$isola" logout --all >/dev/null
run pull --cert-dir "$certs" --creds 'isola:s3cret pass' "$reg/a/b:v1"
check_eq "pull --creds without a login" "$?" 0
run login --authfile "$work/other.json" --cert-dir "$certs" -u isola -p 's3cret pass' "$reg"
check "login --authfile writes there" [ -s "$work/other.json" ]
REGISTRY_AUTH_FILE=$work/other.json "$isola" pull --cert-dir "$certs" "$reg/a/b:v1" \
	>"$work/out" 2>"$work/err"
check_eq "REGISTRY_AUTH_FILE is read" "$?" 0

# ---- progress on a terminal (script(1) gives isola a pty)
if command -v script >/dev/null; then
	export ISOLA_ROOT=$work/root-tty
	script -qec "$isola pull --cert-dir $certs --creds 'isola:s3cret pass' $reg/a/b:v1" \
		/dev/null >"$work/tty" 2>&1
	check_match "on a terminal: a progress line per blob" "$(tr '\r' '\n' <"$work/tty")" \
		"Copying blob [0-9a-f]{12} .* / .*done"
	check_eq "... three rows (config and two layers)" \
		"$(tr '\r' '\n' <"$work/tty" | grep -o 'Copying blob [0-9a-f]*' | sort -u | wc -l)" 3
	"$isola" pull -q --cert-dir "$certs" --creds 'isola:s3cret pass' "$reg/a/b:v1" >"$work/out"
	check_eq "-q: only the id" "$(wc -l <"$work/out")" 1
else
	skip "script(1) missing"
	skip "script(1) missing"
	skip "script(1) missing"
fi
registry_stop "$REGISTRY_PID"
REGISTRY_PID=

# ---- client certificates (podman's *.cert/*.key in --cert-dir)
openssl req -newkey rsa:2048 -nodes -keyout "$work/pki/cli.key" -out "$work/pki/cli.csr" \
	-subj "/CN=isola test client" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$work/pki/cliext"
openssl x509 -req -in "$work/pki/cli.csr" -CA "$certs/ca.crt" -CAkey "$work/pki/ca.key" \
	-CAcreateserial -out "$work/pki/cli.crt" -days 2 -extfile "$work/pki/cliext" 2>/dev/null
ccerts=$work/ccerts
mkdir -p "$ccerts"
cp "$certs/ca.crt" "$ccerts/ca.crt"
cp "$work/pki/cli.crt" "$ccerts/client.cert"
cp "$work/pki/cli.key" "$ccerts/client.key"
registry_start "$work/creg" "$port" "$work/pki/srv.crt" "$work/pki/srv.key" "" "$certs/ca.crt" ||
	not_ok "docker-registry with client certificates starts"
check "skopeo pushes with a client certificate" skopeo copy -q --dest-cert-dir "$ccerts" \
	"oci:$layout:v1" "docker://$reg/c/d:v1"
export ISOLA_ROOT=$work/root-cc
run pull --cert-dir "$certs" "$reg/c/d:v1"
check "without a client certificate the pull fails" [ $? -ne 0 ]
check_eq "... in one line" "$(wc -l <"$work/err")" 1
run pull --cert-dir "$ccerts" "$reg/c/d:v1"
check_eq "with client.cert + client.key in --cert-dir it works" "$?:$(cat "$work/err")" "0:"
registry_stop "$REGISTRY_PID"
REGISTRY_PID=

# ---- the stub: bearer tokens, cut transfers, 500
stub_port=$(free_port 15050 15099)
python3 "$(dirname "$0")/registry_stub.py" "$stub_port" "$layout" "$work/stub.log" &
STUB_PID=$!
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$stub_port/v2/" && break
	sleep 0.1
done
stub=127.0.0.1:$stub_port
export ISOLA_ROOT=$work/root2
run pull "$stub/s/img:v1"
rc=$?
check_eq "pull through a bearer challenge and cut transfers" "$rc" 0
[ $rc -eq 0 ] || diag "$(cat "$work/err")"
check "a token was fetched for the repository's pull scope" \
	grep -q "GET /token?service=stub&scope=repository%3As%2Fimg%3Apull" "$work/stub.log"
check "blob requests carry the bearer token" \
	grep -q "GET /v2/s/img/blobs/sha256:.* auth=Bearer" "$work/stub.log"
check "a cut transfer resumed with Range" grep -Eq "GET /v2/s/img/blobs/.* range=bytes=[1-9][0-9]*-" \
	"$work/stub.log"
check_eq "no temp file left" "$(find "$ISOLA_ROOT/tmp" -mindepth 1 | wc -l)" 0
run login -u tokenuser -p tokenpass "$stub"
check_eq "login against a Bearer registry" "$?:$(cat "$work/out")" "0:Login Succeeded!"
check "... fetched a token with the credentials as Basic auth" \
	grep -q "GET /token?service=stub&account=tokenuser range= auth=Basic" "$work/stub.log"
export ISOLA_ROOT=$work/root3
"$isola" pull "$stub/slow/img:v1" >"$work/out" 2>"$work/err" &
pull_pid=$!
for _ in $(seq 100); do # until a blob is being written
	[ -n "$(find "$ISOLA_ROOT/tmp" -name 'blob-*' -size +1k 2>/dev/null)" ] && break
	sleep 0.1
done
kill -TERM $pull_pid
wait $pull_pid
check_eq "SIGTERM during a pull: exit 130" "$?" 130
check_match "... saying it was interrupted" "$(cat "$work/err")" "slow/img: interrupted"
check_eq "... removing its temp files" "$(find "$ISOLA_ROOT/tmp" -mindepth 1 | wc -l)" 0
run pull "$stub/broken/server:v1"
check "HTTP 500: pull fails" [ $? -ne 0 ]
check_match "... quoting the registry's message" "$(cat "$work/err")" \
	"registry $stub: repository broken/server: manifest 'v1': HTTP 500: the stub is broken on purpose \\(UNKNOWN\\)"

done_testing
