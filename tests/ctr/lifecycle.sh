#!/bin/bash
# The container lifecycle through the real isola-runtime binary, as podman and
# containerd drive it: run, create/start/state/kill/delete across separate
# processes, namespaces, exec, pause/resume, ps, list, hooks, terminals over
# --console-socket, update, the log file, and bad input (one clear message,
# non-zero exit, nothing left behind: state, cgroups, mounts, processes).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ctr.sh"

command -v python3 >/dev/null || skip_all "python3 missing"
ctr_test_init lifecycle
trap ctr_test_cleanup EXIT

rt() { timeout 20 "$RT" --root "$STATE" "$@"; }

# Busybox rootfs with every applet as a symlink; config from `spec`.
mkdir -p "$BASE/rootfs/bin" "$BASE/rootfs/hooks" "$WORK/hooks"
cp /bin/busybox "$BASE/rootfs/bin/"
for a in $(/bin/busybox --list); do [ -e "$BASE/rootfs/bin/$a" ] || ln -s busybox "$BASE/rootfs/bin/$a"; done
(cd "$BASE" && "$RT" spec) || { echo "Bail out! isola-runtime spec failed"; exit 1; }
jq '.process.terminal = false | .hostname = "lctest"' "$BASE/config.json" >"$BASE/c.tmp" &&
	mv "$BASE/c.tmp" "$BASE/config.json"

