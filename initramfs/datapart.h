/* gapbox.persist=auto: creating the data partition in the free space after the image on the boot medium. */
#pragma once

#include <stddef.h>

#include "medium.h"

/* The whole disk a block device is on ("sda" for "sda1"; a disk is its own), from sysfs. */
int datapart_disk_of(const char *name, char *buf, size_t size);

/*
 * Adds a GAPBOX-DATA partition (lib/persist.h) behind the image's partitions on the disk MEDIUM
 * is on (the medium may be the image's own partition) and
 * makes an ext4 filesystem on it with the system image's mke2fs (mounted on GB_RUN_SYSTEM). Only
 * when the medium is a writable whole disk with a GPT, at least GB_DATA_MIN_SIZE free after the
 * image, and nothing libblkid recognises (a filesystem, a partition table) in that space.
 * Returns 0 with the new partition's node in DEVICE, or a negative errno with the reason the
 * state stays in RAM in REASON (-ENOSPC, -EROFS, -EEXIST ... are answers, not failures).
 */
int datapart_create(const struct medium_dev *medium, char *device, size_t device_size, char *reason,
		    size_t reason_size);
