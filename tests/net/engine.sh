#!/usr/bin/env bash
# The engine's network options through `isola run`: the default bridge
# network, a container on two networks reaching (and resolving) both while
# the networks stay isolated from each other, --network container:REF
# sharing localhost, -P with `isola port` / inspect, a bad container:REF that
# leaves nothing, and the start-up clean-up after a crash (a netns file
# removed under a running container; a --rm container whose monitor was
# killed). Names n2-*, subnets 10.199.70-73.x, ports 21000-21099.
source "$(dirname "$0")/lib.sh"
net_require
command -v curl >/dev/null || skip_all "needs curl"
[ -x "$ISOLA_BUILD/isola-monitor" ] || skip_all "engine not built (isola-monitor)"

rootfs=$ISOLA_ROOT/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp"
cp "$BB" "$rootfs/bin/busybox"
for t in sh nc nslookup sleep cat echo true awk ip grep; do ln -s busybox "$rootfs/bin/$t"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
echo "root:x:0:" >"$rootfs/etc/group"
printf '#!/bin/sh\nread line\nprintf "HTTP/1.0 200 OK\\r\\n\\r\\nhello from $(cat /etc/hostname)\\n"\n' >"$rootfs/srv.sh"
chmod +x "$rootfs/srv.sh"
IMG=localhost/n2-net:latest
tar -C "$rootfs" -cf "$ISOLA_ROOT/rootfs.tar" . &&
	"$ISOLA" import "$ISOLA_ROOT/rootfs.tar" "$IMG" >/dev/null 2>&1 ||
	skip_all "isola import does not work in this build"
"$ISOLA" run --rm --network none "$IMG" /bin/true >/dev/null 2>&1 || skip_all "isola run does not work here"

e2e_cleanup() {
	local id
	for id in $("$ISOLA" ps -aq 2>/dev/null); do "$ISOLA" rm -f "$id" >/dev/null 2>&1; done
	for id in $("$ISOLA" network ls -q 2>/dev/null | grep '^n2-'); do "$ISOLA" network rm "$id" >/dev/null 2>&1; done
	net_cleanup
}
trap e2e_cleanup EXIT

run() { "$ISOLA" run --rm "$@" 2>&1; }
db() { sqlite3 "$ISOLA_ROOT/isola.db" "$1" 2>/dev/null; }
fetch() { echo "echo GET | nc -w 3 $1 ${2:-80}"; }
# the server in the container may start after `run -d` returns: retry 5 s
curl_until() {
	local i out
	for i in $(seq 25); do
		out=$(curl -s -m 2 "$1") && [ -n "$out" ] && break
		sleep 0.2
	done
	echo "$out"
}
addr_of() { "$ISOLA" inspect "$1" | tr -d ' \n' | sed -n "s/.*\"$2\":{\"IPAddress\":\"\([0-9.]*\)\".*/\1/p"; }
"$ISOLA" network create --subnet 10.199.70.0/24 n2-a >/dev/null
"$ISOLA" network create --subnet 10.199.71.0/24 n2-b >/dev/null
"$ISOLA" network create --subnet 10.199.72.0/24 n2-c >/dev/null
br() { "$ISOLA" network inspect "$1" | sed -n 's/.*"network_interface":"\([^"]*\)".*/\1/p'; }
BRA=$(br n2-a) BRB=$(br n2-b) BRC=$(br n2-c)

# the default network is the bridge "isola"
out=$(run "$IMG" ip -4 -o addr show eth0)
check_match "run without --network: eth0 on the default bridge network" "$out" 'inet 10\.(88|9[0-9])\.'
check "--network none still has only lo" test "$(run --network none "$IMG" ip -o link | grep -vc ': lo:')" = 0
check_match "--network bridge is the default network" "$(run --network bridge "$IMG" ip -4 -o addr show eth0)" 'inet 10\.(88|9[0-9])\.'

# two networks on one container
quiet "$ISOLA" run -d --name n2-sa --hostname sa --network n2-a "$IMG" nc -ll -p 80 -e /srv.sh
quiet "$ISOLA" run -d --name n2-sb --hostname sb --network n2-b "$IMG" nc -ll -p 80 -e /srv.sh
check "run -d on two networks (--network twice, per-network alias)" quiet "$ISOLA" run -d --name n2-two \
	--network n2-a --network-alias twoa --network n2-b:alias=twob "$IMG" sleep 300
