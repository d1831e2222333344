/* The device gapbox write writes to: a whole disk, or a disk image file. What it is (sysfs),
 * what it holds (libblkid), what uses it (mounts, swap, holders, loop devices, the running
 * system), and so whether it may be written. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* A partition in the target's partition table, as libblkid reads it. */
struct target_part {
	int partno;
	uint64_t start, size;   /* bytes */
	char *name;             /* the table's name for it (GPT), or NULL */
	char *fstype, *label;   /* the filesystem in it, or NULL */
};

/* A block device of the kernel's that is part of the target: the disk, then its partitions. */
struct target_node {
	dev_t devno;
	char *name;    /* sdb, sdb1 */
	char *sysdir;  /* its folder under /sys/devices */
};

struct target {
	char *path;                      /* as given */
	bool block;                      /* a block device; otherwise a regular file */
	bool exists;                     /* false: a file gapbox write is to make */
	dev_t file_dev;                  /* a regular file: where it is */
	ino_t file_ino;
	struct target_node *nodes;       /* a block device: itself first, then its partitions */
	size_t n_nodes;
	int partition;                   /* above 0: the device is partition N of the disk whole_disk */
	char *whole_disk;                /* /dev/sdb */
	char *vendor, *model;            /* sysfs, or NULL */
	bool removable, usb, read_only;
	unsigned sector_size;            /* logical, of a block device */
	uint64_t size;                   /* bytes */
	int unreadable;                  /* a negative errno: the device cannot be opened to probe it */
	char *pttype;                    /* the partition table libblkid finds ("gpt", "dos"), or NULL */
	char *fstype, *label;            /* a filesystem on the whole device (a gapbox image: iso9660), or NULL */
	struct target_part *parts;
	size_t n_parts;
};

/* Look at PATH without writing to it or opening it exclusively. A file that does not exist is
 * a target too (exists false). 0, or a negative errno with the reason in *ret_error: not a
 * block device or regular file, cannot be read. */
int target_inspect(const char *path, struct target *ret, char **ret_error);
void target_done(struct target *t);

/* What the target is and holds, for the user to see before saying yes: device, model, size,
 * bus, and each partition with its filesystem. */
void target_describe(const struct target *t, FILE *out);

/* Why the target must not be written, one sentence each: in *ret_refusals what nothing
 * overrides (mounted, the running system, swap, holders, a loop device's backing, a partition,
 * read-only, no medium, sector size), in *ret_forceable what --force overrides (a disk neither
 * removable nor on USB). 0 or -ENOMEM. */
int target_check(const struct target *t, char ***ret_refusals, char ***ret_forceable);

/* The partition whose filesystem carries LABEL, or NULL. */
const struct target_part *target_find_label(const struct target *t, const char *label);

/* The holders of the block device whose sysfs folder is SYSDIR (device-mapper, md, bcache):
 * "dm-0 (vg-data)" when device-mapper names it. An empty list when there are none. */
int target_holders(const char *sysdir, char ***ret);
