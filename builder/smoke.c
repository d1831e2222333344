/* gapbox smoke (smoke.h): the site from the image's configuration, the test node from the cache
 * or a build, qemu/site for the boot, and its lines read back into checks. */
#include "smoke.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../firstboot/appliance.h"
#include "archiveutil.h"
#include "build.h"
#include "fsutil.h"
#include "helper.h"
#include "inspect.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "sbuf.h"
#include "sha256.h"
#include "siteconfig.h"
#include "spawn.h"

/* The checks a smoke run reports, in the node's order; "external" is the host's look at the
 * admin's external NIC, "site" whether the site ran to its end. */
static const char *const smoke_checks[] = { "admin", "setup", "dns",  "route", "ntp",      "pip",
					    "files", "repo",  "pull", "push",  "external", "site" };

/* What qemu/site's output may hold at most; the consoles are files of their own. */
#define SMOKE_SITE_LOG_MAX (4u * 1024 * 1024)
/* The test node's RAM (MiB): its containerd state is a tmpfs of half of it, which must hold the
 * largest of a site's images, unpacked (each goes once checked). */
#define SMOKE_NODE_MEMORY "3072"
/* The baked configuration is small; anything bigger is not one. */
#define SMOKE_CONFIG_MAX (1u * 1024 * 1024)

void smoke_report_done(struct smoke_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->results[i].name);
		free(r->results[i].detail);
	}
	free(r->results);
	free(r->site_error);
	*r = (struct smoke_report){ 0 };
}

static struct smoke_result *report_find(struct smoke_report *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (streq(r->results[i].name, name))
			return &r->results[i];
	return NULL;
}

/* The result NAME, added after the others when it is new; NULL on -ENOMEM. */
static struct smoke_result *report_get(struct smoke_report *r, const char *name, size_t len)
{
	_cleanup_free_ char *copy = strndup(name, len);
	struct smoke_result *res, *grown;

	if (!copy)
		return NULL;
	if ((res = report_find(r, copy)))
		return res;
	grown = reallocarray(r->results, r->n + 1, sizeof(*grown));
	if (!grown)
		return NULL;
	r->results = grown;
	res = &r->results[r->n++];
	*res = (struct smoke_result){ .name = TAKE_PTR(copy), .status = SMOKE_NOT_RUN };
	return res;
}

static int report_set(struct smoke_report *r, const char *name, size_t len, enum smoke_status status, const char *detail,
		      size_t detail_len)
{
	struct smoke_result *res = report_get(r, name, len);
	char *d;

	if (!res || !(d = strndup(detail, detail_len)))
		return -ENOMEM;
	free(res->detail);
	res->detail = d;
	res->status = status;
	return 0;
}

/* "ok|FAIL|skip NAME: DETAIL" (LINE, LEN bytes) into the report; other lines are left alone. */
static int report_check_line(struct smoke_report *r, const char *line, size_t len, bool admin)
{
	static const struct {
		const char *word;
		enum smoke_status status;
	} words[] = { { "ok ", SMOKE_OK }, { "FAIL ", SMOKE_FAIL }, { "skip ", SMOKE_SKIP } };
	const char *end = line + len, *name, *colon;

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		size_t w = strlen(words[i].word);
		if (len < w || strncmp(line, words[i].word, w) != 0)
			continue;
		name = line + w;
		colon = memchr(name, ':', (size_t)(end - name));
		if (!colon || colon == name)
			return 0;
		const char *detail = colon + 1 < end && colon[1] == ' ' ? colon + 2 : colon + 1;
		if (admin && !(colon - name == 8 && strncmp(name, "external", 8) == 0)) {
			/* A check of an overlay on the admin: named as qemu/site names it. */
			_cleanup_free_ char *n = NULL;
			if (asprintf(&n, "admin-%.*s", (int)(colon - name), name) < 0)
				return -ENOMEM;
			return report_set(r, n, strlen(n), words[i].status, detail, (size_t)(end - detail));
		}
		return report_set(r, name, (size_t)(colon - name), words[i].status, detail, (size_t)(end - detail));
	}
	return 0;
}

