/* Reads the build host's apt sources so a rootfs uses the same mirror the host does. */
#include "sources.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "macros.h"
#include "strv.h"

/* SUITE itself, or SUITE-updates / SUITE-security / SUITE/updates: the suites an image of
 * SUITE is built from. Backports are left out: they change what "bookworm" means. */
static int suite_matches(const char *candidate, const char *suite)
{
	size_t n = strlen(suite);
	if (strncmp(candidate, suite, n) != 0)
		return 0;
	const char *rest = candidate + n;
	return !*rest || streq(rest, "-updates") || streq(rest, "-security") || streq(rest, "/updates");
}

static int push_line(char ***lines, const char *opts, const char *uri, const char *suite, const char *components)
{
	char *line;
	int n = opts && *opts ? asprintf(&line, "deb [%s] %s %s", opts, uri, suite) : asprintf(&line, "deb %s %s", uri, suite);
	if (n < 0)
		return -ENOMEM;
	if (components && *components) {
		char *l2;
		if (asprintf(&l2, "%s %s", line, components) < 0) {
			free(line);
			return -ENOMEM;
		}
		free(line);
		line = l2;
	}
	if (strv_contains(*lines, line)) {
		free(line);
		return 0;
	}
	return strv_consume(lines, line);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int parse_one_line_format(char *text, const char *suite, char ***lines)
{
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line = trim(line);
		if (strncmp(line, "deb", 3) != 0 || (line[3] != ' ' && line[3] != '\t'))
			continue;
		char *p = trim(line + 3), *opts = NULL;
		if (*p == '[') {
			char *end = strchr(p, ']');
			if (!end)
				continue;
			*end = '\0';
			opts = trim(p + 1);
			p = trim(end + 1);
		}
		char *save2 = NULL;
		char *uri = strtok_r(p, " \t", &save2);
		char *s = strtok_r(NULL, " \t", &save2);
		char *components = save2 ? trim(save2) : NULL;
		if (!uri || !s || !suite_matches(s, suite))
			continue;
		int r = push_line(lines, opts, uri, s, components);
		if (r < 0)
			return r;
	}
	return 0;
}

struct stanza {
	char *types, *uris, *suites, *components, *signed_by, *enabled;
};

static int flush_stanza(struct stanza *st, const char *suite, char ***lines)
{
	int r = 0;
	if (st->types && strstr(st->types, "deb") && st->uris && st->suites &&
	    !(st->enabled && streq(st->enabled, "no"))) {
		/* Only "deb", not "deb-src": check it as a word. */
		int has_deb = 0;
		_cleanup_free_ char *types = strdup(st->types);
		if (!types)
			return -ENOMEM;
		for (char *sv = NULL, *t = strtok_r(types, " \t", &sv); t; t = strtok_r(NULL, " \t", &sv))
			has_deb |= streq(t, "deb");
		_cleanup_free_ char *opts = NULL;
		if (st->signed_by && asprintf(&opts, "signed-by=%s", st->signed_by) < 0)
			return -ENOMEM;
		_cleanup_free_ char *uris = strdup(st->uris), *suites = strdup(st->suites);
		if (!uris || !suites)
			return -ENOMEM;
		for (char *su = NULL, *u = strtok_r(uris, " \t", &su); has_deb && u && r >= 0; u = strtok_r(NULL, " \t", &su)) {
			_cleanup_free_ char *suites_copy = strdup(st->suites);
			if (!suites_copy)
				return -ENOMEM;
			for (char *ss = NULL, *s = strtok_r(suites_copy, " \t", &ss); s && r >= 0; s = strtok_r(NULL, " \t", &ss))
				if (suite_matches(s, suite))
					r = push_line(lines, opts, u, s, st->components);
		}
	}
	*st = (struct stanza){ 0 };
	return r;
}

static int parse_deb822(char *text, const char *suite, char ***lines)
{
	struct stanza st = { 0 };
	char *save = NULL;
	int r = 0;

	/* strtok_r would merge the blank lines that separate stanzas, so walk by hand. */
	for (char *line = text; line && r >= 0; line = save) {
		char *nl = strchr(line, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (line[0] == '#')
			continue;
		char *t = trim(line);
		if (!*t) {
			r = flush_stanza(&st, suite, lines);
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t')
			continue; /* continuation lines (an inline key) are not options we pass on */
		char *colon = strchr(t, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *key = trim(t), *value = trim(colon + 1);
		if (!strcasecmp(key, "Types"))
			st.types = value;
		else if (!strcasecmp(key, "URIs"))
			st.uris = value;
		else if (!strcasecmp(key, "Suites"))
			st.suites = value;
		else if (!strcasecmp(key, "Components"))
			st.components = value;
		else if (!strcasecmp(key, "Signed-By") && *value)
			st.signed_by = value;
		else if (!strcasecmp(key, "Enabled"))
			st.enabled = value;
	}
	if (r >= 0)
		r = flush_stanza(&st, suite, lines);
	return r;
}

int apt_sources_parse(const char *text, int is_deb822, const char *suite, char ***lines)
{
	_cleanup_free_ char *copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	return is_deb822 ? parse_deb822(copy, suite, lines) : parse_one_line_format(copy, suite, lines);
}

static int parse_file(const char *path, int is_deb822, const char *suite, char ***lines)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path, 1 << 20, &text, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	return apt_sources_parse(text, is_deb822, suite, lines);
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int host_apt_sources(const char *root, const char *suite, char ***ret)
{
	_cleanup_strv_free_ char **lines = NULL;
	_cleanup_free_ char *list = NULL, *dir = NULL;
	struct dirent **ents = NULL;
	int r, n;

	if (asprintf(&list, "%s/etc/apt/sources.list", root) < 0 || asprintf(&dir, "%s/etc/apt/sources.list.d", root) < 0)
		return -ENOMEM;
	r = parse_file(list, 0, suite, &lines);
	if (r < 0)
		return r;
	n = scandir(dir, &ents, NULL, name_cmp);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);
		int deb822 = len > 8 && streq(name + len - 8, ".sources");
		int oneline = len > 5 && streq(name + len - 5, ".list");
		if (r >= 0 && (deb822 || oneline)) {
			_cleanup_free_ char *p = path_join(dir, name);
			r = p ? parse_file(p, deb822, suite, &lines) : -ENOMEM;
		}
		free(ents[i]);
	}
	free(ents);
	if (r < 0)
		return r;
	if (!lines)
		return -ENOENT;
	*ret = TAKE_PTR(lines);
	return 0;
}
