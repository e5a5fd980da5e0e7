#!/bin/bash
# Container security settings through the real isola-runtime: masked and
# read-only paths, read-only root, dropped capabilities, seccomp errno rules,
# rlimits, sysctls, no_new_privs, user ids, mount destinations through escaping
# symlinks, --no-pivot; and that nothing (mounts, containers) is left behind.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ctr.sh"

ctr_test_init security
N=0
# Other work on the host may add mounts meanwhile: compare only mounts that
# disappeared or that mention this test's directory.
sort /proc/self/mountinfo >"$WORK/mounts.before"

trap ctr_test_cleanup EXIT

# A busybox rootfs with a few files the checks look at.
mkdir -p "$BASE/rootfs/bin" "$BASE/rootfs/etc" "$BASE/rootfs/data" "$BASE/rootfs/tmp" "$WORK/outside"
cp /bin/busybox "$BASE/rootfs/bin/"
for a in sh cat ls mkdir touch chown id ping grep wc echo head; do ln -s busybox "$BASE/rootfs/bin/$a"; done
echo secret >"$BASE/rootfs/etc/secret"
ln -s "$WORK/outside" "$BASE/rootfs/evil"
(cd "$BASE" && "$RT" spec) || { echo "Bail out! isola-runtime spec failed"; exit 1; }
# Base config: rw root, plain stdio, a writable /tmp.
jq '.process.terminal = false | .root.readonly = false
    | .mounts += [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}]' \
	"$BASE/config.json" >"$BASE/config.tmp" && mv "$BASE/config.tmp" "$BASE/config.json"

# ctr_run JQ_FILTER SHELL_COMMAND [runtime run options]: runs the command in
# a fresh container (rootfs $ROOTFS, default the base one); sets OUT
# (stdout+stderr) and RC.
ctr_run() {
	local filter=$1 cmd=$2
	shift 2
	N=$((N + 1))
	local b=$WORK/b$N
	mkdir -p "$b"
	ln -s "${ROOTFS:-$BASE/rootfs}" "$b/rootfs"
	jq --arg cmd "$cmd" ".process.args = [\"/bin/sh\", \"-c\", \$cmd] | $filter" \
		"$BASE/config.json" >"$b/config.json"
	OUT=$(timeout 30 "$RT" --root "$STATE" run "$@" --bundle "$b" "sec$N" 2>&1)
	RC=$?
}

# --- masked and read-only paths
ctr_run '.linux.maskedPaths += ["/etc/secret"] | .linux.readonlyPaths += ["/data"]' \
	'wc -c </proc/keys; ls /sys/firmware | wc -l; cat /etc/secret | wc -c
	 echo x >/proc/sys/kernel/shmmax; touch /data/f; touch /rootfile && echo root-rw'
check_eq "masked/readonly run exits 0" "$RC" 0
check_match "masked /proc/keys reads empty" "$OUT" $'^0\n'
check_match "masked dir /sys/firmware is empty" "$OUT" $'^0\n0\n0\n'
check_match "/proc/sys is read-only" "$OUT" "shmmax: Read-only file system"
check_match "readonlyPaths /data is read-only" "$OUT" "touch: /data/f: Read-only file system"
check_match "root stays writable without root.readonly" "$OUT" "root-rw"

ctr_run '.root.readonly = true' 'touch /rootfile; touch /tmp/ok && echo tmp-rw'
check_match "root.readonly: / is read-only" "$OUT" "touch: /rootfile: Read-only file system"
check_match "root.readonly: /tmp mount stays writable" "$OUT" "tmp-rw"

# --- capabilities (the default set lacks CAP_CHOWN and CAP_NET_RAW)
ctr_run '.' 'touch /tmp/f; chown 1:1 /tmp/f; ping -c1 -W1 127.0.0.1; grep CapEff /proc/self/status'
check_match "without CAP_CHOWN chown fails" "$OUT" "chown: /tmp/f: Operation not permitted"
check_match "without CAP_NET_RAW ping cannot open a raw socket" "$OUT" "ping: permission denied"
check_match "effective set is the spec's (AUDIT_WRITE, KILL, NET_BIND_SERVICE)" "$OUT" \
	"CapEff:[[:space:]]+0000000020000420"

ctr_run '.process.capabilities |= with_entries(.value += ["CAP_CHOWN", "CAP_NET_RAW"])' \
	'touch /tmp/f; chown 1:1 /tmp/f && echo chown-ok; ping -c1 -W1 127.0.0.1; true'
check_match "with CAP_CHOWN chown works" "$OUT" "chown-ok"
if [[ "$OUT" == *"permission denied"* ]]; then not_ok "with CAP_NET_RAW the raw socket opens"; diag "$OUT"
else ok "with CAP_NET_RAW the raw socket opens"; fi

# --- seccomp: errno rules
ctr_run '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                       {"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]}' \
	'mkdir /tmp/d; touch /tmp/still-allowed && echo touch-ok'
check_eq "seccomp run exits 0 (unknown syscall name skipped)" "$RC" 0
check_match "blocked mkdir fails with errnoRet 38" "$OUT" \
	"mkdir: can't create directory '/tmp/d': Function not implemented"
