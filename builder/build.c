/* gapbox build: set-up (profile, epoch, work folder), the stages in order with their typed
 * results, tear-down, and what the stages share (artifacts, paths, helper failures). */
#include "build.h"

#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "helper.h"
#include "layout.h"
#include "libclosure.h"
#include "log.h"
#include "manifestsig.h"
#include "netboot.h"
#include "siteconfig.h"
#include "strv.h"
#include "uki.h"

void build_options_done(struct build_options *o)
{
	free(o->output);
	free(o->cache_dir);
	free(o->outputs_dir);
	free(o->site_config);
	strv_free(o->extra_overlays);
	*o = (struct build_options){ 0 };
}

void rootfs_done(struct rootfs *r)
{
	free(r->tar);
	free(r->key);
	*r = (struct rootfs){ 0 };
}

void kernel_done(struct kernel *k)
{
	FREE_ALL(k->kver, k->path, k->moddir, k->busybox, k->e2fsck, k->moddep, k->modbuiltin);
	*k = (struct kernel){ 0 };
}

char *build_work_path(const struct build *b, const char *name)
{
	return path_join(b->workdir, name);
}

char *build_medium_path(const struct build *b, const char *medium_path)
{
	return path_join(b->isotree, medium_path);
}

char *build_log_path(const struct build *b, const char *stage)
{
	char *p;
	return asprintf(&p, "%s/%s.log", b->logdir, stage) < 0 ? NULL : p;
}

