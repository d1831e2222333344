# shellcheck shell=bash disable=SC2034,SC2054
# Shared by qemu/boot and qemu/site: the QEMU machine for an arch, firmware and medium, and
# the wait for a line on a serial console. Sourced, not run.
#
# The rules every VM here keeps: TCG (GAPBOX_QEMU_KVM=1 opts into KVM where it works), no
# display, the serial console in a file, and user networking only with restrict=on, so a
# guest never has a route out of this machine.

# qemu_machine ARCH FIRMWARE MEDIUM IMAGE WORKDIR [BOOTINDEX]
# Sets QEMU (the binary), QARGS (its arguments without any NIC or serial port) and CONSOLE
# (the kernel's console= value). BOOTINDEX empty leaves the medium without a boot index
# (direct kernel boot brings its own). MEDIUM none attaches nothing (a netboot; IMAGE is not
# read). Returns 64 with a message on a bad argument.
qemu_machine() {
	local arch=$1 firmware=$2 medium=$3 image=$4 work=$5 bootidx=${6-,bootindex=0}
	local accel=tcg cdrom_dev fw vars
	[ "${GAPBOX_QEMU_KVM:-0}" = 1 ] && accel=kvm
	QARGS=(-nodefaults -no-user-config -display none -monitor none -accel "$accel")
	case $arch in
	amd64)
		QEMU=qemu-system-x86_64
		QARGS+=(-M q35)
		CONSOLE=ttyS0,115200
		case $firmware in
		bios) ;;
		uefi)
			cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
			QARGS+=(-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
				-drive "if=pflash,format=raw,file=$work/vars.fd") ;;
		uefi-sb)
			# Secure Boot on, Microsoft's keys enrolled (as on most PCs): OVMF's secboot build
			# keeps its variables in SMM, which q35 must offer.
			cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$work/vars.fd"
			QARGS=("${QARGS[@]/#q35/q35,smm=on}")
			QARGS+=(-global driver=cfi.pflash01,property=secure,value=on
				-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
				-drive "if=pflash,format=raw,file=$work/vars.fd") ;;
		*) echo "qemu: firmware $firmware: expected bios, uefi or uefi-sb" >&2; return 64 ;;
		esac
		cdrom_dev=(-device "ide-cd,drive=medium$bootidx")
		;;
	arm64)
		QEMU=qemu-system-aarch64
		QARGS+=(-M virt -cpu max)
		CONSOLE=ttyAMA0,115200
		case $firmware in
		uefi) fw=AAVMF_CODE.fd vars=AAVMF_VARS.fd ;;
		# Microsoft's keys enrolled, Secure Boot on.
		uefi-sb) fw=AAVMF_CODE.ms.fd vars=AAVMF_VARS.ms.fd ;;
		*) echo "qemu: arm64 boots with uefi or uefi-sb only" >&2; return 64 ;;
		esac
		cp "/usr/share/AAVMF/$vars" "$work/vars.fd"
		QARGS+=(-drive "if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/$fw"
			-drive "if=pflash,format=raw,file=$work/vars.fd")
		cdrom_dev=(-device virtio-scsi-pci,id=scsi0 -device "scsi-cd,bus=scsi0.0,drive=medium$bootidx")
		;;
	*) echo "qemu: arch $arch: expected amd64 or arm64" >&2; return 64 ;;
	esac
	# A site's own Secure Boot certificate, trusted by the firmware's db beside Microsoft's.
	if [ -n "${QEMU_DB_CERT:-}" ]; then
		[ "$firmware" = uefi-sb ] || { echo "qemu: --db-cert needs --firmware uefi-sb" >&2; return 64; }
		"$(dirname "${BASH_SOURCE[0]}")/ovmf-enroll-db" "$work/vars.fd" "$work/vars.fd" "$QEMU_DB_CERT" > /dev/null || return 1
	fi

	case $medium in
	cdrom) QARGS+=(-drive "if=none,id=medium,format=raw,media=cdrom,readonly=on,file=$image" "${cdrom_dev[@]}") ;;
	usb) QARGS+=(-device qemu-xhci,id=xhci -drive "if=none,id=medium,format=raw,snapshot=${MEDIUM_SNAPSHOT:-on},file=$image"
		-device "usb-storage,bus=xhci.0,drive=medium,removable=on$bootidx") ;;
	disk) QARGS+=(-drive "if=none,id=medium,format=raw,snapshot=${MEDIUM_SNAPSHOT:-on},file=$image"
		-device "virtio-blk-pci,drive=medium$bootidx") ;;
	none) ;;
	*) echo "qemu: medium $medium: expected cdrom, usb, disk or none" >&2; return 64 ;;
	esac
}

