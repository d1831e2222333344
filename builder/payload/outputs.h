/* kubespray-offline's outputs/ folder: walking it and checking it before it goes into an image. */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "findings.h"
#include "fsutil.h"

/* One line of an image list: the reference and "images/images.list:LINE". */
struct outputs_image {
	const char *ref;
	char where[64];
};
/* Call fn for every reference of the image lists (lib/imagelist.h: IMAGE_LISTS, read by its
 * rules); an unreadable list is a finding. Returns how many lists there were, or fn's negative
 * return. */
int outputs_foreach_image(const char *dir, struct findings *f,
			  int (*fn)(const struct outputs_image *it, void *userdata), void *userdata);

/* Every check that needs no image content: lists against archives, ELF architecture of
 * files/ (inside their tarballs too), config.sh versions against files/, repo metadata, the
 * PyPI index's links. Images' own content is checked when they are imported. ARCH is the
 * nodes' architecture. Returns 0 (findings in f) or a negative errno when DIR is unusable. */
int outputs_check(const char *dir, const char *arch, char *const *extra_registries, struct findings *f);

/* The archive that holds the image of list line REF, relative to DIR ("images/NAME"), or NULL. */
char *outputs_image_archive(const char *dir, const char *ref);
