/* Unit tests of the netboot folder's pure parts: the configs each loader reads (against golden
 * files), the kernel command line they share with the medium's GRUB menu, what a base URL may be,
 * and which folders may receive the netboot folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../builder/grubcfg.h"
#include "../../builder/netboot.h"
#include "../../builder/netbootcfg.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "macros.h"

static char expected_dir[PATH_MAX];

static void expect_golden(const char *name, const char *text)
{
	_cleanup_free_ char *path = path_join(expected_dir, name), *want = NULL;
	/* GAPBOX_UPDATE_GOLDEN=1 rewrites the files, to review with git diff. */
	if (getenv("GAPBOX_UPDATE_GOLDEN")) {
		assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
		return;
	}
	assert_int_equal(read_file(path, 1 << 20, &want, NULL), 0);
	assert_string_equal(text, want);
}

static const struct netboot_info amd64 = {
	.name = "debian12-amd64",
	.arch = "amd64",
	.cmdline = "console=ttyS0,115200 console=tty0 quiet net.ifnames=0",
	.serial_console = "ttyS0,115200",
	.url = "http://192.168.10.1:8080/gapbox/",
	.dir = "/srv/gapbox/netboot",
};

static const struct netboot_info arm64 = {
	.name = "debian12-arm64",
	.arch = "arm64",
	.cmdline = "console=tty0 console=ttyAMA0,115200",
	.serial_console = "ttyAMA0,115200",
	.url = "http://boot.site.lan/gapbox",
	.dir = "/srv/tftp",
};

typedef int (*render_fn)(const struct netboot_info *n, char **ret);

static void expect_rendered(render_fn render, const struct netboot_info *n, const char *golden)
{
	_cleanup_free_ char *text = NULL;

	assert_int_equal(netboot_info_check(n, NULL), 0);
	assert_int_equal(render(n, &text), 0);
	expect_golden(golden, text);
}

static void test_configs_amd64(void **state)
{
	(void)state;
	expect_rendered(netboot_ipxe_render, &amd64, "netboot-amd64.ipxe");
	expect_rendered(netboot_pxelinux_render, &amd64, "netboot-amd64.pxelinux");
	expect_rendered(netboot_grub_cfg_render, &amd64, "netboot-amd64.grub.cfg");
	expect_rendered(netboot_dnsmasq_render, &amd64, "netboot-amd64.dnsmasq.conf");
}

static void test_configs_arm64(void **state)
{
	(void)state;
	expect_rendered(netboot_ipxe_render, &arm64, "netboot-arm64.ipxe");
	expect_rendered(netboot_grub_cfg_render, &arm64, "netboot-arm64.grub.cfg");
	expect_rendered(netboot_dnsmasq_render, &arm64, "netboot-arm64.dnsmasq.conf");
}

/* The medium's default entry and every netboot config spell the same command line. */
static void test_cmdline_shared(void **state)
{
	(void)state;
	char *params[] = { "quiet", "net.ifnames=0", NULL };
	struct profile p = {
		.name = "debian12-amd64", .arch = "amd64",
		.boot = { .bios = true, .uefi = true, .kernel_params = params, .menu_timeout = 5,
			  .serial_console = "ttyS0,115200", .default_entry = PROFILE_MENU_DEFAULT },
	};
	_cleanup_free_ char *cmdline = NULL, *menu = NULL, *line = NULL, *ipxe = NULL, *pxe = NULL, *grub = NULL;
	_cleanup_free_ char *serial = NULL, *rescue = NULL;

	assert_int_equal(boot_cmdline(&p, PROFILE_MENU_DEFAULT, &cmdline), 0);
	assert_string_equal(cmdline, amd64.cmdline);
	assert_int_equal(grub_cfg_render(&p, &menu), 0);
	assert_int_equal(asprintf(&line, "\tlinux /" GB_MEDIUM_KERNEL " %s\n", cmdline) > 0, 1);
	assert_non_null(strstr(menu, line));

	struct netboot_info n = amd64;
	n.cmdline = cmdline;
	assert_int_equal(netboot_ipxe_render(&n, &ipxe), 0);
	assert_int_equal(netboot_pxelinux_render(&n, &pxe), 0);
	assert_int_equal(netboot_grub_cfg_render(&n, &grub), 0);
	assert_non_null(strstr(ipxe, cmdline));
	assert_non_null(strstr(pxe, cmdline));
	assert_non_null(strstr(grub, cmdline));

	/* The serial entry puts the serial console last; so does the rescue entry when the serial
	 * entry is the default. */
	assert_int_equal(boot_cmdline(&p, PROFILE_MENU_SERIAL, &serial), 0);
	assert_string_equal(serial, "console=tty0 console=ttyS0,115200 quiet net.ifnames=0");
	p.boot.default_entry = PROFILE_MENU_SERIAL;
	assert_int_equal(boot_cmdline(&p, PROFILE_MENU_RESCUE, &rescue), 0);
	assert_string_equal(rescue, "console=tty0 console=ttyS0,115200 quiet net.ifnames=0 gapbox.shell");
}