int smoke_report_parse(const char *text, int site_status, struct smoke_report *ret)
{
	static const char site_prefix[] = "qemu/site: ", node_prefix[] = "qemu/site: node check: ",
			  admin_prefix[] = "qemu/site: admin check: ", external_ok[] = " admin: external NIC: ",
			  site_checks_failed[] = " node: checks FAILED: ",
			  site_ran[] = "the admin and the node booted, and the node gave its verdict";
	_cleanup_(smoke_report_done) struct smoke_report r = { 0 };
	/* qemu/site's own last lines that are no check, for a failure outside the checks. */
	const char *last[3] = { 0 };
	size_t last_len[3] = { 0 }, n_last = 0;
	int k;

	for (size_t i = 0; i < ARRAY_SIZE(smoke_checks); i++)
		if (!report_get(&r, smoke_checks[i], strlen(smoke_checks[i])))
			return -ENOMEM;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *hit;
		int q = 0;

		if (len >= sizeof(node_prefix) - 1 && startswith(line, node_prefix))
			q = report_check_line(&r, line + sizeof(node_prefix) - 1, len - (sizeof(node_prefix) - 1), false);
		else if (len >= sizeof(admin_prefix) - 1 && startswith(line, admin_prefix))
			q = report_check_line(&r, line + sizeof(admin_prefix) - 1, len - (sizeof(admin_prefix) - 1), true);
		else if ((hit = memmem(line, len, external_ok, sizeof(external_ok) - 1)) && startswith(line, site_prefix)) {
			const char *d = hit + sizeof(external_ok) - 1;
			q = report_set(&r, "external", 8, SMOKE_OK, d, (size_t)(line + len - d));
		} else if (startswith(line, site_prefix)) {
			if (n_last == ARRAY_SIZE(last)) {
				memmove(last, last + 1, sizeof(last) - sizeof(last[0]));
				memmove(last_len, last_len + 1, sizeof(last_len) - sizeof(last_len[0]));
				n_last--;
			}
			last[n_last] = line + sizeof(site_prefix) - 1;
			last_len[n_last++] = len - (sizeof(site_prefix) - 1);
		}
		if (q < 0)
			return q;
		line = nl ? nl + 1 : NULL;
	}
	/* Failed checks make qemu/site exit 1 after the node's verdict: the site itself ran. */
	if (site_status == 0 || (site_status == 1 && strstr(text, site_checks_failed))) {
		k = report_set(&r, "site", 4, SMOKE_OK, site_ran, strlen(site_ran));
	} else {
		struct sbuf b = SBUF_INIT;
		for (size_t i = 0; i < n_last; i++) {
			sbuf_putn(&b, last[i], last_len[i]);
			if (i + 1 < n_last)
				sbuf_puts(&b, "; ");
		}
		if (!n_last)
			sbuf_printf(&b, "qemu/site exited %d and said nothing", site_status);
		if ((k = sbuf_finish(&b, &r.site_error, NULL)) < 0)
			return k;
		k = report_set(&r, "site", 4, SMOKE_FAIL, r.site_error, strlen(r.site_error));
	}
	if (k < 0)
		return k;
	*ret = r;
	r = (struct smoke_report){ 0 };
	return 0;
}

static size_t report_count(const struct smoke_report *r, enum smoke_status s)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->results[i].status == s;
	return n;
}

/* Why a check never reported: the node stopped before it, or the site before the node. */
static const char *not_run_reason(const struct smoke_report *r)
{
	return r->site_error ? "not run: the site stopped first (see the check 'site')"
			     : "not run: the node stopped before this check (see node-console.log)";
}

