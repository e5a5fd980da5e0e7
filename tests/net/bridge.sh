#!/usr/bin/env bash
# Bridge networking end to end on namespaces: two containers of one network
# reach each other by address and by name, a third on another network cannot
# reach them, outbound traffic to a fake "internet" namespace is masqueraded
# (the peer sees the host's address), --internal has no way out, and after
# everything is removed nothing is left.
source "$(dirname "$0")/lib.sh"
net_require
command -v python3 >/dev/null || skip_all "needs python3 (the internet's listener)"

"$ISOLA" network create --subnet 10.199.30.0/24 nt-one >/dev/null
"$ISOLA" network create --subnet 10.199.31.0/24 nt-two >/dev/null
"$ISOLA" network create --internal --subnet 10.199.32.0/24 nt-int >/dev/null
br() { "$ISOLA" network inspect "$1" | sed -n 's/.*"network_interface":"\([^"]*\)".*/\1/p'; }
BR1=$(br nt-one) BR2=$(br nt-two) BR3=$(br nt-int)

a=$(ctr_new nt-a web nt-one --alias www) || not_ok "attach nt-a"
b=$(ctr_new nt-b db nt-one) || not_ok "attach nt-b"
c=$(ctr_new nt-c other nt-two) || not_ok "attach nt-c"
ctr_new nt-d inner nt-int >/dev/null || not_ok "attach nt-d"
note_veths "$BR1"; note_veths "$BR2"; note_veths "$BR3"
check_match "attach reports eth0, address, gateway, MAC" "$a" '^eth0 10\.199\.30\.2/24 10\.199\.30\.1 02:5a:0a:c7:1e:02$'
ipa=${a#* } ipa=${ipa%%/*}
ipb=${b#* } ipb=${ipb%%/*}
ipc=${c#* } ipc=${ipc%%/*}
check_eq "one bridge per network, the veths on it" "$(ip -o link show master "$BR1" | wc -l)" 2
check_match "bridge has the gateway address" "$(ip -4 -o addr show "$BR1")" '10\.199\.30\.1/24'
check_match "container: default route via the gateway" "$(in_ctr nt-a ip route show default)" '^default via 10\.199\.30\.1 dev eth0'
check_match "container: MTU 1500 and lo up" "$(in_ctr nt-a ip -o link show eth0) $(in_ctr nt-a ip -o link show lo)" 'mtu 1500.*LOOPBACK,UP'

check "ping by address on one network" quiet in_ctr nt-a "$BB" ping -c1 -W2 "$ipb"
dns() { in_ctr_files "$1" "$BB" nslookup "$2" 2>&1; }
check_match "name resolves through the network's responder" "$(dns nt-a db)" "Name:[[:space:]]+db(\.dns\.isola)?[[:space:]]+Address:? $ipb"
check_match "alias resolves" "$(dns nt-b www)" "Address:? $ipa"
check_match "NAME.dns.isola resolves" "$(dns nt-b web.dns.isola)" "Address:? $ipa"
check_match "unknown name: NXDOMAIN" "$(dns nt-a nt-nobody.dns.isola)" "NXDOMAIN"
check_match "a name of another network does not resolve" "$(dns nt-c web.dns.isola)" "NXDOMAIN"
check_match "/etc/hosts lists the network's containers" "$("$NETCTL" hosts nt-a nt-a)" "$ipb	db"
serve_in nt-b 80 db
resolved=$(dns nt-a db | awk '/^Address/ { a = $NF } END { print a }')
check_match "fetch by the resolved name's address" "$(in_ctr nt-a "$BB" nc -w 3 "$resolved" 80 <<<'GET / HTTP/1.0')" 'hello from db'

check "another network cannot ping in" not in_ctr nt-c "$BB" ping -c1 -W1 "$ipb"
check_eq "another network cannot connect in" "$(in_ctr nt-c "$BB" nc -w 2 "$ipb" 80 </dev/null 2>/dev/null)" ""
check "nor the other way round" not in_ctr nt-a "$BB" ping -c1 -W1 "$ipc"
check_match "another network's responder does not answer (its names stay private)" \
	"$(in_ctr nt-c timeout 5 "$BB" nslookup web 10.199.30.1 2>&1)" 'timed out|no servers|^$'
check_match "--internal: the responder forwards nothing out" \
	"$(in_ctr nt-d timeout 5 "$BB" nslookup nt-x.example 10.199.32.1 2>&1)" 'SERVFAIL'
check_match "--internal: names of the network still resolve" \
	"$(in_ctr nt-d timeout 5 "$BB" nslookup inner 10.199.32.1 2>&1)" 'Address:? 10\.199\.32\.'

# The "internet": 203.0.113.10 exists only inside nt-inet, reached over a
# veth whose host side is 10.199.250.1.
hostns_new nt-inet 10.199.250.1 10.199.250.2 && ip -n nt-inet addr add 203.0.113.10/32 dev lo
ip route add 203.0.113.10/32 via 10.199.250.2
ip -n nt-inet route add 10.199.0.0/16 via 10.199.250.1 # would let unmasqueraded traffic back
ip netns exec nt-inet python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("203.0.113.10", 19871)); s.listen(4); s.settimeout(20)
while True:
    c, peer = s.accept()
    c.sendall((peer[0] + "\n").encode()); c.close()
' &
NT_PIDS+=($!)
wait_listen nt-inet 19871
seen=$(in_ctr nt-a "$BB" nc -w 3 203.0.113.10 19871 </dev/null)
check_eq "outbound is masqueraded: the internet sees the host's address" "$seen" 10.199.250.1
check_eq "--internal: no default route" "$(in_ctr nt-d ip route show default)" ""
seen=$(in_ctr nt-d "$BB" nc -w 2 203.0.113.10 19871 </dev/null 2>&1)
check_match "--internal: the internet is unreachable" "$seen" "unreachable"
in_ctr nt-d ip route add default via 10.199.32.1 2>/dev/null
seen=$(in_ctr nt-d "$BB" nc -w 2 203.0.113.10 19871 </dev/null 2>&1)
check_eq "--internal: even with a route added inside, nothing leaves" "$(grep -c 10.199 <<<"$seen")" 0

# IPv6: --ipv6 gives each container an address of the network's ULA /64
"$ISOLA" network create --ipv6 --subnet 10.199.33.0/24 nt-six >/dev/null
BR6=$(br nt-six)
ctr_new nt-v1 v1 nt-six >/dev/null && ctr_new nt-v2 v2 nt-six >/dev/null
NT_CTRS+=(nt-v1 nt-v2)
note_veths "$BR6"
v2=$("$ISOLA" network inspect nt-six | sed -n 's/.*"ipv6":"\([^"/]*\)\/64".*/\1/p' | tail -1)
check_match "IPv6: an address in the ULA /64 and a default route" \
	"$(in_ctr nt-v1 ip -6 -o addr show eth0 scope global) $(in_ctr nt-v1 ip -6 route show default)" \
	'inet6 fd[0-9a-f:]+/64.*default via fd[0-9a-f:]+::1 dev eth0'
check "IPv6: containers ping each other" quiet in_ctr nt-v1 "$BB" ping -c1 -W2 "$v2"
check_match "IPv6: the responder answers AAAA" "$(in_ctr_files nt-v1 "$BB" nslookup -type=AAAA v2 2>&1)" "Address:? $v2"
ctr_rm nt-v1
ctr_rm nt-v2

# default network: in a test root its own bridge and a /24 (isola0 and
# 10.88.0.0/16 are the system root's)
e=$(ctr_new nt-e dflt isola)
DBR=$("$ISOLA" network inspect isola | sed -n 's/.*"network_interface":"\([^"]*\)".*/\1/p')
check_match "default network: its own isolaN bridge and a 10.9x.y.0/24" "$DBR $e" '^isola[1-9][0-9]* eth0 10\.9[0-9]\.[0-9]+\.2/24'
check_eq "default network: the container reaches the internet" \
	"$(in_ctr nt-e "$BB" nc -w 3 203.0.113.10 19871 </dev/null)" 10.199.250.1
note_veths "$DBR"
ctr_rm nt-e
check_eq "default network: its bridge goes with its last container" "$(ip link show "$DBR" 2>/dev/null | wc -l)" 0

stop_servers
for id in nt-a nt-b nt-c nt-d; do ctr_rm "$id"; done
check_eq "user networks keep their bridge until rm" "$(ip -o link show "$BR1" | wc -l)" 1
for n in nt-one nt-two nt-int nt-six; do "$ISOLA" network rm "$n" >/dev/null; done
ip route del 203.0.113.10/32 via 10.199.250.2
wait_no_veth
check_eq "nothing left (bridges, veths, nft table, leases, responders)" "$(net_leftovers "$BR1" "$BR2" "$BR3" "$BR6" "$DBR")" ""
done_testing
