/* Leveled logging shared by the builder, the initramfs init and the first-boot service. */
#include "log.h"

#include <stdarg.h>
#include <string.h>

static int max_level = GB_LOG_INFO;
static const char *ident = "gapbox";
static FILE *stream;

void gb_log_set_level(int level) { max_level = level; }
int gb_log_get_level(void) { return max_level; }
void gb_log_set_ident(const char *i) { ident = i; }
void gb_log_set_stream(FILE *f) { stream = f; }

int gb_log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
	FILE *out = stream ? stream : stderr;
	int saved = errno;
	va_list ap;

	if (level > max_level)
		return error;

	/* %m in fmt expands from errno, so make it the error we were handed. */
	errno = error < 0 ? -error : error;
	if (max_level >= GB_LOG_DEBUG)
		fprintf(out, "%s: (%s:%d) ", ident, file, line);
	else
		fprintf(out, "%s: ", ident);
	if (level == GB_LOG_ERR)
		fputs("error: ", out);
	else if (level == GB_LOG_WARNING)
		fputs("warning: ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
	errno = saved;
	return error;
}
