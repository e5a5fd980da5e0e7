# shellcheck shell=bash
# Helpers for the registry tests and bench/pull: OCI layouts built by script
# (layers tarred, compressed with gzip, zstd or not at all, hashed) and
# Debian's docker-registry started on 127.0.0.1 in a temp dir.
# Sourced by tests/image/registry*.sh and bench/pull; needs jq, zstd, ss.

# oci_init DIR: an empty OCI image layout.
oci_init() {
	mkdir -p "$1/blobs/sha256"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
	echo '{"schemaVersion":2,"manifests":[]}' >"$1/index.json"
}

# oci_put DIR FILE: copies FILE into the layout's blobs; prints its digest.
oci_put() {
	local hex
	hex=$(sha256sum "$2" | cut -d' ' -f1)
	cp "$2" "$1/blobs/sha256/$hex"
	echo "sha256:$hex"
}

# oci_layer DIR SRCDIR gzip|zstd|none: tars SRCDIR reproducibly into a layer
# blob; prints a descriptor JSON with the diff id in .annotations.diffid.
oci_layer() {
	local dir=$1 src=$2 comp=$3 tmp mt diffid digest
	tmp=$(mktemp -d)
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$src" -cf "$tmp/l.tar" .
	diffid=sha256:$(sha256sum "$tmp/l.tar" | cut -d' ' -f1)
	case $comp in
	gzip) gzip -n -c "$tmp/l.tar" >"$tmp/l"; mt=application/vnd.oci.image.layer.v1.tar+gzip ;;
	zstd) zstd -q -c "$tmp/l.tar" >"$tmp/l"; mt=application/vnd.oci.image.layer.v1.tar+zstd ;;
	*) cp "$tmp/l.tar" "$tmp/l"; mt=application/vnd.oci.image.layer.v1.tar ;;
	esac
	digest=$(oci_put "$dir" "$tmp/l")
	jq -nc --arg mt "$mt" --arg d "$digest" --argjson s "$(stat -c %s "$tmp/l")" \
		--arg id "$diffid" '{mediaType:$mt, digest:$d, size:$s, annotations:{diffid:$id}}'
	rm -rf "$tmp"
}

# oci_image DIR ARCH LAYER-JSON...: config + manifest for the layers; prints
# the manifest descriptor (with platform).
oci_image() {
	local dir=$1 arch=$2 tmp layers cfg man
	shift 2
	tmp=$(mktemp -d)
	layers=$(printf '%s\n' "$@" | jq -sc .)
	jq -nc --arg arch "$arch" --argjson l "$layers" '{
		architecture: $arch, os: "linux", created: "2026-01-01T00:00:00Z",
		config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"],
			 Labels: {"org.isola.test": "registry"}},
		rootfs: {type: "layers", diff_ids: [$l[].annotations.diffid]},
		history: [$l[] | {created_by: "registry test layer"}]}' >"$tmp/config.json"
	cfg=$(oci_put "$dir" "$tmp/config.json")
	jq -nc --arg c "$cfg" --argjson cs "$(stat -c %s "$tmp/config.json")" --argjson l "$layers" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [$l[] | del(.annotations)]}' >"$tmp/manifest.json"
	man=$(oci_put "$dir" "$tmp/manifest.json")
	jq -nc --arg d "$man" --argjson s "$(stat -c %s "$tmp/manifest.json")" --arg arch "$arch" \
		'{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		  platform: {os: "linux", architecture: $arch}}'
	rm -rf "$tmp"
}

# oci_index DIR MANIFEST-JSON...: an image index blob; prints its descriptor.
oci_index() {
	local dir=$1 tmp idx
	shift
	tmp=$(mktemp -d)
	printf '%s\n' "$@" | jq -sc '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}' >"$tmp/index.json"
	idx=$(oci_put "$dir" "$tmp/index.json")
	jq -nc --arg d "$idx" --argjson s "$(stat -c %s "$tmp/index.json")" \
		'{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s}'
	rm -rf "$tmp"
}

# oci_tag DIR TAG DESCRIPTOR-JSON: names a manifest or index in index.json.
oci_tag() {
	jq --arg t "$2" --argjson d "$3" \
		'.manifests += [$d | del(.platform) | .annotations = {"org.opencontainers.image.ref.name": $t}]' \
		"$1/index.json" >"$1/index.json.new" && mv "$1/index.json.new" "$1/index.json"
}

# free_port FIRST LAST: a TCP port nobody listens on in [FIRST, LAST].
free_port() {
	local p
	for p in $(shuf -i "$1-$2"); do
		if ! ss -Htln "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# registry_start DIR PORT [TLS-CERT TLS-KEY [HTPASSWD [CLIENT-CA]]]:
# docker-registry with filesystem storage under DIR, logging to DIR/log;
# CLIENT-CA makes it require client certificates. Waits until it answers.
# Sets REGISTRY_PID.
registry_start() {
	local dir=$1 port=$2 cert=${3:-} key=${4:-} htpasswd=${5:-} clientca=${6:-} _
	mkdir -p "$dir/data"
	{
		echo "version: 0.1"
		echo "log: {level: info, formatter: text}"
		echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
		echo "http:"
		echo "  addr: 127.0.0.1:$port"
		echo "  secret: isola-registry-test"
		if [ -n "$clientca" ]; then
			echo "  tls: {certificate: $cert, key: $key, clientcas: [$clientca]}"
		elif [ -n "$cert" ]; then
			echo "  tls: {certificate: $cert, key: $key}"
		fi
		if [ -n "$htpasswd" ]; then
			echo "auth: {htpasswd: {realm: isola-test, path: $htpasswd}}"
		fi
	} >"$dir/config.yml"
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	REGISTRY_PID=$!
	for _ in $(seq 100); do
		# Any TCP answer will do (a client-certificate registry fails the
		# handshake): ss tells whether it listens.
		if ss -Htln "sport = :$port" | grep -q .; then
			return 0
		fi
		kill -0 "$REGISTRY_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "registry on port $port did not start:" >&2
	cat "$dir/log" >&2
	return 1
}

# registry_stop PID: stops a registry this script started.
registry_stop() {
	[ -n "${1:-}" ] || return 0
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
