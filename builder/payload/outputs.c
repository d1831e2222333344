/* Checks of a kubespray-offline outputs/ folder that need no image content: each finding names
 * the file and what was expected. */
#include "outputs.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "archiveutil.h"
#include "fsutil.h"
#include "hashset.h"
#include "imagelist.h"
#include "imageref.h"
#include "layout.h"
#include "log.h"
#include "strv.h"

#define EM_X86_64_ 62
#define EM_AARCH64_ 183

const char *outputs_name_refused(const char *rel)
{
	static const struct {
		const char *name, *why;
	} reserved[] = {
		{ GB_PAYLOAD_RECORD, "reserved name: gapbox writes its payload record here; an outputs/ file may not stand in for it" },
		{ GB_PAYLOAD_SUMS, "reserved name: gapbox writes the payload's SHA256SUMS here; an outputs/ file may not stand in for it" },
		{ GB_PAYLOAD_REGISTRY, "reserved name: gapbox writes the checked registry store here; outputs/ may not add to it or stand in for it" },
	};
	static const char *const layout[] = { GB_PAYLOAD_RESERVED };
	_Static_assert(ARRAY_SIZE(reserved) == ARRAY_SIZE(layout), "every reserved name has its reason");
	size_t first = strcspn(rel, "/");

	for (const char *p = rel; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "its name holds a control character (a newline, tab, ...): SHA256SUMS and the tools "
			       "that read the payload could not name it safely; rename it";
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		if (strlen(reserved[i].name) == first && !strncmp(rel, reserved[i].name, first))
			return reserved[i].why;
	return NULL;
}

char *outputs_name_quote(const char *rel)
{
	char *q = malloc(strlen(rel) * 4 + 1), *o = q;

	if (!q)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
		if (*p == '\n')
			o = stpcpy(o, "\\n");
		else if (*p == '\t')
			o = stpcpy(o, "\\t");
		else if (*p == '\r')
			o = stpcpy(o, "\\r");
		else if (*p < 0x20 || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else
			*o++ = *p;
	}
	*o = '\0';
	return q;
}

char *outputs_image_archive(const char *dir, const char *ref)
{
	_cleanup_strv_free_ char **names = NULL;
	if (image_ref_archive_names(ref, &names) < 0)
		return NULL;
	for (char **n = names; *n; n++) {
		_cleanup_free_ char *p = NULL;
		char *rel;
		if (asprintf(&p, "%s/images/%s", dir, *n) < 0)
			return NULL;
		if (access(p, F_OK) == 0)
			return asprintf(&rel, "images/%s", *n) < 0 ? NULL : rel;
	}
	return NULL;
}

struct check {
	const char *dir;
	char *const *registries;
	char **claimed;          /* archives some list line names (images/NAME) */
	const char *arch;
	uint16_t machine;
	uint64_t unpack_max;     /* decompressed bytes one tarball of files/ may take to read */
	struct findings *f;
	int r;
};

static const char *machine_name(uint16_t m)
{
	switch (m) {
	case EM_X86_64_: return "x86-64 (amd64)";
	case EM_AARCH64_: return "aarch64 (arm64)";
	case 3: return "i386";
	case 40: return "arm (32-bit)";
	case 243: return "riscv";
	case 21: return "ppc64";
	case 22: return "s390";
	default: return "an unknown machine";
	}
}

/* ELF header bytes → its machine, or 0 when this is not an ELF file. */
static uint16_t elf_machine(const unsigned char *b, size_t n)
{
	if (n < 20 || memcmp(b, "\177ELF", 4) != 0)
		return 0;
	return b[5] == 2 ? (uint16_t)(b[18] << 8 | b[19]) : (uint16_t)(b[19] << 8 | b[18]);
}

static void check_elf(struct check *c, const char *file, const char *member, const unsigned char *b, size_t n)
{
	uint16_t m = elf_machine(b, n);
	if (!m || m == c->machine)
		return;
	if (member)
		findings_add(c->f, FINDING_ERROR, file, "%s is an ELF binary for %s, expected %s: the nodes are %s",
			     member, machine_name(m), machine_name(c->machine), c->arch);
	else
		findings_add(c->f, FINDING_ERROR, file, "ELF binary for %s, expected %s: the nodes are %s", machine_name(m),
			     machine_name(c->machine), c->arch);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && streq(s + a - b, suffix);
}

/* Binaries inside tarballs (etcd, containerd, cni, crictl, nerdctl, helm) are what nodes run. */
static void check_tarball(struct check *c, const struct dir_walk_entry *e)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	struct archive_entry *ae;
	_cleanup_free_ char *why = NULL;
	int r = archive_open_tar_file(e->path, &a, &why);

	if (r < 0) {
		findings_add(c->f, FINDING_ERROR, e->rel, "cannot open as a tar archive: %s", why ? why : strerror(-r));
		return;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		unsigned char b[64];
		if ((r = archive_entry_bounded(a, ae, c->unpack_max, &why)) < 0) {
			findings_add(c->f, FINDING_ERROR, e->rel, "%s%s", why ? why : strerror(-r),
				     r == -EFBIG ? " (payload.max_image_size, --max-image-size)" : "");
			return;
		}
		if (archive_entry_filetype(ae) != AE_IFREG)
			continue;
		la_ssize_t n = archive_read_data(a, b, sizeof(b));
		if (n < 0)
			break;
		check_elf(c, e->rel, archive_path_relative(archive_entry_pathname(ae)), b, n);
	}
	if (r != ARCHIVE_EOF)
		findings_add(c->f, FINDING_ERROR, e->rel, "damaged archive: %s", archive_error(a));
}

