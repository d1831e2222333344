/* Load an image profile from YAML, check every field against the schema in
 * profiles/README.md, apply defaults and resolve overlay folders. */
#include "profile.h"

#include <string.h>
#include <sys/stat.h>

#include "bytesize.h"
#include "persist.h"
#include "strv.h"
#include "yamlnode.h"

/* name ends up in file names and cache keys: keep it short and tame. */
#define PROFILE_NAME_MAX 64
#define MENU_TIMEOUT_MAX 600
/* Linux MODULE_NAME_LEN is 64 including the NUL; modules.dep names are shorter in practice. */
#define MODULE_NAME_MAX 63

static const char *const arches[] = { "amd64", "arm64", NULL };
/* mmdebstrap(1) --variant values. */
static const char *const variants[] = { "extract", "custom", "essential", "apt", "required",
					"minbase", "buildd", "important", "standard", NULL };
static const char *const output_kinds[] = { "iso", NULL };
/* Same order as enum profile_menu_entry. */
static const char *const menu_entries[] = { "default", "serial", "rescue", NULL };

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* S starts with a lowercase letter or digit, and the rest are those or one of EXTRA. */
static bool is_lower_alnum_and(const char *s, const char *extra)
{
	if (!is_lower_alnum(s[0]))
		return false;
	for (const char *c = s + 1; *c; c++)
		if (!is_lower_alnum(*c) && !strchr(extra, *c))
			return false;
	return true;
}

static const char *check_name(const char *s)
{
	if (!is_lower_alnum_and(s, "._-") || strlen(s) > PROFILE_NAME_MAX)
		return "a name of lowercase letters, digits, '.', '_' and '-' that starts with a letter or digit, "
		       "at most 64 characters";
	return NULL;
}

/* Debian Policy 5.6.1: lowercase alphanumerics, '+', '-', '.', at least two characters,
 * starting with an alphanumeric. */
static const char *check_package(const char *s)
{
	if (!is_lower_alnum_and(s, "+-.") || !s[1])
		return "a Debian package name (lowercase letters, digits, '+', '-' and '.', starting with a letter "
		       "or digit, at least 2 characters)";
	return NULL;
}

static const char *check_suite(const char *s)
{
	if (!is_lower_alnum_and(s, ".-"))
		return "a Debian suite or codename such as bookworm (lowercase letters, digits, '.' and '-')";
	return NULL;
}

static const char *check_persist(const char *s)
{
	struct gb_persist_spec spec;

	if (gb_persist_spec_parse(s, &spec) < 0)
		return GB_PERSIST_SPEC_EXPECTED;
	return NULL;
}

static bool has_space_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

static const char *check_mirror(const char *s)
{
	static const char *const schemes[] = { "http://", "https://", "file://" };

	if (!has_space_or_control(s))
		for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
			if (strncmp(s, schemes[i], strlen(schemes[i])) == 0 && s[strlen(schemes[i])])
				return NULL;
	return "an http://, https:// or file:// mirror URL without spaces";
}

static const char *check_module(const char *s)
{
	static const char expected[] = "a kernel module name (letters, digits, '_' and '-', at most 63 "
				       "characters, without .ko)";
	size_t n = strlen(s);

	if (n == 0 || n > MODULE_NAME_MAX)
		return expected;
	for (const char *c = s; *c; c++)
		if (!is_lower_alnum(*c) && !(*c >= 'A' && *c <= 'Z') && *c != '_' && *c != '-')
			return expected;
	return NULL;
}

/* One parameter per item; the line is assembled into grub.cfg, so anything that would split
 * it or be interpreted by GRUB's shell-like parser is refused here rather than escaped there. */
static const char *check_kernel_param(const char *s)
{
	if (!*s || has_space_or_control(s) || strpbrk(s, "\"'\\$`;{}|&<>#"))
		return "one kernel parameter without spaces, quotes or any of \\ $ ` ; { } | & < > #";
	return NULL;
}

