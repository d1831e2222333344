#!/bin/bash
# Boot tests: build the amd64 image with the test probe overlay, check it with gapbox
# inspect, then boot it under QEMU from each firmware and medium until the probe reports
# that systemd is running with no failed unit. Also: a wrong gapbox.medium= must end in the
# rescue shell with a message naming what was searched; gapbox.toram with too little memory must
# be refused, naming the sizes, and the boot go on from the medium (to switch_root); gapbox.toram=auto
# from a USB stick must copy the images, release the stick and switch_root onto the copies.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

arch=${ARCH:-amd64}
work=$PWD/build/test/boot-$arch
image=$work/gapbox-boot-$arch.iso
mkdir -p "$work"
rm -f "$work"/*.log
passed=0 failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }

rm -rf "$work/outputs"
# amd64: an ansible_in_container payload whose Ansible image works (Debian's Python, Ansible and SSH
# client, fetch-debs' cache), for the boot that runs Ansible in it on the admin.
ansible_opts=()
if [ "$arch" = amd64 ]; then
	debs=${GAPBOX_CACHE:-/var/cache/gapbox}/debs-ansible-image/$arch
	if tests/fixtures/fetch-debs --arch "$arch" --list wheel-debs.list --list ansible-image-debs.list "$debs" > "$work/fetch-debs.log" 2>&1; then
		ansible_opts=(--ansible-in-container --ansible-image-from "$debs")
	else not_ok "fetch-debs for the Ansible image: $(tail -n 3 "$work/fetch-debs.log")"; fi
fi
tests/fixtures/gen-outputs --arch "$arch" "${ansible_opts[@]}" "$work/outputs" > /dev/null
start=$(date +%s)
if ! build/host/gapbox build "profiles/debian12-$arch.yaml" --overlay tests/boot/overlay --outputs "$work/outputs" \
	-o "$image" < /dev/null; then
	not_ok "build profiles/debian12-$arch.yaml"
	echo "boot: $passed passed, $failed failed"
	exit 1
fi
ok "build ($(( $(date +%s) - start )) s, $(du -m "$image" | cut -f1) MiB)"
if build/host/gapbox inspect "$image" > "$work/inspect.txt"; then ok "inspect: $(tail -n 1 "$work/inspect.txt")"
else cat "$work/inspect.txt"; not_ok "inspect"; fi

if tests/boot/check-root.sh "$image"; then ok "root stream keeps ownership, modes, xattrs, hardlinks"
else not_ok "root stream keeps ownership, modes, xattrs, hardlinks"; fi

# No image carries SSH host keys or named's rndc key: each machine makes its own at boot.
rm -f "$work/system.sfs"
if xorriso -osirrox on -indev "$image" -extract /gapbox/system.sfs "$work/system.sfs" > /dev/null 2>&1 &&
	unsquashfs -l "$work/system.sfs" > "$work/system.list" 2>&1 && grep -q 'etc/ssh/sshd_config$' "$work/system.list"; then
	if grep -q 'ssh_host_' "$work/system.list"; then not_ok "system.sfs holds SSH host keys: $(grep ssh_host_ "$work/system.list" | head -n 3 | tr '\n' ' ')"
	else ok "unsquashfs -l system.sfs lists no ssh_host_ (sshd_config is there)"; fi
	if grep -q 'etc/bind/rndc.key$' "$work/system.list"; then not_ok "system.sfs holds named's rndc key etc/bind/rndc.key"
	elif grep -q 'etc/bind/named.conf$' "$work/system.list"; then ok "system.sfs holds no etc/bind/rndc.key (named.conf is there)"
	else not_ok "system.sfs has no etc/bind/named.conf: is bind9 in the image?"; fi
else not_ok "cannot list system.sfs (see $work/system.list)"; fi
rm -f "$work/system.sfs"

pass='GAPBOX-BOOT-TEST: PASS'
fail='GAPBOX-BOOT-TEST: FAIL|Kernel panic|gapbox-init: error'

case $arch in
amd64)
	matrix=("bios cdrom" "bios usb" "uefi cdrom" "uefi usb" "uefi-sb cdrom" "uefi-sb usb")
	if [ -n "${GAPBOX_BOOT_FULL:-}" ]; then matrix+=("uefi disk")
	else echo "skip - boot amd64 uefi disk (a virtio disk, which no PC firmware boots an ISO from in the field): set GAPBOX_BOOT_FULL=1"; fi ;;
arm64)
	# The arm64 two-VM site (tests/e2e) boots its admin from a UEFI CD and waits for this same
	# probe line, so under emulation, where an arm64 boot takes minutes, that boot stands for
	# this one.
	matrix=("uefi usb" "uefi-sb usb")
	if [ -n "${GAPBOX_BOOT_FULL:-}" ]; then matrix+=("uefi cdrom")
	else echo "skip - boot arm64 uefi cdrom here: the arm64 two-VM site boots its admin from a UEFI CD to the same probe line (GAPBOX_BOOT_FULL=1 boots it here too)"; fi ;;
esac
for fm in "${matrix[@]}"; do
	set -- $fm
	if qemu/boot "$image" --arch "$arch" --firmware "$1" --medium "$2" --timeout 300 \
		--log "$work/$1-$2.log" --expect "$pass" --fail "$fail"; then
		ok "boot $arch $1 $2"
	else
		not_ok "boot $arch $1 $2 (console log: $work/$1-$2.log)"
	fi
done

# Secure Boot: the firmware's own checks (OVMF's and AAVMF's builds with Microsoft's keys) let
# Debian's signed shim, GRUB and kernel through, the kernel locked itself down (integrity), and
# with Secure Boot off the same chain boots unlocked. GRUB, not a signed kernel image (which only
# gapbox build --secure-boot-key makes, tests/verify), started the kernel: no stub.
for log in "$work"/uefi-*.log; do
	[ -e "$log" ] || continue
	fm=$(basename "$log" .log)
	line=$(grep -aom1 'GAPBOX-BOOT-TEST: PASS.*' "$log" | tr -d '\r')
	[ -n "$line" ] || continue
	sb=$(sed -n 's/.* secureboot=\([^ ]*\).*/\1/p' <<< "$line") ld=$(sed -n 's/.* lockdown=\([^ ]*\).*/\1/p' <<< "$line")
	stub=$(sed -n 's/.* stub=\([^ ]*\).*/\1/p' <<< "$line")
	case $fm in
	uefi-sb-*) want_sb=1 want_ld=integrity ;;
	*) want_sb=0 want_ld=none ;;
	esac
	if [ "$sb" = "$want_sb" ] && [ "$ld" = "$want_ld" ] && [ "$stub" = none ]; then
		ok "boot $arch $fm: Secure Boot $sb, lockdown $ld, started by GRUB"
	else not_ok "boot $arch $fm: expected secureboot=$want_sb lockdown=$want_ld stub=none, the probe says secureboot=$sb lockdown=$ld stub=$stub"; fi
