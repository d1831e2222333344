/* Unit tests of the builder's pure parts: the modules.dep closure, the rootfs cache key,
 * apt sources parsing and the GRUB configuration (against golden files); and the mksquashfs
 * feeder, with the real mksquashfs. */
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

#include "../../builder/archivestate.h"
#include "../../builder/build.h"
#include "../../builder/cachekey.h"
#include "../../builder/grubcfg.h"
#include "../../builder/modules.h"
#include "../../builder/payload/configsh.h"
#include "../../builder/payload/nodeos.h"
#include "../../builder/payload/versions.h"
#include "../../builder/progress.h"
#include "../../builder/sources.h"
#include "../../builder/squashfs.h"
#include "archiveutil.h"
#include "fsutil.h"
#include "macros.h"
#include "strv.h"

static const char moddep_text[] =
	"kernel/fs/squashfs/squashfs.ko:\n"
	"kernel/fs/isofs/isofs.ko: kernel/drivers/cdrom/cdrom.ko\n"
	"kernel/drivers/scsi/sr_mod.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko kernel/drivers/cdrom/cdrom.ko\n"
	"kernel/drivers/cdrom/cdrom.ko:\n"
	"kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko\n"
	"kernel/drivers/scsi/scsi_common.ko:\n"
	"kernel/drivers/usb/host/xhci-pci.ko: kernel/drivers/usb/host/xhci-hcd.ko\n"
	"kernel/drivers/usb/host/xhci-hcd.ko.xz:\n";
static const char builtin_text[] = "kernel/drivers/virtio/virtio_pci.ko\nkernel/fs/ext4/ext4.ko\n";

static int index_of(char **l, const char *s)
{
	for (int i = 0; l[i]; i++)
		if (streq(l[i], s))
			return i;
	return -1;
}

static void test_module_name(void **state)
{
	(void)state;
	_cleanup_free_ char *a = module_name_from_path("kernel/drivers/usb/host/xhci-pci.ko");
	_cleanup_free_ char *b = module_name_from_path("kernel/drivers/usb/host/xhci-hcd.ko.zst");
	_cleanup_free_ char *c = module_name_from_path("usb-storage");
	assert_string_equal(a, "xhci_pci");
	assert_string_equal(b, "xhci_hcd");
	assert_string_equal(c, "usb_storage");
}

static void test_closure_order(void **state)
{
	(void)state;
	struct moddep *d = NULL;
	_cleanup_strv_free_ char **paths = NULL, **missing = NULL;
	char *names[] = { "sr_mod", "isofs", "xhci-pci", "squashfs", NULL };

	assert_int_equal(moddep_parse(moddep_text, builtin_text, &d), 0);
	assert_int_equal(moddep_closure(d, names, &paths, &missing), 0);
	moddep_free(d);

	/* every module once, each after its dependencies */
	assert_int_equal(strv_length(paths), 8);
	assert_int_equal(strv_length(missing), 0);
	int common = index_of(paths, "kernel/drivers/scsi/scsi_common.ko");
	int scsi = index_of(paths, "kernel/drivers/scsi/scsi_mod.ko");
	int cdrom = index_of(paths, "kernel/drivers/cdrom/cdrom.ko");
	int sr = index_of(paths, "kernel/drivers/scsi/sr_mod.ko");
	int iso = index_of(paths, "kernel/fs/isofs/isofs.ko");
	int hcd = index_of(paths, "kernel/drivers/usb/host/xhci-hcd.ko.xz");
	int pci = index_of(paths, "kernel/drivers/usb/host/xhci-pci.ko");
	assert_true(common >= 0 && scsi >= 0 && cdrom >= 0 && sr >= 0 && iso >= 0 && hcd >= 0 && pci >= 0);
	assert_true(common < scsi && scsi < sr && cdrom < sr && cdrom < iso && hcd < pci);
}

static void test_closure_builtin_and_missing(void **state)
{
	(void)state;
	struct moddep *d = NULL;
	_cleanup_strv_free_ char **paths = NULL, **missing = NULL;
	char *names[] = { "virtio_pci", "ext4", "nosuchmod", "squashfs", "nosuchmod", NULL };

	assert_int_equal(moddep_parse(moddep_text, builtin_text, &d), 0);
	assert_true(moddep_is_builtin(d, "virtio-pci"));
	assert_false(moddep_is_builtin(d, "squashfs"));
	assert_int_equal(moddep_closure(d, names, &paths, &missing), 0);
	moddep_free(d);
	assert_int_equal(strv_length(paths), 1);
	assert_string_equal(paths[0], "kernel/fs/squashfs/squashfs.ko");
	assert_int_equal(strv_length(missing), 1);
	assert_string_equal(missing[0], "nosuchmod");
}