static void expect_url(const char *url, int want, const char *fragment)
{
	_cleanup_free_ char *err = NULL;

	assert_int_equal(netboot_url_check(url, &err), want);
	if (want == 0)
		assert_null(err);
	else {
		assert_non_null(err);
		if (fragment && !strstr(err, fragment))
			fail_msg("'%s': message '%s' does not say '%s'", url, err, fragment);
	}
}

static void test_url(void **state)
{
	char long_url[GB_NETBOOT_URL_MAX + 2];

	(void)state;
	expect_url("http://192.168.10.1/gapbox/", 0, NULL);
	expect_url("http://192.168.10.1:8080/gapbox", 0, NULL);
	expect_url("http://boot.site.lan/a/b/c/", 0, NULL);
	expect_url("https://boot.site.lan/a/", -EINVAL, "https:// is not fetched by the initramfs");
	expect_url("http://[fd00::1]:8080/x%20y/", 0, NULL);
	expect_url("ftp://192.168.10.1/gapbox/", -EINVAL, "not http://");
	expect_url("HTTP://192.168.10.1/", -EINVAL, "not http://");
	expect_url("192.168.10.1/gapbox", -EINVAL, "not http://");
	expect_url("", -EINVAL, "not http://");
	expect_url("http://", -EINVAL, "no host");
	expect_url("http:///gapbox", -EINVAL, "no host");
	expect_url("http://host/a b", -EINVAL, "without spaces");
	expect_url("http://host/a\tb", -EINVAL, "control characters");
	expect_url("http://host/a\nb", -EINVAL, "control characters");
	expect_url("http://host/\"a\"", -EINVAL, "quotes");
	expect_url("http://host/'a'", -EINVAL, "quotes");
	expect_url("http://host/${x}", -EINVAL, "$");
	expect_url("http://host/a;reboot", -EINVAL, ";");
	expect_url("http://host/?a=b", -EINVAL, "?");
	expect_url("http://host/#x", -EINVAL, "#");
	expect_url("http://host/\xc3\xa9", -EINVAL, "control characters");
	memcpy(long_url, "http://h/", 9);
	memset(long_url + 9, 'a', sizeof(long_url) - 10);
	long_url[sizeof(long_url) - 1] = '\0';
	expect_url(long_url, -EINVAL, "at most 1024");
	long_url[sizeof(long_url) - 2] = '\0';
	expect_url(long_url, 0, NULL);
}

static void expect_info(const struct netboot_info *n, const char *fragment)
{
	_cleanup_free_ char *err = NULL;

	assert_int_equal(netboot_info_check(n, &err), -EINVAL);
	assert_non_null(err);
	if (!strstr(err, fragment))
		fail_msg("message '%s' does not say '%s'", err, fragment);
}

/* What an image's manifest says goes into the configs unescaped: anything a loader would read as
 * syntax is refused. */
