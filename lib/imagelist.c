/* Image lists: the one reader of their lines, and the mapping of a line to the admin's registry. */
#include "imagelist.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "imageref.h"
#include "macros.h"
#include "strv.h"

static void item_done(struct image_list_item *it)
{
	free(it->ref);
}

void image_list_free(struct image_list_item *v, size_t n)
{
	FREE_ARRAY(v, n, item_done);
}

/* The reference on LINE, in place: the comment cut off, white space around it dropped. */
static char *line_reference(char *line)
{
	char *end;

	line[strcspn(line, "#")] = '\0';
	while (isspace((unsigned char)*line))
		line++;
	end = line + strlen(line);
	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return line;
}

int image_lists_find(const char *dir, char ***ret)
{
	_cleanup_free_ char *images = path_join(dir, IMAGE_LIST_DIR);
	_cleanup_strv_free_ char **l = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if (!images)
		return -ENOMEM;
	d = opendir(images);
	if (!d && errno != ENOENT && errno != ENOTDIR)
		return -errno;
	while (d && (errno = 0, de = readdir(d))) {
		size_t n = strlen(de->d_name), sn = strlen(IMAGE_LIST_SUFFIX);
		struct stat st;
		char *rel;

		if (de->d_name[0] == '.' || n <= sn || !streq(de->d_name + n - sn, IMAGE_LIST_SUFFIX))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (strv_length(l) >= IMAGE_LISTS_MAX)
			return -E2BIG;
		if (asprintf(&rel, IMAGE_LIST_DIR "/%s", de->d_name) < 0)
			return -ENOMEM;
		if ((r = strv_consume(&l, rel)) < 0)
			return r;
	}
	if (d && errno)
		return -errno;
	if (!l && !(l = calloc(1, sizeof(char *))))
		return -ENOMEM;
	strv_sort(l);
	*ret = TAKE_PTR(l);
	return 0;
}

int image_list_read(const char *path, struct image_list_item **ret, size_t *ret_n)
{
	_cleanup_free_ char *text = NULL;
	struct image_list_item *v = NULL;
	size_t n = 0, alloc = 0;
	unsigned lineno = 0;
	int r;

	r = read_file(path, IMAGE_LIST_FILE_MAX, &text, NULL);
	if (r < 0)
		return r;
	for (char *line = text, *next; line; line = next) {
		char *ref;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		ref = line_reference(line);
		if (!*ref)
			continue;
		if (n >= IMAGE_LIST_MAX)
			r = -E2BIG;
		else if (gb_grow(&v, &alloc, n + 1, sizeof(*v)) < 0)
			r = -ENOMEM;
		else {
			v[n] = (struct image_list_item){ .ref = strdup(ref), .line = lineno };
			r = v[n].ref ? 0 : -ENOMEM;
			n += r == 0;
		}
		if (r < 0) {
			image_list_free(v, n);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void imageref_done(struct imageref *r)
{
	free(r->ref);
	free(r->name);
	free(r->reference);
	r->ref = r->name = r->reference = NULL;
}

int imageref_map(const char *ref, char *const *strip, struct imageref *ret)
{
	_cleanup_free_ char *name = NULL;
	struct image_ref parsed;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = image_ref_parse(ref, &parsed, NULL);
	if (r < 0)
		return r;
	r = image_ref_push_repository(ref, strip, &name, NULL);
	if (r >= 0) {
		ret->ref = strdup(ref);
		ret->name = TAKE_PTR(name);
		/* A digest wins over a tag: it is what the node will ask for. */
		ret->reference = strdup(parsed.digest ? parsed.digest : parsed.tag ? parsed.tag : "latest");
		if (!ret->ref || !ret->reference) {
			imageref_done(ret);
			r = -ENOMEM;
		}
	}
	image_ref_done(&parsed);
	return r;
}

void imageref_free_all(struct imageref *v, size_t n)
{
	FREE_ARRAY(v, n, imageref_done);
}

int imageref_read_list(const char *path, char *const *strip, struct imageref **v, size_t *n, size_t *ret_bad)
{
	struct image_list_item *items = NULL;
	size_t n_items = 0, bad = 0;
	int r;

	r = image_list_read(path, &items, &n_items);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_items && r >= 0; i++) {
		struct imageref ref, *grown;

		r = imageref_map(items[i].ref, strip, &ref);
		if (r == -EINVAL) {
			bad++;
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		/* *V holds room for 16, or for the next power of two: doubled when full, so appends
		 * cost O(1) on average, across calls too. */
		bool full = *n == 0 || (*n >= 16 && !(*n & (*n - 1)));
		if (*n >= IMAGE_LIST_MAX)
			r = -E2BIG;
		else if (full && !(grown = realloc(*v, (*n ? 2 * *n : 16) * sizeof(**v))))
			r = -ENOMEM;
		else {
			if (full)
				*v = grown;
			(*v)[(*n)++] = ref;
			continue;
		}
		imageref_done(&ref);
	}
	image_list_free(items, n_items);
	if (r >= 0 && ret_bad)
		*ret_bad += bad;
	return r;
}
