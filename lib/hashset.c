/* The one hash set of gapbox. */
#include "hashset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"

/* FNV-1a: short keys, no adversary who can choose them to collide cheaply against a table
 * that is only ever as large as the payload. */
static uint64_t hash_string(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct hashset_entry *hashset_get(const struct hashset *s, const char *key)
{
	if (!s->cap)
		return NULL;
	for (size_t i = hash_string(key) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->v[i].key)
			return NULL;
		if (streq(s->v[i].key, key))
			return &s->v[i];
	}
}

static int grow(struct hashset *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024;
	struct hashset_entry *nv = calloc(ncap, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->v[i].key)
			continue;
		j = hash_string(s->v[i].key) & (ncap - 1);
		while (nv[j].key)
			j = (j + 1) & (ncap - 1);
		nv[j] = s->v[i];
	}
	free(s->v);
	s->v = nv;
	s->cap = ncap;
	return 0;
}

int hashset_add(struct hashset *s, const char *key, const char *value, uint64_t num)
{
	struct hashset_entry e = { .num = num };
	size_t i;
	int r;

	if (hashset_get(s, key))
		return 0;
	if (s->n >= (s->max ? s->max : HASHSET_MAX_DEFAULT))
		return -E2BIG;
	/* At most 70 % full, so probes stay short. */
	if ((s->n + 1) * 10 > s->cap * 7 && (r = grow(s)) < 0)
		return r;
	if (!(e.key = strdup(key)) || (value && !(e.value = strdup(value)))) {
		free(e.key);
		return -ENOMEM;
	}
	for (i = hash_string(key) & (s->cap - 1); s->v[i].key; i = (i + 1) & (s->cap - 1))
		;
	s->v[i] = e;
	s->n++;
	return 1;
}

void hashset_done(struct hashset *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		free(s->v[i].key);
		free(s->v[i].value);
	}
	free(s->v);
	*s = (struct hashset){ .max = s->max };
}
