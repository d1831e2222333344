/* Stage closure: gapbox-fetch's interpreter and shared libraries, found in the rootfs tar as the
 * loader would find them on the booted initramfs: symlinks followed inside the tar (usrmerge's
 * lib -> usr/lib, soname links, absolute targets taken from the rootfs's root). */
#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <string.h>

#include "archiveutil.h"
#include "build.h"
#include "elfdeps.h"
#include "fsutil.h"
#include "hashset.h"
#include "libclosure.h"
#include "log.h"
#include "strv.h"

/* As the kernel: a path crossing more symlinks than this is a loop. */
#define SYMLINKS_MAX 40
/* Passes over the tar: the first indexes it and reads the library folders; each further one
 * reads the libraries found elsewhere, a level deeper each time. */
#define PASSES_MAX 8
/* The biggest library read (libLLVM is about 100 MiB). */
#define LIBRARY_SIZE_MAX ((uint64_t)256 << 20)

enum node { NODE_FILE = 1, NODE_SYMLINK, NODE_HARDLINK };

/* What a shared object read from the tar says, or why it could not be read. */
struct lib_info {
	int error;            /* negative errno of elf_deps_parse, or -EFBIG */
	uint64_t size;
	struct elf_deps deps;
};

struct scan {
	const char *tar;
	int pass;
	char **search;            /* the loader's folders, in its order */
	struct hashset nodes;     /* every file and symlink of the tar: num is enum node, value a
				     link's target (a hard link's relative to the root) */
	struct hashset parsed;    /* path -> index in infos */
	struct lib_info *infos;
	size_t n_infos, alloc_infos;
	struct hashset wanted;    /* files outside the library folders to read in the next pass */
};

static void scan_done(struct scan *s)
{
	strv_free(s->search);
	hashset_done(&s->nodes);
	hashset_done(&s->parsed);
	for (size_t i = 0; i < s->n_infos; i++)
		elf_deps_done(&s->infos[i].deps);
	free(s->infos);
	hashset_done(&s->wanted);
}

void lib_closure_done(struct lib_closure *c)
{
	for (size_t i = 0; i < c->n_entries; i++)
		FREE_ALL(c->entries[i].path, c->entries[i].symlink, c->entries[i].source);
	free(c->entries);
	strv_free(c->sonames);
	FREE_ALL(c->program, c->interp);
	*c = (struct lib_closure){ 0 };
}

static bool in_search_dir(const struct scan *s, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash || !strstr(slash, ".so"))
		return false;
	for (char **d = s->search; *d; d++)
		if (strlen(*d) == (size_t)(slash - path) && !strncmp(path, *d, slash - path))
			return true;
	return false;
}

static int parse_entry(struct scan *s, struct archive *a, struct archive_entry *e, const char *path)
{
	_cleanup_free_ char *data = NULL;
	struct lib_info info = { .size = (uint64_t)archive_entry_size(e) };
	size_t size;
	int r;

	if (info.size > LIBRARY_SIZE_MAX)
		info.error = -EFBIG;
	else {
		r = archive_read_data_alloc(a, LIBRARY_SIZE_MAX, &data, &size);
		if (r < 0)
			return log_error_errno(r, "cannot read %s from %s: %m", path, s->tar);
		info.error = elf_deps_parse(data, size, &info.deps);
		if (info.error == -ENOMEM)
			return -ENOMEM;
	}
	r = gb_grow(&s->infos, &s->alloc_infos, s->n_infos + 1, sizeof(*s->infos));
	if (r >= 0)
		r = hashset_add(&s->parsed, path, NULL, s->n_infos);
	if (r < 0) {
		elf_deps_done(&info.deps);
		return r;
	}
	s->infos[s->n_infos++] = info;
	return 0;
}

static int index_entry(struct archive *a, struct archive_entry *e, const char *path, void *userdata)
{
	struct scan *s = userdata;
	const char *hardlink = archive_entry_hardlink(e);
	int r = 0;

	if (s->pass == 1) {
		if (archive_entry_filetype(e) == AE_IFLNK)
			r = hashset_add(&s->nodes, path, archive_entry_symlink(e), NODE_SYMLINK);
		else if (hardlink)
			r = hashset_add(&s->nodes, path, archive_path_relative(hardlink), NODE_HARDLINK);
		else if (archive_entry_filetype(e) == AE_IFREG)
			r = hashset_add(&s->nodes, path, NULL, NODE_FILE);
		if (r < 0)
			return log_error_errno(r, "cannot index rootfs %s: %m", s->tar);
	}
	if (archive_entry_filetype(e) != AE_IFREG || hardlink || hashset_get(&s->parsed, path))
		return 0;
	if (s->pass == 1 ? !in_search_dir(s, path) : !hashset_get(&s->wanted, path))
		return 0;
	return parse_entry(s, a, e, path);
}

