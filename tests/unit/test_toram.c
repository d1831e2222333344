/* Unit tests for gapbox.toram: the build manifest's reader (lib/buildmanifest.h) with hostile
 * input, the boot record's round trip (lib/bootrecord.h), and gapbox-init's pure parts: the RAM
 * decision, MemAvailable, whether a medium is removable, and the checked copy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bootrecord.h"
#include "buildmanifest.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "sha256.h"
#include "../../initramfs/toram.h"

static char tmpdir[] = "/tmp/gapbox-test-toram-XXXXXX";
static char *log_buf;
static size_t log_size;
static FILE *log_stream;

static int setup(void **state)
{
	(void)state;
	log_stream = open_memstream(&log_buf, &log_size);
	gb_log_set_stream(log_stream);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gb_log_set_stream(NULL);
	fclose(log_stream);
	free(log_buf);
	return rm_rf(tmpdir);
}

static const char *logged(void)
{
	fflush(log_stream);
	return log_buf ? log_buf : "";
}

static char *write_tmp(const char *name, const char *text, size_t size)
{
	char *path = path_join(tmpdir, name);

	assert_non_null(path);
	assert_int_equal(write_file_atomic(path, text, size, 0644), 0);
	return path;
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- the manifest: what the builder writes, the reader takes ---- */

static void test_manifest_round_trip(void **state)
{
	struct manifest_artifact arts[] = {
		{ .path = (char *)GB_MEDIUM_SYSTEM, .size = 123456789012ULL, .sha256 = SHA_A },
		{ .path = (char *)GB_MEDIUM_PAYLOAD, .size = 0, .sha256 = SHA_B },
	};
	json_t *doc = json_pack("{s:i, s:s, s:o}", MANIFEST_KEY_FORMAT, GB_MEDIUM_MANIFEST_FORMAT, "name", "x",
				MANIFEST_KEY_ARTIFACTS, manifest_artifacts_json(arts, 2));
	char *text = json_dumps(doc, JSON_INDENT(2)), *err = NULL;
	struct manifest m;

	(void)state;
	assert_non_null(text);
	assert_int_equal(manifest_parse(text, strlen(text), "manifest.json", &m, &err), 0);
	assert_int_equal(m.n_artifacts, 2);
	assert_string_equal(m.artifacts[0].path, GB_MEDIUM_SYSTEM);
	assert_true(m.artifacts[0].size == 123456789012ULL);
	assert_string_equal(m.artifacts[0].sha256, SHA_A);
	assert_ptr_equal(manifest_find(&m, GB_MEDIUM_PAYLOAD), &m.artifacts[1]);
	assert_null(manifest_find(&m, GB_MEDIUM_PAYLOAD_STORED));
	manifest_done(&m);
	free(text);
	json_decref(doc);
}

/* TEXT is refused, and the message says WHY. */
static void refused(const char *text, const char *why)
{
	struct manifest m = { 0 };
	char *err = NULL;

	assert_int_equal(manifest_parse(text, strlen(text), "m.json", &m, &err), -EBADMSG);
	assert_non_null(err);
	if (!strstr(err, why))
		fail_msg("expected '%s' in '%s'", why, err);
	assert_int_equal(m.n_artifacts, 0);
	free(err);
}

#define ART(path, size, sha) "{\"path\": " path ", \"size\": " size ", \"sha256\": " sha "}"
#define DOC(arts) "{\"format\": 1, \"artifacts\": [" arts "]}"

