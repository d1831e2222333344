/* Unit tests for lib/gpt: a table laid out by sfdisk like xorriso's in gapbox images (a
 * protective MBR with boot code and an empty bootable entry, 248 entries from LBA 2, ISO9660,
 * Appended2 and Gap1), read, extended with a partition behind the image and checked with
 * sfdisk -d and sgdisk -v, which know nothing of this code. */
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
#include <unistd.h>

#include "fsutil.h"
#include "gpt.h"

#define MIB (1024u * 1024u)
/* The "image": 20 MiB with the table's backup at its end, as xorriso writes it. */
#define IMAGE_SECTORS (20u * MIB / GPT_SECTOR_SIZE)
#define ENTRY_SECTORS 62u /* 248 entries of 128 bytes */

#define TMPDIR_TEMPLATE "/tmp/gapbox-test-gpt-XXXXXX"
static char tmpdir[sizeof(TMPDIR_TEMPLATE)];
static char *disk;

/* Run a shell command line; its exit status. */
static int shell(const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	r = system(cmd);
	free(cmd);
	return r;
}

/* The output of a shell command line, NUL-terminated. */
static char *shell_output(const char *fmt, ...)
{
	char *cmd = NULL, *out = NULL;
	size_t size = 0;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(read_fd(fileno(f), 1 << 20, &out, &size), 0);
	pclose(f);
	free(cmd);
	return out;
}

static void read_at(const char *path, void *buf, size_t size, off_t offset)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, size, offset), (ssize_t)size);
	close(fd);
}

static void write_at(const char *path, const void *buf, size_t size, off_t offset)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, size, offset), (ssize_t)size);
	close(fd);
}

/* The image's MBR as xorriso leaves it: boot code, and beside the protective entry an empty
 * entry marked bootable, which some BIOSes need to boot a disk at all. */
static const uint8_t boot_code[8] = { 0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc };
static const uint8_t bootable_entry[16] = { 0x80, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0 };

static int setup(void **state)
{
	int fd;

	(void)state;
	memcpy(tmpdir, TMPDIR_TEMPLATE, sizeof(tmpdir));
	if (!mkdtemp(tmpdir) || asprintf(&disk, "%s/disk.img", tmpdir) < 0)
		return -1;
	fd = open(disk, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)IMAGE_SECTORS * GPT_SECTOR_SIZE) < 0)
		return -1;
	close(fd);
	if (shell("printf '%%s\\n' 'label: gpt' 'first-lba: 64' 'table-length: 248' "
		  "'label-id: 36323032-3231-4430-B030-303534333030' "
		  "'start=64, size=30000, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"ISO9660\", attrs=\"RequiredPartition GUID:60\"' "
		  "'start=30064, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"Appended2\"' "
		  "'start=34160, size=%u, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"Gap1\"' "
		  "| sfdisk -q %s > /dev/null 2>&1",
		  IMAGE_SECTORS - 34160 - ENTRY_SECTORS - 1, disk) != 0)
		return -1;
	write_at(disk, boot_code, sizeof(boot_code), 0);
	write_at(disk, bootable_entry, sizeof(bootable_entry), 446 + 16);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(disk);
	disk = NULL;
	return rm_rf(tmpdir);
}

static void grow(const char *path, uint64_t bytes)
{
	assert_int_equal(truncate(path, (off_t)bytes), 0);
}

