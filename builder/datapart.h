/* The GAPBOX-DATA partition behind the image on a stick: the one already there kept across a
 * new image, or a new one made with its ext4 filesystem. */
#pragma once

#include <stdint.h>

#include "gpt.h"
#include "target.h"

/* Can the data partition FOUND on the target (open as TARGET_FD) stay when the image in
 * IMAGE_FD is written over the target's DISK_SECTORS? Its exact entry from the target's GPT
 * goes into *ret. -ENOENT when the target has no GPT entry at that place, -EEXIST or -ENOSPC
 * when the new image or its table would overlap it; the reason in *ret_error. */
int datapart_plan_keep(int image_fd, uint64_t disk_sectors, int target_fd, const struct target_part *found,
		       struct gpt_partition *ret, char **ret_error);
/* Where a new data partition of SIZE bytes (GPT_SIZE_REST: all the space) goes behind the
 * image in IMAGE_FD on a disk of DISK_SECTORS: its LBAs into *ret. -ENOSPC (with how much room
 * there is in *ret_error) when it does not fit. */
int datapart_plan_make(int image_fd, uint64_t disk_sectors, uint64_t size, struct gpt_partition *ret,
		       char **ret_error);

/* On the freshly written disk FD: put the kept entry P back into the image's table. */
int datapart_keep(int fd, const struct gpt_partition *p, char **ret_error);
/* On the freshly written disk FD: add GAPBOX-DATA of SIZE bytes behind the image. */
int datapart_make(int fd, uint64_t size, struct gpt_partition *ret, char **ret_error);
/* Make the ext4 filesystem labelled GAPBOX-DATA in P on PATH (the whole disk or the disk image
 * file, which nothing may hold open exclusively: mke2fs opens it so), and check that libblkid
 * finds it there. */
int datapart_mkfs(const char *path, const struct gpt_partition *p, char **ret_error);
