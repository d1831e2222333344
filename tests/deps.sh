#!/bin/bash
# Installs everything gapbox needs to build images for amd64 and arm64 and to run its tests.
# Idempotent: packages already present are left as they are. Needs root and apt.
set -euo pipefail

host_arch=$(dpkg --print-architecture)
foreign=arm64
[ "$host_arch" = arm64 ] && foreign=amd64

packages=(
	# build
	build-essential pkg-config git
	libarchive-dev libyaml-dev libcurl4-openssl-dev libblkid-dev libjansson-dev libssl-dev libcmocka-dev
	# cross-building the target programs (multiarch -dev packages install side by side)
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	"libblkid-dev:$foreign" "libarchive-dev:$foreign" "libyaml-dev:$foreign" "libcurl4-openssl-dev:$foreign"
	"libjansson-dev:$foreign" "libssl-dev:$foreign"
	# image assembly
	mmdebstrap squashfs-tools xorriso mtools dosfstools cpio zstd
	# dm-verity hash trees (veritysetup)
	cryptsetup-bin
	# the kernel image signed with a site's own Secure Boot key (sbsign, under faketime)
	sbsigntool faketime
	# the man page's check (tests/cli)
	groff-base
	grub-common grub-pc-bin grub-efi-amd64-bin grub-efi-arm64-bin
	# the netboot folder: pxelinux.0 and ldlinux.c32 for BIOS network boots
	pxelinux syslinux-common
	# gapbox write: the GAPBOX-DATA filesystem
	e2fsprogs
	# bootstrapping and running foreign-architecture code
	qemu-user-static binfmt-support arch-test
	# boot tests
	qemu-system-x86 qemu-system-arm ovmf qemu-efi-aarch64
	# test tools
	valgrind libcap2-bin fdisk gdisk dmsetup python3 python3-pip python3-venv python3-yaml python3-jinja2 curl shellcheck openssh-client
	# the site dashboard as a person sees it: headless Chromium (tests/e2e/page-check)
	chromium
	# dnsmasq --test reads the netboot folder's example config (dnsmasq-base starts no service)
	dnsmasq-base
	# the real services and clients the payload, first-boot and kubespray tests start on loopback
	# (containerd runs the ansible_in_container image)
	docker-registry skopeo bind9 bind9-utils bind9-dnsutils chrony nginx-light nftables containerd
)
# The cross compiler only exists on amd64 hosts; an arm64 host builds amd64 the same way.
if [ "$host_arch" != amd64 ]; then
	packages=("${packages[@]/gcc-aarch64-linux-gnu/gcc-x86-64-linux-gnu}")
	packages=("${packages[@]/libc6-dev-arm64-cross/libc6-dev-amd64-cross}")
fi

# Bootstrapping a foreign-architecture rootfs runs its maintainer scripts under qemu-user.
binfmt() {
	if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
			echo "deps: cannot mount binfmt_misc: $foreign images cannot be bootstrapped" >&2
	fi
	local emulator=qemu-aarch64
	[ "$foreign" = amd64 ] && emulator=qemu-x86_64
	command -v update-binfmts > /dev/null && update-binfmts --enable "$emulator" 2>/dev/null || true
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	binfmt
	echo "deps: all ${#packages[@]} packages are installed"
	exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx "$foreign"; then
	dpkg --add-architecture "$foreign"
fi
export DEBIAN_FRONTEND=noninteractive
# A third-party source that cannot be reached must not stop us: Debian's own is what we need.
apt-get update || echo "deps: apt-get update reported errors; continuing with the lists it could fetch" >&2
# Services installed for the tests must not start on the build host: chronyd would ask
# public NTP servers, and the others would take well-known ports. Tests start their own.
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
[ "$had_policy" = 1 ] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; }
trap '[ "$had_policy" = 1 ] || rm -f "$policy"' EXIT
apt-get install -y --no-install-recommends "${missing[@]}"
for unit in chrony named bind9 nginx docker-registry; do
	systemctl disable --now "$unit" >/dev/null 2>&1 || true
done
binfmt
echo "deps: installed ${#missing[@]} packages: ${missing[*]}"
