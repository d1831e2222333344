#!/bin/bash
# Netboot tests (issue 13): first the test HTTP server itself, checked from the host with curl
# (ranges, a dropped connection that curl -C - resumes, a server that never comes back); then the
# loader paths under QEMU, each from the NIC with no medium attached, kernel and initrd over
# QEMU's TFTP, until gapbox-init starts:
#   amd64 BIOS: SeaBIOS, the NIC's iPXE ROM, boot.ipxe;
#   amd64 UEFI: OVMF, the NIC's iPXE EFI ROM, boot.ipxe, and the same ROM starting GRUB
#               (grubnetx64.efi, grub/grub.cfg); OVMF's own PXE (no NIC ROM) starting GRUB;
#               also boot.ipxe taking kernel and initrd over HTTP from this suite's server on
#               the host's 127.0.0.1, through guestfwd;
#   arm64 UEFI: AAVMF's own PXE on virtio-net starting GRUB (grubnetaa64.efi, grub/grub.cfg).
# ARCH=amd64|arm64 (default amd64). GAPBOX_NETBOOT_IMAGE=ISO takes the kernel and initrd from
# that image instead of building one. GAPBOX_QEMU_LOCK names a lock file each QEMU run takes
# (default /tmp/gapbox-qemu.lock), so that VMs boot one at a time on this machine.
#
# Next step, once `gapbox netboot IMAGE DIR --url URL` (the builder) and gapbox.fetch= (gapbox-init)
# land: the folder comes from gapbox netboot instead of loader_folder below, and the checks under
# "pending" run. Until then they are reported as skipped, never as passed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

arch=${ARCH:-amd64}
work=$PWD/build/test/netboot-$arch
lock=${GAPBOX_QEMU_LOCK:-/tmp/gapbox-qemu.lock}
httpd=tests/netboot/httpd.py
passed=0 failed=0 httpd_pid=''

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
skip() { echo "skip - $1"; }

# httpd_start NAME DIR [httpd.py serve options]: start the test server on DIR, its log in
# $work/NAME-httpd.log; sets httpd_pid and httpd_port. Returns 1 when it does not come up.
httpd_start() {
	local name=$1 dir=$2
	shift 2
	rm -f "$work/$name.port"
	: > "$work/$name-httpd.log"
	python3 "$httpd" serve "$dir" --port-file "$work/$name.port" --log "$work/$name-httpd.log" "$@" &
	httpd_pid=$!
	if ! qemu_wait_file "$name: the test HTTP server's port" "$work/$name.port" "$httpd_pid" 20 2> /dev/null; then
		not_ok "$WAIT_END"
		return 1
	fi
	httpd_port=$(cat "$work/$name.port")
}

httpd_stop() {
	[ -z "$httpd_pid" ] || { kill "$httpd_pid" 2>/dev/null; wait "$httpd_pid" 2>/dev/null; }
	httpd_pid=''
}

