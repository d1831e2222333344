/* The one way gapbox builds an error message for its caller. */
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gb_error_v(char **ret_error, int code, const char *fmt, va_list ap)
{
	if (ret_error && vasprintf(ret_error, fmt, ap) < 0)
		*ret_error = NULL;
	return code;
}

int gb_error(char **ret_error, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gb_error_v(ret_error, code, fmt, ap);
	va_end(ap);
	return code;
}

int gb_error_errno(char **ret_error, int code, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;
	int n;

	if (!ret_error)
		return code;
	va_start(ap, fmt);
	n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*ret_error = NULL;
		return code;
	}
	return gb_error(ret_error, code, "%s: %s", what, strerror(code < 0 ? -code : code));
}

int gb_error_prefix(char **error, const char *fmt, ...)
{
	_cleanup_free_ char *prefix = NULL;
	char *joined;
	va_list ap;
	int n;

	if (!error || !*error)
		return 0;
	va_start(ap, fmt);
	n = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (n < 0 || asprintf(&joined, "%s: %s", prefix, *error) < 0)
		return -ENOMEM;
	free(*error);
	*error = joined;
	return 0;
}
