#!/usr/bin/env bash
# qcow2 disks on the IDE and virtio-blk devices (devices/block wired in):
# the test guest writes its sectors into qcow2 images, one of them an
# overlay over a raw backing file that qemu-img made; qemu-img check accepts
# every image isola wrote, the sectors read back through qemu-img convert,
# and the backing file is untouched. Raw images keep working as before.
source "$(dirname "$0")/../lib/tap.sh"

isola=$ISOLA_BUILD/isola
guest=$ISOLA_BUILD/guest/testguest.elf
[ -e /dev/kvm ] || skip_all "/dev/kvm is missing"
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -f "$guest" ] || skip_all "test guest not built: $guest"
command -v qemu-img >/dev/null || skip_all "qemu-img is missing"

tmp=$(mktemp -d /tmp/s2-qcow2-disk.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

run_vm() {
	local name=$1
	shift
	timeout 120 "$isola" vm run --kernel "$guest" --memory 64 "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	[ "$rc" -eq 0 ] || diag "isola exited $rc: $(cat "$tmp/$name.err")"
}
line() { grep -a "^ISOLA-TEST $2 " "$tmp/$1.out"; }
pattern() { python3 "$ISOLA_SRC/tests/vm/guest_pattern.py" "$@" >/dev/null; }
qcheck() { qemu-img check -q "$1" >"$tmp/check.out" 2>&1 || { diag "$(cat "$tmp/check.out")"; false; }; }
to_raw() { qemu-img convert -O raw "$1" "$2"; }

# --- isola-made qcow2 on IDE, qemu-img-made overlay over raw on virtio ---
"$isola" disk create -f qcow2 "$tmp/ide.qcow2" 4M
truncate -s 4M "$tmp/base.raw"
printf 'BASE-UNTOUCHED' | dd of="$tmp/base.raw" bs=512 seek=100 conv=notrunc status=none
base_sum=$(sha256sum <"$tmp/base.raw")
qemu-img create -q -f qcow2 -b "$tmp/base.raw" -F raw "$tmp/vblk.qcow2"
run_vm qcow2 --disk "$tmp/ide.qcow2,bus=ide" --disk "$tmp/vblk.qcow2,bus=virtio" \
	--cmdline "tests=ide,vblk"
check_eq "guest on two qcow2 disks powers off: exit status 0" "$rc" 0
check_match "IDE on qcow2: IDENTIFY sees 4 MiB, LBA28 and LBA48 sectors verified" \
	"$(line qcow2 ide)" "^ISOLA-TEST ide PASS .*sectors=8192 lba48=1 lba28_verified=8/8 lba48_verified=8/8"
check_match "virtio-blk on a qcow2 overlay: capacity, flush, sectors verified" \
	"$(line qcow2 vblk)" "^ISOLA-TEST vblk PASS .*capacity=8192 .*verified=8/8"
check "qemu-img check accepts the IDE qcow2 isola wrote" qcheck "$tmp/ide.qcow2"
check "qemu-img check accepts the virtio-blk overlay isola wrote" qcheck "$tmp/vblk.qcow2"
to_raw "$tmp/ide.qcow2" "$tmp/ide.raw"
to_raw "$tmp/vblk.qcow2" "$tmp/vblk.raw"
check "IDE qcow2 holds the guest's LBA28 sectors (read by qemu-img)" pattern "$tmp/ide.raw" IDE28 1 8
check "IDE qcow2 holds the guest's LBA48 sectors (read by qemu-img)" pattern "$tmp/ide.raw" IDE48 9 8
check "virtio-blk overlay holds the guest's sectors (read by qemu-img)" \
	pattern "$tmp/vblk.raw" VBLK 0 8
check_eq "overlay still shows the backing file's data where the guest did not write" \
	"$(dd if="$tmp/vblk.raw" bs=512 skip=100 count=1 status=none | head -c 14)" "BASE-UNTOUCHED"
check_eq "the raw backing file is untouched" "$(sha256sum <"$tmp/base.raw")" "$base_sum"
check_match "qemu-img info --backing-chain lists the overlay and its raw base" \
	"$(qemu-img info --backing-chain "$tmp/vblk.qcow2" 2>&1 | grep -c '^file format')" "^2$"

# --- a qcow2 opened read-only: guest writes fail, the image is unchanged ---
sum=$(sha256sum <"$tmp/ide.qcow2")
run_vm ro --disk "$tmp/ide.qcow2,ro,bus=virtio" --cmdline "tests=vblk"
check_match "read-only qcow2 on virtio-blk: the guest's write is refused" "$(line ro vblk)" \
	"^ISOLA-TEST vblk FAIL"
check_eq "read-only qcow2 is unchanged" "$(sha256sum <"$tmp/ide.qcow2")" "$sum"

# --- a raw image still runs as raw, byte for byte ---
truncate -s 4M "$tmp/plain.img"
run_vm raw --disk "$tmp/plain.img,bus=virtio" --cmdline "tests=vblk"
check_match "raw image on virtio-blk still works" "$(line raw vblk)" "^ISOLA-TEST vblk PASS"
check "raw image holds the guest's sectors at their offsets" pattern "$tmp/plain.img" VBLK 0 8

# --- a hostile qcow2 (L1 table beyond the file) is refused naming the disk ---
"$isola" disk create -f qcow2 "$tmp/bad.qcow2" 4M
printf '\xff\xff\xff\xff\xff\xff\x00\x00' | dd of="$tmp/bad.qcow2" bs=1 seek=40 conv=notrunc status=none
run_vm bad --disk "$tmp/bad.qcow2,bus=virtio" --cmdline "tests="
check "corrupt qcow2 refused: non-zero exit" test "$rc" -ne 0
check_match "the error names the disk" "$(cat "$tmp/bad.err")" "bad.qcow2"

done_testing
