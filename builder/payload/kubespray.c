/* Where each download of the payload's kubespray is in files/, read from its download.yml, the
 * payload's files.list and files/ itself, and checked against its checksums.yml.
 *
 * The concrete values (versions, architecture names) are not computed here: kubespray-offline
 * ran kubespray's own contrib/offline/generate_list.sh, in which Ansible rendered every
 * *_download_url of download.yml, in order, into files.list. Each download.yml template is
 * matched against those lines with every {{ expression }} as a wildcard, which also reads back
 * what each expression evaluated to (runc_version = 1.3.4, ansible_architecture = x86_64). That
 * follows kubespray's Jinja and Ansible facts exactly (dict2items, select('version'), static
 * containerd, x86_64/aarch64 naming) without reimplementing them in C, and a files.list of
 * another kubespray shows up as lines that do not match. */
#include "kubespray.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../helper.h"
#include "archiveutil.h"
#include "fsutil.h"
#include "sbuf.h"
#include "sha256.h"
#include "strv.h"
#include "yamlnode.h"

/* kubespray 2.31's download.yml is ~60 KiB and checksums.yml ~150 KiB: generous caps, so a
 * hostile tarball or list cannot make the build read without bound. */
#define KS_YAML_MAX (4u * 1024 * 1024)
#define FILES_LIST_MAX (1024u * 1024)
#define TEMPLATE_EXPRS_MAX 16
#define CHECKSUM_DEPTH_MAX 4
#define CANDIDATES_MAX 8

enum { DOWNLOAD_YML, CHECKSUMS_YML, N_KS_YAML };
static const char *const ks_yaml[N_KS_YAML] = {
	[DOWNLOAD_YML] = "roles/kubespray_defaults/defaults/main/download.yml",
	[CHECKSUMS_YML] = "roles/kubespray_defaults/vars/main/checksums.yml",
};

struct ks {
	const char *dir, *arch;
	bool verify;
	uint64_t unpack_max;          /* decompressed bytes the tarball may take to read */
	struct findings *f;
	char *tarball;                /* "files/kubespray-2.30.0.tar.gz" */
	const char *version;          /* "2.30.0" */
	struct yn_doc *yaml[N_KS_YAML];
	char **lines;                 /* files.list; NULL when it is missing */
	int files_fd;                 /* outputs/files */
};

static void ks_done(struct ks *k)
{
	free(k->tarball);
	for (size_t i = 0; i < N_KS_YAML; i++)
		yn_doc_free(k->yaml[i]);
	strv_free(k->lines);
	if (k->files_fd >= 0)
		close(k->files_fd);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && streq(s + n - m, suffix);
}

/* files/kubespray-<v>.tar.gz; the newest version when there are several (kubespray-offline's
 * config.sh names one, so more is a leftover: a warning). -ENOENT when there is none. */
static int find_tarball(struct ks *k, char **ret_version)
{
	_cleanup_free_ char *files = path_join(k->dir, "files"), *best = NULL;
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	if (!files)
		return -ENOMEM;
	d = opendir(files);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "kubespray-", 10) != 0 || !has_suffix(de->d_name, ".tar.gz") ||
		    strlen(de->d_name) <= 17 || de->d_type == DT_DIR)
			continue;
		n++;
		if (!best || strverscmp(de->d_name, best) > 0) {
			free(best);
			if (!(best = strdup(de->d_name))) {
				closedir(d);
				return -ENOMEM;
			}
		}
	}
	closedir(d);
	if (!best)
		return -ENOENT;
	if (n > 1)
		findings_add(k->f, FINDING_WARNING, "files", "%zu kubespray tarballs; offline.yml follows files/%s", n, best);
	if (asprintf(&k->tarball, "files/%s", best) < 0)
		return -ENOMEM;
	*ret_version = strndup(best + 10, strlen(best) - 17);
	return *ret_version ? 0 : -ENOMEM;
}

/* The YAML files of ks_yaml[] from the tarball, each parsed; what is missing or bad is a finding
 * and leaves its document NULL. */
