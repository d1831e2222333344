/* The steps of gapbox-init's boot, from loading modules to switch_root, and what they found. */
#pragma once

#include <stdbool.h>

#include "medium.h"
#include "modules.h"
#include "params.h"

#define GB_RUN_DIR "/run/gapbox"
#define GB_MEDIUM_DIR GB_RUN_DIR "/medium"
#define GB_SYSTEM_DIR GB_RUN_DIR "/system"
#define GB_PAYLOAD_DIR GB_RUN_DIR "/payload"
#define GB_PAYLOAD_PARTS_DIR GB_RUN_DIR "/payload-parts"
#define GB_TORAM_DIR GB_RUN_DIR "/toram"
#define GB_RW_DIR GB_RUN_DIR "/rw"
#define GB_SYSROOT "/sysroot"
#define GB_INIT "/sbin/init"
/* On the medium. */
#define GB_SYSTEM_IMAGE "gapbox/system.sfs"
#define GB_PAYLOAD_IMAGE "gapbox/payload.sfs"
/* The payload's already-compressed files, in an image made without compression. */
#define GB_PAYLOAD_STORED_IMAGE "gapbox/payload-stored.sfs"

struct boot {
	struct init_params params;
	struct modules_result modules;
	struct medium_scan scan;    /* the last pass of the medium search */
	struct medium_dev medium;   /* the medium in use */
};

/* Each step logs one line of progress, or what it looked for and found, and returns a
 * negative errno on failure; it can be run again after a rescue shell. */
int boot_read_params(struct boot *b);
int boot_load_modules(struct boot *b);
int boot_mount_medium(struct boot *b);
int boot_mount_images(struct boot *b);
int boot_mount_root(struct boot *b);

/* Things worth repeating after any failure (modules that did not load). */
void boot_report_failure(const struct boot *b);
