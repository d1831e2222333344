/* modules.dep parsing and the load-order closure of the modules the initramfs needs. */
#include "modules.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"

struct module {
	char *name;
	char *path;
	char **deps; /* paths, as modules.dep lists them */
	int state;   /* closure walk: 0 unvisited, 1 in progress, 2 done */
};

struct moddep {
	struct module *mods;
	size_t n;
	char **builtin; /* names, sorted */
	size_t n_builtin;
};

char *module_name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char *name = strdup(base);
	if (!name)
		return NULL;
	char *dot = strstr(name, ".ko");
	if (dot)
		*dot = '\0';
	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
	return name;
}

static int module_cmp(const void *a, const void *b)
{
	return strcmp(((const struct module *)a)->name, ((const struct module *)b)->name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void moddep_free(struct moddep *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->mods[i].name);
		free(d->mods[i].path);
		strv_free(d->mods[i].deps);
	}
	free(d->mods);
	for (size_t i = 0; i < d->n_builtin; i++)
		free(d->builtin[i]);
	free(d->builtin);
	free(d);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct moddep *, moddep_free)

static int parse_dep_line(char *line, struct module *m)
{
	char *colon = strchr(line, ':');
	*m = (struct module){ 0 };
	if (!colon)
		return -EBADMSG;
	*colon = '\0';
	*m = (struct module){ .path = strdup(line), .name = module_name_from_path(line) };
	if (!m->path || !m->name)
		return -ENOMEM;
	for (char *save = NULL, *tok = strtok_r(colon + 1, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
		if (strv_push(&m->deps, tok) < 0)
			return -ENOMEM;
	return 0;
}

int moddep_parse(const char *dep_text, const char *builtin_text, struct moddep **ret)
{
	_cleanup_(moddep_freep) struct moddep *d = calloc(1, sizeof(*d));
	_cleanup_free_ char *text = strdup(dep_text);
	size_t alloc = 0;
	int r;

	if (!d || !text)
		return -ENOMEM;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (d->n == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			struct module *m = realloc(d->mods, alloc * sizeof(*m));
			if (!m)
				return -ENOMEM;
			d->mods = m;
		}
		r = parse_dep_line(line, &d->mods[d->n]);
		d->n++;
		if (r < 0)
			return r;
	}
	if (d->n)
		qsort(d->mods, d->n, sizeof(*d->mods), module_cmp);

	if (builtin_text) {
		_cleanup_free_ char *bt = strdup(builtin_text);
		if (!bt)
			return -ENOMEM;
		alloc = 0;
		for (char *save = NULL, *line = strtok_r(bt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (d->n_builtin == alloc) {
				alloc = alloc ? alloc * 2 : 1024;
				char **b = realloc(d->builtin, alloc * sizeof(*b));
				if (!b)
					return -ENOMEM;
				d->builtin = b;
			}
			if (!(d->builtin[d->n_builtin] = module_name_from_path(line)))
				return -ENOMEM;
			d->n_builtin++;
		}
		if (d->n_builtin)
			qsort(d->builtin, d->n_builtin, sizeof(char *), str_cmp);
	}
	*ret = TAKE_PTR(d);
	return 0;
}

static struct module *find_by_name(const struct moddep *d, const char *name)
{
	struct module key = { .name = (char *)name };
	return d->n ? bsearch(&key, d->mods, d->n, sizeof(*d->mods), module_cmp) : NULL;
}

bool moddep_is_builtin(const struct moddep *d, const char *name)
{
	_cleanup_free_ char *n = module_name_from_path(name);
	return n && d->n_builtin && bsearch(&n, d->builtin, d->n_builtin, sizeof(char *), str_cmp);
}

/* Post-order walk: a module is appended only after everything it depends on. */
static int visit(const struct moddep *d, struct module *m, char ***order)
{
	int r;

	if (m->state == 2)
		return 0;
	if (m->state == 1)
		return -ELOOP;
	m->state = 1;
	for (char **dep = m->deps; dep && *dep; dep++) {
		_cleanup_free_ char *name = module_name_from_path(*dep);
		if (!name)
			return -ENOMEM;
		struct module *dm = find_by_name(d, name);
		if (!dm)
			return -ENOENT;
		r = visit(d, dm, order);
		if (r < 0)
			return r;
	}
	m->state = 2;
	return strv_push(order, m->path);
}

int moddep_closure(const struct moddep *d, char *const *names, char ***ret_paths, char ***ret_missing)
{
	_cleanup_strv_free_ char **order = NULL, **missing = NULL;
	int r = 0;

	for (size_t i = 0; i < d->n; i++)
		d->mods[i].state = 0;
	for (char *const *n = names; n && *n; n++) {
		_cleanup_free_ char *name = module_name_from_path(*n);
		if (!name)
			return -ENOMEM;
		struct module *m = find_by_name(d, name);
		if (m)
			r = visit(d, m, &order);
		else if (!moddep_is_builtin(d, name) && !strv_contains(missing, *n))
			r = strv_push(&missing, *n);
		if (r < 0)
			return r;
	}
	/* Callers iterate both lists; hand back empty ones rather than NULL. */
	if (!order && !(order = calloc(1, sizeof(char *))))
		return -ENOMEM;
	if (!missing && !(missing = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret_paths = TAKE_PTR(order);
	*ret_missing = TAKE_PTR(missing);
	return 0;
}