static void test_closure_broken_index(void **state)
{
	(void)state;
	struct moddep *d = NULL;
	char **paths = NULL, **missing = NULL;
	char *names[] = { "a", NULL };

	/* a dependency that is not in the index, then a cycle: both are errors, not hangs */
	assert_int_equal(moddep_parse("kernel/a.ko: kernel/gone.ko\n", NULL, &d), 0);
	assert_int_equal(moddep_closure(d, names, &paths, &missing), -ENOENT);
	moddep_free(d);
	assert_int_equal(moddep_parse("kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n", NULL, &d), 0);
	assert_int_equal(moddep_closure(d, names, &paths, &missing), -ELOOP);
	moddep_free(d);
	assert_int_equal(moddep_parse("no colon here\n", NULL, &d), -EBADMSG);
}

static void recipe_key(const struct rootfs_recipe *r, char out[SHA256_HEX_LEN + 1])
{
	assert_int_equal(rootfs_cache_key(r, out), 0);
	assert_int_equal(strlen(out), SHA256_HEX_LEN);
}

/* What system.sfs leaves out of the rootfs and overlays: SSH host keys, the distribution's
 * initramfs; everything else of /etc/ssh stays. */
static void test_system_leaves_out(void **state)
{
	static const char *const out[] = { "etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ed25519_key.pub",
					   "etc/ssh/ssh_host_rsa_key", "etc/ssh/ssh_host_ecdsa_key.pub",
					   "boot/initrd.img-6.1.0-44-amd64", "initrd.img", "etc/bind/rndc.key",
					   "usr/lib/shim/shimx64.efi.signed", "usr/lib/grub/x86_64-efi/linux.mod",
					   "usr/lib/systemd/boot/efi/linuxx64.efi.stub", "" };
	static const char *const in[] = { "etc/ssh", "etc/ssh/sshd_config", "etc/ssh/ssh_config", "etc/ssh/moduli",
					  "etc/ssh/sshd_config.d", "usr/share/doc/ssh_host_keys", "boot/vmlinuz",
					  "etc/bind/named.conf", "etc/bind/rndc.key.example", "usr/lib/grub",
					  "usr/share/grub/unicode.pf2", "usr/lib/systemd/systemd", "usr/lib/systemd/bootctl-not" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(out); i++)
		assert_true(system_image_leaves_out(out[i]));
	for (size_t i = 0; i < ARRAY_SIZE(in); i++)
		assert_false(system_image_leaves_out(in[i]));
}

