/* gapbox.toram: copying the system and payload images into RAM, each checked against the build
 * manifest, so that the boot medium can be released and removed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buildmanifest.h"
#include "params.h"

#define TORAM_MIB (1024ULL * 1024ULL)
/* Room in the tmpfs beyond the images' bytes: their last partial pages and the folder. */
#define TORAM_SLACK (4 * TORAM_MIB)
/*
 * Memory left free beyond the copies, for the running system. After a healthy boot the appliance
 * (systemd, journald, bind, chrony, nginx, the registry, sshd, and what is in its tmpfs folders)
 * holds about 280 MiB that cannot be reclaimed: 275 MiB in the amd64 e2e site, measured by
 * tests/e2e/admin-overlay/usr/local/sbin/gapbox-e2e-eject-check. The root overlay's upper layer,
 * where the registry keeps what is pushed after deployment, is a tmpfs as well and grows with
 * use. 512 MiB is room for both; a machine that has less than that beside the images is better
 * off reading them from the medium.
 */
#define TORAM_RESERVE (512 * TORAM_MIB)

enum toram_verdict {
	TORAM_COPY,          /* copy the images */
	TORAM_NOT_ASKED,     /* gapbox.toram=no */
	TORAM_NOT_REMOVABLE, /* gapbox.toram=auto and the medium is a fixed disk */
	TORAM_TOO_BIG,       /* the images and the reserve do not fit in the memory available */
};

/* The decision, pure: NEED bytes of images (and the tmpfs's slack) against AVAILABLE bytes of
 * memory, of which RESERVE must stay free. */
enum toram_verdict toram_decide(enum init_toram mode, bool removable, uint64_t need, uint64_t available,
				uint64_t reserve);

/* MemAvailable of /proc/meminfo's TEXT, in bytes. -EBADMSG when it has none (kernels before
 * 3.14). */
int toram_parse_meminfo(const char *text, uint64_t *ret_available);

/*
 * Whether the block device DEV (a disk or a partition of one) can be taken out: its disk's
 * sysfs removable flag, a USB transport, or an optical drive. SYS is the sysfs root ("/sys").
 * Writes the disk's name ("sr0", "sda") to RET_NAME and the reason in words ("removable", "on
 * USB", "an optical drive", "a fixed disk") to RET_WHY. Returns 1, 0, or a negative errno when
 * DEV is not in sysfs.
 */
int toram_medium_removable(const char *sys, dev_t dev, char ret_name[static 64], char ret_why[static 32]);

/* The copy's progress over all images, for the console. */
struct toram_progress {
	uint64_t total, done;     /* bytes */
	uint64_t start_ms, last_ms; /* clock_now_ms() at the start and at the last progress line */
};

struct manifest_artifact;

/*
 * Copies SRC_PATH to DST_PATH (created, mode 0400) with read and write through a large buffer,
 * hashing the bytes as they pass, and adds them to P (a progress line every few seconds). The
 * copy must be EXPECT's size and sha256, else -EBADMSG after saying which image and both hashes;
 * DST_PATH is left for the caller to remove. Other failures: a negative errno, said.
 */
int toram_copy_checked(const char *src_path, const char *dst_path, const struct manifest_artifact *expect,
		       struct toram_progress *p);

/* What gapbox.toram did, for the boot record. */
struct toram_result {
	bool copied;        /* the images are in a tmpfs on the RAM folder, checked */
	uint64_t bytes;     /* how much was copied */
	char note[200];     /* when asked but not copied: why, in one line */
};

/*
 * For MODE, decide and copy: the images on the medium mounted on MEDIUM (GB_MEDIUM_DIR/system.sfs
 * and the payload's), with the sizes and sha256 its manifest lists, go into one tmpfs on RAM_DIR,
 * hashed while copied, with progress on the console. Returns 1 when every copy matches the
 * manifest (RAM_DIR then holds them under their names, read-only), 0 when the boot should go on
 * from the medium (not asked, not removable, too little memory, no manifest: said on the
 * console and in RET->note), or a negative errno after saying what is wrong: a copy that does not
 * match the manifest or a read error means the medium is damaged, and nothing is left in RAM.
 * When RAM_DIR is a mount point already (a retry after a rescue shell) its copies are taken.
 * CHECKED: the manifest a signed build's signature check read (empty otherwise, and then the
 * medium's is read here).
 */
int toram_images(enum init_toram mode, const char *medium, const char *ram_dir, const struct manifest *checked,
		 struct toram_result *ret);

/*
 * After the images are mounted: when FROM_RAM, unmount the medium from MEDIUM (nothing refers to
 * it any more) and say that it can be removed; then write the boot record (GB_RUN_BOOT_RECORD)
 * at RECORD_PATH. Never fails: what cannot be done is said, and the boot goes on.
 */
void toram_finish(const struct toram_result *res, bool from_ram, const char *medium, const char *checked,
		  const char *record_path);
