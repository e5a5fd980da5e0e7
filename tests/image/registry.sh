#!/usr/bin/env bash
# Registry client against Debian's docker-registry on plain HTTP (127.0.0.1,
# a port in 15000-15049): an image built by script (gzip, zstd and plain tar
# layers, one of them 17 MiB so a push streams it with PATCH), pushed with
# skopeo, pulled by isola; an index with two platforms and --platform; isola
# push with a cross-repository mount, checked by skopeo and by podman pull +
# run; bad names, unknown tags, a registry that is down, a full disk.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/registry_lib.sh"
isola=$ISOLA_BUILD/isola

for t in docker-registry skopeo jq zstd curl sqlite3; do
	command -v "$t" >/dev/null || skip_all "$t not installed (scripts/deps test)"
done
[ -x "$isola" ] || skip_all "isola not built"
"$isola" pull --help >/dev/null 2>&1 || skip_all "isola pull not built"

work=$(mktemp -d /tmp/isola-reg.XXXXXX)
REGISTRY_PID=
cleanup() {
	registry_stop "$REGISTRY_PID"
	# containers of `isola run --rm` are gone; anything a failure left is not
	for id in $("$isola" ps -aq 2>/dev/null); do "$isola" rm -f "$id" >/dev/null 2>&1; done
	grep -o " $work/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
	mountpoint -q "$work/full" 2>/dev/null && umount "$work/full"
	if [ -d "$work/podman" ]; then
		podman --root "$work/podman/root" --runroot "$work/podman/run" rmi -af >/dev/null 2>&1
		umount "$work/podman/root/overlay" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
export ISOLA_ROOT=$work/root
port=$(free_port 15000 15049) || skip_all "no free port in 15000-15049"
reg=127.0.0.1:$port
registry_start "$work/reg" "$port" || { not_ok "docker-registry starts"; done_testing; exit; }

# ---- an image by script: busybox (gzip), a file (zstd), 17 MiB random (tar)
layout=$work/oci
oci_init "$layout"
make_busybox_rootfs "$work/l1"
mkdir -p "$work/l2/etc" "$work/l3/data"
echo "hello from zstd" >"$work/l2/etc/hello"
head -c $((17 << 20)) /dev/urandom >"$work/l3/data/random"
L1=$(oci_layer "$layout" "$work/l1" gzip)
L2=$(oci_layer "$layout" "$work/l2" zstd)
L3=$(oci_layer "$layout" "$work/l3" none)
M_AMD=$(oci_image "$layout" amd64 "$L1" "$L2" "$L3")
M_ARM=$(oci_image "$layout" arm64 "$L1" "$L2")
oci_tag "$layout" v1 "$M_AMD"
oci_tag "$layout" gz "$(oci_image "$layout" amd64 "$L1")"
oci_tag "$layout" multi "$(oci_index "$layout" "$M_AMD" "$M_ARM")"
amd_digest=$(jq -r .digest <<<"$M_AMD")
arm_digest=$(jq -r .digest <<<"$M_ARM")
blob_of() { jq -r "$2" "$layout/blobs/sha256/${1#sha256:}"; }
amd_config=$(blob_of "$amd_digest" .config.digest)
arm_config=$(blob_of "$arm_digest" .config.digest)

check "skopeo pushes the image" skopeo copy -q --dest-tls-verify=false \
	"oci:$layout:v1" "docker://$reg/x/y:v1"
check "skopeo pushes a Docker schema 2 image" skopeo copy -q --format v2s2 --dest-tls-verify=false \
	"oci:$layout:gz" "docker://$reg/x/docker:v1"
check "skopeo pushes the two-platform index" skopeo copy -q --all --dest-tls-verify=false \
	"oci:$layout:multi" "docker://$reg/x/multi:v1"

# skopeo gzips the plain tar layer on the way, so the registry's manifest is
# not the layout's: the digests to expect come from the registry.
skopeo inspect --raw --tls-verify=false "docker://$reg/x/y:v1" >"$work/manifest.json"
reg_digest=sha256:$(sha256sum "$work/manifest.json" | cut -d' ' -f1)

rows() { sqlite3 "$ISOLA_ROOT/isola.db" "select count(*) from images" 2>/dev/null || echo 0; }
blobs() { find "$ISOLA_ROOT/blobs" -type f 2>/dev/null | wc -l; }
tmp_left() { find "$ISOLA_ROOT/tmp" -mindepth 1 2>/dev/null | wc -l; }

# ---- pull
out=$("$isola" pull "$reg/x/y:v1" 2>"$work/err")
rc=$?
check_eq "pull exits 0" "$rc" 0
[ $rc -eq 0 ] || diag "$(cat "$work/err")"
check_match "pull prints the image id (config digest)" "$out" "^${amd_config#sha256:}$"
check_eq "pull is quiet when stdout is not a terminal" "$(cat "$work/err")" ""
for d in "$reg_digest" "$amd_config" $(jq -r '.layers[].digest' "$work/manifest.json"); do
	[ -f "$ISOLA_ROOT/blobs/sha256/${d#sha256:}" ] || missing="$missing $d"
done
check_eq "manifest, config and all layers are in the store" "${missing:-}" ""
check_eq "nothing left in tmp/" "$(tmp_left)" 0
check_eq "one image row" "$(rows)" 1
names=$(sqlite3 "$ISOLA_ROOT/isola.db" "select name from image_names" 2>/dev/null)
check_eq "the image is named registry/repo:tag" "$names" "$reg/x/y:v1"
if "$isola" images --help >/dev/null 2>&1; then
	check_match "isola images lists it" "$("$isola" images 2>&1)" "$reg/x/y"
else
	skip "isola images not built"
fi
if "$isola" image inspect --help >/dev/null 2>&1; then
	check_match "isola image inspect shows the config's label" \
		"$("$isola" image inspect "$reg/x/y:v1" 2>&1)" "org.isola.test"
else
	skip "isola image inspect not built"
fi

n_get=$(grep -c "GET /v2/x/y/blobs" "$work/reg/log")
out2=$("$isola" pull "$reg/x/y:v1" 2>&1)
check_eq "a second pull gives the same id" "$out2" "$out"
check_eq "a second pull fetches no blob" "$(grep -c "GET /v2/x/y/blobs" "$work/reg/log")" "$n_get"

out3=$("$isola" pull -q "$reg/x/y@$reg_digest" 2>&1)
check_eq "pull by digest gives the same id" "$out3" "$out"

# The engine's `run` (another component): used when the verb exists.
if "$isola" run --help >/dev/null 2>&1 || ! "$isola" run 2>&1 | grep -q "unknown command"; then
	check_eq "isola run --rm IMAGE /bin/echo hi" \
		"$("$isola" run --rm "$reg/x/y:v1" /bin/echo hi 2>&1)" hi
	check_eq "the zstd layer is in the container" \
		"$("$isola" run --rm "$reg/x/y:v1" /bin/cat /etc/hello 2>&1)" "hello from zstd"
else
	skip "isola run not built"
	skip "isola run not built"
fi

# ---- index: linux/amd64 by default, --platform for the other
"$isola" pull -q "$reg/x/multi:v1" >"$work/out" 2>"$work/err"
check_eq "pull of an index picks linux/amd64" "$(cat "$work/out")" "${amd_config#sha256:}"
"$isola" pull --platform linux/arm64 "$reg/x/multi:v1" >"$work/out" 2>"$work/err"
check_eq "--platform linux/arm64 picks the arm64 manifest" "$(cat "$work/out")" \
	"${arm_config#sha256:}"
before=$(rows)
"$isola" pull --platform linux/s390x "$reg/x/multi:v1" >"$work/out" 2>"$work/err"
check "--platform without an entry fails" [ $? -ne 0 ]
check_match "... naming the platform" "$(cat "$work/err")" "s390x"
check_eq "... adding no row" "$(rows)" "$before"

# ---- Docker schema 2: pulled, and pushed back byte for byte
docker_mt=application/vnd.docker.distribution.manifest.v2+json
skopeo inspect --raw --tls-verify=false "docker://$reg/x/docker:v1" >"$work/docker.json"
docker_digest=sha256:$(sha256sum "$work/docker.json" | cut -d' ' -f1)
"$isola" pull -q "$reg/x/docker:v1" >"$work/out" 2>"$work/err"
check_eq "pull of a Docker schema 2 image" "$?:$(cat "$work/err")" "0:"
check_eq "... stored with its media type" "$(sqlite3 "$ISOLA_ROOT/isola.db" \
	"select manifest_media_type from images where manifest_digest = '$docker_digest'")" "$docker_mt"
"$isola" push "$reg/x/docker:v1" "$reg/x/docker2:v1" >"$work/out" 2>"$work/err"
check_eq "push of the Docker image keeps its digest" \
	"$(skopeo inspect --tls-verify=false "docker://$reg/x/docker2:v1" 2>&1 | jq -r .Digest)" \
	"$docker_digest"

# ---- push: another repository of the same registry mounts every blob
"$isola" push --digestfile "$work/digest" "$reg/x/y:v1" "$reg/x/z:v2" >"$work/out" 2>"$work/err"
rc=$?
check_eq "push to another repository exits 0" "$rc" 0
[ $rc -eq 0 ] || diag "$(cat "$work/err")"
check_eq "--digestfile has the manifest digest" "$(cat "$work/digest" 2>/dev/null)" "$reg_digest"
mounts=$(grep -c 'POST /v2/x/z/blobs/uploads/?mount=.*from=x.y HTTP/1.1" 201' "$work/reg/log")
check_eq "every blob is mounted from x/y (4 mounts)" "$mounts" 4
check_eq "no blob is uploaded" "$(grep -c 'PUT /v2/x/z/blobs/uploads' "$work/reg/log")" 0
insp=$(skopeo inspect --tls-verify=false "docker://$reg/x/z:v2" 2>&1)
check_eq "skopeo inspect sees the same manifest digest" "$(jq -r .Digest <<<"$insp" 2>/dev/null)" \
	"$reg_digest"
check_eq "skopeo inspect sees 3 layers" "$(jq -r '.Layers | length' <<<"$insp" 2>/dev/null)" 3

# A fresh repository whose blobs are not on the registry: uploads (the
# 17 MiB layer streamed with PATCH, the rest in one PUT).
# The registry dedups blobs globally, so a fresh copy needs a fresh registry.
registry_stop "$REGISTRY_PID"
rm -rf "$work/reg/data"
registry_start "$work/reg" "$port" || not_ok "registry restarts"
"$isola" push "$reg/x/y:v1" "$reg/fresh/img:v3" >"$work/out" 2>"$work/err"
rc=$?
check_eq "push to an empty registry exits 0" "$rc" 0
[ $rc -eq 0 ] || diag "$(cat "$work/err")"
check_eq "the big layer went by PATCH" "$(grep -c 'PATCH /v2/fresh/img/blobs/uploads/.* 202' "$work/reg/log")" 1
check_eq "4 blobs were uploaded" "$(grep -c 'PUT /v2/fresh/img/blobs/uploads/.* 201' "$work/reg/log")" 4
check_eq "skopeo inspect of the pushed image" \
	"$(skopeo inspect --tls-verify=false "docker://$reg/fresh/img:v3" 2>&1 | jq -r .Digest 2>/dev/null)" \
	"$reg_digest"

if command -v podman >/dev/null && command -v runc >/dev/null; then
	mkdir -p "$work/podman"
	pod() { podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver overlay "$@"; }
	pod_pull() { pod pull -q --tls-verify=false "$1" >/dev/null; }
	check "podman pulls what isola pushed" pod_pull "$reg/fresh/img:v3"
	got=$(pod run --rm --runtime runc --network none --ulimit nofile=20000:20000 \
		--ulimit nproc=32768:32768 "$reg/fresh/img:v3" /bin/cat /etc/hello 2>&1)
	check_eq "podman runs it (zstd layer content)" "$got" "hello from zstd"
else
	skip "podman/runc not installed"
	skip "podman/runc not installed"
fi

# ---- bad input: one line naming the input, non-zero, nothing stored
before_rows=$(rows)
before_blobs=$(blobs)
expect_fail() { # name regex args...
	local name=$1 re=$2
	shift 2
	"$isola" "$@" >"$work/out" 2>"$work/err"
	local rc=$?
	check "$name: non-zero exit" [ $rc -ne 0 ]
	check_match "$name: one line" "$(wc -l <"$work/err")" "^1$"
	check_match "$name: message" "$(cat "$work/err")" "$re"
	check_eq "$name: no row, blob or temp file added" \
		"$(rows) $(blobs) $(tmp_left)" "$before_rows $before_blobs 0"
}
expect_fail "bad name" "'x/Y::bad'" pull "x/Y::bad"
expect_fail "bad --platform" "--platform 'linux': expected os/arch" pull --platform linux "$reg/x/y:v1"
expect_fail "unknown tag" "$reg.*x/y.*nope.*404.*manifest unknown" pull "$reg/x/y:nope"
expect_fail "unknown repository" "$reg.*no/such.*404" pull "$reg/no/such:v1"
down=$(free_port 15000 15049)
expect_fail "registry down" "127.0.0.1:$down.*(connect|refused)" pull "127.0.0.1:$down/x/y:v1"
expect_fail "push of an unknown image" "no/such:v9.*not known" push "$reg/no/such:v9"

# A full disk during the pull: the store on a 6 MiB tmpfs.
if [ "$(id -u)" -eq 0 ] && mkdir -p "$work/full" && mount -t tmpfs -o size=6m tmpfs "$work/full"; then
	ISOLA_ROOT=$work/full "$isola" pull "$reg/fresh/img:v3" >"$work/out" 2>"$work/err"
	check "full disk: non-zero exit" [ $? -ne 0 ]
	check_match "full disk: the error says so" "$(cat "$work/err")" "No space left on device"
	check_eq "full disk: no temp file left" \
		"$(find "$work/full/tmp" -mindepth 1 2>/dev/null | wc -l)" 0
	check_eq "full disk: no image row" \
		"$(sqlite3 "$work/full/isola.db" "select count(*) from images" 2>/dev/null || echo 0)" 0
	umount "$work/full"
else
	skip "full disk: needs root to mount a small tmpfs"
fi

done_testing