# The server, from the host: what it serves, byte for byte, and each fault as curl sees it.
httpd_selftest() {
	local d=$work/selftest url size rc out got t0 t1 elapsed
	rm -rf "$d"
	mkdir -p "$d/root/gapbox"
	head -c 3000000 /dev/urandom > "$d/root/gapbox/system.sfs"
	size=3000000
	httpd_start selftest "$d/root" || return
	url=http://127.0.0.1:$httpd_port/gapbox/system.sfs

	if curl -sSf -o "$d/got" "$url" && cmp -s "$d/got" "$d/root/gapbox/system.sfs"; then
		ok "httpd: GET serves the file byte for byte ($size bytes)"
	else not_ok "httpd: GET $url differs from the file"; fi

	out=$(curl -sSf -I "$url" | tr -d '\r')
	if grep -qx "Content-Length: $size" <<< "$out" && grep -qx 'Accept-Ranges: bytes' <<< "$out" &&
		grep -q 'HEAD /gapbox/system.sfs range=- 200 sent=0$' "$work/selftest-httpd.log"; then
		ok "httpd: HEAD answers Content-Length: $size, Accept-Ranges: bytes, no body"
	else not_ok "httpd: HEAD: $out"; fi

	out=$(curl -sS -r 1000-1999 -D "$d/headers" -o "$d/part" -w '%{http_code}' "$url")
	if [ "$out" = 206 ] && grep -q "^Content-Range: bytes 1000-1999/$size" "$d/headers" &&
		cmp -s "$d/part" <(tail -c +1001 "$d/root/gapbox/system.sfs" | head -c 1000); then
		ok "httpd: Range bytes=1000-1999: 206, Content-Range bytes 1000-1999/$size, those bytes"
	else not_ok "httpd: Range bytes=1000-1999: status $out, $(tr -d '\r' < "$d/headers" | paste -sd' ')"; fi

	out=$(curl -sS -r 2999000- -D "$d/headers" -o "$d/part" -w '%{http_code}' "$url")
	if [ "$out" = 206 ] && grep -q "^Content-Range: bytes 2999000-2999999/$size" "$d/headers" &&
		cmp -s "$d/part" <(tail -c 1000 "$d/root/gapbox/system.sfs"); then
		ok "httpd: Range bytes=2999000-: 206, the last 1000 bytes"
	else not_ok "httpd: Range bytes=2999000-: status $out"; fi

	out=$(curl -sS -r "$size-" -D "$d/headers" -o "$d/part" -w '%{http_code}' "$url")
	if [ "$out" = 416 ] && grep -q "^Content-Range: bytes \*/$size" "$d/headers"; then
		ok "httpd: Range bytes=$size- (at the end): 416, Content-Range bytes */$size"
	else not_ok "httpd: Range bytes=$size-: status $out, expected 416"; fi

	out=$(curl -sS --path-as-is -o /dev/null -w '%{http_code}' "http://127.0.0.1:$httpd_port/../../etc/passwd")
	got=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$httpd_port/gapbox/")
	if [ "$out" = 404 ] && [ "$got" = 404 ]; then ok "httpd: nothing outside its folder, no listings (404)"
	else not_ok "httpd: /../../etc/passwd gave $out, /gapbox/ gave $got; expected 404"; fi

	# What QEMU's guestfwd runs for each connection the guest opens.
	out=$(printf 'HEAD /gapbox/system.sfs HTTP/1.1\r\nHost: 10.0.2.100\r\nConnection: close\r\n\r\n' |
		python3 "$httpd" relay "127.0.0.1:$httpd_port" | tr -d '\r')
	if grep -qx "Content-Length: $size" <<< "$out"; then ok "httpd.py relay: a request through it is answered (as QEMU's guestfwd runs it)"
	else not_ok "httpd.py relay: no answer through it: $out"; fi
	httpd_stop

	# A cut at 1 MiB, once: curl stops short there, and curl -C - fetches the rest from that byte.
	httpd_start cut "$d/root" --cut-after gapbox/system.sfs:1M --rate 8M || return
	url=http://127.0.0.1:$httpd_port/gapbox/system.sfs
	rm -f "$d/got"
	curl -sS -o "$d/got" "$url" 2> "$d/curl.err"
	rc=$?
	got=$(stat -c %s "$d/got" 2>/dev/null || echo 0)
	curl -sS -C - -o "$d/got" "$url" 2>> "$d/curl.err"
	if [ "$rc" = 18 ] && [ "$got" = 1048576 ] && cmp -s "$d/got" "$d/root/gapbox/system.sfs" &&
		grep -q 'range=bytes=1048576- 206 sent=1951424$' "$work/cut-httpd.log"; then
		ok "httpd --cut-after 1M: curl stops at byte $got (exit 18), curl -C - resumes from it (206) to the whole file"
	else not_ok "httpd --cut-after 1M: first curl exit $rc at $got bytes; $(cat "$d/curl.err"); log: $(tail -n 2 "$work/cut-httpd.log")"; fi
	httpd_stop

	# A stop at 1 MiB: curl stops there, the resume gets no answer, the port stays taken.
	httpd_start stop "$d/root" --stop-after gapbox/system.sfs:1M --rate 8M || return
	url=http://127.0.0.1:$httpd_port/gapbox/system.sfs
	rm -f "$d/got"
	curl -sS -o "$d/got" "$url" 2> /dev/null
	rc=$?
	got=$(stat -c %s "$d/got" 2>/dev/null || echo 0)
	curl -sS -m 10 -C - -o "$d/got" "$url" 2> "$d/curl.err"
	out=$?
	if [ "$rc" = 18 ] && [ "$got" = 1048576 ] && [ "$out" = 52 ] &&
		! python3 -c 'import socket,sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$httpd_port" 2>/dev/null; then
		ok "httpd --stop-after 1M: curl stops at byte $got (exit 18), the resume gets an empty reply (exit 52: $(tr -d '\n' < "$d/curl.err")), the port stays bound"
	else not_ok "httpd --stop-after 1M: curl exit $rc at $got bytes, resume exit $out, expected 18 at 1048576 then 52, the port bound"; fi
	httpd_stop

	# --stop-mode hang: the connection is taken and never answered; curl's own timeout ends it.
	httpd_start hang "$d/root" --stop-after gapbox/system.sfs:1M --stop-mode hang || return
	url=http://127.0.0.1:$httpd_port/gapbox/system.sfs
	curl -sS -o /dev/null "$url" 2> /dev/null
	curl -sS -m 3 -r 1048576- -o /dev/null "$url" 2> /dev/null
	out=$?
	if [ "$out" = 28 ]; then ok "httpd --stop-mode hang: after the stop a request is held unanswered (curl -m 3: exit 28)"
	else not_ok "httpd --stop-mode hang: curl exit $out, expected 28 (timeout)"; fi
	httpd_stop

	# Its own speed, unthrottled, to curl on the host: what a guest's fetch is to be set against.
	truncate -s 256M "$d/root/gapbox/big.sfs"
	httpd_start speed "$d/root" || return
	out=$(curl -sSf -o /dev/null -w '%{size_download} %{speed_download}' "http://127.0.0.1:$httpd_port/gapbox/big.sfs")
	if [ "${out%% *}" = 268435456 ]; then ok "httpd: 256 MiB to curl on the host at $(( ${out#* } / 1048576 )) MiB/s"
	else not_ok "httpd: 256 MiB to curl on the host: got ${out%% *} bytes"; fi
	httpd_stop
	rm -f "$d/root/gapbox/big.sfs"

	# --rate: 3000000 bytes at 1 MiB/s take at least 2.5 s.
	httpd_start rate "$d/root" --rate 1M || return
	url=http://127.0.0.1:$httpd_port/gapbox/system.sfs
	t0=$(date +%s%N)
	curl -sSf -o /dev/null "$url"
	t1=$(date +%s%N)
	elapsed=$(( (t1 - t0) / 1000000 ))
	if [ "$elapsed" -ge 2500 ]; then ok "httpd --rate 1M: $size bytes in $elapsed ms"
	else not_ok "httpd --rate 1M: $size bytes in $elapsed ms, expected at least 2500"; fi
	httpd_stop
}