/* Follow PATH (relative to the root) through the tar's symlinks to a regular file or hard link,
 * pushing each symlink crossed on *CROSSED. -ENOENT, -ELOOP, -ENAMETOOLONG. */
static int resolve(const struct hashset *nodes, const char *path, char ***crossed, char **ret)
{
	char todo[PATH_MAX], done[PATH_MAX] = "", cand[PATH_MAX], next[PATH_MAX];
	const char *p = todo;
	unsigned links = 0;
	int r;

	if ((size_t)snprintf(todo, sizeof(todo), "%s", path) >= sizeof(todo))
		return -ENAMETOOLONG;
	while (*p) {
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (len == 0)
			break;
		if (len == 1 && p[0] == '.') {
			p += len;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *up = strrchr(done, '/');
			*(up ? up : done) = '\0';
			p += len;
			continue;
		}
		if ((size_t)snprintf(cand, sizeof(cand), "%s%s%.*s", done, *done ? "/" : "", (int)len, p) >= sizeof(cand))
			return -ENAMETOOLONG;
		p += len;
		const struct hashset_entry *n = hashset_get(nodes, cand);
		if (n && n->num == NODE_SYMLINK) {
			if (++links > SYMLINKS_MAX)
				return -ELOOP;
			if (!strv_contains(*crossed, cand) && (r = strv_push(crossed, cand)) < 0)
				return r;
			/* An absolute target starts again at the rootfs's root, not the build host's. */
			if ((size_t)snprintf(next, sizeof(next), "%s/%s", n->value, p) >= sizeof(next))
				return -ENAMETOOLONG;
			if (n->value[0] == '/')
				done[0] = '\0';
			memcpy(todo, next, sizeof(todo));
			p = todo;
			continue;
		}
		memcpy(done, cand, sizeof(done));
	}
	const struct hashset_entry *n = hashset_get(nodes, done);
	if (!n || n->num == NODE_SYMLINK)
		return -ENOENT;
	*ret = strdup(done);
	return *ret ? 0 : -ENOMEM;
}

/* One closure, computed from what the passes so far have read. */
struct walk {
	struct scan *s;
	uint16_t machine;
	struct lib_closure *c;
	struct hashset paths;    /* entries already in c */
	struct hashset sonames;  /* sonames already looked for */
	bool incomplete;         /* a file the next pass must read */
};

static int add_entry(struct walk *w, const char *path, const char *symlink, const char *source, uint64_t size)
{
	struct closure_entry *e;
	int r = hashset_add(&w->paths, path, NULL, 0);

	if (r <= 0)
		return r;
	r = gb_grow(&w->c->entries, &w->c->alloc, w->c->n_entries + 1, sizeof(*w->c->entries));
	if (r < 0)
		return r;
	e = &w->c->entries[w->c->n_entries];
	*e = (struct closure_entry){ .path = strdup(path), .symlink = symlink ? strdup(symlink) : NULL,
				     .source = source ? strdup(source) : NULL, .size = size };
	w->c->n_entries++;
	return e->path && !!e->symlink == !!symlink && !!e->source == !!source ? 1 : -ENOMEM;
}

/* Where FILE's data is in the tar, and what reading it gave (NULL: not read yet). */
static const struct lib_info *info_of(struct walk *w, const char *file, const char **ret_source)
{
	const struct hashset_entry *n = hashset_get(&w->s->nodes, file), *p;

	*ret_source = n && n->num == NODE_HARDLINK ? n->value : file;
	p = hashset_get(&w->s->parsed, *ret_source);
	return p ? &w->s->infos[p->num] : NULL;
}

