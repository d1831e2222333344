#!/bin/bash
# Signed images: gapbox build --sign KEY signs the manifest with an Ed25519 key the operator holds;
# gapbox inspect --verify PUBKEY and gapbox verify IMAGE|STICK --key PUBKEY accept the image and a
# stick written with it, and refuse one flipped byte in any artifact, in the manifest or in its
# signature, a manifest signed by another key, and an unsigned image. Bad keys are refused
# before anything is built, and the private key is nowhere in the image. At boot (amd64, QEMU)
# gapbox-init stops, naming the image, on a flipped byte in system.sfs or payload.sfs in both
# gapbox.verify=full and verity (a signed build's default), and on another key's signature. The
# signed image is also built with --secure-boot-key: UEFI boots it through shim into a kernel
# image signed with a site's own RSA key, which OVMF with that certificate in its db starts with
# Secure Boot on and refuses with one byte of its initramfs changed, or without the certificate;
# and an arm64 image's, which AAVMF starts the same way, and refuses without the certificate.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

gapbox=$PWD/build/host/gapbox
work=$PWD/build/test/verify
rm -rf "$work"
mkdir -p "$work"
passed=0 failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
finish() { echo "# passed $passed, failed $failed"; [ "$failed" = 0 ]; }

# Keys as an operator makes them with OpenSSL.
(
	cd "$work" && umask 077 &&
		openssl genpkey -algorithm ed25519 -out site.pem && openssl pkey -in site.pem -pubout -out site.pub &&
		openssl genpkey -algorithm ed25519 -out other.pem && openssl pkey -in other.pem -pubout -out other.pub &&
		openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out rsa.pem &&
		openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:secret -out locked.pem &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout sb.key -out sb.crt -days 3650 -subj "/CN=gapbox test site" &&
		openssl x509 -in sb.crt -outform DER -out sb.der &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout sb-other.key -out sb-other.crt -days 3650 -subj "/CN=another site"
) > "$work/keys.log" 2>&1 || { cat "$work/keys.log"; not_ok "openssl genpkey"; finish; exit 1; }
tests/fixtures/gen-outputs --arch amd64 "$work/outputs" > /dev/null || { not_ok "gen-outputs"; finish; exit 1; }

# build NAME [ARGS...]: an image of the fixture payload, NAME.iso; its log NAME.log, shown when
# the build fails.
build() {
	local name=$1; shift
	"$gapbox" build "${profile:-profiles/debian12-amd64.yaml}" --overlay tests/boot/overlay --outputs "$work/outputs" -o "$work/$name.iso" "$@" \
		> "$work/$name.log" 2>&1 < /dev/null || { tail -n 20 "$work/$name.log"; return 1; }
}

# refused NAME PATTERN CMD...: CMD exits non-zero and says PATTERN (extended regex).
refused() {
	local name=$1 pattern=$2 rc=0; shift 2
	"$@" > "$work/refused.log" 2>&1 < /dev/null || rc=$?
	if [ "$rc" = 0 ]; then not_ok "$name: accepted"; sed 's/^/# /' "$work/refused.log"
	elif ! grep -Eq -- "$pattern" "$work/refused.log"; then
		not_ok "$name: exit $rc without /$pattern/"; sed 's/^/# /' "$work/refused.log"
	else ok "$name: refused (exit $rc): $(grep -Em1 -- "$pattern" "$work/refused.log" | sed 's/^gapbox: error: //')"; fi
}

# ---- bad keys: refused before anything is built, no image written ----
refused "--sign with an RSA key" "rsa.pem: an RSA key; gapbox signs with Ed25519" build rsa --sign "$work/rsa.pem"
refused "--sign with a passphrase-protected key" "locked.pem: the key is protected by a passphrase" build locked --sign "$work/locked.pem"
refused "--sign with a public key" "site.pub: expected an Ed25519 private key in PEM" build pub --sign "$work/site.pub"
refused "--sign with no such file" "cannot read $work/missing.pem" build missing --sign "$work/missing.pem"
sb=(--secure-boot-key "$work/sb.key" --secure-boot-cert "$work/sb.crt")
refused "--secure-boot-key without its certificate" "--secure-boot-key needs --secure-boot-cert" \
	build sbnocert --secure-boot-key "$work/sb.key"
