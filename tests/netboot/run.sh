#!/bin/bash
# Netboot tests: first the test HTTP server itself, checked from the host with curl (ranges, a
# dropped connection that curl -C - resumes, a server that never comes back, its own speed), and
# gapbox-fetch itself on the host against it (resume, the manifest's size and sha256, caps, 404,
# a server that never comes back; amd64 hosts run the amd64 build); then
# an image built with --netboot, its folder served by that server on the host's 127.0.0.1 (the
# guest's http://10.0.2.100/, through guestfwd), booted under QEMU from the NIC with no medium,
# kernel and initrd over QEMU's TFTP, the images over HTTP:
#   amd64 BIOS: SeaBIOS, the NIC's iPXE ROM, boot.ipxe, to a healthy appliance; the same ROM
#               running pxelinux.0 and pxelinux.cfg/default, to switch_root on the fetched images;
#   amd64 UEFI: OVMF's own PXE (no NIC ROM), the GRUB image, DHCP in the initramfs, to switch_root;
#   amd64 faults, each a BIOS iPXE netboot that must end in the rescue shell with nothing mounted:
#     one flipped byte in the served system.sfs, a wrong sha256 in the served manifest (for a
#     payload image; for system.sfs, whose sha256 is the initramfs's build id), RAM too
#     small, a server that stops mid-transfer and never comes back; and a cut mid-transfer that
#     is resumed (the boot goes on);
#   arm64 UEFI: AAVMF's own PXE on virtio-net, the GRUB image, to switch_root.
# ARCH=amd64|arm64 (default amd64). GAPBOX_QEMU_LOCK names a lock file each QEMU run takes
# (default /tmp/gapbox-qemu.lock), so that VMs boot one at a time on this machine.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

arch=${ARCH:-amd64}
work=$PWD/build/test/netboot-$arch
lock=${GAPBOX_QEMU_LOCK:-/tmp/gapbox-qemu.lock}
httpd=tests/netboot/httpd.py
passed=0 failed=0 httpd_pid=''
pass='GAPBOX-BOOT-TEST: PASS'
fail='GAPBOX-BOOT-TEST: FAIL|Kernel panic|starting a rescue shell'

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
skip() { echo "skip - $1"; }

# httpd_start NAME DIR [httpd.py serve options]: start the test server on DIR, its log in
# $work/NAME-httpd.log; sets httpd_pid and httpd_port. Returns 1 when it does not come up.
httpd_start() {
	local name=$1 dir=$2
	shift 2
	rm -f "$work/$name.port"
	httpd_log=$work/$name-httpd.log
	: > "$httpd_log"
	python3 "$httpd" serve "$dir" --port-file "$work/$name.port" --log "$httpd_log" "$@" &
	httpd_pid=$!
	if ! qemu_wait_file "$name: the test HTTP server's port" "$work/$name.port" "$httpd_pid" 20 2> /dev/null; then
		not_ok "$WAIT_END"
		return 1
	fi
	httpd_port=$(cat "$work/$name.port")
}

# httpd_logged PATTERN: the test server's log ($httpd_log) gets a line matching PATTERN (grep -E)
# within 10 s. It writes a request's line once it has sent the last byte, which the client may
# have read and exited on already; the wait ends at that line, and says so when it does not come.
httpd_logged() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -Eq -- "$1" "$httpd_log" && return 0
		sleep 0.05
	done
	echo "# waited 10 s for /$1/ in $httpd_log: not there" >&2
	return 1
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
		httpd_logged 'range=bytes=1048576- 206 sent=1951424$'; then
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