int build_target_binary(const struct build *b, const char *name, char **ret)
{
	char *p;
	if (asprintf(&p, "%s/build/%s/%s", b->datadir, b->profile->arch, name) < 0)
		return -ENOMEM;
	if (access(p, X_OK) < 0) {
		int r = log_error_errno(-errno, "%s is missing (%m): build it with 'make ARCH=%s'", p, b->profile->arch);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int build_add_artifact(struct build *b, const char *medium_path)
{
	_cleanup_free_ char *source = build_medium_path(b, medium_path);
	struct manifest_artifact *na = realloc(b->artifacts, (b->n_artifacts + 1) * sizeof(*na)), *a;
	int r;

	if (!na || !source)
		return -ENOMEM;
	b->artifacts = na;
	a = &b->artifacts[b->n_artifacts];
	*a = (struct manifest_artifact){ .path = strdup(medium_path) };
	if (!a->path)
		return -ENOMEM;
	b->n_artifacts++;
	r = gb_sha256_file(source, a->sha256, &a->size);
	if (r < 0)
		return log_error_errno(r, "cannot hash %s: %m", source);
	return 0;
}

int build_helper_failed(const struct build *b, const char *what, int status, const char *log_path)
{
	return helper_failed(what, status, log_path, b->workdir);
}

const char *build_payload_arch(const struct build *b)
{
	return b->profile->payload.arch ? b->profile->payload.arch : b->profile->arch;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int gapbox_datadir(char **ret)
{
	const char *env = getenv("GAPBOX_DATADIR");
	char exe[PATH_MAX];
	ssize_t n;

	if (env)
		return (*ret = strdup(env)) ? 0 : -ENOMEM;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	char *d = dirname(dirname(dirname(exe)));
	return (*ret = strdup(d)) ? 0 : -ENOMEM;
}

/* nftw gives its callback no user data. */
static time_t newest_payload_mtime;

/* SOURCE_DATE_EPOCH into b->epoch; unset, the epoch is settled after the rootfs stage. */
static int parse_epoch(struct build *b)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	if (!s || !*s)
		return 0;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return log_error_errno(-EINVAL, "SOURCE_DATE_EPOCH='%s': expected seconds since 1970 as a decimal number", s);
	b->epoch = (time_t)v;
	b->epoch_from = "SOURCE_DATE_EPOCH";
	return 0;
}

static int newest_mtime_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path, (void)type, (void)ftw;
	if (st->st_mtime > newest_payload_mtime)
		newest_payload_mtime = st->st_mtime;
	return interrupted() ? -EINTR : 0;
}

/* Without SOURCE_DATE_EPOCH, the newest of the build's inputs' times: the apt archive's date, the
 * payload's newest file and gapbox's own commit. Building again from the same inputs, anywhere
 * and at any later time, then gives the same image; a newer input moves it on. */
static int settle_epoch(struct build *b, const struct rootfs *rootfs)
{
	struct tm tm;

	if (!b->epoch_from) {
		b->epoch = rootfs->archive_date;
		b->epoch_from = "apt archive";
		if (GB_COMMIT_TIME > b->epoch) {
			b->epoch = GB_COMMIT_TIME;
			b->epoch_from = "gapbox commit";
		}
		if (b->outputs_dir) {
			newest_payload_mtime = 0;
			int r = nftw(b->outputs_dir, newest_mtime_visit, 16, FTW_PHYS);
			if (r != 0)
				return r == -EINTR ? r : log_error_errno(-errno, "cannot walk %s: %m", b->outputs_dir);
			if (newest_payload_mtime > b->epoch) {
				b->epoch = newest_payload_mtime;
				b->epoch_from = "payload";
			}
		}
	}
	gmtime_r(&b->epoch, &tm);
	strftime(b->medium_uuid, sizeof(b->medium_uuid), "%Y-%m-%d-%H-%M-%S-00", &tm);
	log_info("epoch %lld (%s), medium %s", (long long)b->epoch, b->epoch_from, b->medium_uuid);
	return 0;
}

/* mkdtemp on TEMPLATE (freed and NULLed on failure). */
static int make_temp_dir(char **template, const char *what)
{
	int r;

	if (mkdtemp(*template))
		return 0;
	r = log_error_errno(-errno, "cannot create %s %s: %m", what, *template);
	free(*template);
	*template = NULL;
	return r;
}

/* The work folder sits beside the output so the finished image is renamed, never copied. */
static int build_setup(struct build *b, const struct build_options *o)
{
	_cleanup_free_ char *copy = NULL, *medium_dir = NULL;
	const char *tmp = getenv("TMPDIR"), *dir;
	int r;

	b->output = o->output;
	b->cache_dir = o->cache_dir;
	b->no_cache = o->no_cache;
	b->extra_overlays = o->extra_overlays;
	b->outputs_dir = o->outputs_dir ? o->outputs_dir : b->profile->payload.outputs;
	b->site_config = o->site_config ? o->site_config : b->profile->site_config;
	b->strict = o->strict;
	b->netboot_dir = o->netboot_dir;
	b->netboot_url = o->netboot_url;
	b->netboot_force = o->netboot_force;
	/* The command line's caps over the profile's. */
	if (o->caps.layer)
		b->profile->payload.caps.layer = o->caps.layer;
	if (o->caps.image)
		b->profile->payload.caps.image = o->caps.image;
	if (o->caps.total)
		b->profile->payload.caps.total = o->caps.total;
	b->medium_label = GB_MEDIUM_LABEL;
	/* The image must not depend on who builds it where: the helpers see one time zone, one
	 * locale and one umask (mtools and xorriso write local times; sort orders follow LC_COLLATE). */
	umask(022);
	if (setenv("TZ", "UTC0", 1) < 0 || setenv("LC_ALL", "C.UTF-8", 1) < 0 || unsetenv("LANGUAGE") < 0)
		return -ENOMEM;
	tzset();
	if ((r = parse_epoch(b)) < 0)
		return r;
	if ((r = gapbox_datadir(&b->datadir)) < 0)
		return log_error_errno(r, "cannot find gapbox's data folder: %m");
	/* A failed build must never leave an old image at the output path looking current. */
	if (unlink(b->output) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "cannot remove the previous %s: %m", b->output);

	if (!(copy = strdup(b->output)))
		return -ENOMEM;
	dir = dirname(copy);
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create output folder %s: %m", dir);
	if (asprintf(&b->workdir, "%s/.gapbox-build-%s-XXXXXX", dir, b->profile->name) < 0)
		return b->workdir = NULL, -ENOMEM;
	if ((r = make_temp_dir(&b->workdir, "a work folder")) < 0)
		return r;
	if (!(b->isotree = build_work_path(b, "iso")) || !(medium_dir = build_medium_path(b, GB_MEDIUM_DIR)))
		return -ENOMEM;
	if ((r = mkdir_p(medium_dir, 0755)) < 0)
		return log_error_errno(r, "cannot populate the work folder %s: %m", b->workdir);
	if (asprintf(&b->logdir, "%s/gapbox-logs-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		return b->logdir = NULL, -ENOMEM;
	return make_temp_dir(&b->logdir, "a log folder");
}

static void build_teardown(struct build *b)
{
	if (b->workdir) {
		int r = rm_rf(b->workdir);
		if (r < 0)
			log_warning_errno(r, "cannot remove the work folder %s: %m", b->workdir);
	}
	if (b->logdir)
		rm_rf(b->logdir);
	FREE_ARRAY(b->artifacts, b->n_artifacts, manifest_artifact_done);
	FREE_ARRAY(b->verity, b->n_verity, manifest_verity_done);
	free(b->workdir);
	free(b->logdir);
	free(b->isotree);
	free(b->datadir);
	payload_record_done(&b->payload);
	signing_key_free(b->signing_key);
	uki_key_free(b->uki_key);
	profile_free(b->profile);
}

static int load_signing_key(const char *path, struct signing_key **ret)
{
	_cleanup_free_ char *error = NULL;
	struct stat st;
	int r = signing_key_load_private(path, ret, &error);

	if (r < 0)
		return r == -ENOMEM ? r : log_error_errno(r, "--sign: %s", error ? error : "cannot read the key");
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		log_warning("--sign %s: the private key is readable by others (mode %04o): chmod 600 it", path,
			    (unsigned)(st.st_mode & 07777));
	log_info("the manifest will be signed by Ed25519 key %.16s", signing_key_id(*ret));
	return 0;
}

/* --secure-boot-key: the image boots through shim into a kernel image signed with it, which needs
 * the profile's UEFI boot with shim. */
static int load_uki_key(struct build *b, const char *key, const char *cert)
{
	const struct profile *p = b->profile;
	struct stat st;
	int r;

	if (!p->boot.uefi || !p->boot.secure_boot)
		return log_error_errno(-EINVAL, "--secure-boot-key: profile %s has %s; the signed kernel image is started by "
				       "shim on UEFI (boot.uefi and boot.secure_boot true)", p->name,
				       !p->boot.uefi ? "no UEFI boot (boot.uefi: false)" : "boot.secure_boot: false");
	if ((r = uki_key_load(key, cert, &b->uki_key)) < 0)
		return r;
	if (stat(key, &st) == 0 && (st.st_mode & 077))
		log_warning("--secure-boot-key %s: the private key is readable by others (mode %04o): chmod 600 it", key,
			    (unsigned)(st.st_mode & 07777));
	log_info("UEFI will boot a kernel image signed for %s (certificate sha256 %.16s)", b->uki_key->subject,
		 b->uki_key->fingerprint);
	return 0;
}

/* Runs the stages in order, timing each; the first failure stops the build. */
struct stage_clock {
	const char *current;   /* the stage running, or the one that failed */
	double start;          /* of the current stage */
	double build_start;
};

static void stage_start(struct stage_clock *c, const char *name)
{
	c->current = name;
	c->start = now();
}

static int stage_end(struct stage_clock *c, int r)
{
	if (r >= 0 && interrupted())
		r = -EINTR;
	if (r >= 0)
		log_info("stage %-10s %7.1f s", c->current, now() - c->start);
	return r;
}

#define STAGE(clock, name, call) (stage_start((clock), (name)), stage_end((clock), (call)))

int stage_netboot(struct build *b, const char *image, struct netboot_stage *ret)
{
	return netboot_prepare(image, b->netboot_dir, b->netboot_url, b->netboot_force, ret);
}

/* The image at its output path, then the netboot folder at its place; when the folder cannot be
 * put there, the image is taken back: a build that fails leaves neither. */
static int build_publish(struct build *b, const char *image, struct netboot_stage *netboot)
{
	int r;

	if (rename(image, b->output) < 0)
		return log_error_errno(-errno, "cannot rename %s to %s: %m", image, b->output);
	if (netboot->tree && (r = netboot_commit(netboot)) < 0) {
		if (unlink(b->output) < 0)
			log_warning_errno(-errno, "cannot remove %s: %m", b->output);
		return r;
	}
	return 0;
}

static int build_stages(struct build *b, struct stage_clock *c)
{
	struct site_config site = { 0 };
	struct rootfs rootfs = { 0 };
	struct kernel kernel = { 0 };
	struct system_image system = { 0 };
	_cleanup_(netboot_stage_done) struct netboot_stage netboot = { 0 };
	_cleanup_free_ char *image = NULL;
	struct lib_closure fetch = { 0 };
	int r;

	(void)((r = STAGE(c, "check", stage_check(b, &site))) < 0 ||
	       (r = STAGE(c, "rootfs", stage_rootfs(b, &rootfs))) < 0 || (r = settle_epoch(b, &rootfs)) < 0 ||
	       (r = STAGE(c, "kernel", stage_kernel(b, &rootfs, &kernel))) < 0 ||
	       (r = STAGE(c, "closure", stage_closure(b, &rootfs, &fetch))) < 0 ||
	       (r = STAGE(c, "system", stage_system(b, &rootfs, &kernel, &site, &system))) < 0 ||
	       (r = STAGE(c, "initramfs", stage_initramfs(b, &rootfs, &kernel, &system, &fetch))) < 0 ||
	       (r = STAGE(c, "payload", stage_payload(b))) < 0 ||
	       (r = STAGE(c, "verity", stage_verity(b))) < 0 ||
	       (r = STAGE(c, "boot", stage_boot(b, &rootfs))) < 0 ||
	       (r = STAGE(c, "manifest", stage_manifest(b, &rootfs, &kernel, &system, &site))) < 0 ||
	       (r = STAGE(c, "iso", stage_iso(b, &image))) < 0 ||
	       (b->netboot_dir && (r = STAGE(c, "netboot", stage_netboot(b, image, &netboot))) < 0));
	/* Not a timed stage: nothing may be put in place once the build was interrupted. */
	if (r >= 0) {
		c->current = "publish";
		r = interrupted() ? -EINTR : build_publish(b, image, &netboot);
	}
	if (r >= 0) {
		struct stat st;
		struct rusage ru = { 0 };

		getrusage(RUSAGE_SELF, &ru);
		if (b->netboot_dir)
			log_info("netboot folder %s written, to serve at %s", b->netboot_dir, b->netboot_url);
		log_info("built %s: %.1f MiB in %.1f s (rootfs %s); gapbox's peak memory %.1f MiB", b->output,
			 stat(b->output, &st) == 0 ? st.st_size / 1048576.0 : 0, now() - c->build_start,
			 rootfs.cached ? "from cache" : "bootstrapped", ru.ru_maxrss / 1024.0);
	}
	site_config_done(&site);
	rootfs_done(&rootfs);
	kernel_done(&kernel);
	lib_closure_done(&fetch);
	return r;
}

int build_run(const struct build_options *o)
{
	struct build b = { 0 };
	struct stage_clock clock = { .build_start = now() };
	_cleanup_free_ char *err = NULL, *output = NULL;
	int r;

	/* Refused before anything slow, and again when the folder is put in place. */
	if (o->netboot_dir && (r = netboot_target_check(o->netboot_dir, o->netboot_force)) < 0)
		return r;
	r = profile_load(o->profile_path, &b.profile, &err);
	if (r < 0) {
		if (err)
			log_error("%s", err);
		else
			log_error_errno(r, "cannot load profile %s: %m", o->profile_path);
		return r;
	}
	struct build_options opts = *o;
	if (!opts.output && asprintf(&output, "out/gapbox-%s.iso", b.profile->name) < 0)
		output = NULL;
	opts.output = opts.output ? opts.output : output;
	if (!opts.output) {
		profile_free(b.profile);
		return -ENOMEM;
	}
	/* A key that cannot sign is found before anything slow. */
	if (o->sign_key && (r = load_signing_key(o->sign_key, &b.signing_key)) < 0) {
		profile_free(b.profile);
		return r;
	}
	if (o->secure_boot_key && (r = load_uki_key(&b, o->secure_boot_key, o->secure_boot_cert)) < 0) {
		signing_key_free(b.signing_key);
		profile_free(b.profile);
		return r;
	}
	r = build_setup(&b, &opts);
	if (r >= 0) {
		log_info("building %s (%s) into %s", b.profile->name, b.profile->arch, b.output);
		r = build_stages(&b, &clock);
	}
	/* An interruption after the image and the folder were put in place changes nothing. */
	if (r < 0 && interrupted()) {
		log_error("interrupted; temporary files removed, no image written");
		r = -EINTR;
	} else if (r < 0 && clock.current)
		log_error("build of %s failed in stage %s; no image written", b.profile->name, clock.current);
	build_teardown(&b);
	return r;
}
