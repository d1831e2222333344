/* The steps of gapbox-init's boot, from loading modules to switch_root, and what they found. */
#pragma once

#include <stdbool.h>

#include "buildmanifest.h"
#include "layout.h"
#include "medium.h"
#include "modules.h"
#include "netboot.h"
#include "params.h"
#include "state.h"

struct boot {
	struct init_params params;
	struct modules_result modules;
	struct medium_scan scan;    /* the last pass of the medium search */
	struct medium_dev medium;   /* the medium in use */
	struct persist persist;     /* where state lives */
	struct netboot_result net;  /* gapbox.fetch=: what came over the network */
	struct manifest manifest;   /* the medium's build manifest, read once: by the signature check
				       (a signed build) or by gapbox.verify; empty otherwise */
};

/* Each step logs one line of progress, or what it looked for and found, and returns a
 * negative errno on failure; it can be run again after a rescue shell. */
int boot_read_params(struct boot *b);
int boot_load_modules(struct boot *b);
int boot_mount_medium(struct boot *b);
int boot_mount_images(struct boot *b);
int boot_mount_state(struct boot *b);
int boot_mount_root(struct boot *b);
int boot_keep_state(struct boot *b);

/* Things worth repeating after any failure (modules that did not load). */
void boot_report_failure(const struct boot *b);
