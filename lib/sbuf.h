/* The one growable buffer of gapbox: a hard size cap and a sticky error, so writers append
 * freely and check once at the end (curl's dynbuf, with printf), and readers of files and
 * archive entries stop at the cap. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "macros.h"

/* No rendered file comes near this; the cap only stops a runaway or hostile input. */
#define SBUF_MAX_DEFAULT (4u * 1024 * 1024)
/* How much a reader asks its source for at a time. */
#define SBUF_READ_CHUNK (64u * 1024)

struct sbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;  /* most bytes the text may hold */
	int error;   /* first failure: -ENOMEM or -E2BIG; appends after it are ignored */
};

#define SBUF_INIT { .max = SBUF_MAX_DEFAULT }
/* A buffer that holds at most MAX bytes. */
#define SBUF_INIT_MAX(m) { .max = (m) }

void sbuf_printf(struct sbuf *b, const char *fmt, ...) _printf_(2, 3);
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap) _printf_(2, 0);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putn(struct sbuf *b, const char *s, size_t n);
/* S as HTML or XML text, or as an attribute value in double quotes (NULL: nothing). */
void sbuf_puts_escaped(struct sbuf *b, const char *s);
/* Hand the NUL-terminated text over (never NULL on success: an empty buffer gives "").
 * Returns the sticky error instead when one happened; the buffer is freed either way. */
int sbuf_finish(struct sbuf *b, char **ret, size_t *ret_len);
void sbuf_free(struct sbuf *b);

/* Where a reader gets its bytes: like read(2), a count, 0 at the end, or a negative errno. */
typedef ssize_t (*sbuf_source_t)(void *userdata, void *buf, size_t n);
/* Append everything SOURCE gives until its end. Returns 0, the source's negative errno, or
 * -EFBIG when it has more than the buffer may hold (the cap is b->max); errors stick. */
int sbuf_read_all(struct sbuf *b, sbuf_source_t source, void *userdata);
/* All of SOURCE as a new NUL-terminated text of at most MAX bytes: the one capped whole-input
 * reader (files, archive entries). */
int sbuf_slurp(sbuf_source_t source, void *userdata, size_t max, char **ret, size_t *ret_len);
