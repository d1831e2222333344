#!/bin/bash
# Checks that the root stream kept what a Debian root needs: numeric ownership, special
# modes, file capabilities (xattrs), hardlinks, the overlay files as root:root, and no
# distribution initramfs, and gapbox's programs stripped. Usage: tests/boot/check-root.sh IMAGE
set -euo pipefail
image=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

xorriso -osirrox on -indev "$image" -extract /gapbox/system.sfs "$work/system.sfs" > /dev/null 2>&1
unsquashfs -lln "$work/system.sfs" > "$work/list" 2>/dev/null
fail=0
expect() { # expect REGEX WHAT
	grep -Eq -- "$1" "$work/list" || { echo "check-root: $2 (no line matches /$1/)"; fail=1; }
}
expect '^drwxr-xr-x 0/0 +[0-9]+ [-0-9: ]+ squashfs-root$' "root folder must be 0755 root:root"
expect '^-rw-r----- 0/42 .* squashfs-root/etc/shadow$' "/etc/shadow must be 0640 root:shadow(42)"
expect '^-rwxr-sr-x 0/42 .* squashfs-root/usr/bin/chage$' "/usr/bin/chage must be setgid shadow"
expect '^drwxrwsr-x 0/8 .* squashfs-root/var/mail$' "/var/mail must be 2775 root:mail(8)"
expect '^-rw-r--r-- 0/0 .* squashfs-root/etc/hostname$' "overlay file /etc/hostname must be 0644 root:root"
expect '^-rwxr-xr-x 0/0 .* squashfs-root/usr/lib/gapbox/gapbox-init$' "gapbox-init must be in the root"
if grep -q 'squashfs-root/boot/initrd.img' "$work/list"; then
	echo "check-root: the distribution initramfs must not be in the root"; fail=1
fi

unsquashfs -d "$work/x" "$work/system.sfs" usr/bin/ping usr/bin/perl usr/bin/perl5.36.0 usr/lib/gapbox/gapbox-init \
	usr/sbin/gapbox-firstboot > /dev/null 2>&1
caps=$(getcap "$work/x/usr/bin/ping" 2>/dev/null || true)
case $caps in *cap_net_raw*) ;; *) echo "check-root: /usr/bin/ping lost its file capability (got '$caps')"; fail=1 ;; esac
if [ "$(stat -c %i "$work/x/usr/bin/perl")" != "$(stat -c %i "$work/x/usr/bin/perl5.36.0")" ]; then
	echo "check-root: /usr/bin/perl and perl5.36.0 must stay one hardlinked file"; fail=1
fi
# gapbox's own programs go in stripped; their debug info stays beside the build.
for bin in usr/lib/gapbox/gapbox-init usr/sbin/gapbox-firstboot; do
	if [ ! -f "$work/x/$bin" ]; then
		echo "check-root: /$bin is not in the root"; fail=1
	elif readelf -S "$work/x/$bin" | grep -Eq '\.(debug_info|symtab)'; then
		echo "check-root: /$bin carries debug info or a symbol table: it must go in stripped"; fail=1
	fi
done
[ "$fail" = 0 ] && echo "check-root: ownership, modes, capabilities, hardlinks, overlay and stripped programs as expected"
exit "$fail"