check_match "other syscalls still allowed" "$OUT" "touch-ok"

ctr_run '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}' 'mkdir /tmp/d'
check_match "SCMP_ACT_ERRNO without errnoRet is EPERM" "$OUT" \
	"mkdir: can't create directory '/tmp/d': Operation not permitted"

ctr_run '.process.noNewPrivileges = false | .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}' \
	'mkdir /tmp/d; grep NoNewPrivs /proc/self/status'
check_match "filter loads without noNewPrivileges" "$OUT" "Operation not permitted"
check_match "no_new_privs stays off when not asked" "$OUT" "NoNewPrivs:[[:space:]]+0"

# --- rlimits, no_new_privs, user
ctr_run '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1234, "hard": 2048}]' \
	'ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status'
check_match "RLIMIT_NOFILE soft visible" "$OUT" $'^1234\n2048'
check_match "noNewPrivileges (default spec) applied" "$OUT" "NoNewPrivs:[[:space:]]+1"

ctr_run '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 999999}]' 'true'
check "hard limit above the runtime's fails" test "$RC" -ne 0
check_match "... with a message naming the rlimit" "$OUT" "RLIMIT_NOFILE"

ctr_run '.process.user = {"uid": 1000, "gid": 1001, "additionalGids": [2000, 2001], "umask": 63}' \
	'id; umask'
check_match "user and groups applied" "$OUT" "uid=1000 gid=1001 groups=2000,2001"
check_match "umask applied" "$OUT" "0077"

# --- sysctl
ctr_run '.linux.sysctl = {"kernel.shmmax": "12345678", "net.ipv4.ip_forward": "1"}' \
	'cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward'
check_eq "sysctls applied in the container's namespaces" "$OUT" $'12345678\n1'
[ "$(cat /proc/sys/kernel/shmmax)" != 12345678 ] && ok "host shmmax is not the container's" ||
	not_ok "host shmmax is not the container's"

ctr_run '.linux.sysctl = {"kernel.panic": "1"}' 'true'
check "non-namespaced sysctl refused" test "$RC" -ne 0
check_match "... naming the key" "$OUT" "sysctl 'kernel.panic'"

ctr_run '.linux.namespaces |= map(select(.type != "network")) | .linux.sysctl = {"net.ipv4.ip_forward": "1"}' 'true'
check_match "net.* refused without a network namespace" "$OUT" "sysctl 'net.ipv4.ip_forward'.*network"

# --- mount destination through a symlink that points outside the rootfs
ctr_run '.mounts += [{"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"}]' \
	'grep -c " /evil/x \| '"$WORK"'/outside/x " /proc/self/mountinfo'
check_eq "escaping symlink: the mount is made on the link target inside the rootfs" "$OUT" 1
check_eq "escaping symlink: host target untouched" "$(ls -A "$WORK/outside")" ""
rm -rf "$BASE/rootfs/$WORK"

# --- --no-pivot
ctr_run '.linux.maskedPaths += ["/etc/secret"]' 'cat /etc/secret | wc -c; ls /bin/busybox' --no-pivot
check_match "--no-pivot: container runs in its rootfs with masks" "$OUT" $'^0\n/bin/busybox'

# --- user namespace: root of the container is host uid 100000
cp -a "$BASE/rootfs" "$WORK/userns-rootfs" && chown -R 100000:100000 "$WORK/userns-rootfs"
chmod 755 "$WORK"
USERNS='.linux.namespaces += [{"type": "user"}]
	| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.maskedPaths += ["/etc/secret"] | .root.readonly = true'
ROOTFS=$WORK/userns-rootfs ctr_run "$USERNS" \
	'cat /proc/self/uid_map; id; ls -ln /dev/null; wc -c </etc/secret; touch /x; chown 1:1 /tmp'
check_match "user namespace: mapped root" "$OUT" "0[[:space:]]+100000[[:space:]]+65536"
check_match "user namespace: uid 0 inside" "$OUT" "uid=0 gid=0"
check_match "user namespace: /dev/null bound from the host (char 1, 3)" "$OUT" "crw-rw-rw-.* 1, +3 "
check_match "user namespace: masked path reads empty" "$OUT" $'\n0\n'
check_match "user namespace: read-only root" "$OUT" "touch: /x: Read-only file system"
check_match "user namespace: CAP_CHOWN not granted" "$OUT" "chown: /tmp: Operation not permitted"

# --- nothing left behind
for id in $(ls "$STATE" 2>/dev/null); do "$RT" --root "$STATE" delete -f "$id" >/dev/null 2>&1; done
check_eq "no container state left" "$(ls -A "$STATE" 2>/dev/null)" ""
sort /proc/self/mountinfo >"$WORK/mounts.after"
check_eq "no host mount lost" "$(comm -23 "$WORK/mounts.before" "$WORK/mounts.after")" ""
check_eq "no mount leaked on the host" "$(grep -c "$WORK" "$WORK/mounts.after")" 0
done_testing