note_veths "$BRA"
note_veths "$BRB"
check_match "eth0 on the first network" "$("$ISOLA" exec n2-two ip -4 -o addr show eth0)" 'inet 10\.199\.70\.'
check_match "eth1 on the second" "$("$ISOLA" exec n2-two ip -4 -o addr show eth1)" 'inet 10\.199\.71\.'
sa=$(addr_of n2-sa n2-a) sb=$(addr_of n2-sb n2-b)
check_match "inspect: the servers' addresses" "$sa $sb" '^10\.199\.70\.[0-9]+ 10\.199\.71\.[0-9]+$'
check_eq "it reaches the server on the first network" "$("$ISOLA" exec n2-two sh -c "$(fetch "$sa")" | grep -c 'hello from sa')" 1
check_eq "and the server on the second" "$("$ISOLA" exec n2-two sh -c "$(fetch "$sb")" | grep -c 'hello from sb')" 1
check_match "it resolves a name of the first network" "$("$ISOLA" exec n2-two nslookup n2-sa 2>&1)" "Address:? $sa"
check_match "and a name of the second (through its first nameserver)" "$("$ISOLA" exec n2-two nslookup n2-sb 2>&1)" "Address:? $sb"
check_match "its alias on n2-a resolves there" "$(run --network n2-a "$IMG" nslookup twoa)" 'Address:? 10\.199\.70\.'
check_match "its alias on n2-b resolves there" "$(run --network n2-b "$IMG" nslookup twob)" 'Address:? 10\.199\.71\.'
check_match "the n2-b alias is not a name on n2-a" "$(run --network n2-a "$IMG" nslookup twob.dns.isola)" 'NXDOMAIN'
check_eq "isolation: n2-a cannot reach n2-b's server" "$(run --network n2-a "$IMG" sh -c "$(fetch "$sb" 80) 2>/dev/null" | grep -c hello)" 0
check_eq "isolation: n2-c reaches neither" "$(run --network n2-c "$IMG" sh -c "$(fetch "$sa"); $(fetch "$sb")" 2>/dev/null | grep -c hello)" 0
insp=$("$ISOLA" inspect n2-two | tr -d ' \n')
check_match "inspect shows both networks" "$insp" '"Networks":\{"n2-a":\{"IPAddress":"10\.199\.70\.[0-9]+".*"n2-b":\{"IPAddress":"10\.199\.71\.'
check_eq "--ip on the first network, ip= on the second" \
	"$(run --network n2-a --ip 10.199.70.50 --network n2-b:ip=10.199.71.60 "$IMG" sh -c \
		'ip -4 -o addr show eth0; ip -4 -o addr show eth1' | awk '{ print $4 }' | tr '\n' ' ')" \
	"10.199.70.50/24 10.199.71.60/24 "
check_match "a bad extra network is refused by name" "$("$ISOLA" run --rm --network n2-a --network n2-nope "$IMG" true 2>&1)" "network 'n2-nope' not found"
check_eq "and leaves no container" "$("$ISOLA" ps -aq | wc -l)" 3

# container:REF shares the network namespace (localhost too)
quiet "$ISOLA" run -d --name n2-lo --hostname lo1 --network n2-a "$IMG" nc -ll -p 21000 -e /srv.sh
sleep 0.2
check_eq "container:NAME reaches the other's localhost" \
	"$(run --network container:n2-lo "$IMG" sh -c "$(fetch 127.0.0.1 21000)" | grep -c 'hello from lo1')" 1
check_eq "it has the other's address" "$(run --network container:n2-lo "$IMG" ip -4 -o addr show eth0 | awk '{ print $4 }' | cut -d/ -f1)" \
	"$(addr_of n2-lo n2-a)"
id=$("$ISOLA" inspect n2-lo | sed -n 's/.*"Id": *"\([0-9a-f]*\)".*/\1/p' | head -1)
check_eq "container:ID (an id prefix) works too" "$(run --network "container:${id:0:12}" "$IMG" sh -c "$(fetch 127.0.0.1 21000)" | grep -c hello)" 1
quiet "$ISOLA" run -d --name n2-none --network none "$IMG" sleep 300
check_match "container:REF with no namespace of its own is refused" \
	"$("$ISOLA" run --rm --network container:n2-none "$IMG" true 2>&1)" "container 'n2-none' has no network namespace to join"