static void test_manifest_hostile(void **state)
{
	(void)state;
	/* Not JSON, not an object, another format. */
	refused("{\"format\": 1,\n \"artifacts\": [", "m.json:2:");
	refused("[1, 2]", "not a JSON object");
	refused("{\"format\": 2, \"artifacts\": []}", "format is not 1");
	refused("{\"format\": \"1\", \"artifacts\": []}", "format is not 1");
	refused("{\"artifacts\": []}", "format is not 1");
	refused("{\"format\": 1, \"format\": 1, \"artifacts\": []}", "m.json:1:");
	/* Missing fields and wrong types. */
	refused("{\"format\": 1}", "artifacts is missing");
	refused("{\"format\": 1, \"artifacts\": {}}", "artifacts is not a list");
	refused(DOC("7"), "artifacts[0] is not an object");
	refused(DOC("{\"size\": 1, \"sha256\": \"" SHA_A "\"}"), "artifacts[0].path is missing");
	refused(DOC(ART("3", "1", "\"" SHA_A "\"")), "artifacts[0].path is not a string");
	refused(DOC("{\"path\": \"gapbox/system.sfs\", \"sha256\": \"" SHA_A "\"}"), "artifacts[0].size (gapbox/system.sfs) is missing");
	refused(DOC(ART("\"a\"", "\"12\"", "\"" SHA_A "\"")), "artifacts[0].size (a) is not a whole number");
	refused(DOC(ART("\"a\"", "-1", "\"" SHA_A "\"")), "artifacts[0].size (a) is not a whole number");
	refused(DOC(ART("\"a\"", "1.5", "\"" SHA_A "\"")), "artifacts[0].size (a) is not a whole number");
	refused(DOC(ART("\"a\"", "1", "null")), "artifacts[0].sha256 (a) is not 64 lowercase hex");
	refused(DOC("{\"path\": \"a\", \"size\": 1}"), "artifacts[0].sha256 (a) is missing");
	refused(DOC(ART("\"a\"", "1", "\"" SHA_A "0\"")), "artifacts[0].sha256 (a) is not 64 lowercase hex");
	refused(DOC(ART("\"a\"", "1", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"")),
		"is not 64 lowercase hex");
	/* Paths that would lead out of the medium, or name another file than they seem to. */
	refused(DOC(ART("\"/etc/shadow\"", "1", "\"" SHA_A "\"")), "artifacts[0].path is not a relative path");
	refused(DOC(ART("\"gapbox/../../x\"", "1", "\"" SHA_A "\"")), "is not a relative path");
	refused(DOC(ART("\"gapbox//x\"", "1", "\"" SHA_A "\"")), "is not a relative path");
	refused(DOC(ART("\"gapbox/\"", "1", "\"" SHA_A "\"")), "is not a relative path");
	refused(DOC(ART("\"\"", "1", "\"" SHA_A "\"")), "is not a relative path");
	/* jansson refuses a NUL inside a string, which would make the path C sees a shorter one. */
	refused(DOC(ART("\"gapbox/system.sfs\\u0000x\"", "1", "\"" SHA_A "\"")), "\\u0000 is not allowed");
	/* Listed twice: which size would count? */
	refused(DOC(ART("\"a\"", "1", "\"" SHA_A "\"") "," ART("\"a\"", "2", "\"" SHA_B "\"")), "artifacts[1]: a is listed twice");
}

static void test_manifest_caps(void **state)
{
	struct manifest m;
	char *path, *err = NULL, *text;
	size_t n = MANIFEST_FILE_MAX + 1, len = 0;

	(void)state;
	/* Too big: refused before it is parsed. */
	text = malloc(n);
	assert_non_null(text);
	memset(text, ' ', n);
	text[0] = '{';
	text[n - 1] = '}';
	path = write_tmp("big.json", text, n);
	assert_int_equal(manifest_load(path, &m, &err), -EFBIG);
	assert_non_null(strstr(err, "larger than 1048576 bytes"));
	free(err);
	free(path);
	free(text);

	/* More artifacts than a medium may list. */
	text = malloc(MANIFEST_ARTIFACTS_MAX * 128 + 64);
	assert_non_null(text);
	len = (size_t)sprintf(text, "{\"format\": 1, \"artifacts\": [");
	for (int i = 0; i <= MANIFEST_ARTIFACTS_MAX; i++)
		len += (size_t)sprintf(text + len, "%s{\"path\": \"a%d\", \"size\": 1, \"sha256\": \"" SHA_A "\"}", i ? "," : "", i);
	len += (size_t)sprintf(text + len, "]}");
	assert_int_equal(manifest_parse(text, len, "m.json", &m, &err), -EBADMSG);
	assert_non_null(strstr(err, "65 artifacts, more than the 64"));
	free(err);
	free(text);

	/* Missing file. */
	assert_int_equal(manifest_load("/nonexistent/manifest.json", &m, &err), -ENOENT);
	assert_non_null(strstr(err, "cannot read /nonexistent/manifest.json"));
	free(err);
}

