# shellcheck shell=bash
# A throw-away Kubernetes node without the kubelet: Debian's containerd with
# its CRI plugin on a private socket, runtime handlers `isola` (the built
# isola-runtime behind containerd's runc v2 shim, cgroupfs driver) and `runc`
# (and `crun` when installed), CNI from containernetworking-plugins (bridge
# cri-test0, 10.197.0.0/24, host-local IPAM in the work dir), images served by
# a local docker-registry. Sourced by tests/kube/cri.sh and bench/cri after
# tests/lib/tap.sh and tests/image/registry_lib.sh.

CRI_BRIDGE=cri-test0
CRI_SUBNET=10.197.0.0/24
CRI_PY=/usr/bin/python3 # Debian's interpreter: python3-grpcio lives there

# cri_missing: prints what this host lacks for the CRI tests (empty: nothing).
cri_missing() {
	local t
	[ "$(id -u)" -eq 0 ] || echo "needs root"
	for t in containerd runc docker-registry skopeo jq ip ss; do
		command -v "$t" >/dev/null || echo "$t is not installed"
	done
	for t in bridge host-local loopback; do
		[ -x "/usr/lib/cni/$t" ] || echo "containernetworking-plugins ($t) missing"
	done
	"$CRI_PY" -c 'import grpc, grpc_tools' 2>/dev/null ||
		echo "python3-grpcio/python3-grpc-tools missing"
	[ -x /bin/busybox ] || echo "busybox-static missing"
	[ -x "$ISOLA_BUILD/isola-runtime" ] || echo "isola-runtime not built"
	! ip link show "$CRI_BRIDGE" >/dev/null 2>&1 || echo "bridge $CRI_BRIDGE already exists"
}

# cri_image LAYOUT TAG LAYER-JSON CMD-JSON: an image config + manifest with
# CMD-JSON as its Cmd, tagged TAG in the OCI layout.
cri_image() {
	local dir=$1 tag=$2 layer=$3 cmd=$4 tmp cfg man
	tmp=$(mktemp -d)
	jq -nc --argjson l "$layer" --argjson cmd "$cmd" '{
		architecture: "amd64", os: "linux", created: "2026-01-01T00:00:00Z",
		config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: $cmd},
		rootfs: {type: "layers", diff_ids: [$l.annotations.diffid]},
		history: [{created_by: "isola cri test"}]}' >"$tmp/config.json"
	cfg=$(oci_put "$dir" "$tmp/config.json")
	jq -nc --arg c "$cfg" --argjson cs "$(stat -c %s "$tmp/config.json")" --argjson l "$layer" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [$l | del(.annotations)]}' >"$tmp/manifest.json"
	man=$(oci_put "$dir" "$tmp/manifest.json")
	oci_tag "$dir" "$tag" "$(jq -nc --arg d "$man" --argjson s "$(stat -c %s "$tmp/manifest.json")" \
		'{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s}')"
	rm -rf "$tmp"
}

# cri_env_start WORK PORT-FIRST PORT-LAST: registry with busybox and pause
# images, CNI config, containerd. Sets CRI_SOCK, CRI_REG, CRI_PID, CRI_PAUSE,
# CRI_BUSYBOX, CRI_HANDLERS. Returns 1 (with a message) when something did
# not come up; cri_env_stop undoes whatever was done.
cri_env_start() {
	local work=$1 port layer h
	CRI_WORK=$work
	port=$(free_port "$2" "$3") || { echo "no free port in $2-$3" >&2; return 1; }
	registry_start "$work/registry" "$port" || return 1
	CRI_REGPID=$REGISTRY_PID
	CRI_REG=127.0.0.1:$port
	make_busybox_rootfs "$work/bb"
	oci_init "$work/oci"
	layer=$(oci_layer "$work/oci" "$work/bb" gzip)
	cri_image "$work/oci" busybox "$layer" '["/bin/sh"]'
	# The pod's infra ("pause") process: sleeps until containerd kills it.
	cri_image "$work/oci" pause "$layer" '["/bin/sleep","2147483647"]'
	for h in busybox pause; do
		skopeo copy -q --dest-tls-verify=false "oci:$work/oci:$h" \
			"docker://$CRI_REG/isola-cri/$h:1" || { echo "skopeo push of $h failed" >&2; return 1; }
	done
	CRI_PAUSE=$CRI_REG/isola-cri/pause:1
	CRI_BUSYBOX=$CRI_REG/isola-cri/busybox:1
	mkdir -p "$work/cni" "$work/ipam"
	jq -n --arg br "$CRI_BRIDGE" --arg sn "$CRI_SUBNET" --arg d "$work/ipam" '{
		cniVersion: "0.4.0", name: "isola-cri-test",
		plugins: [{type: "bridge", bridge: $br, isGateway: true, ipMasq: false,
			   ipam: {type: "host-local", ranges: [[{subnet: $sn}]], dataDir: $d}}]}' \
		>"$work/cni/10-isola-cri-test.conflist"
	# crun joins where it is installed and the caller asks (bench/cri): on
	# hybrid cgroup hosts crun 1.8 refuses to run.
	local extra=()
	read -ra extra <<<"${CRI_EXTRA_HANDLERS:-}"
	CRI_HANDLERS=(isola runc "${extra[@]}")
	# Pod cgroup parents are /$CRI_CG_PREFIX-*: the kubelet would own them;
	# here cri_env_stop removes them.
	CRI_CG_PREFIX=isola-cri-$$
	export CRI_CG_PREFIX
	CRI_SOCK=$work/containerd.sock
	# Without CAP_SYS_RESOURCE (some sandboxed hosts) no runtime may lower
	# oom_score_adj below containerd's own, as the CRI plugin asks for the
	# infra process: it then clamps the value, as for rootless nodes.
	local restrict_oom=false
	(($(grep CapEff /proc/self/status | awk '{print "0x" $2}') & (1 << 24))) || restrict_oom=true
	{
		cat <<CONF
version = 2
root = "$work/root"
state = "$work/state"
[grpc]
  address = "$CRI_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_PAUSE"
  disable_apparmor = true
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$work/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$CRI_REG"]
    endpoint = ["http://$CRI_REG"]
CONF
		for h in "${CRI_HANDLERS[@]}"; do
			local bin=$h
			[ "$h" = isola ] && bin=$ISOLA_BUILD/isola-runtime
			cat <<CONF
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$h]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$h.options]
      BinaryName = "$(command -v "$bin")"
      SystemdCgroup = false