static void test_info(void **state)
{
	struct netboot_info n;

	(void)state;
	n = amd64, n.name = "debian12 amd64";
	expect_info(&n, "the image's name 'debian12 amd64'");
	n = amd64, n.name = "x'; reboot; '";
	expect_info(&n, "is not letters, digits");
	n = amd64, n.arch = "riscv64";
	expect_info(&n, "architecture 'riscv64' is not amd64 or arm64");
	n = amd64, n.arch = NULL;
	expect_info(&n, "architecture '' is not amd64 or arm64");
	n = amd64, n.cmdline = "quiet\nboot";
	expect_info(&n, "the kernel command line");
	n = amd64, n.cmdline = "quiet  net.ifnames=0";
	expect_info(&n, "the kernel command line");
	n = amd64, n.cmdline = "quiet ";
	expect_info(&n, "the kernel command line");
	n = amd64, n.cmdline = "init=/bin/sh;reboot";
	expect_info(&n, "the kernel command line");
	n = amd64, n.cmdline = "";
	expect_info(&n, "the kernel command line");
	n = amd64, n.serial_console = "ttyS0 x";
	expect_info(&n, "serial console");
	n = amd64, n.dir = "relative/dir";
	expect_info(&n, "the folder 'relative/dir' is not an absolute path");
	n = amd64, n.dir = "/srv/a,eth0";
	expect_info(&n, "the folder '/srv/a,eth0'");
	n = amd64, n.url = "file:///srv";
	expect_info(&n, "not http://");
	n = amd64, n.serial_console = NULL;
	assert_int_equal(netboot_info_check(&n, NULL), 0);
	assert_string_equal(netboot_grub_efi_name("amd64"), GB_NETBOOT_GRUB_EFI_AMD64);
	assert_string_equal(netboot_grub_efi_name("arm64"), GB_NETBOOT_GRUB_EFI_ARM64);
	assert_null(netboot_grub_efi_name("i386"));
}

/* No serial console: the GRUB config sets no serial terminal, and console=tty0 is all. */
static void test_no_serial(void **state)
{
	(void)state;
	struct profile p = { .name = "plain", .arch = "amd64", .boot = { .default_entry = PROFILE_MENU_DEFAULT } };
	_cleanup_free_ char *cmdline = NULL, *grub = NULL;

	assert_int_equal(boot_cmdline(&p, PROFILE_MENU_DEFAULT, &cmdline), 0);
	assert_string_equal(cmdline, "console=tty0");
	struct netboot_info n = amd64;
	n.cmdline = cmdline;
	n.serial_console = "";
	assert_int_equal(netboot_grub_cfg_render(&n, &grub), 0);
	assert_null(strstr(grub, "serial"));
}

#define TMPDIR_TEMPLATE "/tmp/gapbox-test-netboot-XXXXXX"
static char tmpdir[sizeof(TMPDIR_TEMPLATE)];

static int setup(void **state)
{
	(void)state;
	memcpy(tmpdir, TMPDIR_TEMPLATE, sizeof(tmpdir));
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf(tmpdir);
}

/* A new or empty folder receives the netboot folder; a full one only with --force; a file never. */
static void test_target(void **state)
{
	_cleanup_free_ char *missing = path_join(tmpdir, "missing"), *empty = path_join(tmpdir, "empty");
	_cleanup_free_ char *full = path_join(tmpdir, "full"), *file = path_join(tmpdir, "file");
	_cleanup_free_ char *inside = path_join(full, "x");

	(void)state;
	assert_int_equal(mkdir(empty, 0755), 0);
	assert_int_equal(mkdir(full, 0755), 0);
	assert_int_equal(write_file_atomic(inside, "x", 1, 0644), 0);
	assert_int_equal(write_file_atomic(file, "x", 1, 0644), 0);
	assert_int_equal(netboot_target_check(missing, false), 0);
	assert_int_equal(netboot_target_check(empty, false), 0);
	assert_int_equal(netboot_target_check(full, false), -ENOTEMPTY);
	assert_int_equal(netboot_target_check(full, true), 0);
	assert_int_equal(netboot_target_check(file, false), -ENOTDIR);
	assert_int_equal(netboot_target_check(file, true), -ENOTDIR);
}

int main(void)
{
	char here[PATH_MAX];
	snprintf(here, sizeof(here), "%s", __FILE__);
	snprintf(expected_dir, sizeof(expected_dir), "%s/expected", dirname(here));
	/* The refusals are the test's to check, not to print. */
	gb_log_set_level(GB_LOG_ERR - 1);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configs_amd64),
		cmocka_unit_test(test_configs_arm64),
		cmocka_unit_test(test_cmdline_shared),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_no_serial),
		cmocka_unit_test_setup_teardown(test_target, setup, teardown),
	};
	return cmocka_run_group_tests_name("netboot", tests, NULL, NULL);
}