/* ---- the boot record: gapbox-init writes, gapbox-firstboot reads ---- */

static void test_boot_record(void **state)
{
	struct boot_record rec = { .from_ram = true, .medium_released = true, .medium = "sr0", .ram_bytes = 812 * TORAM_MIB },
			   back;
	char *text = NULL, *path, *err = NULL, line[512];

	(void)state;
	assert_int_equal(boot_record_format(&rec, &text), 0);
	path = write_tmp("boot.json", text, strlen(text));
	assert_int_equal(boot_record_load(path, &back, &err), 0);
	assert_true(back.from_ram && back.medium_released);
	assert_string_equal(back.medium, "sr0");
	assert_true(back.ram_bytes == 812 * TORAM_MIB);
	assert_string_equal(boot_record_describe(&back, line, sizeof(line)),
			    "from RAM (812 MiB copied and checked); the medium sr0 was released and can be removed");
	free(text);
	free(path);

	rec = (struct boot_record){ .medium = "sda", .note = "gapbox.toram=yes: needs 1400 MiB of RAM, has 900 MiB" };
	assert_int_equal(boot_record_format(&rec, &text), 0);
	path = write_tmp("boot2.json", text, strlen(text));
	assert_int_equal(boot_record_load(path, &back, &err), 0);
	assert_string_equal(boot_record_describe(&back, line, sizeof(line)),
			    "from the medium sda (gapbox.toram=yes: needs 1400 MiB of RAM, has 900 MiB)");
	free(text);
	free(path);

	/* How the images were checked: kept, and said after where they came from. */
	rec = (struct boot_record){ .medium = "sr0",
				    .checked = "checked by dm-verity as they are read (gapbox.verify=verity); the manifest "
					       "signed by key 7a07a78815d936aa" };
	assert_int_equal(boot_record_format(&rec, &text), 0);
	assert_non_null(strstr(text, "\"checked\":\"checked by dm-verity"));
	path = write_tmp("boot3.json", text, strlen(text));
	assert_int_equal(boot_record_load(path, &back, &err), 0);
	assert_string_equal(back.checked, rec.checked);
	assert_string_equal(boot_record_describe(&back, line, sizeof(line)),
			    "from the medium sr0; images checked by dm-verity as they are read (gapbox.verify=verity); the "
			    "manifest signed by key 7a07a78815d936aa");
	free(text);
	free(path);

	text = (char *)"{\"format\": 1, \"from_ram\": \"yes\"}";
	path = write_tmp("bad.json", text, strlen(text));
	assert_int_equal(boot_record_load(path, &back, &err), -EBADMSG);
	assert_non_null(strstr(err, "expected from_ram and medium_released true or false"));
	free(err);
	free(path);
	assert_int_equal(boot_record_load("/nonexistent/boot.json", &back, &err), -ENOENT);
}

/* ---- gapbox-init's decision and its inputs ---- */