# gapbox-fetch itself on the host (the amd64 build, which this host runs), against the test server:
# what the initramfs relies on it for, without a boot.
fetch_selftest() {
	local d=$work/fetch fetch=build/amd64/gapbox-fetch size sha url rc
	[ -x "$fetch" ] || { not_ok "gapbox-fetch: $fetch is not built"; return; }
	rm -rf "$d"
	mkdir -p "$d/root/gapbox"
	head -c 5000000 /dev/urandom > "$d/root/gapbox/system.sfs"
	size=5000000 sha=$(sha256sum "$d/root/gapbox/system.sfs" | cut -d' ' -f1)

	httpd_start fetch-cut "$d/root" --cut-after gapbox/system.sfs:2M || return
	url=http://127.0.0.1:$httpd_port/gapbox/system.sfs
	"$fetch" --size "$size" --sha256 "$sha" "$url" "$d/whole" 2> "$d/cut.err"
	rc=$?
	if [ "$rc" = 0 ] && cmp -s "$d/whole" "$d/root/gapbox/system.sfs" && [ "$(stat -c %a "$d/whole")" = 400 ] &&
		grep -q 'resuming in' "$d/cut.err" && httpd_logged 'range=bytes=2097152- 206'; then
		ok "gapbox-fetch: a cut at 2 MiB resumed from that byte (Range), the file whole, checked, mode 0400"
	else not_ok "gapbox-fetch across a cut: exit $rc; $(tail -n 3 "$d/cut.err")"; fi
	"$fetch" --size "$size" --sha256 "$sha" "$url" "$d/whole" 2> "$d/exists.err"
	rc=$?
	if [ "$rc" = 1 ] && grep -q "cannot create $d/whole: File exists" "$d/exists.err"; then ok "gapbox-fetch: an existing file is not overwritten (exit 1)"
	else not_ok "gapbox-fetch onto an existing file: exit $rc, $(cat "$d/exists.err")"; fi
	# Another last digit than the real one (the file is random: its own may be 0).
	local badsha=${sha%?}0
	[ "$badsha" != "$sha" ] || badsha=${sha%?}1
	"$fetch" --size "$size" --sha256 "$badsha" "$url" "$d/badsha" 2> "$d/badsha.err"
	rc=$?
	if [ "$rc" = 2 ] && grep -q "sha256 $sha, but the build manifest says $badsha" "$d/badsha.err"; then ok "gapbox-fetch: another sha256 than the manifest's: exit 2, both named"
	else not_ok "gapbox-fetch with a wrong sha256: exit $rc, $(cat "$d/badsha.err")"; fi
	"$fetch" --size 4000000 "$url" "$d/big" 2> "$d/big.err"
	rc=$?
	if [ "$rc" = 2 ] && grep -q 'sends more than 4000000 bytes, the size the build manifest gives' "$d/big.err"; then ok "gapbox-fetch: more bytes than the manifest's size: stopped there, exit 2"
	else not_ok "gapbox-fetch past --size: exit $rc, $(cat "$d/big.err")"; fi
	"$fetch" --max 1M "$url" "$d/max" 2> "$d/max.err"
	rc=$?
	if [ "$rc" = 5 ] && grep -q 'sends more than 1048576 bytes' "$d/max.err"; then ok "gapbox-fetch --max 1M (a manifest's cap): exit 5"
	else not_ok "gapbox-fetch past --max: exit $rc, $(cat "$d/max.err")"; fi
	"$fetch" --retry-for 5 "http://127.0.0.1:$httpd_port/gapbox/none.sfs" "$d/none" 2> "$d/none.err"
	rc=$?
	if [ "$rc" = 4 ] && grep -q 'none.sfs: The requested URL returned error: 404' "$d/none.err" && ! grep -q retrying "$d/none.err"; then
		ok "gapbox-fetch: 404 is not retried: exit 4, the URL named"
	else not_ok "gapbox-fetch of a missing file: exit $rc, $(cat "$d/none.err")"; fi
	httpd_stop

	httpd_start fetch-stop "$d/root" --stop-after gapbox/system.sfs:2M || return
	"$fetch" --retry-for 3 --size "$size" --sha256 "$sha" "http://127.0.0.1:$httpd_port/gapbox/system.sfs" "$d/stop" 2> "$d/stop.err"
	rc=$?
	if [ "$rc" = 3 ] && grep -q 'no data for 3 s over [0-9]* attempts, 2097152 of 5000000 bytes received: giving up' "$d/stop.err"; then
		ok "gapbox-fetch: a server that never comes back: given up after --retry-for 3 without data, exit 3"
	else not_ok "gapbox-fetch against a stopped server: exit $rc, $(tail -n 2 "$d/stop.err")"; fi
	httpd_stop
}

# netboot NAME DIR FIRMWARE BOOTFILE TIMEOUT EXPECT FAIL [qemu/boot options]: netboot the folder DIR
# (its own test server unless --http is among the options) until EXPECT, failing on FAIL; the
# console in $work/NAME.log, qemu/boot's verdict in $work/NAME.out.
netboot() {
	local name=$1 dir=$2 firmware=$3 bootfile=$4 timeout=$5 expect=$6 fail=$7
	shift 7
	flock "$lock" qemu/boot --netboot "$dir" --bootfile "$bootfile" --arch "$arch" --firmware "$firmware" \
		--timeout "$timeout" --log "$work/$name.log" --http-log "$work/$name-httpd.log" "$@" \
		--expect "$expect" --fail "$fail" > "$work/$name.out" 2>&1
}