CONF
		done
	} >"$work/config.toml"
	containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
	CRI_PID=$!
	for _ in $(seq 100); do
		[ -S "$CRI_SOCK" ] && return 0
		kill -0 "$CRI_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "containerd did not start:" >&2
	tail -20 "$work/containerd.log" >&2
	return 1
}

# cri_env_stop: stops containerd, then its shims and every task they run,
# unmounts what it left under the work dir, deletes the
# network namespaces it made, the bridge and the registry.
cri_env_stop() {
	# (a trap may run this inside `IFS= read`: split words as usual)
	local IFS=$' \t\n' pid m ns
	[ -n "${CRI_WORK:-}" ] || return 0
	# containerd first, so that it starts no shim while we stop them
	if [ -n "${CRI_PID:-}" ]; then
		kill "$CRI_PID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$CRI_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$CRI_PID" 2>/dev/null
		wait "$CRI_PID" 2>/dev/null
	fi
	# shims started for this containerd carry its socket on their command
	# line; every process of the pods is in a cgroup under the test's
	# cgroup parents, whoever its parent is by now. Their network
	# namespaces are the pods' (CNI's cni-* names under /run/netns):
	# remembered to delete them after.
	local shims pods inodes=" " f
	shims=$(pgrep -f "containerd-shim-runc-v2 .*-address $CRI_SOCK" 2>/dev/null)
	# shellcheck disable=SC2086 # lists of pids
	kill -KILL $shims 2>/dev/null
	pods=$(cat /sys/fs/cgroup/*/"$CRI_CG_PREFIX"-*/*/cgroup.procs \
		/sys/fs/cgroup/unified/"$CRI_CG_PREFIX"-*/*/cgroup.procs 2>/dev/null | sort -u)
	for pid in $pods; do
		inodes+="$(readlink "/proc/$pid/ns/net" 2>/dev/null | tr -dc 0-9) "
	done
	# shellcheck disable=SC2086
	kill -KILL $pods 2>/dev/null
	for pid in $shims $pods; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
	for f in /run/netns/cni-*; do
		[ -e "$f" ] || continue
		[[ $inodes == *" $(stat -L -c %i "$f" 2>/dev/null) "* ]] && echo "${f##*/}" >>"$CRI_WORK/netns.list"
	done
	for _ in 1 2 3 4 5; do
		grep -q " $CRI_WORK/" /proc/self/mounts || break
		for m in $(awk -v w="$CRI_WORK/" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r); do
			umount -l "$m" 2>/dev/null
		done
		sleep 0.1
	done
	for ns in $(sort -u "$CRI_WORK/netns.list" 2>/dev/null); do
		ip netns delete "$ns" 2>/dev/null
	done
	ip link delete "$CRI_BRIDGE" 2>/dev/null
	# (killed tasks may take a moment to leave their cgroups)
	for _ in 1 2 3 4 5; do
		ls -d /sys/fs/cgroup/*/"$CRI_CG_PREFIX"-* >/dev/null 2>&1 || break
		for m in /sys/fs/cgroup/*/"$CRI_CG_PREFIX"-*; do
			[ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} + 2>/dev/null
		done
		sleep 0.2
	done
	registry_stop "${CRI_REGPID:-}"
	rm -rf "$CRI_WORK"
	CRI_WORK=
}
