/* Parsing gapbox's command lines. */
#include "options.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"
#include "strv.h"

void usage(FILE *f)
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

/* The one positional argument every command takes, after the options. */
static int one_operand(int argc, char **argv, const char **ret)
{
	if (optind + 1 != argc) {
		usage(stderr);
		return OPTIONS_EXIT(2);
	}
	*ret = argv[optind];
	return 0;
}

static int bad_option(const char *fmt, const char *arg)
{
	log_error(fmt, arg);
	return OPTIONS_EXIT(2);
}

/* A folder argument as an absolute path. */
static int folder_option(const char *option, const char *arg, char **ret)
{
	char *real = realpath(arg, NULL);

	if (!real || !path_is_dir(real)) {
		free(real);
		log_error("%s %s: not a folder", option, arg);
		return OPTIONS_EXIT(2);
	}
	free(*ret);
	*ret = real;
	return 0;
}

int build_options_parse(int argc, char **argv, struct build_options *ret)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "overlay", required_argument, NULL, 'O' },
		{ "no-cache", no_argument, NULL, 'N' },     { "cache", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
		{ "outputs", required_argument, NULL, 'P' }, { "strict", no_argument, NULL, 'S' },
		{}
	};
	struct build_options o = { 0 };
	char *overlay = NULL;
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, "o:vh", opts, NULL)) >= 0) {
		switch (c) {
		case 'o':
			free(o.output);
			r = (o.output = strdup(optarg)) ? 0 : -ENOMEM;
			break;
		case 'O':
			overlay = NULL;
			r = folder_option("--overlay", optarg, &overlay);
			if (r == 0)
				r = strv_consume(&o.extra_overlays, overlay);
			break;
		case 'N':
			o.no_cache = true;
			break;
		case 'P':
			r = folder_option("--outputs", optarg, &o.outputs_dir);
			break;
		case 'S':
			o.strict = true;
			break;
		case 'C':
			free(o.cache_dir);
			r = (o.cache_dir = strdup(optarg)) ? 0 : -ENOMEM;
			break;
		case 'v':
			gb_log_set_level(GB_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			r = OPTIONS_EXIT(0);
			break;
		default:
			usage(stderr);
			r = OPTIONS_EXIT(2);
		}
	}
	if (r == 0)
		r = one_operand(argc, argv, &o.profile_path);
	if (r == 0 && !o.cache_dir) {
		const char *env = getenv("GAPBOX_CACHE");
		r = (o.cache_dir = strdup(env ? env : "/var/cache/gapbox")) ? 0 : -ENOMEM;
	}
	if (r != 0) {
		build_options_done(&o);
		return r < 0 ? OPTIONS_EXIT(1) : r;
	}
	*ret = o;
	return 0;
}

void check_options_done(struct check_options *o)
{
	strv_free(o->registries);
	*o = (struct check_options){ 0 };
}

int check_options_parse(int argc, char **argv, struct check_options *ret)
{
	static const struct option opts[] = {
		{ "arch", required_argument, NULL, 'a' }, { "registry", required_argument, NULL, 'r' },
		{ "strict", no_argument, NULL, 'S' },     { "help", no_argument, NULL, 'h' },
		{}
	};
	struct check_options o = { .arch = "amd64" };
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'a':
			if (!streq(optarg, "amd64") && !streq(optarg, "arm64"))
				r = bad_option("--arch %s: expected amd64 or arm64", optarg);
			o.arch = optarg;
			break;
		case 'r':
			r = strv_push(&o.registries, optarg) < 0 ? OPTIONS_EXIT(1) : 0;
			break;
		case 'S':
			o.strict = true;
			break;
		case 'h':
			usage(stdout);
			r = OPTIONS_EXIT(0);
			break;
		default:
			usage(stderr);
			r = OPTIONS_EXIT(2);
		}
	}
	if (r == 0)
		r = one_operand(argc, argv, &o.dir);
	if (r != 0) {
		check_options_done(&o);
		return r;
	}
	*ret = o;
	return 0;
}