refused "--secure-boot-cert of another key" "sb-other.crt is not the certificate of --secure-boot-key .*sb.key" \
	build sbother --secure-boot-key "$work/sb.key" --secure-boot-cert "$work/sb-other.crt"
refused "--secure-boot-key with an Ed25519 key" "site.pem: an ED25519 key; UEFI firmware and shim check RSA signatures" \
	build sbed --secure-boot-key "$work/site.pem" --secure-boot-cert "$work/sb.crt"
refused "--secure-boot-cert with a key in it" "sb.key: expected an X.509 certificate in PEM" \
	build sbcert --secure-boot-key "$work/sb.key" --secure-boot-cert "$work/sb.key"
if ls "$work"/*.iso > /dev/null 2>&1; then not_ok "a refused key left an image: $(ls "$work"/*.iso)"
else ok "no image written for any refused key"; fi

# ---- a signed image, its UEFI kernel image signed too ----
if ! build signed --sign "$work/site.pem" "${sb[@]}"; then not_ok "build --sign --secure-boot-key"; finish; exit 1; fi
id=$(sed -n 's/.*manifest signed by Ed25519 key \([0-9a-f]*\).*/\1/p' "$work/signed.log")
expected_id=$(openssl pkey -pubin -in "$work/site.pub" -outform DER | tail -c 32 | sha256sum | cut -c1-16)
if [ -n "$id" ] && [ "$id" = "$expected_id" ]; then
	ok "build --sign: manifest signed by key $id (sha256 of the raw public key); the manifest stage, signing included, $(sed -n 's/.*stage manifest *\([0-9.]*\) s$/\1/p' "$work/signed.log") s"
else not_ok "build --sign: key id '$id', expected $expected_id"; fi
img=$work/signed.iso

if "$gapbox" inspect "$img" --verify "$work/site.pub" > "$work/inspect.log" 2>&1 && grep -q '^signature: good' "$work/inspect.log" &&
	grep -q '8 artifacts, 8 verified, 0 bad' "$work/inspect.log"; then
	ok "inspect --verify: $(head -n 1 "$work/inspect.log"), $(tail -n 1 "$work/inspect.log")"
else not_ok "inspect --verify of the signed image"; sed 's/^/# /' "$work/inspect.log"; fi
# inspect --json: the same verdicts as one JSON object.
json_verdict() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = [a["path"] + ":" + a["verdict"] for a in d["artifacts"] if a["verdict"] != "ok"]
print("verified=%s signature=%s artifacts=%d bad=%s manifest.name=%s" % (str(d["verified"]).lower(),
      (d["signature"] or {}).get("key", "none")[:16], len(d["artifacts"]), ",".join(bad) or "none", d["manifest"]["name"]))'
}
if got=$("$gapbox" inspect "$img" --verify "$work/site.pub" --json | json_verdict) &&
	[ "$got" = "verified=true signature=$expected_id artifacts=8 bad=none manifest.name=debian12-amd64" ]; then
	ok "inspect --verify --json: $got"