static int read_tarball(struct ks *k)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	_cleanup_free_ char *path = path_join(k->dir, k->tarball), *error = NULL;
	struct archive_entry *e;
	size_t found = 0;
	int r;

	if (!path)
		return -ENOMEM;
	if (archive_open_tar_file(path, &a, &error) < 0)
		return findings_add(k->f, FINDING_ERROR, k->tarball, "cannot be read: %s", error ? error : "?");
	while (found < N_KS_YAML && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *raw = archive_entry_pathname(e), *name = raw ? archive_path_relative(raw) : "";
		const char *below = strchr(name, '/');

		if (interrupted())
			return -EINTR;
		_cleanup_free_ char *why = NULL;
		if ((r = archive_entry_bounded(a, e, k->unpack_max, &why)) < 0)
			return r == -ENOMEM ? r
					    : findings_add(k->f, FINDING_ERROR, k->tarball, "%s%s", why ? why : strerror(-r),
							   r == -EFBIG ? " (payload.max_image_size, --max-image-size)" : "");
		if (!below || archive_entry_filetype(e) != AE_IFREG)
			continue;
		for (size_t i = 0; i < N_KS_YAML; i++) {
			_cleanup_free_ char *text = NULL, *where = NULL, *yerr = NULL;
			size_t len = 0;

			if (k->yaml[i] || !streq(below + 1, ks_yaml[i]))
				continue;
			found++;
			if (asprintf(&where, "%s:%s", k->tarball, name) < 0)
				return -ENOMEM;
			r = archive_read_data_alloc(a, KS_YAML_MAX, &text, &len);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				findings_add(k->f, FINDING_ERROR, where, "%s", r == -EFBIG ? "larger than 4 MiB: not kubespray's"
										  : archive_error(a));
			else if ((r = yn_doc_load_data(where, text, len, &k->yaml[i], &yerr)) == -ENOMEM)
				return r;
			else if (r < 0)
				findings_add(k->f, FINDING_ERROR, NULL, "%s", yerr ? yerr : where);
		}
	}
	if (found < N_KS_YAML && r != ARCHIVE_EOF)
		return findings_add(k->f, FINDING_ERROR, k->tarball, "cannot be read: %s", archive_error(a));
	for (size_t i = 0; i < N_KS_YAML; i++)
		if (!k->yaml[i] && found < N_KS_YAML)
			findings_add(k->f, FINDING_ERROR, k->tarball, "has no kubespray-*/%s: not kubespray's release tarball, "
				     "so offline.yml names none of its downloads", ks_yaml[i]);
	return 0;
}

/* A top-level scalar of download.yml, NULL when absent. */
static const char *download_yml_scalar(struct ks *k, const char *key)
{
	struct yn_doc *d = k->yaml[DOWNLOAD_YML];
	return yn_scalar(yn_map_get(d, yn_doc_root(d), key));
}

/* ---- templates ---- */

/* "A{{ x }}B{{ y }}C": the literals A, B, C around the expressions x, y (trimmed). */
struct tmpl {
	const char *lit[TEMPLATE_EXPRS_MAX + 1];
	size_t lit_len[TEMPLATE_EXPRS_MAX + 1];
	char expr[TEMPLATE_EXPRS_MAX][128];
	size_t n;                     /* expressions */
	const char *cap[TEMPLATE_EXPRS_MAX]; /* what each matched in the URL */
	size_t cap_len[TEMPLATE_EXPRS_MAX];
};

static int tmpl_parse(const char *s, struct tmpl *t)
{
	*t = (struct tmpl){ .lit = { s } };
	for (;;) {
		const char *open = strstr(s, "{{"), *close = open ? strstr(open, "}}") : NULL;
		const char *b, *e;

		if (!open || !close) {
			t->lit_len[t->n] = strlen(s);
			return 0;
		}
		if (t->n == TEMPLATE_EXPRS_MAX)
			return -E2BIG;
		t->lit_len[t->n] = (size_t)(open - s);
		for (b = open + 2; isspace((unsigned char)*b); b++)
			;
		for (e = close; e > b && isspace((unsigned char)e[-1]); e--)
			;
		if ((size_t)(e - b) >= sizeof(t->expr[0]))
			return -E2BIG;
		memcpy(t->expr[t->n], b, e - b);
		t->expr[t->n][e - b] = '\0';
		s = close + 2;
		t->lit[++t->n] = s;
	}
}

