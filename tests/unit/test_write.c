/* Unit tests for what gapbox write reads about a target that the write suite cannot always
 * make for real: mountinfo lines with escapes and overlays, holders in a sysfs tree (there is
 * no device-mapper in every test kernel), and human sizes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bytesize.h"
#include "fsutil.h"
#include "mountinfo.h"
#include "strv.h"
#include "../../builder/target.h"

#define TMPDIR_TEMPLATE "/tmp/gapbox-test-write-XXXXXX"
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

static const char mountinfo_text[] =
	"26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
	"27 26 0:24 / /mnt/with\\040space ro - tmpfs tmp\\040fs ro,size=4k\n"
	"garbage line\n"
	"40 26 7:3 / /media/stick rw,nosuid shared:12 master:3 - vfat /dev/loop3p1 rw\n"
	"41 26 0:50 / / rw - overlay overlay rw,lowerdir=/run/a:/run/b,upperdir=/run/rw/upper,workdir=/run/rw/work\n"
	"42 40 7:3 / /media/stick/sub rw - vfat /dev/loop3p1 rw\n";

static void test_mountinfo(void **state)
{
	struct mountinfo m;
	const struct mountinfo_entry *e;

	(void)state;
	assert_int_equal(mountinfo_parse(mountinfo_text, &m), 0);
	assert_int_equal(m.n, 5);
	assert_int_equal(major(m.entries[0].devno), 254);
	assert_string_equal(m.entries[0].source, "/dev/vda");
	assert_string_equal(m.entries[1].mount_point, "/mnt/with space");
	assert_string_equal(m.entries[1].source, "tmp fs");
	/* Optional fields (shared:, master:) before the separator are skipped. */
	assert_string_equal(m.entries[2].fstype, "vfat");
	assert_int_equal(minor(m.entries[2].devno), 3);
	assert_string_equal(m.entries[3].super_options, "rw,lowerdir=/run/a:/run/b,upperdir=/run/rw/upper,workdir=/run/rw/work");

	/* The mount on top wins among equal mount points, the longest among nested ones. */
	e = mountinfo_find(&m, "/etc/hostname");
	assert_string_equal(e->fstype, "overlay");
	e = mountinfo_find(&m, "/media/stick/sub/x");
	assert_string_equal(e->mount_point, "/media/stick/sub");
	e = mountinfo_find(&m, "/media/sticky");
	assert_string_equal(e->mount_point, "/");
	e = mountinfo_find(&m, "/mnt/with space");
	assert_string_equal(e->fstype, "tmpfs");
	mountinfo_done(&m);
}

static void mkdirs(const char *rel)
{
	char *path = path_join(tmpdir, rel);

	assert_int_equal(mkdir_p(path, 0755), 0);
	free(path);
}

static void put(const char *rel, const char *text)
{
	char *path = path_join(tmpdir, rel);

	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
	free(path);
}

/* DEV (a folder under tmpdir) is held by HOLDER: sysfs links the holder's folder there. */
static void hold(const char *dev, const char *holder)
{
	char *target = path_join(tmpdir, holder), *at = NULL;

	assert_true(asprintf(&at, "%s/%s/holders/%s", tmpdir, dev, holder) >= 0);
	assert_int_equal(symlink(target, at), 0);
	free(target);
	free(at);
}

/* A device-mapper holder has its name in dm/name; an md holder has no such name. */
static void test_holders(void **state)
{
	char *disk = path_join(tmpdir, "sdb"), *part = path_join(tmpdir, "sdb/sdb1"), **holders = NULL;

	(void)state;
	mkdirs("sdb/holders");
	mkdirs("sdb/sdb1/holders");
	mkdirs("dm-0/dm");
	mkdirs("md127");
	put("dm-0/dm/name", "luks-stick\n");
	hold("sdb/sdb1", "md127");
	hold("sdb/sdb1", "dm-0");

	assert_int_equal(target_holders(disk, &holders), 0);
	assert_null(holders);
	assert_int_equal(target_holders(part, &holders), 0);
	assert_int_equal(strv_length(holders), 2);
	assert_string_equal(holders[0], "dm-0 (luks-stick)");
	assert_string_equal(holders[1], "md127");
	strv_free(holders);

	/* No holders folder at all: none. */
	assert_int_equal(target_holders(tmpdir, &holders), 0);
	assert_null(holders);
	free(disk);
	free(part);
}

static void test_bytesize_human(void **state)
{
	char buf[BYTESIZE_MAX];

	(void)state;
	assert_string_equal(bytesize_human(0, buf), "0 bytes");
	assert_string_equal(bytesize_human(1023, buf), "1023 bytes");
	assert_string_equal(bytesize_human(1024, buf), "1.0 KiB");
	assert_string_equal(bytesize_human(342140928, buf), "326.3 MiB");
	assert_string_equal(bytesize_human(256ull << 30, buf), "256.0 GiB");
	assert_string_equal(bytesize_human(3ull << 40, buf), "3.0 TiB");
}

/* A file that does not exist is a target to make, except in /dev, where it is a stick that is
 * not plugged in. */
static void test_inspect_missing(void **state)
{
	struct target t;
	char *path = path_join(tmpdir, "new.img"), *error = NULL;

	(void)state;
	assert_int_equal(target_inspect(path, &t, &error), 0);
	assert_false(t.exists);
	target_done(&t);
	assert_int_equal(target_inspect("/dev/gapbox-test-no-such-stick", &t, &error), -ENOENT);
	assert_non_null(strstr(error, "is the stick plugged in?"));
	free(error);
	error = NULL;
	assert_int_equal(target_inspect("/dev/null", &t, &error), -ENOTBLK);
	assert_non_null(strstr(error, "neither a block device"));
	free(error);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test_setup_teardown(test_holders, setup, teardown),
		cmocka_unit_test(test_bytesize_human),
		cmocka_unit_test_setup_teardown(test_inspect_missing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
