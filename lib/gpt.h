/* GUID partition tables on 512-byte sectors, as xorriso writes them into gapbox's hybrid images:
 * reading and checking one, and adding a partition in the free space behind the image, with the
 * backup table moved to the end of the disk. Only libc: the static gapbox-init links this too.
 *
 * Parsing and planning work on buffers and structs; gpt_read() and gpt_write() do the I/O, with
 * pread/pwrite on an fd that is open without O_DIRECT (their buffers are not aligned for it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPT_SECTOR_SIZE 512u
#define GPT_ENTRY_SIZE 128u
/* The most entries a table may have (1 MiB of them): a hostile header cannot make us read more. */
#define GPT_ENTRIES_MAX 8192u
/* A name is 36 UTF-16 code units; in UTF-8 each takes at most 3 bytes (a surrogate pair, two
 * units, takes 4). */
#define GPT_NAME_UNITS 36
#define GPT_NAME_MAX (GPT_NAME_UNITS * 3 + 1)
/* "0FC63DAF-8483-4772-8E79-3D69D8477DE4" and its NUL. */
#define GPT_GUID_STRING_MAX 37
/* Partitions gapbox adds start on a 1 MiB boundary, where partitioning tools put them, so that
 * they sit on erase-block boundaries of flash media. */
#define GPT_ALIGN_SECTORS (1024u * 1024u / GPT_SECTOR_SIZE)
/* "Linux filesystem data", the type of the partition gapbox adds. */
#define GPT_TYPE_LINUX_DATA "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
/* For gpt_plan_append(): the partition takes all the free space behind the last one. */
#define GPT_SIZE_REST 0

/* A GUID as the disk stores it: the first three fields little-endian, the rest as bytes. */
struct gpt_guid {
	uint8_t bytes[16];
};

struct gpt_partition {
	unsigned index;                /* entry number from 1, as the kernel numbers partitions */
	uint64_t first_lba, last_lba;  /* both inclusive */
	struct gpt_guid type, uuid;
	uint64_t attributes;
	char name[GPT_NAME_MAX];       /* UTF-8 */
};

/* The fields of a header that gapbox uses, in host byte order. */
struct gpt_header {
	uint32_t header_size;
	uint64_t my_lba, alternate_lba;
	uint64_t first_usable_lba, last_usable_lba;
	struct gpt_guid disk_guid;
	uint64_t entries_lba;
	uint32_t n_entries;
	uint32_t entries_crc32;
};

struct gpt_table {
	uint64_t disk_sectors;              /* of the disk or file the table was read from */
	uint8_t mbr[GPT_SECTOR_SIZE];       /* LBA 0: boot code and the protective MBR */
	uint8_t header_sector[GPT_SECTOR_SIZE]; /* LBA 1 as read: bytes gapbox does not know stay */
	struct gpt_header header;           /* the primary header */
	uint64_t read_alternate_lba;        /* where the backup header was when read */
	uint8_t *entries;                   /* the entry array as on disk, n_entries * 128 bytes */
	struct gpt_partition *parts;        /* the used entries, in entry order */
	size_t n_parts;
};

/* CRC-32 (IEEE 802.3, the one GPT and zlib use). */
uint32_t gpt_crc32(const void *data, size_t size);

/* "0FC63DAF-8483-4772-8E79-3D69D8477DE4" (either case) to disk order: 0 or -EINVAL. */
int gpt_guid_parse(const char *s, struct gpt_guid *ret);
/* Upper-case text, as sfdisk and sgdisk print GUIDs. */
void gpt_guid_format(const struct gpt_guid *g, char buf[static GPT_GUID_STRING_MAX]);
/* A random (version 4) GUID from getrandom(): 0 or a negative errno. */
int gpt_guid_random(struct gpt_guid *ret);
bool gpt_guid_is_zero(const struct gpt_guid *g);

/* Check the header in SECTOR, read from LBA of a disk of DISK_SECTORS: signature, size, CRC,
 * its own LBA, entry size 128, LBAs inside the disk. 0, or -ENOENT (no GPT signature: no GPT)
 * or -EBADMSG (a damaged or impossible header), with the reason in *ret_error. */
int gpt_header_parse(const void *sector, uint64_t lba, uint64_t disk_sectors, struct gpt_header *ret,
		     char **ret_error);

/* The whole table from LBA 0, LBA 1 and the entry array HEADER announces (ENTRIES_SIZE bytes of
 * it), on a disk of DISK_SECTORS: the header checked as above, the entries' CRC, every used
 * entry inside the usable LBAs and none overlapping another. Errors as gpt_header_parse(), and
 * -ENOMEM. Free *ret with gpt_table_done(). */
int gpt_table_parse(const void *mbr, const void *header_sector, const void *entries, size_t entries_size,
		    uint64_t disk_sectors, struct gpt_table *ret, char **ret_error);
/* gpt_table_parse() on what FD holds (a block device or a disk image file); also -EIO and
 * -EOPNOTSUPP (a block device whose logical sectors are not 512 bytes). */
int gpt_read(int fd, struct gpt_table *ret, char **ret_error);
void gpt_table_done(struct gpt_table *t);

/* The first partition named NAME, or NULL. */
const struct gpt_partition *gpt_find(const struct gpt_table *t, const char *name);

/* The free space behind the last partition once the backup table sits at the end of the disk:
 * its first LBA (1 MiB aligned) and last usable LBA. -ENOSPC when there is none. */
int gpt_free_space(const struct gpt_table *t, uint64_t *ret_first_lba, uint64_t *ret_last_lba);
/* The sectors a disk needs to hold T's partitions and one of SIZE bytes behind them, with the
 * backup table at its end: what a new disk image file is made as large as. */
uint64_t gpt_disk_sectors_for(const struct gpt_table *t, uint64_t size);
/* Where a partition of SIZE bytes (rounded up to whole sectors; GPT_SIZE_REST: all the free
 * space) goes: *ret gets its first and last LBA and the Linux filesystem data type; index,
 * uuid and name are the caller's. -ENOSPC (with the free space in *ret_error) when there is
 * less room than SIZE or than MIN_SIZE bytes. */
int gpt_plan_append(const struct gpt_table *t, uint64_t size, uint64_t min_size, struct gpt_partition *ret,
		    char **ret_error);
/* Put P (exactly: its LBAs, type, uuid, attributes, name) into T's first free entry, the table
 * laid out for the whole disk; P's index is ignored and set in T. -ENOSPC when P does not fit in
 * the usable space or the entry array is full, -EEXIST when it overlaps a partition, -EINVAL for
 * a name that does not fit in 36 UTF-16 units, -ENOMEM. */
int gpt_add(struct gpt_table *t, const struct gpt_partition *p, char **ret_error);
/* Write T to FD for the whole disk: the backup entries and header at the end of the disk, the
 * last usable LBA after them, every CRC, the protective MBR entry's size covering the disk
 * (capped at 0xFFFFFFFF sectors; boot code and other entries untouched), and the backup header
 * left behind where T was read from zeroed. Crash-safe order: new backup first, the primary
 * header last, fsync between. 0 or a negative errno with the reason in *ret_error. */
int gpt_write(int fd, struct gpt_table *t, char **ret_error);

/* gpt_read(), gpt_plan_append(), a random uuid, gpt_add() and gpt_write() in one: add a Linux
 * filesystem data partition named NAME behind the last one. *ret (may be NULL) gets it. */
int gpt_append(int fd, const char *name, uint64_t size, uint64_t min_size, struct gpt_partition *ret,
	       char **ret_error);
