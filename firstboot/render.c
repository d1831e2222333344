/* What the renderers share: the header of every generated file, and running a daemon's own
 * checker on what was rendered. */
#include "render.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "spawn.h"

void render_header(struct sbuf *b, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	sbuf_printf(b, "%s gapbox: ", prefix);
	va_start(ap, fmt);
	sbuf_vprintf(b, fmt, ap);
	va_end(ap);
	sbuf_printf(b, ",\n%s " FB_GENERATED ".\n", prefix);
}

int fb_run_checker(char *const argv[], const char *what, char **ret_error)
{
	char log[] = "/tmp/gapbox-check-XXXXXX";
	_cleanup_free_ char *tail = NULL;
	struct gb_spawn_opts opts = { .log_path = log };
	int fd, r;

	fd = mkstemp(log);
	if (fd < 0)
		return -errno;
	close(fd);
	r = gb_run(argv, &opts);
	tail = gb_log_tail(log, 600);
	unlink(log);
	if (r == 0)
		return 0;
	if (r == 127 && tail && strstr(tail, "cannot execute"))
		return -ENOENT;
	/* One line for the status: the checker's complaint, newlines folded. */
	for (char *nl; tail && (nl = strchr(tail, '\n'));)
		*nl = nl[1] ? ' ' : '\0';
	return gb_error(ret_error, -EINVAL, "%s: %s", what, tail && *tail ? tail : "(no output)");
}

int fb_check_file(const struct fb_files *fs, char *const *staged, const struct fb_checker *c, char **ret_error)
{
	char *argv[ARRAY_SIZE(c->argv) + 1];
	size_t n = 0;

	for (size_t i = 0; i < fs->n; i++) {
		if (!streq(fs->v[i].path, c->path) || !staged[i][0])
			continue;
		for (; c->argv[n]; n++)
			argv[n] = (char *)c->argv[n];
		argv[n++] = staged[i];
		argv[n] = NULL;
		return fb_run_checker(argv, c->what, ret_error);
	}
	return 0;
}
