/* What the renderers share: the header of every generated file, and running a daemon's own
 * checker on what was rendered. */
#include "render.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spawn.h"

void render_header(struct sbuf *b, const char *prefix, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->error = -ENOMEM;
		return;
	}
	sbuf_printf(b, "%s gapbox: %s,\n%s " FB_GENERATED ".\n", prefix, what, prefix);
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
	if (ret_error) {
		char *nl;

		/* One line for the status: the checker's complaint, newlines folded. */
		while (tail && (nl = strchr(tail, '\n')))
			*nl = nl[1] ? ' ' : '\0';
		if (asprintf(ret_error, "%s: %s", what,
			     tail && *tail ? tail : "(no output)") < 0)
			*ret_error = NULL;
	}
	return -EINVAL;
}