/* "" is allowed: it means no serial console. */
static const char *check_serial_console(const char *s)
{
	const char *c = s;

	if (!*s)
		return NULL;
	if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
		goto bad;
	while ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))
		c++;
	if (!*c)
		return NULL;
	if (*c++ != ',' || !(*c >= '0' && *c <= '9'))
		goto bad;
	while (*c >= '0' && *c <= '9')
		c++;
	/* Optional parity and bits, as console= takes them: 115200n8. */
	if (*c && strchr("noe", *c) && c[1] >= '5' && c[1] <= '8')
		c += 2;
	if (!*c)
		return NULL;
bad:
	return "a console device with an optional speed, like ttyS0,115200 or ttyAMA0,115200n8, or \"\" for none";
}

static const char *check_path_text(const char *s)
{
	return *s ? NULL : "a folder path";
}

static const char *check_file_text(const char *s)
{
	return *s ? NULL : "a file path";
}

enum {
	F_NAME,
	F_ARCH,
	F_SUITE,
	F_MIRROR,
	F_VARIANT,
	F_KERNEL,
	F_PACKAGES,
	F_OVERLAYS,
	F_MODULES,
	F_BOOT,
	F_PAYLOAD,
	F_OUTPUTS,
	F_APPLIANCE,
	F_PERSIST,
	F_SITE_CONFIG,
	N_PROFILE_FIELDS,
};

static const struct yn_field profile_fields[N_PROFILE_FIELDS] = {
	[F_NAME] = { "name", YN_STRING, .required = true, .offset = offsetof(struct profile, name),
		     .check = check_name },
	[F_ARCH] = { "arch", YN_STRING, .required = true, .offset = offsetof(struct profile, arch),
		     .names = arches },
	[F_SUITE] = { "suite", YN_STRING, .required = true, .offset = offsetof(struct profile, suite),
		      .check = check_suite },
	[F_MIRROR] = { "mirror", YN_STRING, .offset = offsetof(struct profile, mirror), .check = check_mirror },
	[F_VARIANT] = { "variant", YN_STRING, .offset = offsetof(struct profile, variant), .names = variants },
	[F_KERNEL] = { "kernel", YN_STRING, .required = true, .offset = offsetof(struct profile, kernel),
		       .check = check_package },
	[F_PACKAGES] = { "packages", YN_STRLIST, .offset = offsetof(struct profile, packages),
			 .check = check_package },
	[F_OVERLAYS] = { "overlays", YN_STRLIST, .offset = offsetof(struct profile, overlays),
			 .check = check_path_text },
	[F_MODULES] = { "modules", YN_STRLIST, .offset = offsetof(struct profile, modules),
			.check = check_module },
	[F_BOOT] = { "boot", YN_MAPPING },
	[F_PAYLOAD] = { "payload", YN_MAPPING },
	[F_OUTPUTS] = { "outputs", YN_STRLIST, .offset = offsetof(struct profile, outputs), .names = output_kinds,
			.nonempty = true },
	[F_APPLIANCE] = { "appliance", YN_BOOL, .offset = offsetof(struct profile, appliance) },
	[F_PERSIST] = { "persist", YN_STRING, .offset = offsetof(struct profile, persist), .check = check_persist },
	[F_SITE_CONFIG] = { "site_config", YN_STRING, .offset = offsetof(struct profile, site_config),
			    .check = check_file_text },
};

enum {
	B_BIOS,
	B_UEFI,
	B_SECURE_BOOT,
	B_KERNEL_PARAMS,
	B_MENU_TIMEOUT,
	B_SERIAL_CONSOLE,
	B_DEFAULT_ENTRY,
	N_BOOT_FIELDS,
};

/* YN_ENUM stores an int. */
_Static_assert(sizeof(enum profile_menu_entry) == sizeof(int), "default_entry is stored as int");

static const struct yn_field boot_fields[N_BOOT_FIELDS] = {
	[B_BIOS] = { "bios", YN_BOOL, .offset = offsetof(struct profile_boot, bios) },
	[B_UEFI] = { "uefi", YN_BOOL, .offset = offsetof(struct profile_boot, uefi) },
	[B_SECURE_BOOT] = { "secure_boot", YN_BOOL, .offset = offsetof(struct profile_boot, secure_boot) },
	[B_KERNEL_PARAMS] = { "kernel_params", YN_STRLIST, .offset = offsetof(struct profile_boot, kernel_params),
			      .check = check_kernel_param },
	[B_MENU_TIMEOUT] = { "menu_timeout", YN_UINT, .offset = offsetof(struct profile_boot, menu_timeout),
			     .max = MENU_TIMEOUT_MAX },
	[B_SERIAL_CONSOLE] = { "serial_console", YN_STRING,
			       .offset = offsetof(struct profile_boot, serial_console),
			       .check = check_serial_console },
	[B_DEFAULT_ENTRY] = { "default_entry", YN_ENUM, .offset = offsetof(struct profile_boot, default_entry),
			      .names = menu_entries },
};

