/* Installing rendered files: compare, write atomically when different, remove when unwanted. */
#include "files.h"

#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "macros.h"
#include "strv.h"

/* A generated file is a few KiB; anything much larger on disk is simply different. */
#define COMPARE_MAX (16u * 1024 * 1024)

static struct fb_file *grow(struct fb_files *fs)
{
	struct fb_file *v;

	if (fs->error)
		return NULL;
	v = realloc(fs->v, (fs->n + 1) * sizeof(*v));
	if (!v) {
		fs->error = -ENOMEM;
		return NULL;
	}
	fs->v = v;
	memset(&v[fs->n], 0, sizeof(v[0]));
	return &v[fs->n];
}

void fb_files_add(struct fb_files *fs, const char *path, struct sbuf *text, mode_t mode, bool restart)
{
	struct fb_file *f = grow(fs);
	int r;

	if (!f) {
		sbuf_free(text);
		return;
	}
	r = sbuf_finish(text, &f->content, &f->size);
	if (r < 0) {
		fs->error = r;
		return;
	}
	f->path = strdup(path);
	if (!f->path) {
		free(f->content);
		fs->error = -ENOMEM;
		return;
	}
	f->mode = mode;
	f->restart = restart;
	fs->n++;
}

void fb_files_add_absent(struct fb_files *fs, const char *path, bool restart)
{
	struct fb_file *f = grow(fs);

	if (!f)
		return;
	f->path = strdup(path);
	if (!f->path) {
		fs->error = -ENOMEM;
		return;
	}
	f->restart = restart;
	fs->n++;
}

const struct fb_file *fb_files_find(const struct fb_files *fs, const char *path)
{
	for (size_t i = 0; i < fs->n; i++)
		if (streq(fs->v[i].path, path))
			return &fs->v[i];
	return NULL;
}

void fb_files_free(struct fb_files *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].path);
		free(fs->v[i].content);
	}
	free(fs->v);
	fs->v = NULL;
	fs->n = 0;
	fs->error = 0;
}

char *fb_rooted(const char *root, const char *path)
{
	size_t n = root ? strlen(root) : 0;
	char *s;

	while (n > 0 && root[n - 1] == '/')
		n--;
	if (n == 0)
		return strdup(path);
	if (asprintf(&s, "%.*s%s%s", (int)n, root, path[0] == '/' ? "" : "/", path) < 0)
		return NULL;
	return s;
}

/* Same bytes and mode already there? */
static bool unchanged(const char *path, const struct fb_file *f)
{
	_cleanup_free_ char *old = NULL;
	struct stat st;
	size_t n;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != f->mode ||
	    (size_t)st.st_size != f->size)
		return false;
	if (read_file(path, COMPARE_MAX, &old, &n) < 0)
		return false;
	return n == f->size && memcmp(old, f->content, n) == 0;
}

int fb_file_install(const char *root, const struct fb_file *f)
{
	_cleanup_free_ char *path = fb_rooted(root, f->path), *dir = NULL;
	struct stat st;
	int r;

	if (!path)
		return -ENOMEM;
	if (!f->content) {
		if (lstat(path, &st) < 0)
			return errno == ENOENT ? 0 : -errno;
		if (unlink(path) < 0)
			return -errno;
		return 1;
	}
	if (unchanged(path, f))
		return 0;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	r = mkdir_p(dirname(dir), 0755);
	if (r < 0)
		return r;
	/* A symlink here (resolv.conf often is one) is replaced, not written through. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && unlink(path) < 0)
		return -errno;
	r = write_file_atomic(path, f->content, f->size, f->mode);
	return r < 0 ? r : 1;
}

int fb_files_stage(const struct fb_files *fs, const char *dir, char ***ret_paths)
{
	_cleanup_strv_free_ char **paths = calloc(fs->n + 1, sizeof(char *));
	int r;

	if (!paths)
		return -ENOMEM;
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	for (size_t i = 0; i < fs->n; i++) {
		_cleanup_free_ char *flat = NULL;

		if (!fs->v[i].content) {
			paths[i] = strdup("");
			if (!paths[i])
				return -ENOMEM;
			continue;
		}
		flat = strdup(fs->v[i].path + (fs->v[i].path[0] == '/'));
		if (!flat)
			return -ENOMEM;
		for (char *c = flat; *c; c++)
			if (*c == '/')
				*c = '_';
		if (asprintf(&paths[i], "%s/%s", dir, flat) < 0)
			return -ENOMEM;
		r = write_file_atomic(paths[i], fs->v[i].content, fs->v[i].size, 0600);
		if (r < 0)
			return r;
	}
	*ret_paths = TAKE_PTR(paths);
	return 0;
}
