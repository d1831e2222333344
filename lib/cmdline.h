/* Kernel command-line tokenizer: splits "foo=\"a b\" bar baz=1" into key/value pairs. */
#pragma once

#include <stddef.h>

/* Longest command line accepted; the kernel's own limit is a few KiB. */
#define CMDLINE_MAX (64 * 1024)

/*
 * Called once per word, left to right. value is NULL for a word without '=' and ""
 * for "key=". Both strings live only for the duration of the call. A negative return
 * stops the parse and is handed back by cmdline_parse().
 */
typedef int (*cmdline_cb_t)(const char *key, const char *value, void *userdata);

/*
 * Splits line at unquoted whitespace, removes double quotes (they only group), and
 * cuts each word at its first '=' into key and value. Words with an empty key are
 * skipped. Returns 0, -E2BIG for a line longer than CMDLINE_MAX, -ENOMEM, or the
 * first negative value returned by cb.
 */
int cmdline_parse(const char *line, cmdline_cb_t cb, void *userdata);

/* Reads a command line file (NULL: /proc/cmdline) into a NUL-terminated string. */
int cmdline_read(const char *path, char **ret_line);
