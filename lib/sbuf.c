/* The capped buffer: append, or read a source into it, then take the text or the first error. */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int reserve(struct sbuf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (b->error)
		return b->error;
	if (!b->max)
		b->max = SBUF_MAX_DEFAULT;
	if (more > b->max - b->len)
		return b->error = -E2BIG;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return b->error = -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void sbuf_putn(struct sbuf *b, const char *s, size_t n)
{
	if (reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_putn(b, s, strlen(s));
}

void sbuf_puts_escaped(struct sbuf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': sbuf_puts(b, "&lt;"); break;
		case '>': sbuf_puts(b, "&gt;"); break;
		case '&': sbuf_puts(b, "&amp;"); break;
		case '"': sbuf_puts(b, "&quot;"); break;
		default: sbuf_putn(b, s, 1);
		}
	}
}

void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	if (b->error)
		return;
	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0) {
		b->error = -EINVAL;
		return;
	}
	if (reserve(b, (size_t)n) < 0)
		return;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

void sbuf_free(struct sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int sbuf_finish(struct sbuf *b, char **ret, size_t *ret_len)
{
	if (b->error) {
		int r = b->error;

		sbuf_free(b);
		return r;
	}
	if (!b->data && reserve(b, 0) < 0) {
		sbuf_free(b);
		return -ENOMEM;
	}
	b->data[b->len] = '\0';
	*ret = b->data;
	if (ret_len)
		*ret_len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return 0;
}

int sbuf_read_all(struct sbuf *b, sbuf_source_t source, void *userdata)
{
	for (;;) {
		size_t room, chunk;
		ssize_t n;
		char probe;

		if (b->error)
			return b->error;
		if (!b->max)
			b->max = SBUF_MAX_DEFAULT;
		room = b->max - b->len;
		if (room == 0) {
			/* Full to the cap: one byte more means the source is too large. */
			n = source(userdata, &probe, 1);
			if (n < 0)
				return b->error = (int)n;
			return n == 0 ? 0 : (b->error = -EFBIG);
		}
		chunk = room < SBUF_READ_CHUNK ? room : SBUF_READ_CHUNK;
		if (reserve(b, chunk) < 0)
			return b->error;
		n = source(userdata, b->data + b->len, chunk);
		if (n < 0)
			return b->error = (int)n;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
}

int sbuf_slurp(sbuf_source_t source, void *userdata, size_t max, char **ret, size_t *ret_len)
{
	struct sbuf b = SBUF_INIT_MAX(max);
	int r = sbuf_read_all(&b, source, userdata);

	if (r < 0) {
		sbuf_free(&b);
		return r;
	}
	return sbuf_finish(&b, ret, ret_len);
}
