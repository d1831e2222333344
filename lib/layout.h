/* Where everything is: on the boot medium, in the initramfs, in the system image, in the payload
 * and under the run folder of the booted system. gapbox build writes these places, gapbox-init
 * and gapbox-firstboot read them, and this header is the one place each name is spelled. */
#pragma once

/* ---- the boot medium (ISO9660; the same file is the USB disk image) ---- */

/* Volume label, the fallback when the volume UUID written at build time is not found. */
#define GB_MEDIUM_LABEL "GAPBOX"
/* Label of the FAT image holding the UEFI loader (GPT partition 2 of the hybrid image). */
#define GB_MEDIUM_ESP_LABEL GB_MEDIUM_LABEL "_EFI"
/* gapbox's own folder on the medium and what is in it, relative to the medium's root. */
#define GB_MEDIUM_DIR "gapbox"
#define GB_MEDIUM_KERNEL GB_MEDIUM_DIR "/vmlinuz"
#define GB_MEDIUM_INITRD GB_MEDIUM_DIR "/initrd.img"
/* The root filesystem, squashfs. */
#define GB_SYSTEM_IMAGE_NAME "system.sfs"
#define GB_MEDIUM_SYSTEM GB_MEDIUM_DIR "/" GB_SYSTEM_IMAGE_NAME
/* The payload as two squashfs images: data that was compressed already goes into the second,
 * made without compression; the initramfs joins them again. */
#define GB_PAYLOAD_IMAGE_NAME "payload.sfs"
#define GB_PAYLOAD_STORED_IMAGE_NAME "payload-stored.sfs"
/* The images gapbox-init mounts, the system first: what gapbox.toram copies and a netboot fetches. */
#define GB_MEDIUM_IMAGES GB_SYSTEM_IMAGE_NAME, GB_PAYLOAD_IMAGE_NAME, GB_PAYLOAD_STORED_IMAGE_NAME
#define GB_MEDIUM_PAYLOAD GB_MEDIUM_DIR "/" GB_PAYLOAD_IMAGE_NAME
#define GB_MEDIUM_PAYLOAD_STORED GB_MEDIUM_DIR "/" GB_PAYLOAD_STORED_IMAGE_NAME
/* Build info, the profile's essentials, every artifact's size and sha256 (gapbox inspect). */
#define GB_MEDIUM_MANIFEST GB_MEDIUM_DIR "/manifest.json"
#define GB_MEDIUM_MANIFEST_FORMAT 1
/* Its signature (gapbox build --sign): lib/manifestsig.h. */
#define GB_MEDIUM_MANIFEST_SIG GB_MEDIUM_MANIFEST ".sig"
/* GRUB's folder (its prefix) and the menu in it. */
#define GB_MEDIUM_GRUB_DIR "boot/grub"
#define GB_MEDIUM_GRUB_CFG GB_MEDIUM_GRUB_DIR "/grub.cfg"
#define GB_MEDIUM_BIOS_IMAGE GB_MEDIUM_GRUB_DIR "/bios.img"
#define GB_MEDIUM_BOOT_CATALOG "boot/boot.cat"
#define GB_MEDIUM_EFI_DIR "EFI/BOOT"
/* With gapbox build --secure-boot-cert: its certificate (DER) beside shim, to enrol (MokManager). */
#define GB_MEDIUM_SECURE_BOOT_CERT_NAME "gapbox-secure-boot.der"
/* What Debian's signed removable-media GRUB looks for to find its medium (boot.secure_boot). */
#define GB_MEDIUM_DISK_INFO_DIR ".disk"
#define GB_MEDIUM_DISK_INFO GB_MEDIUM_DISK_INFO_DIR "/info"

/* ---- the netboot folder (gapbox netboot, gapbox build --netboot), paths relative to it ---- */

/* The artifacts and the build manifest are at their GB_MEDIUM_* paths, so that the initramfs
 * fetches each as gapbox.fetch's URL + "/" + its path. The boot loaders' files: */
/* iPXE script; kernel and initrd relative to it (over TFTP when it came over TFTP). */
#define GB_NETBOOT_IPXE "boot.ipxe"
/* BIOS pxelinux (amd64): the loader, its library and its config (pxelinux.cfg/ beside it). */
#define GB_NETBOOT_PXELINUX "pxelinux.0"
#define GB_NETBOOT_LDLINUX "ldlinux.c32"
#define GB_NETBOOT_PXELINUX_DIR "pxelinux.cfg"
#define GB_NETBOOT_PXELINUX_CFG GB_NETBOOT_PXELINUX_DIR "/default"
/* UEFI GRUB: the image built for TFTP (its prefix is /GB_NETBOOT_GRUB_DIR on the TFTP server)
 * and the config it reads there. */
#define GB_NETBOOT_GRUB_DIR "grub"
#define GB_NETBOOT_GRUB_CFG GB_NETBOOT_GRUB_DIR "/grub.cfg"
#define GB_NETBOOT_GRUB_EFI_AMD64 "grubnetx64.efi"
#define GB_NETBOOT_GRUB_EFI_ARM64 "grubnetaa64.efi"
/* dnsmasq as proxy-DHCP and TFTP server for the loaders. */
#define GB_NETBOOT_DNSMASQ "dnsmasq.conf.example"
/* The kernel parameter naming the folder's base URL, which gapbox-init fetches from. */
#define GB_NETBOOT_PARAM_FETCH "gapbox.fetch"
/* The longest base URL gapbox writes into the loaders' configs (gapbox-init's own cap). */
#define GB_NETBOOT_URL_MAX 1024

/* ---- the data partition behind the image (gapbox write --data, gapbox.persist=) ---- */

