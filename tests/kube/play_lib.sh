# Set-up shared by the kube play tests (tests/kube/play*.sh). Source after
# tap.sh and bundle.sh: skips unless root with busybox-static and isola built;
# makes WORK (/tmp/isola-k2-NAME.XXXXXX) with ISOLA_ROOT inside, a busybox
# image k2busybox:latest imported from a root file system, and a copy of
# tests/kube/play_files; k2_cleanup (EXIT trap) removes every container,
# volume, the default network and WORK.
k2_init() {
	ISOLA=$ISOLA_BUILD/isola
	[ "$(id -u)" = 0 ] || skip_all "needs root (mounts, cgroups, namespaces)"
	[ -x /bin/busybox ] || skip_all "busybox-static (/bin/busybox) missing"
	[ -x "$ISOLA" ] && [ -x "$ISOLA_BUILD/isola-pause" ] || skip_all "build first ($ISOLA)"
	"$ISOLA" kube --help >/dev/null 2>&1 || skip_all "isola kube not built"
	WORK=$(mktemp -d "/tmp/isola-k2-$1.XXXXXX")
	export ISOLA_ROOT=$WORK/root
	unset ISOLA_RUNROOT
	make_busybox_rootfs "$WORK/rootfs"
	echo "app:x:1000:1000:app:/home/app:/bin/sh" >>"$WORK/rootfs/etc/passwd"
	tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" . &&
		"$ISOLA" import "$WORK/rootfs.tar" k2busybox:latest >/dev/null ||
		{ echo "Bail out! isola import of the busybox rootfs failed"; exit 1; }
	cp -r "$ISOLA_SRC/tests/kube/play_files" "$WORK/files"
	cd "$WORK/files" || exit 1
}

k2_cleanup() {
	local id
	cd / || return
	[ -d "$WORK/files/compose" ] && (cd "$WORK/files/compose" &&
		timeout 60 "$ISOLA" compose -p k2cp down -v >/dev/null 2>&1)
	for id in $("$ISOLA" ps -aq 2>/dev/null); do
		timeout 30 "$ISOLA" rm -f "$id" >/dev/null 2>&1
	done
	"$ISOLA" volume prune >/dev/null 2>&1
	"$ISOLA" network rm isola >/dev/null 2>&1
	grep -o " $WORK[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$WORK"
}

# ik ARGS...: isola kube with a timeout.
ik() { timeout 120 "$ISOLA" kube "$@"; }
ikq() { ik "$@" >/dev/null 2>&1; }

# names: the container names, sorted, on one line.
names() { "$ISOLA" ps -a 2>/dev/null | awk 'NR > 1 {print $NF}' | sort | tr '\n' ' '; }

# vols: the volume names, sorted, on one line.
vols() { "$ISOLA" volume ls 2>/dev/null | awk 'NR > 1 {print $2}' | sort | tr '\n' ' '; }

# nothing_left: no container, volume, pod directory, netns file or DNAT
# rule for our ports (28000-28999) remains.
nothing_left() {
	[ -z "$("$ISOLA" ps -aq 2>/dev/null)" ] &&
		[ -z "$(vols)" ] &&
		[ -z "$(ls -A "$ISOLA_ROOT/kube/pods" 2>/dev/null)" ] &&
		[ -z "$(ls -A "$ISOLA_ROOT/run/netns" 2>/dev/null)" ] &&
		! nft list ruleset 2>/dev/null | grep -q 'dport 28[0-9][0-9][0-9]' &&
		! pgrep -f "isola-monitor.*$ISOLA_ROOT" >/dev/null
}
