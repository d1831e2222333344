/* The one hash set of gapbox. */
#include "hashset.h"

#include <errno.h>
#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"

/* SipHash-2-4 under a key drawn once per process: keys come from hostile input (image list
 * lines, outputs/ names), and with a known hash anyone could make them all collide and every
 * lookup a scan. Nothing iterates a set in hash order, so the key never shows in an output. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                               \
	do {                                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                       \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                          \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                          \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                       \
	} while (0)

static uint64_t hash_key[2];

static void hash_key_init(void)
{
	/* Without randomness the set still works, only without the guarantee. */
	if (getrandom(hash_key, sizeof(hash_key), GRND_NONBLOCK) != sizeof(hash_key))
		hash_key[0] = 0x736f6d6570736575ull ^ (uint64_t)getpid(), hash_key[1] = 0x646f72616e646f6dull;
}

static uint64_t hash_string(const char *s)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	size_t len = strlen(s), i;
	uint64_t v0, v1, v2, v3, m, b = (uint64_t)len << 56;

	pthread_once(&once, hash_key_init);
	v0 = hash_key[0] ^ 0x736f6d6570736575ull;
	v1 = hash_key[1] ^ 0x646f72616e646f6dull;
	v2 = hash_key[0] ^ 0x6c7967656e657261ull;
	v3 = hash_key[1] ^ 0x7465646279746573ull;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, s + i, 8);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t k = 0; i + k < len; k++)
		b |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
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
