/* Parsing gapbox's command lines. */
#include "options.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bytesize.h"
#include "fsutil.h"
#include "log.h"
#include "netbootcfg.h"
#include "smoke.h"
#include "strv.h"

/* Each command's synopsis (after "gapbox NAME "), what it does (lines of at most 100 columns,
 * each after the 15-column name field), and whether the payload's CAPS and the environment
 * apply to it. */
static const struct command_help {
	const char *name;
	const char *synopsis;
	const char *text;
	bool caps, environment;
} command_help[] = {
	{ "build",
	  "PROFILE [-o IMAGE] [--outputs DIR] [--config FILE] [--overlay DIR]... [--no-cache]\n"
	  "               [--cache DIR] [--strict] [CAPS] [--netboot DIR --netboot-url URL [--force]]\n"
	  "               [--sign KEY] [--secure-boot-key KEY --secure-boot-cert CERT] [-v]",
	  "assemble a bootable hybrid ISO from a profile (default output out/gapbox-<name>.iso),\n"
	  "carrying a kubespray-offline outputs/ folder when one is given, and the site's\n"
	  "appliance configuration (--config, or the profile's site_config) checked and\n"
	  "baked in as /etc/gapbox/appliance.yaml; --netboot also writes the image's netboot\n"
	  "folder at DIR, as gapbox netboot does (--force: replace what DIR holds); --sign\n"
	  "signs the build manifest with the Ed25519 private key in the PEM file KEY\n"
	  "(openssl genpkey -algorithm ed25519), which stays out of the image;\n"
	  "--secure-boot-key and --secure-boot-cert: UEFI boots a unified kernel image (kernel,\n"
	  "initramfs, command line) signed with this RSA key, which shim checks against the\n"
	  "firmware's db and the MOK list; the certificate (DER) is on the medium to enrol\n"
	  "(EFI/BOOT/gapbox-secure-boot.der); the key stays out of the image",
	  true, true },
	{ "check-outputs", "DIR [--arch amd64|arm64] [--registry HOST]... [--strict] [--record FILE] [CAPS]",
	  "check an outputs/ folder before it goes into the air gap (images, binaries'\n"
	  "architecture, versions, repos, PyPI index, kubespray's checksums); exit 1 on\n"
	  "errors; --record writes the payload record a build of it would carry",
	  true, false },
	{ "check-config", "FILE [--machine]",
	  "check an appliance configuration (/etc/gapbox/appliance.yaml) as gapbox build\n"
	  "--config would, with gapbox-firstboot's own checks; --machine: as the machine\n"
	  "reads it from its data partition, where private keys may be; exit 1 on errors",
	  false, false },
	{ "inspect", "IMAGE [--verify PUBKEY] [--json]",
	  "list what an image holds and check every artifact's sha256; --verify: first check\n"
	  "that the manifest is signed by the Ed25519 public key in the PEM file PUBKEY;\n"
	  "--json: one JSON object on stdout (the manifest, each artifact's verdict, the signature)",
	  false, false },
	{ "verify", "IMAGE|DEVICE [--key PUBKEY] [--json]",
	  "the same checks on an image or a stick written with it (gapbox write), with\n"
	  "--key PUBKEY for the signature; exit 1 when anything does not match",
	  false, false },
	{ "netboot", "IMAGE DIR --url URL [--force]",
	  "write a folder from which the image boots over the network, to serve over HTTP at URL\n"
	  "(gapbox.fetch=URL): its artifacts, each checked against the build manifest, the\n"
	  "manifest, an iPXE script, pxelinux (BIOS, amd64) and GRUB (UEFI) loaders and configs,\n"
	  "and an example dnsmasq config (proxy-DHCP and TFTP); DIR must be new or empty\n"
	  "(--force: replace it)",
	  false, false },
	{ "write", "IMAGE DEVICE [--data SIZE|rest] [--yes] [--force]",
	  "write an image to a USB stick (a whole disk) or a disk image file, after showing\n"
	  "what it holds and asking (--yes: do not ask); refuses a disk that is in use, and\n"
	  "one that is neither removable nor on USB unless --force; reads it back to verify;\n"
	  "keeps a GAPBOX-DATA partition behind the image, --data makes one (at least 64MiB)",
	  false, false },
	{ "smoke", "IMAGE [--arch amd64|arm64] [--firmware uefi|bios] [--medium cd|usb|disk] [--timeout SECONDS]\n"
	  "               [--logs DIR] [--junit FILE] [--push-creds USER:PASSWORD] [--cache DIR]",
	  "boot a site's image under QEMU with a test node beside it (built by gapbox, kept in the\n"
	  "cache's smoke/), as the configuration's first node: it runs node-setup.sh and the site checks\n"
	  "(the admin's own verdict, DNS, route, NTP, pip, files, the package repository, every listed\n"
	  "image pulled by its upstream name, a push with --push-creds), and the host checks that\n"
	  "only SSH answers on the external NIC; prints each check, writes a JUnit XML report\n"
	  "(default LOGS/junit.xml) and exits 1 naming what failed, 2 when it cannot run; --timeout:\n"
	  "from power-on to the last check (default 1800); the consoles are kept in LOGS (default a\n"
	  "new folder in TMPDIR)",
	  false, true },
	{ "version", "", "print gapbox's version", false, false },
};

