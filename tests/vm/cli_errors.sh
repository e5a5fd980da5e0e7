#!/usr/bin/env bash
# `isola vm run` refuses bad input with one clear message naming the input,
# a non-zero exit status (2 for usage, 1 for host/VMM problems) and nothing
# left behind (processes, TAP interfaces, files). Needs no KVM: it runs on
# the host in every case (suite vmhost); the one KVM-dependent error (a TAP
# refused after the VM exists) is checked in mini_boot.sh.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/pace.sh"
ISOLA=$ISOLA_BUILD/isola
MINI=$ISOLA_BUILD/tests/vm/mini_guest
[ -x "$ISOLA" ] || skip_all "no isola binary at $ISOLA"
[ -x "$MINI" ] || skip_all "no mini_guest at $MINI"

T=$(mktemp -d /tmp/isola-vm-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$MINI" "$T/kernel" elf64 poweroff

# run_isola ARGS...: sets OUT (stderr+stdout) and RC.
run_isola() { OUT=$(timeout -k 5 60 "$ISOLA" vm run "$@" 2>&1 </dev/null); RC=$?; }

# input_errors SUFFIX: every file and flag error, each named before anything
# about the host's KVM. Runs once on this host as it is and once with the KVM
# device missing, so the order is checked on every machine.
input_errors() {
	local s=$1
	run_isola --bogus
	check_eq "unknown flag: exit 2$s" "$RC" 2
	check_match "unknown flag: named$s" "$OUT" "unknown or incomplete option '--bogus'"

	run_isola --cmdline x
	check_eq "missing --kernel: exit 2$s" "$RC" 2
	check_eq "missing --kernel: message$s" "$OUT" "isola vm run: --kernel is required"

	run_isola --kernel "$T/kernel" --cpus 0
	check_eq "--cpus 0: exit 2$s" "$RC" 2
	check_eq "--cpus 0: message$s" "$OUT" "isola vm run: --cpus '0': expected a number from 1 to 64"

	run_isola --kernel "$T/kernel" --memory lots
	check_eq "--memory lots: exit 2$s" "$RC" 2
	check_match "--memory lots: message$s" "$OUT" "--memory 'lots': expected a number"

	run_isola --kernel "$T/kernel" --memory 8
	check_eq "--memory 8: exit 2$s" "$RC" 2
	check_eq "--memory 8: message$s" "$OUT" "isola vm run: --memory 8: must be 16..1048576 MiB"

	run_isola --kernel "$T/kernel" --pv maybe
	check_eq "--pv maybe: message$s" "$OUT" "isola vm run: --pv 'maybe': expected on or off"

	run_isola --kernel "$T/kernel" --disk "$T/disk.img,bus=scsi"
	check_eq "--disk bus=scsi: exit 2$s" "$RC" 2
	check_match "--disk bus=scsi: message$s" "$OUT" "bus must be virtio or ide, not 'scsi'"

	run_isola --kernel "$T/kernel" --net mac=01:02
	check_match "--net without tap: message$s" "$OUT" "--net 'mac=01:02': mac '01:02' is not"

	run_isola --kernel "$T/kernel" --disk "$T/missing.img"
	check_eq "missing disk image: exit 1$s" "$RC" 1
	check_match "missing disk image: names the path$s" "$OUT" "--disk '$T/missing.img'.*No such file or directory"

	run_isola --kernel "$T/missing-kernel"
	check_eq "missing kernel: exit 1$s" "$RC" 1
	check_eq "missing kernel: message$s" "$OUT" \
		"isola vm run: kernel '$T/missing-kernel': No such file or directory"

	echo "just text" > "$T/text"
	run_isola --kernel "$T/text"
	check_eq "not a kernel: exit 1$s" "$RC" 1
	check_eq "not a kernel: message$s" "$OUT" \
		"isola vm run: '$T/text' is not a bzImage (no HdrS setup header)"

	head -c $((40 << 20)) /dev/zero > "$T/big.initrd"
	run_isola --kernel "$T/kernel" --initrd "$T/big.initrd" --memory 32
	check_eq "initrd too big: exit 1$s" "$RC" 1
	check_eq "initrd too big: message$s" "$OUT" \
		"isola vm run: initrd '$T/big.initrd' (40 MiB) does not fit in guest memory (32 MiB)"

	run_isola --kernel "$T/kernel" --console-log "$T/no/such/dir/log"
	check_eq "bad --console-log: exit 1$s" "$RC" 1
	check_match "bad --console-log: message$s" "$OUT" "--console-log '$T/no/such/dir/log': No such file"

	# JSON configuration errors name the key.
	echo '{"kernel": "k", "cpus": "two"}' > "$T/bad-type.json"
	run_isola --config "$T/bad-type.json"
	check_eq "JSON wrong type: exit 2$s" "$RC" 2
	check_eq "JSON wrong type: message$s" "$OUT" \
		"isola vm run: --config '$T/bad-type.json': \"cpus\" must be an integer"
	echo '{"kernel": "k", "disks": [{"path": "d", "speed": 3}]}' > "$T/bad-key.json"
	run_isola --config "$T/bad-key.json"
	check_eq "JSON unknown key: message$s" "$OUT" \
		"isola vm run: --config '$T/bad-key.json': unknown key \"disks[0].speed\""
	echo '{"kernel": ' > "$T/broken.json"
	run_isola --config "$T/broken.json"
	check_eq "broken JSON: exit 2$s" "$RC" 2
	check_match "broken JSON: message$s" "$OUT" "--config '$T/broken.json': invalid JSON"

	run_isola --kernel "$T/kernel" --disk "$T/missing-ide.img,bus=ide"
	check_eq "missing IDE image: exit 1$s" "$RC" 1
	check_match "missing IDE image: names the path$s" "$OUT" \
		"--disk '$T/missing-ide.img': No such file or directory"

	# An interface name Linux cannot have is a bad flag value.
	run_isola --kernel "$T/kernel" --net tap=isola-this-name-is-far-too-long
	check_eq "TAP name too long: exit 2$s" "$RC" 2
	check_eq "TAP name too long: message$s" "$OUT" \
		"isola vm run: --net tap=isola-this-name-is-far-too-long: interface names have 1 to 15 characters"
}

input_errors ""
export ISOLA_KVM_DEV=$T/no-kvm
input_errors " (no KVM device)"
unset ISOLA_KVM_DEV

# No /dev/kvm: the override, then a mount namespace where /dev has no kvm.
OUT=$(ISOLA_KVM_DEV=$T/kvm timeout -k 5 30 "$ISOLA" vm run --kernel "$T/kernel" 2>&1 </dev/null); RC=$?
check_eq "no KVM device: exit 1" "$RC" 1
check_eq "no KVM device: message" "$OUT" \
	"isola vm run: $T/kvm: No such file or directory (is KVM enabled? load kvm_intel/kvm_amd)"
if unshare -m true 2>/dev/null; then
	OUT=$(unshare -m bash -c "mount -t tmpfs tmpfs /dev && exec timeout 30 '$ISOLA' vm run --kernel '$T/kernel'" 2>&1 </dev/null)
	RC=$?
	check_eq "/dev/kvm hidden by a mount namespace: exit 1" "$RC" 1
	check_match "/dev/kvm hidden: message" "$OUT" "/dev/kvm: No such file or directory \\(is KVM enabled"
else
	skip "unshare -m not permitted here"
fi
if [ "$(stat -c %a /dev/kvm 2>/dev/null)" = 600 ] && command -v setpriv >/dev/null; then
	# The kernel is read first, so the unprivileged user must be able to.
	chmod 755 "$T"
	OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups timeout -k 5 30 "$ISOLA" vm run --kernel "$T/kernel" 2>&1 </dev/null)
	check_match "/dev/kvm not accessible: permission message" "$OUT" \
		"/dev/kvm: cannot open \\(add your user to the 'kvm' group or run as root\\): Permission denied"
	chmod 700 "$T"