static int check_file_entry(const struct dir_walk_entry *e, void *userdata)
{
	struct check *c = userdata;
	unsigned char b[64];

	if (!S_ISREG(e->st->st_mode))
		return 0;
	if (has_suffix(e->rel, ".tar.gz") || has_suffix(e->rel, ".tgz") || has_suffix(e->rel, ".tar")) {
		check_tarball(c, e);
		return 0;
	}
	_cleanup_close_ int fd = open(e->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return findings_add(c->f, FINDING_ERROR, e->rel, "cannot read: %s", strerror(errno));
	ssize_t n = read(fd, b, sizeof(b));
	if (n > 0)
		check_elf(c, e->rel, NULL, b, n);
	return 0;
}

/* Names the payload cannot carry as they are: reserved ones at the top, control characters at
 * any depth (a folder's contents are not looked at again once the folder is refused). */
static int check_name_entry(const struct dir_walk_entry *e, void *userdata)
{
	struct check *c = userdata;
	const char *why = outputs_name_refused(e->rel);
	_cleanup_free_ char *quoted = NULL;

	if (!why || (strchr(e->rel, '/') && outputs_name_refused(strndupa(e->rel, strrchr(e->rel, '/') - e->rel))))
		return 0;
	if (!(quoted = outputs_name_quote(e->rel)))
		return -ENOMEM;
	return findings_add(c->f, FINDING_ERROR, quoted, "%s", why);
}

static int check_repos(struct check *c)
{
	static const struct {
		const char *dir, *meta[2], *what;
	} repos[] = {
		{ "rpms/local", { "repodata/repomd.xml", NULL }, "yum repository" },
		{ "debs/local", { "Packages", "Packages.gz" }, "apt repository" },
	};
	int found = 0;

	for (size_t i = 0; i < ARRAY_SIZE(repos); i++) {
		_cleanup_free_ char *dir = path_join(c->dir, repos[i].dir);
		if (!dir)
			return -ENOMEM;
		if (!path_is_dir(dir))
			continue;
		found++;
		bool ok = false;
		for (int m = 0; m < 2 && repos[i].meta[m]; m++) {
			_cleanup_free_ char *p = path_join(dir, repos[i].meta[m]);
			ok |= p && access(p, F_OK) == 0;
		}
		if (!ok)
			findings_add(c->f, FINDING_ERROR, repos[i].dir, "%s without its metadata (%s%s%s): nodes cannot use it",
				     repos[i].what, repos[i].meta[0], repos[i].meta[1] ? " or " : "",
				     repos[i].meta[1] ? repos[i].meta[1] : "");
	}
	if (!found)
		findings_add(c->f, FINDING_WARNING, "", "no rpms/local or debs/local repository: nodes cannot install OS packages from the admin");
	return 0;
}

/* Every href="..." of an HTML page, fragment and query removed. */
static int html_links(const char *html, char ***ret)
{
	_cleanup_strv_free_ char **l = NULL;
	for (const char *p = html; (p = strcasestr(p, "href=")); ) {
		p += 5;
		char q = *p == '"' || *p == '\'' ? *p++ : 0;
		size_t n = q ? strcspn(p, (char[]){ q, 0 }) : strcspn(p, " >\t\n");
		_cleanup_free_ char *link = strndup(p, n);
		if (!link)
			return -ENOMEM;
		link[strcspn(link, "#?")] = '\0';
		if (*link && strv_push(&l, link) < 0)
			return -ENOMEM;
		p += n;
	}
	if (!l && !(l = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret = TAKE_PTR(l);
	return 0;
}

/* A link of the index at REL_DIR/index.html must name an existing file that stays in pypi/. */
static void check_pypi_link(struct check *c, const char *pypi_real, const char *rel_dir, const char *link)
{
	_cleanup_free_ char *rel = NULL, *full = NULL, *real = NULL;
	if (strstr(link, "://") || link[0] == '/') {
		findings_add(c->f, FINDING_ERROR, rel_dir, "index.html links %s outside the mirror: nodes cannot reach it", link);
		return;
	}
	if (asprintf(&rel, "%s/%s", rel_dir, link) < 0 || !(full = path_join(c->dir, rel)))
		return;
	real = realpath(full, NULL);
	if (!real)
		findings_add(c->f, FINDING_ERROR, rel_dir, "index.html links %s, which does not exist (%s)", link, strerror(errno));
	else if (strncmp(real, pypi_real, strlen(pypi_real)) != 0 || (real[strlen(pypi_real)] != '/' && real[strlen(pypi_real)]))
		findings_add(c->f, FINDING_ERROR, rel_dir, "index.html links %s, which resolves outside pypi/ (%s)", link, real);
}

static int check_pypi(struct check *c)
{
	_cleanup_free_ char *pypi = path_join(c->dir, "pypi"), *index = NULL, *html = NULL, *pypi_real = NULL;
	_cleanup_strv_free_ char **projects = NULL;
	int r;

	if (!pypi || !(index = path_join(pypi, "index.html")))
		return -ENOMEM;
	if (!path_is_dir(pypi))
		return findings_add(c->f, FINDING_WARNING, "", "no pypi/ mirror: kubespray's Python requirements cannot be installed offline");
	pypi_real = realpath(pypi, NULL);
	r = read_file(index, 16 << 20, &html, NULL);
	if (r < 0)
		return findings_add(c->f, FINDING_ERROR, "pypi/index.html", "cannot read the mirror's index: %s", strerror(-r));
	if ((r = html_links(html, &projects)) < 0)
		return r;
	if (!projects[0])
		findings_add(c->f, FINDING_WARNING, "pypi/index.html", "the index lists no project");
	for (char **p = projects; *p; p++) {
		_cleanup_free_ char *name = strndup(*p, strcspn(*p, "/")), *rel = NULL, *page = NULL, *phtml = NULL;
		_cleanup_strv_free_ char **files = NULL;
		if (!name || asprintf(&rel, "pypi/%s", name) < 0 || asprintf(&page, "%s/%s/index.html", pypi, name) < 0)
			return -ENOMEM;
		r = read_file(page, 16 << 20, &phtml, NULL);
		if (r < 0) {
			findings_add(c->f, FINDING_ERROR, "pypi/index.html", "links project %s, but %s/index.html cannot be read: %s",
				     name, rel, strerror(-r));
			continue;
		}
		if ((r = html_links(phtml, &files)) < 0)
			return r;
		for (char **l = files; *l; l++)
			check_pypi_link(c, pypi_real ? pypi_real : pypi, rel, *l);
	}
	return 0;
}

int outputs_foreach_image(const char *dir, struct findings *f,
			  int (*fn)(const struct outputs_image *it, void *userdata), void *userdata)
{
	_cleanup_strv_free_ char **lists = NULL;
	_cleanup_(hashset_done) struct hashset seen = { 0 }; /* ref -> where it was listed first */
	int r, found = 0;

	r = image_lists_find(dir, &lists);
	if (r < 0)
		return findings_add(f, FINDING_ERROR, IMAGE_LIST_DIR, "cannot list the image lists: %s", strerror(-r)) < 0
			       ? -ENOMEM
			       : 0;
	for (char **l = lists; *l; l++) {
		_cleanup_free_ char *path = path_join(dir, *l);
		struct image_list_item *items = NULL;
		size_t n = 0;

		if (!path)
			return -ENOMEM;
		r = image_list_read(path, &items, &n);
		if (r == -EFBIG)
			findings_add(f, FINDING_ERROR, *l, "larger than %u MiB: not a list download-all.sh wrote",
				     IMAGE_LIST_FILE_MAX >> 20);
		else if (r == -E2BIG)
			findings_add(f, FINDING_ERROR, *l, "more than %u references: not a list download-all.sh wrote",
				     IMAGE_LIST_MAX);
		else if (r < 0)
			findings_add(f, FINDING_ERROR, *l, "cannot read: %s", strerror(-r));
		if (r < 0)
			continue;
		found++;
		for (size_t k = 0; k < n && r >= 0; k++) {
			struct outputs_image it = { .ref = items[k].ref };
			struct hashset_entry *first;
			snprintf(it.where, sizeof(it.where), "%s:%u", *l, items[k].line);
			/* A line met again is handed on marked, so nothing is done twice for it. */
			if ((first = hashset_get(&seen, it.ref)))
				it.first = first->value;
			else if ((r = hashset_add(&seen, it.ref, it.where, 0)) < 0)
				break;
			r = fn(&it, userdata);
		}
		image_list_free(items, n);
		if (r < 0)
			return r;
	}
	return found;
}

static bool is_image_archive_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && ((n > 7 && streq(name + n - 7, ".tar.gz")) || (n > 4 && streq(name + n - 4, ".tar")));
}

struct claims {
	const char *dir;
	struct hashset archives;
};

static int claim(const struct outputs_image *it, void *userdata)
{
	struct claims *c = userdata;
	_cleanup_free_ char *archive = it->first ? NULL : outputs_image_archive(c->dir, it->ref);
	int r = archive ? hashset_add(&c->archives, archive, NULL, 0) : 0;
	return r < 0 ? r : 0;
}

int outputs_unlisted_archives(const char *dir, char ***ret)
{
	_cleanup_free_ char *images = path_join(dir, IMAGE_LIST_DIR);
	_cleanup_strv_free_ char **l = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct claims claims = { .dir = dir };
	struct findings ignored = { 0 };
	struct dirent *de;
	int r;

	if (!images)
		return -ENOMEM;
	r = outputs_foreach_image(dir, &ignored, claim, &claims);
	findings_done(&ignored);
	_cleanup_(hashset_done) struct hashset claimed = claims.archives;
	if (r < 0)
		return r;
	d = opendir(images);
	while (d && (errno = 0, de = readdir(d))) {
		struct stat st;
		char *rel;
		if (!is_image_archive_name(de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (asprintf(&rel, IMAGE_LIST_DIR "/%s", de->d_name) < 0)
			return -ENOMEM;
		if (hashset_get(&claimed, rel)) {
			free(rel);
			continue;
		}
		if ((r = strv_consume(&l, rel)) < 0)
			return r;
	}
	if (!l && !(l = calloc(1, sizeof(char *))))
		return -ENOMEM;
	strv_sort(l);
	*ret = TAKE_PTR(l);
	return 0;
}

static int check_list_item(const struct outputs_image *it, void *userdata)
{
	struct check *c = userdata;
	_cleanup_free_ char *archive = NULL, *why = NULL, *repo = NULL;
	int r;

	if (it->first)
		return findings_add(c->f, FINDING_WARNING, it->where, "%s is listed already, at %s: imported once", it->ref,
				    it->first);
	r = image_ref_push_repository(it->ref, c->registries, &repo, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return findings_add(c->f, FINDING_ERROR, it->where, "%s cannot be pushed under a registry name: %s", it->ref,
				    why ? why : strerror(-r));
	archive = outputs_image_archive(c->dir, it->ref);
	if (!archive) {
		_cleanup_strv_free_ char **names = NULL;
		image_ref_archive_names(it->ref, &names);
		return findings_add(c->f, FINDING_ERROR, it->where, "%s has no archive: expected images/%s", it->ref,
				    names && names[0] ? names[0] : "?");
	}
	return 0;
}

/* Archives no list names are imported under the name they carry; the import says so. */
static int check_lists(struct check *c)
{
	int r = outputs_foreach_image(c->dir, c->f, check_list_item, c);

	if (r == 0)
		findings_add(c->f, FINDING_WARNING, IMAGE_LIST_DIR, "no images/*.list: only archives no list names go into the registry");
	return r < 0 ? r : 0;
}

/* Whether kubespray's Ansible comes as an image (kubespray-offline's ansible_in_container):
 * then there is no PyPI mirror, and needs none. */
static bool ansible_in_container(const char *dir)
{
	_cleanup_free_ char *p = path_join(dir, OUTPUTS_ANSIBLE_IMAGE);
	return p && access(p, F_OK) == 0;
}

int outputs_load(const char *dir, const char *arch, char *const *profile_registries, struct findings *f,
		 struct outputs_info *ret)
{
	_cleanup_(outputs_info_done) struct outputs_info info = { 0 };
	_cleanup_free_ char *path = path_join(dir, "config.sh"), *text = NULL;
	_cleanup_strv_free_ char **additional = NULL;
	int r;

	if (!path)
		return -ENOMEM;
	if (!path_is_dir(dir))
		return -ENOTDIR;
	r = read_file(path, CONFIG_SH_MAX, &text, NULL);
	if (r == -ENOENT)
		findings_add(f, FINDING_WARNING, "config.sh", "missing: versions are read from files/ alone");
	else if (r < 0)
		findings_add(f, FINDING_ERROR, "config.sh", "cannot read: %s", strerror(-r));
	else if ((r = config_sh_parse(text, "config.sh", &info.config)) < 0)
		return r;
	else
		info.has_config = true;

	for (char *const *e = profile_registries; e && *e; e++)
		if ((r = strv_push(&info.registries, *e)) < 0)
			return r;
	if ((r = config_sh_words(&info.config, "ADDITIONAL_CONTAINER_REGISTRY_LIST", &additional)) < 0)
		return r;
	for (char **a = additional; *a; a++)
		if (!strv_contains(info.registries, *a) && (r = strv_push(&info.registries, *a)) < 0)
			return r;
	if (!info.registries && !(info.registries = calloc(1, sizeof(char *))))
		return -ENOMEM;
	r = payload_versions_derive(dir, arch, info.has_config ? &info.config : NULL, f, &info.versions);
	if (r < 0)
		return r;
	info.ansible_in_container = ansible_in_container(dir);
	_cleanup_free_ char *marker = path_join(dir, OUTPUTS_SAMPLE_MARKER);
	if (!marker)
		return -ENOMEM;
	info.sample = access(marker, F_OK) == 0;
	if (info.sample)
		findings_add(f, FINDING_NOTE, OUTPUTS_SAMPLE_MARKER, "a SAMPLE payload made by gapbox's fixture generator, not "
			     "what kubespray-offline downloaded: for trying gapbox, not for a site");
	*ret = info;
	info = (struct outputs_info){ 0 };
	return 0;
}

void outputs_info_done(struct outputs_info *info)
{
	config_sh_done(&info->config);
	strv_free(info->registries);
	payload_versions_done(&info->versions);
	*info = (struct outputs_info){ 0 };
}

int outputs_check(const char *dir, const char *arch, const struct outputs_info *info, const struct unpack_caps *caps,
		  struct findings *f)
{
	struct check c = { .dir = dir, .registries = info->registries, .arch = arch, .unpack_max = caps->image, .f = f };
	_cleanup_free_ char *files = path_join(dir, "files");
	int r;

	if (!files)
		return -ENOMEM;
	if (!path_is_dir(dir))
		return -ENOTDIR;
	c.machine = streq(arch, "arm64") ? EM_AARCH64_ : EM_X86_64_;

	if ((r = dir_walk(dir, NULL, check_name_entry, &c)) < 0)
		return r;
	if ((r = check_lists(&c)) < 0)
		return r;
	if (path_is_dir(files)) {
		r = dir_walk(dir, "files", check_file_entry, &c);
		if (r < 0)
			return r;
	} else
		findings_add(f, FINDING_WARNING, "files", "missing: nodes cannot download kubernetes binaries from the admin");
	if ((r = check_repos(&c)) < 0)
		return r;
	if (info->ansible_in_container) {
		_cleanup_free_ char *pypi = path_join(dir, "pypi");
		if (pypi && !path_is_dir(pypi))
			return findings_add(f, FINDING_NOTE, OUTPUTS_ANSIBLE_IMAGE,
					    "kubespray's Ansible runs in this image (ansible_in_container): no pypi/ mirror needed");
	}
	return check_pypi(&c);
}
