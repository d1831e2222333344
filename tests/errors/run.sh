#!/bin/bash
# Bad input and interruption: each case must end with a clear error naming the cause, a
# non-zero exit, no file at the output path and no temporary files left behind.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

gapbox=$PWD/build/host/gapbox
work=$PWD/build/test/errors
rm -rf "$work"
mkdir -p "$work/tmp"
# The builds' log folders go here, so only theirs are looked at for leftovers.
export TMPDIR=$work/tmp
passed=0 failed=0 skipped=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }
skip() { echo "skip - $1: $2"; skipped=$((skipped + 1)); }

# A profile like the shipped one, with its overlay path made absolute, plus EXTRA lines.
profile() {
	local file=$1; shift
	sed "s|\[\.\./overlay\]|[$PWD/overlay]|" profiles/debian12-amd64.yaml > "$file"
	printf '%s\n' "$@" >> "$file"
}

# leftovers DIR...: anything a build may leave behind by mistake. A cache entry still being
# written by a build that runs (make check's other lane) is that build's, not a leftover.
leftovers() {
	local f pid
	find "$@" \( -name '.gapbox-build-*' -o -name '*.tmp-*' -o -name 'mmdebstrap.*' \) 2>/dev/null |
		while read -r f; do
			pid=${f##*.tmp-}
			if [ "$pid" != "$f" ] && kill -0 "$pid" 2>/dev/null; then continue; fi
			echo "$f"
		done
}

# expect_failure NAME OUTDIR PATTERN EXIT CMD...: CMD fails with EXIT (any non-zero if "any"),
# prints PATTERN (extended regex), leaves nothing at OUTDIR/image.iso and no temporaries.
expect_failure() {
	local name=$1 outdir=$2 pattern=$3 want=$4; shift 4
	local log=$work/$name.log rc
	"$@" > "$log" 2>&1 < /dev/null
	rc=$?
	if [ "$rc" = 0 ]; then not_ok "$name" "exited 0"; return; fi
	if [ "$want" != any ] && [ "$rc" != "$want" ]; then not_ok "$name" "exit status $rc, expected $want"; cat "$log"; return; fi
	if ! grep -Eq -- "$pattern" "$log"; then not_ok "$name" "message does not match /$pattern/:"; cat "$log"; return; fi
	if [ -e "$outdir/image.iso" ]; then not_ok "$name" "$outdir/image.iso exists"; return; fi
	local left
	left=$(leftovers "$outdir" "${GAPBOX_CACHE:-/var/cache/gapbox}"; find "$TMPDIR" -maxdepth 1 -name 'gapbox-logs-*')
	if [ -n "$left" ]; then not_ok "$name" "left behind: $left"; return; fi
	ok "$name ($(grep -Em1 -- "$pattern" "$log"))"
}

# 1. Unknown key: named with file:line:column before anything is built.
p=$work/unknown-key.yaml
profile "$p" "colour: blue"
line=$(grep -n '^colour:' "$p" | cut -d: -f1)
expect_failure unknown-key "$work/out1" "unknown-key.yaml:$line:1: unknown key 'colour'" 1 \
	"$gapbox" build "$p" -o "$work/out1/image.iso"

# 2. A package that does not exist: apt's own words, and no half-written cache entry.
p=$work/no-such-package.yaml
sed "s|\[\.\./overlay\]|[$PWD/overlay]|; s|^  - less$|  - less\n  - gapbox-no-such-package|" profiles/debian12-amd64.yaml > "$p"
GAPBOX_CACHE=$work/cache2 expect_failure no-such-package "$work/out2" "Unable to locate package gapbox-no-such-package" 1 \
	env GAPBOX_CACHE="$work/cache2" "$gapbox" build "$p" -o "$work/out2/image.iso"

# 3. A missing overlay folder, named with the profile location that asked for it.
p=$work/missing-overlay.yaml
sed "s|\[\.\./overlay\]|[$PWD/overlay, ./no-such-overlay]|" profiles/debian12-amd64.yaml > "$p"
expect_failure missing-overlay "$work/out3" "missing-overlay.yaml:[0-9]+:[0-9]+: overlay folder '$work/no-such-overlay' does not exist" 1 \
	"$gapbox" build "$p" -o "$work/out3/image.iso"

# 4. A full disk: the output folder (and so the work folder) on a small tmpfs; root mounts it.
if [ "$(id -u)" != 0 ]; then
	skip full-disk "needs root to mount a small tmpfs"
else
	mkdir -p "$work/full"
	if mount -t tmpfs -o size=48m gapbox-test-full "$work/full"; then
		profile "$work/full-disk.yaml"
		expect_failure full-disk "$work/full" "No space left on device" 1 \
			"$gapbox" build "$work/full-disk.yaml" -o "$work/full/image.iso"
		left=$(ls -A "$work/full")
		[ -z "$left" ] || not_ok full-disk-empty "the full disk still holds: $left"
		umount "$work/full"
	else
		skip full-disk "cannot mount a tmpfs here"
	fi
fi

# 5. Ctrl-C in the middle of bootstrapping: exit 130, nothing left, no stale mounts. "In the
# middle" is when apt, inside mmdebstrap's chroot in the work folder, has fetched a package.
cache5=$work/cache5
mkdir -p "$work/out5"
GAPBOX_CACHE=$cache5 "$gapbox" build "$PWD/profiles/debian12-amd64.yaml" -o "$work/out5/image.iso" \
	> "$work/interrupt.log" 2>&1 < /dev/null &
pid=$!
mid_bootstrap() { compgen -G "$work/out5/.gapbox-build-*/mmdebstrap.*/var/cache/apt/archives/*.deb" > /dev/null; }
waited=0
until mid_bootstrap || ! kill -0 "$pid" 2>/dev/null || [ "$waited" -ge 600 ]; do
	sleep 1
	waited=$((waited + 1))
done
if mid_bootstrap; then echo "# waited ${waited}s for mmdebstrap to fetch its first package"
else echo "# gave up after ${waited}s waiting for mmdebstrap to fetch a package (the build may have ended)"; fi
kill -INT "$pid"
wait "$pid"
rc=$?
left=$(leftovers "$work/out5" "$cache5")
mounts=$(grep -F "$work/out5" /proc/mounts || true)
if [ "$rc" != 130 ]; then not_ok interrupt "exit status $rc, expected 130"; cat "$work/interrupt.log"
elif ! grep -q "interrupted" "$work/interrupt.log"; then not_ok interrupt "no 'interrupted' message"; cat "$work/interrupt.log"
elif [ -e "$work/out5/image.iso" ]; then not_ok interrupt "an image was written"
elif [ -n "$left" ]; then not_ok interrupt "left behind: $left"
elif [ -n "$mounts" ]; then not_ok interrupt "mounts left: $mounts"
else ok "interrupt ($(grep -m1 interrupted "$work/interrupt.log"))"
fi

echo "errors: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
