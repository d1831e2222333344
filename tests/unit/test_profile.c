/* Unit tests of the profile loader (builder/profile.c over lib/yamlnode.c): parsed values and
 * defaults for valid profiles, and the exact FILE:LINE:COLUMN message for each kind of mistake. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../builder/profile.h"
#include "macros.h"
#include "strv.h"

/* Fixtures sit beside this file; make runs the tests from the top of the tree, so __FILE__
 * (as make passed it to the compiler) leads there. */
static char fixture_dir[PATH_MAX + 16];
static char fixture_dir_real[PATH_MAX];
static char repo_dir[PATH_MAX];
static char tmp_dir[PATH_MAX];
static char tmp_yaml[PATH_MAX + 16];

static const char *fixture(const char *name)
{
	static char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
	return path;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static const char *inline_profile(const char *text)
{
	write_file(tmp_yaml, text, strlen(text));
	return tmp_yaml;
}

/* Load PATH, expect failure R and the message "PATH:" + SUFFIX, exactly. */
static void expect_error_at(const char *path, int r, const char *suffix)
{
	_cleanup_free_ char *err = NULL, *want = NULL;
	struct profile *p = NULL;

	assert_int_equal(profile_load(path, &p, &err), r);
	assert_null(p);
	assert_non_null(err);
	assert_true(asprintf(&want, "%s:%s", path, suffix) > 0);
	if (!streq(err, want))
		fail_msg("message differs\n got: %s\nwant: %s", err, want);
}

static void expect_fixture_error(const char *name, const char *suffix)
{
	expect_error_at(fixture(name), -EINVAL, suffix);
}

static struct profile *load_ok(const char *path)
{
	_cleanup_free_ char *err = NULL;
	struct profile *p = NULL;
	int r;

	r = profile_load(path, &p, &err);
	if (r < 0)
		fail_msg("%s: unexpected error %d: %s", path, r, err ? err : "(no message)");
	assert_null(err);
	assert_non_null(p);
	return p;
}

static void assert_strv_equal(char **got, const char *const *want)
{
	size_t i;

	assert_non_null(got);
	for (i = 0; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static int group_setup(void **state)
{
	(void)state;
	char here[PATH_MAX], up[PATH_MAX + 12];

	snprintf(here, sizeof(here), "%s", __FILE__);
	snprintf(fixture_dir, sizeof(fixture_dir), "%s/profiles", dirname(here));
	if (!realpath(fixture_dir, fixture_dir_real)) {
		fprintf(stderr, "test_profile: fixtures not found at %s (run from the top of the tree): %m\n",
			fixture_dir);
		return -1;
	}
	snprintf(up, sizeof(up), "%s/../../..", fixture_dir_real);
	if (!realpath(up, repo_dir))
		return -1;
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/gapbox-test-profile-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(tmp_yaml, sizeof(tmp_yaml), "%s/inline.yaml", tmp_dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char path[PATH_MAX + 16];

	unlink(tmp_yaml);
	snprintf(path, sizeof(path), "%s/big.yaml", tmp_dir);
	unlink(path);
	rmdir(tmp_dir);
	return 0;
}

/* The four required keys, on lines 1 to 4, that inline cases build on. */
#define BASE "name: t\narch: amd64\nsuite: bookworm\nkernel: linux-image-amd64\n"

static void test_valid_minimal(void **state)
{
	(void)state;
	const char *path = fixture("valid-minimal.yaml");
	struct profile *p = load_ok(path);

	assert_string_equal(p->path, path);
	assert_string_equal(p->dir, fixture_dir_real);
	assert_string_equal(p->name, "minimal");
	assert_string_equal(p->arch, "amd64");
	assert_string_equal(p->suite, "bookworm");
	assert_null(p->mirror);
	assert_string_equal(p->variant, "apt");
	assert_string_equal(p->kernel, "linux-image-amd64");
	/* Lists are empty, never NULL. */
	assert_strv_equal(p->packages, (const char *[]){ NULL });
	assert_strv_equal(p->overlays, (const char *[]){ NULL });
	assert_strv_equal(p->modules, (const char *[]){ NULL });
	assert_true(p->boot.bios);
	assert_true(p->boot.uefi);
	assert_strv_equal(p->boot.kernel_params, (const char *[]){ NULL });
	assert_int_equal(p->boot.menu_timeout, 5);
	assert_string_equal(p->boot.serial_console, "ttyS0,115200");
	assert_int_equal(p->boot.default_entry, PROFILE_MENU_DEFAULT);
	assert_strv_equal(p->outputs, (const char *[]){ "iso", NULL });
	assert_true(p->appliance);
	profile_free(p);
}

static void test_valid_full(void **state)
{
	(void)state;
	struct profile *p = load_ok(fixture("valid-full.yaml"));
	char a[PATH_MAX * 2], b[PATH_MAX * 2];

	snprintf(a, sizeof(a), "%s/overlay-a", fixture_dir_real);
	snprintf(b, sizeof(b), "%s/overlay-b", fixture_dir_real);
	assert_string_equal(p->name, "full-1.0_x");
	assert_string_equal(p->mirror, "http://deb.debian.org/debian");
	assert_string_equal(p->variant, "minbase");
	assert_strv_equal(p->packages, (const char *[]){ "systemd-sysv", "libstdc++6", "g++-12", NULL });
	/* Relative to the profile's folder, absolute, "../" and the trailing "/" folded away. */
	assert_strv_equal(p->overlays, (const char *[]){ a, b, NULL });
	assert_strv_equal(p->modules, (const char *[]){ "virtio_blk", "nvme-core", NULL });
	assert_false(p->boot.bios);
	assert_true(p->boot.uefi);
	assert_strv_equal(p->boot.kernel_params, (const char *[]){ "quiet", "console=tty0", "net.ifnames=0", NULL });
	assert_int_equal(p->boot.menu_timeout, 600);
	/* "" means no serial console at all. */
	assert_null(p->boot.serial_console);
	assert_int_equal(p->boot.default_entry, PROFILE_MENU_RESCUE);
	assert_strv_equal(p->outputs, (const char *[]){ "iso", NULL });
	assert_false(p->appliance);
	profile_free(p);
}

static void test_valid_arm64_defaults(void **state)
{
	(void)state;
	struct profile *p = load_ok(fixture("valid-arm64.yaml"));

	assert_string_equal(p->arch, "arm64");
	assert_false(p->boot.bios);
	assert_true(p->boot.uefi);
	assert_string_equal(p->boot.serial_console, "ttyAMA0,115200");
	profile_free(p);
}

static void test_shipped_profile(void **state)
{
	(void)state;
	char path[PATH_MAX * 2], overlay[PATH_MAX * 2];
	struct profile *p;

	snprintf(path, sizeof(path), "%s/profiles/debian12-amd64.yaml", repo_dir);
	snprintf(overlay, sizeof(overlay), "%s/overlay", repo_dir);
	p = load_ok(path);
	assert_string_equal(p->name, "debian12-amd64");
	assert_string_equal(p->arch, "amd64");
	assert_string_equal(p->suite, "bookworm");
	assert_null(p->mirror);
	assert_string_equal(p->kernel, "linux-image-amd64");
	assert_strv_equal(p->packages,
			  (const char *[]){ "systemd-sysv", "udev", "kmod", "iproute2", "iputils-ping", "procps",
					    "less", "ca-certificates", "busybox-static", "bind9", "bind9-utils",
					    "bind9-dnsutils", "chrony", "nginx-light", "docker-registry", "nftables",
					    "openssh-server", "curl", "python3-pip", "python3-venv", "containerd", "skopeo",
					    "libyaml-0-2", "libjansson4", "libcurl4", NULL });
	assert_strv_equal(p->overlays, (const char *[]){ overlay, NULL });
	assert_true(p->boot.bios);
	assert_true(p->boot.uefi);
	assert_int_equal(p->boot.menu_timeout, 5);
	assert_string_equal(p->boot.serial_console, "ttyS0,115200");
	assert_strv_equal(p->boot.kernel_params, (const char *[]){ NULL });
	assert_strv_equal(p->outputs, (const char *[]){ "iso", NULL });
	profile_free(p);
}

static void test_unknown_key_top(void **state)
{
	(void)state;
	expect_fixture_error("unknown-key-top.yaml",
			     "5:1: unknown key 'kernal' in the profile, did you mean 'kernel'? (expected one of: name, "
			     "arch, suite, mirror, variant, kernel, packages, overlays, modules, boot, payload, outputs, "
			     "appliance, persist, site_config)");
}

static void test_unknown_key_boot(void **state)
{
	(void)state;
	expect_fixture_error("unknown-key-boot.yaml",
			     "8:3: unknown key 'colour' in boot (expected one of: bios, uefi, secure_boot, kernel_params, "
			     "menu_timeout, serial_console, default_entry)");
}

static void test_wrong_type_string_for_list(void **state)
{
	(void)state;
	expect_fixture_error("wrong-type-string-for-list.yaml",
			     "6:11: packages: expected a list of strings, got 'vim' (write it as [item, ...] or as "
			     "'- item' lines)");
}

static void test_wrong_type_list_for_bool(void **state)
{
	(void)state;
	expect_fixture_error("wrong-type-list-for-bool.yaml", "7:9: boot.bios: expected a boolean, got a list");
}

static void test_missing_name(void **state)
{
	(void)state;
	/* Points at the mapping that lacks it: its first key, after the comment line. */
	expect_fixture_error("missing-name.yaml", "2:1: missing required key 'name'");
}

static void test_missing_arch(void **state)
{
	(void)state;
	expect_fixture_error("missing-arch.yaml", "2:1: missing required key 'arch'");
}

static void test_bad_arch(void **state)
{
	(void)state;
	expect_fixture_error("bad-arch.yaml", "3:7: arch: unsupported value 'i386' (expected one of: amd64, arm64)");
}

static void test_bios_on_arm64(void **state)
{
	(void)state;
	expect_fixture_error("bios-on-arm64.yaml",
			     "7:9: boot.bios: BIOS boot needs GRUB for i386-pc, which exists only for amd64; arm64 "
			     "boots through UEFI (set bios: false or leave it out)");
}

static void test_missing_overlay(void **state)
{
	(void)state;
	char want[PATH_MAX * 3];

	snprintf(want, sizeof(want), "8:5: overlay folder '%s/does-not-exist' does not exist", fixture_dir_real);
	expect_fixture_error("missing-overlay.yaml", want);
}

static void test_duplicate_key(void **state)
{
	(void)state;
	expect_fixture_error("duplicate-key.yaml", "6:1: duplicate key 'suite' (first given at line 4, column 1)");
}

static void test_syntax_error(void **state)
{
	(void)state;
	expect_fixture_error("syntax-error.yaml", "4:8: mapping values are not allowed in this context");
}

static void test_bad_package(void **state)
{
	(void)state;
	expect_fixture_error("bad-package.yaml",
			     "6:17: packages: expected a Debian package name (lowercase letters, digits, '+', '-' and "
			     "'.', starting with a letter or digit, at least 2 characters), got 'Vim_Editor'");
}

static void test_unsupported_output(void **state)
{
	(void)state;
	expect_fixture_error("unsupported-output.yaml", "8:5: outputs: unsupported value 'pxe' (only 'iso' is supported)");
}

static void test_missing_file(void **state)
{
	(void)state;
	_cleanup_free_ char *err = NULL, *want = NULL;
	struct profile *p = NULL;
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/absent.yaml", tmp_dir);
	assert_int_equal(profile_load(path, &p, &err), -ENOENT);
	assert_null(p);
	assert_true(asprintf(&want, "cannot open %s: No such file or directory", path) > 0);
	assert_non_null(err);
	assert_string_equal(err, want);
}

static void test_directory_is_not_a_profile(void **state)
{
	(void)state;
	_cleanup_free_ char *err = NULL, *want = NULL;
	struct profile *p = NULL;

	assert_int_equal(profile_load(tmp_dir, &p, &err), -EISDIR);
	assert_true(asprintf(&want, "%s is a directory, expected a YAML file", tmp_dir) > 0);
	assert_string_equal(err, want);
}

static void test_file_size_cap(void **state)
{
	(void)state;
	_cleanup_free_ char *err = NULL, *want = NULL, *text = NULL;
	struct profile *p = NULL;
	char path[PATH_MAX + 16];
	size_t len = 1024 * 1024 + 1;

	snprintf(path, sizeof(path), "%s/big.yaml", tmp_dir);
	text = malloc(len);
	assert_non_null(text);
	memset(text, '#', len);
	write_file(path, text, len);
	assert_int_equal(profile_load(path, &p, &err), -EFBIG);
	assert_true(asprintf(&want, "%s is 1048577 bytes, more than the 1048576 accepted for a YAML file", path) > 0);
	assert_string_equal(err, want);
}

/* Smaller mistakes, each in a profile written to a temporary file: YAML text, then the
 * message after "PATH:". */
struct inline_case {
	const char *yaml;
	const char *message;
};

static const struct inline_case inline_cases[] = {
	{ BASE "boot:\n  bios: \"true\"\n",
	  "6:9: boot.bios: expected a boolean, got 'true' (quoted, so a string: remove the quotes)" },
	{ BASE "boot:\n  bios: maybe\n", "6:9: boot.bios: expected a boolean, got 'maybe'" },
	{ BASE "boot:\n  uefi:\n", "6:8: boot.uefi: expected a boolean, got an empty value" },
	{ BASE "boot:\n  menu_timeout: 601\n",
	  "6:17: boot.menu_timeout: expected an unsigned integer from 0 to 600, got '601'" },
	{ BASE "boot:\n  menu_timeout: -1\n",
	  "6:17: boot.menu_timeout: expected an unsigned integer from 0 to 600, got '-1'" },
	{ BASE "boot:\n  menu_timeout: 010\n",
	  "6:17: boot.menu_timeout: expected an unsigned integer from 0 to 600, got '010'" },
	{ BASE "boot:\n  menu_timeout: 99999999999999999999999\n",
	  "6:17: boot.menu_timeout: expected an unsigned integer from 0 to 600, got '99999999999999999999999'" },
	{ BASE "boot:\n  menu_timeout: '5'\n",
	  "6:17: boot.menu_timeout: expected an unsigned integer from 0 to 600, got '5' (quoted, so a string: "
	  "remove the quotes)" },
	{ BASE "boot:\n  bios: false\n  uefi: off\n",
	  "6:3: boot: at least one of bios and uefi must be true, or the image cannot boot" },
	{ BASE "boot:\n  uefi: true\n  uefi: false\n",
	  "7:3: duplicate key 'boot.uefi' (first given at line 6, column 3)" },
	{ BASE "boot: [bios]\n", "5:7: boot: expected a mapping, got a list" },
	{ BASE "boot:\n", "5:6: boot: expected a mapping, got an empty value" },
	{ BASE "boot:\n  default_entry: shell\n",
	  "6:18: boot.default_entry: unsupported value 'shell' (expected one of: default, serial, rescue)" },
	{ BASE "boot:\n  serial_console: \"\"\n  default_entry: serial\n",
	  "7:18: boot.default_entry: 'serial' needs a serial console, but serial_console is \"\" (none)" },
	{ BASE "boot:\n  serial_console: ttyS0 115200\n",
	  "6:19: boot.serial_console: expected a console device with an optional speed, like ttyS0,115200 or "
	  "ttyAMA0,115200n8, or \"\" for none, got 'ttyS0 115200'" },
	{ BASE "boot:\n  kernel_params: [quiet, \"init=/bin/sh; reboot\"]\n",
	  "6:26: boot.kernel_params: expected one kernel parameter without spaces, quotes or any of \\ $ ` ; "
	  "{ } | & < > #, got 'init=/bin/sh; reboot'" },
	{ BASE "boot:\n  kernel_params:\n    nested: map\n",
	  "7:5: boot.kernel_params: expected a list of strings, got a mapping" },
	{ BASE "packages:\n", "5:10: packages: expected a list of strings, got an empty value (write [] for an empty list)" },
	{ BASE "packages: [vim, [nested]]\n", "5:17: packages: expected a string, got a list" },
	{ BASE "packages: [vim, yes]\n",
	  "5:17: packages: expected a string, got 'yes' (a boolean in YAML; quote it to use it as a string)" },
	{ BASE "packages: [v]\n",
	  "5:12: packages: expected a Debian package name (lowercase letters, digits, '+', '-' and '.', starting "
	  "with a letter or digit, at least 2 characters), got 'v'" },
	{ BASE "modules: [virtio_net.ko]\n",
	  "5:11: modules: expected a kernel module name (letters, digits, '_' and '-', at most 63 characters, "
	  "without .ko), got 'virtio_net.ko'" },
	{ BASE "outputs: []\n", "5:10: outputs: expected at least one item, got an empty list" },
	{ BASE "variant: tiny\n",
	  "5:10: variant: unsupported value 'tiny' (expected one of: extract, custom, essential, apt, required, "
	  "minbase, buildd, important, standard)" },
	{ BASE "mirror:\n", "5:8: mirror: expected a string, got an empty value" },
	{ BASE "mirror: ~\n", "5:9: mirror: expected a string, got '~' (null in YAML; quote it to use it as a string)" },
	{ BASE "mirror: ftp://ftp.debian.org/debian\n",
	  "5:9: mirror: expected an http://, https:// or file:// mirror URL without spaces, got "
	  "'ftp://ftp.debian.org/debian'" },
	{ BASE "overlays: [\"\"]\n", "5:12: overlays: expected a folder path, got ''" },
	{ BASE "overlays: [inline.yaml]\n", NULL /* is not a directory: built at run time */ },
	{ BASE "colour: blue\n",
	  "5:1: unknown key 'colour' in the profile (expected one of: name, arch, suite, mirror, variant, kernel, "
	  "packages, overlays, modules, boot, payload, outputs, appliance, persist, site_config)" },
	{ BASE "[a]: b\n", "5:1: expected a key name in the profile, got a list" },
	{ BASE "persist: sometimes\n", "5:10: persist: expected off, auto, LABEL=... or UUID=..., got 'sometimes'" },
	{ BASE "payload:\n  outputs: /nonexistent-gapbox-outputs\n",
	  "6:12: payload.outputs folder '/nonexistent-gapbox-outputs' does not exist" },
	{ BASE "payload:\n  arch: riscv64\n",
	  "6:9: payload.arch: unsupported value 'riscv64' (expected one of: amd64, arm64)" },
	{ BASE "payload:\n  keep: true\n",
	  "6:3: unknown key 'keep' in payload (expected one of: outputs, arch, keep_image_archives, registries, "
	  "max_layer_size, max_image_size, max_unpacked_size)" },
	{ BASE "payload:\n  max_layer_size: 8 GB\n",
	  "6:19: payload.max_layer_size: expected a size above zero, like 16GiB, 512MiB or 1048576 (bytes), got '8 GB'" },
	{ BASE "payload:\n  max_unpacked_size: 0\n",
	  "6:22: payload.max_unpacked_size: expected a size above zero, like 16GiB, 512MiB or 1048576 (bytes), got '0'" },
	{ "name: yes\narch: amd64\nsuite: bookworm\nkernel: linux-image-amd64\n",
	  "1:7: name: expected a string, got 'yes' (a boolean in YAML; quote it to use it as a string)" },
	{ "name: Debian/12\narch: amd64\nsuite: bookworm\nkernel: linux-image-amd64\n",
	  "1:7: name: expected a name of lowercase letters, digits, '.', '_' and '-' that starts with a letter or "
	  "digit, at most 64 characters, got 'Debian/12'" },
	{ "name: t\narch: amd64\nsuite: bookworm\n", "1:1: missing required key 'kernel'" },
	{ "", "1:1: the file holds no YAML document, expected a profile mapping (name, arch, suite, kernel, ...)" },
	{ "# only a comment\n",
	  "1:1: the file holds no YAML document, expected a profile mapping (name, arch, suite, kernel, ...)" },
	{ "- name\n- arch\n", "1:1: expected the profile to be a mapping of keys, got a list" },
	{ BASE "---\nname: again\n", "5:1: expected a single YAML document, found a second one" },
	{ BASE "packages: [vim\n", "6:1: did not find expected ',' or ']' (while parsing a flow sequence at line 5, "
				"column 11)" },
	{ BASE "packages: *nowhere\n", "5:11: found undefined alias" },
	{ "name: t\xff\n", "1:8: invalid leading UTF-8 octet (byte 0xff)" },
	{ "name: \"a\\0b\"\narch: amd64\nsuite: bookworm\nkernel: linux-image-amd64\n",
	  "1:7: name: expected a string without NUL characters, got 'a?b'" },
};

static void test_inline_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(inline_cases); i++) {
		const char *msg = inline_cases[i].message;
		char buf[PATH_MAX * 2];

		if (!msg) {
			snprintf(buf, sizeof(buf), "5:12: overlay folder '%s/inline.yaml' is not a directory", tmp_dir);
			msg = buf;
		}
		expect_error_at(inline_profile(inline_cases[i].yaml), -EINVAL, msg);
	}
}

/* site_config: a file, relative to the profile's folder like overlays, that must exist; its content
 * is the build's to check (stage check), not the profile loader's. */
static void test_site_config(void **state)
{
	char text[PATH_MAX * 2], real[PATH_MAX], site[PATH_MAX + 16], want[PATH_MAX * 3];
	struct profile *p;

	(void)state;
	p = load_ok(inline_profile(BASE));
	assert_null(p->site_config);
	profile_free(p);

	snprintf(site, sizeof(site), "%s/site.yaml", tmp_dir);
	write_file(site, "not: [checked here\n", 19);
	assert_non_null(realpath(site, real));
	p = load_ok(inline_profile(BASE "site_config: site.yaml\n"));
	assert_string_equal(p->site_config, real);
	profile_free(p);
	snprintf(text, sizeof(text), BASE "site_config: \"%s\"\n", site);
	p = load_ok(inline_profile(text));
	assert_string_equal(p->site_config, real);
	profile_free(p);

	snprintf(want, sizeof(want), "5:14: site_config file '%s/no-such.yaml' does not exist", tmp_dir);
	expect_error_at(inline_profile(BASE "site_config: no-such.yaml\n"), -EINVAL, want);
	snprintf(want, sizeof(want), "5:14: site_config file '%s' is not a regular file", tmp_dir);
	expect_error_at(inline_profile(BASE "site_config: .\n"), -EINVAL, want);
	expect_error_at(inline_profile(BASE "site_config: \"\"\n"), -EINVAL, "5:14: site_config: expected a file path, got ''");
	expect_error_at(inline_profile(BASE "site_config: [a.yaml]\n"), -EINVAL, "5:14: site_config: expected a string, got a list");
	expect_error_at(inline_profile(BASE "appliance: false\nsite_config: site.yaml\n"), -EINVAL,
			"6:14: site_config: an image with appliance: false has no gapbox-firstboot to read a site "
			"configuration (expected appliance: true, or no site_config)");
	unlink(site);
}

/* The payload's caps on decompressed bytes: defaults, and sizes as written. */
static void test_payload_caps(void **state)
{
	struct profile *p;

	(void)state;
	p = load_ok(inline_profile(BASE "payload:\n  max_layer_size: 512M\n  max_unpacked_size: 1TiB\n"));
	assert_true(p->payload.caps.layer == 512ull << 20);
	assert_true(p->payload.caps.image == UNPACK_IMAGE_MAX_DEFAULT);
	assert_true(p->payload.caps.total == 1ull << 40);
	profile_free(p);
}

static void test_bool_spellings(void **state)
{
	(void)state;
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
	char text[256];

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		struct profile *p;

		snprintf(text, sizeof(text), BASE "boot:\n  bios: %s\n  uefi: %s\n", no[i], yes[i]);
		p = load_ok(inline_profile(text));
		assert_false(p->boot.bios);
		assert_true(p->boot.uefi);
		profile_free(p);
	}
	/* y and n are not booleans here, though YAML 1.1 says so: too easy to mean them as text. */
	expect_error_at(inline_profile(BASE "boot:\n  bios: y\n"), -EINVAL,
			"6:9: boot.bios: expected a boolean, got 'y'");
}

static void test_inline_valid(void **state)
{
	(void)state;
	char text[PATH_MAX * 2], real[PATH_MAX];
	struct profile *p;

	/* An absolute overlay path is taken as is (made canonical). */
	snprintf(text, sizeof(text), BASE "overlays: [\"%s/\"]\n", tmp_dir);
	p = load_ok(inline_profile(text));
	assert_non_null(realpath(tmp_dir, real));
	assert_strv_equal(p->overlays, (const char *[]){ real, NULL });
	profile_free(p);

	p = load_ok(inline_profile(BASE "boot:\n  serial_console: ttyS1,9600n8\n  default_entry: serial\n"
					"  menu_timeout: 0\n"));
	assert_string_equal(p->boot.serial_console, "ttyS1,9600n8");
	assert_int_equal(p->boot.default_entry, PROFILE_MENU_SERIAL);
	assert_int_equal(p->boot.menu_timeout, 0);
	profile_free(p);

	/* Numbers are fine as strings; aliases resolve. */
	p = load_ok(inline_profile("name: '2024'\narch: amd64\nsuite: bookworm\nkernel: &k linux-image-amd64\n"
				   "packages: [*k, hello]\nmirror: file:///srv/mirror\n"));
	assert_string_equal(p->name, "2024");
	assert_string_equal(p->mirror, "file:///srv/mirror");
	assert_strv_equal(p->packages, (const char *[]){ "linux-image-amd64", "hello", NULL });
	profile_free(p);

	/* A profile named with a bare file name resolves relative paths against the working folder. */
	{
		char cwd[PATH_MAX];
		int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_non_null(getcwd(cwd, sizeof(cwd)));
		assert_int_equal(chdir(tmp_dir), 0);
		inline_profile(BASE "overlays: [.]\n");
		p = load_ok("inline.yaml");
		assert_int_equal(fchdir(fd), 0);
		close(fd);
		assert_string_equal(p->dir, real);
		assert_strv_equal(p->overlays, (const char *[]){ real, NULL });
		profile_free(p);
	}
}

static void test_null_error_pointer(void **state)
{
	(void)state;
	struct profile *p = NULL;

	/* Callers that only want the code may pass NULL for the message. */
	assert_int_equal(profile_load(fixture("bad-arch.yaml"), &p, NULL), -EINVAL);
	assert_null(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_minimal),
		cmocka_unit_test(test_valid_full),
		cmocka_unit_test(test_valid_arm64_defaults),
		cmocka_unit_test(test_shipped_profile),
		cmocka_unit_test(test_unknown_key_top),
		cmocka_unit_test(test_unknown_key_boot),
		cmocka_unit_test(test_wrong_type_string_for_list),
		cmocka_unit_test(test_wrong_type_list_for_bool),
		cmocka_unit_test(test_missing_name),
		cmocka_unit_test(test_missing_arch),
		cmocka_unit_test(test_bad_arch),
		cmocka_unit_test(test_bios_on_arm64),
		cmocka_unit_test(test_missing_overlay),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_bad_package),
		cmocka_unit_test(test_unsupported_output),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_directory_is_not_a_profile),
		cmocka_unit_test(test_file_size_cap),
		cmocka_unit_test(test_inline_errors),
		cmocka_unit_test(test_bool_spellings),
		cmocka_unit_test(test_payload_caps),
		cmocka_unit_test(test_site_config),
		cmocka_unit_test(test_inline_valid),
		cmocka_unit_test(test_null_error_pointer),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
