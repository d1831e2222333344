/* The copy loop of gapbox write, its read-back, and their progress lines. */
#include "imagecopy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <time.h>
#include <unistd.h>

#include "bytesize.h"
#include "error.h"
#include "helper.h"
#include "log.h"
#include "macros.h"

/* How often progress is shown: redrawn on a terminal, a new line in a log. */
#define PROGRESS_TTY_MS 250u
#define PROGRESS_LOG_MS 5000u

struct progress {
	const char *what;
	uint64_t total;
	uint64_t start_ms, shown_ms;
	bool tty;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void progress_start(struct progress *p, const char *what, uint64_t total)
{
	*p = (struct progress){ .what = what, .total = total, .start_ms = now_ms(), .tty = isatty(STDERR_FILENO) };
	p->shown_ms = p->start_ms;
}

static void progress_show(struct progress *p, uint64_t done, bool last)
{
	uint64_t now = now_ms(), elapsed = now - p->start_ms;
	char a[BYTESIZE_MAX], b[BYTESIZE_MAX];
	double rate;

	if (!last && now - p->shown_ms < (p->tty ? PROGRESS_TTY_MS : PROGRESS_LOG_MS))
		return;
	p->shown_ms = now;
	rate = elapsed ? (double)done / (1024.0 * 1024.0) / ((double)elapsed / 1000.0) : 0;
	if (p->tty)
		fprintf(stderr, "\r%s: %s of %s (%u%%), %.1f MiB/s%s", p->what, bytesize_human(done, a),
			bytesize_human(p->total, b), p->total ? (unsigned)(done * 100 / p->total) : 100, rate,
			last ? "\n" : "   ");
	else
		log_info("%s: %s of %s (%u%%), %.1f MiB/s%s", p->what, bytesize_human(done, a), bytesize_human(p->total, b),
			 p->total ? (unsigned)(done * 100 / p->total) : 100, rate, last ? ", done" : "");
}

/* A progress line cut off by an error ends before the message. */
static void progress_abort(struct progress *p)
{
	if (p->tty)
		fputc('\n', stderr);
}

static int read_full(int fd, void *buf, size_t size, uint64_t offset, size_t *ret_n)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = pread(fd, (char *)buf + got, size - got, (off_t)(offset + got));
		if (n < 0 && errno == EINTR && !interrupted())
			continue;
		if (n < 0)
			return interrupted() ? -EINTR : negative_errno();
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*ret_n = got;
	return 0;
}

static int write_full(int fd, const void *buf, size_t size, uint64_t offset, size_t *ret_n)
{
	size_t put = 0;
	int r = 0;

	while (put < size) {
		ssize_t n = pwrite(fd, (const char *)buf + put, size - put, (off_t)(offset + put));
		if (n < 0 && errno == EINTR && !interrupted())
			continue;
		if (n < 0) {
			r = interrupted() ? -EINTR : negative_errno();
			break;
		}
		/* A block device takes nothing past its end: that is a full device too. */
		if (n == 0) {
			r = -ENOSPC;
			break;
		}
		put += (size_t)n;
	}
	*ret_n = put;
	return r;
}

static double percent(uint64_t done, uint64_t total)
{
	return total ? 100.0 * (double)done / (double)total : 100.0;
}

int image_copy(int in, const char *in_name, int out, const char *out_name, uint64_t size, const char *what,
	       char hex[static SHA256_HEX_LEN + 1], uint64_t *ret_done, char **ret_error)
{
	struct gb_sha256 *h = gb_sha256_new();
	struct progress p;
	uint64_t done = 0;
	void *buf = NULL;
	char a[BYTESIZE_MAX], b[BYTESIZE_MAX];
	int r = 0;

	*ret_done = 0;
	if (!h || posix_memalign(&buf, IMAGECOPY_ALIGN, IMAGECOPY_CHUNK) != 0) {
		gb_sha256_free(h);
		return -ENOMEM;
	}
	progress_start(&p, what, size);
	while (done < size && r >= 0) {
		size_t want = (size_t)MIN((uint64_t)IMAGECOPY_CHUNK, size - done), n = 0, put = 0;

		if (interrupted()) {
			r = -EINTR;
			break;
		}
		r = read_full(in, buf, want, done, &n);
		if (r >= 0 && n < want)
			r = -EIO;
		if (r < 0) {
			progress_abort(&p);
			if (r != -EINTR)
				gb_error_errno(ret_error, r, "cannot read %s at byte %llu of %llu", in_name,
					       (unsigned long long)(done + n), (unsigned long long)size);
			break;
		}
		gb_sha256_update(h, buf, want);
		r = write_full(out, buf, want, done, &put);
		done += put;
		*ret_done = done;
		if (r < 0) {
			progress_abort(&p);
			if (r == -ENOSPC)
				gb_error(ret_error, r, "%s ran out of space after %s of %s (%.0f%%): No space left on device",
					 out_name, bytesize_human(done, a), bytesize_human(size, b), percent(done, size));
			else if (r != -EINTR)
				gb_error_errno(ret_error, r, "writing %s failed after %s of %s (%.0f%%)", out_name,
					       bytesize_human(done, a), bytesize_human(size, b), percent(done, size));
			break;
		}
		progress_show(&p, done, done == size);
	}
	if (r >= 0)
		gb_sha256_final_hex(h, hex);
	else
		gb_sha256_free(h);
	free(buf);
	return r;
}

int image_readback(int fd, const char *name, uint64_t size, const char *what, char hex[static SHA256_HEX_LEN + 1],
		   char **ret_error)
{
	struct gb_sha256 *h = gb_sha256_new();
	struct progress p;
	uint64_t done = 0;
	void *buf = NULL;
	int r = 0;

	if (!h || posix_memalign(&buf, IMAGECOPY_ALIGN, IMAGECOPY_CHUNK) != 0) {
		gb_sha256_free(h);
		return -ENOMEM;
	}
	progress_start(&p, what, size);
	while (done < size) {
		size_t want = (size_t)MIN((uint64_t)IMAGECOPY_CHUNK, size - done), n = 0;

		r = interrupted() ? -EINTR : read_full(fd, buf, want, done, &n);
		if (r >= 0 && n < want)
			r = -EIO;
		if (r < 0) {
			progress_abort(&p);
			if (r != -EINTR)
				gb_error_errno(ret_error, r, "cannot read %s back at byte %llu of %llu", name,
					       (unsigned long long)done, (unsigned long long)size);
			break;
		}
		gb_sha256_update(h, buf, want);
		done += want;
		progress_show(&p, done, done == size);
	}
	if (r >= 0)
		gb_sha256_final_hex(h, hex);
	else
		gb_sha256_free(h);
	free(buf);
	return r;
}
