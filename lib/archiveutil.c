/* libarchive glue shared by the builder's readers. */
#include "archiveutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytesize.h"
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

int archive_read_support_safe_filters(struct archive *a)
{
	/* ARCHIVE_WARN means libarchive would run an external program for it: refuse that too. */
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK || archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK || archive_read_support_filter_bzip2(a) != ARCHIVE_OK)
		return -ENOTSUP;
	return 0;
}

const char *archive_compression_refused(const void *buf, size_t n)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *name;
	} magics[] = {
		{ "\x89LZO\0\r\n\x1a\n", 9, "lzop" },
		{ "\x04\x22\x4d\x18", 4, "lz4" },
		{ "\x02\x21\x4c\x18", 4, "lz4 (legacy)" },
		{ "LZIP", 4, "lzip" },
		{ "LRZI", 4, "lrzip" },
		{ "GRZipII", 7, "grzip" },
		{ "\x1f\x9d", 2, "compress (.Z)" },
		{ "7z\xbc\xaf\x27\x1c", 6, "7-zip" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if (n >= magics[i].len && !memcmp(buf, magics[i].magic, magics[i].len))
			return magics[i].name;
	return NULL;
}

int archive_entry_bounded(struct archive *a, struct archive_entry *e, uint64_t max, char **ret_error)
{
	const char *name = archive_entry_pathname(e);
	uint64_t at = (uint64_t)archive_filter_bytes(a, 0);
	uint64_t size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
	char cap[BYTESIZE_MAX];

	if (!name)
		name = "(an entry without a name)";
	if (archive_entry_sparse_count(e) > 0)
		return gb_error(ret_error, -EMEDIUMTYPE,
				"%s: sparse file entry: refused, its holes would become data the archive does not hold", name);
	if (max && (size > max || at > max - size))
		return gb_error(ret_error, -EFBIG,
				"%s: its %llu bytes, %llu bytes into the decompressed archive, pass the cap of %s per archive",
				name, (unsigned long long)size, (unsigned long long)at, bytesize_format(max, cap));
	return 0;
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
	unsigned char head[16];
	ssize_t n = f->seekable ? pread(fd, head, sizeof(head), 0) : 0;
	const char *refused = n > 0 ? archive_compression_refused(head, n) : NULL;
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	e = archive_read_support_safe_filters(a);
	if (refused || e < 0) {
		free(f);
		archive_read_free(a);
		close(fd);
		if (refused)
			return gb_error(ret_error, -EMEDIUMTYPE, "compressed with %s: only gzip, zstd, xz and bzip2 are read "
					"(gapbox never runs an external decompressor)", refused);
		return gb_error(ret_error, e, "this libarchive cannot read gzip, zstd, xz and bzip2 by itself");
	}
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
