/* Writing a squashfs image: mksquashfs reading a tar stream on its stdin (squashfs-tools 4.5
 * `-tar`), so no tree is ever staged on disk. The one feeder for the root, the payload and
 * anything else the build packs. */
#pragma once

#include <time.h>

#include "spawn.h"

struct archive;
struct progress;
struct feed_sink;

enum squashfs_data {
	SQUASHFS_COMPRESS, /* zstd level 3 */
	SQUASHFS_STORE,    /* data already compressed: stored as is (-noD -noF), metadata still zstd */
};

struct squashfs_feeder {
	struct archive *tar; /* write the entries here (pax, numeric ids) */
	struct gb_child child;
	char *image;
	char *log;
	char *check_dir;     /* where a full disk is looked for when mksquashfs fails */
	struct feed_sink *sink; /* where the stream's bytes go: mksquashfs's stdin, counted */
};

/* Start mksquashfs writing IMAGE (its output goes to LOG). Every timestamp it sets is EPOCH;
 * the root folder is root's, mode 0755 (the tar stream has no "./" entry). Every byte of the
 * stream is added to PROGRESS (may be NULL), which the caller begins and ends. */
int squashfs_feeder_start(const char *image, const char *log, time_t epoch, enum squashfs_data data,
			  struct progress *progress, struct squashfs_feeder *ret);
/* End the stream and wait for mksquashfs. FED is how feeding went: 0, -EPIPE when mksquashfs
 * stopped reading (its log says why), or another negative errno for a failure of our own
 * (already reported: mksquashfs is stopped, the image removed). Returns 0 when the image is
 * complete, else a negative errno, with mksquashfs's failure reported. */
int squashfs_feeder_finish(struct squashfs_feeder *f, int fed);
/* Stop mksquashfs and remove the image (error paths). Accepts a feeder never started. */
void squashfs_feeder_abort(struct squashfs_feeder *f);
