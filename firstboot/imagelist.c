/* The images lists as the check at boot reads them, mapped with the same push-name rules
 * (lib/imageref) the builder used to fill the registry store, so it asks for what was stored. */
#include "imagelist.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "imageref.h"
#include "macros.h"

#define LIST_FILE_MAX (16u * 1024 * 1024)

void imageref_done(struct imageref *r)
{
	free(r->ref);
	free(r->name);
	free(r->reference);
	r->ref = r->name = r->reference = NULL;
}

int imageref_map(const char *ref, char *const *extra, struct imageref *ret)
{
	_cleanup_free_ char *name = NULL;
	struct image_ref parsed;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = image_ref_parse(ref, &parsed, NULL);
	if (r < 0)
		return r;
	r = image_ref_push_repository(&parsed, extra, &name, NULL);
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
	for (size_t i = 0; i < n; i++)
		imageref_done(&v[i]);
	free(v);
}

int imageref_read_list(const char *path, char *const *extra, struct imageref **v, size_t *n, size_t *ret_bad)
{
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;
	size_t bad = 0;
	int r;

	r = read_file(path, LIST_FILE_MAX, &text, NULL);
	if (r < 0)
		return r;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct imageref ref, *grown;
		char *end;

		while (*line == ' ' || *line == '\t')
			line++;
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (!*line || *line == '#')
			continue;
		r = imageref_map(line, extra, &ref);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			bad++;
			continue;
		}
		if (*n >= IMAGEREF_LIST_MAX) {
			imageref_done(&ref);
			return -E2BIG;
		}
		grown = realloc(*v, (*n + 1) * sizeof(**v));
		if (!grown) {
			imageref_done(&ref);
			return -ENOMEM;
		}
		*v = grown;
		(*v)[(*n)++] = ref;
	}
	if (ret_bad)
		*ret_bad += bad;
	return 0;
}
