#!/bin/bash
# Payload benchmark on the large fixture (about 1 GB of images): the time gapbox takes to
# pre-fill the registry store, the floor (reading and decompressing the archives once), the
# load-push way (skopeo copying every image into a running registry), and gapbox's peak
# memory, which must stay under 64 MiB whatever the payload's size.
#   tests/bench/payload.sh [amd64|arm64]
set -euo pipefail
cd "$(dirname "$0")/../.."

arch=${1:-amd64}
work=$PWD/build/bench-payload
outputs=$work/outputs-large-$arch
mkdir -p "$work"
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

if [ ! -f "$outputs/images/images.list" ]; then
	t=$(now)
	rm -rf "$outputs"
	tests/fixtures/gen-outputs --arch "$arch" --large "$outputs" > /dev/null
	echo "fixture: generated in $(since "$t") s"
fi
images=$(cat "$outputs"/images/*.list | grep -c .)
size=$(du -sm "$outputs/images" | cut -f1)
echo "fixture: $images images, $size MiB of archives ($outputs)"

# Floor: every archive read once, and decompressed once, as any importer must.
sync
t=$(now); cat "$outputs"/images/*.tar* > /dev/null; echo "floor: read once          $(since "$t") s"
t=$(now); for f in "$outputs"/images/*.tar*; do zcat -f "$f" > /dev/null; done
echo "floor: read + decompress  $(since "$t") s"

# gapbox: the check alone (reads and verifies every blob), then a whole build.
t=$(now)
build/host/gapbox check-outputs "$outputs" --arch "$arch" > "$work/check.log" || { cat "$work/check.log"; exit 1; }
echo "gapbox check-outputs      $(since "$t") s  ($(tail -n 1 "$work/check.log"))"
build/host/gapbox build "profiles/debian12-$arch.yaml" --outputs "$outputs" -o "$work/bench.iso" > "$work/build.log" 2>&1 ||
	{ tail -n 30 "$work/build.log"; exit 1; }
sed -n 's/^gapbox: stage payload *\([0-9.]*\) s$/gapbox pre-fill (payload stage: store + files + squashfs) \1 s/p' "$work/build.log"
grep -o "payload: .*" "$work/build.log" | sed 's/^/gapbox /'
grep -o "peak memory [0-9.]* MiB" "$work/build.log" | sed 's/^/gapbox /'
echo "image: $(du -m "$work/bench.iso" | cut -f1) MiB"
rm -f "$work/bench.iso"

# The load-push way: every archive decompressed and pushed into a running registry.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf "$work/registry" "$work/tmp"
mkdir -p "$work/registry" "$work/tmp"
cat > "$work/registry.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
CONF
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; rm -rf "$work/registry" "$work/tmp"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" > /dev/null && break; sleep 0.1; done
t=$(now)
n=0
while read -r ref; do
	[ -n "$ref" ] || continue
	base=$(echo "$ref" | sed 's@/@_@g; s/:/-/g')
	f=$(ls "$outputs/images/$base".tar* 2>/dev/null | head -n 1)
	name=${ref#*/}
	case $ref in */*) ;; *) name=library/$ref ;; esac
	zcat -f "$f" > "$work/tmp/image.tar"
	if tar tf "$work/tmp/image.tar" index.json > /dev/null 2>&1; then src=oci-archive; else src=docker-archive; fi
	skopeo copy -q --override-arch "$arch" --dest-tls-verify=false "$src:$work/tmp/image.tar" \
		"docker://127.0.0.1:$port/$name" > /dev/null
	n=$((n + 1))
done < <(cat "$outputs"/images/*.list)
echo "load-push: skopeo copy of $n images into a running registry  $(since "$t") s"
