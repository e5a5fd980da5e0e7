# The guest of `isola vm compare`, shared by tests/vm/compare.sh and
# bench/vm-compare: Debian's kernel (tests/vm/lib/debian_kernel.sh, the same
# cache as the kernel suite) and an initramfs of busybox-static, the disk
# and NIC drivers, tests/vm/linux/compare-init as /init and workloads.sh.
# Source after debian_kernel.sh; ci_build DIR -> DIR/initramfs.gz, or 1 with
# CI_ERROR.
ci_build() {
	local dir=$1 r=$1/initramfs mods ko
	CI_ERROR=""
	[[ $(ldd "$(command -v busybox)" 2>&1) == *"not a dynamic"* ]] || { CI_ERROR="needs busybox-static"; return 1; }
	command -v cpio >/dev/null || { CI_ERROR="cpio is not installed"; return 1; }
	dk_fetch || { CI_ERROR="cannot fetch Debian's kernel: $DK_ERROR"; return 1; }
	mods=$(dk_modules ata_piix sd_mod virtio_pci virtio_blk virtio_net) || { CI_ERROR="the kernel lacks a disk or NIC driver module"; return 1; }
	rm -rf "$r"
	mkdir -p "$r/bin" "$r/lib/modules" "$r/proc" "$r/sys" "$r/dev"
	cp "$(command -v busybox)" "$r/bin/busybox"
	cp "$ISOLA_SRC/tests/vm/linux/compare-init" "$r/init"
	cp "$ISOLA_SRC/tests/vm/linux/workloads.sh" "$r/workloads.sh"
	for ko in $mods; do
		cp "$ko" "$r/lib/modules/"
		echo "${ko##*/}" >>"$r/modules"
	done
	(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initramfs.gz"
}
