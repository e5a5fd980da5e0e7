# shellcheck shell=bash disable=SC2034
# Debian's standard kernel (linux-image-amd64) for the KVM sandbox and the
# kernel suite: the package is fetched with `apt-get download` into a cache
# under tests/fixtures/cache (gitignored), unpacked once, and depmod makes
# its modules.dep. Source it; needs ISOLA_SRC (tests/lib/tap.sh sets it).
#   dk_fetch            sets DK_DEB, DK_DIR (unpacked package), DK_KVER,
#                       DK_VMLINUZ, DK_MODDIR; on failure returns 1 with
#                       DK_ERROR saying why in one line
#   dk_modules NAME...  the .ko files of NAME and of everything they need,
#                       dependencies first, each once (built-ins: nothing)
DK_CACHE=${ISOLA_KERNEL_CACHE:-${ISOLA_SRC:?}/tests/fixtures/cache/debian-kernel}

dk_resolve() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1
}

dk_download() {
	local pkg
	pkg=$(dk_resolve)
	if [ -z "$pkg" ]; then
		# A fresh machine may have no package lists yet.
		apt-get update -qq >/dev/null 2>&1
		pkg=$(dk_resolve)
	fi
	if [ -z "$pkg" ]; then
		DK_ERROR="apt-cache cannot resolve linux-image-amd64 (no package lists: no network to the package archive?)"
		return 1
	fi
	if ! (cd "$DK_CACHE" && apt-get download -q "$pkg") >"$DK_CACHE/download.log" 2>&1; then
		DK_ERROR="apt-get download $pkg failed (no network to the package archive?): $(grep -E '^(E|Err):' "$DK_CACHE/download.log" | head -1)"
		return 1
	fi
}

dk_unpack() {
	local deb=$1 dir=$2 kver
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	if ! dpkg-deb -x "$deb" "$dir.tmp"; then
		DK_ERROR="dpkg-deb cannot unpack $deb"
		return 1
	fi
	kver=$(ls "$dir.tmp/lib/modules" | head -1)
	if [ -z "$kver" ] || ! depmod -b "$dir.tmp" "$kver"; then
		DK_ERROR="depmod failed for $deb"
		return 1
	fi
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}

dk_fetch() {
	local t
	DK_ERROR=""
	for t in apt-get apt-cache dpkg-deb depmod flock; do
		command -v $t >/dev/null || { DK_ERROR="$t is not installed"; return 1; }
	done
	mkdir -p "$DK_CACHE" || { DK_ERROR="cannot create $DK_CACHE"; return 1; }
	exec {dk_lock}>"$DK_CACHE/.lock"
	flock "$dk_lock"
	DK_DEB=$(ls -t "$DK_CACHE"/linux-image-[0-9]*-amd64_*.deb 2>/dev/null | head -1)
	if [ -z "$DK_DEB" ]; then
		dk_download || { exec {dk_lock}>&-; return 1; }
		DK_DEB=$(ls -t "$DK_CACHE"/linux-image-[0-9]*-amd64_*.deb | head -1)
	fi
	DK_DIR=$DK_CACHE/$(basename "$DK_DEB" .deb)
	if ! compgen -G "$DK_DIR/lib/modules/*/modules.dep" >/dev/null; then
		dk_unpack "$DK_DEB" "$DK_DIR" || { exec {dk_lock}>&-; return 1; }
	fi
	exec {dk_lock}>&-
	DK_KVER=$(ls "$DK_DIR/lib/modules" | head -1)
	DK_VMLINUZ=$DK_DIR/boot/vmlinuz-$DK_KVER
	DK_MODDIR=$DK_DIR/lib/modules/$DK_KVER
	[ -s "$DK_VMLINUZ" ] || { DK_ERROR="no vmlinuz in $DK_DEB"; return 1; }
}

dk_modules() {
	local -A dep=() seen=()
	local line mod deps name
	while IFS= read -r line; do
		mod=${line%%:*}
		deps=${line#*:}
		name=${mod##*/}
		name=${name%.ko*}
		dep[${name//-/_}]="$mod:$deps"
	done <"$DK_MODDIR/modules.dep"
	_dk_visit() {
		local n=${1//-/_} entry d m
		[ -n "${seen[$n]:-}" ] && return 0
		seen[$n]=1
		entry=${dep[$n]:-}
		if [ -z "$entry" ]; then
			grep -qE "/${1//[-_]/[-_]}\.ko" "$DK_MODDIR/modules.builtin" && return 0
			echo "dk_modules: no module $1 in $DK_KVER" >&2
			return 1
		fi
		for d in ${entry#*:}; do
			m=${d##*/}
			_dk_visit "${m%.ko*}" || return 1
		done
		echo "$DK_MODDIR/${entry%%:*}"
	}
	for mod in "$@"; do _dk_visit "$mod" || return 1; done
}

# dk_vmlinux: sets DK_VMLINUX, the uncompressed ELF inside the bzImage (it
# has the PVH entry note), extracted once next to the package. The setup
# header says where the payload is: payload_offset/length at 0x248/0x24c,
# relative to the protected-mode part after the setup sectors (0x1f1).
dk_vmlinux() {
	local z=$DK_VMLINUZ out=$DK_DIR/vmlinux-$DK_KVER sects off len start magic unpack
	DK_VMLINUX=$out
	[ -s "$out" ] && return 0
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$z" | tr -d ' ')
	[ "$sects" -eq 0 ] && sects=4
	off=$(od -An -tu4 -j $((0x248)) -N4 "$z" | tr -d ' ')
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$z" | tr -d ' ')
	start=$(((sects + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$start" -N4 "$z" | tr -d ' ')
	case $magic in
	02214c18) unpack="lz4 -dc" ;;
	fd377a58) unpack="xz -dc" ;;
	28b52ffd) unpack="zstd -dc" ;;
	1f8b*) unpack="gzip -dc" ;;
	*) DK_ERROR="unknown payload compression (magic $magic)"; return 1 ;;
	esac
	command -v "${unpack%% *}" >/dev/null || { DK_ERROR="${unpack%% *} is not installed"; return 1; }
	tail -c +$((start + 1)) "$z" | head -c "$len" | $unpack >"$out.tmp.$$" 2>/dev/null
	if [ "$(od -An -c -N4 "$out.tmp.$$" | tr -d ' ')" != '177ELF' ]; then
		rm -f "$out.tmp.$$"
		DK_ERROR="the bzImage's payload is not an ELF"
		return 1
	fi
	mv "$out.tmp.$$" "$out"
}
