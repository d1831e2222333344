/* Filesystem helpers shared by the builder and the services. */
#include "fsutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "macros.h"
#include "sbuf.h"

int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return path_is_dir(p) ? 0 : -ENOTDIR;
}

static ssize_t fd_source(void *userdata, void *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(*(int *)userdata, buf, n);
		if (r >= 0 || errno != EINTR)
			return r < 0 ? -errno : r;
	}
}

int read_fd(int fd, size_t max, char **ret, size_t *ret_size)
{
	return sbuf_slurp(fd_source, &fd, max, ret, ret_size);
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return read_fd(fd, max, ret, ret_size);
}

int write_all(int fd, const void *buf, size_t size)
{
	const char *p = buf;
	while (size > 0) {
		ssize_t r = write(fd, p, size);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		size -= r;
	}
	return 0;
}

/* A file written under a temporary name beside PATH: opened here, then put in place (or
 * removed) by atomic_finish. */
static int atomic_open(const char *path, mode_t mode, char **ret_tmp)
{
	int fd;

	if (asprintf(ret_tmp, "%s.tmp-%d", path, (int)getpid()) < 0) {
		*ret_tmp = NULL;
		return -ENOMEM;
	}
	fd = open(*ret_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

/* R is how writing FD went: on success it is synced, closed, given MODE (whatever the umask
 * made of it) and renamed over PATH; otherwise the temporary file is removed. */
static int atomic_finish(const char *path, const char *tmp, int fd, mode_t mode, int r)
{
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && fchmodat(AT_FDCWD, tmp, mode, 0) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	int fd = atomic_open(path, mode, &tmp);

	if (fd < 0)
		return fd;
	return atomic_finish(path, tmp, fd, mode, write_all(fd, data, size));
}

static int copy_fd(int in, int out)
{
	char buf[1 << 16];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		int r = write_all(out, buf, n);
		if (r < 0)
			return r;
	}
}

int copy_file_atomic(const char *src, const char *dst, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	int fd;

	if (in < 0)
		return -errno;
	fd = atomic_open(dst, mode, &tmp);
	if (fd < 0)
		return fd;
	return atomic_finish(dst, tmp, fd, mode, copy_fd(in, fd));
}

int rm_rf_children(int dirfd, dev_t dev)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && ret == 0)
				ret = -errno;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			/* A mount point (another device) is left alone, and so is everything below it. */
			if (st.st_dev != dev)
				continue;
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				if (ret == 0)
					ret = -errno;
				continue;
			}
			int r = rm_rf_children(sub, dev);
			close(sub);
			if (r < 0 && ret == 0)
				ret = r;
			if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0 && ret == 0)
				ret = -errno;
		} else if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT && ret == 0)
			ret = -errno;
	}
	closedir(d);
	return ret;
}

int rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = rm_rf_children(fd, st.st_dev);
	if (r < 0)
		return r;
	return rmdir(path) < 0 ? -errno : 0;
}

bool path_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

char *path_join(const char *a, const char *b)
{
	char *r;
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (asprintf(&r, "%.*s/%s", (int)la, a, b) < 0)
		return NULL;
	return r;
}

static int walk(const char *root, const char *rel, int (*fn)(const struct dir_walk_entry *, void *), void *userdata)
{
	_cleanup_free_ char *dir = rel[0] ? path_join(root, rel) : strdup(root);
	struct dirent **ents = NULL;
	int n, r = 0;

	if (!dir)
		return -ENOMEM;
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		if (r >= 0 && !streq(name, ".") && !streq(name, "..")) {
			_cleanup_free_ char *sub = rel[0] ? path_join(rel, name) : strdup(name);
			_cleanup_free_ char *full = path_join(dir, name);
			struct stat st;
			if (!sub || !full)
				r = -ENOMEM;
			else if (lstat(full, &st) < 0)
				r = -errno;
			else {
				struct dir_walk_entry e = { .rel = sub, .path = full, .st = &st };
				r = fn(&e, userdata);
				if (r >= 0 && S_ISDIR(st.st_mode))
					r = walk(root, sub, fn, userdata);
			}
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

int dir_walk(const char *root, const char *sub, int (*fn)(const struct dir_walk_entry *e, void *userdata),
		 void *userdata)
{
	return walk(root, sub ? sub : "", fn, userdata);
}
