/* libarchive glue: cleanup helpers and path normalisation shared by every archive reader. */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>
#include <stdint.h>

static inline void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}
static inline void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}
static inline void archive_entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}
#define _cleanup_archive_read_ __attribute__((cleanup(archive_read_freep)))
#define _cleanup_archive_write_ __attribute__((cleanup(archive_write_freep)))
#define _cleanup_archive_entry_ __attribute__((cleanup(archive_entry_freep)))

/* Set E up as the entry PATH of type and permissions MODE, owned by root with numeric ids only
 * (the build host's user names must not remap anything) and dated MTIME: every entry gapbox
 * writes of its own (root stream, payload, initramfs) starts from this. */
void archive_entry_normalize(struct archive_entry *e, const char *path, mode_t mode, time_t mtime);
/* Entry name without leading "./" or "/" ("" for the archive root). */
const char *archive_path_relative(const char *name);
/* Open a tar (plain, or compressed with gzip, zstd, xz or bzip2: anything else is refused,
 * -EMEDIUMTYPE naming the compression when it is known) from a file for sequential reading. On failure
 * *ret_error (optional, caller frees) gets libarchive's reason ("truncated gzip input"). */
int archive_open_tar_file(const char *path, struct archive **ret, char **ret_error);
/* The same for PATH relative to the folder DIRFD (or AT_FDCWD). */
int archive_open_tar_at(int dirfd, const char *path, struct archive **ret, char **ret_error);
/* Enable the only decompressors gapbox reads untrusted input with: gzip, zstd, xz and bzip2,
 * all in-process (libarchive's support_filter_all would run lzop, lrzip, grzip... as external
 * programs when they are installed). -ENOTSUP when one of the four is not built in. */
int archive_read_support_safe_filters(struct archive *a);
/* The name of the compression data starting with these bytes is in, when it is one gapbox
 * knows but refuses (lzop, lz4, lzip, lrzip, grzip, compress, 7-zip), else NULL. */
const char *archive_compression_refused(const void *buf, size_t n);
/* Whether entry E, just read from A, may be read: not sparse (-EMEDIUMTYPE: its holes would
 * read as data), and its data does not take the decompressed stream past MAX bytes (-EFBIG;
 * 0: no cap). *ret_error (optional) names the entry and says why. Checked at the header, so
 * nothing past the cap is ever decompressed, not even to skip it. */
int archive_entry_bounded(struct archive *a, struct archive_entry *e, uint64_t max, char **ret_error);
/* libarchive's error for a, or a fallback, for messages. */
const char *archive_error(struct archive *a);
/* Read the current entry's data into a new NUL-terminated buffer of at most max bytes. */
int archive_read_data_alloc(struct archive *a, size_t max, char **ret, size_t *ret_size);
/* Copy the current entry's data to fd. */
int archive_read_data_to_fd(struct archive *a, int fd);
