#!/usr/bin/env bash
# `isola` is a lean front: it runs the VM verbs (vm, disk) itself and, for
# every other verb, loads isola-engine.so from its own directory and hands
# it the same argv. A user sees one command either way: same help, version,
# errors, --root and state. The front links none of the engine's libraries
# (that is what makes `isola vm ...` cheap to exec in the KVM sandbox);
# without the module beside it the VM verbs still work and the others say
# what is missing. Needs no KVM (suite vmhost).
source "$(dirname "$0")/../lib/tap.sh"
ISOLA=$ISOLA_BUILD/isola
MOD=$ISOLA_BUILD/isola-engine.so
[ -x "$ISOLA" ] || skip_all "no isola binary at $ISOLA"
[ -f "$MOD" ] || skip_all "no isola-engine.so at $MOD"
command -v ldd >/dev/null || skip_all "ldd is missing"

T=$(mktemp -d /tmp/isola-v5-front.XXXXXX)
trap 'rm -rf "$T"' EXIT
export ISOLA_ROOT=$T/root

# run BIN ARGS...: sets OUT (stdout+stderr) and RC.
run() { OUT=$("$@" 2>&1); RC=$?; }

run "$ISOLA" version
check_eq "version" "$RC:$OUT" "0:isola 0.1.0"
run "$ISOLA" --help
check_match "--help: every group of verbs" "$RC:$OUT" "^0:usage: isola .*containers: .*VMs: "
run "$ISOLA" frobnicate
check_eq "unknown command: exit 2" "$RC" 2
check_match "unknown command: named" "$OUT" "^isola: unknown command 'frobnicate'"

# A container verb reaches the module, with the global --root.
run "$ISOLA" --root "$T/other" volume create v5vol
check_eq "volume create through the module" "$RC:$OUT" "0:v5vol"
run "$ISOLA" --root="$T/other" volume ls -q
check_eq "volume ls sees it under --root=" "$RC:$OUT" "0:v5vol"
check "the default root was not touched by --root" test ! -e "$T/root/volumes/v5vol"
run "$ISOLA" ps
check_match "ps through the module: the table" "$RC:$OUT" "^0:CONTAINER ID +IMAGE"
run "$ISOLA" volume rm v5nosuch
check_eq "a module verb's error: its message and status (125)" "$RC:$OUT" \
	"125:isola volume: volume 'v5nosuch': no such volume"

# The VM verbs run in the front itself.
run "$ISOLA" vm ls
check_match "vm ls: the table" "$RC:$OUT" "^0:ID +NAME +STATE"
run "$ISOLA" disk create -f raw "$T/d.img" 1M
check_eq "disk create: 1 MiB" "$RC:$(stat -c %s "$T/d.img")" "0:1048576"
libs=$(ldd "$ISOLA" | awk '{print $1}' | grep -E 'libcurl|libarchive|libmicrohttpd|libnftables|libnl-|libyaml|libseccomp')
check_eq "the front links none of the engine's libraries" "$libs" ""

# isola-vmm, the one-shot restore, is leaner still: its exec is part of a
# restore's time (a restore loads no TLS or SQLite library: ~3 ms less here).
libs=$(ldd "$ISOLA_BUILD/isola-vmm" | awk '{print $1}' | grep -E 'libsqlite|libssl|libcrypto|libcurl|libarchive')
check_eq "isola-vmm links neither SQLite nor OpenSSL" "$libs" ""
run "$ISOLA_BUILD/isola-vmm" --restore "$T/nosnap"
check_eq "isola-vmm: a missing snapshot is named (exit 1)" "$RC:$OUT" \
	"1:isola-vmm: snapshot '$T/nosnap': config.json missing or invalid"

# The module is found beside the executable itself, also through a symlink,
# and never on LD_LIBRARY_PATH.
mkdir "$T/link" && ln -s "$ISOLA" "$T/link/isola"
run "$T/link/isola" volume ls -q
check_eq "through a symlink elsewhere: the module beside the real file" "$RC" 0

# Alone, without the module beside it.
mkdir "$T/bin" && cp "$ISOLA" "$T/bin/isola"
run "$T/bin/isola" vm ls
check_eq "alone: vm ls still works" "$RC" 0
run env LD_LIBRARY_PATH="$ISOLA_BUILD" "$T/bin/isola" ps
check_eq "alone: ps -> exit 127" "$RC" 127
check_eq "alone: ps names what is missing" "$OUT" \
	"isola: cannot load $T/bin/isola-engine.so: cannot open shared object file: No such file or directory"
: >"$T/bin/isola-engine.so"
run "$T/bin/isola" images
check_eq "a module that is not one: exit 127" "$RC" 127
check_match "a module that is not one: named" "$OUT" "^isola: cannot load $T/bin/isola-engine.so: ."
check_eq "a module that is not one: one line" "$(wc -l <<<"$OUT")" 1

done_testing