# bundle NAME JQ_FILTER [ARGS_JSON]: a bundle dir sharing the base rootfs.
bundle() {
	local b=$WORK/$1
	mkdir -p "$b"
	ln -sfn "$BASE/rootfs" "$b/rootfs"
	jq "$2" "$BASE/config.json" >"$b/config.json"
	echo "$b"
}
status_of() { rt state "$1" 2>/dev/null | jq -r .status; }
pid_of() { rt state "$1" 2>/dev/null | jq -r .pid; }
cgroup_dirs() { ls -d /sys/fs/cgroup/*/isola/"$1" /sys/fs/cgroup/*/*/*/isola/"$1" 2>/dev/null; }
# gone PID: exited (a zombie the host's init has not reaped yet counts).
gone() { [ ! -e /proc/"$1" ] || [ "$(cut -d' ' -f3 /proc/"$1"/stat 2>/dev/null)" = Z ]; }
no_mounts() { ! grep -q "$WORK" /proc/self/mountinfo; }
# leaves_nothing ID: no state dir, cgroup, mount or process of ID remains.
leaves_nothing() {
	[ ! -e "$STATE/$1" ] && [ -z "$(cgroup_dirs "$1")" ] && ! grep -q "$WORK" /proc/self/mountinfo
}

check_match "--version" "$("$RT" --version)" $'^isola-runtime version [0-9.]+\nspec: 1\.1\.0$'

# --- run: output and exit status
B=$(bundle run1 '.process.args = ["sh", "-c", "echo hello from $(hostname); exit 7"]')
OUT=$(rt run --bundle "$B" run1 2>&1)
check_eq "run exit status is the container's" "$?" 7
check_eq "run prints the container's output" "$OUT" "hello from lctest"
check "run deletes the container afterwards" leaves_nothing run1

# --- create / start / state / kill / delete across processes
B=$(bundle life '.process.args = ["sleep", "1000"]')
rt create --bundle "$B" --pid-file "$WORK/life.pid" life
check_eq "create exits 0" "$?" 0
check_eq "state after create" "$(status_of life)" created
check_eq "--pid-file holds the init pid" "$(cat "$WORK/life.pid")" "$(pid_of life)"
PID=$(pid_of life)
check_match "the init is parked (not yet the user process)" "$(tr '\0' ' ' </proc/"$PID"/cmdline)" "isola-runtime"
check_match "cgroup created" "$(cgroup_dirs life)" "isola/life"
rt start life
check_eq "start exits 0" "$?" 0
check_eq "state after start" "$(status_of life)" running
check_eq "pid 1 of the container is the user process (same pid)" "$(pid_of life)" "$PID"
check_eq "init execs the user process itself" "$(tr '\0' ' ' </proc/"$PID"/cmdline)" "sleep 1000 "
OUT=$(rt start life 2>&1)
RC=$?
check "start on a running container fails" [ "$RC" -ne 0 ]
check_match "start names the state" "$OUT" "container 'life' is not in created state \(status: running\)"
OUT=$(rt delete life 2>&1)
RC=$?
check "delete of a running container without --force fails" [ "$RC" -ne 0 ]
check_match "delete names the container and status" "$OUT" "'life'.*running"
check_eq "container still running after refused delete" "$(status_of life)" running
rt kill life KILL
check_eq "kill exits 0" "$?" 0
for _ in $(seq 100); do [ "$(status_of life)" = stopped ] && break; sleep 0.05; done
check_eq "state after kill" "$(status_of life)" stopped
check_eq "stopped state reports pid 0" "$(pid_of life)" 0
rt delete life
check_eq "delete of stopped container" "$?" 0
check "delete removed state and cgroup" leaves_nothing life
OUT=$(rt state life 2>&1)
check_match "state of a deleted container" "$OUT" "container 'life' does not exist"
OUT=$(rt delete life 2>&1)
RC=$?
check "delete of an unknown container fails" [ "$RC" -ne 0 ]
check_match "delete of unknown names it" "$OUT" "container 'life' does not exist"
rt delete --force life
check_eq "delete --force of an unknown container succeeds (as runc)" "$?" 0

# --- --preserve-fds passes fds 3.. to the container, nothing else leaks in
B=$(bundle pf '.process.args = ["sh", "-c", "cat <&3 2>&1; ls /proc/self/fd | wc -l"]')
echo preserved >"$WORK/pf.txt"
check_eq "--preserve-fds 1 passes fd 3" "$(rt run --preserve-fds 1 --bundle "$B" pf 3<"$WORK/pf.txt")" $'preserved\n5'
check_match "without it fd 3 is closed" "$(rt run --bundle "$B" pf 3<"$WORK/pf.txt" 2>&1)" $'Bad file descriptor\n4$'

# --- without linux.resources the device cgroup still denies host block devices
MAJMIN=$(lsblk -dno MAJ:MIN 2>/dev/null | head -1 | tr -d ' ')
if [ -n "$MAJMIN" ]; then
	B=$(bundle dev 'del(.linux.resources) | .process.capabilities.bounding += ["CAP_MKNOD"]
		| .process.capabilities.effective += ["CAP_MKNOD"] | .process.capabilities.permitted += ["CAP_MKNOD"]
		| .process.args = ["sh", "-c", "mknod /dev/disk0 b '"${MAJMIN%:*} ${MAJMIN#*:}"' && head -c1 /dev/disk0 >/dev/null && echo read-disk; echo x >/dev/null && echo null-ok"]')
	OUT=$(rt run --bundle "$B" dev 2>&1)
	check_match "default devices usable" "$OUT" "null-ok"
	check "a host disk node cannot be read" bash -c "! grep -q read-disk <<<\"\$1\"" _ "$OUT"
else
	skip "no block device to test the device cgroup with"
	skip "no block device"
fi

# --- the parked init is a clone of the runtime: its binary must not be
# reachable from inside (CVE-2019-5736); it is non-dumpable
B=$(bundle cve '.process.args = ["true"]')
rt create --bundle "$B" cve
OUT=$(rt exec cve sh -c 'readlink /proc/1/exe || echo no-link; head -c 4 /proc/1/exe >/dev/null && echo opened-exe' 2>&1)
check_match "/proc/1/exe of the parked init is not readable from the container" "$OUT" "no-link"
check "nor openable" bash -c "! grep -q opened-exe <<<\"\$1\"" _ "$OUT"
rt delete -f cve

# --- flag spellings accepted as runc (urfave/cli): -flag, --flag=value, short
B=$(bundle fl '.process.args = ["true"]')
rt -root "$STATE" create -bundle "$B" --pid-file="$WORK/fl.pid" fl
check_eq "-bundle and --pid-file=value" "$(cat "$WORK/fl.pid" 2>/dev/null)" "$(pid_of fl)"
rt delete -f=true fl
check "-f=true" leaves_nothing fl
OUT=$(rt create --bogus fl 2>&1)
check_match "unknown flag named" "$OUT" "flag provided but not defined: --bogus"

# --- namespaces really there
B=$(bundle ns '.process.args = ["sh", "-c", "echo pid=$$; hostname; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d \" \"; readlink /proc/self/ns/mnt"]')
OUT=$(rt run --bundle "$B" ns 2>&1)
check_match "user process is pid 1" "$OUT" "^pid=1"$'\n'
check_match "own hostname" "$OUT" $'\nlctest\n'
check_match "only lo in the new network namespace" "$OUT" $'\nlo\nmnt:'
check "own mount namespace" [ "$(echo "$OUT" | tail -1)" != "$(readlink /proc/self/ns/mnt)" ]

# --- root with a user namespace: ids mapped, still in the container cgroup
B=$(bundle userns '.linux.namespaces += [{"type": "user"}]
	| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .process.args = ["sleep", "1000"]')
chmod 755 "$WORK" # the mapped root must reach the rootfs
rt run -d --bundle "$B" userns
UPID=$(pid_of userns)
check_match "user namespace maps container root to 100000" "$(cat /proc/"$UPID"/uid_map 2>/dev/null)" "^ +0 +100000 +65536$"
check_eq "the process runs as host uid 100000" "$(stat -c %u /proc/"$UPID")" 100000
check_match "and sits in the container's cgroup" "$(grep :pids: /proc/"$UPID"/cgroup)" "isola/userns$"
check_eq "exec joins the user namespace" "$(rt exec userns cat /proc/self/uid_map | tr -s ' ')" " 0 100000 65536"
rt delete -f userns
chmod 700 "$WORK"
check "user namespace container cleaned up" leaves_nothing userns

# --- exec joins every namespace; exit codes, env, cwd, user
B=$(bundle ex '.process.args = ["sleep", "1000"]')
rt run -d --bundle "$B" ex
PID=$(pid_of ex)
check_eq "run -d leaves it running" "$(status_of ex)" running
for ns in uts pid net ipc mnt cgroup; do
	check_eq "exec joins the $ns namespace" "$(rt exec ex readlink /proc/self/ns/$ns)" "$(readlink /proc/"$PID"/ns/$ns)"
done
check_eq "exec sees the container hostname" "$(rt exec ex hostname)" lctest
rt exec ex sh -c 'exit 3'
check_eq "exec returns the process's exit status" "$?" 3
check_eq "exec --env --cwd --user" "$(rt exec --env FOO=bar --cwd /bin --user 1000:1000 ex sh -c 'echo $FOO $(pwd) $(id -u):$(id -g)')" \
	"bar /bin 1000:1000"
check_match "exec without --cap lacks CAP_CHOWN" "$(rt exec ex sh -c 'touch /dev/shm/f && chown 1 /dev/shm/f' 2>&1)" "Operation not permitted"
check_eq "exec --cap CAP_CHOWN grants it" "$(rt exec --cap CAP_CHOWN ex sh -c 'chown 1 /dev/shm/f && echo chowned')" chowned
check_match "exec --no-new-privs" "$(rt exec --no-new-privs ex grep NoNewPrivs /proc/self/status)" "NoNewPrivs:"$'\t'"1"
jq '.process | .args = ["sh", "-c", "echo from-process-json"]' "$B/config.json" >"$WORK/process.json"
check_eq "exec --process" "$(rt exec --process "$WORK/process.json" ex)" from-process-json
rt exec -d --pid-file "$WORK/exec.pid" ex sleep 500
check_eq "exec -d exits 0" "$?" 0
EPID=$(cat "$WORK/exec.pid")
check_eq "exec -d process runs in the container cgroup" "$(grep :pids: /proc/"$EPID"/cgroup)" "$(grep :pids: /proc/"$PID"/cgroup)"
check_eq "exec'd process's parent is outside the container" "$(rt exec ex cat /proc/self/stat | cut -d' ' -f4)" 0

# --- ps, list
check_match "ps --format json lists init and exec'd pids" "$(rt ps --format json ex)" "^\[.*$PID.*\]$"
check_match "ps (table) has a header and the init" "$(rt ps ex)" "PID.*"$'\n'".*$PID"
check_eq "list --format json" "$(rt list --format json | jq -r '.[] | select(.id=="ex") | .status')" running
check_match "list (table)" "$(rt list)" $'^ID +PID +STATUS.*\nex +'"$PID"' +running'
check_eq "list -q" "$(rt list -q)" ex

# --- pause / resume
rt pause ex
check_eq "state after pause" "$(status_of ex)" paused
check_match "frozen" "$(grep State /proc/"$PID"/status)" "State:"
rt resume ex
check_eq "state after resume" "$(status_of ex)" running
OUT=$(rt resume ex 2>&1)
check_match "resume of a running container fails clearly" "$OUT" "'ex' is not paused"

# --- update
echo '{"pids": {"limit": 42}}' | rt update --resources - ex
check_eq "update --resources - exits 0" "$?" 0
PIDS_CG=$(grep :pids: /proc/"$PID"/cgroup | cut -d: -f3)
check_eq "pids limit updated" "$(cat /sys/fs/cgroup/pids"$PIDS_CG"/pids.max 2>/dev/null)" 42
rt update --pids-limit 50 ex
check_eq "update --pids-limit" "$(cat /sys/fs/cgroup/pids"$PIDS_CG"/pids.max 2>/dev/null)" 50
MEM_CG=$(grep :memory: /proc/"$PID"/cgroup | cut -d: -f3)
rt update --memory 64m --cpu-shares 512 ex
check_eq "update --memory 64m" "$(cat /sys/fs/cgroup/memory"$MEM_CG"/memory.limit_in_bytes 2>/dev/null)" 67108864
check_eq "update --cpu-shares" "$(cat /sys/fs/cgroup/cpu"$(grep ':cpu,\?[a-z]*:' /proc/"$PID"/cgroup | head -1 | cut -d: -f3)"/cpu.shares 2>/dev/null)" 512
echo '{"devices": [{"allow": false, "access": "rwm"}]}' | rt update --resources - ex
check_eq "update leaves device access alone (as runc)" "$(rt exec ex sh -c 'echo x >/dev/null && echo ok')" ok

# --- kill --all, delete --force
rt kill --all ex KILL
for _ in $(seq 100); do gone "$EPID" && break; sleep 0.05; done
check "kill --all reached the exec'd process" gone "$EPID"
rt delete -f ex
check "delete --force cleans up" leaves_nothing ex
B=$(bundle fd '.process.args = ["sleep", "1000"]')
rt run -d --bundle "$B" fd
PID=$(pid_of fd)
rt delete --force fd
check_eq "delete --force of a running container" "$?" 0
check "its process is gone" gone "$PID"
check "and nothing is left" leaves_nothing fd
rt run -d --bundle "$B" pz && rt pause pz
rt delete --force pz
check_eq "delete --force of a paused container" "$?" 0
check "paused container fully removed" leaves_nothing pz

# --- joining namespaces by path (pid + net + ipc of another container)
B=$(bundle host '.process.args = ["sleep", "1000"]')
rt run -d --bundle "$B" host
HPID=$(pid_of host)
B=$(bundle guest '.process.args = ["sleep", "1000"] | .linux.namespaces |= map(
	if .type == "pid" or .type == "network" or .type == "ipc" then .path = "/proc/'"$HPID"'/ns/" + (if .type == "network" then "net" else .type end) else . end)')
rt run -d --bundle "$B" guest
GPID=$(pid_of guest)
check_eq "joined pid namespace by path" "$(readlink /proc/"$GPID"/ns/pid)" "$(readlink /proc/"$HPID"/ns/pid)"
check_eq "joined net namespace by path" "$(readlink /proc/"$GPID"/ns/net)" "$(readlink /proc/"$HPID"/ns/net)"
check "but has its own mount namespace" [ "$(readlink /proc/"$GPID"/ns/mnt)" != "$(readlink /proc/"$HPID"/ns/mnt)" ]
check_match "exec in the guest sees both inits" "$(rt exec guest ps -o pid,args | grep -c 'sleep 1000')" "^2$"
rt delete -f guest && rt delete -f host
check "joined containers cleaned up" leaves_nothing guest

# --- run forwards signals to the container
B=$(bundle sig '.process.args = ["sh", "-c", "trap \"echo got-term; exit 5\" TERM; echo ready; while :; do sleep 0.1; done"]')
"$RT" --root "$STATE" run --bundle "$B" sig >"$WORK/sig.out" 2>&1 &
RUNPID=$!
for _ in $(seq 100); do grep -q ready "$WORK/sig.out" 2>/dev/null && break; sleep 0.05; done
kill -TERM $RUNPID
wait $RUNPID
check_eq "run returns the exit status after a forwarded SIGTERM" "$?" 5
check_match "the container handled the signal" "$(cat "$WORK/sig.out")" "got-term"
check "run cleaned up after the signal" leaves_nothing sig

# --- hooks: order, state JSON on stdin
# Each hook appends "<argv0> <state JSON>" to a log file.
hook() { jq -n --arg n "$1" --arg log "$2" '{path: "/bin/sh", args: ["sh", "-c", "s=$(cat); echo \"$0 $s\" >>" + $log, $n]}'; }
mkdir -p "$WORK/hk"
ln -sfn "$BASE/rootfs" "$WORK/hk/rootfs"
jq --argjson cr "$(hook createRuntime "$WORK/hooks/log")" --argjson cc "$(hook createContainer "$WORK/hooks/log")" \
	--argjson sc "$(hook startContainer /hooks/log)" --argjson ps "$(hook poststart "$WORK/hooks/log")" \
	--argjson po "$(hook poststop "$WORK/hooks/log")" --arg dir "$WORK/hooks" \
	'.process.args = ["true"]
	 | .mounts += [{destination: "/hooks", type: "bind", source: $dir, options: ["rbind"]}]
	 | .hooks = {createRuntime: [$cr], createContainer: [$cc], startContainer: [$sc],
	             poststart: [$ps], poststop: [$po]}' "$BASE/config.json" >"$WORK/hk/config.json"
B=$WORK/hk
rt create --bundle "$B" hk && rt start hk && rt delete -f hk
check_eq "hooks run in order" "$(cut -d' ' -f1 "$WORK/hooks/log" 2>/dev/null | tr '\n' ' ')" \
	"createRuntime createContainer startContainer poststart poststop "
check_eq "hooks get the state JSON on stdin" "$(cut -d' ' -f2- "$WORK/hooks/log" | jq -r .id | sort -u)" hk
check_match "createRuntime sees status creating" "$(grep ^createRuntime "$WORK/hooks/log")" '"status":"creating"'
check_match "poststop sees status stopped" "$(grep ^poststop "$WORK/hooks/log")" '"status":"stopped"'
B=$(bundle hkfail '.process.args = ["true"] | .hooks = {"createRuntime": [{"path": "/bin/false"}]}')
OUT=$(rt create --bundle "$B" hkfail 2>&1)
RC=$?
check "a failing createRuntime hook fails create" [ "$RC" -ne 0 ]
check_match "and names the hook" "$OUT" "createRuntime hook '/bin/false'"
check "nothing left after the failed hook" leaves_nothing hkfail
B=$(bundle hkslow '.process.args = ["true"] | .hooks = {"createContainer": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}')
OUT=$(rt create --bundle "$B" hkslow 2>&1)
check_match "a hook past its timeout is killed and named" "$OUT" "createContainer hook '/bin/sleep' timed out"
check "nothing left after the timeout" leaves_nothing hkslow

# --- "creating" while create is still at work (a slow createRuntime hook)
B=$(bundle slow '.process.args = ["true"] | .hooks = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "1"]}]}')
rt create --bundle "$B" slow &
CPID=$!
SEEN=
for _ in $(seq 100); do SEEN=$(status_of slow); [ -n "$SEEN" ] && break; sleep 0.02; done
check_eq "state during create" "$SEEN" creating
wait $CPID
check_eq "state once create returned" "$(status_of slow)" created
rt delete slow

# --- terminal over --console-socket (the pty master is sent with SCM_RIGHTS)
cat >"$WORK/recv.py" <<'EOF'
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept()
msg, anc, _, _ = c.recvmsg(1024, socket.CMSG_SPACE(4))
fds = array.array("i")
for lvl, typ, data in anc:
    if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[:4])
out = b""
while True:
    try:
        d = os.read(fds[0], 4096)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.write(out.decode(errors="replace"))
EOF
B=$(bundle tty '.process.terminal = true | .process.args = ["sh", "-c", "tty; echo on-the-pty"]')
timeout 20 python3 "$WORK/recv.py" "$WORK/cs.sock" >"$WORK/tty.out" &
RECV=$!
for _ in $(seq 100); do [ -e "$WORK/cs.sock.ready" ] && break; sleep 0.05; done
rt create --bundle "$B" --console-socket "$WORK/cs.sock" tty && rt start tty
wait $RECV
check_match "the console socket got the pty master" "$(tr -d '\r' <"$WORK/tty.out")" $'^/dev/pts/[0-9]+\non-the-pty'
rt delete -f tty
check_match "foreground run relays the pty" "$(rt run --bundle "$B" ttyfg </dev/null 2>&1 | tr -d '\r')" \
	$'^/dev/pts/[0-9]+\non-the-pty'
B2=$(bundle ttyex '.process.args = ["sleep", "1000"]')
rt run -d --bundle "$B2" ttyex
rm -f "$WORK/cs.sock" "$WORK/cs.sock.ready"
timeout 20 python3 "$WORK/recv.py" "$WORK/cs.sock" >"$WORK/tty.out" &
RECV=$!
for _ in $(seq 100); do [ -e "$WORK/cs.sock.ready" ] && break; sleep 0.05; done
rt exec -t -d --console-socket "$WORK/cs.sock" ttyex sh -c 'tty; echo exec-pty'
wait $RECV
check_match "exec -t -d --console-socket" "$(tr -d '\r' <"$WORK/tty.out")" $'^/dev/pts/[0-9]+\nexec-pty'
check_match "exec -t in the foreground relays" "$(rt exec -t ttyex tty </dev/null | tr -d '\r')" '^/dev/pts/[0-9]+$'
rt delete -f ttyex
OUT=$(rt create --bundle "$B" tty2 2>&1)
check_match "terminal without --console-socket is refused for create" "$OUT" "console-socket"
check "nothing left" leaves_nothing tty2

# --- rootless: an unprivileged user gets a user namespace from `spec --rootless`
if command -v setpriv >/dev/null; then
	RL=$WORK/rootless
	mkdir -p "$RL/rootfs/bin" "$RL/xdg"
	cp /bin/busybox "$RL/rootfs/bin/"
	for a in sh cat hostname; do ln -s busybox "$RL/rootfs/bin/$a"; done
	chmod 755 "$WORK"
	chown -R 65534:65534 "$RL"
	OUT=$(cd "$RL" && timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env XDG_RUNTIME_DIR="$RL/xdg" sh -c "$RT spec --rootless &&
		jq '.process.terminal = false | .process.args = [\"sh\", \"-c\", \"cat /proc/self/uid_map; hostname\"]' config.json >c &&
		mv c config.json && $RT run rl" 2>&1)
	check_match "rootless run: container root is the unprivileged user" "$OUT" "^ +0 +65534 +1"$'\n'
	check_eq "rootless state root under XDG_RUNTIME_DIR, cleaned up" "$(ls "$RL/xdg/isola" 2>/dev/null)" ""
	chmod 700 "$WORK"
else
	skip "setpriv missing: rootless run not tested"
	skip "setpriv missing"
fi

# --- the log file, as podman/containerd read it
rt --log "$WORK/log.json" --log-format json delete nosuch 2>/dev/null
check_eq "json log line" "$(tail -1 "$WORK/log.json" | jq -r '.level + " " + .msg')" "error container 'nosuch' does not exist"

# --- bad input: one clear message, non-zero exit, nothing left behind
bad() { # bad NAME ID REGEX create-args...
	local name=$1 id=$2 re=$3
	shift 3
	OUT=$(rt create "$@" "$id" 2>&1)
	RC=$?
	check "$name: fails" [ "$RC" -ne 0 ]
	check_match "$name: message" "$OUT" "$re"
	check_eq "$name: one line" "$(grep -c . <<<"$OUT")" 1
	[ "$id" = "${id//\//}" ] && [ "$id" != ".." ] && check "$name: nothing left" leaves_nothing "$id"
}
mkdir -p "$WORK/empty"
bad "missing config.json" nocfg "config.json" --bundle "$WORK/empty"
B=$(bundle malformed '.') && echo '{"ociVersion": "1.1.0", "process": ' >"$B/config.json"
bad "malformed config.json" malformed "config.json" --bundle "$B"
B=$(bundle noroot '.root.path = "nonexistent"')
bad "nonexistent rootfs" noroot "root.path 'nonexistent'" --bundle "$B"
B=$(bundle badns '.linux.namespaces += [{"type": "bogus"}]')
bad "unknown namespace" badns "linux.namespaces\[[0-9]+\].type.*bogus" --bundle "$B"
B=$(bundle badargs '.process.args = ["/no/such/binary"]')
bad "missing executable" badargs "/no/such/binary" --bundle "$B"
B=$(bundle goodid '.process.args = ["true"]')
bad "id with /" "a/b" "invalid container id 'a/b'" --bundle "$B"
bad "id .." ".." "invalid container id '..'" --bundle "$B"
bad "id with bad chars" 'a$b' "invalid container id 'a\\\$b'" --bundle "$B"
rt create --bundle "$B" dup && OUT=$(rt create --bundle "$B" dup 2>&1)
check_match "duplicate id refused" "$OUT" "container 'dup' already exists"
rt delete dup
check "created container deleted without --force" leaves_nothing dup

check_eq "no container left in the state root" "$(ls "$STATE" 2>/dev/null)" ""
check "no mount of the test left" no_mounts
check_eq "no container process left" "$(pgrep -f "isola-runtime --root $STATE" | wc -l)" 0
done_testing
