/* gapbox-kubespray (kubespray.h): the workspace kubespray runs from on the admin. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adminkey.h"
#include "error.h"
#include "firstboot.h"
#include "fsutil.h"
#include "kubespray.h"
#include "log.h"
#include "payloadrecord.h"
#include "sbuf.h"
#include "site.h"
#include "spawn.h"
#include "status.h"
#include "strv.h"
#include "sumsfile.h"
#include "tls.h"

#define TEXT_MAX (1 << 20)


/* What init and preflight work on, resolved from the options. */
struct workspace {
	const struct fb_kubespray_options *o;
	const char *root;          /* the workspace folder */
	const char *payload;
	const char *node_files;
	const char *cluster;
	struct payload_record rec;
	char *kubespray;           /* ROOT/kubespray-<v> */
	char *inventory;           /* KUBESPRAY/inventory/<cluster> */
	char **written;            /* the record: "HEX  PATH" lines as read, PATH relative to ROOT */
};

static void workspace_done(struct workspace *w)
{
	payload_record_done(&w->rec);
	free(w->kubespray);
	free(w->inventory);
	strv_free(w->written);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A cluster name becomes a folder name and an argument: one label of letters, digits, - and _. */
static bool cluster_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n &&
	       s[0] != '-';
}

static const char *ssh_key(const struct fb_kubespray_options *o) { return o->ssh_key ? o->ssh_key : FB_ADMIN_KEY; }

static int workspace_open(const struct fb_kubespray_options *o, struct workspace *w)
{
	_cleanup_free_ char *record = NULL, *error = NULL;
	int r;

	*w = (struct workspace){
		.o = o,
		.root = o->workspace ? o->workspace : FB_KUBESPRAY_WORKSPACE,
		.payload = o->payload ? o->payload : GB_RUN_PAYLOAD,
		.node_files = o->node_files ? o->node_files : GB_RUN_NODE_FILES,
		.cluster = o->cluster ? o->cluster : FB_KUBESPRAY_CLUSTER,
	};
	if (!cluster_name_ok(w->cluster))
		return log_error_errno(-EINVAL, "cluster name '%s': expected letters, digits, - and _ (a folder under inventory/)",
				       w->cluster);
	record = path_join(w->payload, GB_PAYLOAD_RECORD);
	if (!record)
		return -ENOMEM;
	r = payload_record_load(record, &w->rec, &error);
	if (r == -ENOENT)
		return log_error_errno(r, "%s: no payload record: this admin has no payload (gapbox build --outputs)", record);
	if (r < 0)
		return log_error_errno(r, "%s: %s", record, error ? error : strerror(-r));
	if (!w->rec.kubespray.version || !w->rec.kubespray.tarball)
		return log_error_errno(-ENOENT, "the payload carries no kubespray (files/kubespray-<version>.tar.gz, %s): "
				       "there is nothing to deploy from", record);
	if (asprintf(&w->kubespray, "%s/kubespray-%s", w->root, w->rec.kubespray.version) < 0 ||
	    asprintf(&w->inventory, "%s/inventory/%s", w->kubespray, w->cluster) < 0)
		return -ENOMEM;
	return 0;
}

/* ---------------------------------------------------------------- the record of what we wrote */

static int written_load(struct workspace *w)
{
	_cleanup_free_ char *path = path_join(w->root, FB_KUBESPRAY_WRITTEN), *text = NULL;
	char *save = NULL;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_file(path, TEXT_MAX, &text, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", path);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if ((r = strv_push(&w->written, line)) < 0)
			return r;
	return 0;
}

/* The sha256 recorded for REL, or NULL. */
static const char *written_hash(const struct workspace *w, const char *rel, char hex[static SHA256_HEX_LEN + 1])
{
	for (char **l = w->written; l && *l; l++) {
		_cleanup_free_ char *name = NULL;

		if (sums_line_parse(*l, hex, &name) == 0 && streq(name, rel))
			return hex;
	}
	return NULL;
}

static int written_set(struct workspace *w, const char *rel, const char *hex)
{
	_cleanup_free_ char *path = path_join(w->root, FB_KUBESPRAY_WRITTEN), *text = NULL;
	char **kept = NULL;
	struct sbuf b = SBUF_INIT;
	size_t len;
	int r;

	if (!path)
		return -ENOMEM;
	for (char **l = w->written; l && *l; l++) {
		_cleanup_free_ char *name = NULL;
		char h[SHA256_HEX_LEN + 1];

		if (sums_line_parse(*l, h, &name) == 0 && streq(name, rel))
			continue;
		if ((r = strv_push(&kept, *l)) < 0) {
			strv_free(kept);
			return r;
		}
	}
	if (asprintf(&text, "%s  %s", hex, rel) < 0 || strv_consume(&kept, TAKE_PTR(text)) < 0) {
		strv_free(kept);
		return -ENOMEM;
	}
	strv_free(w->written);
	w->written = kept;
	for (char **l = w->written; *l; l++)
		sbuf_printf(&b, "%s\n", *l);
	r = sbuf_finish(&b, &text, &len);
	if (r < 0)
		return r;
	r = write_file_atomic(path, text, len, 0644);
	return r < 0 ? log_error_errno(r, "cannot write %s: %m", path) : 0;
}

static int mkdir_parent(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	return mkdir_p(dir, 0755);
}

/* Put the file SRC at REL (relative to the workspace), unless the operator has made it theirs: a
 * file there that gapbox did not write, or wrote and someone edited since, is kept. FRESH: REL
 * is a copy of kubespray's sample made by this run, not the operator's. */
static int place(struct workspace *w, const char *src, const char *rel, bool fresh)
{
	_cleanup_free_ char *dest = path_join(w->root, rel), *want = NULL, *have = NULL;
	char want_hex[SHA256_HEX_LEN + 1], have_hex[SHA256_HEX_LEN + 1], rec_hex[SHA256_HEX_LEN + 1];
	size_t want_len, have_len;
	const char *rec;
	int r;

	if (!dest)
		return -ENOMEM;
	r = read_file(src, TEXT_MAX, &want, &want_len);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m (gapbox-firstboot writes it at every boot)", src);
	if (gb_sha256_data(want, want_len, want_hex) < 0)
		return -ENOMEM;
	rec = written_hash(w, rel, rec_hex);
	r = read_file(dest, TEXT_MAX, &have, &have_len);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "cannot read %s: %m", dest);
	if (r >= 0) {
		if (gb_sha256_data(have, have_len, have_hex) < 0)
			return -ENOMEM;
		if (streq(have_hex, want_hex)) {
			log_info("%s: up to date", rel);
			return rec && streq(rec, want_hex) ? 0 : written_set(w, rel, want_hex);
		}
		if (!fresh && !(rec && streq(rec, have_hex))) {
			log_notice("%s: kept as it is, %s since gapbox wrote it; gapbox's version is %s", rel,
				   rec ? "edited" : "not written by gapbox, or edited", src);
			return 0;
		}
	}
	r = mkdir_parent(dest);
	if (r < 0)
		return log_error_errno(r, "cannot make the folder of %s: %m", dest);
	r = write_file_atomic(dest, want, want_len, 0644);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", dest);
	log_info("%s: %s from %s", rel, have ? "updated" : "written", src);
	return written_set(w, rel, want_hex);
}

