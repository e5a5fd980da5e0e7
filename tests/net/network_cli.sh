#!/usr/bin/env bash
# `isola network` verbs: create/ls/inspect/rm/prune/connect/disconnect, the
# default network, bad input (one clear message, non-zero exit, nothing made).
source "$(dirname "$0")/lib.sh"
net_require
command -v jq >/dev/null || skip_all "needs jq"
command -v sqlite3 >/dev/null || skip_all "needs sqlite3"

out=$("$ISOLA" network ls --format json)
# isola0 and 10.88.0.0/16 are the system root's; a test root gets its own
check_match "default network 'isola' exists without being created (own bridge and /24 in a test root)" \
	"$(jq -r '.[] | select(.name == "isola") | .network_interface + " " + .subnets[0].subnet' <<<"$out")" \
	'^isola[1-9][0-9]* 10\.9[0-9]\.[0-9]+\.0/24$'

check_eq "create with --subnet prints the name" \
	"$("$ISOLA" network create --subnet 10.199.10.0/24 nt-cli1)" nt-cli1
j=$("$ISOLA" network inspect nt-cli1)
check_eq "inspect: subnet" "$(jq -r '.[0].subnets[0].subnet' <<<"$j")" 10.199.10.0/24
check_eq "inspect: gateway is the first host" "$(jq -r '.[0].subnets[0].gateway' <<<"$j")" 10.199.10.1
check_eq "inspect: not internal" "$(jq -r '.[0].internal' <<<"$j")" false
"$ISOLA" network create --internal --subnet 10.199.11.0/24 --gateway 10.199.11.254 nt-cli2 >/dev/null
j=$("$ISOLA" network inspect nt-cli2)
check_eq "--internal and --gateway recorded" \
	"$(jq -r '.[0].internal, .[0].subnets[0].gateway' <<<"$j" | tr '\n' ' ')" "true 10.199.11.254 "
"$ISOLA" network create --ipv6 --subnet 10.199.12.0/24 nt-cli6 >/dev/null
check_match "--ipv6 adds a ULA /64" "$("$ISOLA" network inspect nt-cli6 | jq -r '.[0].subnets[1].subnet')" '^fd[0-9a-f:]+::/64$'
check_match "ls (table) lists the networks" "$("$ISOLA" network ls)" 'nt-cli1 +bridge +isola[0-9]+ +10\.199\.10\.0/24 +false'
check_eq "ls -q" "$("$ISOLA" network ls -q | grep -c '^nt-cli')" 3
check_eq "no bridge before a container uses the network" \
	"$(ip link show "$(jq -r '.[0].network_interface' <<<"$("$ISOLA" network inspect nt-cli1)")" 2>&1 | grep -c 'does not exist')" 1

# bad input: one line naming the input, non-zero exit, nothing made
bad() { # bad "name" regex args...
	local name=$1 re=$2 err rc
	shift 2
	err=$("$ISOLA" network "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 0 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && [[ "$err" =~ $re ]]; then ok "$name"
	else not_ok "$name"; diag "rc=$rc: $err"; fi
}
before=$("$ISOLA" network ls -q | sort)
bad "CIDR that does not parse" "subnet '10.199.300.0/24'" create --subnet 10.199.300.0/24 nt-bad
bad "CIDR without a length" "subnet '10.199.20.0'.*ADDRESS/LENGTH" create --subnet 10.199.20.0 nt-bad
bad "CIDR with host bits" "host bits set.*10.199.20.0/24" create --subnet 10.199.20.7/24 nt-bad
bad "subnet overlapping another network" "overlaps network 'nt-cli1'" create --subnet 10.199.10.128/25 nt-bad
hostnet=$(ip -4 -o route show scope link | awk '$1 ~ /\// && $1 !~ /^10\.(88|89|199)\./ { print $1; exit }')
if [ -n "$hostnet" ]; then
	bad "subnet overlapping a host route" "overlaps host route" create --subnet "$hostnet" nt-bad
else
	skip "no host route to overlap"
fi
bad "gateway outside the subnet" "gateway '10.199.21.1': not a host address" create --subnet 10.199.22.0/24 --gateway 10.199.21.1 nt-bad
bad "name taken" "network 'nt-cli1' already exists" create nt-cli1
bad "bad name" "network name 'nt bad'" create "nt bad"
bad "reserved name" "network name 'isola' is reserved" create isola
bad "rm of an unknown network" "network 'nt-nope' not found" rm nt-nope
bad "inspect of an unknown network" "network 'nt-nope' not found" inspect nt-nope
bad "the default network cannot be removed" "default network" rm isola
bad "connect to an unknown container" "container 'nt-nobody' not found" connect nt-cli1 nt-nobody
check_eq "nothing made by the refused creates" "$("$ISOLA" network ls -q | sort)" "$before"

# connect/disconnect a container (a containers row as the engine makes it,
# plus its namespace) and rm of a network in use
cid=$(printf 'nt%062d' 1)
sqlite3 "$ISOLA_ROOT/isola.db" "INSERT INTO containers (id, name, config, state, created)
	VALUES ('$cid', 'nt-cli-ctr', '{}', 'running', 0)"
NT_CTRS+=("$cid")
"$NETCTL" ns-create "$cid" >/dev/null
check "connect --alias" "$ISOLA" network connect --alias nt-web nt-cli1 nt-cli-ctr
j=$("$ISOLA" network inspect nt-cli1)
check_match "inspect shows the container and its address" \
	"$(jq -r ".[0].containers[\"$cid\"] | .name + \" \" + .ipv4" <<<"$j")" '^nt-cli-ctr 10\.199\.10\.[0-9]+/24$'
check_match "the container has eth0 with that address" "$(in_ctr "$cid" ip -4 -o addr show eth0)" '10\.199\.10\.[0-9]+/24'
br1=$(jq -r '.[0].network_interface' <<<"$j")
note_veths "$br1"
bad "connect twice" "already connected to network 'nt-cli1'" connect nt-cli1 nt-cli-ctr
bad "rm of a network in use is refused" "network 'nt-cli1' is in use by 1 container" rm nt-cli1
check "connect by id prefix to a second network" "$ISOLA" network connect nt-cli2 "${cid:0:12}"
check_match "second network is eth1" "$(in_ctr "$cid" ip -4 -o addr show eth1)" '10\.199\.11\.'
note_veths "$(jq -r '.[0].network_interface' <<<"$("$ISOLA" network inspect nt-cli2)")"
check "disconnect" "$ISOLA" network disconnect nt-cli1 nt-cli-ctr
check_eq "eth0 gone from the container" "$(in_ctr "$cid" ip -o link show eth0 2>/dev/null | wc -l)" 0
bad "disconnect again" "not connected to network 'nt-cli1'" disconnect nt-cli1 nt-cli-ctr
check "rm once unused" eval "\"$ISOLA\" network rm nt-cli1 >/dev/null"
check_eq "its bridge is gone" "$(ip link show "$br1" 2>/dev/null | wc -l)" 0
check_eq "prune removes the networks without containers" "$("$ISOLA" network prune | tr '\n' ' ')" "nt-cli6 "
bad "prune keeps a network in use" "in use" rm nt-cli2
"$NETCTL" detach-all "$cid" && "$NETCTL" ns-remove "$cid"
check_eq "prune takes the last one" "$("$ISOLA" network prune | tr '\n' ' ')" "nt-cli2 "
wait_no_veth
check_eq "nothing left (bridges, veths, rules, leases, responders)" "$(net_leftovers "$br1")" ""
done_testing