static void test_cache_key(void **state)
{
	(void)state;
	char *sources[] = { "deb http://deb.debian.org/debian bookworm main", NULL };
	char *other_sources[] = { "deb http://mirror.example/debian bookworm main", NULL };
	char *pkgs[] = { "udev", "systemd-sysv", "kmod", NULL };
	char *pkgs_shuffled[] = { "kmod", "udev", "systemd-sysv", "udev", NULL };
	char *pkgs_more[] = { "udev", "systemd-sysv", "kmod", "less", NULL };
	char *split_a[] = { "ab", "c", NULL }, *split_b[] = { "a", "bc", NULL };
	struct rootfs_recipe base = { .tool_version = "mmdebstrap 1.3.5", .arch = "amd64", .suite = "bookworm",
				      .variant = "apt", .sources = sources, .packages = pkgs };
	char k0[65], k1[65];

	recipe_key(&base, k0);
	recipe_key(&base, k1);
	assert_string_equal(k0, k1); /* stable */

	struct rootfs_recipe r = base;
	r.packages = pkgs_shuffled;
	recipe_key(&r, k1);
	assert_string_equal(k0, k1); /* package order and duplicates do not matter */

	const struct rootfs_recipe changes[] = {
		{ .tool_version = "mmdebstrap 1.4.0", .arch = "amd64", .suite = "bookworm", .variant = "apt", .sources = sources, .packages = pkgs },
		{ .tool_version = "mmdebstrap 1.3.5", .arch = "arm64", .suite = "bookworm", .variant = "apt", .sources = sources, .packages = pkgs },
		{ .tool_version = "mmdebstrap 1.3.5", .arch = "amd64", .suite = "trixie", .variant = "apt", .sources = sources, .packages = pkgs },
		{ .tool_version = "mmdebstrap 1.3.5", .arch = "amd64", .suite = "bookworm", .variant = "minbase", .sources = sources, .packages = pkgs },
		{ .tool_version = "mmdebstrap 1.3.5", .arch = "amd64", .suite = "bookworm", .variant = "apt", .sources = other_sources, .packages = pkgs },
		{ .tool_version = "mmdebstrap 1.3.5", .arch = "amd64", .suite = "bookworm", .variant = "apt", .sources = sources, .packages = pkgs_more },
		{ .tool_version = "mmdebstrap 1.3.5", .arch = "amd64", .suite = "bookworm", .variant = "apt", .sources = sources, .packages = pkgs, .epoch = "1700000000" },
		/* The archive published something: the same recipe would install other packages. */
		{ .tool_version = "mmdebstrap 1.3.5", .arch = "amd64", .suite = "bookworm", .variant = "apt", .sources = sources, .packages = pkgs,
		  .archive = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(changes); i++) {
		recipe_key(&changes[i], k1);
		assert_string_not_equal(k0, k1);
	}

	/* fields are length-prefixed: moving a boundary changes the key */
	r = base;
	r.packages = split_a;
	recipe_key(&r, k0);
	r.packages = split_b;
	recipe_key(&r, k1);
	assert_string_not_equal(k0, k1);
}

static void release_urls(const char *line, const char *inrelease, const char *release)
{
	_cleanup_free_ char *a = NULL, *b = NULL;
	assert_int_equal(apt_source_release_urls(line, &a, &b), 0);
	assert_string_equal(a, inrelease);
	assert_string_equal(b, release);
}

static void test_release_urls(void **state)
{
	char *a = NULL, *b = NULL;

	(void)state;
	release_urls("deb http://deb.debian.org/debian bookworm main", "http://deb.debian.org/debian/dists/bookworm/InRelease",
		     "http://deb.debian.org/debian/dists/bookworm/Release");
	release_urls("deb [signed-by=/k.gpg arch=amd64] https://m.example/debian/ bookworm-security main contrib",
		     "https://m.example/debian/dists/bookworm-security/InRelease", "https://m.example/debian/dists/bookworm-security/Release");
	release_urls("deb [ trusted=yes ] file:/srv/repo ./", "file:///srv/repo/./InRelease", "file:///srv/repo/./Release");
	release_urls("deb file:///srv/repo bookworm main", "file:///srv/repo/dists/bookworm/InRelease", "file:///srv/repo/dists/bookworm/Release");
	assert_int_equal(apt_source_release_urls("deb cdrom:[Debian]/ bookworm main", &a, &b), -EPROTONOSUPPORT);
	assert_int_equal(apt_source_release_urls("deb mirror+file:/etc/apt/mirrors.txt bookworm main", &a, &b), -EPROTONOSUPPORT);
	assert_int_equal(apt_source_release_urls("deb-src http://x/debian bookworm main", &a, &b), -EINVAL);
	assert_int_equal(apt_source_release_urls("deb http://x/debian", &a, &b), -EINVAL);
	assert_int_equal(apt_source_release_urls("deb [arch=amd64 http://x/debian bookworm", &a, &b), -EINVAL);
}

static void test_release_date(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(release_date("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\n"
				      "Date: Sat, 11 Jul 2026 10:16:37 UTC\nValid-Until: Sat, 18 Jul 2026 10:16:37 UTC\n", &t), 0);
	assert_int_equal((long long)t, 1783764997LL); /* date -d '2026-07-11 10:16:37 UTC' +%s */
	assert_int_equal(release_date("Date: Thu, 01 Jan 1970 00:00:01 +0000\n", &t), 0);
	assert_int_equal((long long)t, 1);
	assert_int_equal(release_date("Origin: x\nValid-Until: Sat, 18 Jul 2026 10:16:37 UTC\n", &t), -ENOENT);
	assert_int_equal(release_date("Date: yesterday\n", &t), -EINVAL);
	assert_int_equal(release_date("Date: Sat, 11 Jul 2026 10:16:37 CEST\n", &t), -EINVAL);
}

/* The archive's state through libcurl, from a file: archive (no network): it follows the Release
 * text, falls back from InRelease to Release, and names the source that has neither. */
static void test_archive_state(void **state)
{
	char dir[] = "/tmp/gapbox-archive-XXXXXX", path[PATH_MAX];
	_cleanup_free_ char *line = NULL, *line2 = NULL, *missing = NULL;
	struct archive_state s1, s2, s3;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dists/bookworm", dir);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/dists/bookworm/InRelease", dir);
	assert_int_equal(write_file_atomic(path, "Date: Sat, 11 Jul 2026 10:16:37 UTC\n", strlen("Date: Sat, 11 Jul 2026 10:16:37 UTC\n"), 0644), 0);
	snprintf(path, sizeof(path), "%s/flat", dir);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/flat/Release", dir);
	assert_int_equal(write_file_atomic(path, "Date: Sun, 12 Jul 2026 00:00:00 UTC\n", strlen("Date: Sun, 12 Jul 2026 00:00:00 UTC\n"), 0644), 0);
	assert_true(asprintf(&line, "deb file:%s bookworm main", dir) > 0);
	assert_true(asprintf(&line2, "deb [trusted=yes] file://%s/flat/ ./", dir) > 0);
	assert_true(asprintf(&missing, "deb file:%s trixie main", dir) > 0);

	char *one[] = { line, NULL }, *two[] = { line, line2, NULL }, *bad[] = { line, missing, NULL };
	assert_int_equal(archive_state_read(one, &s1), 0);
	assert_int_equal((long long)s1.date, 1783764997LL);
	assert_int_equal(archive_state_read(two, &s2), 0);
	assert_int_equal((long long)s2.date, 1783814400LL); /* the newest of the two */
	assert_string_not_equal(s1.hex, s2.hex);
	/* A new Release (the archive published) is a new state. */
	snprintf(path, sizeof(path), "%s/dists/bookworm/InRelease", dir);
	assert_int_equal(write_file_atomic(path, "Date: Sat, 11 Jul 2026 16:16:37 UTC\n", strlen("Date: Sat, 11 Jul 2026 16:16:37 UTC\n"), 0644), 0);
	assert_int_equal(archive_state_read(one, &s3), 0);
	assert_string_not_equal(s1.hex, s3.hex);
	assert_int_equal(archive_state_read(bad, &s3), -ENOENT);
	assert_int_equal(rm_rf(dir), 0);
}

