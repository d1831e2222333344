/* kubespray-offline's push-name mapping, the same rules the builder uses when it fills the
 * registry store, so the check at boot asks for the names that were stored. */
#include "imageref.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "macros.h"

#define LIST_FILE_MAX (16u * 1024 * 1024)
#define REF_MAX 512

static const char *const stripped[] = { IMAGEREF_STRIPPED };

/* The first path component names a registry when it has a '.' or ':' or is localhost. */
static bool is_registry_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && strncmp(s, "localhost", 9) == 0);
}

static bool valid_chars(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-/:@", *s))
			return false;
	return true;
}

void imageref_done(struct imageref *r)
{
	free(r->ref);
	free(r->name);
	free(r->reference);
	r->ref = r->name = r->reference = NULL;
}

int imageref_map(const char *ref, char *const *extra, struct imageref *ret)
{
	_cleanup_free_ char *full = NULL, *copy = NULL;
	const char *path, *slash;
	char *at, *colon, *last_slash;
	size_t host_len;

	memset(ret, 0, sizeof(*ret));
	if (!*ref || strlen(ref) > REF_MAX || !valid_chars(ref))
		return -EINVAL;
	copy = strdup(ref);
	if (!copy)
		return -ENOMEM;

	/* Split off "@sha256:..." and ":tag" (a ':' after the last '/' is a tag, before it a port). */
	at = strchr(copy, '@');
	if (at)
		*at++ = '\0';
	last_slash = strrchr(copy, '/');
	colon = strrchr(last_slash ? last_slash : copy, ':');
	if (colon)
		*colon++ = '\0';
	if (!*copy || (colon && !*colon) || (at && strncmp(at, "sha256:", 7) != 0))
		return -EINVAL;

	slash = strchr(copy, '/');
	if (!slash) {
		if (asprintf(&full, "docker.io/library/%s", copy) < 0)
			return -ENOMEM;
	} else if (!is_registry_host(copy, (size_t)(slash - copy))) {
		/* "calico/node" is docker.io's, as docker and kubespray-offline read it. */
		if (asprintf(&full, "docker.io/%s", copy) < 0)
			return -ENOMEM;
	} else {
		full = strdup(copy);
		if (!full)
			return -ENOMEM;
	}

	path = full;
	slash = strchr(full, '/');
	host_len = (size_t)(slash - full);
	for (size_t i = 0; i < ARRAY_SIZE(stripped); i++)
		if (strlen(stripped[i]) == host_len && strncmp(full, stripped[i], host_len) == 0)
			path = slash + 1;
	for (size_t i = 0; path == full && extra && extra[i]; i++)
		if (strlen(extra[i]) == host_len && strncmp(full, extra[i], host_len) == 0)
			path = slash + 1;
	if (!*path)
		return -EINVAL;

	ret->ref = strdup(ref);
	ret->name = strdup(path);
	ret->reference = strdup(at ? at : colon ? colon : "latest");
	if (!ret->ref || !ret->name || !ret->reference) {
		imageref_done(ret);
		return -ENOMEM;
	}
	/* Repository names are lowercase in the registry's grammar. */
	for (char *c = ret->name; *c; c++)
		if (isupper((unsigned char)*c)) {
			imageref_done(ret);
			return -EINVAL;
		}
	return 0;
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
