# Helpers for the net integration tests. "Containers" here are network
# namespaces made through the network component (tests/net/netctl: the
# engine's calls), with commands run in them by nsenter; fake hosts (the
# "internet", a neighbour) are `ip netns` namespaces the test makes itself.
# Everything is named nt-* / 10.199.x / ports 19870-19899 so other suites do
# not collide, and removed by net_cleanup (trap).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

NETCTL=$ISOLA_BUILD/tests/net/netctl
ISOLA=$ISOLA_BUILD/isola
BB=$(command -v busybox || true)

net_require() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
	[ -x "$NETCTL" ] && [ -x "$ISOLA" ] || skip_all "build first ($NETCTL, $ISOLA)"
	[ -n "$BB" ] || skip_all "needs busybox"
	command -v nft >/dev/null || skip_all "needs nft (nftables) to inspect the rules"
	command -v ip >/dev/null || skip_all "needs ip (iproute2)"
	ISOLA_ROOT=$(mktemp -d /tmp/isola-nettest-XXXXXX)
	export ISOLA_ROOT
	unset ISOLA_RUNROOT
	NT_CTRS=()
	NT_HOSTNS=()
	NT_PIDS=()
	NT_VETHS=()
	NT_TABLE=$("$NETCTL" table)
	trap net_cleanup EXIT
	trap 'exit 1' INT TERM
}

ns_of() { echo "$ISOLA_ROOT/run/netns/$1"; }
not() { ! "$@" >/dev/null 2>&1; }
quiet() { "$@" >/dev/null 2>&1; }
# ctr_new ID NAME NETWORK [netctl attach options]: prints "ifname ip/len gw mac"
ctr_new() {
	local id=$1 name=$2 net=$3
	shift 3
	NT_CTRS+=("$id")
	"$NETCTL" ns-create "$id" >/dev/null || return 1
	"$NETCTL" attach "$id" "$name" "$net" "$@"
}
ctr_rm() { "$NETCTL" detach-all "$1" && "$NETCTL" ns-remove "$1"; }
# in_ctr ID cmd...: runs cmd in the container's network namespace.
in_ctr() { local id=$1; shift; nsenter --net="$(ns_of "$id")" "$@"; }
# in_ctr_files ID cmd...: also sees the generated /etc/resolv.conf and /etc/hosts.
in_ctr_files() {
	local id=$1; shift
	"$NETCTL" resolv "$id" >"$ISOLA_ROOT/resolv.$id"
	"$NETCTL" hosts "$id" "$id" >"$ISOLA_ROOT/hosts.$id"
	nsenter --net="$(ns_of "$id")" unshare -m --propagation private sh -c \
		'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts && shift && exec "$@"' \
		"$ISOLA_ROOT/resolv.$id" "$ISOLA_ROOT/hosts.$id" "$@"
}
ip_of() { "$NETCTL" hosts "$1" | awk -v n="$2" '$0 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == n) { print $1; exit } }'; }

# An HTTP-ish server: answers "hello from TAG" once per connection.
serve_in() { # serve_in ID PORT TAG
	local id=$1 port=$2 tag=$3
	local script=$ISOLA_ROOT/serve.$tag.sh
	printf '#!/bin/sh\nread line\nprintf "HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\nhello from %s\\n"\n' \
		$((12 + ${#tag})) "$tag" >"$script"
	chmod +x "$script"
	nsenter --net="$(ns_of "$id")" "$BB" nc -ll -p "$port" -e "$script" &
	NT_PIDS+=($!)
	sleep 0.2
}

# wait_listen NETNS PORT: until a TCP listener is up in the ip-netns (5 s).
wait_listen() {
	local i
	for i in $(seq 50); do
		ip netns exec "$1" ss -ltn 2>/dev/null | grep -q ":$2 " && return 0
		sleep 0.1
	done
	return 1
}

# A fake host namespace joined to the host by a veth: host side HOSTIP/30.
hostns_new() { # hostns_new NAME HOSTIP PEERIP
	local n=$1 hip=$2 pip=$3
	NT_HOSTNS+=("$n")
	ip netns add "$n" &&
	ip link add "$n-h" type veth peer name eth0 netns "$n" &&
	ip addr add "$hip/30" dev "$n-h" && ip link set "$n-h" up &&
	ip -n "$n" addr add "$pip/30" dev eth0 && ip -n "$n" link set eth0 up &&
	ip -n "$n" link set lo up
}

# note_veths BRIDGE: remembers the veths on our bridge, for net_leftovers.
note_veths() {
	NT_VETHS+=($(ip -o link show master "$1" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'))
}
net_leftovers() { # net_leftovers BRIDGE...: prints what is left of this test's state
	local br v
	for br in "$@"; do ip link show "$br" >/dev/null 2>&1 && echo "bridge $br"; done
	for v in "${NT_VETHS[@]}"; do ip link show "$v" >/dev/null 2>&1 && echo "veth $v"; done
	nft list table inet "$NT_TABLE" >/dev/null 2>&1 && echo "nft table inet $NT_TABLE"
	[ -f "$ISOLA_ROOT/isola.db" ] &&
		sqlite3 "$ISOLA_ROOT/isola.db" "SELECT 'lease ' || ip FROM net_leases UNION ALL
			SELECT 'attachment ' || container_id FROM net_attachments UNION ALL
			SELECT 'port ' || host_port FROM net_ports" 2>/dev/null
	local p
	for p in "$ISOLA_ROOT"/run/net/dns-*.pid; do [ -e "$p" ] && echo "responder $p"; done
	return 0
}

# Links of a destroyed namespace go asynchronously: wait up to 5 s.
wait_no_veth() {
	local i v left
	for i in $(seq 50); do
		left=0
		for v in "${NT_VETHS[@]}"; do ip link show "$v" >/dev/null 2>&1 && left=1; done
		[ $left -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# Servers started in containers keep their namespace (and veth) alive.
stop_servers() {
	local p
	for p in "${NT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${NT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	NT_PIDS=()
}

net_cleanup() {
	local id n
	stop_servers
	# also those attached from a subshell ($(ctr_new ...)) or by the engine
	for id in "${NT_CTRS[@]}" $(sqlite3 "$ISOLA_ROOT/isola.db" \
		"SELECT DISTINCT container_id FROM net_attachments" 2>/dev/null); do
		"$NETCTL" detach-all "$id" 2>/dev/null
		"$NETCTL" ns-remove "$id" 2>/dev/null
	done
	for n in $("$ISOLA" network ls -q 2>/dev/null | grep '^nt-'); do
		"$ISOLA" network rm "$n" >/dev/null 2>&1
	done
	for n in "${NT_HOSTNS[@]}"; do
		ip link del "$n-h" 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	"$NETCTL" gc 2>/dev/null
	mountpoint -q "$ISOLA_ROOT/run/netns" && umount -l "$ISOLA_ROOT/run/netns"
	rm -rf "$ISOLA_ROOT"
}
