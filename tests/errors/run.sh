#!/bin/bash
# Bad input and interruption: each case must end with a clear error naming the cause, a
# non-zero exit, no file at the output path and no temporary files left behind. Site
# configurations too, with a good one built as the control.
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
	find "$@" \( -name '.gapbox-build-*' -o -name '.gapbox-netboot-*' -o -name '*.tmp-*' -o -name 'mmdebstrap.*' \) 2>/dev/null |
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

# Hostile outputs/ folders: each refused by check-outputs, and by a build before it writes
# anything. Each starts as the fixture, with one file made hostile.
hostile() {
	local dir=$work/hostile-$1
	rm -rf "$dir"
	tests/fixtures/gen-outputs --arch amd64 "$dir" > /dev/null || return 1
	echo "$dir"
}
# archive NAME OUT [MEMBER SOURCE]...: a podman-style image archive (gzip tar) holding
# manifest.json, a config and the layer files given, each MEMBER read from SOURCE.
image_archive() {
	python3 - "$@" <<'EOF2'
import io, sys, tarfile
name, out, members = sys.argv[1], sys.argv[2], sys.argv[3:]
layers = members[0::2]
manifest = '[{"Config":"config.json","RepoTags":["%s"],"Layers":[%s]}]' % (name, ",".join('"%s"' % l for l in layers))
config = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]}}' % ",".join(
    '"sha256:' + "0" * 64 + '"' for _ in layers)
with tarfile.open(out, "w:gz") as t:
    for member, data in [("manifest.json", manifest.encode()), ("config.json", config.encode())] + [
            (m, open(s, "rb").read()) for m, s in zip(members[0::2], members[1::2])]:
        info = tarfile.TarInfo(member)
        info.size, info.mtime = len(data), 0
        t.addfile(info, io.BytesIO(data))
EOF2
}
# refused NAME DIR PATTERN [OPTION]...: check-outputs DIR fails naming PATTERN, and so does a build
# of it (before anything is built: its check is the first stage).
refused() {
	local name=$1 dir=$2 pattern=$3; shift 3
	expect_failure "$name-check" "$work/out-$name" "$pattern" 1 "$gapbox" check-outputs "$dir" "$@"
	profile "$work/$name.yaml"
	expect_failure "$name-build" "$work/out-$name" "$pattern" 1 \
		"$gapbox" build "$work/$name.yaml" --outputs "$dir" -o "$work/out-$name/image.iso" "$@"
}

# 6. Names gapbox writes itself: outputs/SHA256SUMS, outputs/registry/..., refused by name.
d=$(hostile sums) && printf '%064d  files/forged\n' 0 > "$d/SHA256SUMS" &&
	refused reserved-sums "$d" "error: SHA256SUMS: reserved name: gapbox writes the payload's SHA256SUMS here"
d=$(hostile registry) && mkdir -p "$d/registry/docker/registry/v2/blobs" && echo forged > "$d/registry/docker/registry/v2/blobs/x" &&
	refused reserved-registry "$d" "error: registry: reserved name: gapbox writes the checked registry store here"

# 7. A file name holding a newline would forge a SHA256SUMS line: refused outright.
d=$(hostile newline) && printf 'x\n' > "$d/files/"$'evil\n0000  files' &&
	refused newline-name "$d" 'error: files/evil\\n0000  files: its name holds a control character'

# 8. A gzip bomb layer: 64 MiB of zeros in 64 KiB, against a cap of 1 MiB per layer.
d=$(hostile bomb) && head -c 64M /dev/zero | gzip -9 > "$work/bomb.gz" &&
	image_archive registry.k8s.io/pause:3.10 "$d/images/registry.k8s.io_pause-3.10.tar.gz" layer.tar "$work/bomb.gz" &&
	expect_failure gzip-bomb "$work/out-bomb" \
		"error: images/registry.k8s.io_pause-3.10.tar.gz: layer.tar: more than 1 MiB decompressed, the cap per layer" 1 \
		"$gapbox" check-outputs "$d" --max-layer-size 1MiB
