/* libarchive glue shared by the builder's readers. */
#include "archiveutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "macros.h"
#include "sbuf.h"

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

int archive_open_tar_file(const char *path, struct archive **ret, char **ret_error)
{
	struct archive *a = archive_read_new();
	if (ret_error)
		*ret_error = NULL;
	if (!a)
		return -ENOMEM;
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		int e = archive_errno(a);
		if (ret_error)
			*ret_error = strdup(archive_error(a));
		archive_read_free(a);
		/* libarchive reports damaged data as EINVAL or -1: say "I/O error", the file is bad. */
		return e == ENOENT || e == EACCES || e == ENOMEM ? -e : -EIO;
	}
	*ret = a;
	return 0;
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
