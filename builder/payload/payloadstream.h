/* The payload as a stream of files into squashfs, split by content: data that is already
 * compressed goes into an image made without compression, everything else into a zstd one.
 * The two images are merged again at boot (overlayfs), so the split never shows. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct payload_stream;
struct progress;

/* Start the two mksquashfs processes writing COMPRESSED_OUT and RAW_OUT. LOG_DIR takes their
 * output. Every timestamp is EPOCH. SUMS_PATH collects a SHA256SUMS line of every file (lib/sumsfile.h).
 * Every byte streamed into either is added to PROGRESS (may be NULL). */
int payload_stream_open(const char *compressed_out, const char *raw_out, const char *log_dir, time_t epoch,
			const char *sums_path, struct progress *progress, struct payload_stream **ret);
/* Finish both images; negative errno (already logged) if either mksquashfs failed. */
int payload_stream_close(struct payload_stream *s);
/* Stop both helpers and forget the images (error paths); also frees a discard stream.
 * Accepts NULL. */
void payload_stream_abort(struct payload_stream *s);

/* A stream that writes nothing but still hashes and checks every file: how
 * `gapbox check-outputs` reads everything the build would, without writing. */
int payload_stream_open_discard(struct payload_stream **ret);
/* A stream that writes the files into the folder DIR on disk instead of squashfs images (for
 * tests and for inspecting what a payload would hold). */
int payload_stream_open_dir(const char *dir, time_t epoch, const char *sums_path, struct payload_stream **ret);

/* Each path goes in once: a second file or symlink at a path already written, or a file where
 * a folder is (or the other way round), fails with -EEXIST, reported naming the path, so
 * nothing can silently stand in for what was written first. */

/* A folder (parents are created as needed, each once). */
int payload_stream_dir(struct payload_stream *s, const char *path);
/* A regular file of exactly SIZE bytes, sent in any number of data() calls. The first bytes
 * decide which image it lands in. end() fails with -EBADMSG if the sizes differ, and hands
 * back the sha256 of what was written (hex, 65 bytes) when ret_sha256 is not NULL. */
int payload_stream_file_begin(struct payload_stream *s, const char *path, uint64_t size, mode_t mode);
int payload_stream_file_data(struct payload_stream *s, const void *buf, size_t n);
int payload_stream_file_end(struct payload_stream *s, char *ret_sha256);
/* Give PATH, a file that failed (a blob that did not match its digest), back, so that the true
 * file may still be written there: in a folder it is removed, in a discard stream forgotten; a
 * squashfs stream has its bytes already and keeps the path taken (the build fails anyway). */
void payload_stream_forget(struct payload_stream *s, const char *path);
/* A whole small file at once. */
int payload_stream_file(struct payload_stream *s, const char *path, const void *data, size_t size, mode_t mode);
int payload_stream_symlink(struct payload_stream *s, const char *path, const char *target);

/* Whether data starting with these bytes is already compressed (gzip, zstd, xz, bzip2, lz4,
 * zip/wheel, rpm, deb, jpeg, png). */
bool payload_data_is_compressed(const void *buf, size_t n);

/* Statistics for reports and benchmarks. */
struct payload_stream_stats {
	uint64_t files, bytes, raw_files, raw_bytes;
};
void payload_stream_get_stats(const struct payload_stream *s, struct payload_stream_stats *ret);