static int resolve_path(struct yn_doc *d, const struct profile *p, const yaml_node_t *node, const char *what,
			bool folder, char **path, char **ret_error);

enum {
	P_OUTPUTS,
	P_ARCH,
	P_KEEP_IMAGE_ARCHIVES,
	P_REGISTRIES,
	P_MAX_LAYER_SIZE,
	P_MAX_IMAGE_SIZE,
	P_MAX_UNPACKED_SIZE,
	N_PAYLOAD_FIELDS,
};

/* payload.max_*_size: a size above zero, "8GiB", "512M" or bytes (lib/bytesize.h). */
static int handle_cap(struct yn_doc *d, const yaml_node_t *value, const char *key, void *target, char **ret_error)
{
	struct unpack_caps *caps = &((struct profile_payload *)target)->caps;
	const char *s = yn_scalar(value);
	char buf[YN_DESCRIBE_MAX];
	uint64_t size;

	if (!s || bytesize_parse(s, &size) < 0 || size == 0)
		return yn_error(d, value, ret_error, "%s: expected a size above zero, like 16GiB, 512MiB or 1048576 (bytes), got %s",
				key, yn_describe(d, value, buf));
	*(streq(key, "payload.max_layer_size") ? &caps->layer : streq(key, "payload.max_image_size") ? &caps->image
											     : &caps->total) = size;
	return 0;
}

static const struct yn_field payload_fields[N_PAYLOAD_FIELDS] = {
	[P_OUTPUTS] = { "outputs", YN_STRING, .offset = offsetof(struct profile_payload, outputs),
			.check = check_path_text },
	[P_ARCH] = { "arch", YN_STRING, .offset = offsetof(struct profile_payload, arch), .names = arches },
	[P_KEEP_IMAGE_ARCHIVES] = { "keep_image_archives", YN_BOOL,
				    .offset = offsetof(struct profile_payload, keep_image_archives) },
	[P_REGISTRIES] = { "registries", YN_STRLIST, .offset = offsetof(struct profile_payload, registries) },
	[P_MAX_LAYER_SIZE] = { "max_layer_size", YN_CUSTOM, .handler = handle_cap },
	[P_MAX_IMAGE_SIZE] = { "max_image_size", YN_CUSTOM, .handler = handle_cap },
	[P_MAX_UNPACKED_SIZE] = { "max_unpacked_size", YN_CUSTOM, .handler = handle_cap },
};

static int profile_payload_load(struct yn_doc *d, struct profile *p, const yaml_node_t *payload, char **ret_error)
{
	yaml_node_t *found[N_PAYLOAD_FIELDS] = {};
	int r;

	if (!payload)
		return 0;
	r = yn_map_walk(d, payload, "payload", "payload.", payload_fields, N_PAYLOAD_FIELDS, &p->payload, found, ret_error);
	if (r < 0)
		return r;
	if (p->payload.outputs)
		return resolve_path(d, p, found[P_OUTPUTS], "payload.outputs folder", true, &p->payload.outputs, ret_error);
	return 0;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	FREE_ALL(p->path, p->dir, p->name, p->arch, p->suite, p->mirror, p->variant, p->kernel, p->boot.serial_console,
		 p->payload.outputs, p->payload.arch, p->persist, p->site_config);
	strv_free(p->packages);
	strv_free(p->overlays);
	strv_free(p->modules);
	strv_free(p->boot.kernel_params);
	strv_free(p->payload.registries);
	strv_free(p->outputs);
	free(p);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct profile *, profile_free)

static int strv_new(char ***ret, const char *first)
{
	char **v = calloc(2, sizeof(*v));

	if (!v)
		return -ENOMEM;
	if (first) {
		v[0] = strdup(first);
		if (!v[0]) {
			free(v);
			return -ENOMEM;
		}
	}
	*ret = v;
	return 0;
}