static void test_sources_one_line(void **state)
{
	(void)state;
	_cleanup_strv_free_ char **lines = NULL;
	const char *text = "# comment\n"
			   "deb http://deb.debian.org/debian bookworm main contrib\n"
			   "deb-src http://deb.debian.org/debian bookworm main\n"
			   "deb [signed-by=/k.gpg] http://security.debian.org/debian-security bookworm-security main # trailing\n"
			   "deb http://deb.debian.org/debian bookworm-backports main\n"
			   "deb https://packages.example.com/apt cloud-sdk-bookworm main\n"
			   "deb http://deb.debian.org/debian trixie main\n";

	assert_int_equal(apt_sources_parse(text, 0, "bookworm", &lines), 0);
	assert_int_equal(strv_length(lines), 2);
	assert_string_equal(lines[0], "deb http://deb.debian.org/debian bookworm main contrib");
	assert_string_equal(lines[1], "deb [signed-by=/k.gpg] http://security.debian.org/debian-security bookworm-security main");
}

static void test_sources_deb822(void **state)
{
	(void)state;
	_cleanup_strv_free_ char **lines = NULL;
	const char *text = "Types: deb\n"
			   "# a comment inside\n"
			   "URIs: http://deb.debian.org/debian\n"
			   "Suites: bookworm bookworm-updates\n"
			   "Components: main\n"
			   "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
			   "\n"
			   "Types: deb-src\n"
			   "URIs: http://deb.debian.org/debian\n"
			   "Suites: bookworm\n"
			   "Components: main\n"
			   "\n"
			   "Types: deb\n"
			   "URIs: https://deb.example.org/node\n"
			   "Suites: nodistro\n"
			   "Components: main\n"
			   "\n"
			   "Enabled: no\n"
			   "Types: deb\n"
			   "URIs: http://disabled.example/debian\n"
			   "Suites: bookworm\n"
			   "Components: main\n";

	assert_int_equal(apt_sources_parse(text, 1, "bookworm", &lines), 0);
	assert_int_equal(strv_length(lines), 2);
	assert_string_equal(lines[0], "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
				      "http://deb.debian.org/debian bookworm main");
	assert_string_equal(lines[1], "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
				      "http://deb.debian.org/debian bookworm-updates main");
}

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

