/* dm-verity devices over the medium's images, set up with device-mapper's ioctls (no
 * libdevmapper or veritysetup in the initramfs). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buildmanifest.h"

/* A read-only dm-verity device named NAME (e.g. "gapbox-system") over the block devices DATA
 * (the image) and HASH (its hash tree, from offset 0), with V's block count, salt and root hash.
 * Its node, /dev/mapper/NAME, into RET_PATH. A device of that name left by an earlier attempt
 * (a retry after the rescue shell) is removed first. Returns 0 or a negative errno. */
int dm_verity_create(const char *name, dev_t data, dev_t hash, const struct manifest_verity *v, char *ret_path,
		     size_t size);
/* Whether the dm-verity device NAME has met a block that does not match its tree (the
 * target's status "C"): 1 yes, 0 no, or a negative errno. */
int dm_verity_corrupted(const char *name);
