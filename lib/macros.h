/* Small helpers every part of gapbox shares: cleanup attributes, ownership transfer, sizes. */
#pragma once

#include <errno.h>
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

/* errno as a negative return value, never 0 even if errno was not set. */
static inline int negative_errno(void) { return errno > 0 ? -errno : -EIO; }

#define streq(a, b) (strcmp((a), (b)) == 0)