static void test_grub_cfg_golden(void **state)
{
	(void)state;
	char *params[] = { "quiet", "net.ifnames=0", NULL };
	struct profile p = {
		.name = "debian12-amd64", .arch = "amd64",
		.boot = { .bios = true, .uefi = true, .kernel_params = params, .menu_timeout = 5,
			  .serial_console = "ttyS0,115200", .default_entry = PROFILE_MENU_DEFAULT },
	};
	_cleanup_free_ char *cfg = NULL, *cfg_arm = NULL, *early = NULL;

	assert_int_equal(grub_cfg_render(&p, &cfg), 0);
	expect_golden("grub-amd64.cfg", cfg);

	struct profile arm = {
		.name = "debian12-arm64", .arch = "arm64",
		.boot = { .uefi = true, .menu_timeout = 3, .serial_console = "ttyAMA0,115200",
			  .default_entry = PROFILE_MENU_SERIAL },
	};
	assert_int_equal(grub_cfg_render(&arm, &cfg_arm), 0);
	expect_golden("grub-arm64.cfg", cfg_arm);

	assert_int_equal(grub_early_cfg_render("2026-11-21-10-00-00-00", "GAPBOX", &early), 0);
	expect_golden("grub-early.cfg", early);
}

/* A squashfs image written through the feeder with SOURCE_DATE_EPOCH set (mksquashfs 4.5 refuses
 * that variable beside -mkfs-time, so a build with it set used to fail): the image's creation time
 * is the build's epoch, not the variable's. */