/* ---------------------------------------------------------------- extracting kubespray */

/* GNU tar (Essential in Debian; the admin image has no libarchive): it refuses names with "..",
 * strips a leading "/", and makes symlinks last, so nothing lands outside DIR. The tarball was read
 * through the builder's caps when the payload was staged. */
static int extract(const char *tarball, const char *dir, const char *log)
{
	char *argv[] = { "tar", "-x", "-f", (char *)tarball, "-C", (char *)dir, "--no-same-owner", "--no-same-permissions",
			 "--no-overwrite-dir", NULL };
	int r;

	(void)unlink(log);
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log });
	if (r != 0) {
		_cleanup_free_ char *tail = gb_log_tail(log, 600);

		return log_error_errno(r < 0 ? r : -EIO, "tar -xf %s failed: %s", tarball, tail ? tail : "");
	}
	(void)unlink(log);
	return 0;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The .patch files of PAYLOAD/patches/<version>/ in name order, as kubespray-offline's extract-kubespray.sh
 * applies them (patch -p1 in the kubespray folder). Busybox's patch when the admin has no other. */
static int apply_patches(struct workspace *w, const char *dir)
{
	_cleanup_free_ char *pdir = NULL;
	_cleanup_strv_free_ char **patches = NULL;
	const char *tool = access("/usr/bin/patch", X_OK) == 0 ? "patch" : "busybox";
	DIR *d;
	struct dirent *de;
	size_t n = 0;
	int r;

	if (asprintf(&pdir, "%s/patches/%s", w->payload, w->rec.kubespray.version) < 0)
		return -ENOMEM;
	d = opendir(pdir);
	if (!d)
		return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot read %s: %m", pdir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len > 6 && streq(de->d_name + len - 6, ".patch") && (r = strv_push(&patches, de->d_name)) < 0) {
			closedir(d);
			return r;
		}
	}
	closedir(d);
	for (char **p = patches; p && *p; p++)
		n++;
	if (n)
		qsort(patches, n, sizeof(char *), name_cmp);
	for (char **p = patches; p && *p; p++) {
		_cleanup_free_ char *file = path_join(pdir, *p), *log = path_join(w->root, "patch.log");
		char *argv_patch[] = { "patch", "-p1", "-i", file, NULL };
		char *argv_busybox[] = { "busybox", "patch", "-p1", "-i", file, NULL };

		if (!file || !log)
			return -ENOMEM;
		(void)unlink(log);
		r = gb_run(streq(tool, "patch") ? argv_patch : argv_busybox, &(struct gb_spawn_opts){ .log_path = log, .cwd = dir });
		if (r != 0) {
			_cleanup_free_ char *tail = gb_log_tail(log, 600);

			return log_error_errno(r < 0 ? r : -EIO, "%s does not apply to kubespray %s: %s", file,
					       w->rec.kubespray.version, tail ? tail : "");
		}
		(void)unlink(log);
		log_info("applied %s", file);
	}
	return 0;
}

/* ROOT/kubespray-<v>: extracted into a temporary folder beside it, patched, then renamed, so it is
 * there whole or not at all. A folder already there is the operator's now and is kept. */
static int extract_kubespray(struct workspace *w)
{
	_cleanup_free_ char *tarball = path_join(w->payload, w->rec.kubespray.tarball), *tmp = NULL, *inner = NULL;
	_cleanup_free_ char *log = path_join(w->root, "tar.log");
	struct timespec t0;
	int r;

	if (!tarball || !log)
		return -ENOMEM;
	if (path_is_dir(w->kubespray)) {
		log_info("%s: kept (extracted before; remove it to extract %s again)", w->kubespray, w->rec.kubespray.tarball);
		return 0;
	}
	if (asprintf(&tmp, "%s/.kubespray-%s.tmp", w->root, w->rec.kubespray.version) < 0 ||
	    asprintf(&inner, "%s/kubespray-%s", tmp, w->rec.kubespray.version) < 0)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	(void)rm_rf(tmp);
	r = mkdir_p(tmp, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot make %s: %m", tmp);
	r = extract(tarball, tmp, log);
	if (r >= 0 && !path_is_dir(inner))
		r = log_error_errno(-EINVAL, "%s holds no kubespray-%s/ folder, as kubespray's release tarballs do", tarball,
				    w->rec.kubespray.version);
	if (r >= 0)
		r = apply_patches(w, inner);
	if (r >= 0 && rename(inner, w->kubespray) < 0)
		r = log_error_errno(-errno, "cannot rename %s to %s: %m", inner, w->kubespray);
	(void)rm_rf(tmp);
	if (r < 0)
		return r;
	log_info("extracted %s into %s in %.1f s", tarball, w->kubespray, seconds_since(&t0));
	return 0;
}

/* ---------------------------------------------------------------- the Python requirements */

int fb_requirement_parse(const char *line, char **ret_name, char **ret_version)
{
	const char *p = line + strspn(line, " \t"), *end;
	_cleanup_free_ char *name = NULL;
	size_t n = 0, len;

	*ret_name = *ret_version = NULL;
	if (!*p || *p == '#' || *p == '-' || *p == '\r')
		return -ENOENT;
	len = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
	if (len == 0 || !isalnum((unsigned char)p[0]))
		return -EINVAL;
	name = malloc(len + 1);
	if (!name)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (c == '-' || c == '_' || c == '.') {
			if (n > 0 && name[n - 1] != '-')
				name[n++] = '-';
		} else
			name[n++] = (char)tolower((unsigned char)c);
	}
	while (n > 0 && name[n - 1] == '-')
		n--;
	name[n] = '\0';
	p += len;
	p += strspn(p, " \t");
	if (*p == '[') { /* extras: the same distribution */
		end = strchr(p, ']');
		if (!end)
			return -EINVAL;
		p = end + 1;
		p += strspn(p, " \t");
	}
	if (p[0] == '=' && p[1] == '=' && p[2] != '=') {
		p += 2;
		p += strspn(p, " \t");
		len = strcspn(p, " \t;#,\r");
		if (len == 0 || memchr(p, '*', len))
			len = 0; /* ==1.* is a range, not a pin */
		if (len && !(*ret_version = strndup(p, len)))
			return -ENOMEM;
	} else if (*p && !strchr("<>=!~;#\r", *p))
		return -EINVAL;
	*ret_name = TAKE_PTR(name);
	return 0;
}

