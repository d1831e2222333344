/* GUID partition tables: parsing and checking, planning a partition behind the last one, and
 * writing the table back for the whole disk in an order that survives a crash. */
#include "gpt.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/param.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "macros.h"

#define HEADER_MIN_SIZE 92u
#define ENTRY_NAME_OFFSET 56u
#define MBR_ENTRIES_OFFSET 446u
#define MBR_TYPE_PROTECTIVE 0xee

typedef unsigned long long ull;

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t gpt_crc32(const void *data, size_t size)
{
	/* The reflected polynomial 0xEDB88320 a nibble at a time: a 16-entry table is fast enough
	 * for a few KiB and needs no initialisation. */
	static const uint32_t nibble[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
		0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	const uint8_t *p = data;
	uint32_t crc = 0xffffffff;

	for (size_t i = 0; i < size; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ nibble[crc & 15];
		crc = (crc >> 4) ^ nibble[crc & 15];
	}
	return ~crc;
}

/* ---- GUIDs ---- */

/* Disk order of the bytes of the text form's 16 hex pairs: the first three fields are stored
 * little-endian. */
static const uint8_t guid_order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int gpt_guid_parse(const char *s, struct gpt_guid *ret)
{
	struct gpt_guid g;
	size_t pair = 0;

	if (!s || strlen(s) != GPT_GUID_STRING_MAX - 1)
		return -EINVAL;
	for (size_t i = 0; i < GPT_GUID_STRING_MAX - 1;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return -EINVAL;
			continue;
		}
		int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		g.bytes[guid_order[pair++]] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	*ret = g;
	return 0;
}

void gpt_guid_format(const struct gpt_guid *g, char buf[static GPT_GUID_STRING_MAX])
{
	static const char digits[] = "0123456789ABCDEF";
	char *p = buf;

	for (size_t pair = 0; pair < 16; pair++) {
		uint8_t b = g->bytes[guid_order[pair]];
		if (pair == 4 || pair == 6 || pair == 8 || pair == 10)
			*p++ = '-';
		*p++ = digits[b >> 4];
		*p++ = digits[b & 15];
	}
	*p = '\0';
}

int gpt_guid_random(struct gpt_guid *ret)
{
	size_t got = 0;

	while (got < sizeof(ret->bytes)) {
		ssize_t n = getrandom(ret->bytes + got, sizeof(ret->bytes) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		got += (size_t)n;
	}
	/* RFC 4122 version 4 (random) and variant 1: the high nibble of the third field, stored
	 * little-endian, is in byte 7. */
	ret->bytes[7] = (uint8_t)((ret->bytes[7] & 0x0f) | 0x40);
	ret->bytes[8] = (uint8_t)((ret->bytes[8] & 0x3f) | 0x80);
	return 0;
}

bool gpt_guid_is_zero(const struct gpt_guid *g)
{
	for (size_t i = 0; i < sizeof(g->bytes); i++)
		if (g->bytes[i])
			return false;
	return true;
}

/* ---- names: 36 UTF-16LE units on disk, UTF-8 in memory ---- */

static size_t utf8_put(char *p, uint32_t c)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xc0 | c >> 6);
		p[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xe0 | c >> 12);
		p[1] = (char)(0x80 | (c >> 6 & 0x3f));
		p[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | c >> 18);
	p[1] = (char)(0x80 | (c >> 12 & 0x3f));
	p[2] = (char)(0x80 | (c >> 6 & 0x3f));
	p[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* A name as written by any tool: a lone surrogate becomes U+FFFD rather than an error, since
 * the name only labels the partition. */
static void name_decode(const uint8_t *units, char out[static GPT_NAME_MAX])
{
	size_t o = 0;

	for (size_t i = 0; i < GPT_NAME_UNITS; i++) {
		uint32_t c = (uint32_t)units[2 * i] | (uint32_t)units[2 * i + 1] << 8;

		if (c == 0)
			break;
		if (c >= 0xd800 && c < 0xdc00 && i + 1 < GPT_NAME_UNITS) {
			uint32_t lo = (uint32_t)units[2 * i + 2] | (uint32_t)units[2 * i + 3] << 8;
			if (lo >= 0xdc00 && lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				i++;
			} else
				c = 0xfffd;
		} else if (c >= 0xd800 && c < 0xe000)
			c = 0xfffd;
		o += utf8_put(out + o, c);
	}
	out[o] = '\0';
}

/* The next code point of the UTF-8 text at *S, advancing *S; -1 for anything that is not
 * shortest-form UTF-8 of a scalar value. */
static int32_t utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	uint32_t c = p[0], min;
	size_t n;

	if (c < 0x80)
		n = 0, min = 0;
	else if ((c & 0xe0) == 0xc0)
		n = 1, c &= 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 2, c &= 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 3, c &= 0x07, min = 0x10000;
	else
		return -1;
	for (size_t i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
		return -1;
	*s = p + n + 1;
	return (int32_t)c;
}

static int name_encode(const char *name, uint8_t units[static 2 * GPT_NAME_UNITS])
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = 0;

	memset(units, 0, 2 * GPT_NAME_UNITS);
	while (*s) {
		int32_t c = utf8_next(&s);
		uint16_t u[2];
		size_t k = 1;

		if (c < 0)
			return -EINVAL;
		if (c >= 0x10000) {
			u[0] = (uint16_t)(0xd800 + ((c - 0x10000) >> 10));
			u[1] = (uint16_t)(0xdc00 + ((c - 0x10000) & 0x3ff));
			k = 2;
		} else
			u[0] = (uint16_t)c;
		if (n + k > GPT_NAME_UNITS)
			return -EINVAL;
		for (size_t i = 0; i < k; i++, n++) {
			units[2 * n] = (uint8_t)u[i];
			units[2 * n + 1] = (uint8_t)(u[i] >> 8);
		}
	}
	return 0;
}

/* ---- headers and entries ---- */

static uint64_t entry_sectors(uint32_t n_entries)
{
	return ((uint64_t)n_entries * GPT_ENTRY_SIZE + GPT_SECTOR_SIZE - 1) / GPT_SECTOR_SIZE;
}

static bool inside(uint64_t lba, uint64_t first, uint64_t last)
{
	return lba >= first && lba <= last;
}

int gpt_header_parse(const void *sector, uint64_t lba, uint64_t disk_sectors, struct gpt_header *ret, char **ret_error)
{
	const uint8_t *s = sector;
	uint8_t copy[GPT_SECTOR_SIZE];
	struct gpt_header h = { 0 };
	uint32_t crc, entry_size;
	uint64_t es;

	if (memcmp(s, "EFI PART", 8) != 0)
		return gb_error(ret_error, -ENOENT, "no GPT: LBA %llu has no \"EFI PART\" signature", (ull)lba);
	h.header_size = get32(s + 12);
	if (h.header_size < HEADER_MIN_SIZE || h.header_size > GPT_SECTOR_SIZE)
		return gb_error(ret_error, -EBADMSG, "GPT header at LBA %llu: size %" PRIu32 " bytes, expected %u to %u",
				(ull)lba, h.header_size, HEADER_MIN_SIZE, GPT_SECTOR_SIZE);
	memcpy(copy, s, h.header_size);
	put32(copy + 16, 0);
	crc = gpt_crc32(copy, h.header_size);
	if (crc != get32(s + 16))
		return gb_error(ret_error, -EBADMSG, "GPT header at LBA %llu: CRC32 is %08" PRIx32 ", its bytes give %08" PRIx32
				": the header is damaged", (ull)lba, get32(s + 16), crc);
	h.my_lba = get64(s + 24);
	h.alternate_lba = get64(s + 32);
	h.first_usable_lba = get64(s + 40);
	h.last_usable_lba = get64(s + 48);
	memcpy(h.disk_guid.bytes, s + 56, 16);
	h.entries_lba = get64(s + 72);
	h.n_entries = get32(s + 80);
	entry_size = get32(s + 84);
	h.entries_crc32 = get32(s + 88);

	if (h.my_lba != lba)
		return gb_error(ret_error, -EBADMSG, "GPT header at LBA %llu says it is at LBA %llu", (ull)lba, (ull)h.my_lba);
	if (entry_size != GPT_ENTRY_SIZE)
		return gb_error(ret_error, -EBADMSG, "GPT header at LBA %llu: entries of %" PRIu32 " bytes, expected %u",
				(ull)lba, entry_size, GPT_ENTRY_SIZE);
	if (h.n_entries == 0 || h.n_entries > GPT_ENTRIES_MAX)
		return gb_error(ret_error, -EBADMSG, "GPT header at LBA %llu: %" PRIu32 " entries, expected 1 to %u", (ull)lba,
				h.n_entries, GPT_ENTRIES_MAX);
	es = entry_sectors(h.n_entries);
	if (h.first_usable_lba > h.last_usable_lba || h.last_usable_lba >= disk_sectors || h.first_usable_lba < 2)
		return gb_error(ret_error, -EBADMSG, "GPT header at LBA %llu: usable LBAs %llu-%llu do not fit a disk of %llu sectors",
				(ull)lba, (ull)h.first_usable_lba, (ull)h.last_usable_lba, (ull)disk_sectors);
	if (h.alternate_lba >= disk_sectors || h.alternate_lba == lba ||
	    inside(h.alternate_lba, h.first_usable_lba, h.last_usable_lba) ||
	    inside(lba, h.first_usable_lba, h.last_usable_lba))
		return gb_error(ret_error, -EBADMSG, "GPT header at LBA %llu: its backup at LBA %llu is outside the disk of %llu "
				"sectors or inside the usable LBAs %llu-%llu", (ull)lba, (ull)h.alternate_lba,
				(ull)disk_sectors, (ull)h.first_usable_lba, (ull)h.last_usable_lba);
	/* The entry array lies outside the usable LBAs and clear of LBA 0 and of the header. */
	if (h.entries_lba < 1 || es > disk_sectors || h.entries_lba > disk_sectors - es || inside(lba, h.entries_lba, h.entries_lba + es - 1) ||
	    !(h.entries_lba + es - 1 < h.first_usable_lba || h.entries_lba > h.last_usable_lba))
		return gb_error(ret_error, -EBADMSG, "GPT header at LBA %llu: its %" PRIu32 " entries at LBA %llu overlap the "
				"header or the usable LBAs %llu-%llu, or run past the disk's %llu sectors", (ull)lba,
				h.n_entries, (ull)h.entries_lba, (ull)h.first_usable_lba, (ull)h.last_usable_lba,
				(ull)disk_sectors);
	*ret = h;
	return 0;
}

static void entry_decode(const uint8_t *e, unsigned index, struct gpt_partition *ret)
{
	*ret = (struct gpt_partition){ .index = index };
	memcpy(ret->type.bytes, e, 16);
	memcpy(ret->uuid.bytes, e + 16, 16);
	ret->first_lba = get64(e + 32);
	ret->last_lba = get64(e + 40);
	ret->attributes = get64(e + 48);
	name_decode(e + ENTRY_NAME_OFFSET, ret->name);
}

static int entry_encode(const struct gpt_partition *p, uint8_t *e)
{
	uint8_t name[2 * GPT_NAME_UNITS];

	if (name_encode(p->name, name) < 0)
		return -EINVAL;
	memcpy(e, p->type.bytes, 16);
	memcpy(e + 16, p->uuid.bytes, 16);
	put64(e + 32, p->first_lba);
	put64(e + 40, p->last_lba);
	put64(e + 48, p->attributes);
	memcpy(e + ENTRY_NAME_OFFSET, name, sizeof(name));
	return 0;
}

static int compare_first_lba(const void *a, const void *b)
{
	const struct gpt_partition *x = *(const struct gpt_partition *const *)a, *y = *(const struct gpt_partition *const *)b;
	return x->first_lba < y->first_lba ? -1 : x->first_lba > y->first_lba;
}

/* Every partition inside the usable LBAs, none overlapping another. */
static int check_partitions(const struct gpt_table *t, char **ret_error)
{
	_cleanup_free_ const struct gpt_partition **order = NULL;

	for (size_t i = 0; i < t->n_parts; i++) {
		const struct gpt_partition *p = &t->parts[i];
		if (p->first_lba > p->last_lba || p->first_lba < t->header.first_usable_lba ||
		    p->last_lba > t->header.last_usable_lba)
			return gb_error(ret_error, -EBADMSG, "GPT partition %u: LBAs %llu-%llu are not inside the usable LBAs %llu-%llu",
					p->index, (ull)p->first_lba, (ull)p->last_lba, (ull)t->header.first_usable_lba,
					(ull)t->header.last_usable_lba);
	}
	if (t->n_parts < 2)
		return 0;
	order = calloc(t->n_parts, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_parts; i++)
		order[i] = &t->parts[i];
	qsort(order, t->n_parts, sizeof(*order), compare_first_lba);
	for (size_t i = 1; i < t->n_parts; i++)
		if (order[i]->first_lba <= order[i - 1]->last_lba)
			return gb_error(ret_error, -EBADMSG, "GPT partitions %u (LBAs %llu-%llu) and %u (LBAs %llu-%llu) overlap",
					order[i - 1]->index, (ull)order[i - 1]->first_lba, (ull)order[i - 1]->last_lba,
					order[i]->index, (ull)order[i]->first_lba, (ull)order[i]->last_lba);
	return 0;
}

void gpt_table_done(struct gpt_table *t)
{
	free(t->entries);
	free(t->parts);
	*t = (struct gpt_table){ 0 };
}

int gpt_table_parse(const void *mbr, const void *header_sector, const void *entries, size_t entries_size,
		    uint64_t disk_sectors, struct gpt_table *ret, char **ret_error)
{
	struct gpt_table t = { .disk_sectors = disk_sectors };
	uint32_t crc;
	size_t bytes;
	int r;

	r = gpt_header_parse(header_sector, 1, disk_sectors, &t.header, ret_error);
	if (r < 0)
		return r;
	bytes = (size_t)entry_sectors(t.header.n_entries) * GPT_SECTOR_SIZE;
	if (entries_size < (size_t)t.header.n_entries * GPT_ENTRY_SIZE)
		return gb_error(ret_error, -EINVAL, "GPT entries: %zu bytes given, the header announces %" PRIu32 " entries",
				entries_size, t.header.n_entries);
	crc = gpt_crc32(entries, (size_t)t.header.n_entries * GPT_ENTRY_SIZE);
	if (crc != t.header.entries_crc32)
		return gb_error(ret_error, -EBADMSG, "GPT entries at LBA %llu: CRC32 is %08" PRIx32 ", the header says %08" PRIx32
				": the entries are damaged", (ull)t.header.entries_lba, crc, t.header.entries_crc32);

	memcpy(t.mbr, mbr, GPT_SECTOR_SIZE);
	memcpy(t.header_sector, header_sector, GPT_SECTOR_SIZE);
	t.read_alternate_lba = t.header.alternate_lba;
	/* A whole number of sectors, so the array is written back as it was read. */
	t.entries = calloc(1, bytes);
	t.parts = calloc(t.header.n_entries, sizeof(*t.parts));
	if (!t.entries || !t.parts) {
		gpt_table_done(&t);
		return -ENOMEM;
	}
	memcpy(t.entries, entries, MIN(entries_size, bytes));
	for (uint32_t i = 0; i < t.header.n_entries; i++) {
		const uint8_t *e = t.entries + (size_t)i * GPT_ENTRY_SIZE;
		struct gpt_guid type;

		memcpy(type.bytes, e, 16);
		if (!gpt_guid_is_zero(&type))
			entry_decode(e, i + 1, &t.parts[t.n_parts++]);
	}
	r = check_partitions(&t, ret_error);
	if (r < 0) {
		gpt_table_done(&t);
		return r;
	}
	*ret = t;
	return 0;
}

/* ---- I/O ---- */

static int pread_all(int fd, void *buf, size_t size, uint64_t offset)
{
	uint8_t *p = buf;

	while (size > 0) {
		ssize_t n = pread(fd, p, size, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EIO;
		p += n, size -= (size_t)n, offset += (uint64_t)n;
	}
	return 0;
}

static int pwrite_all(int fd, const void *buf, size_t size, uint64_t offset)
{
	const uint8_t *p = buf;

	while (size > 0) {
		ssize_t n = pwrite(fd, p, size, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -ENOSPC;
		p += n, size -= (size_t)n, offset += (uint64_t)n;
	}
	return 0;
}

/* The size of what FD holds, in sectors. */
static int disk_size(int fd, uint64_t *ret, char **ret_error)
{
	struct stat st;
	uint64_t bytes;
	int sector;

	if (fstat(fd, &st) < 0)
		return gb_error_errno(ret_error, negative_errno(), "cannot stat");
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKSSZGET, &sector) < 0)
			return gb_error_errno(ret_error, negative_errno(), "cannot get the logical sector size");
		if (sector != (int)GPT_SECTOR_SIZE)
			return gb_error(ret_error, -EOPNOTSUPP, "logical sectors of %d bytes: gapbox's tables are for %u-byte sectors",
					sector, GPT_SECTOR_SIZE);
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
			return gb_error_errno(ret_error, negative_errno(), "cannot get the size");
	} else if (S_ISREG(st.st_mode))
		bytes = (uint64_t)st.st_size;
	else
		return gb_error(ret_error, -ENOTBLK, "neither a block device nor a regular file");
	*ret = bytes / GPT_SECTOR_SIZE;
	return 0;
}