static void test_squashfs_feeder(void **state)
{
	char dir[] = "/tmp/gapbox-test-squashfs-XXXXXX", image[PATH_MAX], log[PATH_MAX];
	struct squashfs_feeder f;
	struct archive_entry *e;
	unsigned char sb[12];
	FILE *in;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(image, sizeof(image), "%s/test.sfs", dir);
	snprintf(log, sizeof(log), "%s/mksquashfs.log", dir);
	assert_int_equal(setenv("SOURCE_DATE_EPOCH", "1764000000", 1), 0);
	assert_int_equal(squashfs_feeder_start(image, log, 1700000000, SQUASHFS_COMPRESS, NULL, &f), 0);
	e = archive_entry_new();
	archive_entry_normalize(e, "hello.txt", S_IFREG | 0644, 1700000000);
	archive_entry_set_size(e, 6);
	assert_int_equal(archive_write_header(f.tar, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(f.tar, "hello\n", 6), 6);
	archive_entry_free(e);
	assert_int_equal(squashfs_feeder_finish(&f, 0), 0);
	unsetenv("SOURCE_DATE_EPOCH");

	/* The superblock: magic "hsqs", then inode count and mkfs_time, little-endian. */
	in = fopen(image, "rb");
	assert_non_null(in);
	assert_int_equal(fread(sb, 1, sizeof(sb), in), sizeof(sb));
	fclose(in);
	assert_memory_equal(sb, "hsqs", 4);
	assert_int_equal(sb[8] | sb[9] << 8 | sb[10] << 16 | (uint32_t)sb[11] << 24, 1700000000);

	/* A failure of our own: mksquashfs is stopped and nothing is left at the image's path. */
	assert_int_equal(squashfs_feeder_start(image, log, 1700000000, SQUASHFS_STORE, NULL, &f), 0);
	assert_int_equal(squashfs_feeder_finish(&f, -EINVAL), -EINVAL);
	assert_int_equal(access(image, F_OK), -1);
	assert_int_equal(rm_rf(dir), 0);
}

/* ---- which node OS the payload's repositories are for ---- */

/* Write TEXT at DIR/REL, making its folders. */
static void put(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX], *slash;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(mkdir_p(path, 0755), 0);
	*slash = '/';
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* payload_node_os() of DIR, as one space-separated string. */
static char *node_os(const char *dir)
{
	static char text[256];
	char **l = NULL;

	assert_int_equal(payload_node_os(dir, &l), 0);
	assert_non_null(l);
	text[0] = '\0';
	for (char **f = l; *f; f++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", f == l ? "" : " ", *f);
	strv_free(l);
	return text;
}

static void test_payload_node_os(void **state)
{
	char dir[] = "/tmp/gapbox-test-nodeos-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_string_equal(node_os(dir), "");
	/* rpms without repodata are no repository; an index listing nothing is none either. */
	put(dir, "rpms/local/containerd.io-1.7.28-1.el9.x86_64.rpm", "");
	put(dir, "debs/local/Packages", "");
	assert_string_equal(node_os(dir), "");
	/* As create-repo-ubuntu.sh (apt-ftparchive) and create-repo-rhel.sh (createrepo) leave them. */
	put(dir, "debs/local/Packages", "Package: containerd\nArchitecture: amd64\n\nPackage: runc\nArchitecture: amd64\n");
	put(dir, "rpms/local/repodata/repomd.xml", "<repomd/>\n");
	put(dir, "rpms/local/glibc-2.34-100.el9_4.2.x86_64.rpm", "");
	put(dir, "rpms/local/libseccomp-2.5.2-2.module+el9.2.0+1.x86_64.rpm", "");
	put(dir, "rpms/local/kubectl-1.33.7-150500.1.1.x86_64.rpm", "");
	assert_string_equal(node_os(dir), "debian rhel9");
	/* Release tags of two majors: both are named, and a node of either is served. */
	put(dir, "rpms/local/tar-1.34-7.el10.x86_64.rpm", "");
	assert_string_equal(node_os(dir), "debian rhel10 rhel9");
	/* No el tag at all (a repository of other rpms): the RHEL family, any release. */
	assert_int_equal(rm_rf(dir), 0);
	assert_non_null(mkdtemp(strcpy(dir, "/tmp/gapbox-test-nodeos-XXXXXX")));
	put(dir, "rpms/local/repodata/repomd.xml", "<repomd/>\n");
	put(dir, "rpms/local/kubectl-1.33.7-150500.1.1.x86_64.rpm", "");
	put(dir, "rpms/local/elfutils-0.190-1.x86_64.rpm", "");
	put(dir, "debs/local/Packages.gz", "\x1f\x8b");
	assert_string_equal(node_os(dir), "debian rhel");
	assert_int_equal(rm_rf(dir), 0);
}

/* config.sh as kubespray-offline ships it: a script, read as data. */
static const char config_sh_text[] =
	"#!/bin/bash\n"
	"# Kubespray version to download.\n"
	"KUBESPRAY_VERSION=${KUBESPRAY_VERSION:-2.29.1}\n"
	"#KUBESPRAY_VERSION=${KUBESPRAY_VERSION:-master}\n"
	"RUNC_VERSION=1.3.4\n"
	"CONTAINERD_VERSION=\"2.1.5\"   # pinned\n"
	"export NERDCTL_VERSION='2.1.6'\n"
	"REGISTRY_PORT=${REGISTRY_PORT:-35000}\n"
	"ADDITIONAL_CONTAINER_REGISTRY_LIST=${ADDITIONAL_CONTAINER_REGISTRY_LIST:-\"myregistry.io harbor.local/proj\"}\n"
	"map_arch() {\n"
	"    case \"$1\" in\n"
	"        x86_64) echo amd64 ;;\n"
	"    esac\n"
	"}\n"
	"if [ -e /etc/redhat-release ]; then\n"
	"    IMAGE_ARCH=$(map_arch \"$(uname -m)\")\n"
	"    CNI_VERSION=9.9.9\n"
	"else\n"
	"    IMAGE_ARCH=$(dpkg --print-architecture)\n"
	"fi\n"
	"CNI_VERSION=1.8.0\n"
	"HOST=$(hostname)\n"
	"LOCAL=${LOCAL_REGISTRY:-\"localhost:${REGISTRY_PORT}\"}\n"
	"DOCKER=docker run\n";

static void test_config_sh(void **state)
{
	struct config_sh c = { 0 };
	const struct config_sh_var *v;
	_cleanup_strv_free_ char **words = NULL;
	(void)state;

	assert_int_equal(config_sh_parse(config_sh_text, "config.sh", &c), 0);
	v = config_sh_get(&c, "KUBESPRAY_VERSION");
	assert_non_null(v);
	assert_string_equal(v->value, "2.29.1");
	assert_int_equal(v->line, 3);
	assert_true(v->overridable);
	assert_string_equal(config_sh_get(&c, "RUNC_VERSION")->value, "1.3.4");
	assert_false(config_sh_get(&c, "RUNC_VERSION")->overridable);
	assert_string_equal(config_sh_get(&c, "CONTAINERD_VERSION")->value, "2.1.5");
	assert_string_equal(config_sh_get(&c, "NERDCTL_VERSION")->value, "2.1.6");
	assert_string_equal(config_sh_get(&c, "REGISTRY_PORT")->value, "35000");
	/* The one outside the conditional; the one inside it depends on the machine. */
	assert_string_equal(config_sh_get(&c, "CNI_VERSION")->value, "1.8.0");
	assert_int_equal(config_sh_get(&c, "CNI_VERSION")->line, 21);
	/* Command substitutions, variables and commands are not data. */
	assert_null(config_sh_get(&c, "IMAGE_ARCH"));
	assert_null(config_sh_get(&c, "HOST"));
	assert_null(config_sh_get(&c, "LOCAL"));
	assert_null(config_sh_get(&c, "DOCKER"));
	assert_int_equal(config_sh_words(&c, "ADDITIONAL_CONTAINER_REGISTRY_LIST", &words), 0);
	assert_int_equal(strv_length(words), 2);
	assert_string_equal(words[0], "myregistry.io");
	assert_string_equal(words[1], "harbor.local/proj");
	config_sh_done(&c);

	/* Unterminated quotes and a runaway value are skipped, not read past. */
	assert_int_equal(config_sh_parse("A=\"open\nB='x\nC=ok\n", "config.sh", &c), 0);
	assert_null(config_sh_get(&c, "A"));
	assert_null(config_sh_get(&c, "B"));
	assert_string_equal(config_sh_get(&c, "C")->value, "ok");
	config_sh_done(&c);
}

static void touch(const char *dir, const char *rel)
{
	_cleanup_free_ char *p = path_join(dir, rel), *d = strdup(p);
	assert_int_equal(mkdir_p(dirname(d), 0755), 0);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

static bool has_finding(const struct findings *f, enum finding_level level, const char *file, const char *text)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].level == level && streq(f->v[i].file, file) && strstr(f->v[i].text, text))
			return true;
	return false;
}