static int open_disk(void)
{
	int fd = open(disk, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* sfdisk -d's partition lines, without the device-wide header lines that a move changes. */
static char *partition_lines(void)
{
	return shell_output("sfdisk -d %s 2>/dev/null | grep '^/'", disk);
}

static void test_crc32(void **state)
{
	(void)state;
	assert_int_equal(gpt_crc32("123456789", 9), 0xcbf43926);
	assert_int_equal(gpt_crc32("", 0), 0);
}

static void test_guid(void **state)
{
	struct gpt_guid g, r;
	char text[GPT_GUID_STRING_MAX];

	(void)state;
	assert_int_equal(gpt_guid_parse(GPT_TYPE_LINUX_DATA, &g), 0);
	/* The first field is stored little-endian, the last two fields as written. */
	assert_int_equal(g.bytes[0], 0xaf);
	assert_int_equal(g.bytes[3], 0x0f);
	assert_int_equal(g.bytes[8], 0x8e);
	assert_int_equal(g.bytes[15], 0xe4);
	gpt_guid_format(&g, text);
	assert_string_equal(text, GPT_TYPE_LINUX_DATA);
	assert_int_equal(gpt_guid_parse("0fc63daf-8483-4772-8e79-3d69d8477de4", &r), 0);
	assert_memory_equal(&g, &r, sizeof(g));
	assert_int_equal(gpt_guid_parse("0FC63DAF-8483-4772-8E79-3D69D8477DE", &r), -EINVAL);
	assert_int_equal(gpt_guid_parse("0FC63DAF-8483-4772-8E79-3D69D8477DEX", &r), -EINVAL);
	assert_int_equal(gpt_guid_parse("0FC63DAF+8483-4772-8E79-3D69D8477DE4", &r), -EINVAL);
	assert_int_equal(gpt_guid_random(&r), 0);
	gpt_guid_format(&r, text);
	assert_int_equal(text[14], '4');
	assert_non_null(strchr("89AB", text[19]));
}

static void test_read(void **state)
{
	struct gpt_table t;
	char *error = NULL, type[GPT_GUID_STRING_MAX];
	int fd = open_disk();

	(void)state;
	assert_int_equal(gpt_read(fd, &t, &error), 0);
	assert_null(error);
	assert_int_equal(t.disk_sectors, IMAGE_SECTORS);
	assert_int_equal(t.header.first_usable_lba, 64);
	assert_int_equal(t.header.last_usable_lba, IMAGE_SECTORS - ENTRY_SECTORS - 2);
	assert_int_equal(t.header.alternate_lba, IMAGE_SECTORS - 1);
	assert_int_equal(t.header.n_entries, 248);
	assert_int_equal(t.n_parts, 3);
	assert_int_equal(t.parts[0].index, 1);
	assert_string_equal(t.parts[0].name, "ISO9660");
	assert_int_equal(t.parts[0].first_lba, 64);
	assert_int_equal(t.parts[0].last_lba, 30063);
	assert_int_equal(t.parts[0].attributes, 1ull | 1ull << 60);
	assert_string_equal(t.parts[1].name, "Appended2");
	gpt_guid_format(&t.parts[1].type, type);
	assert_string_equal(type, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
	assert_ptr_equal(gpt_find(&t, "Gap1"), &t.parts[2]);
	assert_null(gpt_find(&t, "GAPBOX-DATA"));
	gpt_table_done(&t);
	close(fd);
}

/* The partition goes behind the image, 1 MiB aligned; the backup table moves to the end of
 * the disk; partitions 1-3, the boot code and the bootable MBR entry stay as they were. */
static void test_append(void **state)
{
	uint8_t mbr[GPT_SECTOR_SIZE], old_backup[GPT_SECTOR_SIZE], zero[GPT_SECTOR_SIZE] = { 0 };
	uint64_t sectors = 64u * MIB / GPT_SECTOR_SIZE;
	struct gpt_partition p;
	struct gpt_table t;
	char *before, *after, *dump, *verify, *error = NULL, line[256], uuid[GPT_GUID_STRING_MAX];
	int fd;

	(void)state;
	before = partition_lines();
	grow(disk, 64u * MIB);
	fd = open_disk();
	assert_int_equal(gpt_append(fd, "GAPBOX-DATA", 16u * MIB, MIB, &p, &error), 0);
	assert_null(error);
	close(fd);
	assert_int_equal(p.index, 4);
	/* The image ends at LBA 40959 (20 MiB), the next MiB starts at 40960. */
	assert_int_equal(p.first_lba, 40960);
	assert_int_equal(p.first_lba % GPT_ALIGN_SECTORS, 0);
	assert_int_equal(p.last_lba - p.first_lba + 1, 16u * MIB / GPT_SECTOR_SIZE);

	after = partition_lines();
	assert_memory_equal(after, before, strlen(before));
	gpt_guid_format(&p.uuid, uuid);
	snprintf(line, sizeof(line), "%s4 : start=       40960, size=       32768, type=%s, uuid=%s, name=\"GAPBOX-DATA\"\n",
		 disk, GPT_TYPE_LINUX_DATA, uuid);
	assert_string_equal(after + strlen(before), line);
	dump = shell_output("sfdisk -d %s", disk);
	snprintf(line, sizeof(line), "\nlast-lba: %llu\n", (unsigned long long)(sectors - ENTRY_SECTORS - 2));
	assert_non_null(strstr(dump, line));
	assert_non_null(strstr(dump, "\nfirst-lba: 64\n"));
	assert_non_null(strstr(dump, "label-id: 36323032-3231-4430-B030-303534333030\n"));
	verify = shell_output("sgdisk -v %s 2>&1", disk);
	if (!strstr(verify, "No problems found"))
		fail_msg("sgdisk -v: %s", verify);

	read_at(disk, mbr, sizeof(mbr), 0);
	assert_memory_equal(mbr, boot_code, sizeof(boot_code));
	assert_memory_equal(mbr + 446 + 16, bootable_entry, sizeof(bootable_entry));
	assert_int_equal(mbr[446 + 4], 0xee);
	assert_int_equal(mbr[446 + 12] | mbr[446 + 13] << 8 | mbr[446 + 14] << 16 | (uint32_t)mbr[446 + 15] << 24, sectors - 1);
	read_at(disk, old_backup, sizeof(old_backup), (off_t)(IMAGE_SECTORS - 1) * GPT_SECTOR_SIZE);
	assert_memory_equal(old_backup, zero, sizeof(zero));

	fd = open_disk();
	assert_int_equal(gpt_read(fd, &t, &error), 0);
	assert_int_equal(t.header.alternate_lba, sectors - 1);
	assert_non_null(gpt_find(&t, "GAPBOX-DATA"));
	gpt_table_done(&t);
	close(fd);
	FREE_ALL(before, after, dump, verify);
}

static void test_append_rest(void **state)
{
	struct gpt_partition p;
	char *verify, *error = NULL;
	int fd;

	(void)state;
	grow(disk, 40u * MIB + 12345);
	fd = open_disk();
	assert_int_equal(gpt_append(fd, "GAPBOX-DATA", GPT_SIZE_REST, 16u * MIB, &p, &error), 0);
	close(fd);
	assert_int_equal(p.first_lba, 40960);
	/* The odd bytes at the end are no whole sector; the backup table takes the last 63. */
	assert_int_equal(p.last_lba, (40u * MIB + 12345) / GPT_SECTOR_SIZE - ENTRY_SECTORS - 2);
	verify = shell_output("sgdisk -v %s 2>&1", disk);
	if (!strstr(verify, "No problems found"))
		fail_msg("sgdisk -v: %s", verify);
	free(verify);
}

/* A table that already spans the disk (the backup at its end) takes a second partition behind
 * the first, and the backup stays where it is. */
static void test_append_twice(void **state)
{
	struct gpt_partition p, q;
	struct gpt_table t;
	char *verify, *error = NULL;
	int fd;

	(void)state;
	grow(disk, 64u * MIB);
	fd = open_disk();
	assert_int_equal(gpt_append(fd, "GAPBOX-DATA", 16u * MIB, MIB, &p, &error), 0);
	assert_int_equal(gpt_append(fd, "second", GPT_SIZE_REST, MIB, &q, &error), 0);
	assert_null(error);
	assert_int_equal(q.index, 5);
	assert_int_equal(q.first_lba, p.last_lba + 1);
	assert_int_equal(q.last_lba, 64u * MIB / GPT_SECTOR_SIZE - ENTRY_SECTORS - 2);
	assert_int_equal(gpt_read(fd, &t, &error), 0);
	assert_int_equal(t.header.alternate_lba, 64u * MIB / GPT_SECTOR_SIZE - 1);
	assert_int_equal(t.n_parts, 5);
	gpt_table_done(&t);
	/* Full now. */
	assert_int_equal(gpt_append(fd, "third", GPT_SIZE_REST, MIB, NULL, &error), -ENOSPC);
	assert_non_null(strstr(error, "no free space behind the last partition"));
	free(error);
	close(fd);
	verify = shell_output("sgdisk -v %s 2>&1", disk);
	if (!strstr(verify, "No problems found"))
		fail_msg("sgdisk -v: %s", verify);
	free(verify);
}

/* A new image written over a stick keeps the stick's data partition: the exact entry goes back
 * into the new image's table. */
static void test_readd_exact(void **state)
{
	_cleanup_free_ uint8_t *image = malloc(IMAGE_SECTORS * GPT_SECTOR_SIZE);
	struct gpt_partition p, again;
	struct gpt_table t;
	char *error = NULL, *verify;
	int fd;

	(void)state;
	assert_non_null(image);
	read_at(disk, image, IMAGE_SECTORS * GPT_SECTOR_SIZE, 0);
	grow(disk, 100u * MIB);
	fd = open_disk();
	assert_int_equal(gpt_append(fd, "GAPBOX-DATA", 30u * MIB, MIB, &p, &error), 0);
	/* The "new image" overwrites the start of the stick: its table has no data partition. */
	assert_int_equal(pwrite(fd, image, IMAGE_SECTORS * GPT_SECTOR_SIZE, 0), (ssize_t)(IMAGE_SECTORS * GPT_SECTOR_SIZE));
	assert_int_equal(gpt_read(fd, &t, &error), 0);
	assert_null(gpt_find(&t, "GAPBOX-DATA"));
	assert_int_equal(gpt_add(&t, &p, &error), 0);
	assert_int_equal(gpt_write(fd, &t, &error), 0);
	gpt_table_done(&t);
	assert_int_equal(gpt_read(fd, &t, &error), 0);
	again = *gpt_find(&t, "GAPBOX-DATA");
	assert_memory_equal(&again, &p, sizeof(p));
	gpt_table_done(&t);
	close(fd);
	verify = shell_output("sgdisk -v %s 2>&1", disk);
	if (!strstr(verify, "No problems found"))
		fail_msg("sgdisk -v: %s", verify);
	free(verify);
}

/* Names are UTF-16 on disk: characters outside ASCII and the BMP survive, 36 units fit, 37 not. */
static void test_names(void **state)
{
	struct gpt_partition p;
	struct gpt_table t;
	char *error = NULL;
	int fd;

	(void)state;
	grow(disk, 64u * MIB);
	fd = open_disk();
	assert_int_equal(gpt_read(fd, &t, &error), 0);
	assert_int_equal(gpt_plan_append(&t, 2u * MIB, MIB, &p, &error), 0);
	snprintf(p.name, sizeof(p.name), "%s", "0123456789012345678901234567890123456");
	assert_int_equal(gpt_add(&t, &p, &error), -EINVAL);
	assert_non_null(strstr(error, "at most 36 UTF-16 units"));
	free(error);
	error = NULL;
	snprintf(p.name, sizeof(p.name), "%s", "donn\xc3\xa9" "es \xe2\x82\xac \xf0\x9d\x84\x9e");
	assert_int_equal(gpt_add(&t, &p, &error), 0);
	assert_int_equal(gpt_write(fd, &t, &error), 0);
	gpt_table_done(&t);
	assert_int_equal(gpt_read(fd, &t, &error), 0);
	assert_non_null(gpt_find(&t, "donn\xc3\xa9" "es \xe2\x82\xac \xf0\x9d\x84\x9e"));
	gpt_table_done(&t);
	close(fd);
}

static void expect_error(int fd, int code, const char *words, uint64_t size, uint64_t min_size)
{
	char *error = NULL;

	assert_int_equal(gpt_append(fd, "GAPBOX-DATA", size, min_size, NULL, &error), code);
	assert_non_null(error);
	if (!strstr(error, words))
		fail_msg("expected \"%s\" in: %s", words, error);
	free(error);
}

static void test_errors(void **state)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct gpt_partition p;
	struct gpt_table t;
	uint8_t sector[GPT_SECTOR_SIZE];
	char *error = NULL;
	int fd = open_disk();

	(void)state;
	/* The image alone: nothing behind its last partition. */
	expect_error(fd, -ENOSPC, "no free space behind the last partition", 16u * MIB, MIB);
	grow(disk, 22u * MIB);
	/* Less than the minimum, or than asked for; and a size below the minimum is a mistake. */
	expect_error(fd, -ENOSPC, "free behind the last partition, at least 16.0 MiB needed", GPT_SIZE_REST, 16u * MIB);
	expect_error(fd, -ENOSPC, "16.0 MiB asked for, 2.0 MiB free", 16u * MIB, MIB);
	expect_error(fd, -EINVAL, "asked for, at least 1.0 MiB needed", 4096, MIB);
	before = partition_lines();

	/* Overlapping partition 3, or the backup table where it still is. */
	assert_int_equal(gpt_read(fd, &t, &error), 0);
	assert_int_equal(gpt_plan_append(&t, MIB, MIB, &p, &error), 0);
	p.first_lba = 40000;
	p.last_lba = 40100;
	assert_int_equal(gpt_add(&t, &p, &error), -EEXIST);
	assert_non_null(strstr(error, "overlap partition 3 \"Gap1\""));
	free(error);
	error = NULL;
	p.first_lba = IMAGE_SECTORS - 1;
	p.last_lba = IMAGE_SECTORS + 100;
	assert_int_equal(gpt_add(&t, &p, &error), -EEXIST);
	assert_non_null(strstr(error, "overlap the backup GPT"));
	free(error);
	error = NULL;
	gpt_table_done(&t);

	/* A damaged header and damaged entries: named, and nothing written. */
	read_at(disk, sector, sizeof(sector), GPT_SECTOR_SIZE);
	sector[60] ^= 1;
	write_at(disk, sector, sizeof(sector), GPT_SECTOR_SIZE);
	expect_error(fd, -EBADMSG, "GPT header at LBA 1: CRC32 is", 0, MIB);
	sector[60] ^= 1;
	write_at(disk, sector, sizeof(sector), GPT_SECTOR_SIZE);
	read_at(disk, sector, sizeof(sector), 2 * GPT_SECTOR_SIZE);
	sector[56] ^= 1;
	write_at(disk, sector, sizeof(sector), 2 * GPT_SECTOR_SIZE);
	expect_error(fd, -EBADMSG, "GPT entries at LBA 2: CRC32 is", 0, MIB);
	sector[56] ^= 1;
	write_at(disk, sector, sizeof(sector), 2 * GPT_SECTOR_SIZE);
	after = partition_lines();
	assert_string_equal(after, before);

	/* No GPT at all. */
	memset(sector, 0, sizeof(sector));
	write_at(disk, sector, sizeof(sector), GPT_SECTOR_SIZE);
	expect_error(fd, -ENOENT, "no GPT: LBA 1 has no \"EFI PART\" signature", 0, MIB);
	close(fd);
}

/* Headers that lie about where things are. */
static void test_header_checks(void **state)
{
	uint8_t sector[GPT_SECTOR_SIZE];
	struct gpt_header h;
	char *error = NULL;

	(void)state;
	read_at(disk, sector, sizeof(sector), GPT_SECTOR_SIZE);
	assert_int_equal(gpt_header_parse(sector, 1, IMAGE_SECTORS, &h, &error), 0);
	/* Read as if from a disk smaller than the table. */
	assert_int_equal(gpt_header_parse(sector, 1, IMAGE_SECTORS - 100, &h, &error), -EBADMSG);
	assert_non_null(strstr(error, "do not fit a disk of"));
	free(error);
	error = NULL;
	/* Found somewhere it does not say it is. */
	assert_int_equal(gpt_header_parse(sector, 2, IMAGE_SECTORS, &h, &error), -EBADMSG);
	assert_non_null(strstr(error, "says it is at LBA 1"));
	free(error);
	error = NULL;
	/* Entry size 256, with the CRC made right. */
	sector[85] = 1;
	sector[16] = sector[17] = sector[18] = sector[19] = 0;
	uint32_t crc = gpt_crc32(sector, 92);
	memcpy(sector + 16, &crc, 4);
	assert_int_equal(gpt_header_parse(sector, 1, IMAGE_SECTORS, &h, &error), -EBADMSG);
	assert_non_null(strstr(error, "entries of 384 bytes, expected 128"));
	free(error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_guid),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readd_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_checks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