else not_ok "inspect --verify --json: $got"; fi
# The hash trees are dm-verity's own format: veritysetup, not gapbox, checks system.sfs against
# its tree with the salt and root hash the manifest gives.
mkdir -p "$work/medium"
if xorriso -osirrox on -indev "$img" -extract /gapbox "$work/medium" > /dev/null 2>&1 &&
	read -r salt root blocks < <(python3 -c '
import json, sys
v = [e for e in json.load(open(sys.argv[1]))["verity"] if e["image"] == "gapbox/system.sfs"][0]
print(v["salt"], v["root_hash"], v["data_blocks"])' "$work/medium/manifest.json") &&
	veritysetup verify --no-superblock --hash=sha256 --data-block-size=4096 --hash-block-size=4096 --salt="$salt" \
		"$work/medium/system.sfs" "$work/medium/system.sfs.verity" "$root" > "$work/veritysetup.log" 2>&1; then
	ok "veritysetup verify: system.sfs ($blocks blocks) matches its hash tree ($(du -k "$work/medium/system.sfs.verity" | cut -f1) KiB) under the manifest's root hash ${root:0:16}...; stage verity $(sed -n 's/.*stage verity *\([0-9.]*\) s$/\1/p' "$work/signed.log") s"
else not_ok "veritysetup verify of system.sfs against the manifest's root hash"; sed 's/^/# /' "$work/veritysetup.log" 2> /dev/null; fi
printf '\x01' | dd of="$work/medium/system.sfs" bs=1 seek=5000000 conv=notrunc status=none
if [ -n "${root:-}" ] && ! veritysetup verify --no-superblock --hash=sha256 --data-block-size=4096 --hash-block-size=4096 \
	--salt="$salt" "$work/medium/system.sfs" "$work/medium/system.sfs.verity" "$root" > "$work/veritysetup.log" 2>&1; then
	ok "veritysetup verify refuses system.sfs with one byte changed: $(grep -m1 -i 'corrupt\|fail\|mismatch' "$work/veritysetup.log")"
else not_ok "veritysetup verify took a changed system.sfs"; fi
rm -rf "$work/medium"

start=$(date +%s.%N)
if "$gapbox" verify "$img" --key "$work/site.pub" > "$work/verify.log" 2>&1; then
	ok "verify --key: $(tail -n 1 "$work/verify.log") ($(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s for $(du -m "$img" | cut -f1) MiB)"
else not_ok "verify of the signed image"; sed 's/^/# /' "$work/verify.log"; fi
# A private key file names its public key too.
if "$gapbox" verify "$img" --key "$work/site.pem" > /dev/null 2>&1; then ok "verify --key takes the private key file as well"
else not_ok "verify --key with the private key file"; fi

# The unsigned image is built by gapbox as make install puts it (the command on the PATH, its
# profiles and target programs beside it). The private keys are not in the image: only the signature file and the Secure Boot certificate
# were added (the UEFI loader beside shim is the signed kernel image instead of GRUB), and
# neither key's PEM text nor its raw private part is anywhere in its bytes.
if make --no-print-directory install DESTDIR="$work/inst" PREFIX=/usr > "$work/install.log" 2>&1 &&
	gapbox=$work/inst/usr/bin/gapbox profile=$work/inst/usr/lib/gapbox/profiles/debian12-amd64.yaml build unsigned; then
	ok "an image built by the installed gapbox (make install DESTDIR=... PREFIX=/usr): $(tail -n 1 "$work/unsigned.log" | sed 's/^gapbox: //')"
	diff <(xorriso -indev "$work/unsigned.iso" -find / -type f 2> /dev/null | sort) \
		<(xorriso -indev "$img" -find / -type f 2> /dev/null | sort) > "$work/files.diff"
	added=$(grep '^>' "$work/files.diff" | tr -d "> '" | paste -sd' ')
	if [ "$added" = "/EFI/BOOT/gapbox-secure-boot.der /gapbox/manifest.json.sig" ] && ! grep -q '^<' "$work/files.diff"; then
		ok "signing adds two files to the medium: $added"
	else not_ok "signing changed the medium's files: $(tr '\n' ' ' < "$work/files.diff")"; fi
	refused "verify of an unsigned image" "no /gapbox/manifest.json.sig: the image is not signed" \
		"$gapbox" verify "$work/unsigned.iso" --key "$work/site.pub"
else not_ok "build without --sign"; fi
if python3 - "$img" "$work/site.pem" "$work/sb.key" <<'EOF'; then ok "neither key's PEM text nor its raw private part is in the image's bytes"
import base64, subprocess, sys
image = open(sys.argv[1], "rb").read()
def body(path):
    return b"".join(l for l in open(path, "rb").read().splitlines() if not l.startswith(b"-----"))
ed = body(sys.argv[2])
seed = base64.b64decode(ed)[-32:]   # PKCS#8 of Ed25519: the 32-byte seed is last
rsa = body(sys.argv[3])
# The RSA key's private exponent, as openssl prints it.
out = subprocess.run(["openssl", "rsa", "-in", sys.argv[3], "-noout", "-text"], capture_output=True, text=True).stdout
d = bytes.fromhex("".join(out.split("privateExponent:")[1].split("prime1:")[0].split()).replace(":", "")).lstrip(b"\0")
sys.exit(1 if any(x in image for x in (ed, seed, rsa[:64], d)) else 0)
EOF
else not_ok "a private key's bytes are in the image"; fi

# Deterministic: Ed25519 signs the same manifest the same way, so signed builds reproduce too.
# The kernel image's PE time stamp and its signature's signing time are the build's epoch. The
# second build runs on a terminal (script's pseudo-terminal), which changes how it shows its
# progress and nothing else.
if script -qec "$(printf '%q ' "$gapbox" build profiles/debian12-amd64.yaml --overlay tests/boot/overlay \
	--outputs "$work/outputs" -o "$work/again.iso" --sign "$work/site.pem" "${sb[@]}")" /dev/null > "$work/again.log" 2>&1 < /dev/null &&
	cmp -s "$img" "$work/again.iso"; then
	ok "two signed builds give the same ISO, their kernel images signed alike"
else not_ok "two signed builds differ"; fi

# Progress: on a terminal a bar redrawn in place (carriage returns) for system.sfs's mksquashfs
# and the payload import, each ending at 100%; in a log, plain lines.
for what in "system: mksquashfs system.sfs" "payload: import into payload.sfs and payload-stored.sfs"; do
	frames=$(tr '\r' '\n' < "$work/again.log" | grep -c "^.*$what \[[#.]*\]")
	last=$(tr '\r' '\n' < "$work/again.log" | grep "$what \[" | tail -n 1 | sed 's/\x1b\[K//g')
	if [ "$frames" -ge 1 ] && [[ $last == *"[########################] 100%"* ]]; then
		ok "progress on a terminal: $frames frame(s) of the bar, the last: $(tr -d '\r' <<< "$last")"
	else not_ok "progress on a terminal: no bar for '$what' ending at 100% in $work/again.log"; fi
	if line=$(grep -m1 "^gapbox: $what: 100%, " "$work/signed.log") && ! grep -q "$what \[" "$work/signed.log"; then
		ok "progress in a log: plain lines, no bar: $line"
	else not_ok "progress in a log: no plain line '$what: 100%' in $work/signed.log, or a bar"; fi
done

# ---- refused ----
if build other --sign "$work/other.pem"; then
	refused "a manifest signed by another key (inspect --verify)" "signed by key [0-9a-f]{16}, not by the given key $expected_id" \
		"$gapbox" inspect "$work/other.iso" --verify "$work/site.pub"
else not_ok "build --sign with the other key"; fi

# flip IMAGE PATH [OFFSET]: flip one byte of the file PATH on IMAGE, in place (again to undo),
# OFFSET bytes into it (default: its middle).
flip() {
	python3 - "$@" <<'EOF'
import re, subprocess, sys
image, path = sys.argv[1], sys.argv[2]
out = subprocess.run(["xorriso", "-indev", image, "-find", path, "-exec", "report_lba", "--"],
                     capture_output=True, text=True).stdout
m = re.search(r"File data lba:\s*\d+\s*,\s*(\d+)\s*,\s*\d+\s*,\s*(\d+)\s*,", out)
lba, size = int(m.group(1)), int(m.group(2))
off = lba * 2048 + (int(sys.argv[3]) if len(sys.argv) > 3 else size // 2)
with open(image, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x01]))
EOF
}

