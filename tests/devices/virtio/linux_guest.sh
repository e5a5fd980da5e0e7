#!/bin/bash
# A real Linux guest drives the virtio devices with its stock drivers
# (virtio_pci modern, virtio_blk, virtio_console, virtio-rng): the guest
# reads and writes a disk image, reads entropy and reports over the virtio
# console. The kernel and its modules come from a Debian linux-image .deb:
# $ISOLA_KERNEL_DEB, or the first one in $ISOLA_BUILD/kernel-cache or
# build-vmm/kernel-cache.
source "$(dirname "$0")/../../lib/tap.sh"

ISOLA=${ISOLA_BUILD:?}/isola
src_root=$(cd "$(dirname "$0")/../../.." && pwd)
deb=${ISOLA_KERNEL_DEB:-}
for d in "$ISOLA_BUILD/kernel-cache" "$src_root/build-vmm/kernel-cache"; do
        [ -n "$deb" ] && break
        deb=$(ls "$d"/linux-image-*.deb 2>/dev/null | head -n1)
done
[ -n "$deb" ] && [ -f "$deb" ] || skip_all "no Debian linux-image .deb (set ISOLA_KERNEL_DEB)"
[ -c /dev/kvm ] || skip_all "no /dev/kvm"
# A Linux boot needs guest code at hardware speed; nested hosts that
# emulate every instruction would take far longer than the timeout.
mini=$ISOLA_BUILD/tests/vm/mini_guest
if [ -x "$mini" ]; then
        loop=$(mktemp /tmp/isola-virtio-loop.XXXXXX)
        "$mini" "$loop" elf64 loop
        start=$(date +%s%N)
        "$ISOLA" vm run --kernel "$loop" </dev/null >/dev/null 2>&1
        ms=$((($(date +%s%N) - start) / 1000000))
        rm -f "$loop"
        [ "$ms" -le 1000 ] || skip_all "guest code is emulated here (2M instructions took ${ms} ms)"
fi
busybox=$(command -v busybox)
[ -n "$busybox" ] && ldd "$busybox" 2>&1 | grep -q 'not a dynamic' || skip_all "no static busybox"

work=$(mktemp -d /tmp/isola-virtio-linux.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/deb" "$work/root/bin" "$work/root/lib" "$work/root/proc" "$work/root/sys" \
        "$work/root/dev"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/deb" --wildcards './boot/vmlinuz-*' \
        './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/virtio_blk.ko' \
        './lib/modules/*/kernel/drivers/char/*' ||
        skip_all "cannot unpack $deb"
kernel=$(ls "$work"/deb/boot/vmlinuz-* | head -n1)
for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
        virtio_console virtio-rng; do
        find "$work/deb/lib/modules" -name "$m.ko" -exec cp {} "$work/root/lib/" \;
done
cp "$busybox" "$work/root/bin/busybox"
cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
        virtio_console virtio-rng; do
        insmod /lib/$m.ko 2>/dev/null
done
sleep 1
out=/dev/hvc0
[ -e $out ] || out=/dev/ttyS0
{
        echo "VIRTIO-DEVICES $(cat /sys/bus/virtio/devices/*/device 2>/dev/null | tr '\n' ' ')"
        echo "VDA-SIZE $(cat /sys/block/vda/size 2>/dev/null)"
        echo "VDA-SECTOR5 $(dd if=/dev/vda bs=512 skip=5 count=1 2>/dev/null | md5sum | cut -d' ' -f1)"
        echo guest-wrote-this | dd of=/dev/vda bs=512 seek=7 conv=sync,fsync 2>/dev/null && echo "VDA-WRITE ok"
        echo "RNG $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null) $(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)"
        echo "VIRTIO-DONE"
} >$out 2>&1
sync
poweroff -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd")

# 64 sectors, sector s filled with byte s.
python3 -c "
import sys
sys.stdout.buffer.write(b''.join(bytes([s]) * 512 for s in range(64)))" >"$work/disk.img"
want5=$(dd if="$work/disk.img" bs=512 skip=5 count=1 2>/dev/null | md5sum | cut -d' ' -f1)

timeout 900 "$ISOLA" vm run --kernel "$kernel" --initrd "$work/initrd" \
        --memory 256 --cmdline "console=ttyS0 quiet" --disk "$work/disk.img,bus=virtio" --rng \
        --console virtio --console-log "$work/console.log" >"$work/stdout" 2>"$work/stderr"
rc=$?
out=$(cat "$work/console.log" "$work/stdout" 2>/dev/null)
check_eq "guest powered off cleanly" "$rc" 0
check_match "Linux bound virtio-blk (device 2)" "$out" "VIRTIO-DEVICES.*0x0002"
check_match "Linux bound virtio-console (device 3)" "$out" "VIRTIO-DEVICES.*0x0003"
check_match "Linux bound virtio-rng (device 4)" "$out" "VIRTIO-DEVICES.*0x0004"
check_match "vda has 64 sectors" "$out" "VDA-SIZE 64"
check_match "guest read sector 5 intact" "$out" "VDA-SECTOR5 $want5"
check_match "guest write reached the image" "$(dd if="$work/disk.img" bs=512 skip=7 count=1 2>/dev/null)" "guest-wrote-this"
check_match "guest read 16 bytes from virtio-rng" "$out" "RNG virtio_rng.* 16"
[ "$rc" = 0 ] || sed 's/^/# /' "$work/stderr" "$work/console.log" | tail -20
done_testing