/* An expression met twice must have matched the same text both times. */
static bool tmpl_consistent(const struct tmpl *t, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (streq(t->expr[j], t->expr[i]) &&
		    (t->cap_len[j] != t->cap_len[i] || memcmp(t->cap[j], t->cap[i], t->cap_len[i]) != 0))
			return false;
	return true;
}

/* Match expression I and everything after it at S (literal I is behind). Shortest captures
 * first; after an expression only the places where the next literal occurs are tried. */
static bool tmpl_match_from(struct tmpl *t, size_t i, const char *s)
{
	const char *lit, *p;
	size_t n;

	if (i == t->n)
		return *s == '\0';
	lit = t->lit[i + 1];
	n = t->lit_len[i + 1];
	for (p = s;; p++) {
		if (i + 1 == t->n) { /* the last literal ends the URL */
			size_t rest = strlen(s);
			if (rest < n || strncmp(s + rest - n, lit, n) != 0)
				return false;
			p = s + rest - n;
		} else if (n && !(p = memmem(p, strlen(p), lit, n)))
			return false;
		t->cap[i] = s;
		t->cap_len[i] = (size_t)(p - s);
		if (tmpl_consistent(t, i) && tmpl_match_from(t, i + 1, p + n))
			return true;
		if (i + 1 == t->n || !*p)
			return false;
	}
}

static bool tmpl_match(struct tmpl *t, const char *url)
{
	return strncmp(url, t->lit[0], t->lit_len[0]) == 0 && tmpl_match_from(t, 0, url + t->lit_len[0]);
}

/* What the expression that is exactly VAR matched, as a new string; NULL when there is none. */
static char *tmpl_value(const struct tmpl *t, const char *var, size_t var_len)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->expr[i]) == var_len && strncmp(t->expr[i], var, var_len) == 0)
			return strndup(t->cap[i], t->cap_len[i]);
	return NULL;
}

int kubespray_match(const char *template, const char *url, const char *var, char **ret_value)
{
	struct tmpl t;
	int r = tmpl_parse(template, &t);

	if (ret_value)
		*ret_value = NULL;
	if (r < 0)
		return r;
	if (!tmpl_match(&t, url))
		return 0;
	for (size_t i = 0; ret_value && var && i < t.n; i++)
		if (streq(t.expr[i], var))
			return (*ret_value = strndup(t.cap[i], t.cap_len[i])) ? 1 : -ENOMEM;
	return 1;
}

/* ---- where kubespray-offline saves a URL ---- */

/* download-kubespray-files.sh's decide_relative_dir(): its sed substitutions in order, each
 * replacing the first match; a URL none of them changes goes to kubernetes/calico when it names
 * /calico/, else to the top of files/. Its quirks are kept (yq's pattern leaves the architecture
 * after the version: yq/v4.47.1amd64/yq_linux_amd64), as the files are where it put them. */
static const struct {
	const char *re, *dir;
} relative_dir_rules[] = {
	{ ".*/(v[0-9.]*)/.*/kube(adm|ctl|let)", "kubernetes/\\1" },
	{ ".*/etcd-.*.tar.gz", "kubernetes/etcd" },
	{ ".*/cni-plugins.*.tgz", "kubernetes/cni" },
	{ ".*/crictl-.*.tar.gz", "kubernetes/cri-tools" },
	{ ".*/(v.*)/calicoctl-.*", "kubernetes/calico/\\1" },
	{ ".*/(v.*)/runc.%s", "runc/\\1" }, /* %s: the nodes' architecture (IMAGE_ARCH) */
	{ ".*/(v.*)/cilium-linux-.*", "cilium-cli/\\1" },
	{ ".*/([^/]*)/([^/]*)/runsc", "gvisor/\\1/\\2" },
	{ ".*/([^/]*)/([^/]*)/containerd-shim-runsc-v1", "gvisor/\\1/\\2" },
	{ ".*/(v[^/]*)/skopeo-linux-.*", "skopeo/\\1" },
	{ ".*/(v[^/]*)/yq_linux_*", "yq/\\1" },
};

