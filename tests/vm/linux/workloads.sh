#!/bin/busybox sh
# The workloads of `isola vm compare`, run unchanged in the full and para
# guests and on the host (the baseline): workloads.sh DEV SCALE [NET_HOST:PORT]
# DEV is a scratch block device (or file) of at least 8 MiB x SCALE that is
# overwritten. Each workload is bracketed by
#   ISOLA-BENCH-BEGIN <name>
#   ISOLA-BENCH-END <name> <amount> <unit>
# on stdout; the host times the interval between the two lines as they
# arrive (the guest's clock is not trusted) and samples KVM's counters.
dev=$1
scale=${2:-1}
net=${3:-}
bb=/bin/busybox
[ -x $bb ] || bb=busybox
begin() { echo "ISOLA-BENCH-BEGIN $1"; }
end() { echo "ISOLA-BENCH-END $1 $2 $3"; }

n=$((200000 * scale))
begin cpu
i=0
while [ $i -lt $n ]; do i=$((i + 1)); done
end cpu $n iterations

n=$((100000 * scale))
begin syscall
$bb dd if=/dev/zero of=/dev/null bs=1 count=$n 2>/dev/null
end syscall $((2 * n)) syscalls

n=$((200 * scale))
begin timer
i=0
while [ $i -lt $n ]; do $bb usleep 500; i=$((i + 1)); done
end timer $n sleeps

mib=$((8 * scale))
begin disk-seq-write
$bb dd if=/dev/zero of="$dev" bs=1M count=$mib oflag=direct conv=notrunc 2>/dev/null
end disk-seq-write $((mib * 1048576)) bytes

begin disk-seq-read
$bb dd if="$dev" of=/dev/null bs=1M count=$mib iflag=direct 2>/dev/null
end disk-seq-read $((mib * 1048576)) bytes

n=$((64 * scale))
blocks=$((mib * 256))
begin disk-rand-write
i=0
while [ $i -lt $n ]; do
	$bb dd if=/dev/zero of="$dev" bs=4k count=1 seek=$((RANDOM % blocks)) oflag=direct conv=notrunc 2>/dev/null
	i=$((i + 1))
done
end disk-rand-write $((n * 4096)) bytes

begin disk-rand-read
i=0
while [ $i -lt $n ]; do
	$bb dd if="$dev" of=/dev/null bs=4k count=1 skip=$((RANDOM % blocks)) iflag=direct 2>/dev/null
	i=$((i + 1))
done
end disk-rand-read $((n * 4096)) bytes

if [ -n "$net" ]; then
	mib=$((4 * scale))
	begin net-send
	$bb dd if=/dev/zero bs=64k count=$((mib * 16)) 2>/dev/null | $bb nc "${net%:*}" "${net#*:}"
	end net-send $((mib * 1048576)) bytes
fi
echo "ISOLA-BENCH-DONE"
