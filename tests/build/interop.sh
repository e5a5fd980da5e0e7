#!/usr/bin/env bash
# The same Containerfiles built by `buildah bud` and by `isola build`: isola's
# image, saved with `isola save` and loaded into podman, runs the same as
# buildah's there and has the same config. podman and buildah use private
# storage in a temp dir.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
I=$ISOLA_BUILD/isola

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for t in buildah podman jq; do
	command -v $t >/dev/null || skip_all "$t is not installed (scripts/deps test installs it)"
done
"$I" build --help >/dev/null 2>&1 || skip_all "isola has no build verb"
"$I" save --help >/dev/null 2>&1 || skip_all "isola has no save verb"

T=$(mktemp -d /tmp/isola-bld-interop.XXXXXX)
export ISOLA_ROOT=$T/root
unset ISOLA_RUNROOT
cat >"$T/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$T/containers.conf
S=(--root "$T/storage" --runroot "$T/run" --storage-driver vfs)
B=(buildah "${S[@]}")
P=(podman "${S[@]}")
RUN=("${P[@]}" run --rm --runtime runc --network none --ulimit nofile=20000:20000
	--ulimit nproc=32768:32768)
cleanup() {
	local m
	"${P[@]}" rm -af -t 0 >/dev/null 2>&1
	"${B[@]}" rm --all >/dev/null 2>&1
	for m in $(awk -v t="$T" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

BASE=docker.io/library/isola-bld-bb:latest
make_busybox_rootfs "$T/rfs"
tar -C "$T/rfs" -cf "$T/bb.tar" .
"$I" import "$T/bb.tar" "$BASE" >/dev/null &&
	"$I" save --format oci-archive -o "$T/bb-oci.tar" "$BASE" &&
	"${P[@]}" load -i "$T/bb-oci.tar" >/dev/null 2>&1 &&
	"${P[@]}" tag "$("${P[@]}" images -q | head -1)" "$BASE" ||
	{ echo "Bail out! base image setup failed"; exit 1; }

# interop NAME DIR: builds DIR with both, compares output and config in podman
interop() {
	local name=$1 dir=$2 out_b out_i cfg_b cfg_i
	if "${B[@]}" bud --pull-never --isolation chroot --layers -t "localhost/bld-$name-buildah" \
		"$dir" >"$T/buildah.log" 2>&1; then
		ok "$name: buildah bud builds it"
	else
		not_ok "$name: buildah bud builds it"
		diag "$(tail -5 "$T/buildah.log")"
	fi
	if "$I" build --network none -t "localhost/bld-$name-isola" "$dir" >"$T/isola.log" 2>&1 &&
		"$I" save --format oci-archive -o "$T/$name.tar" "localhost/bld-$name-isola" &&
		"${P[@]}" load -i "$T/$name.tar" >/dev/null 2>&1; then
		ok "$name: isola builds it, podman loads isola save's archive"
	else
		not_ok "$name: isola builds it, podman loads isola save's archive"
		diag "$(tail -5 "$T/isola.log")"
	fi
	out_b=$("${RUN[@]}" "localhost/bld-$name-buildah" 2>&1)
	out_i=$("${RUN[@]}" "localhost/bld-$name-isola" 2>&1)
	check_eq "$name: podman runs isola's image as buildah's" "$out_i" "$out_b"
	[ -n "$out_b" ] || diag "empty output from buildah's image"
	# buildah labels its images with its version; no labels is null or {}
	local filter='.[0].Config | {Env, Entrypoint, Cmd, User, WorkingDir, Labels,
		ExposedPorts, Volumes, StopSignal} | del(.Labels["io.buildah.version"]) |
		.Labels |= (if . == {} then null else . end)'
	cfg_b=$("${P[@]}" image inspect "localhost/bld-$name-buildah" | jq -cS "$filter")
	cfg_i=$("${P[@]}" image inspect "localhost/bld-$name-isola" | jq -cS "$filter")
	check_eq "$name: same config in podman" "$cfg_i" "$cfg_b"
	check_eq "$name: layers of isola's image" \
		"$("${P[@]}" image inspect "localhost/bld-$name-isola" | jq '.[0].RootFS.Layers | length')" \
		"$3"
}

# A multi-stage build with most instructions.
A=$T/app
mkdir -p "$A/app/sub" "$A/payload"
for i in 3 1 2; do echo "line $i" >"$A/app/f$i.txt"; done
echo nested >"$A/app/sub/n.txt"
echo secret >"$A/app/skip.txt"
printf 'app/skip.txt\n' >"$A/.dockerignore"
echo payload >"$A/payload/p.txt"
tar -C "$A/payload" -czf "$A/payload.tar.gz" p.txt
cat >"$A/Containerfile" <<EOF
FROM $BASE AS build
ARG GREETING=hello
WORKDIR /src
COPY app/ ./
RUN cat *.txt | sort > /src/all && echo "\$GREETING" > /src/greeting && ls -R /src > /src/tree
FROM $BASE
LABEL org.example.app=interop
ENV MODE=prod PATH=/usr/local/bin:/usr/bin:/bin
COPY --from=build /src/all /src/greeting /src/tree /out/
ADD payload.tar.gz /opt/
RUN ls /opt > /out/opt && echo "\$MODE" > /out/mode && mkdir -p /data
EXPOSE 8080/tcp
VOLUME /data
STOPSIGNAL SIGTERM
USER 1000
WORKDIR /out
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat all greeting tree opt mode; id -u; pwd"]
EOF
interop multistage "$A" 4

# Deletions across layers (whiteouts) and a shell-form CMD.
D=$T/del
mkdir -p "$D"
cat >"$D/Containerfile" <<EOF
FROM $BASE
RUN mkdir -p /d/keep /d/gone && echo 1 > /d/keep/k && echo 2 > /d/gone/g && echo 3 > /d/f
RUN rm -rf /d/gone /d/f && echo 4 > /d/keep/k2
CMD ls -R /d; cat /d/keep/k /d/keep/k2
EOF
interop whiteouts "$D" 3

done_testing