flip "$img" /gapbox/vmlinuz
rc=0; "$gapbox" verify "$img" --key "$work/site.pub" --json > "$work/verify.json" 2> /dev/null || rc=$?
got=$(json_verdict < "$work/verify.json")
if [ "$rc" = 1 ] && [ "$got" = "verified=false signature=$expected_id artifacts=8 bad=gapbox/vmlinuz:mismatch manifest.name=debian12-amd64" ]; then
	ok "verify --json with one flipped byte in vmlinuz: exit 1, $got"
else not_ok "verify --json with one flipped byte in vmlinuz: $got"; fi
flip "$img" /gapbox/vmlinuz
for art in vmlinuz initrd.img system.sfs payload.sfs payload-stored.sfs system.sfs.verity payload.sfs.verity; do
	flip "$img" "/gapbox/$art"
	refused "one flipped byte in $art" "/gapbox/$art: manifest says [0-9]+ bytes sha256 [0-9a-f]+, image has" \
		"$gapbox" verify "$img" --key "$work/site.pub"
	flip "$img" "/gapbox/$art"
done
flip "$img" /gapbox/manifest.json 100
refused "one flipped byte in the manifest" "does not match the manifest: the manifest was changed after it was signed" \
	"$gapbox" inspect "$img" --verify "$work/site.pub"
