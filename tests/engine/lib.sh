# Shared set-up for the engine integration tests. Source after tap.sh and
# bundle.sh: an ISOLA_ROOT in a temp dir, a busybox rootfs, and (when the
# image verbs are built) a busybox image; cleanup on exit.
[ "$(id -u)" = 0 ] || skip_all "needs root (mounts, cgroups, namespaces)"
ISOLA=$ISOLA_BUILD/isola
[ -x "$ISOLA" ] && [ -x "$ISOLA_BUILD/isola-monitor" ] || skip_all "build first ($ISOLA)"

ENG_TMP=$(mktemp -d /tmp/isola-engine-test.XXXXXX)
export ISOLA_ROOT=$ENG_TMP/root
unset ISOLA_RUNROOT

eng_cleanup() {
	local id
	for id in $("$ISOLA" ps -aq 2>/dev/null); do
		"$ISOLA" rm -f "$id" >/dev/null 2>&1
	done
	"$ISOLA" volume prune >/dev/null 2>&1
	# anything a failed test left mounted below the root
	grep -o " $ENG_TMP[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	# --rm directories are deleted by their monitors in the background
	local i
	for i in $(seq 50); do
		compgen -G "$ISOLA_ROOT/tmp/rm-*" >/dev/null || break
		sleep 0.1
	done
	rm -rf "$ENG_TMP"
}
trap eng_cleanup EXIT

ROOTFS=$ENG_TMP/rootfs
make_busybox_rootfs "$ROOTFS"
echo "nobody:x:65534:65534:nobody:/nonexistent:/bin/sh" >>"$ROOTFS/etc/passwd"
echo "app:x:1000:1000:app:/home/app:/bin/sh" >>"$ROOTFS/etc/passwd"
echo "app:x:1000:" >>"$ROOTFS/etc/group"
echo "extra:x:2000:app" >>"$ROOTFS/etc/group"
mkdir -p "$ROOTFS/home/app"

# IMG: what `run` takes for the busybox root file system: an imported image
# when the image verbs exist, else --rootfs DIR.
IMG_NAME=localhost/engtest-busybox:latest
if tar -C "$ROOTFS" -cf "$ENG_TMP/rootfs.tar" . &&
	"$ISOLA" import "$ENG_TMP/rootfs.tar" "$IMG_NAME" >/dev/null 2>&1; then
	HAVE_IMAGES=1
	IMG=("$IMG_NAME")
else
	HAVE_IMAGES=0
	IMG=(--rootfs "$ROOTFS")
fi

# no_leftovers ID: nothing of the container remains.
no_leftovers() {
	local id=$1
	! grep -q "$id" /proc/self/mountinfo &&
		! ls -d /sys/fs/cgroup/*/isola/"$id" /sys/fs/cgroup/isola/"$id" >/dev/null 2>&1 &&
		! pgrep -f "isola-monitor id=$id" >/dev/null &&
		[ ! -e "$ISOLA_ROOT/containers/$id" ] &&
		[ ! -e "$ISOLA_ROOT/run/ctr/$id" ] &&
		! "$ISOLA" ps -aq --no-trunc 2>/dev/null | grep -q "${id:0:12}"
}

# full_id NAME: the 64-hex id of a container.
full_id() {
	"$ISOLA" container-inspect "$1" | jq -r '.[0].Id'
}
