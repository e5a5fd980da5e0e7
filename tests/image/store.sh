#!/bin/bash
# The image store through the isola CLI with real peers: an image built with
# umoci (gzip, zstd, whiteouts, an index) goes through skopeo into
# oci-archive/docker-archive files and `isola load`; `isola save` output is
# read by skopeo and loaded and run by podman; podman's own archives load
# into isola; import, tag, rmi and prune leave nothing behind.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/store_lib.sh"

store_test_init store
for t in umoci skopeo zstd; do
	command -v $t >/dev/null || skip_all "$t missing"
done

build_layout "$W/oci" || { echo "Bail out! building the OCI layout with umoci failed"; exit 1; }
ok "umoci built a two-layer image, a zstd variant and an index"

# --- skopeo archives -> isola load
skopeo copy -q oci:"$W/oci":v2 oci-archive:"$W/v2-oci.tar":localhost/test/v2:oci >/dev/null &&
	skopeo copy -q oci:"$W/oci":v2 docker-archive:"$W/v2-docker.tar":localhost/test/v2:docker >/dev/null
check_eq "skopeo wrote oci-archive and docker-archive" "$?" 0

OUT=$("$I" load -i "$W/v2-oci.tar" 2>&1)
check_eq "load oci-archive" "$OUT" "Loaded image: localhost/test/v2:oci"
OUT=$("$I" load -i "$W/v2-docker.tar" 2>&1)
check_eq "load docker-archive" "$OUT" "Loaded image: localhost/test/v2:docker"
check_match "images lists both" "$("$I" images)" "localhost/test/v2 +oci .*localhost/test/v2 +docker|localhost/test/v2 +docker .*localhost/test/v2 +oci"
JSON=$("$I" images --format json)
check_eq "images --format json" "$(jq -r '[.[].RepoTags[]] | sort | join(",")' <<<"$JSON")" \
	"localhost/test/v2:docker,localhost/test/v2:oci"
check_eq "images -q prints 12-hex ids" "$("$I" images -q | grep -cE '^[0-9a-f]{12}$')" "$(jq length <<<"$JSON")"

INS=$("$I" image inspect localhost/test/v2:oci)
check_eq "inspect: two layers in RootFS" "$(jq '.[0].RootFS.Layers | length' <<<"$INS")" 2
check_eq "inspect: Config.Cmd" "$(jq -c '.[0].Config.Cmd' <<<"$INS")" '["/bin/sh"]'
check_match "inspect: Digest" "$(jq -r '.[0].Digest' <<<"$INS")" '^sha256:[0-9a-f]{64}$'
check_eq "inspect: RepoTags (both archives hold one image: ids are config digests)" \
	"$(jq -c '.[0].RepoTags' <<<"$INS")" '["localhost/test/v2:docker","localhost/test/v2:oci"]'
check_eq "inspect: Os/Architecture" "$(jq -r '.[0].Os + "/" + .[0].Architecture' <<<"$INS")" "linux/amd64"
check_match "history shows the layers' commands" "$("$I" history localhost/test/v2:oci)" "rm victim, add hello.*busybox rootfs"

check_eq "one unpacked directory per layer" "$(ls "$ISOLA_ROOT/layers" | wc -l)" 2

# The whiteout: the top layer has a 0/0 char device for /etc/victim, and the
# overlay of the layers (what a container sees) has no /etc/victim.
TOP=$(layer_dirs localhost/test/v2:oci | tail -1)
check_eq "top layer: /etc/victim is an overlay whiteout" "$(stat -c '%F %t:%T' "$TOP/etc/victim")" \
	"character special file 0:0"
if mount_image localhost/test/v2:oci; then
	check "overlay of the layers: /etc/victim deleted" test ! -e "$W/mnt/etc/victim"
	check_eq "overlay of the layers: /hello added" "$(cat "$W/mnt/hello")" hello
	check "overlay of the layers: busybox runs" chroot "$W/mnt" /bin/true
	umount "$W/mnt"
else
	skip "overlayfs mount failed"
	skip "overlayfs mount failed"
	skip "overlayfs mount failed"
fi

# --- zstd and an index
skopeo copy -q oci:"$W/oci":mixed oci-archive:"$W/mixed.tar":localhost/test/mixed:1 >/dev/null
check_eq "load an image with a zstd layer" "$("$I" load -i "$W/mixed.tar" 2>&1)" \
	"Loaded image: localhost/test/mixed:1"
