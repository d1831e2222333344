/* Content key of a rootfs recipe. Each field is length-prefixed so that no two different
 * recipes can produce the same byte stream. */
#include "cachekey.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "strv.h"

/* Bumped whenever the way gapbox calls mmdebstrap changes the result. */
#define ROOTFS_RECIPE_VERSION "gapbox-rootfs-2"

static void put(struct gb_sha256 *h, const char *tag, const char *value)
{
	char len[32];
	value = value ? value : "";
	snprintf(len, sizeof(len), ":%zu:", strlen(value));
	gb_sha256_update(h, tag, strlen(tag));
	gb_sha256_update(h, len, strlen(len));
	gb_sha256_update(h, value, strlen(value));
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rootfs_cache_key(const struct rootfs_recipe *r, char hex[SHA256_HEX_LEN + 1])
{
	size_t n = strv_length(r->packages);
	_cleanup_free_ char **sorted = calloc(n + 1, sizeof(char *));
	struct gb_sha256 *h = gb_sha256_new();

	if (!sorted || !h) {
		gb_sha256_free(h);
		return -ENOMEM;
	}
	put(h, "recipe", ROOTFS_RECIPE_VERSION);
	put(h, "tool", r->tool_version);
	put(h, "arch", r->arch);
	put(h, "suite", r->suite);
	put(h, "variant", r->variant);
	put(h, "epoch", r->epoch);
	put(h, "archive", r->archive);
	for (char *const *s = r->sources; s && *s; s++)
		put(h, "source", *s);
	memcpy(sorted, r->packages, n * sizeof(char *));
	if (n)
		qsort(sorted, n, sizeof(char *), cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
			put(h, "package", sorted[i]);
	for (char *const *s = r->hooks; s && *s; s++)
		put(h, "hook", *s);
	gb_sha256_final_hex(h, hex);
	return 0;
}