int gpt_read(int fd, struct gpt_table *ret, char **ret_error)
{
	uint8_t head[2 * GPT_SECTOR_SIZE];
	_cleanup_free_ uint8_t *entries = NULL;
	struct gpt_header h;
	uint64_t sectors = 0;
	size_t bytes;
	int r;

	r = disk_size(fd, &sectors, ret_error);
	if (r < 0)
		return r;
	/* LBA 0, the header, one sector of entries and the backup header, at the very least. */
	if (sectors < 4)
		return gb_error(ret_error, -ENOENT, "no GPT: only %llu sectors", (ull)sectors);
	r = pread_all(fd, head, sizeof(head), 0);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read LBA 0 and 1");
	r = gpt_header_parse(head + GPT_SECTOR_SIZE, 1, sectors, &h, ret_error);
	if (r < 0)
		return r;
	bytes = (size_t)entry_sectors(h.n_entries) * GPT_SECTOR_SIZE;
	entries = malloc(bytes);
	if (!entries)
		return -ENOMEM;
	r = pread_all(fd, entries, bytes, h.entries_lba * GPT_SECTOR_SIZE);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read the GPT entries at LBA %llu", (ull)h.entries_lba);
	return gpt_table_parse(head, head + GPT_SECTOR_SIZE, entries, bytes, sectors, ret, ret_error);
}