check_eq "zstd image is another image" "$("$I" images -q | sort -u | wc -l)" 2
check_eq "zstd image shares the layer dirs (same diff ids)" "$(ls "$ISOLA_ROOT/layers" | wc -l)" 2
check_eq "same layer dirs for both images" "$(layer_dirs localhost/test/v2:oci)" \
	"$(layer_dirs localhost/test/mixed:1)"
check_eq "zstd layer: media type kept" \
	"$(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT media_type FROM image_layers WHERE idx = 1 AND image_id IN (SELECT image_id FROM image_names WHERE name = 'localhost/test/mixed:1')")" \
	"application/vnd.oci.image.layer.v1.tar+zstd"
(cd "$W/oci" && tar cf "$W/layout.tar" oci-layout index.json blobs)
"$I" load -i "$W/layout.tar" >"$W/out" 2>&1
check_eq "load an OCI layout whose tags are bare (no names)" "$?" 0
check_eq "an index entry is loaded for the host platform (amd64 = v2)" \
	"$(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT COUNT(*) FROM images WHERE manifest_digest = '$(jq -r '.manifests[1].digest' "$W/multi.json")'")" 1

# --- isola save -> skopeo, podman
"$I" tag localhost/test/v2:oci localhost/test/saved:1
check_eq "tag" "$("$I" images --format json | jq -r '[.[].RepoTags[]] | map(select(. == "localhost/test/saved:1")) | length')" 1
"$I" save -o "$W/s-oci.tar" --format oci-archive localhost/test/saved:1 &&
	"$I" save -o "$W/s-docker.tar" localhost/test/saved:1
check_eq "save both formats" "$?" 0
check_eq "skopeo inspect oci-archive of isola save" \
	"$(skopeo inspect oci-archive:"$W/s-oci.tar" | jq '.Layers | length')" 2
check_eq "skopeo inspect docker-archive of isola save" \
	"$(skopeo inspect docker-archive:"$W/s-docker.tar" | jq '.Layers | length')" 2
check_eq "docker-archive names the image as docker save does" \
	"$(tar xOf "$W/s-docker.tar" manifest.json | jq -c '.[0].RepoTags')" '["localhost/test/saved:1"]'
if command -v podman >/dev/null; then
	for f in oci docker; do
		OUT=$("${P[@]}" load -i "$W/s-$f.tar" 2>&1)
		check_match "podman load of isola save ($f-archive)" "$OUT" "Loaded image.*localhost/test/saved:1"
	done
	OUT=$(timeout 120 "${P[@]}" run --rm --runtime runc --network none \
		--ulimit nofile=20000:20000 --ulimit nproc=32768:32768 localhost/test/saved:1 \
		/bin/sh -c 'echo hi; test -e /etc/victim || echo no-victim' 2>&1)
	check_eq "podman run of the saved image" "$OUT" $'hi\nno-victim'
	# podman save -> isola load
	"${P[@]}" tag localhost/test/saved:1 localhost/from/podman:1
	"${P[@]}" save -o "$W/p-docker.tar" localhost/from/podman:1 >/dev/null 2>&1 &&
		"${P[@]}" save --format oci-archive -o "$W/p-oci.tar" localhost/from/podman:1 >/dev/null 2>&1
	check_eq "podman save" "$?" 0
	check_eq "isola load of podman's docker-archive" "$("$I" load -i "$W/p-docker.tar" 2>&1)" \
		"Loaded image: localhost/from/podman:1"
	check_eq "isola load of podman's oci-archive" "$("$I" load -i "$W/p-oci.tar" 2>&1)" \
		"Loaded image: localhost/from/podman:1"
	check_eq "podman's images reuse the layers" "$(ls "$ISOLA_ROOT/layers" | wc -l)" 2
	check_eq "isola run of podman's image" \
		"$(timeout 60 "$I" run --rm localhost/from/podman:1 /bin/sh -c 'echo hi; test -e /etc/victim || echo no-victim' 2>&1)" \
		$'hi\nno-victim'
else
	skip "podman missing"
fi

# --- import
make_busybox_rootfs "$W/rootfs"
tar -C "$W/rootfs" -czf "$W/rootfs.tgz" .
ID=$("$I" import "$W/rootfs.tgz" localhost/imported:1)
check_match "import prints the id" "$ID" '^[0-9a-f]{64}$'
check_eq "imported image has one layer" \
	"$("$I" image inspect localhost/imported:1 | jq '.[0].RootFS.Layers | length')" 1
check_match "history of an import" "$("$I" history localhost/imported:1)" "isola import rootfs.tgz"

