#!/bin/bash
# Bad input to the image verbs: each gives one clear message naming the
# input, a non-zero exit, and leaves the store (files and rows) as it was.
# Hostile layers (crafted with python's tarfile) never write outside their
# layer directory.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/store_lib.sh"

store_test_init bad
PY=/usr/bin/python3
[ -x "$PY" ] || skip_all "Debian's python3 missing"
MK=$(dirname "${BASH_SOURCE[0]}")/mkarchive.py

# A known image to compare the store against.
make_busybox_rootfs "$W/rootfs"
tar -C "$W/rootfs" -cf "$W/rootfs.tar" .
"$I" import "$W/rootfs.tar" localhost/good:1 >/dev/null || { echo "Bail out! import failed"; exit 1; }
BASE=$(store_state)
mkdir -p "$W/outside"

# expect_fail NAME REGEX CMD...: non-zero exit, one line on stderr matching
# REGEX, nothing on stdout, store unchanged.
expect_fail() {
	local name=$1 re=$2 out err rc
	shift 2
	out=$("$@" 2>"$W/err")
	rc=$?
	err=$(cat "$W/err")
	if [ "$rc" -ne 0 ] && [ -z "$out" ] && [ "$(wc -l <"$W/err")" -eq 1 ] && [[ "$err" =~ $re ]] &&
		[ "$(store_state)" == "$BASE" ]; then
		ok "$name"
	else
		not_ok "$name"
		diag "exit $rc, stdout: $out"
		diag "stderr: $err"
		[ "$(store_state)" == "$BASE" ] || diag "the store changed"
	fi
}

# --- names and unknown images
expect_fail "tag to a name that does not parse" "^isola tag: image name 'bad name': invalid repository name$" \
	"$I" tag localhost/good:1 "bad name"
expect_fail "tag to an upper-case name" "^isola tag: image name 'library/X': repository name must be lowercase$" \
	"$I" tag localhost/good:1 library/X
expect_fail "tag to a bad tag" "^isola tag: image name 'x:-1': invalid tag '-1'$" \
	"$I" tag localhost/good:1 x:-1
expect_fail "inspect of an unknown image" "^isola image inspect: image 'nope': not known$" \
	"$I" image inspect nope
expect_fail "rmi of an unknown image" "^isola rmi: image 'nope:1': not known$" "$I" rmi nope:1
expect_fail "history of a bad name" "^isola history: image name 'a//b': invalid repository name$" \
	"$I" history a//b
expect_fail "save of an unknown image" "^isola save: image 'nope': not known$" \
	"$I" save -o "$W/nope.tar" nope
check "save of an unknown image writes no file" test ! -e "$W/nope.tar" -a ! -e "$W/nope.tar.isola-tmp"
"$I" rmi nope:1 2>/dev/null
check_eq "rmi of an unknown image exits 1 (as podman)" "$?" 1

# --- archives that are not archives, truncated, or incomplete
head -c 5000 /dev/urandom >"$W/random.tar"
expect_fail "load of random bytes" "^isola load: load '$W/random.tar': .*(not a tar archive|corrupt archive)" \
	"$I" load -i "$W/random.tar"
expect_fail "load of a missing file" "^isola load: load '$W/missing.tar': No such file or directory$" \
	"$I" load -i "$W/missing.tar"
tar -C "$W" -cf "$W/empty.tar" rootfs/etc/passwd
expect_fail "load of a tar that is no image archive" "neither an oci-archive .* nor a docker-archive" \
	"$I" load -i "$W/empty.tar"
echo '{"layers": [[{"name": "hello", "data": "hi"}]], "truncate_layer": 0}' >"$W/trunc.json"
$PY "$MK" "$W/trunc.tar" localhost/bad:trunc "$W/trunc.json" >/dev/null
expect_fail "load of an archive with a truncated blob" \
	"^isola load: load '$W/trunc.tar': blob sha256:[0-9a-f]{64}: content does not match its digest" \
	"$I" load -i "$W/trunc.tar"
head -c 3000 "$W/trunc.tar" >"$W/cut.tar"
expect_fail "load of a cut archive" "^isola load: load '$W/cut.tar': " "$I" load -i "$W/cut.tar"
echo '{"layers": [[{"name": "hello", "data": "hi"}]], "wrong_diff_id": 0}' >"$W/diff.json"
$PY "$MK" "$W/diff.tar" localhost/bad:diff "$W/diff.json" >/dev/null
expect_fail "load of an image whose diff id does not match" \
	"^isola load: load '$W/diff.tar': image localhost/bad:diff: layer sha256:[0-9a-f]{64}: uncompressed digest sha256:[0-9a-f]{64}, the config says sha256:[0-9a-f]{64}$" \
	"$I" load -i "$W/diff.tar"
