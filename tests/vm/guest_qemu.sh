#!/usr/bin/env bash
# The test guest is a standard PVH kernel: the very ELF isola boots also
# boots on QEMU's pc machine (SeaBIOS, PIIX IDE, 8250, RTC, ACPI PM at 0x604,
# modern-only virtio-pci devices) and passes every device test there, with
# polling, MSI-X and IOAPIC interrupts.
source "$(dirname "$0")/../lib/tap.sh"

guest=$ISOLA_BUILD/guest/testguest.elf
command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 is not installed"
[ -f "$guest" ] || skip_all "test guest not built: $guest"

tmp=$(mktemp -d /tmp/isola-guest-qemu.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
truncate -s 4M "$tmp/ide.img" "$tmp/vblk.img"

tests=uart,uart_irq,pci,rtc,cpuid,ide,ide_irq,vblk,vnet,vcon,vrng
# TCG: on this nested host it beats KVM for a guest this small, and it
# proves the guest does not depend on KVM.
timeout 120 qemu-system-x86_64 -M pc -accel tcg -m 64 -display none -no-reboot \
	-nodefaults -no-user-config -serial "file:$tmp/serial.txt" \
	-kernel "$guest" -append "tests=$tests" \
	-drive "file=$tmp/ide.img,format=raw,if=ide,index=0" \
	-drive "file=$tmp/vblk.img,format=raw,if=none,id=vb" \
	-device virtio-blk-pci,disable-legacy=on,drive=vb \
	-netdev user,id=n0,restrict=on -device virtio-net-pci,disable-legacy=on,netdev=n0 \
	-device virtio-serial-pci,disable-legacy=on \
	-chardev "file,id=vc,path=$tmp/vcon.txt" -device virtconsole,chardev=vc \
	-device virtio-rng-pci,disable-legacy=on 2>"$tmp/qemu.err"
rc=$?
out=$(cat "$tmp/serial.txt" 2>/dev/null)
check_eq "QEMU exits 0 (guest powered off through PM1a_CNT at 0x604)" "$rc" 0
[ "$rc" -eq 0 ] || diag "$(cat "$tmp/qemu.err")"
for t in ${tests//,/ }; do
	check_match "guest test $t passes on QEMU" "$(grep "^ISOLA-TEST $t " <<<"$out")" \
		"^ISOLA-TEST $t PASS"
done
check_match "guest summary has no failure" "$(grep ^ISOLA-DONE <<<"$out")" \
	"^ISOLA-DONE pass=11 fail=0 skip=0"
check_match "PCI scan sees the PIIX IDE function and the virtio devices" \
	"$(grep '^ISOLA-TEST pci' <<<"$out")" "8086:7010:0101.*1af4:1042.*1af4:1041"
pattern() { python3 "$ISOLA_SRC/tests/vm/guest_pattern.py" "$@" >/dev/null; }
check "IDE image holds the LBA28 sectors" pattern "$tmp/ide.img" IDE28 1 8
check "IDE image holds the LBA48 sectors" pattern "$tmp/ide.img" IDE48 9 8
check "virtio-blk image holds the guest's sectors" pattern "$tmp/vblk.img" VBLK 0 8
check_eq "virtio-console output reached the host" "$(cat "$tmp/vcon.txt" 2>/dev/null)" \
	"ISOLA-VCON hello from the test guest"

# The guest's own BAR assignment (what it does when no firmware ran):
# it moves the virtio BARs SeaBIOS placed into the 0xE0000000 window.
timeout 120 qemu-system-x86_64 -M pc -accel tcg -m 64 -display none -no-reboot \
	-nodefaults -no-user-config -serial "file:$tmp/moved.txt" \
	-kernel "$guest" -append "tests=vblk,vrng pci_reassign=1 irq_msix=1" \
	-drive "file=$tmp/vblk.img,format=raw,if=none,id=vb" \
	-device virtio-blk-pci,disable-legacy=on,drive=vb \
	-device virtio-rng-pci,disable-legacy=on 2>"$tmp/qemu.err"
moved=$(cat "$tmp/moved.txt" 2>/dev/null)
check_match "virtio-blk works at a BAR the guest assigned, with MSI-X" \
	"$(grep '^ISOLA-TEST vblk' <<<"$moved")" \
	"^ISOLA-TEST vblk PASS .*common_cfg=0xe00.* mode=msix interrupts=4"
check_match "virtio-rng works at a BAR the guest assigned" \
	"$(grep '^ISOLA-TEST vrng' <<<"$moved")" "^ISOLA-TEST vrng PASS .*common_cfg=0xe00"
done_testing
