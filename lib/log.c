/* Leveled logging shared by the builder, the initramfs init and the first-boot service. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A line longer than this is cut: messages are one line for people. */
#define LOG_LINE_MAX 4096
#define LOG_CONSOLES_MAX 8

static int max_level = GB_LOG_INFO;
static const char *ident = "gapbox";
static FILE *stream;
static int console_fds[LOG_CONSOLES_MAX];
static size_t n_consoles;

void gb_log_set_level(int level) { max_level = level; }
int gb_log_get_level(void) { return max_level; }
void gb_log_set_ident(const char *i) { ident = i; }
void gb_log_set_stream(FILE *f) { stream = f; }

int gb_log_to_consoles(const char *active)
{
	char names[512], path[64];
	FILE *f = fopen(active, "re");
	int fds[LOG_CONSOLES_MAX];
	size_t n = 0;

	if (!f)
		return -errno;
	if (!fgets(names, sizeof(names), f))
		names[0] = '\0';
	fclose(f);
	for (char *save = NULL, *name = strtok_r(names, " \n", &save); name && n < LOG_CONSOLES_MAX;
	     name = strtok_r(NULL, " \n", &save)) {
		int fd;

		snprintf(path, sizeof(path), "/dev/%.40s", name);
		fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0)
			fds[n++] = fd;
	}
	if (n == 0)
		return -ENOENT;
	for (size_t i = 0; i < n_consoles; i++)
		close(console_fds[i]);
	memcpy(console_fds, fds, n * sizeof(fds[0]));
	n_consoles = n;
	return (int)n;
}

int gb_log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
	FILE *out = stream ? stream : stderr;
	char buf[LOG_LINE_MAX];
	int saved = errno, used;
	va_list ap;

	if (level > max_level)
		return error;

	if (max_level >= GB_LOG_DEBUG)
		used = snprintf(buf, sizeof(buf), "%s: (%s:%d) ", ident, file, line);
	else
		used = snprintf(buf, sizeof(buf), "%s: ", ident);
	if (level == GB_LOG_ERR)
		used += snprintf(buf + used, sizeof(buf) - (size_t)used, "error: ");
	else if (level == GB_LOG_WARNING)
		used += snprintf(buf + used, sizeof(buf) - (size_t)used, "warning: ");
	/* %m in fmt expands from errno, so make it the error we were handed. */
	errno = error < 0 ? -error : error;
	va_start(ap, fmt);
	used += vsnprintf(buf + used, sizeof(buf) - (size_t)used, fmt, ap);
	va_end(ap);
	if (used > (int)sizeof(buf) - 2)
		used = (int)sizeof(buf) - 2;
	buf[used++] = '\n';
	buf[used] = '\0';

	if (n_consoles && !stream) {
		/* Every console the kernel writes to, not only /dev/console (the last console=). */
		for (size_t i = 0; i < n_consoles; i++)
			(void)!write(console_fds[i], buf, (size_t)used);
	} else {
		fputs(buf, out);
		fflush(out);
	}
	errno = saved;
	return error;
}