# The same archive against a cap for the whole archive, then for all archives together.
[ -n "$d" ] && expect_failure gzip-bomb-image "$work/out-bomb" "layer.tar: the archive decompresses to more than 2 MiB, the cap per image archive" 1 \
	"$gapbox" check-outputs "$d" --max-image-size 2MiB
[ -n "$d" ] && expect_failure gzip-bomb-total "$work/out-bomb" "the image archives decompress to more than 3 MiB in all" 1 \
	"$gapbox" check-outputs "$d" --max-unpacked-size 3MiB

# 9. A sparse entry: 1 GiB of holes that would read as data. GNU tar's old and pax formats.
for format in gnu posix; do
	d=$(hostile "sparse-$format") && mkdir -p "$work/sparse-$format" && truncate -s 1G "$work/sparse-$format/layer.tar" &&
		printf '[{"Config":"config.json","RepoTags":["registry.k8s.io/pause:3.10"],"Layers":["layer.tar"]}]' > "$work/sparse-$format/manifest.json" &&
		printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$work/sparse-$format/config.json" &&
		tar --sparse --format=$format -C "$work/sparse-$format" -czf "$d/images/registry.k8s.io_pause-3.10.tar.gz" manifest.json config.json layer.tar &&
		expect_failure "sparse-entry-$format" "$work/out-sparse" \
			"error: images/registry.k8s.io_pause-3.10.tar.gz: layer.tar: sparse file entry: refused" 1 "$gapbox" check-outputs "$d"
done

# 10. lzop, which libarchive would hand to an external program: refused by its magic, as a layer
# and as a whole archive (only gzip, zstd, xz and bzip2 are read, in-process).
d=$(hostile lzop) && printf '\211LZO\0\r\n\032\n\020\060\040\240\011\100\001\005\003\000\000\001' > "$work/layer.lzo" &&
	image_archive registry.k8s.io/pause:3.10 "$d/images/registry.k8s.io_pause-3.10.tar.gz" layer.tar "$work/layer.lzo" &&
	cp "$work/layer.lzo" "$d/images/registry.k8s.io_kube-apiserver-v1.33.7.tar.gz" &&
	expect_failure lzop-layer "$work/out-lzop" \
		"error: images/registry.k8s.io_pause-3.10.tar.gz: layer.tar: compressed with lzop: only gzip, zstd, xz and bzip2 layers are read" 1 \
		"$gapbox" check-outputs "$d" &&
	expect_failure lzop-archive "$work/out-lzop" \
		"error: images/registry.k8s.io_kube-apiserver-v1.33.7.tar.gz: cannot open: compressed with lzop: only gzip, zstd, xz and bzip2 are read" 1 \
		"$gapbox" check-outputs "$d"

