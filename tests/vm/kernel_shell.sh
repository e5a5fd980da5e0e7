#!/usr/bin/env bash
# Real Linux to a shell on isola: Debian's standard kernel (linux-image-amd64;
# the bzImage, and its vmlinux through PVH) with an initramfs of busybox-static and the kernel's own
# driver modules boots to tests/vm/linux/init, which checks every device as
# a user would and ends the VM:
# - full virtualization (--pv off): an ext4 image on IDE (ata_piix), the
#   8250 console with interrupts, rtc-cmos, 2 vCPUs, i8042 reset;
# - paravirtualization (--pv on): the same image on virtio-blk, virtio-net
#   over a TAP in a network namespace (ping and a TCP fetch from the host
#   side), virtio-console, virtio-rng, kvm-clock, ACPI power-off.
# On a kvm-pvm host a stock kernel stops early: scripts/test runs the kernel
# suite in the KVM sandbox there, and this test skips when run natively.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/debian_kernel.sh"
ISOLA=$ISOLA_BUILD/isola
WAIT=${ISOLA_LINUX_WAIT:-480}
STALL=${ISOLA_LINUX_STALL:-90}
[ -x "$ISOLA" ] || skip_all "no isola binary at $ISOLA"
[ -c /dev/kvm ] || skip_all "no /dev/kvm on this host (scripts/test runs this suite in the KVM sandbox)"
[ -d /sys/module/kvm_pvm ] && [ -z "${ISOLA_LINUX_ON_PVM:-}" ] && skip_all "this host's KVM is kvm-pvm, where a stock kernel stops early (scripts/test runs this suite in the KVM sandbox)"
[[ $(ldd "$(command -v busybox)" 2>&1) == *"not a dynamic"* ]] || skip_all "needs busybox-static"
for tool in cpio mkfs.ext4 ip; do
	command -v $tool >/dev/null || skip_all "$tool is not installed"
done
dk_fetch || skip_all "cannot fetch Debian's kernel: $DK_ERROR"
diag "kernel $DK_KVER${ISOLA_IN_KVM_SANDBOX:+ (in the KVM sandbox)}"

T=$(mktemp -d /tmp/isola-vm-linux.XXXXXX)
NS=isola-linux-$$
TAP=isolalnx$$
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	# ISOLA_TEST_KEEP=1 keeps the logs and images for a look.
	if [ -n "${ISOLA_TEST_KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# The initramfs: busybox, the init, the modules with their dependencies.
R=$T/initramfs
mkdir -p "$R/bin" "$R/lib/modules" "$R/proc" "$R/sys" "$R/dev"
cp "$(command -v busybox)" "$R/bin/busybox"
cp "$ISOLA_SRC/tests/vm/linux/init" "$R/init"
mods=$(dk_modules ata_piix sd_mod ext4 crc32c_generic virtio_pci virtio_blk virtio_net \
	virtio_console virtio_rng) || skip_all "the kernel lacks a module the guest needs"
for ko in $mods; do
	cp "$ko" "$R/lib/modules/"
	echo "${ko##*/}" >>"$R/modules"
done
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) >"$T/initramfs.gz"

# The data disk: ext4 made from a directory, with a marker file.
mkdir -p "$T/rootdir"
echo "isola-marker-$$" >"$T/rootdir/marker"
mkfs.ext4 -q -F -d "$T/rootdir" "$T/disk.img" 16M >/dev/null 2>&1 ||
	skip_all "mkfs.ext4 -d failed (e2fsprogs too old?)"

# Full virtualization boots the bzImage as a PC firmware would; the PV
# machine enters the same kernel's vmlinux at its PVH entry point.
dk_vmlinux || skip_all "cannot extract vmlinux: $DK_ERROR"