const struct gpt_partition *gpt_find(const struct gpt_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_parts; i++)
		if (streq(t->parts[i].name, name))
			return &t->parts[i];
	return NULL;
}

/* Where the backup table and the usable space end once the table spans the whole disk. */
static uint64_t disk_alternate_lba(const struct gpt_table *t) { return t->disk_sectors - 1; }
static uint64_t disk_backup_entries_lba(const struct gpt_table *t) { return disk_alternate_lba(t) - entry_sectors(t->header.n_entries); }
static uint64_t disk_last_usable_lba(const struct gpt_table *t) { return disk_backup_entries_lba(t) - 1; }

/* The last LBA in use before the free space: the last partition's, or the backup header where
 * the table was read when that is not the end of the disk (an image's end), as it stays in
 * the way until gpt_write() moves it. */
static uint64_t last_used_lba(const struct gpt_table *t)
{
	uint64_t last = t->header.first_usable_lba - 1;

	for (size_t i = 0; i < t->n_parts; i++)
		last = MAX(last, t->parts[i].last_lba);
	if (t->read_alternate_lba != disk_alternate_lba(t) && t->read_alternate_lba > t->header.first_usable_lba)
		last = MAX(last, t->read_alternate_lba);
	return last;
}

static uint64_t align_up(uint64_t lba)
{
	return (lba + GPT_ALIGN_SECTORS - 1) / GPT_ALIGN_SECTORS * GPT_ALIGN_SECTORS;
}