done

# The status's Runs line says how the images were checked: for this unsigned image, not at all
# (gapbox.verify's default off); tests/verify boots a signed one (verity).
n=0 off=0
for fm in "${matrix[@]}"; do
	line=$(grep -aom1 'GAPBOX-BOOT-TEST: PASS.*' "$work/${fm// /-}.log" 2> /dev/null | tr -d '\r')
	[ -n "$line" ] || continue
	n=$((n + 1))
	case $line in *' checked=off '*) off=$((off + 1)) ;; esac
done
if [ "$n" -gt 0 ] && [ "$off" = "$n" ]; then ok "boot $arch: the status says the images were not checked (gapbox.verify=off, an unsigned image's default) in all $n boots"
else not_ok "boot $arch: $off of $n boots report checked=off (the status's Runs line)"; fi

# The control: the same image with gapbox's own unsigned GRUB (boot.secure_boot: false) is
# refused by that firmware before anything of it runs.
if [ "$arch" = amd64 ]; then
	sed -e "s|\[\.\./overlay\]|[$PWD/overlay]|" -e 's/^  uefi: true$/  uefi: true\n  secure_boot: false/' \
		profiles/debian12-amd64.yaml > "$work/profile-unsigned.yaml"
	if ! grep -q 'secure_boot: false' "$work/profile-unsigned.yaml"; then not_ok "cannot make the secure_boot: false profile"
	elif ! build/host/gapbox build "$work/profile-unsigned.yaml" --overlay tests/boot/overlay -o "$work/unsigned-grub.iso" \
		> "$work/unsigned-grub.build.log" 2>&1 < /dev/null; then not_ok "build with secure_boot: false (see $work/unsigned-grub.build.log)"
	elif qemu/boot "$work/unsigned-grub.iso" --arch amd64 --firmware uefi-sb --medium cdrom --timeout 300 \
		--log "$work/unsigned-grub.log" --expect 'failed to load Boot.*Access Denied' --fail "$pass|$fail" > /dev/null; then
		ok "boot amd64 uefi-sb cdrom with secure_boot: false: the firmware refuses gapbox's unsigned GRUB ($(grep -aom1 'failed to load Boot.*Access Denied' "$work/unsigned-grub.log" | sed 's/ from .*:/:/'))"
	else not_ok "boot amd64 uefi-sb cdrom with secure_boot: false: expected the firmware's Access Denied ($work/unsigned-grub.log)"; fi
	rm -f "$work/unsigned-grub.iso"
