#!/usr/bin/env bash
# qcow2 interop with qemu-img/qemu-io both ways: images qemu made are read
# and written by isola's block layer (bdev_tool) and isola's images
# (`isola disk create`, random writes) pass `qemu-img check`, show their chain
# in `qemu-img info --backing-chain` and convert to the raw reference.
source "$(dirname "$0")/../../lib/tap.sh"
ISOLA=$ISOLA_BUILD/isola
TOOL=${BDEV_TOOL:-$ISOLA_BUILD/tests/devices/block/bdev_tool}
command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
	skip_all "qemu-img/qemu-io not installed (scripts/deps test: qemu-utils)"
[ -x "$TOOL" ] || skip_all "bdev_tool not built"
T=$(mktemp -d /tmp/isola-qcow2-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
# qemu-io exits 1 when a `read -P` pattern does not match; keep its chatter
# out of the TAP stream unless it fails.
qio() { local out; out=$(qemu-io "$@" 2>&1) || { diag "$out"; return 1; }; }

# 1. qemu-made image: qemu-io writes, isola reads; isola writes, qemu-io reads
qemu-img create -q -f qcow2 q.qcow2 16M
qemu-io -c 'write -P 0xab 0 1M' q.qcow2 >/dev/null
got=$("$TOOL" read q.qcow2 0 1048576 | od -An -tx1 -v | tr -s ' \n' '\n' | sort -u | tr -d '\n')
check_eq "qemu-io's 1M of 0xab read back by isola" "$got" "ab"
check "isola writes 0xcd at 3M+100 into qemu's image" "$TOOL" write q.qcow2 3145828 70000 0xcd
check "qemu-io reads isola's write" qio -c 'read -P 0xcd 3145828 70000' q.qcow2
check "qemu-io still reads its own data" qio -c 'read -P 0xab 0 1M' q.qcow2
check "qemu-img check clean after isola's write" qemu-img check -q q.qcow2

# 2. qemu overlays on qcow2 and raw bases
qemu-img create -q -f raw base.raw 8M
qemu-io -f raw -c 'write -P 0x5a 0 8M' base.raw >/dev/null
qemu-img create -q -f qcow2 -b base.raw -F raw ovr.qcow2
qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 ovq.qcow2
check "isola writes into a qemu overlay on raw" "$TOOL" write ovr.qcow2 1000 5000 0x77
check "qemu-io: isola's data over the raw base" qio -c 'read -P 0x77 1000 5000' ovr.qcow2
check "qemu-io: base data kept around it (copy-on-write)" \
	qio -c 'read -P 0x5a 0 1000' -c 'read -P 0x5a 6000 59536' ovr.qcow2
check "qemu-img check clean (overlay on raw)" qemu-img check -q ovr.qcow2
check "isola writes into a qemu overlay on qcow2" "$TOOL" write ovq.qcow2 500000 1000 0x42
check "qemu-io: isola's data and the base's" \
	qio -c 'read -P 0x42 500000 1000' -c 'read -P 0xab 0 500000' ovq.qcow2
check "qemu-img check clean (overlay on qcow2)" qemu-img check -q ovq.qcow2
check_eq "base untouched by overlay writes" "$(qemu-img compare -q q.qcow2 ovq.qcow2; echo $?)" 1

# 2b. version 2 (compat=0.10) overlay over a version 2 base
qemu-img create -q -f qcow2 -o compat=0.10 v2b.qcow2 8M
qemu-io -c 'write -P 0x61 0 8M' v2b.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o compat=0.10 -b v2b.qcow2 -F qcow2 v2o.qcow2
qemu-img convert -O raw v2b.qcow2 v2.raw
check "random writes into a v2 overlay" "$TOOL" random v2o.qcow2 v2.raw 5 60
check "qemu-img check clean (v2)" qemu-img check -q v2o.qcow2
check "qemu-img compare equals the reference (v2)" qemu-img compare -q -F raw v2o.qcow2 v2.raw

# 3. isola-made image, deterministic random writes against a raw reference
"$ISOLA" disk create -f qcow2 i.qcow2 64M
check "isola disk create passes qemu-img check" qemu-img check -q i.qcow2
truncate -s 64M ref.raw
check "random writes (seed 7, 300 writes)" "$TOOL" random i.qcow2 ref.raw 7 300
check "qemu-img check clean after random writes" qemu-img check -q i.qcow2
check "qemu-img compare equals the raw reference" qemu-img compare -q -f qcow2 -F raw i.qcow2 ref.raw
qemu-img convert -O raw i.qcow2 conv.raw
check "qemu-img convert -O raw equals the reference" cmp -s conv.raw ref.raw
check "isola reads equal the reference" "$TOOL" compare i.qcow2 ref.raw

# 3b. 512-byte clusters: the refcount table (one cluster, 8 MiB of host
# clusters) has to grow and move while writing
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 32M
truncate -s 32M small.raw
rt_before=$(od -An -tx1 -j48 -N8 small.qcow2 | tr -d ' ')
check "random writes into a 512-byte-cluster image" "$TOOL" random small.qcow2 small.raw 3 200
rt_after=$(od -An -tx1 -j48 -N8 small.qcow2 | tr -d ' ')
check "the refcount table moved (grown)" test "$rt_before" != "$rt_after"
check "qemu-img check clean after the growth" qemu-img check -q small.qcow2
check "qemu-img compare equals the reference" qemu-img compare -q -F raw small.qcow2 small.raw

# 4. a chain of three isola overlays over the random image
"$ISOLA" disk create -f qcow2 -b i.qcow2 -F qcow2 c1.qcow2
"$ISOLA" disk create -f qcow2 -b c1.qcow2 c2.qcow2
"$ISOLA" disk create -f qcow2 -b c2.qcow2 -F qcow2 c3.qcow2
chain=$(qemu-img info --backing-chain c3.qcow2 | sed -n 's/^image: //p' | tr '\n' ' ')
check_eq "qemu-img info --backing-chain shows the chain" "$chain" "c3.qcow2 c2.qcow2 c1.qcow2 i.qcow2 "
cp ref.raw ref3.raw
check "random writes into the top of the chain" "$TOOL" random c3.qcow2 ref3.raw 11 100
check "qemu-img check clean on c3" qemu-img check -q c3.qcow2
check "qemu-img compare c3 equals its reference" qemu-img compare -q -F raw c3.qcow2 ref3.raw
check "i.qcow2 still equals its own reference" qemu-img compare -q -F raw i.qcow2 ref.raw
info=$("$ISOLA" disk info c3.qcow2)
check_match "isola disk info lists the chain" "$info" \
	"image: c3.qcow2.*backing file: c2.qcow2.*image: ./c2.qcow2.*image: ./c1.qcow2.*image: ./i.qcow2"
check_eq "isola disk info: 4 images" "$(grep -c '^format: qcow2' <<<"$info")" 4

# 5. corrupt images refused naming the file and the part
cp i.qcow2 bad.qcow2
printf '\x00\x00\x00\x30' | dd of=bad.qcow2 bs=1 seek=20 conv=notrunc status=none
out=$("$ISOLA" disk info bad.qcow2 2>&1); rc=$?
check_eq "cluster_bits 48: disk info fails" "$rc" 1
check_match "names the file and the field" "$out" "bad.qcow2: header: cluster_bits 48"
cp i.qcow2 bad2.qcow2
printf '\x00\x00\x00\x00\x00\x03\x00\x00' | dd of=bad2.qcow2 bs=1 seek=48 conv=notrunc status=none
out=$("$ISOLA" disk info bad2.qcow2 2>&1)
check_match "refcount table over the L1 table refused" "$out" "bad2.qcow2: refcount table .*overlaps"
out=$("$ISOLA" disk create -f qcow2 -b missing.qcow2 x.qcow2 2>&1); rc=$?
check_match "missing backing file named" "$out" "x.qcow2: backing file: ./missing.qcow2: open"
check "no image left behind" test ! -e x.qcow2
done_testing
