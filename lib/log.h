/* Leveled logging to stderr; *_errno variants format %m from a negative error and return it. */
#pragma once

#include "macros.h"

enum gb_log_level { GB_LOG_ERR = 3, GB_LOG_WARNING = 4, GB_LOG_NOTICE = 5, GB_LOG_INFO = 6, GB_LOG_DEBUG = 7 };

void gb_log_set_level(int level);
int gb_log_get_level(void);
/* Program name printed before each message ("gapbox", "gapbox-init"). */
void gb_log_set_ident(const char *ident);
/* Where messages go; NULL means stderr. */
void gb_log_set_stream(FILE *f);

/* In the initramfs: write messages to every console the kernel lists in ACTIVE
 * (/sys/class/tty/console/active: "ttyS0 tty0"), not only to /dev/console, which is the last
 * console= alone. Returns how many were opened, or a negative errno (messages stay on stderr). */
int gb_log_to_consoles(const char *active);
/* Returns error (negative) unchanged, so callers can write `return log_error_errno(r, ...)`. */
int gb_log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) gb_log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(GB_LOG_ERR, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(GB_LOG_WARNING, (error), __VA_ARGS__)
#define log_debug_errno(error, ...) log_full_errno(GB_LOG_DEBUG, (error), __VA_ARGS__)
#define log_error(...) (void)log_full_errno(GB_LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) (void)log_full_errno(GB_LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(...) (void)log_full_errno(GB_LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...) (void)log_full_errno(GB_LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) (void)log_full_errno(GB_LOG_DEBUG, 0, __VA_ARGS__)