flip "$img" /gapbox/manifest.json 100
flip "$img" /gapbox/manifest.json.sig 120
refused "one flipped byte in the signature" "manifest.json.sig: (the signature of key [0-9a-f]+ does not match|the signature file)" \
	"$gapbox" verify "$img" --key "$work/site.pub"
flip "$img" /gapbox/manifest.json.sig 120
if "$gapbox" verify "$img" --key "$work/site.pub" > /dev/null 2>&1; then ok "every flipped byte flipped back: the image verifies again"
else not_ok "the image does not verify after the flips were undone"; fi

# ---- a stick written with it ----
if "$gapbox" write "$img" "$work/stick.img" --yes > "$work/write.log" 2>&1 < /dev/null; then
	if "$gapbox" verify "$work/stick.img" --key "$work/site.pub" > "$work/stick.log" 2>&1; then
		ok "verify of a stick written with gapbox write: $(tail -n 1 "$work/stick.log")"
	else not_ok "verify of the written stick"; sed 's/^/# /' "$work/stick.log"; fi
	flip "$work/stick.img" /gapbox/system.sfs
	refused "one flipped byte in system.sfs on the stick" "/gapbox/system.sfs: manifest says" \
		"$gapbox" verify "$work/stick.img" --key "$work/site.pub"
	refused "the stick against another key" "not by the given key" "$gapbox" verify "$work/stick.img" --key "$work/other.pub"
else not_ok "gapbox write to a disk image file"; sed 's/^/# /' "$work/write.log"; fi

# ---- at boot (amd64, UEFI CD): gapbox-init checks the medium before it mounts anything ----
# boot NAME IMAGE EXPECT [--append PARAMS]: boot to the console line EXPECT (extended regex);
# the appliance's verdict and a kernel panic are failures unless expected.
boot() {
	local name=$1 image=$2 expect=$3; shift 3
	qemu/boot "$image" --arch amd64 --firmware uefi --medium cdrom --timeout 600 --log "$work/boot-$name.log" \
		--expect "$expect" --fail 'Kernel panic|GAPBOX-BOOT-TEST: (PASS|FAIL)' "$@" > /dev/null 2>&1
}
# stopped NAME IMAGE PATTERN [--append PARAMS]: the boot stops with PATTERN on the console,
# before anything is mounted from the medium.
stopped() {
	local name=$1 image=$2 pattern=$3 slug; shift 3
	slug=$(printf '%s' "$name" | tr -c 'a-z0-9.' '-')
	if boot "$slug" "$image" "$pattern" "$@"; then
		ok "boot: $name: stopped: $(grep -aEom1 "$pattern.{0,100}" "$work/boot-$slug.log" | tr -d '\r' | sed 's/ *$//')"
	else not_ok "boot: $name: expected /$pattern/ (console log: $work/boot-$slug.log)"; fi
}

# put_signature FROM TO: the signature file of image FROM written over TO's (the same size).
put_signature() {
	python3 - "$1" "$2" <<'EOF'
import re, subprocess, sys
def extent(image):
    out = subprocess.run(["xorriso", "-indev", image, "-find", "/gapbox/manifest.json.sig", "-exec", "report_lba", "--"],
                         capture_output=True, text=True).stdout
    m = re.search(r"File data lba:\s*\d+\s*,\s*(\d+)\s*,\s*\d+\s*,\s*(\d+)\s*,", out)
    return int(m.group(1)) * 2048, int(m.group(2))
(o_off, o_len), (i_off, i_len) = extent(sys.argv[1]), extent(sys.argv[2])
if o_len != i_len:
    sys.exit("the signature files differ in size: %d, %d" % (o_len, i_len))
with open(sys.argv[1], "rb") as f:
    f.seek(o_off); sig = f.read(o_len)
with open(sys.argv[2], "r+b") as f:
    f.seek(i_off); f.write(sig)
EOF
}

