/* libarchive glue shared by the builder's readers. */
#include "archiveutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "macros.h"
#include "sbuf.h"

void archive_entry_normalize(struct archive_entry *e, const char *path, mode_t mode, time_t mtime)
{
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
	archive_entry_set_mtime(e, mtime, 0);
	archive_entry_set_nlink(e, S_ISDIR(mode) ? 2 : 1);
}

const char *archive_path_relative(const char *name)
{
	for (;;) {
		if (name[0] == '.' && name[1] == '/')
			name += 2;
		else if (name[0] == '/')
			name++;
		else if (streq(name, "."))
			return "";
		else
			return name;
	}
}

const char *archive_error(struct archive *a)
{
	const char *s = a ? archive_error_string(a) : NULL;
	return s ? s : "unknown archive error";
}

/* A file read through libarchive's client callbacks, so it can be opened relative to a folder
 * and is closed with the archive. */
struct file_source {
	int fd;
	bool seekable;
	char buf[64 * 1024];
};

static la_ssize_t file_read(struct archive *a, void *userdata, const void **ret)
{
	struct file_source *f = userdata;

	for (;;) {
		ssize_t n = read(f->fd, f->buf, sizeof(f->buf));
		if (n >= 0) {
			*ret = f->buf;
			return n;
		}
		if (errno != EINTR) {
			archive_set_error(a, errno, "read error: %s", strerror(errno));
			return -1;
		}
	}
}

static la_int64_t file_skip(struct archive *a, void *userdata, la_int64_t request)
{
	struct file_source *f = userdata;

	(void)a;
	/* Zero tells libarchive to read its way past instead. */
	if (!f->seekable || lseek(f->fd, request, SEEK_CUR) < 0)
		return 0;
	return request;
}

static int file_close(struct archive *a, void *userdata)
{
	struct file_source *f = userdata;

	(void)a;
	close(f->fd);
	free(f);
	return ARCHIVE_OK;
}

int archive_open_tar_at(int dirfd, const char *path, struct archive **ret, char **ret_error)
{
	struct archive *a;
	struct file_source *f;
	struct stat st;
	int fd, e;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = -errno;
		return gb_error(ret_error, e, "%s", strerror(-e));
	}
	f = malloc(sizeof(*f));
	a = archive_read_new();
	if (!f || !a) {
		free(f);
		archive_read_free(a);
		close(fd);
		return -ENOMEM;
	}
	*f = (struct file_source){ .fd = fd, .seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) };
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	/* From here on, libarchive closes the file (file_close), even when opening fails. */
	if (archive_read_open2(a, f, NULL, file_read, file_skip, file_close) != ARCHIVE_OK) {
		e = archive_errno(a);
		gb_error(ret_error, -EIO, "%s", archive_error(a));
		archive_read_free(a);
		/* libarchive reports damaged data as EINVAL or -1: say "I/O error", the file is bad. */
		return e == ENOMEM ? -e : -EIO;
	}
	*ret = a;
	return 0;
}

int archive_open_tar_file(const char *path, struct archive **ret, char **ret_error)
{
	return archive_open_tar_at(AT_FDCWD, path, ret, ret_error);
}

static ssize_t entry_source(void *userdata, void *buf, size_t n)
{
	la_ssize_t r = archive_read_data(userdata, buf, n);

	return r < 0 ? -EIO : r;
}

int archive_read_data_alloc(struct archive *a, size_t max, char **ret, size_t *ret_size)
{
	return sbuf_slurp(entry_source, a, max, ret, ret_size);
}

int archive_read_data_to_fd(struct archive *a, int fd)
{
	char buf[1 << 16];
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
		if (n < 0)
			return -EIO;
		if (n == 0)
			return 0;
		int r = write_all(fd, buf, n);
		if (r < 0)
			return r;
	}
}
