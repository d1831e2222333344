/* Small helpers every part of gapbox shares: cleanup attributes, ownership transfer, sizes. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void gb_freep(void *p) { free(*(void **)p); }
static inline void gb_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void gb_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ _cleanup_(gb_freep)
#define _cleanup_close_ _cleanup_(gb_closep)
#define _cleanup_fclose_ _cleanup_(gb_fclosep)

/* Hand ownership out of a cleanup-managed variable. */
#define TAKE_PTR(p)                                                  \
	({                                                           \
		__typeof__(p) _p_ = (p);                             \
		(p) = NULL;                                          \
		_p_;                                                 \
	})
#define TAKE_FD(fd)                                                  \
	({                                                           \
		int _fd_ = (fd);                                     \
		(fd) = -1;                                           \
		_fd_;                                                \
	})

/* Declare a cleanup helper for a type with a NULL-accepting or NULL-checked destructor. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                      \
	static inline void func##p(type *p)                          \
	{                                                            \
		if (*p)                                              \
			func(*p);                                    \
	}

/* Make room for NEED elements of SIZE bytes in the array *ARRAY whose capacity is *ALLOC,
 * doubling it (sixteen at first) so appends cost O(1) on average. 0, or -ENOMEM with the array
 * unchanged. */
static inline int gb_grow(void *array, size_t *alloc, size_t need, size_t size)
{
	void **p = array, *n;
	size_t cap = *alloc ? *alloc : 16;

	if (need <= *alloc)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > SIZE_MAX / size || !(n = realloc(*p, cap * size)))
		return -ENOMEM;
	*p = n;
	*alloc = cap;
	return 0;
}

/* free() each of the pointers given: FREE_ALL(x->a, x->b, x->c). */
#define FREE_ALL(...) gb_free_all((void *[]){ __VA_ARGS__ }, sizeof((void *[]){ __VA_ARGS__ }) / sizeof(void *))
static inline void gb_free_all(void **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/* Run DONE on each of the N elements of the array V, then free V. */
#define FREE_ARRAY(v, n, done)                                       \
	do {                                                         \
		for (size_t _i_ = 0; _i_ < (n); _i_++)               \
			done(&(v)[_i_]);                             \
		free(v);                                             \
	} while (0)

/* errno as a negative return value, never 0 even if errno was not set. */
static inline int negative_errno(void) { return errno > 0 ? -errno : -EIO; }

#define streq(a, b) (strcmp((a), (b)) == 0)
#define startswith(s, prefix) (strncmp((s), (prefix), strlen(prefix)) == 0)
