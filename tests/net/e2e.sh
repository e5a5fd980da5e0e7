#!/usr/bin/env bash
# End to end through the engine: `isola run --network/-p/--network-alias` on
# a busybox image. Two containers of one network find each other by name
# (busybox nslookup; fetch by that address with nc: a static busybox cannot
# resolve names itself), a container of another network cannot reach them,
# a published port answers curl from the host (127.0.0.1 and its address)
# and from another namespace, outbound traffic is masqueraded, --internal has
# no way out, rm of a network in use is refused, and nothing is left.
source "$(dirname "$0")/lib.sh"
net_require
command -v curl >/dev/null || skip_all "needs curl"
command -v python3 >/dev/null || skip_all "needs python3"
[ -x "$ISOLA_BUILD/isola-monitor" ] || skip_all "engine not built (isola-monitor)"

rootfs=$ISOLA_ROOT/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp"
cp "$BB" "$rootfs/bin/busybox"
for t in sh nc nslookup ping sleep cat echo true awk ip; do ln -s busybox "$rootfs/bin/$t"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
echo "root:x:0:" >"$rootfs/etc/group"
printf '#!/bin/sh\nread line\nprintf "HTTP/1.0 200 OK\\r\\n\\r\\nhello from $(cat /etc/hostname)\\n"\n' >"$rootfs/srv.sh"
chmod +x "$rootfs/srv.sh"
IMG=localhost/nt-e2e:latest
tar -C "$rootfs" -cf "$ISOLA_ROOT/rootfs.tar" . &&
	"$ISOLA" import "$ISOLA_ROOT/rootfs.tar" "$IMG" >/dev/null 2>&1 ||
	skip_all "isola import does not work in this build"
"$ISOLA" run --rm --network none "$IMG" /bin/true >/dev/null 2>&1 || skip_all "isola run does not work here"

e2e_cleanup() {
	local id
	for id in $("$ISOLA" ps -aq 2>/dev/null); do "$ISOLA" rm -f "$id" >/dev/null 2>&1; done
	net_cleanup
}
trap e2e_cleanup EXIT

run() { "$ISOLA" run --rm "$@" 2>&1; }
"$ISOLA" network create --subnet 10.199.60.0/24 nt-e2e >/dev/null
"$ISOLA" network create --subnet 10.199.61.0/24 nt-e2e-b >/dev/null
"$ISOLA" network create --internal --subnet 10.199.62.0/24 nt-e2e-int >/dev/null
br() { "$ISOLA" network inspect "$1" | sed -n 's/.*"network_interface":"\([^"]*\)".*/\1/p'; }
BR1=$(br nt-e2e) BR2=$(br nt-e2e-b) BR3=$(br nt-e2e-int)

check "run -d a server on nt-e2e with an alias" quiet "$ISOLA" run -d --name nt-web --hostname web \
	--network nt-e2e --network-alias www "$IMG" nc -ll -p 80 -e /srv.sh
check "run -d a second container on nt-e2e" quiet "$ISOLA" run -d --name nt-db --network nt-e2e "$IMG" sleep 120
note_veths "$BR1"
check_match "resolv.conf names the network's responder" "$(run --network nt-e2e "$IMG" cat /etc/resolv.conf)" 'nameserver 10\.199\.60\.1'
out=$(run --network nt-e2e "$IMG" nslookup nt-web)
check_match "a container finds nt-web by name" "$out" 'Address:? 10\.199\.60\.[0-9]+'
webip=$(awk '/^Address/ { a = $NF } END { print a }' <<<"$out")
check_match "and by its alias" "$(run --network nt-e2e "$IMG" nslookup www)" "Address:? $webip"
# busybox ping needs a raw socket: CAP_NET_RAW is not in the default set
check_match "a container pings nt-web's address" \
	"$(run --cap-add NET_RAW --network nt-e2e "$IMG" ping -c1 -W2 "$webip")" '1 packets received'
check_match "nt-db resolves and fetches from nt-web" \
	"$("$ISOLA" exec nt-db sh -c 'ip=$(nslookup nt-web | awk "/^Address/ { a = \$NF } END { print a }"); echo GET | nc -w 3 $ip 80')" \
	'hello from web'