# flip_initrd_in_kernel_image IMAGE: flip one byte in the middle of the .initrd section of the
# signed kernel image, wherever those bytes are on IMAGE (the image on the ESP and in the ISO's
# tree, and gapbox/initrd.img itself); again to undo. Prints how many places it changed.
flip_initrd_in_kernel_image() {
	python3 - "$1" <<'EOF'
import os, re, struct, subprocess, sys, tempfile
image = sys.argv[1]
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "uki.efi")
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", image, "-extract", "/EFI/BOOT/grubx64.efi", path],
                   check=True, capture_output=True)
    uki = open(path, "rb").read()
pe = struct.unpack_from("<I", uki, 0x3c)[0]
sections, optional = struct.unpack_from("<H", uki, pe + 6)[0], struct.unpack_from("<H", uki, pe + 20)[0]
for i in range(sections):
    h = pe + 24 + optional + 40 * i
    if uki[h:h + 8].rstrip(b"\0") == b".initrd":
        size, start = struct.unpack_from("<II", uki, h + 16)
        break
else:
    sys.exit("the kernel image has no .initrd section")
needle = uki[start + size // 2:start + size // 2 + 64]
with open(image, "r+b") as f:
    data = f.read()
    hits = [m.start() for m in re.finditer(re.escape(needle), data)]
    for at in hits:
        f.seek(at); f.write(bytes([data[at] ^ 0x01]))
print(len(hits))
sys.exit(0 if hits else 1)
EOF
}

# Unsigned (verification off by default): gapbox.verify=full finds a flipped byte in system.sfs.
flip "$work/unsigned.iso" /gapbox/system.sfs
stopped "unsigned, gapbox.verify=full, system.sfs flipped" "$work/unsigned.iso" \
	'gapbox.verify=full: gapbox/system.sfs does not match the build manifest' --append gapbox.verify=full
flip "$work/unsigned.iso" /gapbox/system.sfs

# Signed: verity by default, after the manifest's signature; with Secure Boot on and the site's
# certificate in the firmware's db, shim starts the signed kernel image.
if boot signed-healthy "$img" 'GAPBOX-BOOT-TEST: PASS' --fail 'Kernel panic|GAPBOX-BOOT-TEST: FAIL' \
	--firmware uefi-sb --db-cert "$work/sb.der"; then
	sigline=$(grep -aom1 'the manifest .* is signed by the build.s key [0-9a-f]*' "$work/boot-signed-healthy.log")
	verityline=$(grep -aom1 'gapbox.verify=verity: [0-9]* images to mount through dm-verity; their hash trees, [0-9]* KiB, match the build manifest ([0-9.]* s)' "$work/boot-signed-healthy.log")
	mounted=$(grep -ac 'on /dev/mapper/gapbox-[a-z-]* mounted at' "$work/boot-signed-healthy.log")
	if [ -n "$sigline" ] && [ -n "$verityline" ] && [ "$mounted" = 3 ] &&
		grep -aq "GAPBOX-BOOT-TEST: PASS .* checked=verity,signed:$expected_id " "$work/boot-signed-healthy.log"; then
		ok "boot: signed, default mode: $sigline; $verityline; 3 images mounted from /dev/mapper/gapbox-*; then healthy, and the status says checked=verity,signed:$expected_id"
	else not_ok "boot: the signed image came up without the signature check and dm-verity on its console ($work/boot-signed-healthy.log)"; fi
	probe=$(grep -aom1 'GAPBOX-BOOT-TEST: PASS.*' "$work/boot-signed-healthy.log" | tr -d '\r')
	if [[ $probe == *" secureboot=1 lockdown=integrity stub=systemd-stub-"* ]] &&
		grep -aq 'EFI stub: UEFI Secure Boot is enabled' "$work/boot-signed-healthy.log"; then
		ok "boot: Secure Boot on, the site's certificate in db: shim started the signed kernel image ($(sed -n 's/.*\(stub=[^ ]*\).*/\1/p' <<< "$probe")), lockdown integrity"
	else not_ok "boot: expected secureboot=1 lockdown=integrity stub=systemd-stub-..., the probe says: $probe"; fi
