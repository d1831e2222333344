#!/bin/bash
# Build benchmark: a cold build (empty rootfs cache) and a warm one (cache hit) of a profile,
# printing each stage's time, the total and the image size.
#   tests/bench/build.sh [PROFILE]      (default profiles/debian12-amd64.yaml)
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=${1:-profiles/debian12-amd64.yaml}
work=$PWD/build/bench
cache=$work/cache
rm -rf "$work"
mkdir -p "$work"

run() {
	local label=$1 log=$work/$1.log start end
	start=$(date +%s.%N)
	GAPBOX_CACHE=$cache build/host/gapbox build "$profile" -o "$work/$label.iso" > "$log" 2>&1 < /dev/null ||
		{ cat "$log"; exit 1; }
	end=$(date +%s.%N)
	printf '%-6s' "$label"
	sed -n 's/^gapbox: stage \([a-z]*\) *\([0-9.]*\) s$/\1=\2/p' "$log" | tr '\n' ' '
	awk -v s="$start" -v e="$end" -v m="$(du -m "$work/$label.iso" | cut -f1)" \
		'BEGIN { printf "| total %.1f s | image %s MiB\n", e - s, m }'
}

echo "profile: $profile ($(nproc) cores)"
run cold
run warm
run warm2
rm -rf "$work"