check_match "another network does not resolve nt-web" "$(run --network nt-e2e-b "$IMG" nslookup nt-web.dns.isola)" 'NXDOMAIN'
check_eq "another network cannot reach nt-web" "$(run --network nt-e2e-b "$IMG" sh -c "echo GET | nc -w 2 $webip 80" | grep -c hello)" 0

# published ports
check "run -d -p 19895:80 -p 80 (random)" quiet "$ISOLA" run -d --name nt-pub --hostname pub \
	--network nt-e2e -p 19895:80 -p 19896/tcp "$IMG" nc -ll -p 80 -e /srv.sh
sleep 0.3
check_eq "curl 127.0.0.1:19895 from the host" "$(curl -s -m 5 http://127.0.0.1:19895/)" "hello from pub"
hostip=$(ip -4 -o addr show scope global | awk '{ split($4, a, "/"); print a[1] }' |
	grep -Ev '^10\.(88|89|199)\.' | head -1)
if [ -n "$hostip" ]; then
	check_eq "curl the host's address ($hostip)" "$(curl -s -m 5 "http://$hostip:19895/")" "hello from pub"
else
	skip "no global host address"
fi
hostns_new nt-e2e-nbr 10.199.252.1 10.199.252.2
check_eq "curl from another namespace" "$(ip netns exec nt-e2e-nbr curl -s -m 5 http://10.199.252.1:19895/)" "hello from pub"
check_match "isola port lists the published ports" "$("$ISOLA" port nt-pub 2>&1)" '80/tcp.*19895'
err=$("$ISOLA" run -d --name nt-pub2 --network nt-e2e -p 19895:80 "$IMG" true 2>&1)
check_match "a port already published is refused" "$err" "port 19895/tcp is already published by container 'nt-pub'"
check_eq "the refused container is not left" "$("$ISOLA" ps -a --format json 2>/dev/null | grep -c nt-pub2)" 0

# outbound: masquerade to a fake internet; --internal goes nowhere
hostns_new nt-e2e-inet 10.199.253.1 10.199.253.2 && ip -n nt-e2e-inet addr add 203.0.113.11/32 dev lo
ip route add 203.0.113.11/32 via 10.199.253.2
ip netns exec nt-e2e-inet python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("203.0.113.11", 19872)); s.listen(4)
while True:
    c, peer = s.accept(); c.sendall((peer[0] + "\n").encode()); c.close()
' &
NT_PIDS+=($!)
wait_listen nt-e2e-inet 19872
check_eq "outbound is masqueraded (the peer sees the host's address)" \
	"$(run --network nt-e2e "$IMG" nc -w 3 203.0.113.11 19872 </dev/null)" 10.199.253.1
check_eq "--internal: nothing leaves" "$(run --network nt-e2e-int "$IMG" nc -w 2 203.0.113.11 19872 </dev/null | grep -c 10.199)" 0
ip route del 203.0.113.11/32 via 10.199.253.2

# network connect/disconnect of a running container
check "network connect a running container to a second network" quiet "$ISOLA" network connect --alias dbb nt-e2e-b nt-db
check_match "it has eth1 on that network" "$("$ISOLA" exec nt-db ip -4 -o addr show eth1 2>&1)" '10\.199\.61\.'
check_match "and is found there by its alias" "$(run --network nt-e2e-b "$IMG" nslookup dbb)" 'Address:? 10\.199\.61\.'
check "network disconnect" quiet "$ISOLA" network disconnect nt-e2e-b nt-db
check_eq "eth1 is gone" "$("$ISOLA" exec nt-db ip -o link show eth1 2>/dev/null | wc -l)" 0

check_match "rm of a network in use is refused" "$("$ISOLA" network rm nt-e2e 2>&1)" "network 'nt-e2e' is in use by 3 containers"
for c in nt-web nt-db nt-pub; do "$ISOLA" rm -f "$c" >/dev/null 2>&1; done
"$ISOLA" network rm nt-e2e nt-e2e-b nt-e2e-int >/dev/null
stop_servers
wait_no_veth
check_eq "nothing left (bridges, veths, nft table, leases, responders)" "$(net_leftovers "$BR1" "$BR2" "$BR3")" ""
done_testing