static void test_decide(void **state)
{
	const uint64_t M = TORAM_MIB, reserve = TORAM_RESERVE;

	(void)state;
	assert_int_equal(toram_decide(TORAM_NO, true, 1, UINT64_MAX, reserve), TORAM_NOT_ASKED);
	assert_int_equal(toram_decide(TORAM_YES, false, 400 * M, 2000 * M, reserve), TORAM_COPY);
	assert_int_equal(toram_decide(TORAM_AUTO, true, 400 * M, 2000 * M, reserve), TORAM_COPY);
	assert_int_equal(toram_decide(TORAM_AUTO, false, 400 * M, 2000 * M, reserve), TORAM_NOT_REMOVABLE);
	/* The reserve counts: exactly enough copies, a byte less does not. */
	assert_int_equal(toram_decide(TORAM_YES, false, 400 * M, 400 * M + reserve, reserve), TORAM_COPY);
	assert_int_equal(toram_decide(TORAM_YES, false, 400 * M, 400 * M + reserve - 1, reserve), TORAM_TOO_BIG);
	assert_int_equal(toram_decide(TORAM_AUTO, true, 400 * M, 600 * M, reserve), TORAM_TOO_BIG);
	assert_int_equal(toram_decide(TORAM_YES, false, 400 * M, 300 * M, reserve), TORAM_TOO_BIG);
	/* No sum overflows. */
	assert_int_equal(toram_decide(TORAM_YES, false, UINT64_MAX, UINT64_MAX, reserve), TORAM_TOO_BIG);
	assert_int_equal(toram_decide(TORAM_YES, false, 1, UINT64_MAX, UINT64_MAX), TORAM_TOO_BIG);
	assert_int_equal(toram_decide(TORAM_YES, false, 0, UINT64_MAX, UINT64_MAX), TORAM_COPY);
}

static void test_meminfo(void **state)
{
	uint64_t avail = 0;

	(void)state;
	assert_int_equal(toram_parse_meminfo("MemTotal:        2030000 kB\nMemFree:         1800000 kB\n"
					     "MemAvailable:    1843200 kB\nBuffers:            1234 kB\n",
					     &avail),
			 0);
	assert_true(avail == 1843200ULL * 1024);
	assert_int_equal(toram_parse_meminfo("MemTotal: 2030000 kB\nMemFree: 1800000 kB\n", &avail), -EBADMSG);
	assert_int_equal(toram_parse_meminfo("MemAvailable: lots\n", &avail), -EBADMSG);
	assert_int_equal(toram_parse_meminfo("MemAvailable: 12 MB\n", &avail), -EBADMSG);
	assert_int_equal(toram_parse_meminfo("MemAvailable: 99999999999999999999 kB\n", &avail), -EBADMSG);
	assert_int_equal(toram_parse_meminfo("", &avail), -EBADMSG);
}

/* A sysfs tree as the kernel shows a USB stick (sda, its partition sda1), a CD drive and a
 * virtio disk. */
static void make_sysfs(const char *sys)
{
	static const struct {
		const char *dev, *dir, *removable, *type;
		bool partition;
	} devs[] = {
		{ "8:0", "devices/pci0000:00/0000:00:04.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda", "0", "0", false },
		{ "8:1", "devices/pci0000:00/0000:00:04.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1", NULL, NULL, true },
		{ "11:0", "devices/pci0000:00/0000:00:1f.2/ata1/host1/target1:0:0/1:0:0:0/block/sr0", "1", "5", false },
		{ "254:0", "devices/pci0000:00/0000:00:05.0/virtio2/block/vda", "0", NULL, false },
		{ "254:1", "devices/pci0000:00/0000:00:05.0/virtio2/block/vda/vda1", NULL, NULL, true },
	};
	char path[1024], target[1024];

	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sys, devs[i].dir);
		assert_int_equal(mkdir_p(path, 0755), 0);
		if (devs[i].removable) {
			snprintf(path, sizeof(path), "%s/%s/removable", sys, devs[i].dir);
			assert_int_equal(write_file_atomic(path, devs[i].removable, 1, 0644), 0);
		}
		if (devs[i].type) {
			snprintf(path, sizeof(path), "%s/%s/device", sys, devs[i].dir);
			assert_int_equal(mkdir_p(path, 0755), 0);
			snprintf(path, sizeof(path), "%s/%s/device/type", sys, devs[i].dir);
			assert_int_equal(write_file_atomic(path, devs[i].type, 1, 0644), 0);
		}
		if (devs[i].partition) {
			snprintf(path, sizeof(path), "%s/%s/partition", sys, devs[i].dir);
			assert_int_equal(write_file_atomic(path, "1\n", 2, 0644), 0);
		}
		snprintf(path, sizeof(path), "%s/dev/block", sys);
		assert_int_equal(mkdir_p(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/dev/block/%s", sys, devs[i].dev);
		snprintf(target, sizeof(target), "../../%s", devs[i].dir);
		assert_int_equal(symlink(target, path), 0);
	}
}

