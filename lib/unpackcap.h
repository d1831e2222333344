/* Caps on how many bytes the payload's archives may make gapbox decompress, so that a hostile
 * outputs/ folder (a gzip bomb, a huge or sparse entry) ends in an error naming the archive,
 * the entry and the cap, in bounded time and memory, instead of filling the disk or the day.
 * Set by the profile (payload.max_layer_size, max_image_size, max_unpacked_size) and by gapbox
 * build / check-outputs (--max-layer-size, --max-image-size, --max-unpacked-size). */
#pragma once

#include <stdint.h>

/* A layer of a real image is tens or hundreds of MiB; CUDA and similar layers reach a few GiB
 * decompressed. 16 GiB is well above them and still only minutes of work. */
#define UNPACK_LAYER_MAX_DEFAULT (16ull << 30)
/* One image archive: its tar stream plus its compressed layers decompressed once. Twice the
 * largest layer, room for the rest. */
#define UNPACK_IMAGE_MAX_DEFAULT (32ull << 30)
/* Every image archive of a payload together: kubespray-offline's outputs/ for a cluster holds
 * a few GiB of images, a large site some tens; 256 GiB is more than any disk gapbox builds on
 * would hold for the images alone. */
#define UNPACK_TOTAL_MAX_DEFAULT (256ull << 30)

struct unpack_caps {
	uint64_t layer;  /* bytes of one layer (or any entry of an image archive), decompressed */
	uint64_t image;  /* bytes one image archive decompresses to, its layers included */
	uint64_t total;  /* bytes all image archives of one payload decompress to */
};

#define UNPACK_CAPS_DEFAULT \
	((struct unpack_caps){ UNPACK_LAYER_MAX_DEFAULT, UNPACK_IMAGE_MAX_DEFAULT, UNPACK_TOTAL_MAX_DEFAULT })

/* The caps, and what the archives read so far decompressed to (counted against total). */
struct unpack_budget {
	struct unpack_caps caps;
	uint64_t used;
};
