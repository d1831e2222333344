/* gapbox write: an image onto a USB stick or a disk image file, the target checked before it
 * is touched and read back after. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gpt.h"

/* The smallest GAPBOX-DATA partition gapbox write makes. */
#define WRITE_DATA_MIN_SIZE (64ull * 1024 * 1024)

struct write_options {
	const char *image;
	const char *device;
	bool yes;           /* write without asking */
	bool force;         /* write to a disk that is neither removable nor on USB; over a GAPBOX-DATA
			       partition that cannot be kept */
	bool data;          /* make a GAPBOX-DATA partition behind the image */
	uint64_t data_size; /* its size in bytes, or GPT_SIZE_REST */
};

/* Check the image and the target, show what the target holds, ask (unless o->yes), write,
 * flush, read back and compare sha256, then keep or make GAPBOX-DATA. 0 only when the image
 * was written and read back equal (and the data partition, if asked for, made); -EINTR when
 * interrupted; -EPERM when the target is refused (nothing written); another negative errno. */
int write_run(const struct write_options *o);