else not_ok "boot: the signed image did not come up healthy (console log: $work/boot-signed-healthy.log)"; fi
# verity reads lazily: a block is checked when it is read, so the byte flipped is one that
# mounting the image reads (its first block, with the squashfs superblock).
flip "$img" /gapbox/system.sfs 100
stopped "signed, default mode (verity), system.sfs flipped" "$img" \
	'gapbox.verify=verity: gapbox/system.sfs: a block read while mounting it does not match its hash tree'
flip "$img" /gapbox/system.sfs 100
flip "$img" /gapbox/payload.sfs 100
stopped "signed, default mode (verity), payload.sfs flipped" "$img" \
	'gapbox.verify=verity: gapbox/payload.sfs: a block read while mounting it does not match its hash tree'
flip "$img" /gapbox/payload.sfs 100
flip "$img" /gapbox/payload.sfs
stopped "signed, gapbox.verify=full, payload.sfs flipped" "$img" \
	'gapbox.verify=full: gapbox/payload.sfs does not match the build manifest' --append gapbox.verify=full
flip "$img" /gapbox/payload.sfs
# The firmware's chain covers the initramfs: shim refuses the kernel image with one byte of its
# initramfs changed, and refuses it on a machine that does not trust the site's certificate.
if copies=$(flip_initrd_in_kernel_image "$img"); then
	stopped "Secure Boot, one flipped byte in the kernel image's initramfs (at all $copies places on the medium those bytes are)" "$img" \
		'Verification failed: \(0x1A\) Security Violation' --firmware uefi-sb --db-cert "$work/sb.der"
	flip_initrd_in_kernel_image "$img" > /dev/null
else not_ok "cannot flip a byte of the kernel image's initramfs"; fi
stopped "Secure Boot, the site's certificate not enrolled" "$img" 'Verification failed: \(0x1A\) Security Violation' \
	--firmware uefi-sb
if [ -e "$work/other.iso" ] && put_signature "$work/other.iso" "$img"; then
	stopped "signed, another key's signature on the manifest" "$img" 'gapbox.verify: .*manifest.json.sig: signed by key [0-9a-f]+, not by the given key'
else not_ok "cannot put the other key's signature on the image"; fi

# arm64: Debian's arm64 stub keeps its SBAT data inside .data, and shim refuses an image with
# no .sbat section under Secure Boot; the build gives it one. AAVMF with the site's certificate
# in db starts the kernel image with Secure Boot on, up to gapbox-init; without it, shim refuses.
if "$gapbox" build profiles/debian12-arm64.yaml -o "$work/arm64.iso" "${sb[@]}" > "$work/arm64.log" 2>&1 < /dev/null; then
	if qemu/boot "$work/arm64.iso" --arch arm64 --firmware uefi-sb --db-cert "$work/sb.der" --medium usb --timeout 600 \
		--log "$work/boot-arm64-sb.log" --expect 'gapbox-init: version' --fail 'Kernel panic|Verification failed' > /dev/null 2>&1 &&
		grep -aq 'EFI stub: UEFI Secure Boot is enabled' "$work/boot-arm64-sb.log" &&
		grep -aq 'Kernel is locked down from EFI Secure Boot' "$work/boot-arm64-sb.log"; then
		ok "boot arm64: Secure Boot on, the site's certificate in db: shim started the signed kernel image (its .sbat section added by the build), the kernel locked down, gapbox-init ran"
	else not_ok "boot arm64: the signed kernel image under Secure Boot (console log: $work/boot-arm64-sb.log)"; fi
	if qemu/boot "$work/arm64.iso" --arch arm64 --firmware uefi-sb --medium usb --timeout 600 --log "$work/boot-arm64-refused.log" \
		--expect 'Verification failed: \(0x1A\) Security Violation' --fail 'Kernel panic|EFI stub' > /dev/null 2>&1; then
		ok "boot arm64: Secure Boot on, the site's certificate not enrolled: shim refuses the kernel image (Verification failed: (0x1A) Security Violation)"
	else not_ok "boot arm64: without the certificate, shim did not refuse the kernel image (console log: $work/boot-arm64-refused.log)"; fi
else not_ok "build arm64 --secure-boot-key"; tail -n 20 "$work/arm64.log"; fi

[ "$failed" = 0 ] && rm -f "$work"/*.iso "$work"/stick.img
finish