int smoke_junit(const struct smoke_report *r, const char *name, double seconds, const char *log, char **ret)
{
	size_t failures = report_count(r, SMOKE_FAIL) + report_count(r, SMOKE_NOT_RUN), skipped = report_count(r, SMOKE_SKIP);
	struct sbuf b = SBUF_INIT_MAX(2 * SMOKE_SITE_LOG_MAX);

	sbuf_printf(&b,
		    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<testsuites name=\"gapbox smoke\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.1f\">\n"
		    "  <testsuite name=\"",
		    r->n, failures, skipped, seconds);
	sbuf_puts_escaped(&b, name);
	sbuf_printf(&b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.1f\">\n", r->n, failures,
		    skipped, seconds);
	for (size_t i = 0; i < r->n; i++) {
		const struct smoke_result *c = &r->results[i];
		const char *detail = c->status == SMOKE_NOT_RUN ? not_run_reason(r) : c->detail ? c->detail : "";

		sbuf_puts(&b, "    <testcase classname=\"gapbox.smoke\" name=\"");
		sbuf_puts_escaped(&b, c->name);
		if (c->status == SMOKE_OK) {
			sbuf_puts(&b, "\"/>\n");
			continue;
		}
		sbuf_puts(&b, c->status == SMOKE_SKIP ? "\">\n      <skipped message=\"" : "\">\n      <failure message=\"");
		sbuf_puts_escaped(&b, detail);
		sbuf_puts(&b, c->status == SMOKE_SKIP ? "\"/>\n" : "\" type=\"check\"/>\n");
		sbuf_puts(&b, "    </testcase>\n");
	}
	sbuf_puts(&b, "    <system-out>");
	/* XML 1.0 allows no control characters but tab, newline and carriage return. */
	for (const char *p = log ? log : ""; *p; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
			continue;
		char one[2] = { *p, '\0' };
		sbuf_puts_escaped(&b, one);
	}
	sbuf_puts(&b, "</system-out>\n  </testsuite>\n</testsuites>\n");
	return sbuf_finish(&b, ret, NULL);
}

/* The image's manifest: its arch, firmware and whether it carries a payload. */
struct image_facts {
	const char *name;
	const char *arch;
	bool bios, uefi, payload;
};

static int image_facts(json_t *m, const char *image, struct image_facts *f)
{
	json_t *boot = json_object_get(json_object_get(m, "profile"), "boot"), *a;
	size_t i;

	*f = (struct image_facts){ .name = json_string_value(json_object_get(m, "name")),
				   .arch = json_string_value(json_object_get(m, "arch")),
				   .bios = json_is_true(json_object_get(boot, "bios")),
				   .uefi = json_is_true(json_object_get(boot, "uefi")) };
	if (!f->arch || !f->name)
		return log_error_errno(-EINVAL, "%s: its manifest (/%s) names no arch or name: not a gapbox image", image,
				       GB_MEDIUM_MANIFEST);
	json_array_foreach(json_object_get(m, "artifacts"), i, a)
		if (streq(json_string_value(json_object_get(a, "path")) ?: "", GB_MEDIUM_PAYLOAD))
			f->payload = true;
	return 0;
}

/* The configuration the image bakes (/etc/gapbox/appliance.yaml in its system image): the
 * system image is copied out of the ISO into WORK and the file read from it with unsquashfs. */
static int image_config(const char *image, const char *work, struct appliance **ret)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	_cleanup_free_ char *sfs = path_join(work, "system.sfs"), *dir = path_join(work, "system-config"),
			    *file = NULL, *text = NULL, *where = NULL, *error = NULL;
	struct archive_entry *e;
	size_t len = 0;
	int r, fd = -1;
	bool found = false;

	if (!sfs || !dir)
		return -ENOMEM;
	r = image_open_iso(image, &a);
	if (r < 0)
		return r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (!streq(archive_path_relative(archive_entry_pathname(e)), GB_MEDIUM_SYSTEM))
			continue;
		fd = open(sfs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return log_error_errno(-errno, "cannot create %s: %m", sfs);
		r = archive_read_data_to_fd(a, fd);
		if (close(fd) < 0 && r >= 0)
			r = -errno;
		if (r < 0) {
			unlink(sfs);
			return log_error_errno(r, "%s: cannot copy /%s out of it: %m", image, GB_MEDIUM_SYSTEM);
		}
		found = true;
		break;
	}
	if (!found)
		return log_error_errno(-ENOENT, "%s: no /%s in it: not a gapbox image, or a damaged one", image,
				       GB_MEDIUM_SYSTEM);
	char *argv[] = { "unsquashfs", "-q", "-n", "-d", dir, sfs, SITE_CONFIG_IMAGE_PATH, NULL };
	_cleanup_free_ char *log = path_join(work, "unsquashfs.log");
	if (!log)
		return -ENOMEM;
	(void)rm_rf(dir);
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log });
	unlink(sfs);
	if (r != 0) {
		_cleanup_free_ char *tail = gb_log_tail(log, 400);
		return log_error_errno(-EIO, "%s: cannot read /%s from its /%s (unsquashfs exited %d): %s", image,
				       SITE_CONFIG_IMAGE_PATH, GB_MEDIUM_SYSTEM, r, tail ? tail : "");
	}
	unlink(log);
	if (!(file = path_join(dir, SITE_CONFIG_IMAGE_PATH)))
		return -ENOMEM;
	r = read_file(file, SMOKE_CONFIG_MAX, &text, &len);
	(void)rm_rf(dir);
	if (r < 0)
		return log_error_errno(r, "%s: its system image holds no readable /%s: %m", image, SITE_CONFIG_IMAGE_PATH);
	if (asprintf(&where, "%s:/%s", image, SITE_CONFIG_IMAGE_PATH) < 0)
		return -ENOMEM;
	r = appliance_load_data(where, text, len, APPLIANCE_IN_IMAGE, ret, &error);
	if (r < 0)
		return log_error_errno(r, "%s", error ? error : "cannot read the image's configuration");
	return 0;
}