verdict() { sed -n 's/^qemu\/boot: //p' "$work/$1.out" | head -n 1; }

# boot_to UNTIL WHAT NAME FIRMWARE BOOTFILE TIMEOUT PROOF... [-- qemu/boot options]: netboot the
# folder until the console shows UNTIL (WHAT says it in the report), with each PROOF regex on the
# console; the fetch's own figures and the server's log must show every image fetched whole.
boot_to() {
	local until=$1 what=$2 name=$3 firmware=$4 bootfile=$5 timeout=$6 proofs=() extra=() p missing='' a path size fetched
	shift 6
	while [ $# -gt 0 ] && [ "$1" != -- ]; do proofs+=("$1"); shift; done
	[ $# -gt 0 ] && { shift; extra=("$@"); }
	if netboot "$name" "$work/folder" "$firmware" "$bootfile" "$timeout" "$until" "$fail" "${extra[@]}"; then
		for p in "${proofs[@]}"; do grep -aEq -- "$p" "$work/$name.log" || missing="$missing /$p/"; done
		for a in $(jq -r '.artifacts[] | select(.path | endswith(".sfs")) | "\(.path)=\(.size)"' "$work/folder/gapbox/manifest.json"); do
			path=${a%=*} size=${a#*=}
			grep -q "GET /$path range=- 200 sent=$size\$" "$work/$name-httpd.log" || missing="$missing $path-fetched-whole"
		done
		fetched=$(grep -aom1 'netboot: [0-9]* MiB fetched and checked in .*' "$work/$name.log" | tr -d '\r')
		[ -n "$fetched" ] || missing="$missing /netboot: ... fetched and checked/"
		if [ -z "$missing" ]; then ok "netboot $arch $name ($firmware, $bootfile) $what: $(verdict "$name" | sed 's/: gapbox login.*//; s/: GAPBOX.*//; s/: gapbox-init: switching root.*//'); $fetched"
		else not_ok "netboot $arch $name: $what, but the console or the server's log lacks$missing (console: $work/$name.log)"; fi
	else
		sed 's/^/# /' "$work/$name.out" | tr -d '\r' | tail -n 15
		not_ok "netboot $arch $name ($firmware, $bootfile): not $what (console: $work/$name.log)"
	fi
}

# healthy NAME FIRMWARE BOOTFILE TIMEOUT PROOF... [-- qemu/boot options]: to the probe's PASS (the
# appliance healthy, the payload verified).
healthy() { boot_to "$pass" "to healthy" "$@"; }

# rooted NAME FIRMWARE BOOTFILE TIMEOUT PROOF... [-- qemu/boot options]: to gapbox-init's switch_root
# onto the fetched images; from there on the boot is the one a medium's is, which the boot
# matrix and the healthy netboot take to the end.
rooted() { boot_to 'switching root' "to switch_root" "$@"; }

# fault NAME WHAT DIR EXPECT [qemu/boot options]: a BIOS iPXE netboot of DIR that must stop with
# EXPECT on the console and the rescue shell, with nothing mounted from the images.
fault() {
	local name=$1 what=$2 dir=$3 expect=$4 err
	shift 4
	if netboot "$name" "$dir" bios boot.ipxe 300 'starting a rescue shell' "$pass|mounted at /run/gapbox/system|switching root|Kernel panic" "$@" &&
		grep -aEq -- "$expect" "$work/$name.log"; then
		err=$(grep -aEom1 -- "$expect.*" "$work/$name.log" | tr -d '\r')
		ok "fault, $what: $err; the rescue shell, nothing mounted"
	else
		sed 's/^/# /' "$work/$name.out" | tr -d '\r' | tail -n 12
		not_ok "fault, $what: expected /$expect/ and the rescue shell, nothing mounted (console: $work/$name.log)"
	fi
}

# folder_params SRC DST PARAMS: DST a copy of the folder SRC whose boot.ipxe adds PARAMS to the
# kernel command line.
folder_params() {
	rm -rf "$2"
	cp -al "$1" "$2" && rm -f "$2/boot.ipxe" || return 1
	sed "s|^kernel gapbox/vmlinuz |kernel gapbox/vmlinuz $3 |" "$1/boot.ipxe" > "$2/boot.ipxe"
}

amd64_checks() {
	local half port size
	# BIOS: SeaBIOS, the NIC's iPXE ROM, boot.ipxe; iPXE hands its lease over (ip=, BOOTIF=).
	healthy bios-ipxe bios boot.ipxe 400 'iPXE \(PCI [0-9a-f:.]+\) starting execution' 'gapbox/initrd\.img\.\.\..* ok' \
		'netboot: eth0 \(52:54:00:12:34:56\) 10\.0\.2\.15/24, from ip=' \
		'Runs: +from the network: http://10\.0\.2\.100/'
	# BIOS through pxelinux (the NIC's iPXE ROM runs it as a PXE boot file): IPAPPEND 3 hands over
	# the lease (ip=) and BOOTIF=.
	rooted bios-pxelinux bios pxelinux.0 400 'PXELINUX [0-9.]+' \
		'netboot: eth0 \(52:54:00:12:34:56\) 10\.0\.2\.15/24, from ip='
	# UEFI: OVMF's own PXE (no NIC ROM) loads the GRUB image, which passes BOOTIF only: DHCP in
	# the initramfs (udhcpc).
	rooted uefi-grub uefi grubnetx64.efi 400 'NBP filename is grubnetx64\.efi' \
		'netboot: asking DHCP on eth0' 'netboot: eth0 \(52:54:00:12:34:56\) 10\.0\.2\.15/24, from DHCP' -- --firmware-pxe

	size=$(stat -c %s "$work/folder/gapbox/system.sfs")
	half=$((size / 2))
	folder_flip "$work/folder" "$work/flip" gapbox/system.sfs
	fault flip "one flipped byte in the served system.sfs" "$work/flip" \
		'gapbox-fetch: error: http://10\.0\.2\.100/gapbox/system\.sfs: sha256 [0-9a-f]{64}, but the build manifest says'
	# A wrong sha256 for a payload image: the fetch refuses the image. For system.sfs the manifest is
	# refused before any image is fetched: its sha256 is the initramfs's build id.
	folder_wrong_hash "$work/folder" "$work/wronghash" gapbox/payload.sfs
	fault wronghash "a wrong sha256 for payload.sfs in the served manifest" "$work/wronghash" \
		'netboot: payload\.sfs from http://10\.0\.2\.100/gapbox/payload\.sfs failed: it is not what the build manifest says'
	folder_wrong_hash "$work/folder" "$work/otherbuild" gapbox/system.sfs
	fault otherbuild "a wrong sha256 for system.sfs in the served manifest" "$work/otherbuild" \
		'netboot: http://10\.0\.2\.100/ is of another build \(its gapbox/system\.sfs has sha256 [0-9a-f]{16}\.\.\., this initramfs is of build [0-9a-f]{16}\)'
	# RAM too small: refused before anything is fetched.
	fault ram "RAM too small" "$work/folder" 'netboot: too little memory: the images need [0-9]+ MiB' --mem 640

	# A cut at half of system.sfs, once: the fetch resumes from there and the boot goes on.
	httpd_start cut "$work/folder" --cut-after "gapbox/system.sfs:$half" || return
	port=$httpd_port
	if netboot resume "$work/folder" bios boot.ipxe 300 'switching root' 'starting a rescue shell|Kernel panic' --http "$port" &&
		grep -q "GET /gapbox/system.sfs range=bytes=$half- 206 sent=$((size - half))\$" "$work/cut-httpd.log" &&
		grep -aq 'system.sfs.*resuming in' "$work/resume.log"; then
		ok "fault, a cut mid-transfer: $(grep -aom1 'gapbox-fetch: warning: .*resuming in.*' "$work/resume.log" | tr -d '\r'); the server's log: range=bytes=$half- 206; $(grep -aom1 'netboot: [0-9]* MiB fetched and checked.*' "$work/resume.log" | tr -d '\r')"
	else
		sed 's/^/# /' "$work/resume.out" | tr -d '\r' | tail -n 12
		not_ok "fault, a cut mid-transfer: expected a resume from byte $half (range=bytes=$half- in $work/cut-httpd.log) and the boot to go on (console: $work/resume.log)"
	fi
	httpd_stop

	# A server that stops at half and never comes back: given up after gapbox.timeout=10 s without data.
	folder_params "$work/folder" "$work/short" gapbox.timeout=10
	httpd_start stop "$work/short" --stop-after "gapbox/system.sfs:$half" || return
	fault neverback "a server that never comes back" "$work/short" \
		'gapbox-fetch: error: http://10\.0\.2\.100/gapbox/system\.sfs: .*no data for 10 s over [0-9]+ attempts, [0-9]+ of [0-9]+ bytes received: giving up' \
		--http "$httpd_port"
	httpd_stop

	# A signed build's folder: a served manifest without its signature, or changed, is refused
	# before any image is fetched.
	if build/host/gapbox build profiles/debian12-amd64.yaml --overlay tests/boot/overlay --outputs "$work/outputs" \
		-o "$work/gapbox-netboot-signed.iso" --netboot "$work/folder-signed" --netboot-url http://10.0.2.100/ --force \
		--sign "$work/site.pem" < /dev/null > "$work/build-signed.log" 2>&1 && [ -s "$work/folder-signed/gapbox/manifest.json.sig" ]; then
		folder_unsigned "$work/folder-signed" "$work/nosig"
		fault nosig "a signed build's folder serving no signature" "$work/nosig" \
			'netboot: this is a signed build, and http://10\.0\.2\.100/ serves no signature of its manifest'
		folder_wrong_hash "$work/folder-signed" "$work/wronghash-signed" gapbox/payload.sfs
		fault wronghash-signed "a signed build's manifest changed on the server" "$work/wronghash-signed" \
			'gapbox\.verify: /run/gapbox/netboot/manifest\.json\.sig: .*the manifest was changed after it was signed'
	else
		tail -n 20 "$work/build-signed.log"
		not_ok "build --sign --netboot: no folder with the manifest's signature (log: $work/build-signed.log)"
	fi
}

main() {
	local start
	mkdir -p "$work"
	rm -f "$work"/*.log "$work"/*.out
	# shellcheck source=qemu/lib.sh
	. qemu/lib.sh
	trap 'httpd_stop' EXIT

	httpd_selftest
	[ "$arch" != "$(dpkg --print-architecture)" ] || fetch_selftest

	rm -rf "$work/outputs"
	tests/fixtures/gen-outputs --arch "$arch" "$work/outputs" > /dev/null
	# amd64's folder is unsigned (its faults are about the images and the manifest's sums; a
	# signed one follows); arm64's is signed, so its netboot checks the served manifest's signature.
	(umask 077 && openssl genpkey -algorithm ed25519 -out "$work/site.pem" 2> /dev/null) || not_ok "openssl genpkey"
	sign=()
	[ "$arch" = arm64 ] && sign=(--sign "$work/site.pem")
	start=$(date +%s)
	if build/host/gapbox build "profiles/debian12-$arch.yaml" --overlay tests/boot/overlay --outputs "$work/outputs" \
		-o "$work/gapbox-netboot-$arch.iso" --netboot "$work/folder" --netboot-url http://10.0.2.100/ --force "${sign[@]}" \
		< /dev/null > "$work/build.log" 2>&1; then
		ok "build with --netboot ($(( $(date +%s) - start )) s): $(find "$work/folder" -type f -printf '%P ' | tr -s ' ')"
	else
		tail -n 20 "$work/build.log"
		not_ok "build profiles/debian12-$arch.yaml --netboot (log: $work/build.log)"
		echo "netboot $arch: $passed passed, $failed failed"
		return 1
	fi

	case $arch in
	amd64) amd64_checks ;;
	arm64)
		# AAVMF's own PXE on virtio-net loads the GRUB image; QEMU's NIC ROMs are x86 code.
		rooted uefi-grub uefi grubnetaa64.efi 1200 'NBP filename is grubnetaa64\.efi' \
			'netboot: eth0 \(52:54:00:12:34:56\) 10\.0\.2\.15/24, from DHCP' \
			'gapbox\.verify: the manifest /run/gapbox/netboot/manifest\.json is signed by the build.s key [0-9a-f]{16}'
		;;
	esac
	echo "netboot $arch: $passed passed, $failed failed"
	[ "$failed" = 0 ]
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

# folder_unsigned SRC DST: DST a copy of SRC without the manifest's signature.
folder_unsigned() {
	rm -rf "$2"
	cp -al "$1" "$2" && rm -f "$2/gapbox/manifest.json.sig"
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
