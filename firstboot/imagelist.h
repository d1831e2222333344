/* Image references from kubespray-offline's lists, and the name each one has in the admin's
 * registry under kubespray-offline's push rules. */
#pragma once

#include <stddef.h>

struct imageref {
	char *ref;        /* as listed, e.g. "quay.io/calico/node:v3.30.5" */
	char *name;       /* repository in the admin's registry: "calico/node" */
	char *reference;  /* tag or digest to ask for: "v3.30.5", "sha256:..." */
};

/* Map REF to its registry name and reference. A name without '/' gets docker.io/library/; a
 * leading stripped registry (the built-in ones, then EXTRA, NULL-terminated, may be NULL) is
 * removed; other registries keep their host as the first component. A missing tag means
 * "latest"; a digest wins over a tag. Returns 0 or -EINVAL for something that is no image
 * reference. */
int imageref_map(const char *ref, char *const *extra, struct imageref *ret);
void imageref_done(struct imageref *r);

/* Read an images list (one reference a line; blank lines and '#' comments skipped) and append
 * the mapped entries to *V (*N of them). Lines that are no reference are skipped and counted
 * in *ret_bad (may be NULL). At most IMAGEREF_LIST_MAX entries are kept in all. */
#define IMAGEREF_LIST_MAX 100000
int imageref_read_list(const char *path, char *const *extra, struct imageref **v, size_t *n, size_t *ret_bad);
void imageref_free_all(struct imageref *v, size_t n);
