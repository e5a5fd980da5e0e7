#!/usr/bin/env bash
# Published ports (from the host on 127.0.0.1 and its own address, from
# another namespace), port conflicts, random ports, the generated
# resolv.conf/hosts (--dns, --add-host), an exhausted subnet, an unknown
# network, and net_gc after a "crash"; nothing half made on any refusal.
source "$(dirname "$0")/lib.sh"
net_require
command -v curl >/dev/null || skip_all "needs curl"
command -v python3 >/dev/null || skip_all "needs python3"

"$ISOLA" network create --subnet 10.199.40.0/24 nt-pub >/dev/null
BR=$("$ISOLA" network inspect nt-pub | sed -n 's/.*"network_interface":"\([^"]*\)".*/\1/p')
ctr_new nt-pa web nt-pub -p 19880:80 -p 127.0.0.1:19881:81 -p 19882 >/dev/null || not_ok "attach with ports"
note_veths "$BR"
ports=$("$NETCTL" ports nt-pa)
check_match "ports recorded" "$ports" $'80/tcp 0.0.0.0:19880\n81/tcp 127.0.0.1:19881\n19882/tcp 0.0.0.0:[0-9]+'
rnd=$(awk '$1 == "19882/tcp" { split($2, p, ":"); print p[2] }' <<<"$ports")
check "-p CTR alone picks a free host port" test "$rnd" -gt 0
serve_in nt-pa 80 p80
serve_in nt-pa 81 p81
serve_in nt-pa 19882 prnd
check_eq "published port answers curl on 127.0.0.1" "$(curl -s -m 5 http://127.0.0.1:19880/)" "hello from p80"
hostip=$(ip -4 -o addr show scope global | awk '{ split($4, a, "/"); print a[1] }' |
	grep -Ev '^10\.(88|89|199)\.' | head -1)
if [ -n "$hostip" ]; then
	check_eq "published port answers curl on the host's address ($hostip)" \
		"$(curl -s -m 5 "http://$hostip:19880/")" "hello from p80"
	check_eq "127.0.0.1-only port is not on the host's address" \
		"$(curl -s -m 2 "http://$hostip:19881/")" ""
else
	skip "no global host address"
	skip "no global host address"
fi
check_eq "127.0.0.1-only port answers on 127.0.0.1" "$(curl -s -m 5 http://127.0.0.1:19881/)" "hello from p81"
check_eq "random host port answers" "$(curl -s -m 5 "http://127.0.0.1:$rnd/")" "hello from prnd"
hostns_new nt-nbr 10.199.251.1 10.199.251.2
check_eq "published port answers curl from another namespace" \
	"$(ip netns exec nt-nbr curl -s -m 5 http://10.199.251.1:19880/)" "hello from p80"
ctr_new nt-pb other nt-pub >/dev/null || not_ok "attach nt-pb"
check_eq "a container reaches a published port through the host (hairpin)" \
	"$(in_ctr nt-pb "$BB" nc -w 3 10.199.251.1 19880 <<<'GET / HTTP/1.0' | tail -1)" "hello from p80"

# refusals: one message naming the port, nothing made
state() { sqlite3 "$ISOLA_ROOT/isola.db" "SELECT count(*) FROM net_leases; SELECT count(*) FROM net_attachments; SELECT count(*) FROM net_ports" | tr '\n' ' '; ip -o link show master "$BR" | wc -l; }
refused() { # refused "name" regex id network args...
	local name=$1 re=$2 id=$3 before err rc
	shift 3
	before=$(state)
	NT_CTRS+=("$id")
	"$NETCTL" ns-create "$id" >/dev/null
	err=$("$NETCTL" attach "$id" "$id" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 0 ] && [[ "$err" =~ $re ]] && [ "$(wc -l <<<"$err")" -eq 1 ] && [ "$(state)" = "$before" ]; then
		ok "$name"
	else
		not_ok "$name"; diag "rc=$rc err=$err"; diag "state $before -> $(state)"
	fi
	"$NETCTL" ns-remove "$id"
}
refused "port already published is refused" "port 19880/tcp is already published by container 'web'" nt-px nt-pub -p 19880:8080
refused "same port on one address vs all is refused" "port 19881/tcp is already published" nt-px nt-pub -p 19881:81
python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 19890)); s.listen(1); time.sleep(30)' &
NT_PIDS+=($!)
for i in $(seq 50); do ss -ltn | grep -q ':19890 ' && break; sleep 0.1; done
refused "port bound on the host is refused" "port 19890/tcp is already bound on the host" nt-px nt-pub -p 19890:80
refused "unknown network" "network 'nt-nope' not found" nt-px nt-nope
refused "an alias that would smuggle a hosts line" "network alias 'x 1.2.3.4 bank': use" nt-px nt-pub --alias 'x 1.2.3.4 bank'
refused "udp port published twice in one request" "published twice" nt-px nt-pub -p 19891:53/udp -p 19891:54/udp
ctr_new nt-pu udp nt-pub -p 19880:53/udp >/dev/null
check_eq "udp and tcp of one port number are distinct" "$("$NETCTL" ports nt-pu)" "53/udp 0.0.0.0:19880"

