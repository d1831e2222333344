/* Error messages handed up to the caller that understands them: a function that can say what
 * went wrong takes `char **ret_error` and fills it only through these, so every message in
 * gapbox is made the same way and none is parsed back. */
#pragma once

#include <stdarg.h>

#include "macros.h"

/* Format the message into *ret_error and return CODE (a negative errno), so a failing path
 * reads `return gb_error(ret_error, -EINVAL, "%s:%u: expected ...", path, line);`.
 * RET_ERROR may be NULL (the caller only wants the code). Like every ret_ parameter it is only
 * written, never read: the caller frees what it gets. When the message cannot be allocated
 * *ret_error is NULL and CODE is still returned. */
int gb_error(char **ret_error, int code, const char *fmt, ...) _printf_(3, 4);
int gb_error_v(char **ret_error, int code, const char *fmt, va_list ap) _printf_(3, 0);
/* The same, with ": <strerror(CODE)>" at the end: "cannot read /x: No such file or directory". */
int gb_error_errno(char **ret_error, int code, const char *fmt, ...) _printf_(3, 4);
/* Put "PREFIX: " in front of the message in *error (when there is one), for context that only
 * an outer caller knows (the archive a reader was reading). Returns 0 or -ENOMEM. */
int gb_error_prefix(char **error, const char *fmt, ...) _printf_(2, 3);