/* The label of its ext4 filesystem, which is what finds it, and its GPT partition name. */
#define GB_DATA_LABEL "GAPBOX-DATA"

/* ---- the initramfs (paths relative to its root) ---- */

/* KEY=VALUE settings for gapbox-init (lib/initrdconf.h). */
#define GB_INITRD_CONF "etc/gapbox/initrd.conf"
/* Module paths below lib/modules/<kver>/, one a line, in load order. */
#define GB_INITRD_MODULES "etc/gapbox/modules.load"
/* The public key of a signed build (gapbox build --sign, PEM): the medium's manifest must carry
 * its signature (lib/manifestsig.h). Absent from an unsigned build's initramfs. */
#define GB_INITRD_SIGNING_KEY "etc/gapbox/signing.pub"
/* Where gapbox-init mounts the new root, and what it runs there. */
#define GB_INITRD_SYSROOT "/sysroot"
#define GB_SYSTEM_INIT "/sbin/init"

/* The HTTP client of a netboot (gapbox.fetch=): a dynamically linked program, with its shared
 * libraries and ELF interpreter at their paths in the system image's rootfs (libcurl has no
 * static build in Debian: its GSSAPI libraries have none). */
#define GB_INITRD_FETCH "usr/lib/gapbox/gapbox-fetch"

/* The consoles the kernel writes to (console= on its command line), as the initramfs sees them. */
#define GB_CONSOLES_ACTIVE "/sys/class/tty/console/active"

/* ---- the system image (paths relative to its root) ---- */

#define GB_SYSTEM_INIT_BINARY "usr/lib/gapbox/gapbox-init"
#define GB_SYSTEM_FIRSTBOOT_BINARY "usr/sbin/gapbox-firstboot"
/* named's rndc key: every machine makes its own at boot (firstboot/dns.c), so no image holds one. */
#define GB_SYSTEM_RNDC_KEY "etc/bind/rndc.key"
/* KEY=VALUE lines: GAPBOX_NAME, GAPBOX_ARCH, GAPBOX_VERSION, GAPBOX_BUILD_EPOCH, GAPBOX_KERNEL. */
#define GB_SYSTEM_RELEASE "usr/lib/gapbox/release"

/* ---- the payload (paths relative to its root) ---- */

/* The payload record: what the build put in it and the rules it used (lib/payloadrecord.h). */
#define GB_PAYLOAD_RECORD "gapbox-payload.json"
/* "sha256  path" of every file in the payload, names escaped as GNU sha256sum does (lib/sumsfile.h). */
#define GB_PAYLOAD_SUMS "SHA256SUMS"
/* The pre-filled registry store: the registry's rootdirectory, and distribution's tree in it. */
#define GB_PAYLOAD_REGISTRY "registry"
#define GB_PAYLOAD_REGISTRY_ROOT GB_PAYLOAD_REGISTRY "/docker/registry/v2"
/* What gapbox itself writes at the payload's root: an outputs/ folder may hold none of these
 * names, or its copy would stand in for gapbox's (mksquashfs keeps the first of two equal
 * paths, and outputs/ goes first). */
#define GB_PAYLOAD_RESERVED GB_PAYLOAD_RECORD, GB_PAYLOAD_SUMS, GB_PAYLOAD_REGISTRY
/* The folders of kubespray-offline's outputs/ that nginx serves, each at /NAME/. */
#define GB_PAYLOAD_SERVED_DIRS "files", "images", "pypi", "rpms", "debs"

/* ---- the run folder of the booted system: made by gapbox-init, moved along by switch_root ---- */

#define GB_RUN_DIR "/run/gapbox"
/* The boot medium, read-only. */
#define GB_RUN_MEDIUM GB_RUN_DIR "/medium"
/* The system image, the lower layer of the root. */
#define GB_RUN_SYSTEM GB_RUN_DIR "/system"
/* The payload, the two images joined, read-only; nginx and the registry serve from it. */
#define GB_RUN_PAYLOAD GB_RUN_DIR "/payload"
#define GB_RUN_PAYLOAD_PARTS GB_RUN_DIR "/payload-parts"
/* gapbox.toram: the images copied to RAM. */
#define GB_RUN_TORAM GB_RUN_DIR "/toram"
/* Written by gapbox-init: where the images are mounted from (RAM or the medium) and whether the
 * medium was released; read by gapbox-firstboot for the status (lib/bootrecord.h). */
#define GB_RUN_BOOT_RECORD GB_RUN_DIR "/boot.json"
/* The root overlay's writable layer (upper and work). */
#define GB_RUN_RW GB_RUN_DIR "/rw"
/* The data partition (GAPBOX-DATA), mounted here when state persists; its layout is in
 * lib/persist.h. */
#define GB_RUN_DATA GB_RUN_DIR "/data"
/* What gapbox-init found and did about state (lib/persist.h): KEY=VALUE lines for gapbox-firstboot. */
#define GB_RUN_STATE GB_RUN_DIR "/state"
/* systemd hands back to this program at shutdown (bootup(7)); gapbox-init copies itself there
 * when a data partition is mounted, so that it is unmounted after everything else. */
#define GB_RUN_SHUTDOWN "/run/initramfs/shutdown"
/* Written by gapbox-firstboot: the status, the console banner, what nginx serves at / and
 * /gapbox/, and where rendered configs are checked before they are installed. */
#define GB_RUN_STATUS GB_RUN_DIR "/status.json"
#define GB_RUN_BANNER GB_RUN_DIR "/banner"
#define GB_RUN_WWW GB_RUN_DIR "/www"
#define GB_RUN_NODE_FILES GB_RUN_WWW "/gapbox"
#define GB_RUN_STAGING GB_RUN_DIR "/staging"
