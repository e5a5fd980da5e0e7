#!/usr/bin/env bash
# isola build end to end: every instruction, the cache rules (checked by what
# RUN steps leave behind: a fresh random id per execution), .dockerignore,
# multi-stage builds, --output, builder prune, and bad input leaving nothing
# behind. Base image: a busybox rootfs imported with `isola import`.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
I=$ISOLA_BUILD/isola

[ "$(id -u)" -eq 0 ] || skip_all "needs root (overlay mounts, containers)"
"$I" build --help >/dev/null 2>&1 || skip_all "isola has no build verb"
"$I" import --help >/dev/null 2>&1 || skip_all "isola has no import verb"

T=$(mktemp -d /tmp/isola-bld-test.XXXXXX)
export ISOLA_ROOT=$T/root
unset ISOLA_RUNROOT SOURCE_DATE_EPOCH
cleanup() {
	local m
	# anything a failed step could have left mounted, deepest first
	for m in $(awk -v t="$T" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

make_busybox_rootfs "$T/rfs"
tar -C "$T/rfs" -cf "$T/bb.tar" .
"$I" import "$T/bb.tar" isola-bld-bb >/dev/null || { echo "Bail out! import failed"; exit 1; }

# build CTX [args...]: output in $T/out, exit status returned
build() {
	local ctx=$1; shift
	"$I" build "$@" "$ctx" >"$T/out" 2>&1
}
# layers IMAGE: its unpacked layer dirs, top-most first
layers() { "$I" image inspect "$1" 2>/dev/null | jq -r '.[0].GraphDriver.Data.LowerDir' | tr ':' ' '; }
# value FILE [IMAGE]: a file of an image as a container sees it (the top-most
# layer that has it; a whiteout hides it), read from the store's layer dirs
value() {
	local d
	for d in $(layers "${2:-cache}"); do
		if [ -e "$d$1" ] || [ -L "$d$1" ]; then
			[ -c "$d$1" ] || cat "$d$1"
			return
		fi
	done
}
# meta FILE IMAGE: "uid:gid mode" of a file of an image
meta() {
	local d
	for d in $(layers "$2"); do
		[ -e "$d$1" ] && { stat -c '%u:%g %a' "$d$1"; return; }
	done
}
# run IMAGE [ARGS...]: a container of the image (the engine), bounded in time
run() { timeout 30 "$I" run --rm --network none "$@" 2>&1; }
cached_steps() { grep -c -- '^--> CACHED' "$T/out"; }
# steps N..M that were CACHED, as "2 3 4"
cached_list() {
	awk '/^STEP /{split($2, a, "/"); s = a[1]} /^--> CACHED/{printf "%s ", s}' "$T/out" | sed 's/ $//'
}
leftovers() {
	local n=0
	n=$((n + $(awk -v t="$T" 'index($5, t) == 1' /proc/self/mountinfo | wc -l)))
	n=$((n + $(find "$ISOLA_ROOT/tmp" -mindepth 1 -maxdepth 1 -name 'build-*' 2>/dev/null | wc -l)))
	n=$((n + $(find "$ISOLA_ROOT/run/build-ctr" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
	echo "$n"
}
n_images() { "$I" images -q 2>/dev/null | sort -u | wc -l; }

# ---- the cache rules ------------------------------------------------------
C=$T/cache
mkdir -p "$C/dir"
echo a1 >"$C/a.txt"
echo b1 >"$C/b.txt"
echo keep >"$C/dir/keep"
echo tmp1 >"$C/dir/x.tmp"
printf 'dir/*.tmp\n' >"$C/.dockerignore"
cat >"$C/Containerfile" <<'EOF'
FROM isola-bld-bb
ARG EARLY=e1
RUN cat /proc/sys/kernel/random/uuid > /r1
COPY a.txt /a.txt
RUN cat /proc/sys/kernel/random/uuid > /r2
COPY dir/ /dir/
ARG LATE=l1
COPY b.txt /b.txt
RUN cat /proc/sys/kernel/random/uuid > /r3; echo "$LATE" > /late
CMD ["sh"]
EOF
snap() { for f in /r1 /r2 /r3; do value $f; done | tr '\n' ' '; }

check "cold build" build "$C" -t cache
check_match "step lines" "$(head -1 "$T/out")" '^STEP 1/10: FROM isola-bld-bb$'
check_eq "COPY result" "$(value /a.txt)" "a1"
check_eq "ignored file not copied" "$(value /dir/x.tmp)" ""
check_eq "unignored file copied" "$(value /dir/keep)" "keep"
id1=$(tail -1 "$T/out")
s1=$(snap)

build "$C" -t cache
check_eq "no change: every step after FROM CACHED" "$(cached_list)" "2 3 4 5 6 7 8 9 10"
check_eq "no change: same image id" "$(tail -1 "$T/out")" "$id1"
check_eq "no change: RUN results kept" "$(snap)" "$s1"

touch "$C/a.txt" "$C/b.txt"
build "$C" -t cache
check_eq "touch only: everything CACHED" "$(cached_steps)" 9

echo tmp2 >"$C/dir/x.tmp"
build "$C" -t cache
check_eq ".dockerignored change: nothing rebuilt" "$(cached_steps)" 9

echo b2 >"$C/b.txt"
build "$C" -t cache
check_eq "b.txt changed: steps before its COPY CACHED" "$(cached_list)" "2 3 4 5 6 7"
read -r r1 r2 r3 <<<"$(snap)"
read -r o1 o2 o3 <<<"$s1"
check "b.txt changed: RUN before the COPY kept its result" [ "$r1 $r2" == "$o1 $o2" ]
check "b.txt changed: RUN after the COPY ran again" [ "$r3" != "$o3" ]
check_eq "b.txt changed: new content" "$(value /b.txt)" "b2"
s2=$(snap)

echo a2 >"$C/a.txt"
build "$C" -t cache
read -r r1 r2 r3 <<<"$(snap)"
read -r o1 o2 o3 <<<"$s2"
check_eq "a.txt changed: rebuilt from its COPY" "$(cached_list)" "2 3"
check "a.txt changed: first RUN kept, later ones ran" \
	[ "$r1" == "$o1" -a "$r2" != "$o2" -a "$r3" != "$o3" ]
s3=$(snap)

build "$C" -t cache --build-arg LATE=l2
read -r r1 r2 r3 <<<"$(snap)"
read -r o1 o2 o3 <<<"$s3"
check "changed LATE arg: only the RUN that sees it ran" \
	[ "$r1 $r2" == "$o1 $o2" -a "$r3" != "$o3" ]
check_eq "changed LATE arg: value in the RUN" "$(value /late)" "l2"
s4=$(snap)

build "$C" -t cache --build-arg LATE=l2 --build-arg EARLY=e2
read -r r1 r2 r3 <<<"$(snap)"
read -r o1 o2 o3 <<<"$s4"
check "changed EARLY arg: every RUN after its ARG ran" \
	[ "$r1" != "$o1" -a "$r2" != "$o2" -a "$r3" != "$o3" ]

build "$C" -t cache --build-arg LATE=l2 --build-arg EARLY=e2 --no-cache
check_eq "--no-cache: nothing CACHED" "$(cached_steps)" 0

# ---- every instruction ----------------------------------------------------
E=$T/every
mkdir -p "$E/sub"
echo data >"$E/f.txt"
echo inner >"$E/sub/inner.txt"
tar -C "$E/sub" -czf "$E/t.tar.gz" inner.txt
cat >"$E/Containerfile" <<'EOF'
# syntax=docker/dockerfile:1
# escape=\
ARG BASE=isola-bld-bb
FROM --platform=linux/amd64 $BASE AS base
MAINTAINER someone
LABEL org.test.one="1 2" org.test.two=2
ENV D=/dest \
    MSG="hello world"
ENV LEGACY legacy value
COPY f.txt $D/
COPY --chown=1000:1000 --chmod=0600 f.txt /owned
ADD t.tar.gz /unpacked/
ADD f.txt /added.txt
WORKDIR /w
WORKDIR sub
RUN pwd > /pwd; echo "${MSG:-none} ${UNSET:-dflt} ${MSG:+set}" > /expand
RUN --network=none ls /sys/class/net > /nets
RUN --mount=type=cache,target=/cache sh -c 'echo x >> /cache/log; wc -l < /cache/log > /cachecount'
SHELL ["/bin/sh", "-c", "echo used > /shell; eval \"$1\"", "sh"]
RUN echo via-shell > /via
RUN mkdir -p /home/u && chown 1000:1000 /home/u
USER 1000:1000
RUN id -u > /home/u/uid
USER 0
EXPOSE 80 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=3 CMD ["true"]
ONBUILD RUN echo later
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo from-cmd"]
EOF
check "every instruction builds" build "$E" -t every
[ -s "$T/out" ] && grep -q '^STEP' "$T/out" || diag "$(tail -5 "$T/out")"
id=$(tail -1 "$T/out")
cfg=$ISOLA_ROOT/blobs/sha256/$id
check_eq "ENV (both forms)" "$(jq -r '.config.Env | map(select(startswith("D=") or startswith("MSG=") or startswith("LEGACY="))) | join(",")' "$cfg")" \
	"D=/dest,MSG=hello world,LEGACY=legacy value"
check_eq "LABEL" "$(jq -r '.config.Labels["org.test.one"]' "$cfg")" "1 2"
check_eq "MAINTAINER" "$(jq -r '.author' "$cfg")" "someone"
check_eq "EXPOSE" "$(jq -r '.config.ExposedPorts | keys | join(",")' "$cfg")" "53/udp,80/tcp"
check_eq "VOLUME" "$(jq -r '.config.Volumes | keys | join(",")' "$cfg")" "/data"
check_eq "STOPSIGNAL" "$(jq -r '.config.StopSignal' "$cfg")" "SIGINT"
check_eq "HEALTHCHECK" "$(jq -c '[.config.Healthcheck.Test, .config.Healthcheck.Interval, .config.Healthcheck.Retries]' "$cfg")" \
	'[["CMD","true"],5000000000,3]'
check_eq "ONBUILD stored" "$(jq -r '.config.OnBuild[0]' "$cfg")" "RUN echo later"
check_eq "ENTRYPOINT and CMD" "$(jq -c '[.config.Entrypoint, .config.Cmd]' "$cfg")" \
	'[["/bin/sh","-c"],["echo from-cmd"]]'
check_eq "WORKDIR relative" "$(jq -r '.config.WorkingDir' "$cfg")" "/w/sub"
check_eq "USER" "$(jq -r '.config.User' "$cfg")" "0"
check_eq "history: one entry per instruction after FROM" \
	"$(jq '[.history[] | select(.comment == "isola build")] | length' "$cfg")" 26
check_eq "history: config-only steps are empty layers" \
	"$(jq -r '[.history[] | select(.comment == "isola build") | select(.empty_layer != true) | .created_by | split(" ")[0]] | join(",")' "$cfg")" \
	"COPY,COPY,ADD,ADD,RUN,RUN,RUN,RUN,RUN,RUN"
check_eq "image runs its ENTRYPOINT+CMD" "$(run every)" "from-cmd"
check_eq "COPY to an ENV-expanded dir" "$(value /dest/f.txt every)" "data"
check_eq "COPY --chown --chmod" "$(meta /owned every)" "1000:1000 600"
check_eq "ADD unpacks a local tar.gz" "$(value /unpacked/inner.txt every)" "inner"
check_eq "ADD copies a plain file" "$(value /added.txt every)" "data"
check_eq "RUN cwd is WORKDIR" "$(value /pwd every)" "/w/sub"
check_eq "expansions are the shell's in RUN" "$(value /expand every)" "hello world dflt set"
check_eq "RUN --network=none: only lo" "$(value /nets every)" "lo"
check_eq "RUN --mount=type=cache: first run" "$(value /cachecount every)" "1"
check_eq "SHELL used by RUN" "$(value /shell every):$(value /via every)" "used:via-shell"
check_eq "USER applies to RUN" "$(value /home/u/uid every)" "1000"
check_eq "cache mount target left empty in the image" \
	"$(for d in $(layers every); do ls -A "$d/cache" 2>/dev/null; done)" ""
build "$E" -t every --no-cache
check_eq "RUN --mount=type=cache persists across builds" "$(value /cachecount every)" "2"

# ---- multi-stage ----------------------------------------------------------
M=$T/multi
mkdir -p "$M"
cat >"$M/Containerfile" <<'EOF'
FROM isola-bld-bb AS builder
RUN mkdir /out && echo built > /out/artifact && cat /proc/sys/kernel/random/uuid > /out/id
FROM isola-bld-bb AS unused
RUN exit 9
FROM builder AS second
RUN echo second > /out/second
FROM isola-bld-bb
COPY --from=builder /out/artifact /artifact
COPY --from=0 /out/id /id
COPY --from=second /out/second /second
EOF
check "multi-stage builds (the failing unused stage is skipped)" build "$M" -t multi
check_eq "only the needed stages' steps" "$(grep -c '^STEP' "$T/out")" 8
check_match "step count" "$(head -1 "$T/out")" '^STEP 1/8: '
check_eq "COPY --from=stage" "$(value /artifact multi)" "built"
check_eq "FROM an earlier stage" "$(value /second multi)" "second"
check "--target builds up to a stage" build "$M" -t multi-builder --target builder
check_eq "--target: only that stage's steps" "$(grep -c '^STEP' "$T/out")" 2
check_eq "--target image has the stage's files" "$(value /out/artifact multi-builder)" "built"
check_eq "COPY --from=<stage index>" "$(value /id multi)" "$(value /out/id multi-builder)"

# ---- --output -------------------------------------------------------------
check "--output type=oci,dest=FILE" build "$C" -t cache --output "type=oci,dest=$T/oci.tar"
check_match "OCI archive layout" "$(tar -tf "$T/oci.tar" 2>/dev/null | sort | tr '\n' ' ')" 'index.json.*oci-layout'

# ---- a step's upper dir adopted as its layer equals the unpacked blob -----
# The build hands each step's upper dir to the store instead of unpacking the
# blob it just wrote; loading the same image into a fresh store unpacks the
# blobs. Both trees must be the same, entry by entry (type, mode, owner,
# size, mtime, link target, xattrs).
tree() {
	local d
	for d in $(layers "$1"); do
		(cd "$d" && find . -mindepth 1 -printf '%p %y %m %U:%G %s %T@ %l\n' | sort &&
			python3 -c 'import os,sys
for r,ds,fs in os.walk("."):
    for n in sorted(ds+fs):
        p=os.path.join(r,n)
        print(p, sorted((x, os.getxattr(p,x,follow_symlinks=False)) for x in os.listxattr(p,follow_symlinks=False)))' | sort)
		echo ----
	done
}
ISOLA_ROOT=$T/root2 "$I" load -q -i "$T/oci.tar" >/dev/null 2>&1
ref=$(ISOLA_ROOT=$T/root2 "$I" images -q 2>/dev/null | head -1)
check "adopted layers: the fresh store has the image" [ -n "$ref" ]
check_eq "adopted layers equal the unpacked ones" "$(tree cache)" \
	"$(ISOLA_ROOT=$T/root2 tree "$ref")"

# ---- bad input: one message, non-zero exit, nothing left behind -----------
B=$T/bad
mkdir -p "$B"
echo x >"$B/x"
echo outside >"$T/outside.txt"
before=$(n_images)
bad() { # bad NAME EXPECTED-REGEX CONTAINERFILE-TEXT [build args...]
	local name=$1 want=$2 text=$3; shift 3
	printf '%s\n' "$text" >"$B/Containerfile"
	if build "$B" -t bad "$@"; then
		not_ok "$name: exit status"
	else
		ok "$name: exit status"
	fi
	check_match "$name: message" "$(sed -n '/^isola build:/,$p' "$T/out" | tr '\n' ' ')" "$want"
	check_eq "$name: no image, mount, container or scratch dir left" \
		"$(n_images) $(leftovers)" "$before 0"
}
bad "unknown instruction" 'Containerfile:2: unknown instruction: FOO' $'FROM isola-bld-bb\nFOO bar'
bad "syntax error" 'Containerfile:3: ENV must have two arguments' $'FROM isola-bld-bb\nRUN true\nENV onlykey'
bad "COPY outside the context" "outside the build context" $'FROM isola-bld-bb\nCOPY ../outside.txt /'
bad "COPY missing source" "'nope': not found in the build context" $'FROM isola-bld-bb\nCOPY nope /'
bad "FROM unknown image" "image 'isola-bld-nope'" $'FROM isola-bld-nope'
bad "failing RUN" 'exit code 3.*last output:.*last line' \
	$'FROM isola-bld-bb\nCOPY x /x\nRUN echo first line; echo last line; exit 3'
bad "unknown --target" "target stage 'nope' not found" $'FROM isola-bld-bb AS a' --target nope
bad "missing -f file" "none: No such file" "" -f "$B/none"

# ---- a killed build: the next build removes what it left ------------------
K=$T/kill
mkdir -p "$K"
printf 'FROM isola-bld-bb\nRUN sleep 47\n' >"$K/Containerfile"
"$I" build --no-cache "$K" >"$T/kill.out" 2>&1 &
kpid=$!
for _ in $(seq 100); do
	pgrep -f 'sleep 47' >/dev/null && break
	sleep 0.1
done
kill -9 "$kpid"
wait "$kpid" 2>/dev/null
check "killed build left its mount, scratch dir and container" [ "$(leftovers)" -gt 0 ]
printf 'FROM isola-bld-bb\nRUN true\n' >"$K/Containerfile"
check "the next build succeeds" build "$K"
sleep 0.5
check_eq "and removed the killed build's leftovers and process" \
	"$(leftovers) $(pgrep -f 'sleep 47' | wc -l)" "0 0"

# ---- image prune keeps the build cache; builder prune drops it -------------
build "$C" -t cache --build-arg LATE=l2 --build-arg EARLY=e2
before=$(cached_steps)
check "image prune" bash -c "\"$I\" image prune >/dev/null"
build "$C" -t cache --build-arg LATE=l2 --build-arg EARLY=e2
check "image prune kept the build cache ($before steps CACHED)" \
	test "$before" -gt 0 -a "$(cached_steps)" -eq "$before"
check "builder prune" bash -c "\"$I\" builder prune -f >/dev/null"
build "$C" -t cache --build-arg LATE=l2 --build-arg EARLY=e2
check_eq "after prune nothing is CACHED" "$(cached_steps)" 0

done_testing