/* Put FILE and the symlinks to it in the closure; a file not met before queues what it needs. */
static int take(struct walk *w, char **crossed, const char *file, const struct lib_info *info, const char *source,
		char ***queue, char ***needed_by)
{
	int r;

	for (char **l = crossed; *l; l++) {
		const struct hashset_entry *n = hashset_get(&w->s->nodes, *l);
		if ((r = add_entry(w, *l, n->value, NULL, 0)) < 0)
			return r;
	}
	r = add_entry(w, file, NULL, source, info->size);
	if (r <= 0)
		return r;
	for (char **n = info->deps.needed; n && *n; n++)
		if ((r = strv_push(queue, *n)) < 0 || (r = strv_push(needed_by, file)) < 0)
			return r;
	return 0;
}

static int find_interp(struct walk *w, const char *interp, char ***queue, char ***needed_by)
{
	_cleanup_strv_free_ char **crossed = NULL;
	_cleanup_free_ char *file = NULL;
	const struct lib_info *info;
	const char *source;
	int r = resolve(&w->s->nodes, interp, &crossed, &file);

	if (r < 0)
		return log_error_errno(r, "%s: its interpreter %s is not in rootfs %s: %m", w->c->program, interp,
				       w->s->tar);
	info = info_of(w, file, &source);
	if (!info) {
		w->incomplete = true;
		return hashset_add(&w->s->wanted, source, NULL, 0);
	}
	if (info->error < 0)
		return log_error_errno(info->error, "%s: its interpreter %s (%s in rootfs %s) cannot be used: %s",
				       w->c->program, interp, file, w->s->tar, elf_deps_strerror(info->error));
	return take(w, crossed, file, info, source, queue, needed_by);
}

/* Look for SONAME in the loader's folders; a file that is no shared object of the machine is
 * passed over, as the loader does. */
static int find_library(struct walk *w, const char *soname, const char *needed_by, char ***queue, char ***needed_by_q)
{
	_cleanup_free_ char *skipped = NULL;
	int r;

	if (strchr(soname, '/'))
		return log_error_errno(-EINVAL, "%s needs '%s', a path rather than a library name: not supported",
				       needed_by, soname);
	for (char **d = w->s->search; *d; d++) {
		_cleanup_strv_free_ char **crossed = NULL;
		_cleanup_free_ char *path = path_join(*d, soname), *file = NULL;
		const struct lib_info *info;
		const char *source;

		if (!path)
			return -ENOMEM;
		r = resolve(&w->s->nodes, path, &crossed, &file);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return log_error_errno(r, "library %s (needed by %s): cannot follow %s in rootfs %s: %m", soname,
					       needed_by, path, w->s->tar);
		info = info_of(w, file, &source);
		if (!info) {
			w->incomplete = true;
			return hashset_add(&w->s->wanted, source, NULL, 0);
		}
		if (info->error < 0 || info->deps.machine != w->machine) {
			if (!skipped && asprintf(&skipped, "; passed over %s: %s", file,
						 info->error < 0 ? elf_deps_strerror(info->error) : "built for another machine") < 0)
				return -ENOMEM;
			continue;
		}
		return take(w, crossed, file, info, source, queue, needed_by_q);
	}
	_cleanup_free_ char *dirs = NULL;
	for (char **d = w->s->search; *d; d++) {
		char *more;
		if (asprintf(&more, "%s%s/%s", dirs ? dirs : "", dirs ? ", " : "", *d) < 0)
			return -ENOMEM;
		free(dirs);
		dirs = more;
	}
	return log_error_errno(-ENOENT, "library %s, needed by %s, is not in rootfs %s (looked in %s%s)", soname,
			       needed_by, w->s->tar, dirs, skipped ? skipped : "");
}

static int walk(struct scan *s, const struct elf_deps *program, uint16_t machine, struct lib_closure *c)
{
	struct walk w = { .s = s, .machine = machine, .c = c };
	_cleanup_strv_free_ char **queue = NULL, **needed_by = NULL;
	int r = 0;

	for (char **n = program->needed; n && *n && r >= 0; n++)
		if ((r = strv_push(&queue, *n)) >= 0)
			r = strv_push(&needed_by, c->program);
	if (r >= 0 && program->interp)
		r = find_interp(&w, program->interp, &queue, &needed_by);
	/* The queue grows at its end while it is read: breadth first, so the order is the loader's. */
	for (size_t i = 0; r >= 0 && queue && queue[i]; i++) {
		if ((r = hashset_add(&w.sonames, queue[i], NULL, 0)) <= 0)
			continue;
		if ((r = strv_push(&c->sonames, queue[i])) >= 0)
			r = find_library(&w, queue[i], needed_by[i], &queue, &needed_by);
	}
	hashset_done(&w.paths);
	hashset_done(&w.sonames);
	return r < 0 ? r : w.incomplete;
}