/* The site file qemu/site --site reads: the admin's and the first node's addresses. */
static int write_site(const struct appliance *a, const char *image, const char *path)
{
	char admin[INET_ADDRSTRLEN], node[INET_ADDRSTRLEN];
	_cleanup_free_ char *text = NULL;

	if (a->n_nodes == 0)
		return log_error_errno(-EINVAL,
				       "%s: its configuration (/%s) lists no nodes: the test node plays the first of them, "
				       "with its name and address (nodes: in the configuration, appliance.md)",
				       image, SITE_CONFIG_IMAGE_PATH);
	if (!inet_ntop(AF_INET, &a->address, admin, sizeof(admin)) ||
	    !inet_ntop(AF_INET, &a->nodes[0].address, node, sizeof(node)))
		return -EINVAL;
	/* NAT "auto" is on: the admin the smoke run boots has an external NIC. */
	if (asprintf(&text, "admin=%s\nprefix=%u\ndomain=%s\nnode=%s\naddress=%s\nhttp_port=%u\nregistry_port=%u\nnat=%d\n",
		     admin, a->prefix, a->domain, a->nodes[0].name, node, a->http_port, a->registry_port, a->nat != 0) < 0)
		return -ENOMEM;
	log_info("site (from the image's configuration): admin %s/%u, domain %s, the test node plays %s (%s)", admin,
		 a->prefix, a->domain, a->nodes[0].name, node);
	return write_file_atomic(path, text, strlen(text), 0644);
}

/* The key of a node image: gapbox's version, the profile and every file of its overlay. */
static int node_visit(const struct dir_walk_entry *e, void *userdata)
{
	struct gb_sha256 *h = userdata;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	char mode[32];

	gb_sha256_update(h, e->rel, strlen(e->rel) + 1);
	snprintf(mode, sizeof(mode), "%o", (unsigned)e->st->st_mode);
	gb_sha256_update(h, mode, strlen(mode) + 1);
	if (S_ISLNK(e->st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(e->path, target, sizeof(target));
		if (n < 0)
			return log_error_errno(-errno, "cannot read the link %s: %m", e->path);
		gb_sha256_update(h, target, (size_t)n);
	} else if (S_ISREG(e->st->st_mode)) {
		int r = read_file(e->path, 64u << 20, &data, &len);
		if (r < 0)
			return log_error_errno(r, "cannot read %s: %m", e->path);
		gb_sha256_update(h, data, len);
	}
	return 0;
}

static int node_key(const char *profile, const char *overlay, char key[SHA256_HEX_LEN + 1])
{
	struct gb_sha256 *h = gb_sha256_new();
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (!h)
		return -ENOMEM;
	gb_sha256_update(h, GB_VERSION, sizeof(GB_VERSION));
	r = read_file(profile, 1u << 20, &text, &len);
	if (r < 0) {
		gb_sha256_free(h);
		return log_error_errno(r, "cannot read the test node's profile %s: %m (is gapbox installed whole?)", profile);
	}
	gb_sha256_update(h, text, len);
	r = dir_walk(overlay, NULL, node_visit, h);
	if (r < 0) {
		gb_sha256_free(h);
		return log_error_errno(r, "cannot read the test node's overlay %s: %m", overlay);
	}
	gb_sha256_final_hex(h, key);
	return 0;
}

/* The cache keeps one node image per arch: the others of ARCH in DIR, made by other versions
 * of gapbox or its node profile, go once KEEP is in place. */
static void drop_other_nodes(const char *dir, const char *arch, const char *keep)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	_cleanup_free_ char *prefix = NULL;
	struct dirent *de;

	if (!d || asprintf(&prefix, "test-node-%s-", arch) < 0)
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL;
		size_t len = strlen(de->d_name);
		if (!startswith(de->d_name, prefix) || len < 4 || !streq(de->d_name + len - 4, ".iso") ||
		    !(path = path_join(dir, de->d_name)) || streq(path, keep))
			continue;
		if (unlink(path) == 0)
			log_info("test node: removed %s, an image of another gapbox or node profile", path);
	}
}