/* S with the first match of RE replaced by DIR (\1, \2 its groups); NULL when out of memory. */
static char *sed_substitute(const char *s, const char *re, const char *dir)
{
	regex_t rx;
	regmatch_t m[3];
	struct sbuf b = SBUF_INIT;
	char *out = NULL;

	if (regcomp(&rx, re, REG_EXTENDED) != 0)
		return NULL;
	if (regexec(&rx, s, ARRAY_SIZE(m), m, 0) != 0) {
		regfree(&rx);
		return strdup(s);
	}
	sbuf_putn(&b, s, m[0].rm_so);
	for (const char *p = dir; *p; p++) {
		int g = p[0] == '\\' && (p[1] == '1' || p[1] == '2') ? p[1] - '0' : 0;
		if (g && m[g].rm_so >= 0) {
			sbuf_putn(&b, s + m[g].rm_so, m[g].rm_eo - m[g].rm_so);
			p++;
		} else if (!g)
			sbuf_putn(&b, p, 1);
		else
			p++;
	}
	sbuf_puts(&b, s + m[0].rm_eo);
	regfree(&rx);
	if (sbuf_finish(&b, &out, NULL) < 0)
		return NULL;
	return out;
}

char *kubespray_payload_path(const char *url, const char *arch)
{
	const char *base = strrchr(url, '/') ? strrchr(url, '/') + 1 : url;
	_cleanup_free_ char *rdir = strdup(url);
	char *path = NULL;

	for (size_t i = 0; rdir && i < ARRAY_SIZE(relative_dir_rules); i++) {
		_cleanup_free_ char *re = NULL;
		char *next;

		if (asprintf(&re, relative_dir_rules[i].re, arch) < 0)
			return NULL;
		next = sed_substitute(rdir, re, relative_dir_rules[i].dir);
		free(rdir);
		rdir = next;
	}
	if (!rdir)
		return NULL;
	if (streq(rdir, url)) {
		free(rdir);
		rdir = strdup(strstr(url, "/calico/") ? "kubernetes/calico" : "");
		if (!rdir)
			return NULL;
	}
	if (asprintf(&path, "%s%s%s", rdir, rdir[0] ? "/" : "", base) < 0)
		return NULL;
	return path;
}

/* ---- checksums ---- */

struct candidate {
	char *table, *key, *version; /* checksums.yml[table][key][version] */
	const char *want;            /* its value, NULL when it has none */
};

struct candidates {
	struct candidate v[CANDIDATES_MAX];
	size_t n;
};

