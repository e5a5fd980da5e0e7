# Helpers for the image store tests: a private store and podman storage in
# a temp dir, a multi-layer image built with umoci from the busybox rootfs.
# Source after tap.sh and bundle.sh.

# store_test_init NAME: $W (work dir), $ISOLA_ROOT, $I (isola), $P (podman
# with private storage, vfs so nothing is mounted).
store_test_init() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root (layer owners, whiteouts)"
	[ -x "$ISOLA_BUILD/isola" ] || skip_all "no $ISOLA_BUILD/isola"
	command -v jq >/dev/null || skip_all "jq missing"
	command -v sqlite3 >/dev/null || skip_all "sqlite3 missing"
	W=$(mktemp -d "/tmp/isola-img-$1-XXXXXX")
	export ISOLA_ROOT=$W/root
	export ISOLA_RUNROOT=$W/run
	I=$ISOLA_BUILD/isola
	P=(podman --root "$W/podman" --runroot "$W/podman-run" --storage-driver vfs
	   --cgroup-manager cgroupfs --events-backend none)
	trap store_test_cleanup EXIT
}

store_test_cleanup() {
	if mountpoint -q "$W/mnt" 2>/dev/null; then umount "$W/mnt"; fi
	rm -rf "$W"
}

# store_state: a digest of everything the store holds (files and rows).
store_state() {
	(cd "$ISOLA_ROOT" && find blobs layers tmp -printf '%p %s\n' 2>/dev/null | sort
	 sqlite3 "$ISOLA_ROOT/isola.db" 'SELECT * FROM images ORDER BY id;
		SELECT * FROM image_names ORDER BY name; SELECT * FROM image_layers ORDER BY 1, 2;
		SELECT diff_id, size FROM layers ORDER BY 1') | sha256sum
}

# blob_add LAYOUT FILE: puts FILE into LAYOUT's blobs, prints its digest.
blob_add() {
	local d
	d=$(sha256sum "$2" | cut -d' ' -f1)
	cp "$2" "$1/blobs/sha256/$d"
	echo "sha256:$d"
}

# build_layout DIR: an OCI layout with
#   v2:    2 gzip layers (busybox + /etc/victim; then /etc/victim deleted
#          (a whiteout) and /hello added), Cmd /bin/sh
#   mixed: the same layers, the second one zstd-compressed
#   multi: an index for linux/arm64 (v1) and linux/amd64 (v2)
build_layout() {
	local d=$1 b
	b=$W/bundles
	mkdir -p "$b"
	umoci init --layout "$d" && umoci new --image "$d:v1" &&
		umoci unpack --image "$d:v1" "$b/1" >/dev/null || return 1
	make_busybox_rootfs "$b/1/rootfs"
	echo victim >"$b/1/rootfs/etc/victim"
	umoci repack --image "$d:v1" "$b/1" >/dev/null &&
		umoci config --image "$d:v1" --config.cmd /bin/sh --config.env PATH=/bin \
			--history.created_by "busybox rootfs" >/dev/null &&
		umoci unpack --image "$d:v1" "$b/2" >/dev/null || return 1
	rm "$b/2/rootfs/etc/victim"
	echo hello >"$b/2/rootfs/hello"
	umoci repack --image "$d:v2" --history.created_by "rm victim, add hello" "$b/2" >/dev/null ||
		return 1
	# mixed: recompress the top layer with zstd
	local man v2 top z zd zs m
	v2=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v2") | .digest' "$d/index.json")
	man=$d/blobs/sha256/${v2#sha256:}
	top=$(jq -r '.layers[1].digest' "$man")
	z=$W/top.tar.zst
	gzip -dc "$d/blobs/sha256/${top#sha256:}" | zstd -q -o "$z" || return 1
	zd=$(blob_add "$d" "$z")
	zs=$(stat -c %s "$z")
	# (with a label, so it is another image: ids are config digests)
	local cfg cd
	cfg=$(jq -r '.config.digest' "$man")
	jq '.config.Labels = {"variant": "zstd"}' "$d/blobs/sha256/${cfg#sha256:}" >"$W/mixed-config.json"
	cd=$(blob_add "$d" "$W/mixed-config.json")
	jq --arg d "$zd" --argjson s "$zs" --arg c "$cd" --argjson cs "$(stat -c %s "$W/mixed-config.json")" \
		'.layers[1] = {mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: $d, size: $s}
		| .config.digest = $c | .config.size = $cs' \
		"$man" >"$W/mixed.json"
	m=$(blob_add "$d" "$W/mixed.json")
	# multi: an index (linux/arm64 -> v1, linux/amd64 -> v2)
	local v1 idx
	v1=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$d/index.json")
	jq -n --arg a "$v1" --arg b "$v2" --argjson sa "$(stat -c %s "$d/blobs/sha256/${v1#sha256:}")" \
		--argjson sb "$(stat -c %s "$man")" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
		{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $sa,
		 platform: {os: "linux", architecture: "arm64"}},
		{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $sb,
		 platform: {os: "linux", architecture: "amd64"}}]}' >"$W/multi.json"
	idx=$(blob_add "$d" "$W/multi.json")
	jq --arg m "$m" --argjson ms "$(stat -c %s "$W/mixed.json")" \
		--arg i "$idx" --argjson is "$(stat -c %s "$W/multi.json")" \
		'.manifests += [
		{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
		 annotations: {"org.opencontainers.image.ref.name": "mixed"}},
		{mediaType: "application/vnd.oci.image.index.v1+json", digest: $i, size: $is,
		 annotations: {"org.opencontainers.image.ref.name": "multi"}}]' \
		"$d/index.json" >"$W/index.json" && mv "$W/index.json" "$d/index.json"
}

# layer_dirs NAME: the image's unpacked layer directories, bottom first.
layer_dirs() {
	"$I" image inspect "$1" | jq -r '.[0].GraphDriver.Data.LowerDir' | tr ':' '\n' | tac
}

# rootfs_sees NAME: mounts the image's layers read-only on $W/mnt (overlayfs,
# as a container sees them).
mount_image() {
	mkdir -p "$W/mnt"
	mount -t overlay overlay -o "lowerdir=$("$I" image inspect "$1" | jq -r '.[0].GraphDriver.Data.LowerDir')" "$W/mnt"
}

# store_consistent: every row names what exists (the invariant a killed
# command must keep): layers rows have their dirs, images their blobs and
# layers. Prints what is wrong.
store_consistent() {
	local db=$ISOLA_ROOT/isola.db bad=0 d
	for d in $(sqlite3 "$db" 'SELECT diff_id FROM layers'); do
		[ -d "$ISOLA_ROOT/layers/${d#sha256:}" ] || { echo "layer row without dir: $d"; bad=1; }
	done
	for d in $(sqlite3 "$db" 'SELECT id FROM images UNION SELECT manifest_digest FROM images
			UNION SELECT blob_digest FROM image_layers'); do
		[ -f "$ISOLA_ROOT/blobs/sha256/${d#sha256:}" ] || { echo "row without blob: $d"; bad=1; }
	done
	for d in $(sqlite3 "$db" 'SELECT diff_id FROM image_layers EXCEPT SELECT diff_id FROM layers'); do
		echo "image layer without a layers row: $d"; bad=1
	done
	return $bad
}
