#!/bin/bash
# What signing and verified boot cost: one signed amd64 image (the boot probe overlay, the
# fixture payload), the build's stage times for verity and for the manifest (signing included),
# then the image booted under QEMU from a UEFI CD with gapbox.verify=off, full and verity,
# printing for each the seconds from power-on to a healthy appliance and the initramfs's own
# figures for its check.
#   tests/bench/verify.sh [OUTPUTS]    (default: the fixture payload; a real outputs/ shows
#                                       what full mode costs on a real payload)
# Each QEMU run takes the lock GAPBOX_QEMU_LOCK (default /tmp/gapbox-qemu.lock).
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$PWD/build/bench-verify
lock=${GAPBOX_QEMU_LOCK:-/tmp/gapbox-qemu.lock}
pass='GAPBOX-BOOT-TEST: PASS' fail='GAPBOX-BOOT-TEST: FAIL|Kernel panic|starting a rescue shell'
rm -rf "$work"
mkdir -p "$work"
outputs=${1:-$work/outputs}
[ $# -ge 1 ] || tests/fixtures/gen-outputs --arch amd64 "$outputs" > /dev/null
(umask 077 && openssl genpkey -algorithm ed25519 -out "$work/site.pem" 2> /dev/null)

stage() { sed -n "s/.*stage $2 *\([0-9.]*\) s\$/\1/p" "$1"; }
for signed in no yes; do
	args=()
	[ "$signed" = yes ] && args=(--sign "$work/site.pem")
	build/host/gapbox build profiles/debian12-amd64.yaml --overlay tests/boot/overlay --outputs "$outputs" \
		-o "$work/$signed.iso" "${args[@]}" < /dev/null > "$work/build-$signed.log" 2>&1 ||
		{ tail -n 20 "$work/build-$signed.log"; exit 1; }
done
trees=$(xorriso -indev "$work/yes.iso" -find /gapbox -name '*.verity' -exec lsdl 2> /dev/null | awk '{ s += $5 } END { printf "%.1f", s / 1048576 }')
echo "image: $(du -m "$work/yes.iso" | cut -f1) MiB, amd64, $(nproc) cores, QEMU TCG"
echo "build: stage verity $(stage "$work/build-yes.log" verity) s (hash trees $trees MiB on the medium)," \
	"stage manifest $(stage "$work/build-no.log" manifest) s unsigned, $(stage "$work/build-yes.log" manifest) s signed"

for mode in off full verity; do
	flock "$lock" qemu/boot "$work/yes.iso" --arch amd64 --firmware uefi --medium cdrom --timeout 600 \
		--append "gapbox.verify=$mode" --log "$work/$mode.log" --expect "$pass" --fail "$fail" > "$work/$mode.out" 2>&1 ||
		{ cat "$work/$mode.out"; exit 1; }
	figure=$(grep -aom1 'gapbox\.verify=[a-z]*: [0-9]* images[^(]*([0-9.]* s)' "$work/$mode.log" | tr -d '\r' || true)
	printf '%-7s healthy %s after power-on%s\n' "$mode:" "$(grep -o 'seen after [0-9]*s' "$work/$mode.out" | sed 's/seen after //')" \
		"${figure:+; $figure}"
done
