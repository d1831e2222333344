/* A set of strings, each with an optional string value and a number: open addressing with
 * linear probing, grown by doubling, never shrunk, with a hard cap on its size. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct hashset_entry {
	char *key;
	char *value; /* NULL when added without one */
	uint64_t num;
};

struct hashset {
	struct hashset_entry *v;
	size_t n, cap;
	size_t max; /* most keys it may hold; 0: HASHSET_MAX_DEFAULT */
};

/* Far above anything gapbox stores (the blobs and links of a payload's registry store). */
#define HASHSET_MAX_DEFAULT (1u << 24)

struct hashset_entry *hashset_get(const struct hashset *s, const char *key);
/* Add KEY with VALUE (copied, may be NULL) and NUM. 1 when added, 0 when KEY was there already
 * (nothing changes), -E2BIG past the cap, -ENOMEM. */
int hashset_add(struct hashset *s, const char *key, const char *value, uint64_t num);
/* Free everything; the set is empty and usable again. */
void hashset_done(struct hashset *s);