# loader_folder IMAGE DIR: a folder for the loader checks, by hand: the image's kernel and initrd
# at the medium's paths, an iPXE script, a GRUB netboot image and its grub.cfg. The kernel
# command line names gapbox.fetch=http://10.0.2.100/ as a netboot's will; it is not followed yet.
# Next step: `gapbox netboot IMAGE DIR --url http://10.0.2.100/` writes this folder instead.
loader_folder() {
	local image=$1 dir=$2 console=ttyS0,115200 format=x86_64-efi grubnet=grubnetx64.efi
	[ "$arch" = arm64 ] && console=ttyAMA0,115200 format=arm64-efi grubnet=grubnetaa64.efi
	rm -rf "$dir"
	mkdir -p "$dir/gapbox" "$dir/grub"
	xorriso -osirrox on -indev "$image" -extract /gapbox/vmlinuz "$dir/gapbox/vmlinuz" \
		-extract /gapbox/initrd.img "$dir/gapbox/initrd.img" > /dev/null 2>&1 || return 1
	# iPXE: kernel and initrd relative to the script; initrd= lets the EFI stub find the initrd
	# under iPXE's EFI build (the BIOS kernel ignores it).
	cat > "$dir/boot.ipxe" <<EOF
#!ipxe
echo gapbox netboot: iPXE \${version} on \${platform}, \${netX/mac} has \${netX/ip}, next server \${next-server}
kernel gapbox/vmlinuz initrd=initrd.img console=$console gapbox.fetch=http://10.0.2.100/ BOOTIF=01-\${netX/mac:hexhyp} ip=\${netX/ip}:\${next-server}:\${netX/gateway}:\${netX/netmask}
initrd gapbox/initrd.img
echo gapbox netboot: kernel and initrd loaded
boot
EOF
	sed 's|^kernel gapbox/|kernel http://10.0.2.100/gapbox/|; s|^initrd gapbox/|initrd http://10.0.2.100/gapbox/|' \
		"$dir/boot.ipxe" > "$dir/boot-http.ipxe"
	# GRUB: its prefix /grub on the device it came from, (tftp,SERVER).
	grub-mkimage -O "$format" -d "/usr/lib/grub/$format" -p /grub -o "$dir/$grubnet" \
		normal configfile linux echo test net efinet tftp http serial terminal gzio sleep || return 1
	cat > "$dir/grub/grub.cfg" <<EOF
echo "gapbox netboot: GRUB on \${grub_cpu}-\${grub_platform}, root \${root}, MAC \${net_default_mac}, IP \${net_default_ip}, server \${net_default_server}"
linux /gapbox/vmlinuz console=$console gapbox.fetch=http://10.0.2.100/ BOOTIF=01-\${net_default_mac}
initrd /gapbox/initrd.img
echo "gapbox netboot: kernel and initrd loaded"
boot
EOF
}