fi

# Each boot of the one image made its own SSH host key, and its banner showed that key.
keys=$(grep -aho 'GAPBOX-BOOT-TEST: PASS.*' "$work"/*-*.log 2>/dev/null | sed -n 's/.* hostkey=\([^ ]*\) banner-hostkey=\([^ ]*\).*/\1 \2/p')
boots=$(printf '%s\n' "$keys" | grep -c .)
distinct=$(printf '%s\n' "$keys" | cut -d' ' -f1 | grep -v '^none$' | sort -u | grep -c .)
if [ "$boots" -ge 1 ] && [ "$distinct" = "$boots" ] && ! printf '%s\n' "$keys" | grep -qv ' yes$'; then
	ok "SSH host keys: $boots boots, $distinct different ED25519 keys, each on its banner ($(printf '%s\n' "$keys" | cut -d' ' -f1 | paste -sd' '))"
else not_ok "SSH host keys: expected a different key per boot, each on its banner; got: $(printf '%s\n' "$keys" | paste -sd';')"; fi

# And its own rndc key, with which rndc is answered.
rndcs=$(grep -aho 'GAPBOX-BOOT-TEST: PASS.*' "$work"/*-*.log 2>/dev/null | sed -n 's/.* rndc=\([^ ]*\).*/\1/p')
distinct=$(printf '%s\n' "$rndcs" | cut -d, -f1 | grep -v '^none$' | sort -u | grep -c .)
if [ "$boots" -ge 1 ] && [ "$distinct" = "$boots" ] && ! printf '%s\n' "$rndcs" | grep -qv ',answers$'; then
	ok "rndc keys: $boots boots, $distinct different keys, rndc status answered with each"
else not_ok "rndc keys: expected a different key per boot, each answered by rndc status; got: $(printf '%s\n' "$rndcs" | paste -sd' ')"; fi

# kubespray-offline's ansible_in_container on the admin: gapbox-kubespray init imports the payload's
# Ansible image into the admin's containerd, and exec runs Ansible in it.
if [ ${#ansible_opts[@]} -gt 0 ]; then
	if qemu/boot "$image" --arch "$arch" --firmware uefi --medium cdrom --timeout 600 --append gapbox.test.ansible \
		--log "$work/ansible.log" --expect 'GAPBOX-BOOT-TEST: ANSIBLE ' --fail "$fail" > /dev/null &&
		line=$(grep -aom1 'GAPBOX-BOOT-TEST: ANSIBLE ok .*' "$work/ansible.log" | tr -d '\r') && [[ $line == *venv=no* ]]; then
		ok "ansible_in_container on the admin: init imported the image into containerd, exec ran Ansible in it (${line#GAPBOX-BOOT-TEST: ANSIBLE ok })"
	else
		grep -a 'gapbox-boot-test:\|GAPBOX-BOOT-TEST' "$work/ansible.log" | tail -n 20
		not_ok "ansible_in_container on the admin (console: $work/ansible.log)"
	fi
fi

# gapbox-init with a medium that does not exist: rescue shell, naming the UUID it looked for.
if qemu/boot "$image" --arch "$arch" --firmware uefi --medium cdrom --timeout 120 \
	--append "gapbox.medium=UUID=1999-01-01-00-00-00-00 gapbox.timeout=3" \
	--log "$work/wrong-medium.log" --expect 'rescue shell' --fail "$pass|Kernel panic" > /dev/null &&
	grep -aq 'gapbox-init: error: no medium with UUID=1999-01-01-00-00-00-00' "$work/wrong-medium.log"; then
	ok "wrong gapbox.medium= ends in the rescue shell: $(grep -aFm1 'gapbox-init: error: no medium' "$work/wrong-medium.log" | tr -d '\r')"
else
	tail -n 30 "$work/wrong-medium.log"
	not_ok "wrong gapbox.medium= ends in the rescue shell"
fi

# gapbox.toram=auto from a USB stick with the memory for it: copied, checked, the stick released,
# then switch_root onto the copies. The boot from there on is a medium boot's; the two-VM site's
# admin (amd64) boots with gapbox.toram to healthy, runs=ram, and has its medium ejected.
if qemu/boot "$image" --arch "$arch" --firmware uefi --medium usb --timeout 300 --append gapbox.toram=auto \
	--log "$work/toram-auto-usb.log" --expect 'switching root' --fail "$fail" > /dev/null &&
	copy=$(grep -aEom1 'gapbox.toram=auto: copying .* the medium is (removable|on USB)' "$work/toram-auto-usb.log") &&
	copied=$(grep -aom1 'gapbox.toram: copied and checked .*' "$work/toram-auto-usb.log" | tr -d '\r') &&
	grep -aq 'gapbox.toram: the system runs from RAM and the medium sd[a-z]* is released' "$work/toram-auto-usb.log"; then
	ok "gapbox.toram=auto from a USB stick: ${copy#gapbox.toram=auto: }; ${copied#gapbox.toram: }; the stick released; switch_root onto the copies"
else
	tail -n 30 "$work/toram-auto-usb.log"
	not_ok "gapbox.toram=auto from a USB stick: expected a copy, the stick released and switch_root (console: $work/toram-auto-usb.log)"
fi

# gapbox.toram where the images and the memory the system keeps do not fit (312 MiB of images and
# 512 MiB kept, in 768 MiB): a refusal that names the sizes, then a normal boot from the medium.
# The decision is the same C code on arm64, whose lane is the longer: GAPBOX_BOOT_FULL=1 runs it
# there too.
if [ "$arch" = amd64 ] || [ -n "${GAPBOX_BOOT_FULL:-}" ]; then
	refusal='gapbox-init: warning: gapbox.toram: refused: too little memory to copy .* needs [0-9]+ MiB .* has [0-9]+ MiB available; booting from the medium [^ ]+ instead'
	if qemu/boot "$image" --arch "$arch" --firmware uefi --medium cdrom --timeout 300 --mem 768 --append gapbox.toram \
		--log "$work/toram-short.log" --expect 'switching root' --fail "$fail" > /dev/null &&
		line=$(grep -aEom1 "$refusal" "$work/toram-short.log") && ! grep -aq 'gapbox.toram: copied' "$work/toram-short.log"; then
		ok "gapbox.toram in 768 MiB: ${line#gapbox-init: warning: }; nothing copied, the boot went on from the medium to switch_root"
	else
		tail -n 30 "$work/toram-short.log"
		not_ok "gapbox.toram in 768 MiB: expected /$refusal/, nothing copied and switch_root (console: $work/toram-short.log)"
	fi
else
	echo "skip - boot $arch with gapbox.toram in too little memory: the decision is the same C code as amd64's, and the arm64 lane is the longer (GAPBOX_BOOT_FULL=1 runs it here too)"
fi

echo "boot: $passed passed, $failed failed"
[ "$failed" = 0 ]
