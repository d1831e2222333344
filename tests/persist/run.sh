#!/bin/bash
# Persistence: a USB stick image with free space after the image, booted under QEMU with the
# medium writable. gapbox.persist=auto (the profiles' default) makes the data partition at the
# first boot; the probe (tests/persist/overlay) pushes an image, adds a node to appliance.yaml
# and reboots; the second boot finds all of it and the same host key, after a clean unmount at
# shutdown; then another build of the image is written over the stick with gapbox write and
# boots on a fresh root layer with the registry, the configuration and the host key kept.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

arch=${ARCH:-amd64}
work=$PWD/build/test/persist-$arch
mkdir -p "$work"
rm -f "$work"/*.log
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
finish() { echo "persist $arch: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

# host_fsck WHAT: e2fsck -fn, read-only, on the stick's GAPBOX-DATA partition through a loop device.
host_fsck() {
	local dump start size loop
	dump=$(sfdisk -d "$stick" 2>/dev/null | grep 'name="GAPBOX-DATA"')
	start=$(printf '%s\n' "$dump" | sed -n 's/.*start= *\([0-9]*\),.*/\1/p')
	size=$(printf '%s\n' "$dump" | sed -n 's/.*size= *\([0-9]*\),.*/\1/p')
	if [ -z "$start" ] || ! loop=$(losetup -f --show -r -o $((start * 512)) --sizelimit $((size * 512)) "$stick"); then
		not_ok "$1: no GAPBOX-DATA partition on $stick"
		return
	fi
	if e2fsck -fn "$loop" > "$work/e2fsck.txt" 2>&1; then ok "$1: $(tail -n 1 "$work/e2fsck.txt")"
	else not_ok "$1: $(tail -n 5 "$work/e2fsck.txt" | tr '\n' ' ')"; fi
	losetup -d "$loop"
}

case $arch in
amd64) firmware_a=uefi firmware_b=bios timeout=900 ;;
arm64) firmware_a=uefi firmware_b=uefi timeout=2400 ;;
*) echo "persist: ARCH=$arch: expected amd64 or arm64" >&2; exit 64 ;;
esac

# Two builds that differ (each overlay has its own random image to push), one payload.
rm -rf "$work/outputs" "$work/overlay-a" "$work/overlay-b"
tests/fixtures/gen-outputs --arch "$arch" "$work/outputs" > /dev/null
tests/persist/overlay/usr/local/sbin/gapbox-persist-make-oci "$work/overlay-a/usr/share/gapbox-persist-test/image" pushed "$arch" > /dev/null
mkdir -p "$work/overlay-b/etc"
echo "image B of the persistence test" > "$work/overlay-b/etc/gapbox-persist-build"
for b in a b; do
	start=$(date +%s)
	extra=("$work/overlay-a")
	[ "$b" = b ] && extra+=("$work/overlay-b")
	if ! build/host/gapbox build "profiles/debian12-$arch.yaml" --overlay tests/persist/overlay \
		"${extra[@]/#/--overlay=}" --outputs "$work/outputs" -o "$work/$b.iso" < /dev/null > "$work/build-$b.log" 2>&1; then
		tail -n 20 "$work/build-$b.log"
		not_ok "build image ${b^^}"
		finish
	fi
	ok "build image ${b^^} ($(( $(date +%s) - start )) s, build id $(sed -n 's/.*build id \([0-9a-f]*\).*/\1/p' "$work/build-$b.log"))"
done

# A 2 GiB stick: the image, then free space that nothing has used.
stick=$work/stick.img
rm -f "$stick"
truncate -s 2G "$stick"
dd if="$work/a.iso" of="$stick" conv=notrunc,fsync bs=4M status=none

# Boot 1: phase 0 (partition made, push, new node, reboot) and phase 1 (all still there, power off).
pass='GAPBOX-PERSIST-TEST: PHASE 1 PASS'
fail='GAPBOX-PERSIST-TEST: PHASE [01] FAIL|Kernel panic|gapbox-init: error'
if qemu/boot "$stick" --arch "$arch" --firmware "$firmware_a" --medium usb --writable --until-exit \
	--timeout "$timeout" --log "$work/boot-a.log" --expect "$pass" --fail "$fail"; then
	ok "image A, $firmware_a usb: the data partition made at the first boot, an image pushed, a node added; after a reboot all there, with the same host key"
else
	not_ok "image A: phase 0 and 1 (console: $work/boot-a.log): $(grep -aom1 'GAPBOX-PERSIST-TEST: PHASE . FAIL.*' "$work/boot-a.log")"
	finish
fi
for phase in 0 1; do
	line=$(grep -aom1 "GAPBOX-PERSIST-TEST: PHASE $phase PASS.*" "$work/boot-a.log" | tr -d '\r')
	echo "# boot $((phase + 1)): ${line#*PASS }"
done

# The stick as a host sees it: the table whole, the filesystem clean.
if sgdisk -v "$stick" > "$work/sgdisk.txt" 2>&1 && grep -q 'No problems found' "$work/sgdisk.txt"; then
	ok "sgdisk -v: no problems; $(sfdisk -d "$stick" 2>/dev/null | grep -c 'name=') partitions, the last: $(sfdisk -d "$stick" 2>/dev/null | grep 'GAPBOX-DATA' | sed 's/^[^:]*: //')"
else not_ok "sgdisk -v $stick: $(tr '\n' ' ' < "$work/sgdisk.txt")"; fi
host_fsck "e2fsck -fn on the host"

# Image B over the same stick: gapbox write keeps the data partition behind it.
if build/host/gapbox write "$work/b.iso" "$stick" --yes > "$work/write-b.log" 2>&1; then
	ok "gapbox write image B onto the stick: $(grep -aim1 'keep' "$work/write-b.log")"