/* Versions come from the files: config.sh's default overridden at download time is a note. */
static void test_versions(void **state)
{
	char dir[] = "/tmp/gapbox-test-versions-XXXXXX";
	struct config_sh c = { 0 };
	struct findings f = { 0 };
	struct payload_versions v = { 0 };
	(void)state;

	assert_non_null(mkdtemp(dir));
	touch(dir, "files/kubespray-2.30.0.tar.gz");
	touch(dir, "files/containerd-2.2.1-linux-amd64.tar.gz");
	touch(dir, "files/containerd-2.1.9-linux-amd64.tar.gz");
	touch(dir, "files/containerd-static-2.0.0-linux-arm64.tar.gz");
	touch(dir, "files/nerdctl-2.1.6-linux-amd64.tar.gz");
	touch(dir, "files/kubernetes/v1.33.7/kubeadm");
	touch(dir, "files/kubernetes/etcd/etcd-v3.5.26-linux-amd64.tar.gz");
	touch(dir, "files/kubernetes/cni/cni-plugins-linux-amd64-v1.8.0.tgz");
	assert_int_equal(config_sh_parse(config_sh_text, "config.sh", &c), 0);
	assert_int_equal(payload_versions_derive(dir, "amd64", &c, &f, &v), 0);

	assert_string_equal(payload_versions_get(&v, "kubespray"), "2.30.0");
	assert_true(has_finding(&f, FINDING_NOTE, "config.sh:3", "overridden at download time; kubespray 2.30.0 is used"));
	/* Pinned 2.1.5, two others there: the newest, with a warning naming both. */
	assert_string_equal(payload_versions_get(&v, "containerd"), "2.2.1");
	assert_true(has_finding(&f, FINDING_WARNING, "config.sh:6", "files/containerd-2.1.9-linux-amd64.tar.gz"));
	assert_string_equal(payload_versions_get(&v, "nerdctl"), "2.1.6");
	assert_string_equal(payload_versions_get(&v, "kube"), "1.33.7");
	assert_string_equal(payload_versions_get(&v, "etcd"), "3.5.26");
	assert_string_equal(payload_versions_get(&v, "cni"), "1.8.0");
	/* Pinned and nothing there: the one error. */
	assert_null(payload_versions_get(&v, "runc"));
	assert_true(has_finding(&f, FINDING_ERROR, "config.sh:5", "files/runc/v1.3.4/runc.amd64 is missing"));
	assert_int_equal(f.errors, 1);
	payload_versions_done(&v);
	findings_done(&f);
	config_sh_done(&c);
	assert_int_equal(rm_rf(dir), 0);
}

/* What a progress shows, written to a memory stream: MODE is GAPBOX_PROGRESS. */
static char *progress_output(const char *mode, const uint64_t *adds, size_t n, uint64_t total)
{
	struct progress p;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	assert_int_equal(setenv("GAPBOX_PROGRESS", mode, 1), 0);
	progress_begin(&p, "mksquashfs x.sfs", total);
	p.out = f;
	for (size_t i = 0; i < n; i++) {
		p.drawn = 0; /* every add redraws the bar */
		progress_add(&p, adds[i]);
	}
	progress_end(&p);
	progress_end(&p); /* once only */
	progress_add(&p, 1); /* after the end: nothing */
	assert_int_equal(fclose(f), 0);
	unsetenv("GAPBOX_PROGRESS");
	return buf;
}