head -c 100 /dev/urandom >"$W/junk.tar"
expect_fail "import of a file that is no tarball" "^isola import: import '$W/junk.tar': layer sha256:[0-9a-f]{64}: " \
	"$I" import "$W/junk.tar" localhost/junk:1
expect_fail "import with a bad name" "^isola import: image name 'bad!': invalid repository name$" \
	"$I" import "$W/rootfs.tar" 'bad!'

# --- hostile layers: refused with image, layer and entry named
hostile() {
	local name=$1 re=$2 spec=$3
	echo "$spec" >"$W/$name.json"
	$PY "$MK" "$W/$name.tar" "localhost/hostile:$name" "$W/$name.json" >/dev/null
	expect_fail "hostile layer: $name" \
		"^isola load: load '$W/$name.tar': image localhost/hostile:$name: layer sha256:[0-9a-f]{64}: entry '$re" \
		"$I" load -i "$W/$name.tar"
	check "hostile layer: $name: nothing outside" test -z "$(ls -A "$W/outside")"
}
hostile dotdot "a/\.\./\.\./\.\./outside/pwned': '\.\.' in path refused$" \
	'{"layers": [[{"name": "a/../../../outside/pwned", "data": "x"}]]}'
hostile absolute "$W/outside/pwned': absolute path refused$" \
	"{\"layers\": [[{\"name\": \"$W/outside/pwned\", \"data\": \"x\"}]]}"
hostile hardlink "h': hard link target '\.\./\.\./\.\./outside': '\.\.' in path refused$" \
	'{"layers": [[{"name": "h", "type": "hardlink", "target": "../../../outside"}]]}'
hostile linkthrough "h': hard link target 'esc/rootfs.tar': not found inside the layer$" \
	"{\"layers\": [[{\"name\": \"esc\", \"type\": \"symlink\", \"target\": \"$W\"},
	{\"name\": \"h\", \"type\": \"hardlink\", \"target\": \"esc/rootfs.tar\"}]]}"

# A symlink planted by an earlier entry is resolved inside the layer: one
# to a directory outside (missing inside) is refused, one to a directory of
# the layer is followed there; an earlier layer's symlink is not in a later
# layer's directory at all.
hostile planted "esc/pwned': parent directory: No such file or directory$" \
	"{\"layers\": [[{\"name\": \"esc\", \"type\": \"symlink\", \"target\": \"$W/outside\"},
	{\"name\": \"esc/pwned\", \"data\": \"x\"}]]}"
echo "{\"layers\": [[{\"name\": \"real\", \"type\": \"dir\"},
	{\"name\": \"abs\", \"type\": \"symlink\", \"target\": \"/real\"},
	{\"name\": \"abs/x\", \"data\": \"x\"},
	{\"name\": \"up\", \"type\": \"symlink\", \"target\": \"../../../../../../../real\"},
	{\"name\": \"up/y\", \"data\": \"y\"},
	{\"name\": \"esc\", \"type\": \"symlink\", \"target\": \"$W/outside\"}],
	[{\"name\": \"esc/pwned3\", \"data\": \"z\"}], [{\"name\": \"null\", \"type\": \"chardev\"}]]}" \
	>"$W/inlayer.json"
$PY "$MK" "$W/inlayer.tar" localhost/hostile:inlayer "$W/inlayer.json" >/dev/null
OUT=$("$I" load -i "$W/inlayer.tar" 2>&1)
check_eq "symlinks inside the layer: the image loads" "$OUT" "Loaded image: localhost/hostile:inlayer"
check "symlinks inside the layer: nothing outside" test -z "$(ls -A "$W/outside")"
TOPS=$(layer_dirs localhost/hostile:inlayer)
check_eq "an absolute symlink is resolved in the layer" "$(cat "$(sed -n 1p <<<"$TOPS")/real/x")" x
check_eq "'..' in a symlink stops at the layer root" "$(cat "$(sed -n 1p <<<"$TOPS")/real/y")" y
check_eq "a later layer's path through an earlier layer's symlink stays in its own layer" \
	"$(cat "$(sed -n 2p <<<"$TOPS")/esc/pwned3")" z
check "device nodes are skipped" test ! -e "$(sed -n 3p <<<"$TOPS")/null"
check_eq "no temp files left by the failures" "$(ls -A "$ISOLA_ROOT/tmp")" ""

done_testing