int gpt_free_space(const struct gpt_table *t, uint64_t *ret_first_lba, uint64_t *ret_last_lba)
{
	uint64_t first = align_up(last_used_lba(t) + 1);

	if (t->disk_sectors < entry_sectors(t->header.n_entries) + 3 || first > disk_last_usable_lba(t))
		return -ENOSPC;
	*ret_first_lba = first;
	*ret_last_lba = disk_last_usable_lba(t);
	return 0;
}

uint64_t gpt_disk_sectors_for(const struct gpt_table *t, uint64_t size)
{
	uint64_t sectors = (size + GPT_SECTOR_SIZE - 1) / GPT_SECTOR_SIZE;

	return align_up(last_used_lba(t) + 1) + sectors + entry_sectors(t->header.n_entries) + 1;
}

static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

int gpt_plan_append(const struct gpt_table *t, uint64_t size, uint64_t min_size, struct gpt_partition *ret,
		    char **ret_error)
{
	uint64_t first, last, avail, want;
	int r;

	r = gpt_free_space(t, &first, &last);
	if (r < 0)
		return gb_error(ret_error, r, "no free space behind the last partition: it ends at LBA %llu, and the disk's "
				"%llu sectors end at LBA %llu with the backup table", (ull)last_used_lba(t),
				(ull)t->disk_sectors, (ull)disk_last_usable_lba(t));
	avail = (last - first + 1) * GPT_SECTOR_SIZE;
	want = size == GPT_SIZE_REST ? avail : (size + GPT_SECTOR_SIZE - 1) / GPT_SECTOR_SIZE * GPT_SECTOR_SIZE;
	if (want < min_size)
		return gb_error(ret_error, size == GPT_SIZE_REST ? -ENOSPC : -EINVAL,
				"%.1f MiB %s, at least %.1f MiB needed", mib(want),
				size == GPT_SIZE_REST ? "free behind the last partition" : "asked for", mib(min_size));
	if (want > avail)
		return gb_error(ret_error, -ENOSPC, "%.1f MiB asked for, %.1f MiB free behind the last partition (LBAs %llu-%llu)",
				mib(want), mib(avail), (ull)first, (ull)last);
	*ret = (struct gpt_partition){ .first_lba = first, .last_lba = first + want / GPT_SECTOR_SIZE - 1 };
	(void)gpt_guid_parse(GPT_TYPE_LINUX_DATA, &ret->type);
	return 0;
}