# --- rmi, prune: nothing left behind
"$I" tag localhost/imported:1 localhost/imported:2
OUT=$("$I" rmi localhost/imported:1)
check_eq "rmi of one of two names untags" "$OUT" "Untagged: localhost/imported:1"
check_match "the image keeps its other name" "$("$I" images)" "localhost/imported +2"
OUT=$("$I" rmi localhost/imported:2)
check_eq "rmi of the last name deletes" "$OUT" "Deleted: $ID"

# In use by a container (a row of the engine's table): refused without -f.
IMGID=$(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT image_id FROM image_names WHERE name = 'localhost/test/saved:1'")
for n in $(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT name FROM image_names WHERE image_id = '$IMGID' AND name != 'localhost/test/saved:1'"); do
	"$I" rmi "$n" >/dev/null
done
sqlite3 "$ISOLA_ROOT/isola.db" "INSERT INTO containers (id, name, image_id, config, state, created)
	VALUES ('$(printf 'c%.0s' {1..64})', 'imgtest-user', '$IMGID', '{}', 'exited', 0)"
BEFORE=$(store_state)
OUT=$("$I" rmi localhost/test/saved:1 2>&1)
RC=$?
check_eq "rmi of an image in use: exit 2" "$RC" 2
check_match "rmi of an image in use: message" "$OUT" "isola rmi: image 'localhost/test/saved:1': in use by 1 container"
check_eq "rmi of an image in use: store unchanged" "$(store_state)" "$BEFORE"
"$I" rmi -f localhost/test/saved:1 >/dev/null
check_eq "rmi -f of an image in use: names gone, image kept" \
	"$(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT COUNT(*) FROM images WHERE id = '$IMGID'")" 1
"$I" image prune >/dev/null
check_eq "prune keeps an image a container uses" \
	"$(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT COUNT(*) FROM images WHERE id = '$IMGID'")" 1
sqlite3 "$ISOLA_ROOT/isola.db" "DELETE FROM containers WHERE name = 'imgtest-user'"

for n in $("$I" images --format json | jq -r '.[].Id'); do "$I" rmi -f "$n" >/dev/null; done
OUT=$("$I" image prune)
check_match "image prune reports what it freed" "$OUT" "Total reclaimed space: [0-9.]+ [kMG]?B"
check_eq "no images left" "$("$I" images -q)" ""
check_eq "no blobs left" "$(ls "$ISOLA_ROOT/blobs/sha256" | wc -l)" 0
check_eq "no layer dirs left" "$(ls "$ISOLA_ROOT/layers" | wc -l)" 0
check_eq "no temp files left" "$(ls "$ISOLA_ROOT/tmp" | wc -l)" 0
check_eq "no rows left" "$(sqlite3 "$ISOLA_ROOT/isola.db" 'SELECT (SELECT COUNT(*) FROM images) + (SELECT COUNT(*) FROM image_names) + (SELECT COUNT(*) FROM image_layers) + (SELECT COUNT(*) FROM layers)')" 0

# A crashed unpack (a layer dir without a row) and stale temp files: prune
# removes them.
mkdir -p "$ISOLA_ROOT/layers/$(printf 'a%.0s' {1..64})/x" "$ISOLA_ROOT/tmp/layer-dead"
"$I" image prune >/dev/null
check_eq "prune removes leftovers of a killed command" \
	"$(find "$ISOLA_ROOT/layers" "$ISOLA_ROOT/tmp" -mindepth 1 | wc -l)" 0

# A load killed at any point leaves the store consistent; prune then
# removes what it left, and the next load completes.
mkdir -p "$W/big"
make_busybox_rootfs "$W/big"
head -c 48M /dev/urandom >"$W/big/blob1"
head -c 48M /dev/urandom >"$W/big/blob2"
tar -C "$W/big" -cf "$W/big.tar" .
"$I" import "$W/big.tar" localhost/big:1 >/dev/null && "$I" save -o "$W/big-save.tar" localhost/big:1 &&
	"$I" rmi localhost/big:1 >/dev/null && "$I" image prune >/dev/null
incons=""
for delay in 0.05 0.2 0.5 1 2; do
	"$I" load -q -i "$W/big-save.tar" &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	incons+=$(store_consistent)
done
check_eq "a load killed at 5 points leaves rows and files consistent" "$incons" ""
"$I" image prune >/dev/null
check_eq "prune after the kills: no temp files" "$(ls -A "$ISOLA_ROOT/tmp")" ""
check_eq "the load completes after the kills" "$("$I" load -i "$W/big-save.tar" 2>&1)" \
	"Loaded image: localhost/big:1"
check "and the store is consistent" store_consistent
check_eq "--root selects another store" "$("$I" images -q --root "$W/other-root")" ""
check "--root made its store there" test -f "$W/other-root/isola.db"

done_testing
