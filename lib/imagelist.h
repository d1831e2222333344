/* kubespray-offline's image lists (images/NAME.list: images.list, additional-images.list and any
 * the site adds, as load-push-all-images.sh reads them): which they are, how a line is read, and the name and reference it has in the admin's registry. The builder imports
 * the images by these rules and the appliance checks them by the same, so a line means one thing
 * at build time and at boot. */
#pragma once

#include <stddef.h>

/* Where the lists are, relative to the outputs/ folder (and the payload, which keeps its
 * layout). */
#define IMAGE_LIST_DIR "images"
#define IMAGE_LIST_SUFFIX ".list"
/* More lists than this is not an outputs/ folder. */
#define IMAGE_LISTS_MAX 1000
/* A list larger than this, or with more lines, is not one download-all.sh wrote. */
#define IMAGE_LIST_FILE_MAX (16u * 1024 * 1024)
#define IMAGE_LIST_MAX 100000

/* One reference of a list and the line it is on. */
struct image_list_item {
	char *ref;
	unsigned line;
};

/* The lists of the folder DIR ("images/images.list", ...: every regular file under DIR/images/
 * whose name ends in ".list" and does not start with '.'), sorted by name, NULL-terminated; an
 * empty list when there are none. -E2BIG past IMAGE_LISTS_MAX. */
int image_lists_find(const char *dir, char ***ret);

/* The references of the list at PATH: '#' starts a comment anywhere on a line, white space
 * around a reference is dropped, blank lines are skipped. -ENOENT when PATH does not exist,
 * -EFBIG / -E2BIG past the caps. */
int image_list_read(const char *path, struct image_list_item **ret, size_t *ret_n);
void image_list_free(struct image_list_item *v, size_t n);

/* A list line as the admin's registry knows it. */
struct imageref {
	char *ref;        /* as listed, e.g. "quay.io/calico/node:v3.30.5" */
	char *name;       /* repository in the admin's registry: "calico/node" */
	char *reference;  /* tag or digest to ask for: "v3.30.5", "sha256:..." */
};

/* Map REF to its registry name and reference: the push repository (lib/imageref.h, with the
 * registries STRIP stripped besides the built-in ones, NULL-terminated, may be NULL), and the
 * digest when pinned, else the tag, else "latest". -EINVAL for something that is no image
 * reference. */
int imageref_map(const char *ref, char *const *strip, struct imageref *ret);
void imageref_done(struct imageref *r);

/* Read the list at PATH and append the mapped entries to *V (*N of them). Lines that are no
 * reference are skipped and counted in *ret_bad (may be NULL). At most IMAGE_LIST_MAX entries
 * are kept in all. */
int imageref_read_list(const char *path, char *const *strip, struct imageref **v, size_t *n, size_t *ret_bad);
void imageref_free_all(struct imageref *v, size_t n);
