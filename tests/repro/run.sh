#!/bin/bash
# Reproducible images: two builds of the same profile, cache and payload, in different folders,
# with different umask, time zone and locale, give the same ISO byte for byte (and the same
# netboot folder), with SOURCE_DATE_EPOCH unset (the epoch is then the newest input's time, which
# the manifest records) and with it set. On a difference, the first differing artifact is named
# (by the two manifests) and diffoscope compares it when installed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

gapbox=$PWD/build/host/gapbox
profile=$PWD/profiles/debian12-amd64.yaml
work=$PWD/build/test/repro
rm -rf "$work"
mkdir -p "$work"
passed=0 failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }

# The payload, twice at different paths (cp -a keeps the files' times, as a copy carried on a
# disk does).
tests/fixtures/gen-outputs --arch amd64 "$work/outputs" > /dev/null || { echo "not ok - gen-outputs"; exit 1; }
mkdir -p "$work/elsewhere/deeper"
cp -a "$work/outputs" "$work/elsewhere/deeper/outputs"

# build NAME DIR OUTPUTS UMASK TZ LOCALE [EPOCH [CACHE]]: build in DIR (the working folder too) with that
# umask, TZ and LANG/LC_ALL, SOURCE_DATE_EPOCH set to EPOCH or unset; image DIR/NAME.iso and the
# netboot folder DIR/NAME.netboot.
build() {
	local name=$1 dir=$2 outputs=$3 mask=$4 tz=$5 locale=$6 epoch=${7:-} cache=${8:-} start
	mkdir -p "$dir"
	start=$(date +%s.%N)
	if (
		cd "$dir" && umask "$mask" && unset SOURCE_DATE_EPOCH LC_ALL LANG LANGUAGE &&
			export TZ=$tz LANG=$locale LC_ALL=$locale && { [ -z "$epoch" ] || export SOURCE_DATE_EPOCH=$epoch; } &&
			"$gapbox" build "$profile" ${cache:+--cache "$cache"} --outputs "$outputs" -o "$dir/$name.iso" --netboot "$dir/$name.netboot" \
				--netboot-url http://10.0.0.1/gapbox/ > "$dir/$name.log" 2>&1 < /dev/null
	); then
		echo "# built $name in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s ($mask, TZ=$tz, $locale${epoch:+, SOURCE_DATE_EPOCH=$epoch}${cache:+, cache $cache})"
		return 0
	fi
	tail -n 20 "$dir/$name.log"
	return 1
}

manifest() {
	rm -f "$work/manifest.tmp"
	xorriso -osirrox on -indev "$1" -extract /gapbox/manifest.json "$work/manifest.tmp" > /dev/null 2>&1
	cat "$work/manifest.tmp"
}

# explain A B: where two images differ: the first artifact whose manifest entries differ, else the
# medium around the artifacts; diffoscope on that artifact when it is installed.
explain() {
	local a=$1 b=$2 first
	manifest "$a" > "$work/a.json"
	manifest "$b" > "$work/b.json"
	first=$(python3 - "$work/a.json" "$work/b.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sa = {x["path"]: x["sha256"] for x in a["artifacts"]}
sb = {x["path"]: x["sha256"] for x in b["artifacts"]}
for x in a["artifacts"]:
    if sa[x["path"]] != sb.get(x["path"]):
        print(x["path"]); break
else:
    for k in a:
        if a[k] != b.get(k):
            print("manifest." + k); break
    else:
        print("")
EOF
)
	if [ -z "$first" ]; then
		echo "#   every artifact and the manifest are the same: the difference is in the medium itself (ISO9660 tree, boot images)"
		first=.
	else
		echo "#   first differing artifact: $first"
	fi
	if command -v diffoscope > /dev/null; then
		if [ "$first" = . ] || [[ $first == manifest.* ]]; then
			diffoscope --text "$work/diffoscope.txt" "$a" "$b" > /dev/null 2>&1
		else
			xorriso -osirrox on -indev "$a" -extract "/$first" "$work/a.artifact" > /dev/null 2>&1
			xorriso -osirrox on -indev "$b" -extract "/$first" "$work/b.artifact" > /dev/null 2>&1
			diffoscope --text "$work/diffoscope.txt" "$work/a.artifact" "$work/b.artifact" > /dev/null 2>&1
		fi
		echo "#   diffoscope: $work/diffoscope.txt"
		head -n 40 "$work/diffoscope.txt" | sed 's/^/#   /'
	else
		echo "#   (diffoscope is not installed: apt-get install diffoscope to see inside it)"
	fi
}

