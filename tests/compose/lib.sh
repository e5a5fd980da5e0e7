# Set-up shared by the compose integration tests. Source after tap.sh.
#
# cmp_init NAME: skips the file unless we are root with busybox-static and
# the engine verbs built; makes WORK (a fresh /tmp/isola-cmp-NAME.XXXXXX),
# ISOLA_ROOT inside it, a busybox image `cmpbusybox` imported from a root
# file system tarball, and a copy of tests/compose/files in $WORK/files.
# cmp_cleanup (EXIT trap) takes every project of the test down and removes
# WORK; it also stops podman-compose projects recorded by cmp_podman_project.
cmp_init() {
	ISOLA=$ISOLA_BUILD/isola
	[ "$(id -u)" = 0 ] || skip_all "needs root"
	[ -x /bin/busybox ] || skip_all "busybox-static (/bin/busybox) missing"
	[ -x "$ISOLA" ] || skip_all "$ISOLA not built"
	"$ISOLA" compose --help >/dev/null 2>&1 || skip_all "isola compose not built"
	"$ISOLA" run --help 2>&1 | grep -q "unknown command" && skip_all "the engine verbs (isola run) are not built"
	WORK=$(mktemp -d "/tmp/isola-cmp-$1.XXXXXX")
	export ISOLA_ROOT=$WORK/root
	CMP_PROJECTS=()
	CMP_PODMAN_PROJECTS=()
	local rootfs=$WORK/rootfs
	mkdir -p "$rootfs"/{bin,etc,tmp,data,proc,sys,dev,www}
	chmod 1777 "$rootfs/tmp"
	cp /bin/busybox "$rootfs/bin/"
	for a in $(/bin/busybox --list); do
		[ -e "$rootfs/bin/$a" ] || ln -s busybox "$rootfs/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
	tar -C "$rootfs" -cf "$WORK/rootfs.tar" .
	"$ISOLA" import "$WORK/rootfs.tar" cmpbusybox:latest >/dev/null ||
		{ echo "Bail out! isola import of the busybox rootfs failed"; exit 1; }
	cp -r "$ISOLA_SRC/tests/compose/files" "$WORK/files"
}

# ic [ARGS...]: isola compose with a timeout, in the current directory.
ic() { timeout 120 "$ISOLA" compose "$@"; }

# cmp_project NAME: remember a project for cleanup (run from its directory).
cmp_project() { CMP_PROJECTS+=("$PWD|$1"); }

cmp_cleanup() {
	local e
	for e in "${CMP_PROJECTS[@]}"; do
		(cd "${e%%|*}" && timeout 60 "$ISOLA" compose -p "${e##*|}" down -v -t 1 >/dev/null 2>&1)
	done
	for e in "${CMP_PODMAN_PROJECTS[@]}"; do
		(cd "${e%%|*}" && timeout 120 podman-compose "${PC_ARGS[@]}" -p "${e##*|}" down \
			>/dev/null 2>&1)
	done
	[ -n "${PODMAN_ROOT:-}" ] && timeout 60 podman --root "$PODMAN_ROOT" \
		--runroot "$PODMAN_RUNROOT" volume prune -f >/dev/null 2>&1
	# podman's networks are host-wide (/etc/containers/networks): only ours
	for e in "${CMP_PODMAN_PROJECTS[@]}"; do
		timeout 60 podman network rm -f "${e##*|}_default" >/dev/null 2>&1
	done
	[ -n "${PODMAN_ROOT:-}" ] && umount -R "$PODMAN_ROOT/overlay" 2>/dev/null
	[ -n "${WORK:-}" ] && rm -rf "$WORK"
}

# cmp_bridge_ok: the engine attaches containers to bridge networks
# (networking is its own component; compose needs it for ports and names).
cmp_bridge_ok() {
	timeout 30 "$ISOLA" network create cmpprobe >/dev/null 2>&1
	local ok=1
	timeout 30 "$ISOLA" run --rm --network cmpprobe cmpbusybox true >/dev/null 2>&1 && ok=0
	timeout 30 "$ISOLA" network rm cmpprobe >/dev/null 2>&1
	return $ok
}

# cmp_podman_init: podman-compose against podman with a private storage
# under WORK, runc, and this host's ulimits (PC_ARGS for every call).
cmp_podman_init() {
	command -v podman-compose >/dev/null || return 1
	command -v podman >/dev/null || return 1
	PODMAN_ROOT=$WORK/podman/root
	PODMAN_RUNROOT=$WORK/podman/run
	PC_ARGS=(--podman-args "--root $PODMAN_ROOT --runroot $PODMAN_RUNROOT --runtime runc"
		--podman-run-args "--ulimit nofile=20000:20000 --ulimit nproc=32768:32768")
	podman --root "$PODMAN_ROOT" --runroot "$PODMAN_RUNROOT" import "$WORK/rootfs.tar" \
		localhost/cmpbusybox:latest >/dev/null 2>&1
}
pc() { timeout 180 podman-compose "${PC_ARGS[@]}" "$@"; }
pm() { timeout 60 podman --root "$PODMAN_ROOT" --runroot "$PODMAN_RUNROOT" --runtime runc "$@"; }
cmp_podman_project() { CMP_PODMAN_PROJECTS+=("$PWD|$1"); }
