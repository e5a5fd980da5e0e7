#!/usr/bin/env bash
# Real Linux on isola, first lines: Debian's standard kernel (linux-image-amd64,
# fetched with apt-get download into tests/fixtures/cache, reused when
# present) boots through PVH (the uncompressed vmlinux) and through the
# bzImage 64-bit boot protocol, and we assert on the kernel's own lines: its
# banner, our command line, our e820 map, our ACPI tables and vCPUs. The boot
# to a shell on every device is tests/vm/kernel_shell.sh.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/debian_kernel.sh"
ISOLA=$ISOLA_BUILD/isola
BZ_WAIT=${ISOLA_BZIMAGE_WAIT:-180}
[ -x "$ISOLA" ] || skip_all "no isola binary at $ISOLA"
[ -c /dev/kvm ] || skip_all "no /dev/kvm on this host (scripts/test runs this suite in the KVM sandbox)"
for tool in od xz; do
	command -v $tool >/dev/null || skip_all "$tool is not installed"
done

T=$(mktemp -d /tmp/isola-vm-kernel.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

# boot_until LOG TIMEOUT PATTERN ARGS...: boots in the background, waits until
# PATTERN is in LOG (or TIMEOUT seconds pass / isola exits), then stops the VM
# with SIGTERM and checks it went away cleanly. Sets SEEN=1 when found, RC.
boot_until() {
	local log=$1 timeout=$2 pattern=$3 pid waited=0
	shift 3
	"$ISOLA" vm run --console-log "$log" "$@" </dev/null >"$log.err" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	SEEN=0
	while [ $waited -lt "$timeout" ] && kill -0 "$pid" 2>/dev/null; do
		if grep -qE "$pattern" "$log" 2>/dev/null; then SEEN=1; break; fi
		sleep 1
		waited=$((waited + 1))
	done
	grep -qE "$pattern" "$log" 2>/dev/null && SEEN=1
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	RC=$?
	PIDS=()
}

check_line() { # name log fixed-string
	if grep -qF -- "$3" "$2"; then ok "$1"; else not_ok "$1"; diag "missing: $3"; fi
}

dk_fetch || skip_all "cannot fetch Debian's kernel: $DK_ERROR"
KVER=$DK_KVER
VMLINUZ=$DK_VMLINUZ
dk_vmlinux || skip_all "cannot extract vmlinux from $VMLINUZ: $DK_ERROR"
VMLINUX=$DK_VMLINUX
diag "kernel $KVER${ISOLA_IN_KVM_SANDBOX:+ (in the KVM sandbox)}"

# kvm-pvm cannot emulate XRSTOR, POPCNT or CLAC and keeps advertising
# them: tell the guest not to use them, or it stops before SMP bring-up.
PVM_WORKAROUND=""
[ -d /sys/module/kvm_pvm ] && PVM_WORKAROUND=" noxsave clearcpuid=popcnt,smap"
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 isola.test=pvh$PVM_WORKAROUND"
boot_until "$T/pvh.log" 400 "smp: Brought up 1 node, 2 CPUs" \
	--kernel "$VMLINUX" --cmdline "$CMDLINE" --memory 256 --cpus 2
check_eq "PVH: the kernel brought up our 2 vCPUs (INIT/SIPI to the AP)" "$SEEN" 1
check_eq "PVH: SIGTERM ends the VM with 143" "$RC" 143
check_line "PVH: kernel banner" "$T/pvh.log" "Linux version $KVER"
check_line "PVH: our command line" "$T/pvh.log" "Command line: $CMDLINE"
check_line "PVH: e820 low RAM" "$T/pvh.log" \
	"BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"
check_line "PVH: e820 EBDA/BIOS reserved" "$T/pvh.log" \
	"BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved"
check_line "PVH: e820 RAM from 1 MiB to 256 MiB" "$T/pvh.log" \
	"BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable"
check_line "PVH: our ACPI RSDP" "$T/pvh.log" "ACPI: RSDP 0x00000000000E0000"
check_line "PVH: IRQ0 -> GSI2 override from our MADT" "$T/pvh.log" \
	"ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)"
check_line "PVH: the kernel sees KVM (--pv on)" "$T/pvh.log" "Hypervisor detected: KVM"
[ "$SEEN" = 1 ] || diag "$(tail -5 "$T/pvh.log")"

# --pv off: the same kernel must believe it runs on bare metal. (The MP
# table is covered by test_tables: Debian's kernel has no MPPARSE.)
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 isola.test=pvoff"
boot_until "$T/pvoff.log" 300 "smpboot: Allowing 2 CPUs" \
	--kernel "$VMLINUX" --cmdline "$CMDLINE" --memory 128 --cpus 2 --pv off
check_eq "--pv off: the kernel counted our 2 vCPUs from the MADT" "$SEEN" 1
check_line "--pv off: kernel sees bare hardware" "$T/pvoff.log" \
	"Booting paravirtualized kernel on bare hardware"
check "--pv off: no hypervisor detected" bash -c "! grep -q 'Hypervisor detected' '$T/pvoff.log'"
check_line "--pv off: e820 RAM up to 128 MiB" "$T/pvoff.log" \
	"BIOS-e820: [mem 0x0000000000100000-0x0000000007ffffff] usable"
[ "$SEEN" = 1 ] || diag "$(tail -5 "$T/pvoff.log")"

# bzImage: the guest decompresses ~14 MB itself, instruction by instruction
# on an emulating host; wait a bounded time and report what was reached.
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 isola.test=bzimage"
boot_until "$T/bz.log" "$BZ_WAIT" "BIOS-e820: \[mem 0x0000000000100000-0x0000000007ffffff\] usable" \
	--kernel "$VMLINUZ" --cmdline "$CMDLINE" --memory 128
if [ "$SEEN" = 1 ]; then
	check_line "bzImage: kernel banner" "$T/bz.log" "Linux version $KVER"
	check_line "bzImage: our command line" "$T/bz.log" "Command line: $CMDLINE"
	check_line "bzImage: e820 low RAM" "$T/bz.log" \
		"BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"
else
	skip "bzImage: no e820 line within ${BZ_WAIT}s (decompression is slow here); saw: $(tail -c 200 "$T/bz.log" | tr '\n' ' ')"
fi

done_testing
