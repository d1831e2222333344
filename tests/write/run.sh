#!/bin/bash
# gapbox write onto loop devices and disk image files. Targets in use (mounted, the disk of the
# running root, swap, held, a partition, a file attached to a loop device), a fixed disk without
# --force and one too small are refused naming the reason, and their bytes are left as they
# were; good writes read back equal, with GAPBOX-DATA made, or kept over an upgrade in place; a
# device that runs out of space mid-way says so and does not claim success; and a written stick
# boots in QEMU as a USB disk from BIOS and UEFI. Needs root (loop devices, mounts).
set -euo pipefail
cd "$(dirname "$0")/../.."

gapbox=$PWD/build/host/gapbox
work=$PWD/build/test/write
passed=0 failed=0 skipped=0
suite_start=$(date +%s)

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
skip() { echo "skip - $1"; skipped=$((skipped + 1)); }
summary() { echo "write: $passed passed, $failed failed, $skipped skipped in $(( $(date +%s) - suite_start )) s"; }

if [ "$(id -u)" != 0 ]; then
	skip "all: gapbox write's tests need root for loop devices and mounts"
	summary
	exit 0
fi

# Everything the suite attaches, mounts or turns on, undone in reverse order on any exit.
undo=()
cleanup() {
	local i
	for (( i = ${#undo[@]} - 1; i >= 0; i-- )); do
		eval "${undo[i]}" > /dev/null 2>&1 || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# attach FILE: dev becomes a loop device over FILE, partitions scanned, detached at the end
# (set here, not printed for a $(...): a subshell's undo entries would be lost).
attach() {
	dev=$(losetup --show -f -P "$1")
	undo+=("losetup -d $dev")
}

# detach DEV: now rather than at the end (the file is written again, or the space is needed);
# its undo entries go, so that the end never detaches a number another program took since.
detach() {
	local i
	for i in "${!undo[@]}"; do
		case ${undo[i]} in "partx -d $1" | "losetup -d $1") unset 'undo[i]' ;; esac
	done
	undo=("${undo[@]}")
	partx -d "$1" > /dev/null 2>&1 || true
	losetup -d "$1"
}

# partitions DEV: partition nodes for DEV, where the kernel's own parsers do not make them (some
# test kernels have none); BLKPG through partx always works. Removed before DEV is detached.
partitions() {
	partx -a "$1" 2> /dev/null || true
	undo+=("partx -d $1")
}

# digest TARGET: sha256 of all of TARGET's bytes, or "unreadable" where not even root may read
# it (a sandbox's root disk), which is then compared as such.
digest() {
	{ sha256sum < "$1" | cut -d' ' -f1; } 2> /dev/null || echo unreadable
}

# refused NAME PATTERN TARGET CMD...: CMD exits 1, says PATTERN (extended regex), claims no
# success, and leaves TARGET's bytes as they were.
refused() {
	local name=$1 pattern=$2 target=$3; shift 3
	local log=$work/$name.log rc=0 before after
	before=$(digest "$target")
	"$@" > "$log" 2>&1 < /dev/null || rc=$?
	after=$(digest "$target")
	if [ "$rc" != 1 ]; then not_ok "$name: exit status $rc, expected 1"; sed 's/^/# /' "$log"
	elif ! grep -Eq -- "$pattern" "$log"; then not_ok "$name: no /$pattern/ in what it said"; sed 's/^/# /' "$log"
	elif grep -Eq 'matches|is ready' "$log"; then not_ok "$name: it claims success"; sed 's/^/# /' "$log"
	elif [ "$before" != "$after" ]; then not_ok "$name: $target changed (sha256 $before, now $after)"
	else ok "$name: $(grep -Em1 -- "$pattern" "$log" | sed 's/^gapbox: error: //')"
	fi
}

# wrote NAME CMD...: CMD exits 0 and says the read-back matched.
wrote() {
	local name=$1; shift
	local log=$work/$name.log rc=0
	"$@" > "$log" 2>&1 < /dev/null || rc=$?
	if [ "$rc" != 0 ]; then not_ok "$name: exit status $rc"; sed 's/^/# /' "$log"; return 1; fi
	if ! grep -q 'sha256 [0-9a-f]* matches' "$log"; then not_ok "$name: no read-back match reported"; sed 's/^/# /' "$log"; return 1; fi
	return 0
}

size_of() { stat -c %s "$1"; }

rm -rf "$work"
mkdir -p "$work"

# Two images, each ~15 s with the rootfs cached: A as the boot tests build theirs (their probe
# and the fixture payload, which a healthy appliance needs), B with no payload but 24 MiB more
# that does not compress, so that a data partition behind A lies where B's end goes.
tests/fixtures/gen-outputs --arch amd64 "$work/outputs" > /dev/null
mkdir -p "$work/overlay-b/usr/share/gapbox-write-test"
head -c $((24 << 20)) /dev/urandom > "$work/overlay-b/usr/share/gapbox-write-test/filler"
for img in a b; do
	extra=(--outputs "$work/outputs")
	[ "$img" = b ] && extra=(--overlay "$work/overlay-b")
	start=$(date +%s)
	if ! "$gapbox" build profiles/debian12-amd64.yaml --overlay tests/boot/overlay "${extra[@]}" \
		-o "$work/$img.iso" < /dev/null > "$work/build-$img.log" 2>&1; then
		tail -n 20 "$work/build-$img.log" | sed 's/^/# /'
		not_ok "build image $img"
		summary
		exit 1
	fi
	ok "build image $img ($(( $(date +%s) - start )) s, $(( $(size_of "$work/$img.iso") >> 20 )) MiB)"
done
a=$work/a.iso b=$work/b.iso
size_a=$(size_of "$a")

# ---- refusals ----

# A fixed disk (a loop device says it is neither removable nor on USB) without --force.
truncate -s 600M "$work/fixed.img"
attach "$work/fixed.img"; fixed=$dev
refused fixed-disk "neither removable nor on USB.*--force writes anyway" "$fixed" "$gapbox" write "$a" "$fixed" --yes
# (written below)

# Too small, even with --force.
truncate -s 100M "$work/small.img"
attach "$work/small.img"; small=$dev
refused too-small "is too small: it holds 100.0 MiB" "$small" "$gapbox" write "$a" "$small" --yes --force
detach "$small"

# Mounted: a filesystem on the whole device, read-only so that its bytes stay as they are (ext4
# writes its superblock at a read-write mount, and initialises inode tables behind it).
truncate -s 600M "$work/mounted.img"
attach "$work/mounted.img"; mounted=$dev
mkfs.ext4 -q "$mounted"
mkdir -p "$work/mnt"
if mount -o ro,noload "$mounted" "$work/mnt"; then
	undo+=("umount $work/mnt")
	refused mounted "$mounted is mounted on $work/mnt" "$mounted" "$gapbox" write "$a" "$mounted" --yes --force
	umount "$work/mnt"
else
	skip "mounted: cannot mount an ext4 filesystem here"
fi
detach "$mounted"

# The disk of the running root: refused before it is opened for writing (in a sandbox even
# reading it may be denied; then its bytes cannot be compared, and the refusal must come from
# what uses it).
root_dev=$(stat -c '%Hd:%Ld' /)
if [ "${root_dev%%:*}" = 0 ]; then
	skip "running root: / is on an anonymous device ($root_dev), whose disk this test does not look for"
else
	sys=$(readlink -f "/sys/dev/block/$root_dev")
	[ -e "$sys/partition" ] && sys=${sys%/*}
	root_disk=/dev/${sys##*/}
	refused running-root "$root_disk holds the running system \(/ on " "$root_disk" \
		"$gapbox" write "$a" "$root_disk" --yes --force
fi

# Swap.
truncate -s 600M "$work/swap.img"
attach "$work/swap.img"; swap=$dev
mkswap -q "$swap"
if swapon "$swap" 2> /dev/null; then
	undo+=("swapoff $swap")
	refused swap "$swap is in use as swap" "$swap" "$gapbox" write "$a" "$swap" --yes --force
	swapoff "$swap"
else
	skip "swap: swapon $swap is refused here"
fi
detach "$swap"

# Held: device-mapper over the device. Kernels without device-mapper (some test VMs) cannot
# make a holder; target_holders is unit-tested on a sysfs tree (tests/unit/test_write.c).
if dmsetup version > /dev/null 2>&1; then
	truncate -s 600M "$work/held.img"
	attach "$work/held.img"; held=$dev
	dmsetup create gapbox-write-test --table "0 $(blockdev --getsz "$held") linear $held 0"
	undo+=("dmsetup remove gapbox-write-test")
	refused held "${held#/dev/} is held by dm-[0-9]+ \(gapbox-write-test\)" "$held" "$gapbox" write "$a" "$held" --yes --force
	dmsetup remove gapbox-write-test
	detach "$held"
else
	skip "held: no device-mapper in this kernel (dmsetup version fails), so no device can have a holder"
fi

# A disk image file attached to a loop device.
truncate -s 600M "$work/attached.img"
attach "$work/attached.img"; attached=$dev
refused attached-file "$work/attached.img is attached to loop device $attached" "$work/attached.img" \
	"$gapbox" write "$a" "$work/attached.img" --yes
detach "$attached"

# No terminal to ask on, and no --yes.
truncate -s 600M "$work/ask.img"
refused no-terminal "no terminal on stdin to ask on; --yes writes without asking" "$work/ask.img" \
	"$gapbox" write "$a" "$work/ask.img"

# Not a gapbox image; a stick that is not plugged in (no file is made in /dev).
head -c 4M /dev/urandom > "$work/random.iso"
refused not-an-image "random.iso is not an ISO image|random.iso: no GPT" "$work/ask.img" \
	"$gapbox" write "$work/random.iso" "$work/ask.img" --yes
refused not-plugged-in "/dev/gapbox-no-such-stick does not exist: is the stick plugged in" "$work/ask.img" \
	"$gapbox" write "$a" /dev/gapbox-no-such-stick --yes
[ ! -e /dev/gapbox-no-such-stick ] || { not_ok "not-plugged-in: /dev/gapbox-no-such-stick was made"; rm -f /dev/gapbox-no-such-stick; }

# ---- good writes ----

# A whole loop device, with --force: the device gives back the image, and its table is the
# image's.
if wrote loop-device "$gapbox" write "$a" "$fixed" --yes --force; then
	if ! cmp -s -n "$size_a" "$a" "$fixed"; then not_ok "loop-device: cmp finds the device differs from the image"
	elif ! sfdisk -d "$fixed" 2> /dev/null | grep -q 'name="Gap1"'; then not_ok "loop-device: sfdisk -d does not list the image's partitions"
	else ok "loop-device: $(grep -m1 -o 'wrote .* read it back in [^:]*' "$work/loop-device.log"): the sha256 matches, cmp finds it equal, sfdisk -d lists ISO9660, Appended2, Gap1"
	fi
fi
detach "$fixed"

# A stick image with --data 256M: GAPBOX-DATA behind image B, 1 MiB aligned, ext4 labelled, the
# GPT whole (sgdisk -v); then a file in it.
truncate -s 768M "$work/stick.img"
data_start='' data_line=''
if wrote data "$gapbox" write "$b" "$work/stick.img" --yes --data 256M; then
	data_line=$(sfdisk -d "$work/stick.img" 2> /dev/null | grep 'name="GAPBOX-DATA"' || true)
	data_start=$(sed -n 's/.*start= *\([0-9]*\),.*/\1/p' <<< "$data_line")
	data_size=$(sed -n 's/.*size= *\([0-9]*\),.*/\1/p' <<< "$data_line")
	verify=$(sgdisk -v "$work/stick.img" 2>&1 || true)
	fs=$(blkid -p -o export -O $((data_start * 512)) "$work/stick.img" 2> /dev/null | grep -E '^(TYPE|LABEL)=' | sort | paste -sd' ' || true)
	name=$(dumpe2fs -h "$work/stick.img?offset=$((data_start * 512))" 2> /dev/null | sed -n 's/^Filesystem volume name: *//p')
	if [ -z "$data_line" ]; then not_ok "data: sfdisk -d lists no GAPBOX-DATA partition"
	elif [ $((data_start % 2048)) != 0 ] || [ "$data_size" != 524288 ]; then not_ok "data: GAPBOX-DATA at sector $data_start, $data_size sectors: expected 1 MiB aligned, 524288"
	elif ! grep -q 'No problems found' <<< "$verify"; then not_ok "data: sgdisk -v: $verify"
	elif [ "$fs" != "LABEL=GAPBOX-DATA TYPE=ext4" ] || [ "$name" != GAPBOX-DATA ]; then not_ok "data: blkid finds '$fs', dumpe2fs '$name'"
	elif ! cmp -s -i 32768 -n $(( $(size_of "$b") - 32768 - 512 )) "$b" "$work/stick.img"; then not_ok "data: the image's bytes past its partition table differ"
	else ok "data: partition 4 at sector $data_start (1 MiB aligned), 256 MiB, ext4 labelled GAPBOX-DATA (blkid, dumpe2fs); sgdisk -v: No problems found"
	fi
fi

# Upgrade in place: image A over the stick keeps GAPBOX-DATA (the same entry) and a file in it.
if [ -n "$data_start" ]; then
	echo "written before the upgrade" > "$work/site.txt"
	debugfs -w -R "write $work/site.txt site.txt" "$work/stick.img?offset=$((data_start * 512))" > /dev/null 2>&1 || true
	if wrote upgrade "$gapbox" write "$a" "$work/stick.img" --yes; then
		after=$(sfdisk -d "$work/stick.img" 2> /dev/null | grep 'name="GAPBOX-DATA"' || true)
		text=$(debugfs -R "cat site.txt" "$work/stick.img?offset=$((data_start * 512))" 2> /dev/null || true)
		verify=$(sgdisk -v "$work/stick.img" 2>&1 || true)
		if ! grep -q "kept GAPBOX-DATA: partition 4" "$work/upgrade.log"; then not_ok "upgrade: it does not say it kept GAPBOX-DATA"; sed 's/^/# /' "$work/upgrade.log"
		elif [ "${after#*: }" != "${data_line#*: }" ]; then not_ok "upgrade: the entry changed: '$data_line' is now '$after'"
		elif [ "$text" != "written before the upgrade" ]; then not_ok "upgrade: site.txt reads '$text'"
		elif ! grep -q 'No problems found' <<< "$verify"; then not_ok "upgrade: sgdisk -v: $verify"
		elif ! e2fsck -fn "$work/stick.img?offset=$((data_start * 512))" > "$work/upgrade-fsck.log" 2>&1; then not_ok "upgrade: e2fsck finds problems"; sed 's/^/# /' "$work/upgrade-fsck.log"
		else ok "upgrade: $(grep -o 'kept GAPBOX-DATA.*' "$work/upgrade.log"), the same entry, site.txt intact, e2fsck clean, sgdisk -v clean"
		fi
	fi
else
	skip "upgrade: no stick with a data partition (see data)"
fi

# The new image would overlap the data partition: refused without --force; with it, written,
# and the data partition gone from the table.
truncate -s 768M "$work/stick2.img"
if wrote data-a "$gapbox" write "$a" "$work/stick2.img" --yes --data 256M; then
	# Attached as a stick: a partition of it is refused, and so is the whole of it while its
	# data partition is mounted.
	attach "$work/stick2.img"; stick2=$dev
	partitions "$stick2"
	if [ -b "${stick2}p4" ]; then
		refused partition "${stick2}p4 is partition 4 of $stick2: gapbox write writes a whole disk" "${stick2}p4" \
			"$gapbox" write "$a" "${stick2}p4" --yes --force
		if mount -o ro,noload "${stick2}p4" "$work/mnt"; then
			undo+=("umount $work/mnt")
			refused mounted-partition "${stick2#/dev/}p4 is mounted on $work/mnt" "$stick2" \
				"$gapbox" write "$a" "$stick2" --yes --force
			umount "$work/mnt"
		else
			skip "mounted-partition: cannot mount ${stick2}p4 here"
		fi
	else
		skip "partition, mounted-partition: no partition nodes for $stick2, even with partx -a"
	fi
	detach "$stick2"
	refused overlap "GAPBOX-DATA \(partition 4, 256.0 MiB at [0-9.]+ MiB\) lies where the new image \([0-9.]+ MiB\) goes" \
		"$work/stick2.img" "$gapbox" write "$b" "$work/stick2.img" --yes
	if wrote overlap-force "$gapbox" write "$b" "$work/stick2.img" --yes --force; then
		if sfdisk -d "$work/stick2.img" 2> /dev/null | grep -q GAPBOX-DATA; then not_ok "overlap-force: GAPBOX-DATA is still in the table"
		elif ! grep -q 'writing anyway, as --force says' "$work/overlap-force.log"; then not_ok "overlap-force: no warning"
		elif ! cmp -s -n "$(size_of "$b")" "$b" "$work/stick2.img"; then not_ok "overlap-force: the stick is not the image"
		else ok "overlap-force: written with a warning; the stick is image B, no GAPBOX-DATA in its table"
		fi
	fi
fi

# A new file made for --data SIZE: large enough for both, no more.
if wrote new-file "$gapbox" write "$a" "$work/new.img" --yes --data 64M; then
	new_size=$(size_of "$work/new.img")
	verify=$(sgdisk -v "$work/new.img" 2>&1 || true)
	if [ $((new_size % (1 << 20))) != 0 ] || [ "$new_size" -gt $(( size_a + (67 << 20) )) ]; then not_ok "new-file: $new_size bytes"
	elif ! grep -q 'No problems found' <<< "$verify"; then not_ok "new-file: sgdisk -v: $verify"
	else ok "new-file: made $((new_size >> 20)) MiB for a $((size_a >> 20)) MiB image and 64 MiB of GAPBOX-DATA; sgdisk -v clean"
	fi
fi

# ---- a device that runs out of space mid-way ----

# A loop device over a 400 MiB sparse file on a 64 MiB tmpfs: large enough to pass the size
# check, full after 64 MiB. And a new file on that full filesystem.
mkdir -p "$work/full"
mount -t tmpfs -o size=64m gapbox-write-test-full "$work/full"
undo+=("umount $work/full")
truncate -s 400M "$work/full/disk"
attach "$work/full/disk"; full=$dev
log=$work/out-of-space.log rc=0
"$gapbox" write "$a" "$full" --yes --force > "$log" 2>&1 < /dev/null || rc=$?
if [ "$rc" != 1 ]; then not_ok "out-of-space: exit status $rc, expected 1"; sed 's/^/# /' "$log"
elif grep -Eq 'matches|is ready' "$log"; then not_ok "out-of-space: it claims success"; sed 's/^/# /' "$log"
elif ! grep -q "$full ran out of space after .*: No space left on device" "$log"; then not_ok "out-of-space: it does not say it ran out of space"; sed 's/^/# /' "$log"
else ok "out-of-space: $(grep -m1 'ran out of space' "$log" | sed 's/^gapbox: error: //')"
fi
detach "$full"
rm -f "$work/full/disk"
head -c 60M /dev/zero > "$work/full/filler"
log=$work/out-of-space-file.log rc=0
"$gapbox" write "$a" "$work/full/new.img" --yes > "$log" 2>&1 < /dev/null || rc=$?
if [ "$rc" != 1 ]; then not_ok "out-of-space-file: exit status $rc, expected 1"; sed 's/^/# /' "$log"
elif grep -Eq 'matches|is ready' "$log"; then not_ok "out-of-space-file: it claims success"; sed 's/^/# /' "$log"
elif [ -e "$work/full/new.img" ]; then not_ok "out-of-space-file: the half-written file is left behind"
elif ! grep -q 'the filesystem it is on is full' "$log"; then not_ok "out-of-space-file: it does not say the filesystem is full"; sed 's/^/# /' "$log"
else ok "out-of-space-file: $(grep -m1 'ran out of space' "$log" | sed 's/^gapbox: error: //'), and the file is removed"
fi
umount "$work/full"

# ---- the upgraded stick boots ----

echo "# without QEMU: $(( $(date +%s) - suite_start )) s"

# GAPBOX_QEMU_LOCK names a lock file every QEMU run takes, for hosts where suites run side by
# side and VMs are best booted one at a time.
qemu_lock=()
[ -z "${GAPBOX_QEMU_LOCK:-}" ] || qemu_lock=(flock "$GAPBOX_QEMU_LOCK")
pass='GAPBOX-BOOT-TEST: PASS'
fail='GAPBOX-BOOT-TEST: FAIL|Kernel panic|gapbox-init: error'
if [ -n "$data_start" ]; then
	for firmware in bios uefi; do
		if "${qemu_lock[@]}" qemu/boot "$work/stick.img" --arch amd64 --firmware "$firmware" --medium usb --timeout 300 \
			--log "$work/boot-$firmware.log" --expect "$pass" --fail "$fail" > "$work/boot-$firmware.out" 2>&1; then
			ok "boot $firmware usb: the upgraded stick (image A, GAPBOX-DATA kept): $(sed -n 's/^qemu\/boot: //p' "$work/boot-$firmware.out" | cut -c1-100)"
			# The partition this suite made and kept is the one the admin server keeps its state on.
			if state=$(grep -aEm1 'kept on /dev/[a-z]+4 \(LABEL=GAPBOX-DATA' "$work/boot-$firmware.log"); then
				ok "boot $firmware usb: state on the kept partition: $(tr -d '\r' <<< "$state" | sed 's/^ *//')"
			else
				not_ok "boot $firmware usb: the console does not say state is kept on partition 4, GAPBOX-DATA"
			fi
		else
			sed 's/^/# /' "$work/boot-$firmware.out"
			not_ok "boot $firmware usb: the upgraded stick (console log: $work/boot-$firmware.log)"
		fi
	done
else
	skip "boot: no upgraded stick (see data)"
fi

summary
[ "$failed" = 0 ]