static int compare_index(const void *a, const void *b)
{
	const struct gpt_partition *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

int gpt_add(struct gpt_table *t, const struct gpt_partition *p, char **ret_error)
{
	uint64_t old_backup_first = t->read_alternate_lba - entry_sectors(t->header.n_entries);
	struct gpt_partition added = *p;
	uint32_t slot;

	if (gpt_guid_is_zero(&p->type))
		return gb_error(ret_error, -EINVAL, "a partition needs a type GUID");
	if (p->first_lba > p->last_lba || p->first_lba < t->header.first_usable_lba || p->last_lba > disk_last_usable_lba(t))
		return gb_error(ret_error, -ENOSPC, "LBAs %llu-%llu are not inside the usable LBAs %llu-%llu of a disk of %llu sectors",
				(ull)p->first_lba, (ull)p->last_lba, (ull)t->header.first_usable_lba,
				(ull)disk_last_usable_lba(t), (ull)t->disk_sectors);
	for (size_t i = 0; i < t->n_parts; i++)
		if (p->first_lba <= t->parts[i].last_lba && p->last_lba >= t->parts[i].first_lba)
			return gb_error(ret_error, -EEXIST, "LBAs %llu-%llu overlap partition %u \"%s\" (LBAs %llu-%llu)",
					(ull)p->first_lba, (ull)p->last_lba, t->parts[i].index, t->parts[i].name,
					(ull)t->parts[i].first_lba, (ull)t->parts[i].last_lba);
	/* The backup table where it was read is zeroed by gpt_write(): nothing may live there. */
	if (t->read_alternate_lba != disk_alternate_lba(t) && p->first_lba <= t->read_alternate_lba &&
	    p->last_lba >= old_backup_first)
		return gb_error(ret_error, -EEXIST, "LBAs %llu-%llu overlap the backup GPT at LBAs %llu-%llu",
				(ull)p->first_lba, (ull)p->last_lba, (ull)old_backup_first, (ull)t->read_alternate_lba);
	for (slot = 0; slot < t->header.n_entries; slot++) {
		struct gpt_guid type;
		memcpy(type.bytes, t->entries + (size_t)slot * GPT_ENTRY_SIZE, 16);
		if (gpt_guid_is_zero(&type))
			break;
	}
	if (slot == t->header.n_entries)
		return gb_error(ret_error, -ENOSPC, "all %" PRIu32 " GPT entries are in use", t->header.n_entries);
	if (entry_encode(p, t->entries + (size_t)slot * GPT_ENTRY_SIZE) < 0)
		return gb_error(ret_error, -EINVAL, "partition name \"%s\": expected UTF-8 of at most %d UTF-16 units", p->name,
				GPT_NAME_UNITS);
	/* t->parts has room for every entry (gpt_table_parse), so this cannot fail. */
	added.index = slot + 1;
	name_decode(t->entries + (size_t)slot * GPT_ENTRY_SIZE + ENTRY_NAME_OFFSET, added.name);
	t->parts[t->n_parts++] = added;
	qsort(t->parts, t->n_parts, sizeof(*t->parts), compare_index);
	return 0;
}

/* CHS of an LBA in the 255-head, 63-sector geometry, or the "too large" value 0xFFFFFF the
 * UEFI spec asks for beyond it. Nothing reads it, but tools compare it. */
static void mbr_chs(uint64_t lba, uint8_t chs[3])
{
	uint64_t c = lba / (255 * 63), h = lba / 63 % 255, s = lba % 63 + 1;

	if (c > 1023) {
		chs[0] = chs[1] = chs[2] = 0xff;
		return;
	}
	chs[0] = (uint8_t)h;
	chs[1] = (uint8_t)(s | (c >> 8) << 6);
	chs[2] = (uint8_t)c;
}

/* The protective entry sized for the whole disk; true when the sector changed. */
static bool mbr_protect_disk(uint8_t *mbr, uint64_t disk_sectors)
{
	uint8_t before[GPT_SECTOR_SIZE];

	if (mbr[510] != 0x55 || mbr[511] != 0xaa)
		return false;
	memcpy(before, mbr, sizeof(before));
	for (int i = 0; i < 4; i++) {
		uint8_t *e = mbr + MBR_ENTRIES_OFFSET + 16 * i;
		uint32_t start = get32(e + 8);
		uint64_t size;

		if (e[4] != MBR_TYPE_PROTECTIVE || start >= disk_sectors)
			continue;
		size = MIN(disk_sectors - start, (uint64_t)UINT32_MAX);
		put32(e + 12, (uint32_t)size);
		mbr_chs(start + size - 1, e + 5);
	}
	return memcmp(before, mbr, sizeof(before)) != 0;
}

/* A header sector from TEMPLATE (its unknown bytes kept) with these LBAs and the entries' CRC. */
static void header_compose(const uint8_t *template, const struct gpt_header *h, uint64_t my_lba, uint64_t alternate_lba,
			   uint64_t entries_lba, uint8_t out[static GPT_SECTOR_SIZE])
{
	memcpy(out, template, GPT_SECTOR_SIZE);
	put64(out + 24, my_lba);
	put64(out + 32, alternate_lba);
	put64(out + 48, h->last_usable_lba);
	put64(out + 72, entries_lba);
	put32(out + 88, h->entries_crc32);
	put32(out + 16, 0);
	put32(out + 16, gpt_crc32(out, h->header_size));
}

int gpt_write(int fd, struct gpt_table *t, char **ret_error)
{
	uint64_t alternate = disk_alternate_lba(t), backup_entries = disk_backup_entries_lba(t), old = t->read_alternate_lba;
	size_t bytes = (size_t)entry_sectors(t->header.n_entries) * GPT_SECTOR_SIZE;
	uint8_t primary[GPT_SECTOR_SIZE], backup[GPT_SECTOR_SIZE], mbr[GPT_SECTOR_SIZE];
	struct gpt_header h = t->header;
	bool mbr_changed;
	int r;

	if (t->disk_sectors < h.entries_lba + 2 * entry_sectors(h.n_entries) + 2)
		return gb_error(ret_error, -ENOSPC, "the table does not fit a disk of %llu sectors", (ull)t->disk_sectors);
	for (size_t i = 0; i < t->n_parts; i++)
		if (t->parts[i].last_lba > disk_last_usable_lba(t))
			return gb_error(ret_error, -ENOSPC, "partition %u ends at LBA %llu, past the disk's last usable LBA %llu",
					t->parts[i].index, (ull)t->parts[i].last_lba, (ull)disk_last_usable_lba(t));
	h.alternate_lba = alternate;
	h.last_usable_lba = disk_last_usable_lba(t);
	h.entries_crc32 = gpt_crc32(t->entries, (size_t)h.n_entries * GPT_ENTRY_SIZE);
	header_compose(t->header_sector, &h, 1, alternate, h.entries_lba, primary);
	header_compose(t->header_sector, &h, alternate, 1, backup_entries, backup);
	memcpy(mbr, t->mbr, sizeof(mbr));
	mbr_changed = mbr_protect_disk(mbr, t->disk_sectors);

	/* Until the primary header is written, the old primary stays valid and names the old
	 * backup; once its entries are being rewritten it is not, and readers (the kernel too) take
	 * the backup at the end of the disk, which is complete by then. */
	r = pwrite_all(fd, t->entries, bytes, backup_entries * GPT_SECTOR_SIZE);
	if (r >= 0)
		r = pwrite_all(fd, backup, sizeof(backup), alternate * GPT_SECTOR_SIZE);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot write the backup GPT at LBA %llu", (ull)backup_entries);
	r = pwrite_all(fd, t->entries, bytes, h.entries_lba * GPT_SECTOR_SIZE);
	if (r >= 0 && mbr_changed)
		r = pwrite_all(fd, mbr, sizeof(mbr), 0);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0)
		r = pwrite_all(fd, primary, sizeof(primary), GPT_SECTOR_SIZE);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot write the primary GPT (the backup at LBA %llu is complete)",
				      (ull)alternate);

	/* The header left where the table was read would, once found by a tool looking for a
	 * backup, describe an older table. gpt_add() keeps partitions off it. */
	if (old != alternate && old >= h.entries_lba + entry_sectors(h.n_entries) && old < backup_entries) {
		static const uint8_t zero[GPT_SECTOR_SIZE];
		bool used = false;

		for (size_t i = 0; i < t->n_parts; i++)
			used |= inside(old, t->parts[i].first_lba, t->parts[i].last_lba);
		if (!used) {
			r = pwrite_all(fd, zero, sizeof(zero), old * GPT_SECTOR_SIZE);
			if (r >= 0 && fsync(fd) < 0)
				r = negative_errno();
			if (r < 0)
				return gb_error_errno(ret_error, r, "cannot clear the old backup GPT header at LBA %llu", (ull)old);
		}
	}
	t->header = h;
	t->read_alternate_lba = alternate;
	memcpy(t->header_sector, primary, sizeof(primary));
	memcpy(t->mbr, mbr, sizeof(mbr));
	return 0;
}

int gpt_append(int fd, const char *name, uint64_t size, uint64_t min_size, struct gpt_partition *ret, char **ret_error)
{
	struct gpt_table t;
	struct gpt_partition p;
	int r;

	r = gpt_read(fd, &t, ret_error);
	if (r < 0)
		return r;
	r = gpt_plan_append(&t, size, min_size, &p, ret_error);
	if (r >= 0 && strlen(name) >= sizeof(p.name))
		r = gb_error(ret_error, -EINVAL, "partition name \"%s\" is too long", name);
	if (r >= 0) {
		strcpy(p.name, name);
		r = gpt_guid_random(&p.uuid);
		if (r < 0)
			gb_error_errno(ret_error, r, "cannot make a random GUID");
	}
	if (r >= 0)
		r = gpt_add(&t, &p, ret_error);
	if (r >= 0)
		r = gpt_write(fd, &t, ret_error);
	for (size_t i = 0; r >= 0 && ret && i < t.n_parts; i++)
		if (t.parts[i].first_lba == p.first_lba)
			*ret = t.parts[i];
	gpt_table_done(&t);
	return r;
}
