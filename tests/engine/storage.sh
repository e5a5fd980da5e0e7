#!/bin/bash
# Storage of containers: bind mounts and named volumes (persisting across
# containers, created on first use, refused removal while in use, prune),
# anonymous volumes, cp both ways (with a symlink escape attempt), commit and
# running the committed image, N containers sharing the image's layers,
# system df and system prune.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

is() { timeout 60 "$ISOLA" "$@"; }

mkdir -p "$ENG_TMP/host"
echo host-data >"$ENG_TMP/host/f"
check_eq "-v bind :ro is readable" "$(is run --rm -v "$ENG_TMP/host:/h:ro" "${IMG[@]}" cat /h/f)" "host-data"
check_match "-v bind :ro is read-only" "$(is run --rm -v "$ENG_TMP/host:/h:ro" "${IMG[@]}" touch /h/x 2>&1)" "Read-only"
is run --rm -v "$ENG_TMP/host:/h" "${IMG[@]}" sh -c 'echo from-ctr > /h/g'
check_eq "-v bind is writable" "$(cat "$ENG_TMP/host/g")" "from-ctr"
is run --rm -v engvol:/data "${IMG[@]}" sh -c 'echo persisted > /data/x'
check_eq "named volume created on first use" "$(is volume ls -q)" "engvol"
check_eq "named volume persists across containers" "$(is run --rm -v engvol:/data "${IMG[@]}" cat /data/x)" "persisted"
check_eq "volume inspect" "$(is volume inspect engvol | jq -r '.[0].Mountpoint')" "$ISOLA_ROOT/volumes/engvol/_data"
is run -d --name st1 -v engvol:/data "${IMG[@]}" sleep 1000 >/dev/null
out=$(is volume rm engvol 2>&1)
rc=$?
check_eq "volume rm of a volume in use fails" "$rc" "125"
check_match "... naming the volume and the container" "$out" "volume 'engvol' is in use by container 'st1'"
is rm -f st1 >/dev/null
is volume create engvol2 >/dev/null
is volume rm engvol >/dev/null
check_eq "volume rm when unused" "$(is volume ls -q)" "engvol2"
is volume prune >/dev/null
check_eq "volume prune" "$(is volume ls -q | wc -l)" "0"
id=$(is run -d -v /anon "${IMG[@]}" sh -c 'echo a > /anon/f; sleep 1000')
check_eq "-v DST makes an anonymous volume" "$(is volume ls -q | wc -l)" "1"
is rm -f -v "$id" >/dev/null
check_eq "rm -v removes it" "$(is volume ls -q | wc -l)" "0"

# cp both ways, confined to the container's root
is run -d --name st2 "${IMG[@]}" sleep 1000 >/dev/null
echo copied-in >"$ENG_TMP/in.txt"
is cp "$ENG_TMP/in.txt" st2:/tmp/
check_eq "cp host -> container" "$(is exec st2 cat /tmp/in.txt)" "copied-in"
is exec st2 sh -c 'mkdir -p /d/e && echo deep > /d/e/f && ln -s /etc /escape'
is cp st2:/d "$ENG_TMP/out"
check_eq "cp container -> host (a tree)" "$(cat "$ENG_TMP/out/e/f")" "deep"
is cp "$ENG_TMP/in.txt" st2:/escape/planted
check "cp through a container symlink stays inside the root" test ! -e /etc/planted
check_eq "... and lands in the container's /etc" "$(is exec st2 cat /etc/planted)" "copied-in"
is cp st2:/escape/passwd "$ENG_TMP/pw"
check_eq "cp out through a symlink reads the container's file" "$(head -1 "$ENG_TMP/pw")" "root:x:0:0:root:/root:/bin/sh"
is rm -f st2 >/dev/null
is create --name st3 "${IMG[@]}" true >/dev/null
is cp "$ENG_TMP/in.txt" st3:/in.txt
is start st3 >/dev/null; is wait st3 >/dev/null
is cp st3:/in.txt "$ENG_TMP/back.txt"
check_eq "cp into a stopped container" "$(cat "$ENG_TMP/back.txt")" "copied-in"
is rm st3 >/dev/null

if [ "$HAVE_IMAGES" = 1 ]; then
	is run --name st4 "${IMG[@]}" sh -c 'echo committed > /new; rm /bin/vi' >/dev/null
	out=$(is commit st4 localhost/engtest-committed:1 2>&1)
	check_match "commit prints the image id" "$out" "sha256:[0-9a-f]{64}"
	check_eq "the committed image has the new file" "$(is run --rm localhost/engtest-committed:1 cat /new)" "committed"
	check_eq "and the deletion (whiteout)" "$(is run --rm localhost/engtest-committed:1 sh -c 'test -e /bin/vi; echo $?')" "1"
	is rm st4 >/dev/null
	# layers are shared: 10 containers add little beyond their own upper dirs
	before=$(du -skx "$ISOLA_ROOT" | cut -f1)
	for i in $(seq 10); do is run -d "${IMG[@]}" sleep 1000 >/dev/null; done
	after=$(du -skx "$ISOLA_ROOT" | cut -f1)
	layer=$(du -sk "$ISOLA_ROOT/layers" | cut -f1)
	[ $((after - before)) -lt $((layer)) ] && ok "10 containers share the layer dirs ($((after - before)) KiB for 10, layer $layer KiB)" ||
		not_ok "10 containers cost $((after - before)) KiB, the layer is $layer KiB"
	check_eq "overlay lowerdir is the image's layer dir" "$(is container-inspect "$(is ps -q | head -1)" | jq -r '.[0].GraphDriver.Data.LowerDir' | grep -c "$ISOLA_ROOT/layers/")" "1"
	for id in $(is ps -q); do is rm -f "$id" >/dev/null; done
else
	for i in 1 2 3 4 5; do skip "commit and layer sharing need the image verbs"; done
fi

is run --name st5 "${IMG[@]}" sh -c 'dd if=/dev/zero of=/big bs=1k count=512 2>/dev/null'
check_match "system df counts containers" "$(is system df)" "Containers +1 +0"
out=$(is system prune --volumes)
check_match "system prune removes stopped containers" "$out" "Deleted containers: 1"
check_eq "nothing left after prune" "$(is ps -aq | wc -l) $(ls "$ISOLA_ROOT/containers" | wc -l)" "0 0"
done_testing