# The sha256 of every file of the netboot folder DIR; dnsmasq.conf.example names the folder
# itself (its tftp-root), so that name is taken out of it first.
tree_sums() {
	(cd "$1" && find . -type f ! -name dnsmasq.conf.example -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum)
	sed "s|$1|DIR|g" "$1/dnsmasq.conf.example" | sha256sum
}

# compare LABEL A B: the two builds gave the same image and netboot folder.
compare() {
	local label=$1 a=$2 b=$3 ha hb
	ha=$(sha256sum < "$a.iso" | cut -d' ' -f1)
	hb=$(sha256sum < "$b.iso" | cut -d' ' -f1)
	if [ "$ha" = "$hb" ]; then ok "$label: the same ISO, sha256 $ha ($(du -m "$a.iso" | cut -f1) MiB)"
	else
		not_ok "$label: the ISOs differ ($ha, $hb)"
		explain "$a.iso" "$b.iso"
	fi
	if diff <(tree_sums "$a.netboot") <(tree_sums "$b.netboot") > "$work/netboot.diff"; then
		ok "$label: the same netboot folder ($(find "$a.netboot" -type f | wc -l) files; the dnsmasq example names its own folder)"
	else
		not_ok "$label: the netboot folders differ: $(grep '^[<>]' "$work/netboot.diff" | head -n 4 | tr '\n' ' ')"
	fi
}