# boot LOG KERNEL ARGS...: runs isola until the guest ends, WAIT seconds
# pass, or the console stays silent for STALL seconds (a boot prints every
# few seconds even in the sandbox; a silent guest is stuck, and waiting the
# whole WAIT for it made one CI run 8 minutes longer); sets RC (124 on a
# timeout or stall) and SECS. On a stall, where each VMM thread waits is
# reported first: vCPU threads all in KVM_RUN mean the guest (or the outer
# hypervisor) stopped; one in a futex or read means isola did.
boot() {
	local log=$1 kernel=$2 start pid size last quiet=0
	shift 2
	start=$(date +%s%N)
	: >"$log"
	timeout -k 10 "$WAIT" "$@" --kernel "$kernel" --initrd "$T/initramfs.gz" --memory 256 \
		--console-log "$log" </dev/null >"$log.err" 2>&1 &
	pid=$!
	last=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		size=$(stat -c %s "$log" 2>/dev/null || echo 0)
		if [ "$size" -ne "$last" ]; then
			last=$size quiet=0
			continue
		fi
		quiet=$((quiet + 2))
		[ "$quiet" -ge "$STALL" ] || continue
		vmm_threads "$pid"
		pkill -KILL -P "$pid" 2>/dev/null
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		RC=124
		break
	done
	[ "$quiet" -ge "$STALL" ] || { wait "$pid"; RC=$?; }
	SECS=$(( ($(date +%s%N) - start) / 1000000 ))
	SECS=$((SECS / 1000)).$(printf '%03d' $((SECS % 1000)))
}
# vmm_threads PID: each thread of the isola under PID (timeout's child, or
# deeper under ip netns exec) with its state, kernel wait channel and syscall.
vmm_threads() {
	local p t
	for p in $(pgrep -f "isola vm run" | sort -n); do
		diag "console silent for ${STALL}s; isola pid $p threads (name state wchan syscall):"
		for t in /proc/"$p"/task/*; do
			diag "  $(cat "$t/comm" 2>/dev/null) $(awk '{print $3}' "$t/stat" 2>/dev/null)" \
				"$(cat "$t/wchan" 2>/dev/null) $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
		done
	done
}
# value LOG CHECK: the value of "ISOLA-LINUX CHECK VALUE".
value() { sed -n "s/^ISOLA-LINUX $2 \(.*\)\r\?$/\1/p" "$1" | tr -d '\r' | head -1; }
seen() { grep -q "^ISOLA-LINUX $2" "$1"; }

# --- full virtualization ---
full_boot() {
	boot "$T/full.log" "$DK_VMLINUZ" "$ISOLA" vm run --pv off --cpus 2 \
		--disk "$T/disk.img,ro,bus=ide" --cmdline "console=ttyS0 reboot=k isola.mode=full"
}
full_boot
# Known intermittent: once in four runs in the KVM sandbox (nested under
# TCG) the full guest stopped printing early in boot (after "EDAC MC") and
# the boot timed out. Until that is understood, a timed-out boot is retried
# once and reported here; a second timeout fails the checks below.
if [ "$RC" -eq 124 ]; then
	diag "full virtualization: no end after ${SECS}s (timeout or silent console); console ended with:"
	diag "$(tail -3 "$T/full.log")"
	diag "retrying the full boot once (see the comment in this test)"
	full_boot
fi
diag "full virtualization: boot to the end of the script in ${SECS}s"
check_eq "full: the guest reset through the i8042 (exit 3)" "$RC" 3
check "full: init reached the shell" seen "$T/full.log" shell-up
check_eq "full: ata_piix drives our PIIX IDE" "$(value "$T/full.log" ata-piix-devices)" 1
check_eq "full: ext4 image on IDE mounted, marker read" "$(value "$T/full.log" marker)" "isola-marker-$$"
check_eq "full: both vCPUs up" "$(value "$T/full.log" online)" "0-1"
check_match "full: rtc-cmos is the RTC" "$(value "$T/full.log" rtc)" "^rtc_cmos"
check_eq "full: the RTC's date is the host's" "$(value "$T/full.log" rtc-date)" "$(date -u +%Y-%m-%d)"
irqs=$(value "$T/full.log" serial-irq)
check "full: the 8250 console took interrupts ($irqs)" test "${irqs:-0}" -gt 0
check_eq "full: no hypervisor CPUID bit" "$(value "$T/full.log" hypervisor)" 0
seen "$T/full.log" "done" || diag "$(tail -20 "$T/full.log")"

# --- paravirtualization: a TAP in a namespace of our own, 10.198.0.1 ---
if ! ip netns add "$NS"; then
	skip "para: cannot create a network namespace"
	done_testing
	exit
fi
ip netns exec "$NS" ip tuntap add dev "$TAP" mode tap
ip netns exec "$NS" ip addr add 10.198.0.1/24 dev "$TAP"
ip netns exec "$NS" ip link set "$TAP" up
mkdir -p "$T/www"
echo "hello over TCP $$" >"$T/www/hello.txt"
ip netns exec "$NS" busybox httpd -f -p 10.198.0.1:8080 -h "$T/www" &
PIDS+=($!)
boot "$T/para.log" "$DK_VMLINUX" ip netns exec "$NS" "$ISOLA" vm run --pv on --disk "$T/disk.img,ro" \
	--net "tap=$TAP,mac=52:54:00:12:34:56" --console virtio --rng \
	--cmdline "console=ttyS0 console=hvc0 isola.mode=para"
diag "paravirtualization: boot to the end of the script in ${SECS}s"
check_eq "para: ACPI power-off (exit 0)" "$RC" 0
check "para: init reached the shell" seen "$T/para.log" shell-up
check_eq "para: ext4 image on virtio-blk mounted, marker read" "$(value "$T/para.log" marker)" "isola-marker-$$"
check_eq "para: init's output goes through virtio-console" "$(value "$T/para.log" via)" "/dev/hvc0"
check_match "para: hvc0 is the kernel's console" "$(value "$T/para.log" console)" "hvc0"
check_eq "para: kvm-clock is the clocksource" "$(value "$T/para.log" clocksource)" "kvm-clock"
check_eq "para: virtio-rng is the hwrng" "$(value "$T/para.log" hwrng)" "virtio_rng.0"
check_eq "para: /dev/hwrng reads" "$(value "$T/para.log" hwrng-bytes)" 16
check_eq "para: virtio-net NIC with our MAC" "$(value "$T/para.log" mac)" "52:54:00:12:34:56"
check_eq "para: the guest pings the host side of the TAP" "$(value "$T/para.log" ping)" ok
check_eq "para: the guest fetches a file over TCP" "$(value "$T/para.log" fetch)" "hello over TCP $$"
seen "$T/para.log" "done" || diag "$(tail -20 "$T/para.log")"
tap_kept() { ip netns exec "$NS" ip link show "$TAP" >/dev/null; }
check "para: the TAP is still the namespace's (isola attached, did not delete it)" tap_kept
done_testing