# loader NAME FIRMWARE BOOTFILE TIMEOUT PROOF... [-- qemu/boot options]: netboot the folder from
# FIRMWARE with BOOTFILE until gapbox-init prints its version line; each PROOF regex must match
# the console, in any order (what shows the path taken).
loader() {
	local name=$1 firmware=$2 bootfile=$3 timeout=$4 proofs=() extra=() p missing='' line
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do proofs+=("$1"); shift; done
	[ $# -gt 0 ] && { shift; extra=("$@"); }
	if flock "$lock" qemu/boot --netboot "$work/folder" --bootfile "$bootfile" --arch "$arch" --firmware "$firmware" \
		--timeout "$timeout" --log "$work/$name.log" --http-log "$work/$name-httpd.log" "${extra[@]}" \
		--expect 'gapbox-init: version' --fail 'Kernel panic' > "$work/$name.out" 2>&1; then
		for p in "${proofs[@]}"; do grep -aEq -- "$p" "$work/$name.log" || missing="$missing /$p/"; done
		line=$(sed -n 's/^qemu\/boot: //p' "$work/$name.out")
		if [ -z "$missing" ]; then ok "netboot $arch $name ($firmware, $bootfile): ${line%%: gapbox-init*}; ${line##*: }"
		else not_ok "netboot $arch $name ($firmware, $bootfile): reached gapbox-init, but the console lacks$missing (console: $work/$name.log)"; fi
	else
		sed 's/^/# /' "$work/$name.out" | tr -d '\r' | tail -n 15
		not_ok "netboot $arch $name ($firmware, $bootfile): gapbox-init did not start (console: $work/$name.log)"
	fi
}

main() {
	local image=${GAPBOX_NETBOOT_IMAGE:-} start fetch='Command line: .*gapbox\.fetch=http://10\.0\.2\.100/ '
	mkdir -p "$work"
	rm -f "$work"/*.log "$work"/*.out
	# shellcheck source=qemu/lib.sh
	. qemu/lib.sh
	trap 'httpd_stop' EXIT

	httpd_selftest

	if [ -z "$image" ]; then
		image=$work/gapbox-netboot-$arch.iso
		rm -rf "$work/outputs"
		tests/fixtures/gen-outputs --arch "$arch" "$work/outputs" > /dev/null
		start=$(date +%s)
		if build/host/gapbox build "profiles/debian12-$arch.yaml" --overlay tests/boot/overlay --outputs "$work/outputs" \
			-o "$image" < /dev/null > "$work/build.log" 2>&1; then
			ok "build ($(( $(date +%s) - start )) s, $(du -m "$image" | cut -f1) MiB)"
		else
			tail -n 20 "$work/build.log"
			not_ok "build profiles/debian12-$arch.yaml (log: $work/build.log)"
		fi
	fi
	if [ -f "$image" ] && loader_folder "$image" "$work/folder"; then
		ok "loader folder from $image: $(find "$work/folder" -type f -printf '%P ' | tr -s ' ')"
		case $arch in
		amd64)
			# iPXE's own lines (SeaBIOS's sercon puts them on the console) show the TFTP path taken.
			loader bios-ipxe bios boot.ipxe 300 'iPXE .* on pcbios' 'gapbox/vmlinuz\.\.\..* ok' 'gapbox/initrd\.img\.\.\..* ok' \
				"$fetch" 'BOOTIF=01-52-54-00-12-34-56'
			loader uefi-ipxe uefi boot.ipxe 300 'iPXE .* on efi' 'gapbox/vmlinuz\.\.\..* ok' 'EFI stub: Loaded initrd' "$fetch"
			loader uefi-grub uefi grubnetx64.efi 300 'grubnetx64\.efi : [0-9]+ bytes \[EFI\]' \
				'GRUB on x86_64-efi, root tftp,10\.0\.2\.2' "$fetch" 'BOOTIF=01-52:54:00:12:34:56'
			# Without the NIC's iPXE ROM: OVMF's own PXE, as a PC's firmware, loads the GRUB image.
			loader uefi-fwpxe-grub uefi grubnetx64.efi 300 'NBP filename is grubnetx64\.efi' \
				'GRUB on x86_64-efi, root tftp,10\.0\.2\.2' "$fetch" -- --firmware-pxe
			loader uefi-ipxe-http uefi boot-http.ipxe 300 'http://10\.0\.2\.100/gapbox/vmlinuz\.\.\..* ok' "$fetch"
			if grep -q "GET /gapbox/vmlinuz range=- 200 sent=$(stat -c %s "$work/folder/gapbox/vmlinuz")\$" "$work/uefi-ipxe-http-httpd.log" &&
				grep -q "GET /gapbox/initrd.img range=- 200 sent=$(stat -c %s "$work/folder/gapbox/initrd.img")\$" "$work/uefi-ipxe-http-httpd.log"; then
				ok "guestfwd: the guest's http://10.0.2.100/ reached the host's server on 127.0.0.1: $(grep -c ' GET ' "$work/uefi-ipxe-http-httpd.log") GETs, whole files"
			else not_ok "guestfwd: the host's server did not serve the kernel and initrd whole: $(tail -n 3 "$work/uefi-ipxe-http-httpd.log")"; fi
			;;
		arm64)
			loader uefi-grub uefi grubnetaa64.efi 600 'NBP filename is grubnetaa64\.efi' 'GRUB on arm64-efi, root tftp,10\.0\.2\.2' \
				"Kernel command line: .*gapbox\\.fetch=http://10\\.0\\.2\\.100/ " 'BOOTIF=01-52:54:00:12:34:56'
			;;
		esac
	else
		not_ok "loader folder: cannot take the kernel and initrd out of ${image} or make the GRUB image"
	fi

	pending
	echo "netboot $arch: $passed passed, $failed failed"
	[ "$failed" = 0 ]
}

# The checks that wait for `gapbox netboot` (builder) and gapbox.fetch= (gapbox-init). Each is
# reported as skipped until it is written; the plan for each:
#  - healthy: the folder from `gapbox netboot $image $work/folder --url http://10.0.2.100/`, its
#    manifest.json byte for byte the ISO's; boot it (amd64: bios boot.ipxe, uefi boot.ipxe and
#    the GRUB image; arm64: uefi GRUB) to the probe's 'GAPBOX-BOOT-TEST: PASS' with the payload;
#    the httpd log shows each manifest artifact fetched whole; amd64 bios then runs qemu/site
#    --admin-netboot with the e2e node, every node check passing. Report power-on to healthy
#    against the same image from a CD (tests/boot's uefi-cdrom time), and the guest's fetch
#    throughput (its console) against curl's on the host to the same server.
#  - faults, each on a copy of the folder (cp -al, then the one file rewritten) or a server
#    option, each expecting gapbox-init's error naming the file and its URL, the rescue shell,
#    and no "mounted" line for the bad image (the messages are gapbox-init's to word):
#      flipped byte  one byte of gapbox/system.sfs XOR 0xff at its middle (folder_flip below);
#      wrong hash    manifest.json's sha256 of gapbox/system.sfs changed (folder_wrong_hash);
#      resume        --cut-after gapbox/system.sfs:(half its size) --rate 4M: the boot reaches
#                    PASS, and the httpd log shows a second request with range=bytes=HALF-;
#      never back    --stop-after gapbox/system.sfs:(half) : error naming the URL after the
#                    fetcher's retries (and --stop-mode hang: its timeout);
#      RAM too small qemu/boot --mem (the images' sum minus 64 MiB): refused before fetching,
#                    naming the sizes.
#  - the console: the ISO's default entry says console=ttyS0,115200 console=tty0, and the last
#    console= is /dev/console, where gapbox-init writes; a netboot folder that copies that line
#    puts gapbox-init's messages on the screen only, not in the serial log these checks read (a
#    CD boot from BIOS shows no "gapbox-init: version" on the serial console either). Either the
#    folder's boot files have a serial-last variant (as the ISO's "serial console" entry) that
#    the tests pick on their copy, or gapbox-init writes to every console in /proc/consoles.
#  - slirp under restrict=on hands out no router and no DNS server (iPXE's ip= then has an empty
#    gateway field): the fetch URL is an address on the guest's own subnet, 10.0.2.100.
pending() {
	local what
	for what in "netboot to a healthy appliance with the payload (amd64 bios/uefi, arm64 uefi)" \
		"netbooted admin + node: the site checks (qemu/site --admin-netboot)" \
		"fault: a flipped byte in the served system.sfs" "fault: a wrong sha256 in the served manifest.json" \
		"fault: a connection cut mid-transfer, resumed" "fault: a server that never comes back" \
		"fault: RAM too small for the images"; do
		skip "$what: needs gapbox netboot (builder) and gapbox.fetch= (gapbox-init), not merged yet"
	done
}

# folder_flip SRC DST PATH: DST a copy of the netboot folder SRC (hard links) in which PATH has
# one byte, at its middle, inverted.
folder_flip() {
	local size
	rm -rf "$2"
	cp -al "$1" "$2" && rm -f "$2/$3" && cp "$1/$3" "$2/$3" || return 1
	size=$(stat -c %s "$2/$3")
	python3 - "$2/$3" $((size / 2)) <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xff]))
EOF
}

# folder_wrong_hash SRC DST PATH: DST a copy of SRC whose gapbox/manifest.json gives PATH a
# sha256 that is not its own (the first hex digit changed).
folder_wrong_hash() {
	rm -rf "$2"
	cp -al "$1" "$2" && rm -f "$2/gapbox/manifest.json" || return 1
	python3 - "$1/gapbox/manifest.json" "$2/gapbox/manifest.json" "$3" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
for a in json.loads(text)["artifacts"]:
    if a["path"] == sys.argv[3]:
        good = a["sha256"]
        bad = ("1" if good[0] != "1" else "2") + good[1:]
        text = text.replace(good, bad, 1)
        break
else:
    sys.exit("%s: no artifact %s" % (sys.argv[1], sys.argv[3]))
open(sys.argv[2], "w").write(text)
EOF
}

main "$@"