/* The test node's image for ARCH: from CACHE/smoke, else built there (log in LOGS). */
static int node_image(const char *datadir, const char *arch, const char *cache, const char *logs, char **ret)
{
	_cleanup_free_ char *profile = NULL, *overlay = NULL, *dir = NULL, *path = NULL, *tmp = NULL, *log = NULL,
			    *self = NULL;
	char key[SHA256_HEX_LEN + 1];
	int r;

	if (asprintf(&profile, "%s/profiles/test-node-%s.yaml", datadir, arch) < 0 ||
	    asprintf(&overlay, "%s/profiles/test-node-overlay", datadir) < 0 || !(dir = path_join(cache, "smoke")))
		return -ENOMEM;
	if ((r = node_key(profile, overlay, key)) < 0)
		return r;
	if (asprintf(&path, "%s/test-node-%s-%.16s.iso", dir, arch, key) < 0 ||
	    asprintf(&tmp, "%s/.test-node-%s-%.16s.iso.%d", dir, arch, key, (int)getpid()) < 0 ||
	    !(log = path_join(logs, "build-node.log")) || !(self = realpath("/proc/self/exe", NULL)))
		return -ENOMEM;
	if (path_exists(path)) {
		log_info("test node: %s (cached)", path);
		*ret = TAKE_PTR(path);
		return 0;
	}
	if ((r = mkdir_p(dir, 0755)) < 0)
		return log_error_errno(r, "cannot make %s: %m", dir);
	log_info("test node: building %s from %s (log: %s)", path, profile, log);
	char *argv[] = { self, "build", profile, "-o", tmp, "--cache", (char *)cache, NULL };
	char *env[] = { "GAPBOX_PROGRESS=off", NULL };
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log, .env_add = env });
	if (r != 0) {
		unlink(tmp);
		return interrupted() ? -EINTR : helper_failed("gapbox build of the test node", r, log, NULL) ?: -EIO;
	}
	if (rename(tmp, path) < 0) {
		r = log_error_errno(-errno, "cannot rename %s to %s: %m", tmp, path);
		unlink(tmp);
		return r;
	}
	drop_other_nodes(dir, arch, path);
	*ret = TAKE_PTR(path);
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A file a run shows as it is written: its lines that start with PREFIX (after any console
 * noise before it), each on stderr after LABEL, once whole. */
struct follow {
	const char *path;
	const char *prefix;
	const char *skip;   /* lines holding this are not shown, or NULL */
	const char *label;
	off_t offset;
};

#define FOLLOW_LINE_MAX 4096