else
	not_ok "gapbox write image B onto the stick: $(tail -n 3 "$work/write-b.log" | tr '\n' ' ')"
	finish
fi
pass='GAPBOX-PERSIST-TEST: PHASE 2 PASS'
fail='GAPBOX-PERSIST-TEST: PHASE . FAIL|Kernel panic|gapbox-init: error'
if qemu/boot "$stick" --arch "$arch" --firmware "$firmware_b" --medium usb --writable --until-exit \
	--timeout "$timeout" --log "$work/boot-b.log" --expect "$pass" --fail "$fail"; then
	line=$(grep -aom1 'GAPBOX-PERSIST-TEST: PHASE 2 PASS.*' "$work/boot-b.log" | tr -d '\r')
	ok "image B, $firmware_b usb: a fresh root layer; kept: the pushed image, the node, the host key (${line#*PASS })"
	# e2fsck found the partition clean at the boots after the reboot and after the power-off:
	# both shutdowns unmounted it (an unclean one leaves the journal to replay).
	verdicts=$(grep -ahoE 'PHASE [12] PASS .* fsck=[a-z]+' "$work/boot-a.log" "$work/boot-b.log" | sed 's/.*fsck=//' | paste -sd, -)
	if [ "$verdicts" = clean,clean ]; then ok "the reboot and the power-off unmounted the data partition cleanly (e2fsck at the next boots: $verdicts)"
	else not_ok "after the reboot and the power-off, e2fsck found: $verdicts (expected clean,clean)"; fi
else
	not_ok "image B: phase 2 (console: $work/boot-b.log): $(grep -aom1 'GAPBOX-PERSIST-TEST: PHASE . FAIL.*' "$work/boot-b.log")"
	finish
fi

# Power loss: image B booted from the stick with gapbox.test.powerloss=POINT (BIOS, direct kernel boot,
# the stick still the medium). Each boot first checks what the cut before it left: e2fsck found
# the partition clean or fixed it by replaying the journal alone, every push that returned
# success pulls whole with its digest, a pre-filled image pulls whole. Then it pushes until
# QEMU is killed (SIGKILL) at the point's console line.
[ "$arch" = amd64 ] || { echo "skip - power loss on $arch: the amd64 run covers it (each cut is a boot, minutes under arm64 emulation)"; finish; }
points=(
	'POWERLOSS PUSHING 1\.1 |during the first push'
	'POWERLOSS PUSHED 2\.1 |the moment a push returned'
	'gapbox-init: .*root: overlay|in early boot, the data partition just checked and mounted'
	'POWERLOSS PUSHING 4\.3 |during the third push of a boot'
	'POWERLOSS CHECK 5 PASS|right after the checks (pulls wrote and removed temporary files)'
	'POWERLOSS PUSHED 6\.2 |the moment the second push returned'
	'POWERLOSS PUSHING 7\.2 |during the second push'
	'gapbox-init: switching root|at switch_root, before systemd'
	'POWERLOSS PUSHED 9\.4 |the moment the fourth push returned'
	'POWERLOSS PUSHING 10\.5 |during the fifth push'
)
fail='POWERLOSS CHECK [0-9a-z]+ FAIL|POWERLOSS PUSH FAILED|POWERLOSS IDLE|Kernel panic|gapbox-init: error'
check_line() { grep -aom1 "GAPBOX-PERSIST-TEST: POWERLOSS CHECK $1 .*" "$2" | tr -d '\r'; }
for i in "${!points[@]}"; do
	n=$((i + 1)) expect=${points[$i]%%|*} what=${points[$i]#*|}
	if ! qemu/boot "$stick" --arch "$arch" --firmware bios --medium usb --writable --kill --timeout "$timeout" \
		--append "gapbox.test.powerloss=$n" --log "$work/powerloss-$n.log" --expect "$expect" --fail "$fail" > /dev/null; then
		not_ok "power cut $n ($what): the boot did not reach /$expect/ (console: $work/powerloss-$n.log): $(grep -aEom1 "$fail" "$work/powerloss-$n.log")"
		finish
	fi
	if [ "$n" != 1 ]; then
		line=$(check_line "$n" "$work/powerloss-$n.log")
		if [ -n "$line" ]; then echo "# power cut $((n - 1)), the boot after it: ${line#*CHECK $n }"
		else echo "# power cut $((n - 1)), the boot after it: cut itself before its checks (point $n)"; fi
	fi
	echo "# power cut $n: $what"
done
if qemu/boot "$stick" --arch "$arch" --firmware bios --medium usb --writable --until-exit --timeout "$timeout" \
	--append "gapbox.test.powerloss=final" --log "$work/powerloss-final.log" --expect 'POWERLOSS CHECK final PASS' \
	--fail "$fail" > /dev/null; then
	ok "10 power cuts (${#points[@]} points: pushes in flight, just returned, early boot, switch_root); after each the boot was clean: $(check_line final "$work/powerloss-final.log" | sed 's/.*CHECK //')"
else
	not_ok "after the power cuts: $(check_line final "$work/powerloss-final.log") (console: $work/powerloss-final.log)"
fi
verdicts=$(cat "$work"/powerloss-*.log | grep -aho 'POWERLOSS CHECK [0-9a-z]* PASS fsck=[a-z ]* pushes' | sed 's/.*fsck=//; s/ pushes$//' | sort | uniq -c | sed 's/^ *//' | paste -sd, -)
echo "# e2fsck at the boots after a cut: $verdicts"
host_fsck "e2fsck -fn on the host after the power cuts"
finish