static void put_text(FILE *f, const struct command_help *h)
{
	const char *line = h->text;

	fprintf(f, "%-15s", h->name);
	while (*line) {
		size_t n = strcspn(line, "\n");

		fprintf(f, "%s%.*s\n", line == h->text ? "" : "               ", (int)n, line);
		line += n + (line[n] == '\n');
	}
}

static void put_caps(FILE *f)
{
	fprintf(f, "\nCAPS: what the payload's image archives may decompress to, sizes like 16GiB, 512M or bytes:\n"
		   "  --max-layer-size SIZE     one layer (default 16GiB; profile: payload.max_layer_size)\n"
		   "  --max-image-size SIZE     one image archive, layers included (default 32GiB; payload.max_image_size)\n"
		   "  --max-unpacked-size SIZE  all image archives together (default 256GiB; payload.max_unpacked_size)\n");
}

static void put_environment(FILE *f)
{
	fprintf(f, "\nEnvironment: GAPBOX_CACHE (rootfs cache, default /var/cache/gapbox), SOURCE_DATE_EPOCH,\n"
		   "GAPBOX_PROGRESS (bar, lines or off; default: a bar on a terminal, else lines).\n");
}

void usage(FILE *f)
{
	fprintf(f, "Usage:\n");
	for (size_t i = 0; i < ARRAY_SIZE(command_help); i++)
		fprintf(f, "  gapbox %s%s%s\n", command_help[i].name, *command_help[i].synopsis ? " " : "",
			command_help[i].synopsis);
	fprintf(f, "  gapbox COMMAND --help, gapbox help COMMAND: one command's usage\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(command_help); i++)
		if (!streq(command_help[i].name, "version"))
			put_text(f, &command_help[i]);
	put_caps(f);
	put_environment(f);
}

int command_usage(FILE *f, const char *command)
{
	for (size_t i = 0; i < ARRAY_SIZE(command_help); i++) {
		const struct command_help *h = &command_help[i];

		if (!streq(h->name, command))
			continue;
		fprintf(f, "Usage: gapbox %s%s%s\n\n", h->name, *h->synopsis ? " " : "", h->synopsis);
		put_text(f, h);
		if (h->caps)
			put_caps(f);
		if (h->environment)
			put_environment(f);
		return 0;
	}
	return -ENOENT;
}

/* getopt over ARGV: --help and unknown options are handled here, every other option goes to
 * FN (0 to go on, or OPTIONS_EXIT()), then the N operands the command takes. */
static int parse(int argc, char **argv, const char *shortopts, const struct option *longopts,
		 int (*fn)(int c, char *arg, void *userdata), void *userdata, const char **ret_operands, int n)
{
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
		if (c == 'h') {
			command_usage(stdout, argv[0]);
			return OPTIONS_EXIT(0);
		}
		if (c == '?' || c == ':') {
			command_usage(stderr, argv[0]);
			return OPTIONS_EXIT(2);
		}
		r = fn(c, optarg, userdata);
	}
	if (r != 0)
		return r;
	if (optind + n != argc) {
		log_error("%s takes %d operand%s, %d given", argv[0], n, n == 1 ? "" : "s", argc - optind);
		command_usage(stderr, argv[0]);
		return OPTIONS_EXIT(2);
	}
	for (int i = 0; i < n; i++)
		ret_operands[i] = argv[optind + i];
	return 0;
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

/* A cap on decompressed bytes: a size above zero. */
static int cap_option(const char *option, const char *arg, uint64_t *ret)
{
	uint64_t size;

	if (bytesize_parse(arg, &size) < 0 || size == 0) {
		log_error("%s %s: expected a size above zero, like 16GiB, 512MiB or 1048576 (bytes)", option, arg);
		return OPTIONS_EXIT(2);
	}
	*ret = size;
	return 0;
}

/* The cap options of build and check-outputs, as getopt values. */
enum { OPT_MAX_LAYER = 0x100, OPT_MAX_IMAGE, OPT_MAX_UNPACKED };
#define CAP_OPTIONS                                                                       \
	{ "max-layer-size", required_argument, NULL, OPT_MAX_LAYER },                     \
	{ "max-image-size", required_argument, NULL, OPT_MAX_IMAGE },                     \
	{ "max-unpacked-size", required_argument, NULL, OPT_MAX_UNPACKED }

/* 1 when C is no cap option, else cap_option's result. */
static int caps_option(int c, const char *arg, struct unpack_caps *caps)
{
	switch (c) {
	case OPT_MAX_LAYER:
		return cap_option("--max-layer-size", arg, &caps->layer);
	case OPT_MAX_IMAGE:
		return cap_option("--max-image-size", arg, &caps->image);
	case OPT_MAX_UNPACKED:
		return cap_option("--max-unpacked-size", arg, &caps->total);
	}
	return -1;
}

/* A copy of ARG in *RET. */
static int string_option(const char *arg, char **ret)
{
	free(*ret);
	return (*ret = strdup(arg)) ? 0 : OPTIONS_EXIT(1);
}

static const struct option build_opts[] = {
	{ "output", required_argument, NULL, 'o' }, { "overlay", required_argument, NULL, 'O' },
	{ "no-cache", no_argument, NULL, 'N' },     { "cache", required_argument, NULL, 'C' },
	{ "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
	{ "outputs", required_argument, NULL, 'P' }, { "strict", no_argument, NULL, 'S' },
	{ "config", required_argument, NULL, 'F' },
	{ "netboot", required_argument, NULL, 'B' }, { "netboot-url", required_argument, NULL, 'U' },
	{ "force", no_argument, NULL, 'f' },         { "sign", required_argument, NULL, 'K' },
	{ "secure-boot-key", required_argument, NULL, 'Y' }, { "secure-boot-cert", required_argument, NULL, 'Z' },
	CAP_OPTIONS,
	{}
};

/* --url, --netboot-url: a base URL the loaders' configs can carry. */
static int url_option(const char *option, const char *arg, const char **ret)
{
	_cleanup_free_ char *err = NULL;

	if (netboot_url_check(arg, &err) < 0) {
		log_error("%s %s", option, err ? err : "is not a URL gapbox can use");
		return OPTIONS_EXIT(2);
	}
	*ret = arg;
	return 0;
}

static int build_option(int c, char *arg, void *userdata)
{
	struct build_options *o = userdata;
	char *overlay = NULL;
	int r;

	switch (c) {
	case 'o':
		return string_option(arg, &o->output);
	case 'O':
		r = folder_option("--overlay", arg, &overlay);
		return r != 0 ? r : strv_consume(&o->extra_overlays, overlay) < 0 ? OPTIONS_EXIT(1) : 0;
	case 'N':
		o->no_cache = true;
		return 0;
	case 'P':
		return folder_option("--outputs", arg, &o->outputs_dir);
	case 'S':
		o->strict = true;
		return 0;
	case 'C':
		return string_option(arg, &o->cache_dir);
	case 'F':
		/* Kept as typed: messages name it so. It is read in the check stage. */
		return string_option(arg, &o->site_config);
	case 'B':
		o->netboot_dir = arg;
		return 0;
	case 'U':
		return url_option("--netboot-url", arg, &o->netboot_url);
	case 'f':
		o->netboot_force = true;
		return 0;
	case 'K':
		o->sign_key = arg;
		return 0;
	case 'Y':
		o->secure_boot_key = arg;
		return 0;
	case 'Z':
		o->secure_boot_cert = arg;
		return 0;
	case 'v':
		gb_log_set_level(GB_LOG_DEBUG);
		return 0;
	}
	r = caps_option(c, arg, &o->caps);
	return r >= 0 ? r : OPTIONS_EXIT(2);
}

int build_options_parse(int argc, char **argv, struct build_options *ret)
{
	struct build_options o = { 0 };
	const char *env = getenv("GAPBOX_CACHE");
	int r;

	r = parse(argc, argv, "o:vh", build_opts, build_option, &o, &o.profile_path, 1);
	if (r == 0 && !o.netboot_dir != !o.netboot_url) {
		log_error(o.netboot_dir ? "--netboot %s needs --netboot-url URL: the base URL the folder will be served at "
					  "(the kernel's gapbox.fetch=)"
					: "--netboot-url needs --netboot DIR: the folder to write%s",
			  o.netboot_dir ? o.netboot_dir : "");
		r = OPTIONS_EXIT(2);
	}
	if (r == 0 && !o.secure_boot_key != !o.secure_boot_cert) {
		log_error(o.secure_boot_key ? "--secure-boot-key needs --secure-boot-cert CERT: the key's X.509 certificate (PEM)"
					    : "--secure-boot-cert needs --secure-boot-key KEY: the RSA private key (PEM) it certifies");
		r = OPTIONS_EXIT(2);
	}
	if (r == 0 && o.netboot_force && !o.netboot_dir) {
		log_error("--force replaces the folder of --netboot DIR, which is not given");
		r = OPTIONS_EXIT(2);
	}
	if (r == 0 && !o.cache_dir)
		r = string_option(env ? env : "/var/cache/gapbox", &o.cache_dir);
	if (r != 0) {
		build_options_done(&o);
		return r;
	}
	*ret = o;
	return 0;
}

void check_options_done(struct check_options *o)
{
	strv_free(o->registries);
	*o = (struct check_options){ 0 };
}

static const struct option check_opts[] = {
	{ "arch", required_argument, NULL, 'a' }, { "registry", required_argument, NULL, 'r' },
	{ "strict", no_argument, NULL, 'S' },     { "record", required_argument, NULL, 'R' },
	{ "help", no_argument, NULL, 'h' },
	CAP_OPTIONS,
	{}
};

static int check_option(int c, char *arg, void *userdata)
{
	struct check_options *o = userdata;

	switch (c) {
	case 'a':
		if (!streq(arg, "amd64") && !streq(arg, "arm64")) {
			log_error("--arch %s: expected amd64 or arm64", arg);
			return OPTIONS_EXIT(2);
		}
		o->arch = arg;
		return 0;
	case 'r':
		return strv_push(&o->registries, arg) < 0 ? OPTIONS_EXIT(1) : 0;
	case 'S':
		o->strict = true;
		return 0;
	case 'R':
		o->record = arg;
		return 0;
	}
	int r = caps_option(c, arg, &o->caps);
	return r >= 0 ? r : OPTIONS_EXIT(2);
}

int check_options_parse(int argc, char **argv, struct check_options *ret)
{
	struct check_options o = { .arch = "amd64", .caps = UNPACK_CAPS_DEFAULT };
	int r = parse(argc, argv, "h", check_opts, check_option, &o, &o.dir, 1);

	if (r != 0) {
		check_options_done(&o);
		return r;
	}
	*ret = o;
	return 0;
}

static const struct option check_config_opts[] = {
	{ "machine", no_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{}
};

static int check_config_option(int c, char *arg, void *userdata)
{
	struct check_config_options *o = userdata;

	(void)arg;
	if (c == 'm') {
		o->use = APPLIANCE_ON_MACHINE;
		return 0;
	}
	return OPTIONS_EXIT(2);
}

int check_config_options_parse(int argc, char **argv, struct check_config_options *ret)
{
	struct check_config_options o = { .use = APPLIANCE_IN_IMAGE };
	int r = parse(argc, argv, "h", check_config_opts, check_config_option, &o, &o.path, 1);

	if (r != 0)
		return r;
	*ret = o;
	return 0;
}

/* Each command its own spelling: inspect --verify PUBKEY, verify --key PUBKEY. */
static const struct option inspect_opts[] = {
	{ "verify", required_argument, NULL, 'k' }, { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
	{}
};
static const struct option verify_opts[] = {
	{ "key", required_argument, NULL, 'k' }, { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
	{}
};

static int inspect_option(int c, char *arg, void *userdata)
{
	struct inspect_options *o = userdata;

	if (c == 'k')
		o->key = arg;
	else if (c == 'j')
		o->json = true;
	return 0;
}

int inspect_options_parse(int argc, char **argv, bool verify, struct inspect_options *ret)
{
	struct inspect_options o = { 0 };
	int r = parse(argc, argv, "h", verify ? verify_opts : inspect_opts, inspect_option, &o, &o.image, 1);

	if (r != 0)
		return r;
	*ret = o;
	return 0;
}

static const struct option write_opts[] = {
	{ "yes", no_argument, NULL, 'y' },  { "force", no_argument, NULL, 'f' },
	{ "data", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },
	{}
};

static int write_option(int c, char *arg, void *userdata)
{
	struct write_options *o = userdata;
	char min[BYTESIZE_MAX];

	switch (c) {
	case 'y':
		o->yes = true;
		return 0;
	case 'f':
		o->force = true;
		return 0;
	case 'd':
		o->data = true;
		if (streq(arg, "rest")) {
			o->data_size = GPT_SIZE_REST;
			return 0;
		}
		if (bytesize_parse(arg, &o->data_size) < 0 || o->data_size < WRITE_DATA_MIN_SIZE) {
			log_error("--data %s: expected rest, or a size of at least %s, like 4GiB or 512M", arg,
				  bytesize_format(WRITE_DATA_MIN_SIZE, min));
			return OPTIONS_EXIT(2);
		}
		return 0;
	}
	return OPTIONS_EXIT(2);
}

int write_options_parse(int argc, char **argv, struct write_options *ret)
{
	struct write_options o = { 0 };
	const char *operands[2];
	int r = parse(argc, argv, "yfh", write_opts, write_option, &o, operands, 2);

	if (r != 0)
		return r;
	o.image = operands[0];
	o.device = operands[1];
	*ret = o;
	return 0;
}

static const struct option netboot_opts[] = {
	{ "url", required_argument, NULL, 'u' }, { "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{}
};

static int netboot_option(int c, char *arg, void *userdata)
{
	struct netboot_options *o = userdata;

	switch (c) {
	case 'u':
		return url_option("--url", arg, &o->url);
	case 'f':
		o->force = true;
		return 0;
	}
	return OPTIONS_EXIT(2);
}

int netboot_options_parse(int argc, char **argv, struct netboot_options *ret)
{
	struct netboot_options o = { 0 };
	const char *operands[2];
	int r = parse(argc, argv, "fh", netboot_opts, netboot_option, &o, operands, 2);

	if (r != 0)
		return r;
	if (!o.url) {
		log_error("gapbox netboot needs --url URL: the base URL the folder will be served at (the kernel's "
			  "gapbox.fetch=), like http://192.168.10.1/gapbox/");
		return OPTIONS_EXIT(2);
	}
	o.image = operands[0];
	o.dir = operands[1];
	*ret = o;
	return 0;
}

static const struct option smoke_opts[] = {
	{ "arch", required_argument, NULL, 'a' },     { "firmware", required_argument, NULL, 'F' },
	{ "medium", required_argument, NULL, 'm' },   { "timeout", required_argument, NULL, 't' },
	{ "logs", required_argument, NULL, 'l' },     { "junit", required_argument, NULL, 'j' },
	{ "push-creds", required_argument, NULL, 'p' }, { "cache", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{}
};

static int smoke_option(int c, char *arg, void *userdata)
{
	struct smoke_options *o = userdata;
	char *end;

	switch (c) {
	case 'a':
		if (!streq(arg, "amd64") && !streq(arg, "arm64"))
			break;
		o->arch = arg;
		return 0;
	case 'F':
		if (!streq(arg, "uefi") && !streq(arg, "bios"))
			break;
		o->firmware = arg;
		return 0;
	case 'm':
		if (!streq(arg, "cd") && !streq(arg, "usb") && !streq(arg, "disk"))
			break;
		o->medium = arg;
		return 0;
	case 't': {
		errno = 0;
		unsigned long v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || v < SMOKE_TIMEOUT_MIN || v > 86400)
			break;
		o->timeout = (unsigned)v;
		return 0;
	}
	case 'l':
		o->logs = arg;
		return 0;
	case 'j':
		o->junit = arg;
		return 0;
	case 'p':
		if (!strchr(arg, ':') || arg[0] == ':')
			break;
		o->push_creds = arg;
		return 0;
	case 'c':
		return string_option(arg, &o->cache_dir);
	default:
		return OPTIONS_EXIT(2);
	}
	static const char *const want[] = { ['a'] = "amd64 or arm64", ['F'] = "uefi or bios", ['m'] = "cd, usb or disk",
					    ['t'] = "whole seconds from 120 to 86400", ['p'] = "USER:PASSWORD" };
	for (size_t i = 0; i < ARRAY_SIZE(smoke_opts); i++)
		if (smoke_opts[i].val == c) {
			log_error("--%s %s: expected %s", smoke_opts[i].name, arg, want[c]);
			break;
		}
	return OPTIONS_EXIT(2);
}

int smoke_options_parse(int argc, char **argv, struct smoke_options *ret)
{
	struct smoke_options o = { .firmware = "uefi", .medium = "cd", .timeout = SMOKE_TIMEOUT_DEFAULT };
	const char *operands[1];
	const char *env = getenv("GAPBOX_CACHE");
	int r = parse(argc, argv, "h", smoke_opts, smoke_option, &o, operands, 1);

	if (r == 0 && !o.cache_dir)
		r = string_option(env ? env : "/var/cache/gapbox", &o.cache_dir);
	if (r != 0) {
		free(o.cache_dir);
		return r;
	}
	o.image = operands[0];
	*ret = o;
	return 0;
}

void smoke_options_done(struct smoke_options *o)
{
	free(o->cache_dir);
	o->cache_dir = NULL;
}