static void follow_file(struct follow *f)
{
	char buf[FOLLOW_LINE_MAX];
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size < f->offset)
		f->offset = 0; /* begun again */
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, f->offset);
		char *line = buf, *nl;

		if (n <= 0)
			break;
		buf[n] = '\0';
		while ((nl = memchr(line, '\n', (size_t)(buf + n - line)))) {
			const char *hit;
			*nl = '\0';
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0';
			if ((hit = strstr(line, f->prefix)) && !(f->skip && strstr(hit, f->skip)))
				log_info("%s%s", f->label, hit + strlen(f->prefix));
			line = nl + 1;
		}
		if (line == buf && n == (ssize_t)sizeof(buf) - 1)
			line = buf + n; /* a line longer than any check's: passed over */
		if (line == buf)
			break; /* the rest is a line still being written */
		f->offset += line - buf;
	}
	close(fd);
}

/* qemu/site with ARGV, its output in SITE_LOG; while it runs, its own lines and the node's
 * checks are shown as they come. Its exit status, or a negative errno. */
static int run_site(char *const argv[], const char *site_log, const char *node_log)
{
	struct follow follows[] = {
		{ .path = site_log, .prefix = "qemu/site: ", .skip = " check: ", .label = "" },
		{ .path = node_log, .prefix = "GAPBOX-NODE-CHECK: ", .label = "node: " },
	};
	struct gb_child child;
	int r, status = 0;

	r = gb_spawn(argv, &(struct gb_spawn_opts){ .log_path = site_log }, &child);
	if (r < 0)
		return r;
	for (;;) {
		r = gb_child_poll(&child, &status);
		for (size_t i = 0; i < ARRAY_SIZE(follows); i++)
			follow_file(&follows[i]);
		if (r < 0)
			return r;
		if (r > 0)
			return status;
		if (interrupted())
			return gb_child_wait(&child);
		sleep(1);
	}
}

static void print_report(const struct smoke_report *r)
{
	static const char *const word[] = { [SMOKE_NOT_RUN] = "FAIL", [SMOKE_OK] = "ok", [SMOKE_FAIL] = "FAIL",
					    [SMOKE_SKIP] = "skip" };
	for (size_t i = 0; i < r->n; i++) {
		const struct smoke_result *c = &r->results[i];
		printf("  %-4s  %-8s  %s\n", word[c->status], c->name, c->status == SMOKE_NOT_RUN ? not_run_reason(r) : c->detail);
	}
}

