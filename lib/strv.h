/* NULL-terminated string lists. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

void strv_free(char **l);
size_t strv_length(char *const *l);
/* Append a copy of s; returns 0 or -ENOMEM. */
int strv_push(char ***l, const char *s);
/* Append s itself, taking ownership (freed on failure). */
int strv_consume(char ***l, char *s);
/* Append a formatted string; returns 0 or -ENOMEM. */
__attribute__((format(printf, 2, 3))) int strv_pushf(char ***l, const char *fmt, ...);
bool strv_contains(char *const *l, const char *s);
/* Sort in place by strcmp (accepts NULL). */
void strv_sort(char **l);

static inline void strv_freep(char ***l) { strv_free(*l); }
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))
