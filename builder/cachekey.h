/* The content key of a cached rootfs: a hash of everything that changes the tarball. */
#pragma once

#include "sha256.h"

struct rootfs_recipe {
	const char *tool_version;  /* "mmdebstrap 1.3.5" */
	const char *arch;
	const char *suite;
	const char *variant;
	char *const *sources;      /* apt source lines, in the order given to mmdebstrap */
	char *const *packages;     /* order and duplicates do not matter */
	char *const *hooks;        /* hook scripts passed to mmdebstrap, in order */
	const char *epoch;         /* SOURCE_DATE_EPOCH when set (it changes timestamps), else NULL */
	const char *archive;       /* the apt archive's state (archivestate.h): what the sources serve now */
};

int rootfs_cache_key(const struct rootfs_recipe *r, char hex[SHA256_HEX_LEN + 1]);