# field FILE EXPR: a value of the manifest in FILE (a Python expression on m).
field() { python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# 1. SOURCE_DATE_EPOCH unset: the default epoch is stable.
build one "$work/one" "$work/outputs" 022 UTC C.UTF-8 &&
	build two "$work/elsewhere/deeper/two" "$work/elsewhere/deeper/outputs" 077 Asia/Tokyo de_DE.UTF-8 ||
	{ not_ok "build without SOURCE_DATE_EPOCH"; echo "# passed $passed, failed $failed"; exit 1; }
compare "SOURCE_DATE_EPOCH unset, two folders, umask 022/077, TZ UTC/Asia/Tokyo, C/de_DE" "$work/one/one" "$work/elsewhere/deeper/two/two"

# Again with an empty rootfs cache (Talos builds its second image so): mmdebstrap bootstraps the
# admin OS anew, and the image is still the same.
if build fresh "$work/fresh" "$work/outputs" 022 UTC C.UTF-8 "" "$work/cache"; then
	if grep -q 'rootfs: cache miss' "$work/fresh/fresh.log"; then
		compare "an empty rootfs cache (mmdebstrap ran again)" "$work/one/one" "$work/fresh/fresh"
	else not_ok "the build with an empty cache did not bootstrap: $(grep 'rootfs:' "$work/fresh/fresh.log" | head -n 1)"; fi
else not_ok "build with an empty rootfs cache"; fi
rm -rf "$work/cache"

manifest "$work/one/one.iso" > "$work/one.json"
epoch=$(field "$work/one.json" 'm["build"]["epoch"]')
from=$(field "$work/one.json" 'm["build"]["epoch_from"]')
archive=$(field "$work/one.json" 'm["build"]["apt_archive"]["date"]')
newest_payload=$(find "$work/outputs" -printf '%T@\n' | cut -d. -f1 | sort -n | tail -n 1)
expect=$archive expect_from="apt archive"
commit=$(git log -1 --format=%ct 2> /dev/null || echo 0)
if [ "$commit" -gt "$expect" ]; then expect=$commit expect_from="gapbox commit"; fi
if [ "$newest_payload" -gt "$expect" ]; then expect=$newest_payload expect_from=payload; fi
if [ "$epoch" = "$expect" ] && [ "$from" = "$expect_from" ] && [ "$archive" -gt 1600000000 ]; then
	ok "the default epoch is the newest input's time, recorded: $epoch from $from (apt archive $archive, payload $newest_payload, commit $commit)"
else
	not_ok "default epoch: the manifest says $epoch from '$from'; expected $expect from '$expect_from' (apt archive $archive, payload $newest_payload, commit $commit)"
fi

# A newer file in the payload moves the epoch on: a new input, a new image.
cp -a "$work/outputs" "$work/newer-outputs"
later=$((expect + 86400))
touch -d "@$later" "$work/newer-outputs/config.sh"
if build newer "$work/newer" "$work/newer-outputs" 022 UTC C.UTF-8; then
	manifest "$work/newer/newer.iso" > "$work/newer.json"
	if [ "$(field "$work/newer.json" 'm["build"]["epoch"]')" = "$later" ] &&
		[ "$(field "$work/newer.json" 'm["build"]["epoch_from"]')" = payload ] &&
		[ "$(field "$work/newer.json" 'm["medium"]["uuid"]')" = "$(TZ=UTC date -d "@$later" +%Y-%m-%d-%H-%M-%S-00)" ]; then
		ok "a payload file newer than the other inputs sets the epoch and the medium's UUID ($later, from payload)"
	else
		not_ok "a newer payload file: the manifest says $(field "$work/newer.json" 'm["build"]') $(field "$work/newer.json" 'm["medium"]')"
	fi
else not_ok "build with a newer payload file"; fi

# 2. SOURCE_DATE_EPOCH set: the same image from other folders and settings, with its time.
build three "$work/three" "$work/outputs" 022 UTC C.UTF-8 1700000000 &&
	build four "$work/elsewhere/four" "$work/elsewhere/deeper/outputs" 027 America/New_York C 1700000000 ||
	{ not_ok "build with SOURCE_DATE_EPOCH"; echo "# passed $passed, failed $failed"; exit 1; }
compare "SOURCE_DATE_EPOCH=1700000000, two folders, umask 022/027, TZ UTC/America/New_York, C.UTF-8/C" "$work/three/three" "$work/elsewhere/four/four"
manifest "$work/three/three.iso" > "$work/three.json"
if [ "$(field "$work/three.json" 'm["build"]["epoch"]')" = 1700000000 ] &&
	[ "$(field "$work/three.json" 'm["build"]["epoch_from"]')" = SOURCE_DATE_EPOCH ] &&
	[ "$(field "$work/three.json" 'm["medium"]["uuid"]')" = 2023-11-14-22-13-20-00 ]; then
	ok "SOURCE_DATE_EPOCH is the recorded epoch and gives the medium's UUID (2023-11-14-22-13-20-00)"
else not_ok "SOURCE_DATE_EPOCH: the manifest says $(field "$work/three.json" 'm["build"]') $(field "$work/three.json" 'm["medium"]')"; fi

# The comparison itself can fail: another epoch is another image, and explain names what differs.
if cmp -s "$work/one/one.iso" "$work/three/three.iso"; then not_ok "two epochs gave the same ISO"
else
	explain "$work/one/one.iso" "$work/three/three.iso" > "$work/explain.txt"
	if grep -q 'first differing artifact: gapbox/' "$work/explain.txt"; then
		ok "another epoch, another ISO, and the first differing artifact is named ($(sed -n 's/.*first differing artifact: //p' "$work/explain.txt"))"
	else not_ok "explain did not name a differing artifact: $(head -n 3 "$work/explain.txt" | tr '\n' ' ')"; fi
fi

# Kept only when something differed, for a look.
[ "$failed" = 0 ] && find "$work" \( -name '*.iso' -o -name '*.netboot' \) -prune -exec rm -rf {} +
echo "# passed $passed, failed $failed"
[ "$failed" = 0 ]