static void candidates_done(struct candidates *c)
{
	for (size_t i = 0; i < c->n; i++)
		FREE_ALL(c->v[i].table, c->v[i].key, c->v[i].version);
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* The checksum tables EXPR reads: TABLE[image_arch][VERSION_VAR] and TABLE.no_arch[VERSION_VAR],
 * also through download.yml's *_checksum variables (containerd_checksum names two). */
static int checksum_candidates(struct ks *k, const struct tmpl *t, const char *expr, unsigned depth,
			       struct candidates *out)
{
	for (const char *p = expr; *p;) {
		const char *end = p, *vs = NULL, *key = k->arch, *ve;
		struct candidate *c;

		if (!(isalpha((unsigned char)*p) || *p == '_') || (p > expr && (ident_char(p[-1]) || p[-1] == '\''))) {
			p++;
			continue;
		}
		while (ident_char(*end))
			end++;
		if (strncmp(end, "[image_arch][", 13) == 0)
			vs = end + 13;
		else if (strncmp(end, ".no_arch[", 9) == 0)
			vs = end + 9, key = "no_arch";
		if (!vs || !(ve = strchr(vs, ']'))) {
			_cleanup_free_ char *name = strndup(p, end - p);
			const char *value;

			if (!name)
				return -ENOMEM;
			if (has_suffix(name, "_checksum") && depth < CHECKSUM_DEPTH_MAX &&
			    (value = download_yml_scalar(k, name)) && checksum_candidates(k, t, value, depth + 1, out) < 0)
				return -ENOMEM;
			p = end;
			continue;
		}
		if (out->n == CANDIDATES_MAX)
			return 0;
		c = &out->v[out->n++];
		c->table = strndup(p, end - p);
		c->key = strdup(key);
		c->version = tmpl_value(t, vs, ve - vs);
		if (!c->table || !c->key)
			return -ENOMEM;
		p = ve + 1;
	}
	return 0;
}

/* The checksum expression of the downloads: entry that fetches VAR ("{{ runc_download_url }}"). */
static const char *downloads_checksum(struct ks *k, const char *var)
{
	struct yn_doc *d = k->yaml[DOWNLOAD_YML];
	yaml_node_t *downloads = yn_map_get(d, yn_doc_root(d), "downloads");
	yaml_node_pair_t *pairs;
	size_t n;

	pairs = yn_map_pairs(downloads, &n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *entry = yaml_document_get_node(&d->doc, pairs[i].value);
		const char *url = yn_scalar(yn_map_get(d, entry, "url")), *b, *e;

		if (!url || !(b = strstr(url, "{{")) || !(e = strstr(b, "}}")))
			continue;
		for (b += 2; isspace((unsigned char)*b); b++)
			;
		for (; e > b && isspace((unsigned char)e[-1]); e--)
			;
		if ((size_t)(e - b) == strlen(var) && strncmp(b, var, e - b) == 0)
			return yn_scalar(yn_map_get(d, entry, "checksum"));
	}
	return NULL;
}

static bool sum_equal(const char *want, const char *hex)
{
	if (strncmp(want, "sha256:", 7) == 0)
		want += 7;
	return strcasecmp(want, hex) == 0;
}

/* Hash files/PATH and compare it with kubespray's checksum for VAR's download, as the node will.
 * Nothing to compare (no downloads: entry, or tables this gapbox cannot read) says nothing. */
static int verify_checksum(struct ks *k, const char *var, const struct tmpl *t, const char *path)
{
	struct yn_doc *d = k->yaml[CHECKSUMS_YML];
	const char *expr = downloads_checksum(k, var);
	_cleanup_free_ char *file = NULL, *full = NULL, *why = NULL;
	struct candidates c = { 0 };
	char hex[SHA256_HEX_LEN + 1];
	struct sbuf b = SBUF_INIT;
	size_t known = 0;
	int r;

	if (!expr || !d)
		return 0;
	r = checksum_candidates(k, t, expr, 0, &c);
	for (size_t i = 0; r >= 0 && i < c.n; i++) {
		yaml_node_t *table = yn_map_get(d, yn_doc_root(d), c.v[i].table);

		if (!table)
			continue; /* a table this kubespray does not have: nothing to compare with */
		if (c.v[i].version)
			c.v[i].want = yn_scalar(yn_map_get(d, yn_map_get(d, table, c.v[i].key), c.v[i].version));
		sbuf_printf(&b, "%s%s[%s][%s] is %s", known++ ? ", " : "", c.v[i].table, c.v[i].key,
			    c.v[i].version ? c.v[i].version : "?", c.v[i].want ? c.v[i].want : "missing");
	}
	if (r < 0 || !known)
		goto out;
	if (asprintf(&file, "files/%s", path) < 0 || !(full = path_join(k->dir, file)) || sbuf_finish(&b, &why, NULL) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = gb_sha256_file(full, hex, NULL);
	if (r < 0) {
		r = r == -ENOMEM ? r : findings_add(k->f, FINDING_ERROR, file, "cannot be read: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < c.n; i++)
		if (c.v[i].want && sum_equal(c.v[i].want, hex))
			goto out;
	r = findings_add(k->f, FINDING_ERROR, file, "sha256 %s is not kubespray %s's checksum for %s (%s): kubespray "
		     "would refuse the file on the node", hex, k->version, var, why);
out:
	sbuf_free(&b);
	candidates_done(&c);
	return r < 0 ? r : 0;
}

/* ---- the downloads ---- */

static int files_list_load(struct ks *k)
{
	_cleanup_free_ char *path = path_join(k->dir, "files/files.list"), *text = NULL;
	char *save = NULL;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_file(path, FILES_LIST_MAX, &text, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return findings_add(k->f, FINDING_WARNING, "files/files.list",
				    "cannot be read (%s): offline.yml names none of kubespray's downloads", strerror(-r));
	if (!(k->lines = calloc(1, sizeof(char *))))
		return -ENOMEM;
	for (char *l = strtok_r(text, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save))
		if (*l && *l != '#' && (r = strv_push(&k->lines, l)) < 0)
			return r;
	return 0;
}

/* A relative path that stays below its folder: no "", "." or ".." component (files.list is
 * input, and a URL's parts become folders). */
static bool path_below(const char *path)
{
	for (const char *p = path;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* One *_download_url: where its file is, or why it is left out. */
static int resolve_download(struct ks *k, const char *var, const char *template, struct payload_record_kubespray *ret)
{
	_cleanup_free_ char *path = NULL, *absent = NULL;
	struct tmpl t;
	const char *url = NULL;
	struct stat st;
	int r;

	if (tmpl_parse(template, &t) < 0) {
		r = asprintf(&absent, "its template in download.yml is too complex for gapbox to read");
		goto add;
	}
	if (!k->lines) {
		r = asprintf(&absent, "files/files.list is missing");
		goto add;
	}
	for (char **l = k->lines; *l && !url; l++)
		if (tmpl_match(&t, *l))
			url = *l;
	if (!url) {
		findings_add(k->f, FINDING_WARNING, "files/files.list", "no line matches %s's %s (%s): a list of "
			     "another kubespray?", k->tarball, var, template);
		r = asprintf(&absent, "no URL in files/files.list matches it");
		goto add;
	}
	if (!(path = kubespray_payload_path(url, k->arch)))
		return -ENOMEM;
	if (!path_below(path)) {
		findings_add(k->f, FINDING_ERROR, "files/files.list", "%s: the URL for %s names no file below files/",
			     url, var);
		r = asprintf(&absent, "its URL in files/files.list names no file below files/");
		free(path);
		path = NULL;
		goto add;
	}
	if (fstatat(k->files_fd, path, &st, 0) < 0 || !S_ISREG(st.st_mode)) {
		r = asprintf(&absent, "files/%s (from %s) is not in the payload", path, url);
		free(path);
		path = NULL;
		goto add;
	}
	r = k->verify ? verify_checksum(k, var, &t, path) : 0;
	if (r < 0)
		return r;
add:
	if (r < 0)
		return -ENOMEM;
	return payload_record_add_download(ret, &(struct payload_record_download){
		.variable = (char *)var, .path = path, .absent = absent });
}

int kubespray_read(const char *dir, const char *arch, bool verify, uint64_t unpack_max, struct findings *f,
		   struct payload_record_kubespray *ret)
{
	_cleanup_(ks_done) struct ks k = { .dir = dir, .arch = arch, .verify = verify, .unpack_max = unpack_max, .f = f,
					   .files_fd = -1 };
	_cleanup_free_ char *files = path_join(dir, "files");
	struct yn_doc *d;
	yaml_node_pair_t *pairs;
	size_t n;
	int r;

	*ret = (struct payload_record_kubespray){ 0 };
	if (!files)
		return -ENOMEM;
	r = find_tarball(&k, &ret->version);
	if (r == -ENOENT)
		return 0;
	k.version = ret->version;
	if (r >= 0 && !(ret->tarball = strdup(k.tarball)))
		r = -ENOMEM;
	if (r >= 0)
		r = read_tarball(&k);
	if (r >= 0)
		r = files_list_load(&k);
	if (r < 0 || !(d = k.yaml[DOWNLOAD_YML]))
		return r;
	k.files_fd = open(files, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pairs = yn_map_pairs(yn_doc_root(d), &n);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		const char *key = yn_scalar(yaml_document_get_node(&d->doc, pairs[i].key));
		const char *value = yn_scalar(yaml_document_get_node(&d->doc, pairs[i].value));

		if (interrupted())
			return -EINTR;
		if (key && value && has_suffix(key, "_download_url"))
			r = resolve_download(&k, key, value, ret);
	}
	return r;
}