/* The version in a file name of the mirror: NAME-VERSION-... .whl or NAME-VERSION.tar.gz / .zip. */
static char *file_version(const char *file)
{
	const char *dash = strchr(file, '-'), *end;
	size_t len = strlen(file);

	if (!dash)
		return NULL;
	if (len > 4 && streq(file + len - 4, ".whl")) {
		end = strchr(dash + 1, '-');
		return end ? strndup(dash + 1, (size_t)(end - dash - 1)) : NULL;
	}
	/* An sdist: the version is after the last dash that a digit follows. */
	for (const char *d = strrchr(file, '-'); d; d = NULL) {
		if (!isdigit((unsigned char)d[1]))
			return NULL;
		for (const char *sfx = ".tar.gz\0.tar.bz2\0.zip\0.tgz\0"; *sfx; sfx += strlen(sfx) + 1)
			if (len > strlen(sfx) && streq(file + len - strlen(sfx), sfx))
				return strndup(d + 1, (size_t)(file + len - strlen(sfx) - d - 1));
	}
	return NULL;
}

int fb_mirror_has(const char *pypi, const char *name, const char *version, char **ret_versions)
{
	_cleanup_free_ char *dir = path_join(pypi, name);
	_cleanup_strv_free_ char **versions = NULL;
	struct sbuf b = SBUF_INIT;
	struct dirent *de;
	bool found = false;
	DIR *d;
	int r = 0;

	if (ret_versions)
		*ret_versions = NULL;
	if (!dir)
		return -ENOMEM;
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		return ret_versions && !(*ret_versions = strdup("")) ? -ENOMEM : 0;
	}
	while ((de = readdir(d)) && r >= 0) {
		_cleanup_free_ char *v = NULL;

		if (de->d_name[0] == '.' || streq(de->d_name, "index.html") || !(v = file_version(de->d_name)))
			continue;
		if (!version || streq(v, version))
			found = true;
		if (!strv_contains(versions, v))
			r = strv_push(&versions, v);
	}
	closedir(d);
	if (r < 0)
		return r;
	if (ret_versions) {
		if (versions)
			strv_sort(versions);
		for (char **v = versions; v && *v; v++)
			sbuf_printf(&b, "%s%s", v == versions ? "" : ", ", *v);
		r = sbuf_finish(&b, ret_versions, NULL);
		if (r < 0)
			return r;
	}
	return found;
}

