# Busybox root file systems and OCI bundles for container tests.
# Source after tap.sh.

# make_busybox_rootfs DIR: a minimal rootfs from Debian's busybox-static.
make_busybox_rootfs() {
	local root=$1 app
	mkdir -p "$root"/{bin,proc,sys,dev,etc,tmp,root}
	cp /bin/busybox "$root/bin/busybox"
	for app in $(/bin/busybox --list); do
		[ "$app" = busybox ] || ln -sf busybox "$root/bin/$app"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "root:x:0:" >"$root/etc/group"
}

# make_bundle DIR [ARG...]: DIR/rootfs + DIR/config.json from `isola-runtime spec`,
# with process.args set to ARG... and no terminal.
make_bundle() {
	local dir=$1; shift
	mkdir -p "$dir"
	make_busybox_rootfs "$dir/rootfs"
	(cd "$dir" && "$ISOLA_BUILD/isola-runtime" spec) || return 1
	local args
	args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
	jq --argjson a "$args" '.process.args = $a | .process.terminal = false' \
		"$dir/config.json" >"$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json"
}

# edit_config DIR JQ-FILTER [jq args...]: rewrites DIR/config.json in place.
edit_config() {
	local dir=$1 filter=$2; shift 2
	jq "$@" "$filter" "$dir/config.json" >"$dir/config.json.new" &&
		mv "$dir/config.json.new" "$dir/config.json"
}