# 11. A 16 MiB images.list of short lines: more references than a list may hold, refused at once.
# (tests/unit/test_imageref.c reads a 16 MiB list of 100000 references and times it.)
d=$(hostile list) && python3 -c 'import sys
with open(sys.argv[1], "w") as f:
    for i in range(16 * 1024 * 1024 // 64): f.write("registry.example.org/team/image%09d:v1.%018d\n" % (i, i))' "$d/images/images.list" &&
	start=$(date +%s%N) &&
	expect_failure list-16mib "$work/out-list" "error: images/images.list: more than 100000 references: not a list download-all.sh wrote" 1 \
		"$gapbox" check-outputs "$d" &&
	echo "# check-outputs of the 16 MiB list took $(( ($(date +%s%N) - start) / 1000000 )) ms"

# 12. Site configurations (gapbox build --config, the profile's site_config, gapbox check-config),
# checked with gapbox-firstboot's own code. A bad one stops the build in its first stage, before
# anything slow, naming FILE:LINE:COLUMN and what was expected: no stage line past check, the
# rootfs cache untouched, no image, no temporaries; check-config says the same. A good one passes
# the check stage of a real build and is baked into the image.
configs=$PWD/tests/errors/configs
expected=$PWD/tests/errors/expected
# The private keys are made here, so that nothing in the tree looks like one.
printf '%s\n' "# A site configuration holding a private key: SSH host keys belong on the data partition." \
	"domain: site.lan" "access:" "  ssh_authorized_keys: []" "  ssh_host_keys:" "    - |" \
	"      -----BEGIN OPENSSH PRIVATE KEY-----" "      b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABgapboxtest" \
	"      -----END OPENSSH PRIVATE KEY-----" > "$work/host-key.yaml"
printf '%s\n' "# A site configuration holding the site CA's private key." "registry:" "  tls: true" "  tls_ca_cert: |" \
	"    -----BEGIN CERTIFICATE-----" "    MIIBgapboxtest" "    -----END CERTIFICATE-----" "  tls_ca_key: |" \
	"    -----BEGIN PRIVATE KEY-----" "    MIGHAgEAgapboxtest" "    -----END PRIVATE KEY-----" > "$work/ca-key.yaml"
key_text="private key material cannot be baked into an image (every copy of the image would carry it); expected it only in the configuration on the data partition, GAPBOX-DATA's etc/gapbox/appliance.yaml, which the admin reads whole instead of the baked one"

# config_refused NAME FILE LINE:COLUMN WHAT [PROFILE_LINE]: a build with --config FILE (or, with
# PROFILE_LINE, with that line in the profile instead) and gapbox check-config FILE both fail with
# exactly "FILE:LINE:COLUMN: WHAT".
config_refused() {
	local name=$1 file=$2 at=$3 what=$4 profile_line=${5:-}
	local out=$work/out-config-$1 cache=$work/cache-config-$1 log=$work/config-$1.log p=$work/config-$1.yaml
	local want="gapbox: error: $file:$at: $what" rc start ms left stages
	mkdir -p "$cache"
	if [ -n "$profile_line" ]; then profile "$p" "$profile_line"; set -- "$gapbox" build "$p" -o "$out/image.iso"
	else profile "$p"; set -- "$gapbox" build "$p" --config "$file" -o "$out/image.iso"; fi
	start=$(date +%s%N)
	GAPBOX_CACHE=$cache "$@" > "$log" 2>&1 < /dev/null
	rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))
	stages=$(grep -E '^gapbox: stage ' "$log")
	left=$(leftovers "$out" "$cache"; find "$TMPDIR" -maxdepth 1 -name 'gapbox-logs-*')
	if [ "$rc" != 1 ]; then not_ok "config-$name" "exit status $rc, expected 1"; cat "$log"
	elif ! grep -Fxq -- "$want" "$log"; then not_ok "config-$name" "no line: $want"; cat "$log"
	elif ! grep -Fxq "gapbox: error: build of debian12-amd64 failed in stage check; no image written" "$log"; then
		not_ok "config-$name" "the build did not stop in stage check"; cat "$log"
	elif [ -n "$stages" ]; then not_ok "config-$name" "a stage ran to its end: $stages"
	elif [ -n "$(ls -A "$cache")" ]; then not_ok "config-$name" "the rootfs cache was touched: $(ls -A "$cache")"
	elif [ -e "$out/image.iso" ]; then not_ok "config-$name" "$out/image.iso exists"
	elif [ -n "$left" ]; then not_ok "config-$name" "left behind: $left"
	else ok "config-$name: stopped in stage check after $ms ms ($(grep -F -- "$want" "$log" | cut -c1-140)...)"; fi
	if [ -n "$profile_line" ]; then return; fi
	"$gapbox" check-config "$file" > "$work/check-config-$name.out" 2> "$work/check-config-$name.err"
	rc=$?
	if [ "$rc" = 1 ] && [ "$(cat "$work/check-config-$name.err")" = "$want" ] && [ ! -s "$work/check-config-$name.out" ]; then
		ok "check-config-$name: exit 1, the same line"
	else not_ok "check-config-$name" "exit $rc, stderr: $(cat "$work/check-config-$name.err"), stdout: $(cat "$work/check-config-$name.out")"; fi
}
config_refused syntax "$configs/syntax.yaml" 4:13 "mapping values are not allowed in this context"
config_refused wrong-type "$configs/wrong-type.yaml" 4:9 "http.port: expected an unsigned integer from 0 to 65535, got 'eighty'"
config_refused bad-address "$configs/bad-address.yaml" 3:12 \
	"network.address: expected an IPv4 address with its prefix length, like 192.168.10.10/24, got '192.168.10.300/24'"
