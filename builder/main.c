/* gapbox: builds, checks and inspects bootable images of the air-gap admin server. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <locale.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "build.h"
#include "fsutil.h"
#include "inspect.h"
#include "payload.h"
#include "log.h"
#include "strv.h"

static const struct {
	const char *name;
	int (*run)(struct build *b);
} stages[] = {
	{ "check", stage_check },   { "rootfs", stage_rootfs }, { "kernel", stage_kernel },
	{ "initramfs", stage_initramfs }, { "system", stage_system }, { "payload", stage_payload },
	{ "boot", stage_boot },     { "manifest", stage_manifest }, { "iso", stage_iso },
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage:\n"
		   "  gapbox build PROFILE [-o IMAGE] [--outputs DIR] [--overlay DIR]... [--no-cache] [--cache DIR]\n"
		   "               [--strict] [-v]\n"
		   "  gapbox check-outputs DIR [--arch amd64|arm64] [--registry HOST]... [--strict]\n"
		   "  gapbox inspect IMAGE\n"
		   "  gapbox version\n"
		   "\n"
		   "build          assemble a bootable hybrid ISO from a profile (default output out/gapbox-<name>.iso),\n"
		   "               carrying a kubespray-offline outputs/ folder when one is given\n"
		   "check-outputs  check an outputs/ folder before it goes into the air gap (images, binaries'\n"
		   "               architecture, versions, repos, PyPI index); exit 1 on errors\n"
		   "inspect        list what an image holds and check every artifact's sha256\n"
		   "\n"
		   "Environment: GAPBOX_CACHE (rootfs cache, default /var/cache/gapbox), SOURCE_DATE_EPOCH.\n");
}

/* The folder holding overlay/ and build/<arch>/: GAPBOX_DATADIR, else the source tree this
 * binary was built in (build/host/gapbox → ../..). */
static int find_datadir(char **ret)
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

static void medium_uuid_from_epoch(time_t epoch, char out[24])
{
	struct tm tm;
	gmtime_r(&epoch, &tm);
	strftime(out, 24, "%Y-%m-%d-%H-%M-%S-00", &tm);
}

static int parse_epoch(time_t *ret)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	if (!s || !*s) {
		*ret = time(NULL);
		return 0;
	}
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return log_error_errno(-EINVAL, "SOURCE_DATE_EPOCH='%s': expected seconds since 1970 as a decimal number", s);
	*ret = (time_t)v;
	return 0;
}

static void build_done(struct build *b)
{
	if (b->workdir) {
		int r = rm_rf(b->workdir);
		if (r < 0)
			log_warning_errno(r, "cannot remove the work folder %s: %m", b->workdir);
	}
	if (b->logdir)
		rm_rf(b->logdir);
	if (b->cache_tmp)
		unlink(b->cache_tmp);
	for (size_t i = 0; i < b->n_artifacts; i++) {
		free(b->artifacts[i].path);
		free(b->artifacts[i].source);
	}
	free(b->artifacts);
	free(b->workdir);
	free(b->logdir);
	free(b->isotree);
	free(b->cache_tmp);
	free(b->rootfs_tar);
	free(b->rootfs_key);
	free(b->kver);
	free(b->kernel_path);
	free(b->moddir);
	free(b->busybox_path);
	free(b->moddep_text);
	free(b->modbuiltin_text);
	free(b->output);
	free(b->cache_dir);
	free(b->datadir);
	free(b->outputs_dir);
	strv_free(b->extra_overlays);
	profile_free(b->profile);
}

/* The work folder sits beside the output so the finished image is renamed, never copied. */
static int build_prepare(struct build *b)
{
	_cleanup_free_ char *copy = strdup(b->output);
	const char *tmp = getenv("TMPDIR");
	int r;

	if (!copy)
		return -ENOMEM;
	const char *dir = dirname(copy);
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create output folder %s: %m", dir);
	if (asprintf(&b->workdir, "%s/.gapbox-build-%s-XXXXXX", dir, b->profile->name) < 0)
		return -ENOMEM;
	if (!mkdtemp(b->workdir)) {
		r = log_error_errno(-errno, "cannot create a work folder in %s: %m", dir);
		free(b->workdir);
	free(b->logdir);
		b->workdir = NULL;
		return r;
	}
	b->isotree = build_work_path(b, "iso");
	if (!b->isotree)
		return -ENOMEM;
	if ((r = mkdir_p(b->isotree, 0755)) < 0)
		return log_error_errno(r, "cannot populate the work folder %s: %m", b->workdir);
	if (asprintf(&b->logdir, "%s/gapbox-logs-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(b->logdir)) {
		r = log_error_errno(-errno, "cannot create a log folder %s: %m", b->logdir);
		free(b->logdir);
		b->logdir = NULL;
		return r;
	}
	return 0;
}

static int cmd_check_outputs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "arch", required_argument, NULL, 'a' }, { "registry", required_argument, NULL, 'r' },
		{ "strict", no_argument, NULL, 'S' },     { "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_strv_free_ char **registries = NULL;
	const char *arch = "amd64";
	bool strict = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'a':
			if (!streq(optarg, "amd64") && !streq(optarg, "arm64")) {
				log_error("--arch %s: expected amd64 or arm64", optarg);
				return 2;
			}
			arch = optarg;
			break;
		case 'r':
			if (strv_push(&registries, optarg) < 0)
				return 1;
			break;
		case 'S':
			strict = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	interrupt_setup();
	int r = payload_check_outputs(argv[optind], arch, registries, strict, stdout);
	return r < 0 ? 1 : 0;
}

