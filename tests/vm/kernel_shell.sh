# Sourced by kernel.sh where guest code runs at hardware speed: boots the
# cloud kernel with a busybox initramfs to a shell that loads the virtio
# modules, reads the virtio-blk disk, looks at the virtio-net NIC and powers
# off through ACPI. Uses T, CACHE, DEB, KVER, VMLINUX, ISOLA from kernel.sh.
BUSYBOX=$(command -v busybox)
if [ -z "$BUSYBOX" ] || ! command -v cpio >/dev/null || ! ldd "$BUSYBOX" 2>&1 | grep -q "not a dynamic"; then
	skip "busybox shell boot: needs busybox-static and cpio"
	return 0
fi
MODDIR=$CACHE/lib/modules/$KVER/kernel
[ -d "$MODDIR/drivers/virtio" ] ||
	dpkg-deb --fsys-tarfile "$DEB" | tar -C "$CACHE" -x --wildcards \
		'./lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/virtio_blk.ko' \
		'./lib/modules/*/kernel/drivers/net/virtio_net.ko' './lib/modules/*/kernel/drivers/net/net_failover.ko' \
		'./lib/modules/*/kernel/net/core/failover.ko'

R=$T/initramfs
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/lib/modules"
cp "$BUSYBOX" "$R/bin/busybox"
for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_pci_modern_dev \
	drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk \
	net/core/failover drivers/net/net_failover drivers/net/virtio_net; do
	[ -f "$MODDIR/$m.ko" ] && cp "$MODDIR/$m.ko" "$R/lib/modules/"
done
cat >"$R/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
	failover net_failover virtio_net; do
	[ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
sleep 1
echo "ISOLA-SHELL-UP"
echo "VDA-DATA $(head -c 12 /dev/vda)"
echo "ETH0 $(cat /sys/class/net/eth0/address)"
poweroff -f
INIT
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$T/initramfs.gz"
printf 'ISOLA-DISK-1' >"$T/disk.img"
truncate -s 1M "$T/disk.img"
TAP=isola$$
timeout 300 "$ISOLA" vm run --kernel "$VMLINUX" --initrd "$T/initramfs.gz" --memory 256 \
	--cmdline "console=ttyS0 quiet" --disk "$T/disk.img,ro" \
	--net "tap=$TAP,mac=52:54:00:12:34:56" --console-log "$T/shell.log" </dev/null >/dev/null 2>&1
RC=$?
check_eq "busybox shell: powers off through ACPI (exit 0)" "$RC" 0
check_line "busybox shell: init ran" "$T/shell.log" "ISOLA-SHELL-UP"
check_line "busybox shell: virtio-blk disk readable" "$T/shell.log" "VDA-DATA ISOLA-DISK-1"
check_line "busybox shell: virtio-net NIC with our MAC" "$T/shell.log" "ETH0 52:54:00:12:34:56"
check "busybox shell: TAP interface gone after exit" bash -c "! ip link show $TAP 2>/dev/null"