int smoke_run(const struct smoke_options *o)
{
	_cleanup_(json_decrefp) json_t *m = NULL;
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	_cleanup_(smoke_report_done) struct smoke_report report = { 0 };
	_cleanup_free_ char *datadir = NULL, *logs = NULL, *site = NULL, *node = NULL, *site_log = NULL, *site_cmd = NULL,
			    *text = NULL, *xml = NULL, *junit = NULL, *suite = NULL, *timeouts[2] = { 0 };
	struct image_facts f;
	const char *arch;
	double start;
	int r, status;

	if ((r = image_read_manifest(o->image, &m)) < 0)
		return r;
	if ((r = image_facts(m, o->image, &f)) < 0)
		return r;
	arch = o->arch ? o->arch : f.arch;
	if (!streq(arch, f.arch))
		return log_error_errno(-EINVAL, "%s is an %s image, and --arch says %s", o->image, f.arch, arch);
	if (!f.payload)
		return log_error_errno(-EINVAL, "%s carries no payload (/%s): gapbox smoke tests a site's image, built with "
					       "--outputs DIR",
				       o->image, GB_MEDIUM_PAYLOAD);
	if (streq(o->firmware, "bios") && (!f.bios || !streq(arch, "amd64")))
		return log_error_errno(-EINVAL, "%s does not boot with BIOS (%s): use --firmware uefi", o->image,
				       streq(arch, "amd64") ? "its profile's boot.bios is false" : "arm64 has UEFI only");
	if (streq(o->firmware, "uefi") && !f.uefi)
		return log_error_errno(-EINVAL, "%s does not boot with UEFI (its profile's boot.uefi is false): use --firmware bios",
				       o->image);
	if ((r = gapbox_datadir(&datadir)) < 0)
		return log_error_errno(r, "cannot find gapbox's own files: %m");
	if (o->logs) {
		if ((r = mkdir_p(o->logs, 0755)) < 0)
			return log_error_errno(r, "--logs %s: cannot make it: %m", o->logs);
		logs = strdup(o->logs);
	} else {
		const char *tmpdir = getenv("TMPDIR");
		if (asprintf(&logs, "%s/gapbox-smoke.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp") >= 0 && !mkdtemp(logs))
			return log_error_errno(-errno, "cannot make a folder for the logs in %s: %m", tmpdir ? tmpdir : "/tmp");
	}
	if (!logs || !(site = path_join(logs, "site.conf")) || !(site_log = path_join(logs, "site.log")))
		return -ENOMEM;
	junit = o->junit ? strdup(o->junit) : path_join(logs, "junit.xml");
	if (!junit)
		return -ENOMEM;

	if ((r = image_config(o->image, logs, &a)) < 0 || (r = write_site(a, o->image, site)) < 0)
		return r;
	if ((r = node_image(datadir, arch, o->cache_dir, logs, &node)) < 0)
		return r;

	/* The time limit: at most 2/5 of it for the admin to give its verdict, the rest for the node. */
	unsigned admin_limit = o->timeout * 2 / 5;
	if (asprintf(&timeouts[0], "%u", admin_limit) < 0 || asprintf(&timeouts[1], "%u", o->timeout - admin_limit) < 0 ||
	    asprintf(&site_cmd, "%s/qemu/site", datadir) < 0)
		return -ENOMEM;
	const char *medium = streq(o->medium, "cd") ? "cdrom" : o->medium;
	char *argv[] = { site_cmd, (char *)o->image, node, "--arch", (char *)arch, "--firmware", (char *)o->firmware,
			 "--admin-medium", (char *)medium, "--admin-ready", "node", "--site", site, "--logs", logs,
			 "--admin-timeout", timeouts[0], "--node-timeout", timeouts[1], "--node-memory", SMOKE_NODE_MEMORY,
			 o->push_creds ? "--push-creds" : "--skip-push", (char *)o->push_creds, NULL };
	log_info("booting %s (%s, %s, %s) with the test node beside it, for at most %u s; consoles in %s", o->image, arch,
		 o->firmware, o->medium, o->timeout, logs);
	_cleanup_free_ char *node_log = path_join(logs, "node-console.log");
	if (!node_log)
		return -ENOMEM;
	(void)unlink(site_log);
	(void)unlink(node_log);
	start = now();
	status = run_site(argv, site_log, node_log);
	if (interrupted())
		return -EINTR;
	if (status < 0)
		return log_error_errno(status, "cannot run %s: %m", site_cmd);
	double seconds = now() - start;
	if ((r = read_file(site_log, SMOKE_SITE_LOG_MAX, &text, NULL)) < 0)
		return log_error_errno(r, "cannot read %s: %m", site_log);
	if ((r = smoke_report_parse(text, status, &report)) < 0)
		return r;
	if (asprintf(&suite, "gapbox smoke %s (%s, %s, %s)", f.name, arch, o->firmware, o->medium) < 0)
		return -ENOMEM;
	if ((r = smoke_junit(&report, suite, seconds, text, &xml)) < 0)
		return r;
	if ((r = write_file_atomic(junit, xml, strlen(xml), 0644)) < 0)
		return log_error_errno(r, "cannot write %s: %m", junit);

	print_report(&report);
	struct sbuf b = SBUF_INIT;
	_cleanup_free_ char *failed = NULL;
	for (size_t i = 0; i < report.n; i++)
		if (report.results[i].status == SMOKE_FAIL || report.results[i].status == SMOKE_NOT_RUN)
			sbuf_printf(&b, "%s%s", b.len ? ", " : "", report.results[i].name);
	if ((r = sbuf_finish(&b, &failed, NULL)) < 0)
		return r;
	if (failed[0]) {
		printf("gapbox smoke: FAILED: %s (%.0f s; consoles and site.log in %s, JUnit %s)\n", failed, seconds, logs,
		       junit);
		return 1;
	}
	printf("gapbox smoke: PASS: %zu checks passed, %zu skipped (%.0f s; consoles in %s, JUnit %s)\n",
	       report_count(&report, SMOKE_OK), report_count(&report, SMOKE_SKIP), seconds, logs, junit);
	return 0;
}
