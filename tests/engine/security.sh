#!/bin/bash
# The spec the engine generates: podman's default capabilities and seccomp
# profile (compared with podman itself when it can run here), --cap-add/drop,
# seccomp=unconfined|FILE, no-new-privileges, --read-only, --tmpfs, resource
# limits visible in the cgroup, --ulimit, user and groups, hostname and the
# generated /etc files, --network none|host.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

is() { timeout 60 "$ISOLA" "$@"; }
cp "$ENGINE_PROBE" "$ROOTFS/bin/probe" 2>/dev/null || { echo "Bail out! no syscall probe"; exit 1; }
[ "$HAVE_IMAGES" = 1 ] && { tar -C "$ROOTFS" -cf "$ENG_TMP/rootfs.tar" . &&
	is import "$ENG_TMP/rootfs.tar" "$IMG_NAME" >/dev/null; }

PODMAN_IMG=localhost/isola-engtest-$$
podman_run() {
	timeout 120 podman run --rm --runtime runc --network none --ulimit nofile=20000:20000 \
		--ulimit nproc=32768:32768 "$PODMAN_IMG" "$@" 2>/dev/null
}
have_podman=0
if command -v podman >/dev/null && podman import "$ENG_TMP/rootfs.tar" "$PODMAN_IMG" >/dev/null 2>&1 ||
	{ tar -C "$ROOTFS" -cf "$ENG_TMP/rootfs.tar" . && podman import "$ENG_TMP/rootfs.tar" "$PODMAN_IMG" >/dev/null 2>&1; }; then
	have_podman=1
	trap 'podman rmi -f "$PODMAN_IMG" >/dev/null 2>&1; eng_cleanup' EXIT
fi

caps=$(is run --rm "${IMG[@]}" grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status)
check_eq "default capabilities are podman's set" "$(echo "$caps" | awk '{print $2}' | sort -u)" "00000000800405fb"
if [ $have_podman = 1 ]; then
	check_eq "capabilities equal podman run's" "$caps" "$(podman_run grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status)"
	check_eq "seccomp verdicts equal podman run's" "$(is run --rm "${IMG[@]}" /bin/probe)" "$(podman_run /bin/probe)"
else
	skip "podman cannot run here"
	skip "podman cannot run here"
fi
probe=$(is run --rm "${IMG[@]}" /bin/probe)
check_match "default seccomp refuses vmsplice (EPERM)" "$probe" "vmsplice=Operation not permitted"
check_match "default seccomp: add_key is ENOSYS" "$probe" "add_key=Function not implemented"
check_match "seccomp=unconfined allows them" "$(is run --rm --security-opt seccomp=unconfined "${IMG[@]}" /bin/probe)" "vmsplice=Bad file descriptor"
check_eq "seccomp filter installed" "$(is run --rm "${IMG[@]}" grep -c '^Seccomp:.2' /proc/self/status)" "1"
cat >"$ENG_TMP/prof.json" <<'JSON'
{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}
JSON
check_match "seccomp=FILE applies the file" "$(is run --rm --security-opt seccomp="$ENG_TMP/prof.json" "${IMG[@]}" mkdir /x 2>&1)" "Permission denied"
check_eq "--cap-drop ALL --cap-add NET_ADMIN" "$(is run --rm --cap-drop ALL --cap-add net_admin "${IMG[@]}" grep CapEff /proc/self/status | awk '{print $2}')" "0000000000001000"
check_eq "--security-opt no-new-privileges" "$(is run --rm --security-opt no-new-privileges "${IMG[@]}" grep NoNewPrivs /proc/self/status | awk '{print $2}')" "1"
check_match "masked /proc/timer_list" "$(is run --rm "${IMG[@]}" sh -c 'wc -c < /proc/timer_list' 2>&1)" "^ *0$"
check_match "read-only /proc/sys" "$(is run --rm "${IMG[@]}" sh -c 'echo 1 > /proc/sys/kernel/domainname' 2>&1)" "Read-only"