config_refused host-key "$work/host-key.yaml" 5:3 "access.ssh_host_keys: $key_text"
config_refused ca-key "$work/ca-key.yaml" 8:3 "registry.tls_ca_key: $key_text"
# The profile's key, relative to the profile's folder, like overlays.
cp "$configs/bad-address.yaml" "$work/site-bad.yaml"
config_refused profile-key "$work/site-bad.yaml" 3:12 \
	"network.address: expected an IPv4 address with its prefix length, like 192.168.10.10/24, got '192.168.10.300/24'" \
	"site_config: site-bad.yaml"

# An image without gapbox-firstboot has nothing that would read a site configuration.
profile "$work/config-no-appliance.yaml" "appliance: false"
mkdir -p "$work/cache-config-noapp"
expect_failure config-no-appliance "$work/out-config-noapp" \
	"error: $configs/good.yaml: the profile debian12-amd64 builds no admin server \(appliance: false\)" 1 \
	env GAPBOX_CACHE="$work/cache-config-noapp" "$gapbox" build "$work/config-no-appliance.yaml" --config "$configs/good.yaml" \
	-o "$work/out-config-noapp/image.iso"

# golden_check_config NAME DIR ARGS...: check-config ARGS run in DIR (so that it names the file as
# typed) exits 0 and prints expected/check-config-NAME.out byte for byte. GAPBOX_UPDATE_GOLDEN=1
# rewrites tests/errors/expected/ from the current output.
golden_check_config() {
	local name=$1 dir=$2 out=$work/check-config-$1.out rc; shift 2
	(cd "$dir" && "$gapbox" check-config "$@") > "$out" 2>&1
	rc=$?
	[ "${GAPBOX_UPDATE_GOLDEN:-0}" = 1 ] && cp "$out" "$expected/check-config-$name.out"
	if [ "$rc" != 0 ]; then not_ok "check-config-$name" "exit $rc: $(cat "$out")"
	elif ! diff -u "$expected/check-config-$name.out" "$out" > "$work/check-config-$name.diff"; then
		not_ok "check-config-$name" "output differs from $expected/check-config-$name.out:"; cat "$work/check-config-$name.diff"
	else ok "check-config-$name: exit 0, output as $expected/check-config-$name.out"; fi
}
golden_check_config good "$configs" good.yaml
# The machine's own file (the data partition's) may hold private keys.
golden_check_config host-key-machine "$work" --machine host-key.yaml

# A good configuration through a real build: it passes the check stage, saying what it found, and
# the image carries exactly its bytes at /etc/gapbox/appliance.yaml, 0600 as it holds hashes, the
# manifest its sha256 (gapbox inspect). --config wins over the profile's site_config, which names a
# bad file here. Uses the shared rootfs cache, like the full-disk case.
out=$work/out-config-good log=$work/config-good.log sum=$(sha256sum < "$configs/good.yaml" | cut -d' ' -f1)
profile "$work/config-good.yaml" "site_config: site-bad.yaml"
"$gapbox" build "$work/config-good.yaml" --config "$configs/good.yaml" -o "$out/image.iso" > "$log" 2>&1 < /dev/null
rc=$?
if [ "$rc" != 0 ]; then not_ok config-good-build "exit $rc"; tail -n 20 "$log"
elif ! grep -Eq '^gapbox: stage check +[0-9.]+ s$' "$log" || ! grep -Eq '^gapbox: stage iso +[0-9.]+ s$' "$log"; then
	not_ok config-good-build "no stage check or stage iso line"; cat "$log"
