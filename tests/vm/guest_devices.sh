#!/usr/bin/env bash
# The test guest on isola: every emulated and virtio device, checked from the
# guest (its ISOLA-TEST lines on COM1) and from the host (the disk images
# hold what it wrote, its frame arrives on the TAP and its reply comes back,
# the virtio console output lands in the log), plus --pv on/off as the guest
# sees CPUID, and both kernel entry paths (PVH note and plain ELF64).
source "$(dirname "$0")/../lib/tap.sh"

isola=$ISOLA_BUILD/isola
guest=$ISOLA_BUILD/guest/testguest.elf
[ -e /dev/kvm ] || skip_all "/dev/kvm is missing"
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -f "$guest" ] || skip_all "test guest not built: $guest"

tmp=$(mktemp -d /tmp/isola-guest-devices.XXXXXX)
tap=isolag$$
responder=
cleanup() {
	[ -n "$responder" ] && kill "$responder" 2>/dev/null
	ip link del "$tap" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# run_vm NAME isola-flags...: serial output in $tmp/NAME.out, status in rc.
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

# --- legacy devices, virtio-blk and virtio-rng in one VM ---
truncate -s 4M "$tmp/ide.img" "$tmp/vblk.img"
run_vm devices --disk "$tmp/ide.img,bus=ide" --disk "$tmp/vblk.img,bus=virtio" --rng \
	--cmdline "tests=uart,uart_irq,pci,rtc,ide,ide_irq,vblk,vrng"
check_eq "guest powers off through ACPI: exit status 0" "$rc" 0
for t in uart uart_irq pci rtc ide ide_irq vblk vrng; do
	check_match "guest test $t passes" "$(line devices $t)" "^ISOLA-TEST $t PASS"
done
check_match "guest summary" "$(grep -a ^ISOLA-DONE "$tmp/devices.out")" \
	"^ISOLA-DONE pass=8 fail=0 skip=0"
check_match "PCI bus 0 holds the host bridge, PIIX IDE, virtio-blk and virtio-rng" \
	"$(line devices pci)" "00.0=8086:1237:0600.*=8086:7010:0101.*=1af4:1042:.*=1af4:1044:"
check_match "IDE: IDENTIFY sees a 4 MiB LBA48 disk, both command sets verified" \
	"$(line devices ide)" "sectors=8192 lba48=1 lba28_verified=8/8 lba48_verified=8/8"
check_match "virtio-blk: capacity, FLUSH and GET_ID answered" "$(line devices vblk)" \
	"capacity=8192 .*flush=0 read=0 verified=8/8 get_id=0 id=[^ ]+ "
check "IDE image holds the guest's LBA28 sectors" pattern "$tmp/ide.img" IDE28 1 8
check "IDE image holds the guest's LBA48 sectors" pattern "$tmp/ide.img" IDE48 9 8
check "virtio-blk image holds the guest's sectors" pattern "$tmp/vblk.img" VBLK 0 8

# --- the guest moves the BARs isola assigned; the devices follow ---
run_vm moved --disk "$tmp/vblk.img,bus=virtio" --rng --cmdline "tests=vblk,vrng pci_reassign=1"
cfg_of() { sed -n 's/.* common_cfg=\(0x[0-9a-f]*\) .*/\1/p'; }
before=$(line devices vblk | cfg_of)
after=$(line moved vblk | cfg_of)
check "virtio-blk BAR moved by the guest ($before -> $after)" \
	test -n "$before" -a -n "$after" -a "$before" != "$after"
check_match "virtio-blk works at the moved BAR" "$(line moved vblk)" \
	"^ISOLA-TEST vblk PASS .*verified=8/8"
check_match "virtio-rng works at the moved BAR" "$(line moved vrng)" "^ISOLA-TEST vrng PASS"

# --- virtio-blk completing with MSI-X interrupts instead of polling ---
run_vm msix --disk "$tmp/vblk.img,bus=virtio" --cmdline "tests=vblk irq_msix=1"
check_match "virtio-blk: each of the 4 requests completes with an MSI-X interrupt" \
	"$(line msix vblk)" "^ISOLA-TEST vblk PASS .*verified=8/8 .*mode=msix interrupts=4$"

# --- virtio-net on a TAP: guest frame out, host reply in ---
if ip tuntap add dev "$tap" mode tap 2>"$tmp/tap.err" && ip link set "$tap" up; then
	python3 "$ISOLA_SRC/tests/vm/guest_tap.py" "$tap" "$tmp/frame.txt" "$tmp/ready" 60 &
	responder=$!
	for _ in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.1; done
	run_vm net --net "tap=$tap" --cmdline "tests=vnet vnet_echo=1"
	check_eq "vnet VM exits 0" "$rc" 0
	check_match "guest sent its frame and received the host's reply" "$(line net vnet)" \
		"^ISOLA-TEST vnet PASS .*tx=ok rx=pong"
	mac=$(line net vnet | sed -n 's/.* mac=\([0-9a-f:]*\) .*/\1/p')
	check_eq "the host captured the guest's broadcast from its MAC on the TAP" \
		"$(cat "$tmp/frame.txt" 2>/dev/null)" "src=$mac payload=ISOLA-VNET-PING"
	wait "$responder"
	responder=
	ip link del "$tap"
	check "TAP interface removed" bash -c "! ip link show '$tap' >/dev/null 2>&1"
else
	skip "virtio-net: cannot create TAP $tap: $(cat "$tmp/tap.err")"
fi

# --- virtio-console: input and the console proper go through virtio; COM1's
# output (early messages) still reaches the same log, as with QEMU ---
run_vm vcon --console virtio --console-log "$tmp/vcon.log" --cmdline "tests=vcon"
check_eq "vcon VM exits 0" "$rc" 0
check_eq "the guest's line arrived through virtio-console" \
	"$(grep -c '^ISOLA-VCON hello from the test guest$' "$tmp/vcon.log")" 1
check_match "the serial report reaches the log too" "$(grep '^ISOLA-TEST vcon ' "$tmp/vcon.log")" \
	"^ISOLA-TEST vcon PASS"

# --- paravirtual CPUID on and off ---
run_vm pv_on --pv on --cmdline "tests=cpuid"
check_match "--pv on: hypervisor bit and KVM signature" "$(line pv_on cpuid)" \
	"hypervisor=1 sig=KVMKVMKVM "
run_vm pv_off --pv off --cmdline "tests=cpuid"
check_match "--pv off: no hypervisor bit, no signature" "$(line pv_off cpuid)" \
	"hypervisor=0 sig=none "

# --- the plain ELF64 entry: the same file with its PVH note disabled ---
python3 - "$guest" "$tmp/noteless.elf" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(b"\x04\x00\x00\x00\x04\x00\x00\x00\x12\x00\x00\x00Xen\x00")
d[i + 8] = 0x7f  # note type 18 -> 127: no PVH entry any more
open(sys.argv[2], "wb").write(d)
PY
guest=$tmp/noteless.elf run_vm elf64 --cmdline "tests=uart"
check_match "without the PVH note isola enters e_entry in long mode with the cmdline" \
	"$(grep -a '^ISOLA-GUEST boot=' "$tmp/elf64.out")" '^ISOLA-GUEST boot=elf64 cmdline="tests=uart"'
check_match "ELF64 entry: uart test passes" "$(line elf64 uart)" "^ISOLA-TEST uart PASS"

no_leftover() { ! pgrep -f "$tmp" >/dev/null; }
check "no process left running on the test's files" no_leftover
done_testing
