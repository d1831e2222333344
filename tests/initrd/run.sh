#!/bin/bash
# The initramfs of a built image (ARCH=amd64|arm64): gapbox-fetch is in it with every shared library
# its loader needs, and it runs there, confined to the extracted initramfs by chroot (arm64 through
# qemu-aarch64-static copied into it, so nothing can come from the host); the netboot NIC drivers
# are on its module list.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

arch=${ARCH:-amd64}
gapbox=$PWD/build/host/gapbox
work=$PWD/build/test/initrd-$arch
rm -rf "$work"
mkdir -p "$work/tmp"
export TMPDIR=$work/tmp
passed=0 failed=0 skipped=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }
skip() { echo "skip - $1: $2"; skipped=$((skipped + 1)); }
finish() {
	echo "initrd ($arch): $passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
	exit
}

fetch=usr/lib/gapbox/gapbox-fetch # GB_INITRD_FETCH (lib/layout.h)
case $arch in
amd64) interp=/lib64/ld-linux-x86-64.so.2 emulator='' nics="virtio_net e1000 e1000e igb igc ixgbe i40e ice bnxt_en tg3 r8169 vmxnet3 mlx4_en" ;;
arm64) interp=/lib/ld-linux-aarch64.so.1 emulator=qemu-aarch64-static nics="virtio_net e1000e igb ixgbe i40e ice bnxt_en tg3 r8169 mlx4_en hns3 mvpp2" ;;
*) echo "ARCH=$arch: expected amd64 or arm64" >&2; exit 1 ;;
esac

sed "s|\[\.\./overlay\]|[$PWD/overlay]|" "profiles/debian12-$arch.yaml" > "$work/profile.yaml"
if ! "$gapbox" build "$work/profile.yaml" -o "$work/image.iso" > "$work/build.log" 2>&1 < /dev/null; then
	not_ok build "gapbox build failed: $(tail -n 5 "$work/build.log")"
	finish
fi
closure=$(grep -m1 '^gapbox: closure: ' "$work/build.log")
ok "build: ${closure#gapbox: }"
if ! xorriso -osirrox on -indev "$work/image.iso" -extract /gapbox/initrd.img "$work/initrd.img" > "$work/xorriso.log" 2>&1; then
	not_ok extract "cannot extract /gapbox/initrd.img: $(tail -n 3 "$work/xorriso.log")"
	finish
fi
rm -f "$work/image.iso"
root=$work/root
mkdir -p "$root"
if ! (cd "$root" && zstdcat ../initrd.img | cpio -idm --quiet) 2> "$work/cpio.log"; then
	not_ok extract "cannot unpack initrd.img: $(tail -n 3 "$work/cpio.log")"
	finish
fi

run() { if [ -n "$emulator" ]; then chroot "$root" "/$emulator" "$@"; else chroot "$root" "$@"; fi; }
if [ "$(id -u)" != 0 ]; then
	skip layout "needs root to chroot into the extracted initramfs"
	skip loader "needs root to chroot into the extracted initramfs"
	skip run "needs root to chroot into the extracted initramfs"
else
	[ -n "$emulator" ] && cp "$(command -v "$emulator")" "$root/$emulator"
	# The program, and its interpreter at the path written in it, followed by the initramfs's own
	# busybox: the links (some absolute) must lead to files inside it, not to the host's.
	real=$(run /bin/busybox readlink -f "$interp")
	if run /bin/busybox test -x "/$fetch" && run /bin/busybox test -f "$real" && [ -f "$root$real" ]; then
		ok "layout: /$fetch, and its interpreter $interp -> $real inside the initramfs"
	else not_ok layout "expected /$fetch and $interp in the initramfs (it leads to '$real')"; fi
	# The loader's own view, inside the initramfs: every library the build named is found there.
	run "$interp" --list "/$fetch" > "$work/list.txt" 2>&1
	rc=$?
	missing=
	for soname in ${closure##*: }; do
		grep -Eq "^[[:space:]]*$soname => /|^[[:space:]]*/.*/$soname " "$work/list.txt" || missing+=" $soname"
	done
	if [ "$rc" != 0 ] || grep -q 'not found' "$work/list.txt" || [ -n "$missing" ]; then
		not_ok loader "$interp --list exited $rc; not found:$missing $(grep 'not found' "$work/list.txt" | tr -d '\t')"
	else ok "loader: $interp --list in the initramfs finds all $(grep -c '=>' "$work/list.txt") libraries"; fi
	# --version: a line naming the libcurl it runs with, whatever else the program does.
	out=$(run "/$fetch" --version 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'libcurl [0-9]' <<< "$out"; then
		ok "run: chroot initramfs /$fetch --version: $(grep -m1 'libcurl [0-9]' <<< "$out")"
	else not_ok run "exit $rc: $out"; fi
	[ -n "$emulator" ] && rm -f "$root/$emulator"
fi

# The netboot NIC drivers, on the module list gapbox-init loads.
missing=
for m in $nics; do grep -Eq "/${m//_/[-_]}\.ko" "$root/etc/gapbox/modules.load" || missing+=" $m"; done
if [ -z "$missing" ]; then ok "modules: $(wc -l < "$root/etc/gapbox/modules.load") on the list, among them$(printf ' %s' $nics)"
else not_ok modules "not on etc/gapbox/modules.load:$missing"; fi

echo "initrd ($arch): $(stat -c %s "$work/initrd.img") bytes (zstd cpio); gapbox-fetch's closure $(du -sb --apparent-size "$root/usr/lib/"*-linux-gnu | cut -f1) bytes uncompressed"
rm -rf "$root"
finish