elif ! grep -Fxq "gapbox: check: site configuration $configs/good.yaml: valid, sha256 $sum; baked in as /etc/gapbox/appliance.yaml, mode 0600" "$log" ||
	! grep -Fxq "gapbox: check: $configs/good.yaml:5:13: network.internal: 'ens4': whether the machine has a NIC of that name is checked there, at first boot" "$log"; then
	not_ok config-good-build "the check stage did not say what it found"; cat "$log"
else ok "config-good-build: passed stage check ($(grep -c '^gapbox: check: ' "$log") check lines) and built"; fi
if [ "$rc" = 0 ]; then
	"$gapbox" inspect "$out/image.iso" > "$work/config-good-inspect.txt" 2>&1
	want="config:  /etc/gapbox/appliance.yaml baked from a site configuration: sha256 $sum, $(stat -c %s "$configs/good.yaml") bytes, mode 0600"
	if grep -Fxq -- "$want" "$work/config-good-inspect.txt" &&
		grep -Fxq "         secrets set (hashes): registry.push_users, access.root_password_hash" "$work/config-good-inspect.txt"; then
		ok "config-good-inspect: the manifest names the baked configuration by its sha256"
	else not_ok config-good-inspect "expected: $want"; cat "$work/config-good-inspect.txt"; fi
	if xorriso -osirrox on -indev "$out/image.iso" -extract /gapbox/system.sfs "$work/config-good-system.sfs" > "$work/config-good-xorriso.log" 2>&1; then
		mode=$(unsquashfs -lls "$work/config-good-system.sfs" etc/gapbox/appliance.yaml 2>/dev/null | awk '/appliance.yaml$/ { print $1, $2 }')
		if ! unsquashfs -cat "$work/config-good-system.sfs" etc/gapbox/appliance.yaml 2>/dev/null | cmp -s - "$configs/good.yaml"; then
			not_ok config-good-baked "system.sfs's /etc/gapbox/appliance.yaml is not good.yaml"
		elif [ "$mode" != "-rw------- root/root" ]; then not_ok config-good-baked "its mode and owner are '$mode'"
		else ok "config-good-baked: system.sfs holds good.yaml's bytes as /etc/gapbox/appliance.yaml, $mode"; fi
	else not_ok config-good-baked "cannot extract system.sfs: $(tail -n 3 "$work/config-good-xorriso.log")"; fi
	rm -f "$work/config-good-system.sfs" "$out/image.iso"
fi

# 13. The netboot folder: gapbox build --netboot and gapbox netboot write the same folder through the
# same code; every refusal leaves nothing at the folder's place (or leaves what was there as it
# was) and no temporary folder beside it.
nb=$work/netboot url=http://10.0.2.2:8080/gapbox/
mkdir -p "$nb"
profile "$nb/profile.yaml"
# expect_netboot_failure NAME DIR PATTERN EXIT CMD...: CMD fails with EXIT and PATTERN, nothing is
# at DIR and nothing is left beside it.
expect_netboot_failure() {
	local name=$1 dir=$2 pattern=$3 want=$4 log=$work/$1.log rc left; shift 4
	"$@" > "$log" 2>&1 < /dev/null
	rc=$?
	left=$(leftovers "$(dirname "$dir")")
	if [ "$rc" != "$want" ]; then not_ok "$name" "exit status $rc, expected $want"; cat "$log"
	elif ! grep -Eq -- "$pattern" "$log"; then not_ok "$name" "message does not match /$pattern/:"; cat "$log"
	elif [ -e "$dir" ]; then not_ok "$name" "$dir exists: $(ls -A "$dir" | head -5 | tr '\n' ' ')"
	elif [ -n "$left" ]; then not_ok "$name" "left behind: $left"
	else ok "$name ($(grep -Em1 -- "$pattern" "$log"))"; fi
}
# netboot_tree DIR: the folder's files, one a line, with sizes (but dnsmasq's example, which names the
# folder), for comparing two folders.
netboot_tree() { (cd "$1" && find . \( -name dnsmasq.conf.example -printf '%p\n' \) -o \( -type f -printf '%p %s\n' \) | sort); }