/* Every requirement of REQS that the mirror lacks, named before anything is installed. */
static int check_requirements(const char *reqs, const char *pypi)
{
	_cleanup_free_ char *text = NULL;
	struct sbuf missing = SBUF_INIT;
	unsigned lineno = 0, n = 0, bad = 0;
	int r;

	r = read_file(reqs, TEXT_MAX, &text, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", reqs);
	for (char *line = text, *next; line; line = next) {
		_cleanup_free_ char *name = NULL, *version = NULL, *have = NULL;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		r = fb_requirement_parse(line, &name, &version);
		if (r == -ENOENT) {
			const char *opt = line + strspn(line, " \t");

			if (*opt == '-')
				log_notice("%s:%u: '%s' is left to pip: what it names is not checked against the mirror first",
					   reqs, lineno, opt);
			continue;
		}
		if (r == -EINVAL) {
			log_error("%s:%u: expected a requirement (NAME, NAME==VERSION, ...), got '%s'", reqs, lineno, line);
			bad++;
			continue;
		}
		if (r < 0)
			return r;
		n++;
		r = fb_mirror_has(pypi, name, version, &have);
		if (r < 0)
			return log_error_errno(r, "cannot read %s/%s: %m", pypi, name);
		if (r == 0) {
			sbuf_printf(&missing, "%s%s%s%s (%s%s)", missing.len ? ", " : "", name, version ? "==" : "",
				    version ? version : "", have && *have ? "the mirror has " : "not in the mirror",
				    have && *have ? have : "");
			bad++;
		}
	}
	if (missing.len) {
		_cleanup_free_ char *list = NULL;

		if (sbuf_finish(&missing, &list, NULL) < 0)
			return -ENOMEM;
		return log_error_errno(-ENOENT, "%s names what the admin's PyPI mirror (%s) lacks: %s; nothing was installed. "
				       "Build the payload with the same kubespray as config.sh's KUBESPRAY_VERSION "
				       "(kubespray-offline's pypi-mirror.sh reads its requirements.txt)", reqs, pypi, list);
	}
	sbuf_free(&missing);
	if (bad)
		return -EINVAL;
	log_info("%s: all %u requirements are in the admin's PyPI mirror %s", reqs, n, pypi);
	return 0;
}

/* The admin's site as its status records it: address, ports, TLS. WHAT says what it is needed for. */
static int load_site(const struct workspace *w, const char *what, struct fb_site *ret)
{
	_cleanup_(json_decrefp) json_t *st = NULL;
	_cleanup_free_ char *error = NULL;
	const char *path = w->o->status ? w->o->status : GB_RUN_STATUS;
	int r;

	r = status_load(path, &st, &error);
	if (r >= 0)
		r = fb_site_from_json(json_object_get(st, "admin"), ret, &error);
	if (r < 0)
		return log_error_errno(r, "%s: %s: %s is not known (has gapbox-firstboot run?)", path,
				       error ? error : strerror(-r), what);
	return 0;
}

static int index_url(const struct workspace *w, char **ret)
{
	struct fb_site s;
	int r;

	if (w->o->index_url)
		return (*ret = strdup(w->o->index_url)) ? 0 : -ENOMEM;
	r = load_site(w, "the admin's HTTP port", &s);
	if (r < 0)
		return r;
	r = s.ports[FB_PORT_HTTP] == 80 ? asprintf(ret, "http://127.0.0.1/pypi/")
					: asprintf(ret, "http://127.0.0.1:%u/pypi/", s.ports[FB_PORT_HTTP]);
	fb_site_done(&s);
	return r < 0 ? -ENOMEM : 0;
}

/* ---------------------------------------------------------------- Ansible in a container */

static char *pypi_dir(const struct workspace *w) { return path_join(w->payload, "pypi"); }

/* Waits for PID: 0 when it exited 0, else its exit status or 128+signal. */
static int wait_pid(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* `gzip -dc ARCHIVE | ctr images import -` (ctr takes no compressed archive), both outputs to LOG;
 * 0, the first failing status, or negative errno. */
static int ctr_import(const char *archive, const char *log)
{
	int p[2], logfd, rz, rc;
	pid_t gz, ctr;

	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -errno;
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(logfd);
		return -errno;
	}
	gz = fork();
	if (gz == 0) {
		if (dup2(p[1], 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execlp("gzip", "gzip", "-dc", "--", archive, (char *)NULL);
		_exit(127);
	}
	ctr = gz < 0 ? -1 : fork();
	if (ctr == 0) {
		if (dup2(p[0], 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execlp("ctr", "ctr", "-n", FB_ANSIBLE_NAMESPACE, "images", "import", "--snapshotter", FB_ANSIBLE_SNAPSHOTTER,
		       "-", (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	close(p[1]);
	close(logfd);
	if (gz < 0)
		return -errno;
	if (ctr < 0) {
		rc = -errno;
		(void)wait_pid(gz);
		return rc;
	}
	rz = wait_pid(gz);
	rc = wait_pid(ctr);
	return rz != 0 ? rz : rc;
}

/* REF is in containerd since T0: named in ROOT/FB_ANSIBLE_IMAGE_FILE, which exec runs. */
static int image_ready(struct workspace *w, const char *ref, const struct timespec *t0)
{
	_cleanup_free_ char *mark = path_join(w->root, FB_ANSIBLE_IMAGE_FILE);
	int r;

	if (!mark)
		return -ENOMEM;
	r = write_file_atomic(mark, ref, strlen(ref), 0644);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", mark);
	log_info("%s is in containerd (namespace " FB_ANSIBLE_NAMESPACE ") in %.1f s; `gapbox-kubespray exec "
		 "ansible-playbook ...` runs in it", ref, seconds_since(t0));
	return 0;
}

/* kubespray-offline's ansible_in_container: no venv, its Ansible image imported into the admin's
 * containerd (namespace gapbox), named in ROOT/FB_ANSIBLE_IMAGE_FILE for `exec`. The image
 * carries its own Python and requirements, so there is nothing to check against a mirror. */
static int import_ansible_image(struct workspace *w, const char *archive)
{
	_cleanup_free_ char *log = path_join(w->root, "ctr-import.log"), *out = NULL, *ref = NULL;
	struct timespec t0;
	const char *p, *q;
	int r;

	if (!log)
		return -ENOMEM;
	log_info("the payload has no pypi/ but %s (kubespray-offline's ansible_in_container): Ansible runs in that "
		 "image through the admin's containerd", archive);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = ctr_import(archive, log);
	(void)read_file(log, TEXT_MAX, &out, NULL);
	if (r != 0)
		return log_error_errno(r < 0 ? r : -EIO, "cannot import %s into containerd (gzip -dc | ctr -n " FB_ANSIBLE_NAMESPACE
				       " images import; is containerd running? systemctl status containerd): %s", archive,
				       out && *out ? out : "no output");
	/* "unpacking NAME (sha256:...)...done": the name the archive gave it. */
	p = out ? strstr(out, "unpacking ") : NULL;
	if (p && (q = strstr(p += 10, " (sha256:")) && !memchr(p, '\n', (size_t)(q - p)))
		ref = strndup(p, (size_t)(q - p));
	if (!ref)
		return log_error_errno(-EINVAL, "%s: ctr imported no named image from it: %s", archive, out ? out : "");
	return image_ready(w, ref, &t0);
}

/* On the admin the build has already put the archive's image into the registry (the payload keeps
 * no images/): pulled from there, on loopback, into the admin's containerd. */
static int pull_ansible_image(struct workspace *w, const struct payload_record_image *img)
{
	_cleanup_free_ char *log = path_join(w->root, "ctr-pull.log"), *ref = NULL;
	struct timespec t0;
	struct fb_site s;
	char *argv[12];
	size_t k = 0;
	bool tls;
	int r;

	if (!log)
		return -ENOMEM;
	r = load_site(w, "the admin's registry port", &s);
	if (r < 0)
		return r;
	/* Over TLS the certificate names the admin's address; plain HTTP answers on loopback too. */
	tls = s.registry_tls;
	r = tls ? asprintf(&ref, "%s/%s:%s", s.registry_host, img->repository, img->tag)
		: asprintf(&ref, "127.0.0.1:%u/%s:%s", s.ports[FB_PORT_REGISTRY], img->repository, img->tag);
	fb_site_done(&s);
	if (r < 0)
		return -ENOMEM;
	log_info("the payload has no pypi/; its Ansible image (%s, kubespray-offline's ansible_in_container) is in the "
		 "registry: pulling %s into the admin's containerd", img->archive, ref);
	argv[k++] = "ctr";
	argv[k++] = "-n";
	argv[k++] = FB_ANSIBLE_NAMESPACE;
	argv[k++] = "images";
	argv[k++] = "pull";
	argv[k++] = "--snapshotter";
	argv[k++] = FB_ANSIBLE_SNAPSHOTTER;
	if (tls) {
		argv[k++] = "--tlscacert";
		argv[k++] = FB_TLS_CA_CERT;
	} else
		argv[k++] = "--plain-http";
	argv[k++] = ref;
	argv[k] = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	(void)unlink(log);
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log });
	if (r != 0) {
		_cleanup_free_ char *tail = gb_log_tail(log, 1200);

		return log_error_errno(r < 0 ? r : -EIO, "ctr -n " FB_ANSIBLE_NAMESPACE " images pull %s failed (is containerd "
				       "running? systemctl status containerd): %s", ref, tail ? tail : "");
	}
	return image_ready(w, ref, &t0);
}

/* ROOT/venv with kubespray's requirements.txt installed from the admin's own mirror, nothing else
 * reachable: pip resolves everything before it installs anything, so a missing dependency leaves
 * nothing half-installed; a venv made by this run and not completed is removed. */
static int install_requirements(struct workspace *w)
{
	_cleanup_free_ char *reqs = path_join(w->kubespray, "requirements.txt"), *pypi = pypi_dir(w);
	_cleanup_free_ char *venv = path_join(w->root, "venv"), *python = NULL, *pip = NULL, *log = NULL, *url = NULL;
	struct timespec t0;
	bool made = false;
	int r;

	if (!reqs || !pypi || !venv || asprintf(&python, "%s/bin/python3", venv) < 0 || asprintf(&pip, "%s/bin/pip", venv) < 0 ||
	    !(log = path_join(w->root, "pip.log")))
		return -ENOMEM;
	if (!path_is_dir(pypi)) {
		_cleanup_free_ char *image = path_join(w->payload, FB_ANSIBLE_ARCHIVE);

		if (image && path_exists(image))
			return import_ansible_image(w, image);
		for (size_t i = 0; i < w->rec.n_images; i++)
			if (w->rec.images[i].archive && streq(w->rec.images[i].archive, FB_ANSIBLE_ARCHIVE))
				return pull_ansible_image(w, &w->rec.images[i]);
		return log_error_errno(-ENOENT, "the payload has neither pypi/ (kubespray-offline's PyPI mirror) nor "
				       "kubespray-offline's Ansible image (" FB_ANSIBLE_ARCHIVE ", in the payload or in the "
				       "registry as its record says): Ansible cannot be installed from it");
	}
	r = check_requirements(reqs, pypi);
	if (r < 0)
		return r;
	r = index_url(w, &url);
	if (r < 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (access(python, X_OK) < 0) {
		char *argv[] = { "python3", "-m", "venv", venv, NULL };

		made = true;
		(void)unlink(log);
		r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log });
		if (r != 0) {
			_cleanup_free_ char *tail = gb_log_tail(log, 600);

			(void)rm_rf(venv);
			return log_error_errno(r < 0 ? r : -EIO, "python3 -m venv %s failed: %s", venv, tail ? tail : "");
		}
		log_info("made the venv %s in %.1f s", venv, seconds_since(&t0));
	}
	{
		char *argv[] = { pip, "install", "--disable-pip-version-check", "--no-input", "--index-url", url, "-r", reqs, NULL };
		char *env[] = { "PIP_NO_CACHE_DIR=1", NULL };
		struct timespec t1;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		(void)unlink(log);
		log_info("installing %s from %s ...", reqs, url);
		r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log, .env_add = env });
		if (r != 0) {
			_cleanup_free_ char *tail = gb_log_tail(log, 1200);

			if (made)
				(void)rm_rf(venv);
			return log_error_errno(r < 0 ? r : -EIO, "pip install -r %s from %s failed (%s): %s", reqs, url, log,
					       tail ? tail : "");
		}
		log_info("installed kubespray's requirements into %s in %.1f s (pip's log: %s)", venv, seconds_since(&t1), log);
	}
	return 0;
}

/* ---------------------------------------------------------------- the inventory */

/* KUBESPRAY/inventory/<cluster>: kubespray's sample copied once (its documented first step), then
 * the site's inventory.ini and offline.yml, each placed unless the operator made it theirs. */
static int inventory(struct workspace *w)
{
	_cleanup_free_ char *sample = path_join(w->kubespray, "inventory/sample"), *tmp = NULL;
	_cleanup_free_ char *ini_src = path_join(w->node_files, "inventory.ini"), *yml_src = path_join(w->node_files, "offline.yml");
	_cleanup_free_ char *ini_rel = NULL, *yml_rel = NULL;
	bool fresh = false;
	int r;

	if (!sample || !ini_src || !yml_src)
		return -ENOMEM;
	if (asprintf(&ini_rel, "kubespray-%s/inventory/%s/inventory.ini", w->rec.kubespray.version, w->cluster) < 0 ||
	    asprintf(&yml_rel, "kubespray-%s/inventory/%s/group_vars/all/offline.yml", w->rec.kubespray.version, w->cluster) < 0 ||
	    asprintf(&tmp, "%s.tmp", w->inventory) < 0)
		return -ENOMEM;
	if (!path_is_dir(w->inventory)) {
		(void)rm_rf(tmp);
		if (path_is_dir(sample)) {
			char *argv[] = { "cp", "-a", sample, tmp, NULL };

			r = gb_run(argv, NULL);
			if (r != 0)
				return log_error_errno(r < 0 ? r : -EIO, "cannot copy %s to %s", sample, tmp);
		} else if ((r = mkdir_p(tmp, 0755)) < 0)
			return log_error_errno(r, "cannot make %s: %m", tmp);
		if (rename(tmp, w->inventory) < 0)
			return log_error_errno(-errno, "cannot rename %s to %s: %m", tmp, w->inventory);
		fresh = true;
		log_info("%s: made%s", w->inventory, path_is_dir(sample) ? " from inventory/sample" : "");
	}
	r = place(w, ini_src, ini_rel, fresh);
	if (r >= 0)
		r = place(w, yml_src, yml_rel, fresh);
	return r;
}

int fb_kubespray_init(const struct fb_kubespray_options *o)
{
	_cleanup_(workspace_done) struct workspace w = {};
	_cleanup_free_ char *key = NULL, *error = NULL, *comment = NULL, *pypi = NULL;
	struct timespec t0;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = workspace_open(o, &w);
	if (r < 0)
		return r;
	r = mkdir_p(w.root, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot make %s: %m", w.root);
	r = written_load(&w);
	if (r >= 0)
		r = extract_kubespray(&w);
	if (r >= 0)
		r = inventory(&w);
	if (r >= 0)
		r = install_requirements(&w);
	if (r < 0)
		return r;
	/* gapbox-firstboot made it at boot; made here if it is gone since (node-setup.sh then carries
	 * it from the next boot or `systemctl restart gapbox-firstboot`). */
	if (asprintf(&comment, "root@admin (gapbox, for Ansible)") < 0)
		return -ENOMEM;
	r = fb_admin_key(ssh_key(o), true, comment, &key, &error);
	if (r < 0 && r != -ENOMEM)
		log_warning("%s: Ansible has no key to log in to the nodes with", error ? error : strerror(-r));
	else if (r >= 0 && key)
		log_info("the admin's SSH key for Ansible: %s.pub (node-setup.sh installs it on each node)", ssh_key(o));
	log_info("workspace ready in %.1f s: %s", seconds_since(&t0), w.kubespray);
	if (!(pypi = pypi_dir(&w)))
		return -ENOMEM;
	if (!path_is_dir(pypi)) {
		printf("\nNext, on this admin (Ansible runs in the payload's image: gapbox-kubespray exec CMD...):\n"
		       "  cd %s\n"
		       "  gapbox-kubespray preflight %s          # every node: SSH, DNS, NTP, repo, an image pull\n"
		       "  gapbox-kubespray exec ansible -i inventory/%s/inventory.ini all -m ping\n"
		       "  gapbox-kubespray exec ansible-playbook -i inventory/%s/inventory.ini -b %s/playbook/offline-repo.yml\n"
		       "  gapbox-kubespray exec ansible-playbook -i inventory/%s/inventory.ini -b cluster.yml\n",
		       w.kubespray, w.cluster, w.cluster, w.cluster, w.payload, w.cluster);
		return 0;
	}
	printf("\nNext, on this admin:\n"
	       "  cd %s && . ../venv/bin/activate\n"
	       "  gapbox-kubespray preflight %s          # every node: SSH, DNS, NTP, repo, an image pull\n"
	       "  ansible -i inventory/%s/inventory.ini all -m ping\n"
	       "  ansible-playbook -i inventory/%s/inventory.ini -b %s/playbook/offline-repo.yml\n"
	       "  ansible-playbook -i inventory/%s/inventory.ini -b cluster.yml\n",
	       w.kubespray, w.cluster, w.cluster, w.cluster, w.payload, w.cluster);
	return 0;
}

/* ---------------------------------------------------------------- exec */

/* Whether PATH is DIR or below it. */
static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The folder a command runs in: the caller's when it is in the workspace or the payload (relative
 * paths then mean what they say), else the kubespray folder, where kubespray's own commands are
 * written to run. */
static char *exec_cwd(const struct workspace *w)
{
	char *cwd = getcwd(NULL, 0);

	if (cwd && (path_under(cwd, w->root) || path_under(cwd, w->payload)))
		return cwd;
	free(cwd);
	return strdup(w->kubespray);
}

int fb_kubespray_exec(const struct fb_kubespray_options *o, char **args)
{
	_cleanup_(workspace_done) struct workspace w = {};
	_cleanup_free_ char *venv_cmd = NULL, *venv_bin = NULL, *mark = NULL, *ref = NULL, *cwd = NULL, *keydir = NULL;
	_cleanup_free_ char *m_root = NULL, *m_payload = NULL, *m_ssh = NULL, *name = NULL, *path_env = NULL;
	_cleanup_free_ char **argv = NULL;
	size_t k = 0, n;
	int r;

	if (!args[0] || strchr(args[0], '/'))
		return log_error_errno(-EINVAL, "exec: expected a command name such as ansible-playbook, got %s",
				       args[0] ? args[0] : "nothing");
	r = workspace_open(o, &w);
	if (r < 0)
		return r;
	if (!(venv_bin = path_join(w.root, "venv/bin")) || !(venv_cmd = path_join(venv_bin, args[0])) ||
	    !(mark = path_join(w.root, FB_ANSIBLE_IMAGE_FILE)))
		return -ENOMEM;
	if (!(cwd = exec_cwd(&w)))
		return -ENOMEM;
	if (access(venv_cmd, X_OK) == 0) {
		const char *old = getenv("PATH");

		if (asprintf(&path_env, "%s:%s", venv_bin, old ? old : "/usr/sbin:/usr/bin:/sbin:/bin") < 0)
			return -ENOMEM;
		*strrchr(venv_bin, '/') = '\0'; /* VIRTUAL_ENV is the venv itself */
		if (setenv("PATH", path_env, 1) < 0 || setenv("VIRTUAL_ENV", venv_bin, 1) < 0)
			return -errno;
		if (chdir(cwd) < 0)
			return log_error_errno(-errno, "cannot change to %s: %m", cwd);
		execv(venv_cmd, args);
		return log_error_errno(-errno, "cannot run %s: %m", venv_cmd);
	}
	r = read_file(mark, 4096, &ref, NULL);
	if (r < 0) {
		if (r != -ENOENT)
			return log_error_errno(r, "cannot read %s: %m", mark);
		return log_error_errno(-ENOENT, "%s has no %s and no Ansible image (%s): run gapbox-kubespray init first",
				       w.root, venv_cmd, mark);
	}
	ref[strcspn(ref, "\n")] = '\0';
	/* The same paths inside as outside: the workspace, the payload (its playbooks) and the SSH key. */
	/* The key's folder, when the key is named by an absolute path (the default's is /root/.ssh). */
	if (ssh_key(o)[0] == '/' && !(keydir = strndup(ssh_key(o), (size_t)(strrchr(ssh_key(o), '/') - ssh_key(o)))))
		return -ENOMEM;
	if (asprintf(&m_root, "type=bind,src=%s,dst=%s,options=rbind:rw", w.root, w.root) < 0 ||
	    asprintf(&m_payload, "type=bind,src=%s,dst=%s,options=rbind:ro", w.payload, w.payload) < 0 ||
	    (keydir && asprintf(&m_ssh, "type=bind,src=%s,dst=%s,options=rbind:rw", keydir, keydir) < 0) ||
	    asprintf(&name, "gapbox-ansible-%ld", (long)getpid()) < 0)
		return -ENOMEM;
	for (n = 0; args[n]; n++)
		;
	argv = calloc(n + 32, sizeof(*argv)); /* ctr's own arguments are fewer than 32 */
	if (!argv)
		return -ENOMEM;
	argv[k++] = "ctr";
	argv[k++] = "-n";
	argv[k++] = FB_ANSIBLE_NAMESPACE;
	argv[k++] = "run";
	argv[k++] = "--rm";
	argv[k++] = "--net-host";
	argv[k++] = "--snapshotter";
	argv[k++] = FB_ANSIBLE_SNAPSHOTTER;
	if (isatty(0) && isatty(1))
		argv[k++] = "-t";
	argv[k++] = "--env";
	argv[k++] = "HOME=/root";
	argv[k++] = "--mount";
	argv[k++] = m_root;
	if (path_is_dir(w.payload)) {
		argv[k++] = "--mount";
		argv[k++] = m_payload;
	}
	if (keydir && *keydir && path_is_dir(keydir)) {
		argv[k++] = "--mount";
		argv[k++] = m_ssh;
	}
	argv[k++] = "--cwd";
	argv[k++] = cwd;
	argv[k++] = ref;
	argv[k++] = name;
	for (n = 0; args[n]; n++)
		argv[k++] = args[n];
	argv[k] = NULL;
	log_debug("exec: ctr run of %s in %s", ref, cwd);
	execvp("ctr", argv);
	return log_error_errno(-errno, "cannot run ctr (containerd's client, for the Ansible image %s): %m", ref);
}

/* ---------------------------------------------------------------- preflight */

/* What runs on each node (POSIX sh, over SSH): one line per check, "CHECK NAME ok|FAIL what". */
static const char preflight_script[] =
	"admin=$1 domain=$2 http=$3 registry=$4 image=$5 repo=$6 tag=$7 scheme=$8 node=$9\n"
	"say() { printf 'CHECK %s %s\\n' \"$1\" \"$2\"; }\n"
	"ns=$(sed -n 's/^nameserver[[:space:]]*//p' /etc/resolv.conf 2>/dev/null | head -n 1)\n"
	"got=$(getent ahostsv4 \"registry.$domain\" 2>/dev/null | awk 'NR == 1 { print $1 }')\n"
	"if [ \"$got\" = \"$admin\" ]; then say dns \"ok registry.$domain is $got (nameserver $ns)\"\n"
	"else say dns \"FAIL registry.$domain resolves to '${got:-nothing}', expected $admin (nameserver ${ns:-none} in /etc/resolv.conf)\"; fi\n"
	"if command -v chronyc >/dev/null 2>&1; then\n"
	"  t=$(chronyc -n tracking 2>&1)\n"
	"  ref=$(printf '%s\\n' \"$t\" | sed -n 's/^Reference ID *: [0-9A-F]* (\\(.*\\))$/\\1/p')\n"
	"  leap=$(printf '%s\\n' \"$t\" | sed -n 's/^Leap status *: //p')\n"
	"  if [ \"$ref\" = \"$admin\" ] && [ \"$leap\" = Normal ]; then say ntp \"ok synchronised to $admin\"\n"
	"  else say ntp \"FAIL chrony's reference is '${ref:-none}' (leap status ${leap:-unknown}), expected $admin\"; fi\n"
	"else say ntp 'FAIL chronyc is not installed: no NTP client'; fi\n"
	"if [ -f /etc/apt/sources.list.d/gapbox.list ]; then f=/etc/apt/sources.list.d/gapbox.list u=$http/debs/local/Release\n"
	"elif [ -f /etc/yum.repos.d/gapbox.repo ]; then f=/etc/yum.repos.d/gapbox.repo u=$http/rpms/local/repodata/repomd.xml\n"
	"else f= u=; fi\n"
	"if [ -z \"$f\" ]; then say repo \"FAIL no gapbox package source (node-setup.sh writes one)\"\n"
	"elif ! grep -q \"$http/\" \"$f\"; then say repo \"FAIL $f does not name $http\"\n"
	"elif curl -fsS -m 20 -o /dev/null \"$u\" 2>/tmp/gapbox-preflight.err; then say repo \"ok $u\"\n"
	"else say repo \"FAIL $u: $(cat /tmp/gapbox-preflight.err)\"; fi\n"
	"if command -v ctr >/dev/null 2>&1 && [ -S /run/containerd/containerd.sock ]; then\n"
	"  if out=$(ctr -n gapbox-preflight images pull --hosts-dir /etc/containerd/certs.d \"$image\" 2>&1); then\n"
	"    say pull \"ok $image (containerd, through the mirrors)\"; ctr -n gapbox-preflight images rm \"$image\" >/dev/null 2>&1\n"
	"  else say pull \"FAIL ctr pull $image: $(printf '%s' \"$out\" | tail -n 1)\"; fi\n"
	"else\n"
	"  a='application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json'\n"
	"  u=$scheme://$registry/v2/$repo/manifests/$tag\n"
	"  if curl -fsS -m 20 -H \"Accept: $a\" -o /dev/null \"$u\" 2>/tmp/gapbox-preflight.err; then say pull \"ok $u (no containerd yet)\"\n"
	"  else say pull \"FAIL $u: $(cat /tmp/gapbox-preflight.err)\"; fi\n"
	"fi\n"
	"rm -f /tmp/gapbox-preflight.err\n";

/* A list line's name as containerd spells it: docker.io/ and library/ added where they are implied. */
static char *upstream_ref(const char *ref)
{
	const char *slash = strchr(ref, '/');
	size_t first = slash ? (size_t)(slash - ref) : 0;
	char *s;

	if (!slash)
		return asprintf(&s, "docker.io/library/%s", ref) < 0 ? NULL : s;
	if (memchr(ref, '.', first) || memchr(ref, ':', first) || strncmp(ref, "localhost/", 10) == 0)
		return strdup(ref);
	return asprintf(&s, "docker.io/%s", ref) < 0 ? NULL : s;
}

void fb_inventory_hosts_free(struct fb_inventory_host *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(nodes[i].name);
		free(nodes[i].host);
		free(nodes[i].user);
		free(nodes[i].port);
	}
	free(nodes);
}

/* The next blank-separated word of *P (NUL-terminated in place), NULL at the end. */
static char *next_word(char **p)
{
	char *w = *p + strspn(*p, " \t\r");

	if (!*w)
		return NULL;
	*p = w + strcspn(w, " \t\r");
	if (**p)
		*(*p)++ = '\0';
	return w;
}

/* VALUE of "KEY=VALUE" in WORD, NULL when WORD sets another key. */
static char *word_value(char *word, const char *key)
{
	size_t n = strlen(key);

	return strncmp(word, key, n) == 0 && word[n] == '=' ? word + n + 1 : NULL;
}

int fb_inventory_hosts(const char *path, struct fb_inventory_host **ret, size_t *ret_n)
{
	_cleanup_free_ char *text = NULL, *all_user = NULL, *all_port = NULL;
	struct fb_inventory_host *nodes = NULL;
	bool all_vars = false;
	size_t n = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = read_file(path, TEXT_MAX, &text, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m (run gapbox-kubespray init first)", path);
	for (char *line = text, *next; line; line = next) {
		char *host = NULL, *user = NULL, *port = NULL, *name, *word, *v;
		bool seen = false;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line += strspn(line, " \t");
		if (!*line || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			all_vars = strncmp(line, "[all:vars]", 10) == 0;
			continue;
		}
		if (all_vars) {
			word = line;
			word[strcspn(word, " \t\r")] = '\0';
			if ((v = word_value(word, "ansible_user")) && (free(all_user), !(all_user = strdup(v))))
				goto oom;
			if ((v = word_value(word, "ansible_port")) && (free(all_port), !(all_port = strdup(v))))
				goto oom;
			continue;
		}
		name = next_word(&line);
		while ((word = next_word(&line))) {
			host = (v = word_value(word, "ansible_host")) ? v : host;
			user = (v = word_value(word, "ansible_user")) ? v : user;
			port = (v = word_value(word, "ansible_port")) ? v : port;
		}
		if (!name || !host)
			continue;
		for (size_t i = 0; i < n; i++)
			seen = seen || streq(nodes[i].name, name);
		if (seen)
			continue;
		struct fb_inventory_host *grown = realloc(nodes, (n + 1) * sizeof(*nodes));
		if (!grown)
			goto oom;
		nodes = grown;
		nodes[n] = (struct fb_inventory_host){ strdup(name), strdup(host), user ? strdup(user) : NULL, port ? strdup(port) : NULL };
		n++;
		if (!nodes[n - 1].name || !nodes[n - 1].host || (user && !nodes[n - 1].user) || (port && !nodes[n - 1].port))
			goto oom;
	}
	/* [all:vars] may come after the hosts. */
	for (size_t i = 0; i < n; i++) {
		if (!nodes[i].user && !(nodes[i].user = strdup(all_user ? all_user : "root")))
			goto oom;
		if (!nodes[i].port && all_port && !(nodes[i].port = strdup(all_port)))
			goto oom;
	}
	*ret = nodes;
	*ret_n = n;
	return 0;
oom:
	fb_inventory_hosts_free(nodes, n);
	return -ENOMEM;
}

/* A word safe to hand ssh: not an option, no blanks or shell characters (the remote shell splits
 * the command line ssh sends). */
static bool ssh_word_ok(const char *w)
{
	return *w && *w != '-' && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:[]@") == strlen(w);
}

/* Runs the preflight script on NODE over SSH, its output (stdout and stderr) into LOG; ssh's exit
 * status, or negative errno. A user other than root runs it through sudo, as Ansible's become. */
static int preflight_node(const struct fb_kubespray_options *o, const struct fb_inventory_host *node, const struct fb_site *s,
			  const char *image, const struct payload_record_image *img, const char *log)
{
	char *argv[32];
	size_t k = 0;
	struct gb_child child;
	int r;

	argv[k++] = "ssh";
	argv[k++] = "-o";
	argv[k++] = "BatchMode=yes";
	argv[k++] = "-o";
	argv[k++] = "ConnectTimeout=10";
	argv[k++] = "-o";
	argv[k++] = "StrictHostKeyChecking=accept-new";
	argv[k++] = "-i";
	argv[k++] = (char *)ssh_key(o);
	argv[k++] = "-l";
	argv[k++] = node->user;
	if (node->port) {
		argv[k++] = "-p";
		argv[k++] = node->port;
	}
	argv[k++] = "--";
	argv[k++] = node->host;
	if (!streq(node->user, "root")) {
		argv[k++] = "sudo";
		argv[k++] = "-n";
	}
	argv[k++] = "sh";
	argv[k++] = "-s";
	argv[k++] = "--";
	argv[k++] = (char *)s->address;
	argv[k++] = (char *)s->domain;
	argv[k++] = (char *)s->http_url;
	argv[k++] = (char *)s->registry_host;
	argv[k++] = (char *)image;
	argv[k++] = img ? img->repository : "";
	argv[k++] = img ? img->tag : "";
	argv[k++] = s->registry_tls ? "https" : "http";
	argv[k++] = node->name;
	argv[k] = NULL;
	(void)unlink(log);
	r = gb_spawn(argv, &(struct gb_spawn_opts){ .log_path = log, .stdin_pipe = true }, &child);
	if (r < 0)
		return r;
	(void)write_all(child.stdin_fd, preflight_script, sizeof(preflight_script) - 1);
	close(child.stdin_fd);
	child.stdin_fd = -1;
	return gb_child_wait(&child);
}

int fb_kubespray_preflight(const struct fb_kubespray_options *o)
{
	_cleanup_(workspace_done) struct workspace w = {};
	_cleanup_(json_decrefp) json_t *st = NULL;
	_cleanup_free_ char *error = NULL, *ini = NULL, *image = NULL, *log = NULL;
	const char *status_path = o->status ? o->status : GB_RUN_STATUS;
	const struct payload_record_image *img = NULL;
	struct fb_inventory_host *nodes = NULL;
	struct fb_site s;
	size_t n = 0, ready = 0;
	int r;

	r = workspace_open(o, &w);
	if (r < 0)
		return r;
	/* Its log goes there, before init too. */
	r = mkdir_p(w.root, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot make %s: %m", w.root);
	r = status_load(status_path, &st, &error);
	if (r >= 0)
		r = fb_site_from_json(json_object_get(st, "admin"), &s, &error);
	if (r < 0)
		return log_error_errno(r, "%s: %s", status_path, error ? error : strerror(-r));
	if (!(ini = path_join(w.inventory, "inventory.ini")) || !(log = path_join(w.root, "preflight.log"))) {
		fb_site_done(&s);
		return -ENOMEM;
	}
	/* Before init, the site's own inventory: a node can be checked before the workspace exists. */
	if (!path_exists(ini)) {
		free(ini);
		if (!(ini = path_join(w.node_files, "inventory.ini"))) {
			fb_site_done(&s);
			return -ENOMEM;
		}
		log_info("no workspace inventory yet (gapbox-kubespray init makes it): checking the site's, %s", ini);
	}
	r = fb_inventory_hosts(ini, &nodes, &n);
	if (r >= 0 && n == 0)
		r = log_error_errno(-ENOENT, "%s names no host with ansible_host=: nothing to check", ini);
	for (size_t i = 0; i < n && r >= 0; i++)
		if (!ssh_word_ok(nodes[i].name) || !ssh_word_ok(nodes[i].host) || !ssh_word_ok(nodes[i].user) ||
		    (nodes[i].port && !ssh_word_ok(nodes[i].port)))
			r = log_error_errno(-EINVAL, "%s: host %s: expected a name, ansible_host, ansible_user and ansible_port "
					    "of letters, digits and . _ - : (not starting with -)", ini, nodes[i].name);
	if (w.rec.n_images > 0) {
		img = &w.rec.images[0];
		if (!(image = upstream_ref(img->ref)))
			r = -ENOMEM;
	} else if (r >= 0)
		r = log_error_errno(-ENOENT, "the payload record lists no image to pull");
	if (r >= 0)
		printf("preflight of %s (%s): %zu node%s, admin %s\n", w.cluster, ini, n, n == 1 ? "" : "s", s.address);
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *out = NULL, *failed = NULL;
		struct sbuf fails = SBUF_INIT;
		const char *who = nodes[i].user;
		unsigned checks = 0;

		r = preflight_node(o, &nodes[i], &s, image, img, log);
		if (r < 0)
			break;
		(void)read_file(log, TEXT_MAX, &out, NULL);
		printf("  %s (%s):\n", nodes[i].name, nodes[i].host);
		if (r != 0 && out && strstr(out, "sudo:") && !strstr(out, "CHECK ")) {
			printf("    ok   ssh: %s@%s with %s\n", who, nodes[i].host, ssh_key(o));
			printf("    FAIL sudo: %s may not become root with sudo and no password: %s\n", who, out);
			sbuf_puts(&fails, "sudo");
		} else if (r != 0 && (!out || !strstr(out, "CHECK "))) {
			printf("    FAIL ssh: %s@%s: %s\n", who, nodes[i].host, out && *out ? out : "no answer");
			sbuf_puts(&fails, "ssh");
		} else {
			printf("    ok   ssh: %s@%s with %s%s\n", who, nodes[i].host, ssh_key(o),
			       streq(who, "root") ? "" : ", sudo");
			for (char *line = out, *next; line; line = next) {
				char *name, *rest;

				next = strchr(line, '\n');
				if (next)
					*next++ = '\0';
				if (strncmp(line, "CHECK ", 6) != 0)
					continue;
				name = line + 6;
				rest = strchr(name, ' ');
				if (!rest)
					continue;
				*rest++ = '\0';
				checks++;
				if (strncmp(rest, "ok ", 3) == 0)
					printf("    ok   %s: %s\n", name, rest + 3);
				else {
					printf("    FAIL %s: %s\n", name, strncmp(rest, "FAIL ", 5) == 0 ? rest + 5 : rest);
					sbuf_printf(&fails, "%s%s", fails.len ? ", " : "", name);
				}
			}
			if (checks < 4)
				sbuf_printf(&fails, "%sincomplete (%u of 4 checks reported)", fails.len ? ", " : "", checks);
		}
		r = sbuf_finish(&fails, &failed, NULL);
		if (r < 0)
			break;
		if (*failed)
			printf("    => %s is not ready: %s\n", nodes[i].name, failed);
		else {
			printf("    => %s is ready\n", nodes[i].name);
			ready++;
		}
		r = 0;
	}
	fb_inventory_hosts_free(nodes, n);
	fb_site_done(&s);
	if (r < 0)
		return r;
	printf("preflight: %zu of %zu node%s ready\n", ready, n, n == 1 ? "" : "s");
	return ready == n ? 0 : 1;
}
