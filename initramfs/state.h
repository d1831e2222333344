/* gapbox.persist=: finding (or, with auto, creating) the data partition, checking and mounting it,
 * and keeping the root overlay's upper and the kept paths on it. */
#pragma once

#include <stdbool.h>

#include "medium.h"
#include "params.h"
#include "persist.h"

struct persist {
	struct gb_state_record record; /* what is written to GB_RUN_STATE */
	bool mounted;                  /* the data partition is on GB_RUN_DATA */
	char upper[256], work[256];    /* the root overlay's writable layer, when mounted */
};

/* Finds (or creates) and mounts the data partition per P->persist, the boot medium being MEDIUM.
 * Anything short of a partition that is there but fails its check leaves state in RAM, with the
 * reason in ret->record; that failure is returned (the rescue shell says how to go on). */
int persist_mount(const struct init_params *p, const struct medium_dev *medium, struct persist *ret);

/* After the root overlay is on SYSROOT: the kept paths (lib/persist.h) from the data partition,
 * the state record, and this program as systemd's shutdown helper. MEDIUM (the boot medium's
 * kernel name) is kept from being called removable when the data partition is on its disk. */
int persist_finish(struct persist *s, const char *sysroot, const char *medium);