# The build path: the image and the folder, each artifact as its manifest says.
log=$work/netboot-build.log
"$gapbox" build "$nb/profile.yaml" -o "$nb/out/image.iso" --netboot "$nb/built" --netboot-url "$url" > "$log" 2>&1 < /dev/null
rc=$?
img=$nb/out/image.iso
if [ "$rc" != 0 ]; then not_ok netboot-build "exit $rc"; tail -n 20 "$log"; img=
elif ! grep -Eq '^gapbox: stage netboot +[0-9.]+ s$' "$log"; then not_ok netboot-build "no stage netboot line"; cat "$log"
else
	xorriso -osirrox on -indev "$img" -extract /gapbox/manifest.json "$nb/manifest.json" > "$nb/xorriso.log" 2>&1
	want="./boot.ipxe ./dnsmasq.conf.example ./gapbox/initrd.img ./gapbox/manifest.json ./gapbox/system.sfs ./gapbox/system.sfs.verity ./gapbox/vmlinuz ./grub/grub.cfg ./grubnetx64.efi ./ldlinux.c32 ./pxelinux.0 ./pxelinux.cfg/default"
	got=$(cd "$nb/built" && find . -type f | sort | tr '\n' ' ')
	sums=$(python3 - "$nb/built" <<'EOF2'
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "gapbox/manifest.json")))
for a in m["artifacts"]:
    p = os.path.join(d, a["path"])
    h = hashlib.sha256(open(p, "rb").read()).hexdigest()
    if h != a["sha256"] or os.path.getsize(p) != a["size"]:
        print("%s: %s, %d bytes; manifest: %s, %d bytes" % (a["path"], h, os.path.getsize(p), a["sha256"], a["size"]))
EOF2
)
	if [ "$got" != "$want " ]; then not_ok netboot-build "the folder holds: $got; expected: $want"
	elif ! cmp -s "$nb/manifest.json" "$nb/built/gapbox/manifest.json"; then not_ok netboot-build "the folder's manifest is not the image's, byte for byte"
	elif [ -n "$sums" ]; then not_ok netboot-build "artifacts differ from the manifest: $sums"
	elif ! cmp -s /usr/lib/PXELINUX/pxelinux.0 "$nb/built/pxelinux.0" || ! cmp -s /usr/lib/syslinux/modules/bios/ldlinux.c32 "$nb/built/ldlinux.c32"; then
		not_ok netboot-build "pxelinux.0 or ldlinux.c32 is not the host's"
	elif ! grep -Fq "gapbox.fetch=$url" "$nb/built/boot.ipxe" || ! grep -Fq "gapbox.fetch=$url" "$nb/built/grub/grub.cfg" ||
		! grep -Fq "gapbox.fetch=$url" "$nb/built/pxelinux.cfg/default" || ! grep -Fxq "  IPAPPEND 3" "$nb/built/pxelinux.cfg/default"; then
		not_ok netboot-build "a loader config lacks gapbox.fetch=$url (or IPAPPEND 3)"
	elif [ -n "$(leftovers "$nb")" ]; then not_ok netboot-build "left behind: $(leftovers "$nb")"
	else ok "netboot-build: the image and $(echo "$got" | wc -w) files, the manifest byte for byte and every artifact as it says"; fi
	# The ISO's default entry and the folder's loaders pass the same command line.
	cmdline=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot"]["cmdline"])' "$nb/manifest.json")
	xorriso -osirrox on -indev "$img" -extract /boot/grub/grub.cfg "$nb/iso-grub.cfg" >> "$nb/xorriso.log" 2>&1
	isoline=$(awk '/--id default/ { on = 1 } on && /linux/ { print; exit }' "$nb/iso-grub.cfg" 2>/dev/null)
	if [ "$isoline" = "	linux /gapbox/vmlinuz $cmdline" ] &&
		grep -Fxq "	linux /gapbox/vmlinuz $cmdline gapbox.fetch=$url BOOTIF=\${net_default_mac}" "$nb/built/grub/grub.cfg"; then
		ok "netboot-cmdline: the ISO's default entry and the netboot GRUB config both pass '$cmdline'"
	else not_ok netboot-cmdline "the ISO's default entry does not pass the manifest's boot.cmdline '$cmdline'"; fi
	if command -v dnsmasq > /dev/null; then
		if dnsmasq --test --conf-file="$nb/built/dnsmasq.conf.example" > "$nb/dnsmasq.log" 2>&1; then ok "netboot-dnsmasq: $(cat "$nb/dnsmasq.log")"
		else not_ok netboot-dnsmasq "$(cat "$nb/dnsmasq.log")"; fi
	else skip netboot-dnsmasq "dnsmasq is not installed (make deps installs dnsmasq-base)"; fi