# The address a netbooted guest reaches the host's HTTP server at (port 80), through guestfwd.
NETBOOT_HTTP_ADDR=10.0.2.100
# The relay QEMU runs for each connection the guest opens to it: a guestfwd to a chardev would
# be one connection for the life of the VM, and a netboot opens many (manifest, images, resumes).
NETBOOT_RELAY=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/netboot/httpd.py

# qemu_bios_sercon WORKDIR: have SeaBIOS copy the text screen to the serial port (its sercon,
# port 0x3f8 given as a little-endian number in fw_cfg), so that what SeaBIOS and the NIC's
# iPXE ROM print reaches the console log, a netboot's only witness before the kernel.
qemu_bios_sercon() {
	printf '\xf8\x03' > "$1/sercon-port"
	QARGS+=(-fw_cfg "name=etc/sercon-port,file=$1/sercon-port")
}

# qemu_netboot_opts DIR BOOTFILE HTTP_PORT: set NETBOOT_OPTS, the suboptions that make a QEMU
# user network (-netdev user,...,restrict=on) a netboot's: QEMU's TFTP server on DIR, BOOTFILE
# named in its DHCP answers, and http://$NETBOOT_HTTP_ADDR/ forwarded to 127.0.0.1:HTTP_PORT on
# the host. Returns 64 with a message when they cannot be passed or DIR lacks BOOTFILE.
qemu_netboot_opts() {
	local dir=$1 bootfile=$2 port=$3
	case $dir$bootfile$NETBOOT_RELAY in
	*,*) echo "qemu: netboot: a comma in $dir, $bootfile or $NETBOOT_RELAY cannot be passed to -netdev" >&2; return 64 ;;
	esac
	[ -d "$dir" ] || { echo "qemu: netboot: folder $dir not found" >&2; return 64; }
	[ -f "$dir/$bootfile" ] || { echo "qemu: netboot: $dir has no boot file $bootfile" >&2; return 64; }
	NETBOOT_OPTS=",tftp=$dir,bootfile=$bootfile,guestfwd=tcp:$NETBOOT_HTTP_ADDR:80-cmd:python3 $NETBOOT_RELAY relay 127.0.0.1:$port"
}

# qemu_netboot_nic DIR BOOTFILE HTTP_PORT [ROM]: add to QARGS the NIC a netboot starts from,
# first in the boot order: user networking with restrict=on (no route out) and NETBOOT_OPTS. A
# virtio NIC: QEMU's ROM for it is iPXE (legacy PXE and x86-64 EFI), which answers first under
# SeaBIOS and OVMF; ROM "none" leaves it out, so that OVMF's own virtio-net and PXE drivers
# boot, as a PC's firmware does. AAVMF always uses its own (the ROM is x86 code).
qemu_netboot_nic() {
	local rom=''
	[ "${4:-}" = none ] && rom=,romfile=
	qemu_netboot_opts "$1" "$2" "$3" || return
	QARGS+=(-netdev "user,id=net0,restrict=on$NETBOOT_OPTS" -device "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,bootindex=0$rom")
}

# qemu_direct_boot IMAGE WORKDIR APPEND: add -kernel/-initrd/-append to QARGS, taking the
# kernel and initrd out of IMAGE; the console= for the arch comes first.
qemu_direct_boot() {
	xorriso -osirrox on -indev "$1" -extract /gapbox/vmlinuz "$2/vmlinuz" \
		-extract /gapbox/initrd.img "$2/initrd.img" >/dev/null 2>&1 ||
		{ echo "qemu: cannot extract the kernel and initrd from $1" >&2; return 1; }
	QARGS+=(-kernel "$2/vmlinuz" -initrd "$2/initrd.img" -append "console=$CONSOLE $3")
}