static int cmd_build(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "overlay", required_argument, NULL, 'O' },
		{ "no-cache", no_argument, NULL, 'N' },     { "cache", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
		{ "outputs", required_argument, NULL, 'P' }, { "strict", no_argument, NULL, 'S' },
		{}
	};
	_cleanup_free_ char *outputs = NULL;
	struct build b = { .medium_label = MEDIUM_LABEL_DEFAULT };
	_cleanup_free_ char *err = NULL;
	double t0 = now(), times[ARRAY_SIZE(stages)] = { 0 };
	size_t done = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:vh", opts, NULL)) >= 0) {
		switch (c) {
		case 'o':
			free(b.output);
			b.output = strdup(optarg);
			break;
		case 'O':
			if (!path_is_dir(optarg)) {
				log_error("--overlay %s: not a folder", optarg);
				return 2;
			}
			if (strv_consume(&b.extra_overlays, realpath(optarg, NULL)) < 0)
				return 1;
			break;
		case 'N':
			b.no_cache = true;
			break;
		case 'P':
			free(outputs);
			outputs = realpath(optarg, NULL);
			if (!outputs || !path_is_dir(outputs)) {
				log_error("--outputs %s: not a folder", optarg);
				return 2;
			}
			break;
		case 'S':
			b.strict = true;
			break;
		case 'C':
			free(b.cache_dir);
			b.cache_dir = strdup(optarg);
			break;
		case 'v':
			gb_log_set_level(GB_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}

	interrupt_setup();
	r = profile_load(argv[optind], &b.profile, &err);
	if (r < 0) {
		if (err)
			log_error("%s", err);
		else
			log_error_errno(r, "cannot load profile %s: %m", argv[optind]);
		goto out;
	}
	b.outputs_dir = outputs ? TAKE_PTR(outputs) : b.profile->payload.outputs ? strdup(b.profile->payload.outputs) : NULL;
	if (!b.output && asprintf(&b.output, "out/gapbox-%s.iso", b.profile->name) < 0)
		b.output = NULL;
	if (!b.cache_dir)
		b.cache_dir = strdup(getenv("GAPBOX_CACHE") ? getenv("GAPBOX_CACHE") : "/var/cache/gapbox");
	if (!b.output || !b.cache_dir) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = parse_epoch(&b.epoch)) < 0)
		goto out;
	medium_uuid_from_epoch(b.epoch, b.medium_uuid);
	if ((r = find_datadir(&b.datadir)) < 0) {
		log_error_errno(r, "cannot find gapbox's data folder: %m");
		goto out;
	}
	/* A failed build must never leave an old image at the output path looking current. */
	if (unlink(b.output) < 0 && errno != ENOENT) {
		r = log_error_errno(-errno, "cannot remove the previous %s: %m", b.output);
		goto out;
	}
	if ((r = build_prepare(&b)) < 0)
		goto out;

	log_info("building %s (%s) into %s", b.profile->name, b.profile->arch, b.output);
	for (done = 0; done < ARRAY_SIZE(stages); done++) {
		double start = now();
		if (interrupted()) {
			r = -EINTR;
			break;
		}
		r = stages[done].run(&b);
		times[done] = now() - start;
		if (r < 0)
			break;
		log_info("stage %-10s %7.1f s", stages[done].name, times[done]);
	}
out:
	if (interrupted()) {
		log_error("interrupted; temporary files removed, no image written");
		r = -EINTR;
	} else if (r < 0 && b.profile && done < ARRAY_SIZE(stages))
		log_error("build of %s failed in stage %s; no image written", b.profile->name, stages[done].name);
	if (r >= 0) {
		struct stat st;
		double size = stat(b.output, &st) == 0 ? st.st_size / 1048576.0 : 0;
		struct rusage ru = { 0 };
		getrusage(RUSAGE_SELF, &ru);
		log_info("built %s: %.1f MiB in %.1f s (rootfs %s); gapbox's peak memory %.1f MiB", b.output, size,
			 now() - t0, b.rootfs_cached ? "from cache" : "bootstrapped", ru.ru_maxrss / 1024.0);
	}
	build_done(&b);
	return r == -EINTR ? 130 : r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	gb_log_set_ident("gapbox");
	/* Archive member names are UTF-8; libarchive converts through the locale's charset. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (streq(argv[1], "build"))
		return cmd_build(argc - 1, argv + 1);
	if (streq(argv[1], "check-outputs"))
		return cmd_check_outputs(argc - 1, argv + 1);
	if (streq(argv[1], "inspect")) {
		if (argc != 3) {
			usage(stderr);
			return 2;
		}
		return image_inspect(argv[2], stdout) < 0 ? 1 : 0;
	}
	if (streq(argv[1], "version") || streq(argv[1], "--version")) {
		printf("gapbox %s\n", GB_VERSION);
		return 0;
	}
	if (streq(argv[1], "help") || streq(argv[1], "--help") || streq(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	log_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return 2;
}