static void test_removable(void **state)
{
	char *sys = path_join(tmpdir, "sys"), name[64], why[32];

	(void)state;
	make_sysfs(sys);
	assert_int_equal(toram_medium_removable(sys, makedev(8, 1), name, why), 1);
	assert_string_equal(name, "sda");
	assert_string_equal(why, "on USB");
	assert_int_equal(toram_medium_removable(sys, makedev(8, 0), name, why), 1);
	assert_int_equal(toram_medium_removable(sys, makedev(11, 0), name, why), 1);
	assert_string_equal(name, "sr0");
	assert_string_equal(why, "removable");
	assert_int_equal(toram_medium_removable(sys, makedev(254, 1), name, why), 0);
	assert_string_equal(name, "vda");
	assert_string_equal(why, "a fixed disk");
	assert_int_equal(toram_medium_removable(sys, makedev(7, 3), name, why), -ENOENT);
	free(sys);
}

/* ---- the copy ---- */

static void test_copy_checked(void **state)
{
	static const char data[] = "a system image, or what stands in for one";
	char *src = write_tmp("image.sfs", data, sizeof(data) - 1), *dst = path_join(tmpdir, "copy.sfs"), *text = NULL;
	struct manifest_artifact expect = { .path = (char *)GB_MEDIUM_SYSTEM, .size = sizeof(data) - 1 };
	struct toram_progress p = { .total = sizeof(data) - 1 };
	struct gb_sha256 *h = gb_sha256_new();
	struct stat st;

	(void)state;
	gb_sha256_update(h, data, sizeof(data) - 1);
	gb_sha256_final_hex(h, expect.sha256);
	assert_int_equal(toram_copy_checked(src, dst, &expect, &p), 0);
	assert_true(p.done == sizeof(data) - 1);
	assert_int_equal(read_file(dst, 4096, &text, NULL), 0);
	assert_string_equal(text, data);
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	free(text);
	assert_non_null(strstr(logged(), "gapbox.toram: gapbox/system.sfs: 41 bytes, sha256 "));

	/* Another sha256: refused, naming the image and both hashes. */
	unlink(dst);
	memcpy(expect.sha256, SHA_B, sizeof(expect.sha256));
	assert_int_equal(toram_copy_checked(src, dst, &expect, &p), -EBADMSG);
	assert_non_null(strstr(logged(), "the copy of "));
	assert_non_null(strstr(logged(), "image.sfs does not match the build manifest: read 41 bytes with sha256 "));
	assert_non_null(strstr(logged(), "the manifest says 41 bytes with sha256 " SHA_B "; the medium is damaged"));

	/* Longer than the manifest says: refused without reading it all. */
	unlink(dst);
	expect.size = 10;
	assert_int_equal(toram_copy_checked(src, dst, &expect, &p), -EBADMSG);
	assert_non_null(strstr(logged(), "image.sfs is longer than the 10 bytes the build manifest says; the medium is damaged"));

	/* Not there. */
	unlink(dst);
	assert_int_equal(toram_copy_checked("/nonexistent/system.sfs", dst, &expect, &p), -ENOENT);
	assert_non_null(strstr(logged(), "cannot open /nonexistent/system.sfs, which the build manifest lists"));
	free(src);
	free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_round_trip), cmocka_unit_test(test_manifest_hostile),
		cmocka_unit_test(test_manifest_caps),       cmocka_unit_test(test_boot_record),
		cmocka_unit_test(test_decide),              cmocka_unit_test(test_meminfo),
		cmocka_unit_test(test_removable),           cmocka_unit_test(test_copy_checked),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