check_match "container:REF with -p is refused" \
	"$("$ISOLA" run --rm --network container:n2-lo -p 21001:80 "$IMG" true 2>&1)" 'publish ports on the container whose network is joined'

# a bad container:REF leaves nothing behind
snap() {
	ls "$ISOLA_ROOT/run/netns" 2>/dev/null | sort | tr '\n' ' '
	db "SELECT count(*) FROM net_attachments; SELECT count(*) FROM net_leases; SELECT count(*) FROM containers" | tr '\n' ' '
	nft list table inet "$NT_TABLE" 2>/dev/null | grep -v handle | md5sum
	ip -o link | awk -F': ' '{ print $2 }' | sort | md5sum
	ls "$ISOLA_ROOT/containers" | sort | tr '\n' ' '
}
before=$(snap)
check_match "--network container:nope: a clear error" "$("$ISOLA" run --rm --network container:n2-nope "$IMG" true 2>&1)" \
	"container:n2-nope.*no such container"
check_eq "and nothing made (netns, rows, nft rules, links, container dirs)" "$(snap)" "$before"

# -P: every ExposedPort gets a host port
mkdir -p "$ISOLA_ROOT/ctx"
printf 'FROM %s\nEXPOSE 80 8081/udp\n' "$IMG" >"$ISOLA_ROOT/ctx/Containerfile"
if "$ISOLA" build -t localhost/n2-exposed:latest "$ISOLA_ROOT/ctx" >/dev/null 2>&1; then
	check "run -d -P" quiet "$ISOLA" run -d -P --name n2-pub --hostname pub --network n2-a \
		localhost/n2-exposed:latest nc -ll -p 80 -e /srv.sh
	ports=$("$ISOLA" port n2-pub 2>&1)
	check_match "isola port: 80/tcp got a host port" "$ports" '80/tcp -> 0\.0\.0\.0:[0-9]+'
	check_match "isola port: 8081/udp too" "$ports" '8081/udp -> 0\.0\.0\.0:[0-9]+'
	hp=$(sed -n 's#^80/tcp -> 0\.0\.0\.0:\([0-9]*\)$#\1#p' <<<"$ports")
	sleep 0.2
	check_eq "the picked port answers curl on 127.0.0.1" "$(curl_until "http://127.0.0.1:$hp/")" "hello from pub"
	check_match "inspect shows the ports" "$("$ISOLA" inspect n2-pub | tr -d ' \n')" "\"80/tcp\":\\[\\{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$hp\"\\}\\]"
	check "-P with -p for the same port publishes it once" quiet "$ISOLA" run -d -P -p 21002:80 --name n2-pub2 \
		--network n2-a localhost/n2-exposed:latest sleep 300
	check_eq "isola port: 80/tcp only on 21002" "$("$ISOLA" port n2-pub2 | grep -c '^80/tcp')" 1
	check_match "and that is 21002" "$("$ISOLA" port n2-pub2)" '80/tcp -> 0\.0\.0\.0:21002'
else
	for i in 1 2 3 4 5 6 7 8; do skip "-P: isola build (for an image with EXPOSE) does not work here"; done
fi

# user-space back ends through the engine (what a rootless engine uses)
if command -v pasta >/dev/null; then
	check "run -d --network pasta -p 21040:80" quiet "$ISOLA" run -d --name n2-pasta --hostname pst \
		--network pasta -p 21040:80 "$IMG" nc -ll -p 80 -e /srv.sh
	sleep 0.3
	check_eq "pasta: the published port answers on 127.0.0.1" "$(curl_until http://127.0.0.1:21040/)" "hello from pst"
	check_match "pasta: isola port" "$("$ISOLA" port n2-pasta)" '80/tcp -> 0\.0\.0\.0:21040'
	check_match "pasta: resolv.conf names its forwarder" "$("$ISOLA" exec n2-pasta cat /etc/resolv.conf)" 'nameserver 169\.254\.1\.1'
	ppid_=$(cut -d' ' -f1 "$ISOLA_ROOT/run/net/pasta-$("$ISOLA" inspect n2-pasta | sed -n 's/.*"Id": *"\([0-9a-f]*\)".*/\1/p' | head -1).pid")
	quiet "$ISOLA" rm -f n2-pasta
	check_match "pasta: rm stops it" "$(awk '{ print $3 }' "/proc/$ppid_/stat" 2>/dev/null || echo gone)" '^(gone|Z)$'
	check_eq "pasta: the port is free again" "$(curl -s -m 2 http://127.0.0.1:21040/)" ""
