/* NULL-terminated string lists. */
#include "strv.h"

#include <stdarg.h>
#include <stdio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void strv_free(char **l)
{
	if (!l)
		return;
	for (char **p = l; *p; p++)
		free(*p);
	free(l);
}

size_t strv_length(char *const *l)
{
	size_t n = 0;
	while (l && l[n])
		n++;
	return n;
}

int strv_consume(char ***l, char *s)
{
	size_t n = strv_length(*l);
	char **nl;

	if (!s)
		return -ENOMEM;
	nl = realloc(*l, (n + 2) * sizeof(char *));
	if (!nl) {
		free(s);
		return -ENOMEM;
	}
	nl[n] = s;
	nl[n + 1] = NULL;
	*l = nl;
	return 0;
}

int strv_push(char ***l, const char *s)
{
	return strv_consume(l, strdup(s));
}

bool strv_contains(char *const *l, const char *s)
{
	for (; l && *l; l++)
		if (strcmp(*l, s) == 0)
			return true;
	return false;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(char **l)
{
	if (l)
		qsort(l, strv_length(l), sizeof(char *), cmp_strp);
}

int strv_pushf(char ***l, const char *fmt, ...)
{
	char *text;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	return n < 0 ? -ENOMEM : strv_consume(l, text);
}