fi

if [ -n "$img" ]; then
	# gapbox netboot from the built image: the same folder but for dnsmasq's tftp-root.
	"$gapbox" netboot "$img" "$nb/cmd" --url "$url" > "$work/netboot-cmd.log" 2>&1 < /dev/null
	rc=$?
	if [ "$rc" != 0 ]; then not_ok netboot-command "exit $rc"; cat "$work/netboot-cmd.log"
	elif [ "$(netboot_tree "$nb/built")" != "$(netboot_tree "$nb/cmd")" ]; then not_ok netboot-command "the folders differ: $(diff <(netboot_tree "$nb/built") <(netboot_tree "$nb/cmd"))"
	elif ! diff -r -x dnsmasq.conf.example "$nb/built" "$nb/cmd" > /dev/null ||
		! diff <(sed "s|$nb/built|DIR|g" "$nb/built/dnsmasq.conf.example") <(sed "s|$nb/cmd|DIR|g" "$nb/cmd/dnsmasq.conf.example") > /dev/null; then
		not_ok netboot-command "the folder differs from the build's"
	else ok "netboot-command: gapbox netboot writes the build's folder, byte for byte but the folder's own path"; fi
	"$gapbox" inspect "$img" > "$work/netboot-inspect.log" 2>&1 && ok "netboot-inspect: gapbox inspect still verifies the image" ||
		{ not_ok netboot-inspect "exit $?"; cat "$work/netboot-inspect.log"; }

	expect_netboot_failure netboot-no-url "$nb/x" "gapbox netboot needs --url URL" 2 "$gapbox" netboot "$img" "$nb/x"
	expect_netboot_failure netboot-bad-scheme "$nb/x" "--url 'ftp://10.0.2.2/gapbox/': not http://" 2 \
		"$gapbox" netboot "$img" "$nb/x" --url ftp://10.0.2.2/gapbox/
	expect_netboot_failure netboot-bad-chars "$nb/x" "--url 'http://10.0.2.2/a b': expected the folder's base URL" 2 \
		"$gapbox" netboot "$img" "$nb/x" --url 'http://10.0.2.2/a b'
	expect_netboot_failure netboot-quote "$nb/x" "--url 'http://10.0.2.2/\"x': expected the folder's base URL" 2 \
		"$gapbox" netboot "$img" "$nb/x" --url 'http://10.0.2.2/"x'
	expect_netboot_failure build-netboot-no-url "$nb/x" "--netboot $nb/x needs --netboot-url URL" 2 \
		"$gapbox" build "$nb/profile.yaml" -o "$nb/out2/image.iso" --netboot "$nb/x"
	[ -e "$nb/out2/image.iso" ] && not_ok build-netboot-no-url-image "$nb/out2/image.iso exists"
	# A folder that cannot be written (in /proc): the build fails in its last stage, and leaves no image.
	expect_failure build-netboot-unwritable "$nb/out4" "failed in stage netboot; no image written" 1 \
		"$gapbox" build "$nb/profile.yaml" -o "$nb/out4/image.iso" --netboot /proc/gapbox-netboot-test --netboot-url "$url"

	# A folder that is not empty is refused as it is, by netboot and by a build before it starts;
	# --force replaces it.
	mkdir -p "$nb/full" && echo keep > "$nb/full/mine.txt"
	log=$work/netboot-not-empty.log
	"$gapbox" netboot "$img" "$nb/full" --url "$url" > "$log" 2>&1 < /dev/null
	rc=$?
	if [ "$rc" = 1 ] && grep -Fq "error: $nb/full is not empty: the netboot folder is written to a new or empty folder (--force replaces what is there)" "$log" &&
		[ "$(ls -A "$nb/full")" = mine.txt ] && [ -z "$(leftovers "$nb")" ]; then ok "netboot-not-empty ($(grep -m1 'not empty' "$log"))"
	else not_ok netboot-not-empty "exit $rc, the folder holds $(ls -A "$nb/full" | tr '\n' ' ')"; cat "$log"; fi
	log=$work/build-netboot-not-empty.log start=$(date +%s%N)
	"$gapbox" build "$nb/profile.yaml" -o "$nb/out3/image.iso" --netboot "$nb/full" --netboot-url "$url" > "$log" 2>&1 < /dev/null
	rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))
	if [ "$rc" = 1 ] && grep -Fq "error: $nb/full is not empty" "$log" && ! grep -q '^gapbox: stage' "$log" && [ ! -e "$nb/out3/image.iso" ] &&
		[ "$(ls -A "$nb/full")" = mine.txt ]; then ok "build-netboot-not-empty: refused after $ms ms, before any stage"
	else not_ok build-netboot-not-empty "exit $rc"; cat "$log"; fi
	"$gapbox" netboot "$img" "$nb/full" --url "$url" --force > "$work/netboot-force.log" 2>&1 < /dev/null
	rc=$?
	if [ "$rc" = 0 ] && [ ! -e "$nb/full/mine.txt" ] && [ "$(netboot_tree "$nb/built")" = "$(netboot_tree "$nb/full")" ] && [ -z "$(leftovers "$nb")" ]; then
		ok "netboot-force: --force replaced the folder's contents with the netboot folder"
	else not_ok netboot-force "exit $rc; the folder holds $(ls -A "$nb/full" | tr '\n' ' ')"; cat "$work/netboot-force.log"; fi

	# One flipped byte in system.sfs: named, and nothing written.
	cp "$img" "$nb/tampered.iso"
	lba=$(xorriso -indev "$nb/tampered.iso" -find /gapbox/system.sfs -exec report_lba -- 2>/dev/null | awk -F, '/File data lba/ { gsub(/ /, "", $2); print $2 }')
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$nb/tampered.iso" $((lba * 2048 + 1048576))
	expect_netboot_failure netboot-tampered "$nb/x" "tampered.iso: /gapbox/system.sfs does not match the build manifest: the manifest gives [0-9]+ bytes sha256 [0-9a-f]{64}, the image holds" 1 \
		"$gapbox" netboot "$nb/tampered.iso" "$nb/x" --url "$url"
	rm -f "$nb/tampered.iso"

	# An image whose manifest has no boot.cmdline (gapbox before netboot): refused, naming why.
	mkdir -p "$nb/old/gapbox" && echo kernel > "$nb/old/gapbox/vmlinuz"
	printf '{"format": 1, "name": "old", "arch": "amd64", "artifacts": [{"path": "gapbox/vmlinuz", "size": 7, "sha256": "%s"}]}\n' \
		"$(sha256sum < "$nb/old/gapbox/vmlinuz" | cut -d' ' -f1)" > "$nb/old/gapbox/manifest.json"
	xorriso -as mkisofs -R -o "$nb/old.iso" "$nb/old" > "$nb/xorriso-old.log" 2>&1
	expect_netboot_failure netboot-old-manifest "$nb/x" "old.iso: its build manifest has no boot.cmdline" 1 \
		"$gapbox" netboot "$nb/old.iso" "$nb/x" --url "$url"
fi
rm -rf "$nb"

echo "errors: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
