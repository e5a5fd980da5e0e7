#!/usr/bin/env bash
# scripts/kvm-sandbox, from the outside: the command's output and exit
# status come back as they are (not QEMU's), --rw directories keep what the
# command wrote, the host's / is shared read-only (writes stay in the
# guest's RAM), /dev/kvm works inside (isola boots a guest there), and a
# sandbox that cannot be built says why in one line with status 125.
source "$(dirname "$0")/../lib/tap.sh"
SB=$ISOLA_SRC/scripts/kvm-sandbox
ISOLA=$ISOLA_BUILD/isola
MINI=$ISOLA_BUILD/tests/vm/mini_guest
[ -x "$ISOLA" ] || skip_all "no isola binary at $ISOLA"
[ -n "${ISOLA_IN_KVM_SANDBOX:-}" ] && skip_all "already inside the KVM sandbox"
command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 is not installed"
OUT=$("$SB" --prepare 2>&1) || skip_all "the sandbox cannot be built here: $OUT"

T=$(mktemp -d "$ISOLA_BUILD/isola-kvmsb-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
"$MINI" "$T/kernel" elf64 poweroff
mkdir "$T/rw"
echo "host file" >"$T/ro-file"

# One boot for every inside check: each prints a line, the last sets the
# exit status.
OUT=$("$SB" --rw "$T/rw" -- bash -c '
	echo "inside: $(hostname) $PWD"
	[ -c /dev/kvm ] && echo "kvm: yes"
	echo "family: $(grep -m1 "^cpu family" /proc/cpuinfo | tr -dc 0-9)"
	"$1" vm run --kernel "$2/kernel" </dev/null; echo "isola exit: $?"
	echo written >"$2/rw/out"
	echo changed >"$2/ro-file" && echo "overlay write: ok"
	echo "to stderr" >&2
	exit 42' sandbox-test "$ISOLA" "$T" 2>&1)
RC=$?
check_eq "the command's exit status comes back" "$RC" 42
check_match "the command runs in the caller's directory" "$OUT" "inside: isola-sandbox $PWD"
check_match "/dev/kvm exists inside" "$OUT" "kvm: yes"
check_match "the outer CPU is an AMD family 0x17 (no K8 AGP probes in nested Linux boots)" \
	"$OUT" "family: 23"
check_match "isola boots a guest inside (it powers off: 0)" "$OUT" "isola mini guest"$'\n'"isola exit: 0"
check_match "stderr comes back too" "$OUT" "to stderr"
check_eq "--rw: what the command wrote is on the host" "$(cat "$T/rw/out" 2>&1)" written
check_match "the host root is writable inside" "$OUT" "overlay write: ok"
check_eq "... but the host's file is unchanged" "$(cat "$T/ro-file")" "host file"

OUT=$("$SB" -- grep -c ^processor /proc/cpuinfo 2>&1)
check_eq "a command that succeeds: 0; one vCPU by default" "$?:$OUT" "0:1"

# The watchdog: a console silent for longer than ISOLA_SANDBOX_HUNG is a
# hung outer guest (its heartbeat comes every 20 s, so 8 s trips it).
OUT=$(ISOLA_SANDBOX_HUNG=8 "$SB" -- sleep 120 2>&1)
RC=$?
check_eq "a silent console: exit 125" "$RC" 125
check_match "... with one line saying the outer guest hung" "$OUT" \
	"kvm-sandbox: the outer guest hung: its console was silent for 8s"
OUT=$(ISOLA_SANDBOX_TCG_THREAD=single "$SB" --cpus 2 -- grep -c ^processor /proc/cpuinfo 2>&1)
check_eq "--cpus 2 under one TCG thread (ISOLA_SANDBOX_TCG_THREAD=single)" "$?:$OUT" "0:2"

# No package archive and no cached kernel: one line, status 125.
empty=$(mktemp -d "$T/cache.XXXXXX")
OUT=$(ISOLA_KERNEL_CACHE=$empty unshare -n "$SB" -- true 2>&1)
RC=$?
check_eq "no package archive: exit 125" "$RC" 125
check_match "no package archive: one clear line" "$OUT" \
	"^kvm-sandbox: cannot build the sandbox: apt-get download linux-image-[^ ]+ failed \\(no network to the package archive\\?\\)"
check_eq "no package archive: one line only" "$(wc -l <<<"$OUT")" 1
check_eq "no QEMU left behind" "$(pgrep -f "isola-kvmsb" | wc -l)" 0
done_testing