static void test_progress(void **state)
{
	static const uint64_t adds[] = { 1 << 20, 1 << 20, 2 << 20 };
	char *out;

	(void)state;
	/* Lines: each quarter crossed, then the end; reaching the estimate is the last quarter,
	 * not yet the end. */
	out = progress_output("lines", adds, ARRAY_SIZE(adds), 4 << 20);
	assert_non_null(strstr(out, "gapbox: mksquashfs x.sfs: 25% (1.0 of about 4.0 MiB, "));
	assert_non_null(strstr(out, "gapbox: mksquashfs x.sfs: 50% (2.0 of about 4.0 MiB, "));
	assert_non_null(strstr(out, "gapbox: mksquashfs x.sfs: 75% (4.0 of about 4.0 MiB, "));
	assert_non_null(strstr(out, "gapbox: mksquashfs x.sfs: 100%, 4.0 MiB in "));
	assert_null(strchr(out, '\r'));
	free(out);
	/* The bar: redrawn in place, below 100% until the end even past the estimate, then a newline. */
	out = progress_output("bar", adds, ARRAY_SIZE(adds), 3 << 20);
	assert_non_null(strstr(out, "\r\033[Kmksquashfs x.sfs [#######.................]  33%  1.0 MiB  "));
	assert_non_null(strstr(out, "\r\033[Kmksquashfs x.sfs [#######################.]  99%  4.0 MiB  "));
	assert_non_null(strstr(out, "\r\033[Kmksquashfs x.sfs [########################] 100%  4.0 MiB  "));
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);
	/* No total: bytes and rate only, until the end. */
	out = progress_output("bar", adds, 1, 0);
	assert_non_null(strstr(out, "\r\033[Kmksquashfs x.sfs  1.0 MiB  "));
	assert_non_null(strstr(out, "] 100%  1.0 MiB  "));
	free(out);
	out = progress_output("off", adds, ARRAY_SIZE(adds), 4 << 20);
	assert_string_equal(out, "");
	free(out);

	/* A failed step: the bar's line is closed where it stood, without 100%; lines say nothing more. */
	for (int bar = 0; bar < 2; bar++) {
		struct progress p;
		char *buf = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&buf, &size);

		assert_non_null(f);
		assert_int_equal(setenv("GAPBOX_PROGRESS", bar ? "bar" : "lines", 1), 0);
		progress_begin(&p, "payload", 4 << 20);
		p.out = f;
		p.drawn = 0;
		progress_add(&p, 1 << 20);
		progress_stop(&p);
		progress_end(&p); /* already ended: nothing */
		assert_int_equal(fclose(f), 0);
		unsetenv("GAPBOX_PROGRESS");
		assert_null(strstr(buf, "100%"));
		if (bar) {
			assert_non_null(strstr(buf, "\r\033[Kpayload [######..................]  25%  1.0 MiB  "));
			assert_int_equal(buf[strlen(buf) - 1], '\n');
		} else {
			assert_non_null(strstr(buf, "gapbox: payload: 25% (1.0 of about 4.0 MiB, "));
			assert_null(strstr(buf, "50%"));
		}
		free(buf);
	}
}

int main(void)
{
	char here[PATH_MAX];
	snprintf(here, sizeof(here), "%s", __FILE__);
	snprintf(expected_dir, sizeof(expected_dir), "%s/expected", dirname(here));

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_module_name),
		cmocka_unit_test(test_closure_order),
		cmocka_unit_test(test_closure_builtin_and_missing),
		cmocka_unit_test(test_closure_broken_index),
		cmocka_unit_test(test_cache_key),
		cmocka_unit_test(test_system_leaves_out),
		cmocka_unit_test(test_release_urls),
		cmocka_unit_test(test_release_date),
		cmocka_unit_test(test_archive_state),
		cmocka_unit_test(test_sources_one_line),
		cmocka_unit_test(test_sources_deb822),
		cmocka_unit_test(test_grub_cfg_golden),
		cmocka_unit_test(test_squashfs_feeder),
		cmocka_unit_test(test_config_sh),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_payload_node_os),
		cmocka_unit_test(test_progress),
	};
	return cmocka_run_group_tests_name("builder", tests, NULL, NULL);
}
