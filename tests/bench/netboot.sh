#!/bin/bash
# Netboot benchmark: one image (the boot probe overlay, the fixture payload), booted under QEMU
# from a CD and from the network (its --netboot folder, served by tests/netboot/httpd.py on the
# host's 127.0.0.1), printing the seconds from power-on to a healthy appliance for each, the
# guest's fetch throughput from its console, and the same server's throughput to curl on the host.
#   tests/bench/netboot.sh [amd64|arm64]      (default amd64; amd64 netboots through BIOS iPXE,
#                                              arm64 through AAVMF and GRUB)
# Each QEMU run takes the lock GAPBOX_QEMU_LOCK (default /tmp/gapbox-qemu.lock).
set -euo pipefail
cd "$(dirname "$0")/../.."

bench() {
	local arch=${1:-amd64} work lock=${GAPBOX_QEMU_LOCK:-/tmp/gapbox-qemu.lock} port pid line
	local firmware=bios bootfile=boot.ipxe timeout=600 pass='GAPBOX-BOOT-TEST: PASS' fail='GAPBOX-BOOT-TEST: FAIL|Kernel panic|starting a rescue shell'
	[ "$arch" = arm64 ] && firmware=uefi bootfile=grubnetaa64.efi timeout=1500
	work=$PWD/build/bench-netboot-$arch
	rm -rf "$work"
	mkdir -p "$work"
	tests/fixtures/gen-outputs --arch "$arch" "$work/outputs" > /dev/null
	build/host/gapbox build "profiles/debian12-$arch.yaml" --overlay tests/boot/overlay --outputs "$work/outputs" \
		-o "$work/image.iso" --netboot "$work/folder" --netboot-url http://10.0.2.100/ < /dev/null > "$work/build.log" 2>&1 ||
		{ tail -n 20 "$work/build.log"; exit 1; }

	python3 tests/netboot/httpd.py serve "$work/folder" --port-file "$work/port" --log "$work/httpd.log" &
	pid=$!
	# shellcheck disable=SC2064 # the server's pid, now: the function's locals are gone at exit
	trap "kill $pid 2>/dev/null" EXIT
	for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
	[ -s "$work/port" ] || { echo "the test HTTP server did not start"; exit 1; }
	port=$(cat "$work/port")

	echo "image: $(du -m "$work/image.iso" | cut -f1) MiB, $arch, $(nproc) cores, QEMU TCG"
	line=$(curl -sSf -o /dev/null -w '%{size_download} %{speed_download}' "http://127.0.0.1:$port/gapbox/system.sfs")
	awk -v b="${line%% *}" -v s="${line#* }" 'BEGIN { printf "server to curl on the host: %.0f MiB at %.0f MiB/s\n", b / 1048576, s / 1048576 }'

	flock "$lock" qemu/boot "$work/image.iso" --arch "$arch" --firmware uefi --medium cdrom --timeout "$timeout" \
		--log "$work/cd.log" --expect "$pass" --fail "$fail" > "$work/cd.out" 2>&1 || { cat "$work/cd.out"; exit 1; }
	echo "CD (uefi):            healthy $(grep -o 'seen after [0-9]*s' "$work/cd.out" | sed 's/seen after //') after power-on"
	flock "$lock" qemu/boot --netboot "$work/folder" --bootfile "$bootfile" --arch "$arch" --firmware "$firmware" \
		--http "$port" --timeout "$timeout" --log "$work/net.log" --expect "$pass" --fail "$fail" > "$work/net.out" 2>&1 ||
		{ cat "$work/net.out"; exit 1; }
	echo "network ($firmware, $bootfile): healthy $(grep -o 'seen after [0-9]*s' "$work/net.out" | sed 's/seen after //') after power-on"
	echo "the guest's fetch: $(grep -aom1 'netboot: [0-9]* MiB fetched and checked.*' "$work/net.log" | tr -d '\r')"
}

bench "$@"