# qemu_wait WHAT LOG PID TIMEOUT EXPECT [FAIL]: wait until a line of LOG matches EXPECT (0),
# matches FAIL or QEMU (PID) exits (1), or TIMEOUT seconds pass (2). WHAT names what is waited
# for ("arm64 uefi cdrom: the boot probe"). When the wait ends it prints one line saying what
# was waited for and how the wait ended, and sets WAITED (seconds) and WAIT_END (that line).
qemu_wait() {
	local what=$1 log=$2 pid=$3 timeout=$4 expect=$5 fail=${6-} start line rc
	start=$(date +%s)
	while :; do
		WAITED=$(( $(date +%s) - start ))
		if line=$(grep -aEm1 -- "$expect" "$log"); then
			rc=0 WAIT_END="$what: seen after ${WAITED}s: $(printf '%s' "$line" | tr -d '\r')"
		elif [ -n "$fail" ] && line=$(grep -aEm1 -- "$fail" "$log"); then
			rc=1 WAIT_END="$what: failed after ${WAITED}s: $(printf '%s' "$line" | tr -d '\r')"
		elif ! kill -0 "$pid" 2>/dev/null; then
			rc=1 WAIT_END="$what: QEMU exited after ${WAITED}s before /$expect/ appeared"
		elif [ "$WAITED" -ge "$timeout" ]; then
			rc=2 WAIT_END="$what: timed out after ${timeout}s waiting for /$expect/ on the console"
		else
			sleep 1
			continue
		fi
		echo "qemu: $WAIT_END" >&2
		return "$rc"
	done
}

# qemu_wait_file WHAT FILE PID TIMEOUT: wait until FILE exists (0), the program PID that is to
# write it exits (1), or TIMEOUT seconds pass (2); sets WAITED and WAIT_END as qemu_wait does.
qemu_wait_file() {
	local what=$1 file=$2 pid=$3 timeout=$4 start rc
	start=$(date +%s)
	while :; do
		WAITED=$(( $(date +%s) - start ))
		if [ -s "$file" ]; then rc=0 WAIT_END="$what: $file written after ${WAITED}s"
		elif ! kill -0 "$pid" 2>/dev/null; then rc=1 WAIT_END="$what: the program that was to write $file exited"
		elif [ "$WAITED" -ge "$timeout" ]; then rc=2 WAIT_END="$what: $file not written within ${timeout}s"
		else sleep 0.2; continue; fi
		echo "qemu: $WAIT_END" >&2
		return "$rc"
	done
}

# qemu_wait_exit WHAT PID TIMEOUT: wait until QEMU (PID) exits by itself, as it does when the
# guest powers off (0), or TIMEOUT seconds pass (2); sets WAITED and WAIT_END as qemu_wait does.
qemu_wait_exit() {
	local what=$1 pid=$2 timeout=$3 start
	start=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		WAITED=$(( $(date +%s) - start ))
		if [ "$WAITED" -ge "$timeout" ]; then
			WAIT_END="$what: the guest did not power off within ${timeout}s"
			echo "qemu: $WAIT_END" >&2
			return 2
		fi
		sleep 1
	done
	WAITED=$(( $(date +%s) - start ))
	WAIT_END="$what: the guest powered off after ${WAITED}s more"
	echo "qemu: $WAIT_END" >&2
	return 0
}

# qemu_tail LOG TITLE [LINES]: the end of a serial console, for a failure report.
qemu_tail() {
	echo "---- $2: last ${3:-40} lines of $1 ----" >&2
	tail -n "${3:-40}" "$1" | tr -d '\r' >&2
}

# qemu_monitor SOCKET COMMAND: run one command on the human monitor that QEMU serves on the unix
# SOCKET (-monitor unix:SOCKET,server=on,wait=off) and print its answer. Returns 1 when the
# monitor cannot be reached.
qemu_monitor() {
	python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("cannot reach the QEMU monitor on %s: %s" % (sys.argv[1], e))
    sys.exit(1)
def answer():
    buf = b""
    while not buf.endswith(b"(qemu) "):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")
answer()
s.sendall(sys.argv[2].encode() + b"\n")
# The monitor echoes the command line, with terminal escapes, before its answer and prompt.
lines = answer().replace("\r", "").split("\n")[1:]
print("\n".join(l for l in lines if l != "(qemu) ").strip())
EOF
}