else
	for i in 1 2 3 4 5 6; do skip "pasta not installed (Debian package passt)"; done
fi
if command -v slirp4netns >/dev/null; then
	check_match "run --network slirp4netns: tap0 and slirp's DNS" \
		"$(run --network slirp4netns "$IMG" sh -c 'ip -4 -o addr show tap0; cat /etc/resolv.conf')" \
		'10\.0\.2\.100/24.*nameserver 10\.0\.2\.3'
else
	skip "slirp4netns not installed"
fi

# start-up clean-up: a removed netns under a running container
quiet "$ISOLA" run -d --name n2-gc --network n2-c -p 21003:80 "$IMG" sleep 300
note_veths "$BRC"
gid=$(db "SELECT container_id FROM net_attachments WHERE network = 'n2-c'")
gveth=$(db "SELECT host_ifname FROM net_attachments WHERE network = 'n2-c'")
gip=$(db "SELECT ip FROM net_attachments WHERE network = 'n2-c'" | cut -d/ -f1)
check_match "n2-gc's published port is a DNAT rule to its address" "$(nft list table inet "$NT_TABLE")" "dnat ip to $gip:80"
kill -9 "$("$ISOLA" inspect n2-gc | sed -n 's/.*"MonitorPid": *\([0-9]*\).*/\1/p')" \
	"$("$ISOLA" inspect n2-gc | sed -n 's/.*"Pid": *\([0-9]*\).*/\1/p')" 2>/dev/null
umount "$ISOLA_ROOT/run/netns/$gid" && rm -f "$ISOLA_ROOT/run/netns/$gid"
quiet "$ISOLA" ps -a
check_eq "the next command removed its attachment, lease and port" \
	"$(db "SELECT count(*) FROM net_attachments WHERE container_id = '$gid'; SELECT count(*) FROM net_leases WHERE ip LIKE '$gip%'; SELECT count(*) FROM net_ports WHERE host_port = 21003" | tr '\n' ' ')" "0 0 0 "
check_eq "and its DNAT rule" "$(nft list table inet "$NT_TABLE" 2>/dev/null | grep -c "$gip")" 0
wait_no_veth
check "its veth is gone" not ip link show "$gveth"

# a --rm container whose monitor is killed: the next command removes it
quiet "$ISOLA" run -d --rm --name n2-rmk --network n2-c "$IMG" sleep 300
kid=$(db "SELECT container_id FROM net_attachments WHERE network = 'n2-c'")
kill -9 "$("$ISOLA" inspect n2-rmk | sed -n 's/.*"MonitorPid": *\([0-9]*\).*/\1/p')" \
	"$("$ISOLA" inspect n2-rmk | sed -n 's/.*"Pid": *\([0-9]*\).*/\1/p')" 2>/dev/null
sleep 0.3
check_eq "after kill -9 of its monitor, isola ps no longer lists it" "$("$ISOLA" ps -a 2>/dev/null | grep -c n2-rmk)" 0
check_eq "its attachment, lease and netns are gone" \
	"$(db "SELECT count(*) FROM net_attachments WHERE container_id = '$kid'"; ls "$ISOLA_ROOT/run/netns" | grep -c "$kid")" "0
0"

for c in $("$ISOLA" ps -aq); do "$ISOLA" rm -f "$c" >/dev/null 2>&1; done
"$ISOLA" network rm n2-a n2-b n2-c >/dev/null
stop_servers
wait_no_veth
check_eq "nothing left (bridges, veths, nft table, leases, responders)" "$(net_leftovers "$BRA" "$BRB" "$BRC")" ""
done_testing
