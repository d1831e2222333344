#!/bin/bash
# gapbox smoke, as a site's CI runs it: on an admin image built with nothing added for the test
# (a fixture payload and a site configuration of its own, whose addresses and domain are not the
# appliance's defaults, so the run must read them from the image), it must pass every check and
# write a JUnit report that says so. Then on two broken images it must fail, naming the check:
#   - the payload lacks a layer of a listed image (the builder refuses such an outputs/, so the
#     good image's payload is altered after the build): pull;
#   - the registry's port is closed to the internal network (tests/smoke/registry-closed, an
#     overlay that closes it once the admin has checked itself, so the admin says healthy):
#     pull, and nothing the registry does not serve.
# The good image boots from a UEFI CD, the broken ones from a BIOS USB stick and a virtio disk.
# ARCH=amd64|arm64 (default amd64): arm64 runs the good image only (UEFI, CD), and the broken
# ones too with GAPBOX_SMOKE_FAULTS=1 (all three UEFI there, the CD, a USB stick, a virtio disk).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

arch=${ARCH:-amd64}
work=$PWD/build/test/smoke-$arch
gapbox=build/host/gapbox
mkdir -p "$work"
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
finish() { echo "smoke $arch: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

# The site: not the appliance's defaults (192.168.10.10/24, gapbox.lan, port 35000).
push_password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
cat > "$work/appliance.yaml" <<EOF
network:
  address: 10.42.7.1/24
domain: smoke.example
registry:
  port: 5000
  push_users: ["smoke:$(openssl passwd -6 "$push_password")"]
nodes:
  - name: worker7
    address: 10.42.7.57
EOF
rm -rf "$work/outputs"
tests/fixtures/gen-outputs --arch "$arch" "$work/outputs" > "$work/gen-outputs.log" 2>&1 ||
	{ cat "$work/gen-outputs.log"; not_ok "fixture outputs"; finish; }

# build IMAGE ARGS...: an admin image with the fixture payload and the site above.
build() {
	local image=$1 start
	shift
	start=$(date +%s)
	if "$gapbox" build "profiles/debian12-$arch.yaml" --outputs "$work/outputs" --config "$work/appliance.yaml" \
		-o "$image" "$@" < /dev/null > "$image.log" 2>&1; then
		ok "build ${image##*/} ($(( $(date +%s) - start )) s)"
	else
		tail -n 20 "$image.log"
		not_ok "build ${image##*/} (log: $image.log)"
		finish
	fi
}
good=$work/good-$arch.iso
build "$good"

# junit FILE: "tests failures skipped names-of-failed" from a JUnit report, or "unreadable".
junit() {
	python3 - "$1" <<'EOF' 2>/dev/null || echo unreadable
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall("./testsuite/testcase")
failed = [c.get("name") for c in cases if c.find("failure") is not None]
skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
assert int(root.get("tests")) == len(cases) and int(root.get("failures")) == len(failed)
print(len(cases), len(failed), len(skipped), ",".join(failed) or "-")
EOF
}

# smoke NAME IMAGE ARGS...: gapbox smoke, its output in NAME.out, its logs in NAME/.
smoke() {
	local name=$1 image=$2
	shift 2
	rm -rf "${work:?}/$name"
	"$gapbox" smoke "$image" --logs "$work/$name" "$@" < /dev/null > "$work/$name.out" 2>&1
}

# The good image, with the push user's password: every check passes, push among them.
timeout=(--timeout 1200)
[ "$arch" = arm64 ] && timeout=(--timeout 3600)
smoke good "$good" --push-creds "smoke:$push_password" "${timeout[@]}"
rc=$?
report=$(junit "$work/good/junit.xml")
if [ "$rc" = 0 ] && grep -q '^gapbox smoke: PASS: 12 checks passed, 0 skipped' "$work/good.out" &&
	[ "$report" = "12 0 0 -" ]; then
	ok "$(grep -m1 '^gapbox smoke: PASS' "$work/good.out" | cut -d'(' -f1)on the good $arch image; JUnit: 12 tests, none failed"
	grep '^  ok ' "$work/good.out" | cut -c1-160
else
	cat "$work/good.out"
	not_ok "gapbox smoke on the good image: expected exit 0 and 12 checks passed; got exit $rc, JUnit '$report' (logs: $work/good)"
fi
# It read the site from the image, not from defaults it knows.
if grep -q 'admin 10.42.7.1/24, domain smoke.example, the test node plays worker7 (10.42.7.57)' "$work/good.out" &&
	grep -q '^  ok    dns       admin, registry, worker7 and its PTR resolve, answered by 10.42.7.1' "$work/good.out"; then
	ok "the site came from the image's configuration: admin 10.42.7.1, smoke.example, worker7"
else
	not_ok "the site from the image's configuration: no 'admin 10.42.7.1/24 ... worker7' or dns line in $work/good.out"
fi
# The test node was built once and is taken from the cache after that.
if grep -q '^gapbox: test node: .*(cached)$' "$work/good.out" || grep -q '^gapbox: test node: building ' "$work/good.out"; then
	ok "$(grep -m1 '^gapbox: test node: ' "$work/good.out" | sed 's/^gapbox: //')"
else
	not_ok "no line on the test node's image in $work/good.out"
fi

if [ "$arch" != amd64 ] && [ -z "${GAPBOX_SMOKE_FAULTS:-}" ]; then
	echo "skip - $arch broken images: the amd64 run covers them; GAPBOX_SMOKE_FAULTS=1 runs them here too"
	finish
fi
# The no-blob image boots from a USB stick: with BIOS on amd64, UEFI (AAVMF, its only firmware) on arm64.
stick_firmware=bios
[ "$arch" = amd64 ] || stick_firmware=uefi

# expect_failure NAME WHAT EXPECTED RC PROOF: gapbox smoke exited (RC) 1 naming exactly EXPECTED, in
# its FAILED line and in the JUnit report, and its output has PROOF (a fixed string).
expect_failure() {
	local name=$1 what=$2 expected=$3 rc=$4 proof=$5 named report
	named=$(sed -n 's/^gapbox smoke: FAILED: \(.*\) ([0-9]* s; .*/\1/p' "$work/$name.out" | tr -d ' ')
	report=$(junit "$work/$name/junit.xml")
	if [ "$rc" = 1 ] && [ "$named" = "$expected" ] && [ "${report##* }" = "$expected" ] && grep -qF -- "$proof" "$work/$name.out"; then
		ok "$what: gapbox smoke fails, naming $named: $(grep -m1 "^  FAIL  ${expected%%,*} " "$work/$name.out" | cut -c19-200)"
	else
		cat "$work/$name.out"
		not_ok "$what: expected exit 1 naming $expected, and '$proof'; got exit $rc naming '$named', JUnit '$report' (logs: $work/$name)"
	fi
}

# The payload lacking a listed image's layer: the good image's payload.sfs with one layer blob of
# an image the list names taken out, put back into a copy of the image (xorriso replays its boot
# records; the image is unsigned, so the medium is not checked against its manifest at boot).
blobs=$work/no-blob.iso
rm -rf "$work/payload" "$work/payload.sfs" "$work/payload-new.sfs" "$blobs"
if xorriso -osirrox on -indev "$good" -extract /gapbox/payload.sfs "$work/payload.sfs" > "$work/no-blob.log" 2>&1 &&
	unsquashfs -q -n -d "$work/payload" "$work/payload.sfs" >> "$work/no-blob.log" 2>&1 &&
	gone=$(python3 - "$work/payload" "$arch" <<'EOF' 2>> "$work/no-blob.log"
import json, os, sys
root, arch = sys.argv[1], sys.argv[2]
def blob(digest):
    return os.path.join(root, "registry/docker/registry/v2/blobs/sha256", digest[7:9], digest[7:], "data")
image = [i for i in json.load(open(os.path.join(root, "gapbox-payload.json")))["images"] if i["listed"]][-1]
manifest = json.load(open(blob(image["digest"])))
for m in manifest.get("manifests", []):
    if m.get("platform", {}).get("architecture") == arch:
        manifest = json.load(open(blob(m["digest"])))
        break
layer = manifest["layers"][0]["digest"]
os.remove(blob(layer))
print(image["ref"], layer)
EOF
	) && mksquashfs "$work/payload" "$work/payload-new.sfs" -noappend -quiet -no-progress >> "$work/no-blob.log" 2>&1 &&
	xorriso -indev "$good" -outdev "$blobs" -boot_image any replay -map "$work/payload-new.sfs" /gapbox/payload.sfs \
		>> "$work/no-blob.log" 2>&1; then
	echo "  the payload of ${blobs##*/} lacks layer ${gone#* } of ${gone%% *}"
	rm -rf "$work/payload" "$work/payload.sfs" "$work/payload-new.sfs"
	smoke no-blob "$blobs" --firmware "$stick_firmware" --medium usb "${timeout[@]}"
	expect_failure no-blob "a payload lacking a layer of ${gone%% *}" pull $? "${gone#* }"
else
	tail -n 5 "$work/no-blob.log"
	not_ok "an image whose payload lacks a layer (log: $work/no-blob.log)"
fi

# The registry's port closed to the internal network.
closed=$work/registry-closed.iso
build "$closed" --overlay tests/smoke/registry-closed
smoke registry-closed "$closed" --medium disk --push-creds "smoke:$push_password" "${timeout[@]}"
expect_failure registry-closed "the registry port closed" pull,push $? "dial tcp 10.42.7.1:5000: connect"

finish
