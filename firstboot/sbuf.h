/* A growable text buffer with a hard size cap and a sticky error, so renderers can append
 * freely and check once at the end (curl's dynbuf, with printf). */
#pragma once

#include <stddef.h>

#include "macros.h"

/* No rendered file comes near this; the cap only stops a runaway or hostile input. */
#define SBUF_MAX_DEFAULT (4u * 1024 * 1024)

struct sbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;  /* most bytes the text may hold */
	int error;   /* first failure: -ENOMEM or -E2BIG; appends after it are ignored */
};

#define SBUF_INIT { .max = SBUF_MAX_DEFAULT }

void sbuf_printf(struct sbuf *b, const char *fmt, ...) _printf_(2, 3);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putn(struct sbuf *b, const char *s, size_t n);
/* Hand the NUL-terminated text over (never NULL on success: an empty buffer gives "").
 * Returns the sticky error instead when one happened; the buffer is freed either way. */
int sbuf_finish(struct sbuf *b, char **ret, size_t *ret_len);
void sbuf_free(struct sbuf *b);