int lib_closure_resolve(const char *tar, const char *program, uint16_t machine, const char *triplet,
			struct lib_closure *ret)
{
	_cleanup_(lib_closure_done) struct lib_closure c = { 0 };
	_cleanup_(scan_done) struct scan s = { .tar = tar };
	_cleanup_(elf_deps_done) struct elf_deps deps = { 0 };
	_cleanup_free_ char *data = NULL;
	size_t size;
	int r;

	r = read_file(program, 64 << 20, &data, &size);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", program);
	r = elf_deps_parse(data, size, &deps);
	if (r < 0)
		return log_error_errno(r, "%s cannot be read as a program: %s", program, elf_deps_strerror(r));
	if (deps.machine != machine)
		return log_error_errno(-ENOEXEC, "%s is a program for machine %u (%s), expected %s", program,
				       deps.machine, elf_machine_name(deps.machine) ?: "unknown", elf_machine_name(machine));
	if (!deps.interp)
		return log_error_errno(-ENOEXEC, "%s is statically linked, expected a dynamically linked program",
				       program);
	if (strv_pushf(&s.search, "lib/%s", triplet) < 0 || strv_pushf(&s.search, "usr/lib/%s", triplet) < 0 ||
	    strv_push(&s.search, "lib") < 0 || strv_push(&s.search, "usr/lib") < 0)
		return -ENOMEM;
	for (s.pass = 1; s.pass <= PASSES_MAX; s.pass++) {
		r = rootfs_foreach(tar, index_entry, &s);
		if (r >= 0) {
			lib_closure_done(&c);
			c.program = strdup(program);
			c.interp = strdup(deps.interp);
			r = c.program && c.interp ? walk(&s, &deps, machine, &c) : -ENOMEM;
		}
		if (r <= 0)
			break;
	}
	if (r > 0)
		return log_error_errno(-ELOOP, "%s: its libraries in rootfs %s still name files outside the library "
					       "folders after %d passes", program, tar, PASSES_MAX);
	if (r < 0)
		return r;
	log_debug("closure: %s in %d passes over %s", program, s.pass, tar);
	*ret = c;
	c = (struct lib_closure){ 0 };
	return 0;
}

int stage_closure(struct build *b, const struct rootfs *rootfs, struct lib_closure *ret)
{
	static const struct { const char *arch, *triplet; uint16_t machine; } arches[] = {
		{ "amd64", "x86_64-linux-gnu", GB_ELF_MACHINE_X86_64 },
		{ "arm64", "aarch64-linux-gnu", GB_ELF_MACHINE_AARCH64 },
	};
	_cleanup_(lib_closure_done) struct lib_closure c = { 0 };
	_cleanup_free_ char *program = NULL, *names = NULL;
	uint64_t bytes = 0;
	size_t files = 0;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(arches); i++) {
		if (!streq(arches[i].arch, b->profile->arch))
			continue;
		r = build_target_binary(b, "gapbox-fetch", &program);
		if (r >= 0)
			r = lib_closure_resolve(rootfs->tar, program, arches[i].machine, arches[i].triplet, &c);
		if (r < 0)
			return r;
		for (size_t k = 0; k < c.n_entries; k++)
			if (!c.entries[k].symlink)
				files++, bytes += c.entries[k].size;
		for (char **n = c.sonames; n && *n; n++) {
			char *more;
			if (asprintf(&more, "%s%s%s", names ? names : "", names ? " " : "", *n) < 0)
				return -ENOMEM;
			free(names);
			names = more;
		}
		log_info("closure: gapbox-fetch needs %s and %zu libraries, %zu files (%.1f MiB) and %zu symlinks from "
			 "the rootfs: %s", c.interp, strv_length(c.sonames), files, bytes / 1048576.0,
			 c.n_entries - files, names ? names : "");
		*ret = c;
		c = (struct lib_closure){ 0 };
		return 0;
	}
	return log_error_errno(-ENOTSUP, "no ELF machine is known for architecture %s", b->profile->arch);
}
