#!/usr/bin/env bash
# isola-runtime as a Kubernetes RuntimeClass handler: Debian's containerd with
# its CRI plugin drives it through the runc v2 shim while a CRI client
# (tests/kube/cri_sequence.py) does what the kubelet does with a two-container
# pod; the same sequence runs with runc (and crun) as the handler, side by
# side. See docs/kubernetes.md.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/../image/registry_lib.sh"
source "$(dirname "$0")/cri_env.sh"

missing=$(cri_missing)
[ -z "$missing" ] || skip_all "$(head -1 <<<"$missing")"

work=$(mktemp -d /tmp/isola-cri.XXXXXX)
trap cri_env_stop EXIT
trap "exit 1" INT TERM
if ! cri_env_start "$work" 15300 15349 2>"$work/start.err"; then
	echo "Bail out! $(tr '\n' ' ' <"$work/start.err")"
	exit 1
fi
ok "containerd with the CRI plugin and handlers ${CRI_HANDLERS[*]} is up"

# the client's unnumbered results, numbered here
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done < <(cd "$(dirname "$0")" && ISOLA_BUILD=$ISOLA_BUILD "$CRI_PY" cri_sequence.py \
	"$CRI_SOCK" "$CRI_BUSYBOX" "$work" "${CRI_HANDLERS[@]}" 2>&1)

# after containerd is gone: no shim, no mount, no netns, no bridge
sock=$CRI_SOCK
cri_env_stop
check_eq "no shim of this containerd is left" "$(pgrep -f "containerd-shim-runc-v2 .*-address $sock")" ""
check_eq "no mount under the work dir is left" "$(awk -v w="$work" 'index($2, w) == 1' /proc/self/mounts)" ""
check "the bridge $CRI_BRIDGE is gone" bash -c "! ip link show $CRI_BRIDGE >/dev/null 2>&1"
check_eq "no pod cgroup parent is left" "$(ls -d /sys/fs/cgroup/*/"$CRI_CG_PREFIX"-* 2>/dev/null)" ""
done_testing
