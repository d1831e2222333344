/* Finding the boot medium: probe block devices with libblkid and pick the one the parameters name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "params.h"

/* More block devices than this on an appliance's boot path are not worth listing. */
#define MEDIUM_SCAN_MAX 64
/* How often the medium search looks again while devices are still showing up. */
#define MEDIUM_POLL_MS 250
/* How long the UUID alone is waited for before a device with the label is taken. */
#define MEDIUM_FALLBACK_GRACE_MS 2000
/* How long a matching whole disk with a partition table waits for its partitions to show up. */
#define MEDIUM_PARTITION_GRACE_MS 3000

struct medium_dev {
	char name[64];    /* kernel name (sr0, sda1) or the path given in gapbox.medium= */
	char path[96];    /* device node, /dev/<name> */
	dev_t rdev;       /* 0 when the node could not be opened */
	bool partition;   /* a partition rather than a whole disk or optical drive */
	bool partitioned; /* a whole disk with a partition table */
	int error;        /* 0 if probed, else the negative errno of open or probe */
	bool no_medium;   /* drive without a disc or card */
	char type[32];    /* "" if no filesystem was recognised */
	char uuid[128];
	char label[128];
};

struct medium_scan {
	struct medium_dev devs[MEDIUM_SCAN_MAX];
	size_t n;
	size_t n_dropped;   /* devices beyond MEDIUM_SCAN_MAX */
	dev_t path_rdev;    /* device number of spec->path, 0 if it does not exist (yet) */
};

struct medium_spec {
	const char *path;   /* non-NULL: exactly this device node */
	const char *uuid;   /* else match the volume UUID ... */
	const char *label;  /* ... or the label: alone, or as fallback for the UUID */
	bool label_fallback; /* the UUID came from initrd.conf, not from the user */
};

/* What the parameters ask for; the strings point into p. */
void medium_spec_from_params(const struct init_params *p, struct medium_spec *ret);

/*
 * One pass over sysfs_block (normally /sys/class/block): opens dev_dir/<name> of each
 * block device (ram, loop, zram and floppy devices skipped) and probes it for a
 * filesystem. If path is set it is probed too, by that name, unless a scanned device
 * already is that node. Per-device failures are recorded in the entries, not returned.
 * Returns 0 or a negative errno if sysfs_block cannot be listed.
 */
int medium_scan(const char *sysfs_block, const char *dev_dir, const char *path, struct medium_scan *ret);

/*
 * The device of scan that spec names: an iso9660 filesystem with the UUID, partitions before
 * whole disks (a hybrid ISO on a stick shows up as both, and only mounting the partition leaves
 * the disk's other partitions mountable); else, if
 * allow_fallback and spec->label_fallback, the same by label. *ret_by_label tells which
 * rule matched. Returns NULL if none.
 */
const struct medium_dev *medium_match(const struct medium_scan *scan, const struct medium_spec *spec, bool allow_fallback,
				      bool *ret_by_label);

/* "sr0 (iso9660 UUID=... LABEL=...), sda (no filesystem), vda (no medium)", cut to size. */
void medium_scan_describe(const struct medium_scan *scan, char *buf, size_t size);

/*
 * Scans every MEDIUM_POLL_MS until spec matches or timeout_ms passed (at least one pass).
 * Fills *ret with the match and *ret_by_label; *ret_scan always holds the last pass and
 * *ret_elapsed_ms the time spent. Returns 0 or -ENOENT (not found), or a scan error.
 */
int medium_wait(const struct medium_spec *spec, unsigned timeout_ms, struct medium_dev *ret, bool *ret_by_label,
		struct medium_scan *ret_scan, uint64_t *ret_elapsed_ms);
