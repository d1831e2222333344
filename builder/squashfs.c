/* The mksquashfs feeder. */
#include "squashfs.h"

#include <archive.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiveutil.h"
#include "helper.h"
#include "log.h"
#include "macros.h"
#include "progress.h"

struct feed_sink {
	int fd;
	struct progress *progress;
};

/* libarchive's writer: the stream into mksquashfs's stdin, each byte counted. */
static la_ssize_t feed_write(struct archive *a, void *userdata, const void *buf, size_t len)
{
	struct feed_sink *sink = userdata;
	ssize_t n;

	do
		n = write(sink->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	progress_add(sink->progress, (uint64_t)n);
	return n;
}

static void feeder_free(struct squashfs_feeder *f)
{
	if (f->tar)
		archive_write_free(f->tar);
	free(f->image);
	free(f->log);
	free(f->check_dir);
	free(f->sink);
	*f = (struct squashfs_feeder){ .child = { .pid = -1, .stdin_fd = -1 } };
}

int squashfs_feeder_start(const char *image, const char *log, time_t epoch, enum squashfs_data data,
			  struct progress *progress, struct squashfs_feeder *ret)
{
	struct squashfs_feeder f = { .child = { .pid = -1, .stdin_fd = -1 } };
	_cleanup_free_ char *epoch_env = NULL;
	char *slash;
	int r;

	if (asprintf(&epoch_env, "SOURCE_DATE_EPOCH=%lld", (long long)epoch) < 0 || !(f.image = strdup(image)) || !(f.log = strdup(log)) ||
	    !(f.check_dir = strdup(image))) {
		feeder_free(&f);
		return -ENOMEM;
	}
	slash = strrchr(f.check_dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(f.check_dir, ".");
	/* Already-compressed data would only cost time to compress again. */
	char *compress[] = { "-Xcompression-level", "3", NULL }, *store[] = { "-noD", "-noF", NULL };
	char **level = data == SQUASHFS_STORE ? store : compress;
	char *argv[] = { "mksquashfs", "-", (char *)image, "-tar", "-noappend", "-quiet", "-no-progress", "-comp",
			 "zstd", level[0], level[1], "-root-mode", "0755", "-root-uid", "0", "-root-gid", "0", NULL };
	/* The build's epoch through the environment, not -mkfs-time/-root-time: with -tar, mksquashfs
	 * 4.5.1 ignores -root-time and stamps the root and every folder the stream does not name with
	 * the current time, while SOURCE_DATE_EPOCH sets them all (and clamps later times to it). */
	char *env_add[] = { epoch_env, NULL };

	r = gb_spawn(argv, &(struct gb_spawn_opts){ .log_path = log, .stdin_pipe = true, .env_add = env_add },
		     &f.child);
	if (r < 0) {
		feeder_free(&f);
		return log_error_errno(r, "cannot start mksquashfs for %s: %m", image);
	}
	f.tar = archive_write_new();
	f.sink = malloc(sizeof(*f.sink));
	if (!f.tar || !f.sink) {
		squashfs_feeder_abort(&f);
		return -ENOMEM;
	}
	*f.sink = (struct feed_sink){ .fd = f.child.stdin_fd, .progress = progress };
	archive_write_set_format_pax_restricted(f.tar);
	if (archive_write_open2(f.tar, f.sink, NULL, feed_write, NULL, NULL) != ARCHIVE_OK) {
		r = log_error_errno(-EIO, "cannot stream into mksquashfs for %s: %s", image, archive_error(f.tar));
		squashfs_feeder_abort(&f);
		return r;
	}
	*ret = f;
	return 0;
}

void squashfs_feeder_abort(struct squashfs_feeder *f)
{
	if (f->child.pid > 0) {
		kill(f->child.pid, SIGTERM);
		gb_child_wait(&f->child);
		unlink(f->image);
	}
	feeder_free(f);
}

int squashfs_feeder_finish(struct squashfs_feeder *f, int fed)
{
	int status, r = 0;
	bool closed;

	/* Our own failure: mksquashfs must not finish a half-fed image. */
	if (fed < 0 && fed != -EPIPE) {
		squashfs_feeder_abort(f);
		return fed;
	}
	closed = archive_write_close(f->tar) == ARCHIVE_OK;
	status = gb_child_wait(&f->child);
	f->child.pid = -1;
	if (status != 0) {
		_cleanup_free_ char *what = NULL;

		r = asprintf(&what, "mksquashfs writing %s", f->image) < 0 ? -ENOMEM
									   : helper_failed(what, status, f->log, f->check_dir);
	} else if (fed < 0 || !closed)
		r = log_error_errno(-EIO, "mksquashfs stopped reading the stream for %s", f->image);
	if (r < 0)
		unlink(f->image);
	feeder_free(f);
	return r;
}