# generated files
r=$("$NETCTL" resolv nt-pa)
check_match "resolv.conf: the network's responder, search domain" "$r" $'search dns.isola\nnameserver 10.199.40.1'
check_eq "--dns replaces the servers" "$("$NETCTL" resolv nt-pa 192.0.2.53 | grep -c '^nameserver 192.0.2.53$')" 1
check_match "--dns with a bad address refused" "$("$NETCTL" resolv nt-pa nope 2>&1)" "--dns 'nope': not an IP address"
h=$("$NETCTL" hosts nt-pa web-host gw:host-gateway db.example:192.0.2.9)
check_match "hosts: own name and hostname" "$h" $'10\\.199\\.40\\.[0-9]+\tweb-host web'
check_match "hosts: --add-host NAME:IP" "$h" $'192.0.2.9\tdb.example'
check_match "hosts: --add-host host-gateway" "$h" $'10.199.40.1\tgw'
check_match "hosts: --add-host without IP refused" "$("$NETCTL" hosts nt-pa h bad 2>&1)" "--add-host 'bad': expected NAME:IP"

# exhausted subnet: a /29 has 5 addresses after the gateway
"$ISOLA" network create --subnet 10.199.41.0/29 nt-small >/dev/null
BR2=$("$ISOLA" network inspect nt-small | sed -n 's/.*"network_interface":"\([^"]*\)".*/\1/p')
for i in 1 2 3 4 5; do ctr_new nt-s$i s$i nt-small >/dev/null || not_ok "attach nt-s$i"; done
NT_CTRS+=(nt-s6 nt-s7)
note_veths "$BR2"
err=$(ctr_new nt-s6 s6 nt-small 2>&1)
check_match "exhausted subnet: clear error" "$err" "network 'nt-small' \(10\.199\.41\.0/29\): no free address left"
check_eq "exhausted subnet: no veth made" "$(ip -o link show master "$BR2" | wc -l)" 5
ctr_rm nt-s3
check_match "a freed address is handed out again" "$(ctr_new nt-s7 s7 nt-small)" '10\.199\.41\.4/29'

# net_gc after a crash: a container whose namespace vanished without
# detach, a responder killed, a stale bridge of a network marked down
"$NETCTL" ns-remove nt-s1
"$NETCTL" ns-remove nt-s2
kill "$(cut -d' ' -f1 "$ISOLA_ROOT/run/net/dns-nt-small.pid")"
check "gc runs" "$NETCTL" gc
check_eq "gc: the vanished containers' leases and rows are gone" \
	"$(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT count(*) FROM net_attachments WHERE container_id IN ('nt-s1','nt-s2')") $(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT count(*) FROM net_leases WHERE container_id IN ('nt-s1','nt-s2')")" "0 0"
check_match "gc keeps the live containers" "$(sqlite3 "$ISOLA_ROOT/isola.db" "SELECT group_concat(container_id) FROM net_attachments WHERE network = 'nt-small'")" 'nt-s4.*nt-s5|nt-s5.*nt-s4'
check_match "gc restarts the killed responder" "$(in_ctr_files nt-s4 "$BB" nslookup s5 2>&1)" "Address:? 10\.199\.41\."

stop_servers
for id in nt-pa nt-pb nt-pu nt-s4 nt-s5 nt-s7; do ctr_rm "$id"; done
"$ISOLA" network rm nt-pub nt-small >/dev/null
wait_no_veth
check_eq "nothing left (bridges, veths, nft table, leases, ports, responders)" "$(net_leftovers "$BR" "$BR2")" ""
done_testing