check_match "--read-only root" "$(is run --rm --read-only "${IMG[@]}" touch /x 2>&1)" "Read-only file system"
check_eq "--tmpfs is writable on a read-only root" "$(is run --rm --read-only --tmpfs /scratch "${IMG[@]}" sh -c 'touch /scratch/a && grep -c " /scratch tmpfs" /proc/mounts')" "1"
check_match "/dev/shm is a tmpfs" "$(is run --rm "${IMG[@]}" grep ' /dev/shm ' /proc/mounts)" "tmpfs"

if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	lim=$(is run --rm --memory 64m --pids-limit 50 --cpus 0.5 "${IMG[@]}" sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max' | tr '\n' ' ')
	check_eq "--memory --pids-limit --cpus in the cgroup" "$lim" "67108864 50 50000 100000 "
else
	lim=$(is run --rm --memory 64m --pids-limit 50 --cpus 0.5 "${IMG[@]}" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us' | tr '\n' ' ')
	check_eq "--memory --pids-limit --cpus in the cgroup" "$lim" "67108864 50 50000 "
fi
check_eq "--ulimit nofile=100:200" "$(is run --rm --ulimit nofile=100:200 "${IMG[@]}" sh -c 'ulimit -n; ulimit -Hn' | tr '\n' ' ')" "100 200 "
check_eq "-u name from the image's passwd, with its groups" "$(is run --rm -u app "${IMG[@]}" id)" "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)"
check_eq "-u uid:gid" "$(is run --rm -u 65534:65534 "${IMG[@]}" sh -c 'echo $(id -u):$(id -g) $HOME')" "65534:65534 /nonexistent"
check_eq "-w and -e and --env-file" "$(printf 'A=1\n# c\nB=2\n' >"$ENG_TMP/envf"; is run --rm -w /tmp -e C=3 --env-file "$ENG_TMP/envf" "${IMG[@]}" sh -c 'echo $(pwd) $A$B$C')" "/tmp 123"
out=$(is run --rm --hostname box --add-host db:10.1.2.3 --dns 9.9.9.9 "${IMG[@]}" sh -c 'hostname; cat /etc/hostname; grep db /etc/hosts; cat /etc/resolv.conf')
check_eq "--hostname --add-host --dns" "$(echo $out)" "box box 10.1.2.3 db nameserver 9.9.9.9"
check_eq "--network none: only lo" "$(is run --rm --network none "${IMG[@]}" ls /sys/class/net)" "lo"
# (other tests add and remove links concurrently: look for the default route's)
hostif=$(ip -o route show default 2>/dev/null | awk '{print $5; exit}')
check_match "--network host: the host's interfaces" "$(is run --rm --network host "${IMG[@]}" ls /sys/class/net | tr '\n' ' ')" "(^| )${hostif:-lo}( |$)"
check_eq "--entrypoint overrides" "$(is run --rm --entrypoint /bin/echo "${IMG[@]}" a b)" "a b"

if [ "$HAVE_IMAGES" = 1 ] && command -v umoci >/dev/null && "$ISOLA" load --help >/dev/null 2>&1; then
	# an image with a config: Env, Entrypoint, Cmd, WorkingDir, User, StopSignal
	(cd "$ENG_TMP" && umoci init --layout oci && umoci new --image oci:cfg &&
		umoci unpack --image oci:cfg bundle >/dev/null && cp -a "$ROOTFS"/. bundle/rootfs/ &&
		umoci repack --image oci:cfg bundle &&
		umoci config --image oci:cfg --config.env GREETING=hi --config.entrypoint /bin/sh \
			--config.entrypoint=-c --config.cmd 'echo $GREETING $(pwd) $(id -un)' \
			--config.workingdir /home/app --config.user app &&
		tar -C oci -cf cfg.tar .) >/dev/null 2>&1
	img=$(is load -i "$ENG_TMP/cfg.tar" 2>/dev/null | sed -n 's/^Loaded image: //p' | head -1)
	if [ -n "$img" ]; then
		check_eq "image Env, Entrypoint, Cmd, WorkingDir, User" "$(is run --rm "$img")" "hi /home/app app"
		check_eq "run args replace the image Cmd" "$(is run --rm "$img" 'echo over')" "over"
	else
		skip "isola load of an OCI archive failed"
		skip "isola load of an OCI archive failed"
	fi
else
	skip "image config tests need the image verbs and umoci"
	skip "image config tests need the image verbs and umoci"
fi
done_testing