else
	skip "/dev/kvm is not mode 600 or no setpriv"
fi

# A migration source that stops within a record: the receiver gives up
# after 30 s of silence (it needs no KVM before the configuration is in)
# and leaves no VM and no listener behind.
port=39297
ISOLA_ROOT=$T/root timeout -k 5 90 "$ISOLA" vm receive stalled --listen 127.0.0.1:$port >"$T/recv.out" 2>&1 &
recv=$!
port_listens() { ss -Hltn "sport = :$port" | grep -q .; }
until_s 5 port_listens
python3 "$(dirname "$0")/lib/cut_migration.py" --stall 127.0.0.1 $port "$T/kernel" &
stall=$!
wait "$recv"
RC=$?
kill "$stall" 2>/dev/null
wait "$stall" 2>/dev/null
check_eq "a source stalled within a record: exit 1" "$RC" 1
check_match "a source stalled within a record: message" "$(cat "$T/recv.out")" \
	"the peer sent nothing for 30 s"
check "a source stalled within a record: no VM left" \
	bash -c "! ISOLA_ROOT='$T/root' '$ISOLA' vm inspect stalled >/dev/null 2>&1"
check_eq "a source stalled within a record: the port is free" "$(ss -Hltn "sport = :$port" | wc -l)" 0

check_eq "no isola process left" "$(pgrep -f "$T" | wc -l)" 0
done_testing
