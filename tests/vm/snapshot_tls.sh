#!/usr/bin/env bash
# Live migration over TLS 1.3 with mutual authentication (certificates made
# here by `openssl req`/`openssl x509`), two isola roots on one host: a
# plain source against a TLS receiver, a TLS source against a plain
# receiver, a receiver whose certificate another CA signed and one whose
# certificate names another host than the one dialled all fail with one
# message on each side and leave the source counting; a migration there
# (plain), back (TLS, the destination's certificate checked for the name
# given with --tls-name) and there again (TLS, checked for the IP address
# dialled) keeps the counter unbroken and carries 32 MiB of random guest
# memory intact. Prints MiB/s with and without TLS (not timed).
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/pace.sh"

isola=$ISOLA_BUILD/isola
guest=$ISOLA_BUILD/guest/testguest.elf
[ -e /dev/kvm ] || skip_all "/dev/kvm is missing"
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -f "$guest" ] || skip_all "test guest not built: $guest"
command -v openssl >/dev/null || skip_all "openssl is missing"
command -v ss >/dev/null || skip_all "ss is missing"

tmp=$(mktemp -d /tmp/s4-tls.XXXXXX)
port=37101
recv=
A() { ISOLA_ROOT=$tmp/a "$isola" vm "$@"; }
B() { ISOLA_ROOT=$tmp/b "$isola" vm "$@"; }
cleanup() {
	[ -n "$recv" ] && kill_tree "$recv" TERM
	for v in s4-t s4-t2; do A rm -f "$v" >/dev/null 2>&1; done
	for v in s4-x s4-p s4-q; do B rm -f "$v" >/dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

# --- certificates: CA 1 signs src, dst (both naming 127.0.0.1) and
# elsewhere (naming elsewhere.example); CA 2 signs other ---
mkca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=$1" -keyout "$tmp/$1.key" -out "$tmp/$1.pem" 2>/dev/null; }
# mkcert NAME CA SAN: a certificate for NAME, CA signs it, subjectAltName SAN
mkcert() {
	printf 'subjectAltName=%s\n' "$3" >"$tmp/$1.ext"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$tmp/$1.key" -out "$tmp/$1.csr" 2>/dev/null &&
		openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$2.pem" -CAkey "$tmp/$2.key" \
			-CAcreateserial -days 1 -extfile "$tmp/$1.ext" -out "$tmp/$1.pem" 2>/dev/null
}
mkca ca1 && mkca ca2 && mkcert src ca1 IP:127.0.0.1 && mkcert dst ca1 IP:127.0.0.1 &&
	mkcert other ca2 IP:127.0.0.1 && mkcert elsewhere ca1 DNS:elsewhere.example ||
	skip_all "openssl could not make certificates"
# tls CERT CA: the three flags in TLS
tls() { TLS=(--tls-cert "$tmp/$1.pem" --tls-key "$tmp/$1.key" --tls-ca "$tmp/$2.pem"); }

field() { python3 -c "import json,sys; o=json.load(sys.stdin); o=o[0] if isinstance(o,list) else o; print(o$1)"; }
count_last() { grep -aoE 'ISOLA-COUNT [0-9]+' "$1" | tail -1 | awk '{print $2}'; }
past() { [ "$(count_last "$1")" -gt "$2" ]; }
counts_past() { until_s 10 past "$1" "$2"; }
listening() { ss -ltn 2>/dev/null | grep -q "127.0.0.1:$1 "; }
a_stopped() { [ "$(A inspect "$1" | jget state)" = stopped ]; }
# receive_bg ROOT-FN NAME [TLS...]: a receiver on 127.0.0.1:$port
receive_bg() {
	local side=$1 name=$2
	shift 2
	port=$((port + 1))
	$side receive "$name" --listen 127.0.0.1:$port "$@" >"$tmp/recv.out" 2>&1 &
	recv=$!
	until_s 5 listening $port
}
finish_recv() {
	reap "$recv"
	recv=
}
mib_s() { sed -nE 's/.*, ([0-9.]+) MiB, .*total ([0-9]+) ms.*/\1 \2/p' <<<"$1" |
	awk '{ if ($2 > 0) printf "%.0f MiB/s (%.1f MiB in %d ms)", $1 / ($2 / 1000), $1, $2 }'; }

# --- the source: a counting guest whose memory holds 32 MiB of random data ---
A create s4-t --kernel "$guest" --memory 128 --cmdline "tests=count count_ms=$(cms 10)" >/dev/null
A start s4-t >/dev/null
log1=$(A inspect s4-t | jget console_log)
wait_lines "$log1" 10
A pause s4-t >/dev/null
A snapshot create s4-t base >/dev/null
A kill s4-t >/dev/null
until_s 5 a_stopped s4-t
mem=$(ls "$tmp"/a/vms/*/snapshots/base/memory)
# guest RAM 64-96 MiB is no part of the test guest: random bytes the VM carries
dd if=/dev/urandom of="$mem" bs=1M seek=64 count=32 conv=notrunc status=none
fill_sum=$(dd if="$mem" bs=1M skip=64 count=32 status=none | sha256sum)
A restore s4-t base >/dev/null
check "the source VM counts" wait_lines "$log1" 20

# --- refusals: one message on each side, the source goes on ---
# refused SRC_TLS RECEIVER_ARGS...: a migration of s4-t to a receiver started
# with RECEIVER_ARGS, the source with the certificate of ca1 (SRC_TLS=tls)
# or none (plain); sets out (the source's) and rout (the receiver's).
refused() {
	local src=$1
	shift
	receive_bg B s4-x "$@"
	TLS=()
	[ "$src" = plain ] || tls src ca1
	out=$(A migrate s4-t --to 127.0.0.1:$port "${TLS[@]}" 2>&1)
	finish_recv
	rout=$(cat "$tmp/recv.out")
}
keeps_counting() {
	local n
	n=$(count_last "$log1")
	check "... and the source keeps counting" counts_past "$log1" "$n"
}
out=$(A migrate s4-t --to 127.0.0.1:1 --tls-cert "$tmp/src.pem" 2>&1)
check_match "TLS flags come all three or none" "$out" "TLS needs all of --tls-cert, --tls-key and --tls-ca"
tls src ca1
out=$(A migrate s4-t --to 127.0.0.1:1 "${TLS[@]}" --tls-name 'a b' 2>&1)
check_match "a --tls-name with a space is refused before anything starts" "$out" \
	"--tls-name: 'a b': want a host name or IP address"
out=$(A migrate s4-t --to 127.0.0.1:1 --tls-name elsewhere.example 2>&1)
check_match "--tls-name without TLS is refused" "$out" "--tls-name needs TLS"
out=$(B receive s4-x --listen 127.0.0.1:1 "${TLS[@]}" --tls-name elsewhere.example 2>&1)
check_match "the receiver takes no --tls-name (it checks the source against the CA only)" \
	"$out" "expected NAME --listen ADDR:PORT"

tls dst ca1
refused plain "${TLS[@]}"
check_match "plain source, TLS receiver: the source says TLS is required" "$out" \
	"the destination requires TLS"
check_match "... and the receiver says the source does not use TLS" "$rout" \
	"the source does not use TLS"
keeps_counting

refused tls
check_match "TLS source, plain receiver: the source's TLS handshake fails" "$out" \
	"TLS handshake with the destination failed"
check_match "... and the receiver says the source uses TLS" "$rout" "the source uses TLS"
keeps_counting

tls other ca2
refused tls "${TLS[@]}"
check_match "a receiver certificate from another CA is not trusted by the source" "$out" \
	"TLS: the destination's certificate is not trusted"
check_match "... and the receiver is told its certificate was refused" "$rout" \
	"TLS: the source refused this side's certificate"
keeps_counting
check_eq "no VM is left on the receiving side" \
	"$(B ls --format json | grep -c '"name"')" 0

tls elsewhere ca1
refused tls "${TLS[@]}"
check_match "a receiver certificate from the CA naming another host is refused by the source" \
	"$out" "TLS: the destination's certificate does not name 127\.0\.0\.1 \(use --tls-name to check another name\)"
check_match "... and the receiver is told its certificate was refused" "$rout" \
	"TLS: the source refused this side's certificate"
keeps_counting
check_eq "no VM is left on the receiving side" \
	"$(B ls --format json | grep -c '"name"')" 0

tls dst ca2
refused tls "${TLS[@]}"
check_match "a source certificate the receiver's CA did not sign is refused there" "$rout" \
	"TLS: the source's certificate is not trusted"
check_match "... and the source names the refusal" "$out" "TLS"
keeps_counting

# --- there in plain TCP, back over TLS: one unbroken counter, memory intact ---
receive_bg B s4-p
plain=$(A migrate s4-t --to 127.0.0.1:$port 2>&1)
finish_recv
check_match "plain migration succeeds" "$plain" "^s4-t: [0-9]+ rounds"
log2=$(B inspect s4-p | jget console_log)
check "the VM counts on the other side" wait_lines "$log2" 5
# back: the receiver's certificate names elsewhere.example, not 127.0.0.1
tls elsewhere ca1
receive_bg A s4-t2 "${TLS[@]}"
tls dst ca1
over_tls=$(B migrate s4-p --to 127.0.0.1:$port "${TLS[@]}" --tls-name elsewhere.example 2>&1)
finish_recv
check_match "TLS migration succeeds with --tls-name naming the receiver's certificate" \
	"$over_tls" "^s4-p: [0-9]+ rounds"
log3=$(A inspect s4-t2 | jget console_log)
check "the VM counts back on the first side" wait_lines "$log3" 5
check_eq "the source of the TLS migration stopped" "$(B inspect s4-p | jget state)" stopped
mem3=$(ls "$tmp"/a/vms/*/snapshots/migrated-*/memory | head -1)
check_eq "the random guest memory arrived intact over TLS" \
	"$(dd if="$mem3" bs=1M skip=64 count=32 status=none | sha256sum)" "$fill_sum"
# there again: the receiver's certificate names 127.0.0.1, the address dialled
tls dst ca1
receive_bg B s4-q "${TLS[@]}"
tls src ca1
again=$(A migrate s4-t2 --to 127.0.0.1:$port "${TLS[@]}" 2>&1)
finish_recv
check_match "TLS migration succeeds to a certificate naming the IP address dialled" \
	"$again" "^s4-t2: [0-9]+ rounds"
log4=$(B inspect s4-q | jget console_log)
check "the VM counts on the other side again" wait_lines "$log4" 5
cat "$log1" "$log2" "$log3" "$log4" >"$tmp/joined.log"
res=$(consecutive "$tmp/joined.log")
check "one unbroken counter across the three migrations ($res)" bash -c "[[ '$res' == *'gaps []' ]]"
diag "plain TCP: $(mib_s "$plain") [$plain]"
diag "TLS 1.3:   $(mib_s "$over_tls") [$over_tls]"

done_testing