/* Defaults that do not depend on other fields; lists start empty so callers never see NULL. */
static int profile_defaults(struct profile *p)
{
	p->variant = strdup("apt");
	p->persist = strdup("auto");
	if (!p->variant || !p->persist)
		return -ENOMEM;
	p->appliance = true;
	p->boot.uefi = true;
	p->boot.secure_boot = true;
	p->boot.menu_timeout = 5;
	p->boot.default_entry = PROFILE_MENU_DEFAULT;
	p->payload.caps = UNPACK_CAPS_DEFAULT;
	if (strv_new(&p->packages, NULL) < 0 || strv_new(&p->overlays, NULL) < 0 ||
	    strv_new(&p->modules, NULL) < 0 || strv_new(&p->boot.kernel_params, NULL) < 0 ||
	    strv_new(&p->payload.registries, NULL) < 0 ||
	    strv_new(&p->outputs, "iso") < 0)
		return -ENOMEM;
	return 0;
}

/* Absolute folder of the profile as named (not of a symlink's target), without symlinks. */
static int profile_dir(const char *path, char **ret, char **ret_error)
{
	_cleanup_free_ char *copy = strdup(path);
	const char *slash;
	char *dir;
	int r;

	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (!slash)
		strcpy(copy, ".");
	else if (slash == copy)
		copy[1] = '\0';
	else
		copy[slash - copy] = '\0';
	dir = realpath(copy, NULL);
	if (!dir) {
		r = negative_errno();
		if (ret_error && asprintf(ret_error, "cannot resolve the folder of %s: %s", path, strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}
	*ret = dir;
	return 0;
}

/* DIR/REL (or REL if absolute) with "." and ".." folded away lexically: what a missing folder
 * is called in messages, since realpath() cannot name what does not exist. */
static char *path_join_normalize(const char *dir, const char *rel)
{
	_cleanup_free_ char *joined = NULL;
	char *out, *o, *s;

	if (rel[0] == '/')
		joined = strdup(rel);
	else if (asprintf(&joined, "%s/%s", dir, rel) < 0)
		joined = NULL;
	if (!joined)
		return NULL;
	out = malloc(strlen(joined) + 2);
	if (!out)
		return NULL;
	o = out;
	for (s = joined; *s;) {
		size_t len;

		while (*s == '/')
			s++;
		len = strcspn(s, "/");
		if (len == 0)
			break;
		if (len == 1 && s[0] == '.') {
			/* skip */
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (o > out && *--o != '/')
				;
		} else {
			*o++ = '/';
			memcpy(o, s, len);
			o += len;
		}
		s += len;
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	return out;
}

/* Make a folder (FOLDER) or a file named in the profile absolute (relative to the profile's
 * folder) and check that it exists and is one, pointing the error at the YAML node that named it. */
static int resolve_path(struct yn_doc *d, const struct profile *p, const yaml_node_t *node, const char *what,
			bool folder, char **path, char **ret_error)
{
	_cleanup_free_ char *shown = path_join_normalize(p->dir, *path);
	_cleanup_free_ char *joined = NULL;
	struct stat st;
	char *real;
	int r;

	if (!shown)
		return -ENOMEM;
	/* stat the unnormalized path so ".." follows the file system, as the kernel would. */
	if ((*path)[0] == '/')
		joined = strdup(*path);
	else if (asprintf(&joined, "%s/%s", p->dir, *path) < 0)
		joined = NULL;
	if (!joined)
		return -ENOMEM;
	if (stat(joined, &st) < 0) {
		r = negative_errno();
		if (r == -ENOENT)
			return yn_error(d, node, ret_error, "%s '%s' does not exist", what, shown);
		return yn_error(d, node, ret_error, "%s '%s': %s", what, shown, strerror(-r));
	}
	if (folder && !S_ISDIR(st.st_mode))
		return yn_error(d, node, ret_error, "%s '%s' is not a directory", what, shown);
	if (!folder && !S_ISREG(st.st_mode))
		return yn_error(d, node, ret_error, "%s '%s' is not a regular file", what, shown);
	real = realpath(joined, NULL);
	if (!real) {
		r = negative_errno();
		return yn_error(d, node, ret_error, "%s '%s': %s", what, shown, strerror(-r));
	}
	free(*path);
	*path = real;
	return 0;
}

static int resolve_overlays(struct yn_doc *d, struct profile *p, const yaml_node_t *list, char **ret_error)
{
	for (size_t i = 0; p->overlays[i]; i++) {
		int r = resolve_path(d, p, yn_seq_item(d, list, i), "overlay folder", true, &p->overlays[i], ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}

static int profile_boot_load(struct yn_doc *d, struct profile *p, const yaml_node_t *boot, char **ret_error)
{
	yaml_node_t *found[N_BOOT_FIELDS] = {};
	bool arm64 = streq(p->arch, "arm64");
	int r;

	/* i386-pc GRUB only exists for x86; arm64 machines boot through UEFI. */
	p->boot.bios = !arm64;
	if (boot) {
		r = yn_map_walk(d, boot, "boot", "boot.", boot_fields, N_BOOT_FIELDS, &p->boot, found, ret_error);
		if (r < 0)
			return r;
	}
	if (arm64 && p->boot.bios)
		return yn_error(d, found[B_BIOS], ret_error,
				"boot.bios: BIOS boot needs GRUB for i386-pc, which exists only for amd64; "
				"arm64 boots through UEFI (set bios: false or leave it out)");
	if (!p->boot.bios && !p->boot.uefi)
		return yn_error(d, boot, ret_error,
				"boot: at least one of bios and uefi must be true, or the image cannot boot");

	if (!found[B_SERIAL_CONSOLE]) {
		p->boot.serial_console = strdup(arm64 ? "ttyAMA0,115200" : "ttyS0,115200");
		if (!p->boot.serial_console)
			return -ENOMEM;
	} else if (!p->boot.serial_console[0]) {
		free(p->boot.serial_console);
		p->boot.serial_console = NULL;
	}
	/* Without a serial console the menu has no serial entry for GRUB to default to. */
	if (p->boot.default_entry == PROFILE_MENU_SERIAL && !p->boot.serial_console)
		return yn_error(d, found[B_DEFAULT_ENTRY], ret_error,
				"boot.default_entry: 'serial' needs a serial console, but serial_console is \"\" (none)");
	return 0;
}

int profile_load(const char *path, struct profile **ret, char **ret_error)
{
	_cleanup_(profile_freep) struct profile *p = NULL;
	_cleanup_yn_doc_ struct yn_doc *d = NULL;
	yaml_node_t *found[N_PROFILE_FIELDS] = {};
	yaml_node_t *root;
	int r;

	r = yn_doc_load(path, &d, ret_error);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path)))
		return -ENOMEM;
	r = profile_dir(path, &p->dir, ret_error);
	if (r < 0)
		return r;
	r = profile_defaults(p);
	if (r < 0)
		return r;

	root = yn_doc_root(d);
	if (!root)
		return yn_error(d, NULL, ret_error,
				"the file holds no YAML document, expected a profile mapping (name, arch, suite, kernel, ...)");
	r = yn_map_walk(d, root, "the profile", "", profile_fields, N_PROFILE_FIELDS, p, found, ret_error);
	if (r < 0)
		return r;

	r = profile_boot_load(d, p, found[F_BOOT], ret_error);
	if (r < 0)
		return r;
	r = resolve_overlays(d, p, found[F_OVERLAYS], ret_error);
	if (r < 0)
		return r;
	r = profile_payload_load(d, p, found[F_PAYLOAD], ret_error);
	if (r < 0)
		return r;
	if (p->site_config) {
		if (!p->appliance)
			return yn_error(d, found[F_SITE_CONFIG], ret_error,
					"site_config: an image with appliance: false has no gapbox-firstboot to read a site "
					"configuration (expected appliance: true, or no site_config)");
		/* Its content is checked by the build's first stage, with gapbox-firstboot's own checks. */
		r = resolve_path(d, p, found[F_SITE_CONFIG], "site_config file", false, &p->site_config, ret_error);
		if (r < 0)
			return r;
	}

	*ret = TAKE_PTR(p);
	return 0;
}
