/* The payload written as two tar streams into two mksquashfs processes: files whose first
 * bytes show they are already compressed go into an image made with -noD -noF, the rest
 * into a zstd image. Or, for tests, into a folder, or nowhere (check-outputs). */
#include "payloadstream.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "../squashfs.h"
#include "archiveutil.h"
#include "fsutil.h"
#include "hashset.h"
#include "layout.h"
#include "log.h"
#include "sha256.h"
#include "sumsfile.h"

enum ps_kind { PS_SQUASHFS, PS_DIR, PS_DISCARD };
enum { TARGET_COMPRESSED, TARGET_RAW, TARGET_NONE };
/* What the set of files says of a path. */
enum { PATH_WRITTEN, PATH_FORGOTTEN };

struct payload_stream {
	enum ps_kind kind;
	time_t epoch;
	struct squashfs_feeder out[2];
	char *dir;
	char *sums_path;
	FILE *sums;
	struct hashset dirs; /* folders already emitted, so each goes into the streams once */
	struct hashset files; /* files and symlinks written: a path goes in once, or mksquashfs
				 would keep one copy and drop the other without a word */

	/* the file being written */
	char *path;
	uint64_t size, written;
	mode_t mode;
	int target; /* -1 until the first bytes are seen */
	struct gb_sha256 *hash;
	int fd;

	struct payload_stream_stats stats;
};

bool payload_data_is_compressed(const void *buf, size_t n)
{
	static const struct {
		const char *magic;
		size_t len;
	} magics[] = {
		{ "\x1f\x8b", 2 },                 /* gzip */
		{ "\x28\xb5\x2f\xfd", 4 },         /* zstd */
		{ "\xfd" "7zXZ\0", 6 },            /* xz */
		{ "BZh", 3 },                      /* bzip2 */
		{ "\x04\x22\x4d\x18", 4 },         /* lz4 */
		{ "PK\x03\x04", 4 },               /* zip, wheel, jar */
		{ "\xed\xab\xee\xdb", 4 },         /* rpm */
		{ "!<arch>\ndebian", 14 },         /* deb */
		{ "\xff\xd8\xff", 3 },             /* jpeg */
		{ "\x89PNG", 4 },                  /* png */
		{ "7z\xbc\xaf\x27\x1c", 6 },       /* 7z */
	};
	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if (n >= magics[i].len && !memcmp(buf, magics[i].magic, magics[i].len))
			return true;
	return false;
}

static int start_mksquashfs(struct payload_stream *s, int target, const char *out, const char *log_dir,
			    struct progress *progress)
{
	_cleanup_free_ char *log = NULL;

	if (asprintf(&log, "%s/mksquashfs-payload%s.log", log_dir, target == TARGET_RAW ? "-raw" : "") < 0)
		return -ENOMEM;
	return squashfs_feeder_start(out, log, s->epoch, target == TARGET_RAW ? SQUASHFS_STORE : SQUASHFS_COMPRESS,
				     progress, &s->out[target]);
}

static int stream_new(enum ps_kind kind, time_t epoch, const char *sums_path, struct payload_stream **ret)
{
	struct payload_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kind = kind;
	s->epoch = epoch;
	s->target = -1;
	s->fd = -1;
	for (int t = 0; t < 2; t++)
		s->out[t].child = (struct gb_child){ .pid = -1, .stdin_fd = -1 };
	if (sums_path) {
		s->sums_path = strdup(sums_path);
		s->sums = fopen(sums_path, "we");
		if (!s->sums_path || !s->sums) {
			int r = -errno;
			payload_stream_abort(s);
			return r ? r : -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}

int payload_stream_open(const char *compressed_out, const char *raw_out, const char *log_dir, time_t epoch,
			const char *sums_path, struct progress *progress, struct payload_stream **ret)
{
	struct payload_stream *s;
	int r = stream_new(PS_SQUASHFS, epoch, sums_path, &s);
	if (r < 0)
		return r;
	if ((r = start_mksquashfs(s, TARGET_COMPRESSED, compressed_out, log_dir, progress)) < 0 ||
	    (r = start_mksquashfs(s, TARGET_RAW, raw_out, log_dir, progress)) < 0) {
		payload_stream_abort(s);
		return r;
	}
	*ret = s;
	return 0;
}

int payload_stream_open_discard(struct payload_stream **ret)
{
	return stream_new(PS_DISCARD, 0, NULL, ret);
}

int payload_stream_open_dir(const char *dir, time_t epoch, const char *sums_path, struct payload_stream **ret)
{
	struct payload_stream *s;
	int r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	r = stream_new(PS_DIR, epoch, sums_path, &s);
	if (r < 0)
		return r;
	if (!(s->dir = strdup(dir))) {
		payload_stream_abort(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

static int write_header(struct payload_stream *s, int target, struct archive_entry *e)
{
	if (archive_write_header(s->out[target].tar, e) != ARCHIVE_OK)
		return log_error_errno(-EPIPE, "cannot stream %s into mksquashfs (%s): %s", archive_entry_pathname(e),
				       s->out[target].image, archive_error(s->out[target].tar));
	return 0;
}

static int emit_dir(struct payload_stream *s, const char *path)
{
	if (s->kind == PS_DISCARD)
		return 0;
	if (s->kind == PS_DIR) {
		_cleanup_free_ char *full = path_join(s->dir, path);
		return full ? mkdir_p(full, 0755) : -ENOMEM;
	}
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_normalize(e, path, S_IFDIR | 0755, s->epoch);
	/* Both images get every folder, so either can be read alone. */
	for (int t = 0; t < 2; t++) {
		int r = write_header(s, t, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int payload_stream_dir(struct payload_stream *s, const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	int r;

	if (!p)
		return -ENOMEM;
	for (char *slash = strchr(p, '/');; slash = strchr(slash + 1, '/')) {
		if (slash)
			*slash = '\0';
		if (*p) {
			if (hashset_get(&s->files, p))
				return log_error_errno(-EEXIST, "payload: %s is a file already; it cannot be a folder too", p);
			r = hashset_add(&s->dirs, p, NULL, 0);
			if (r < 0)
				return r;
			if (r > 0 && (r = emit_dir(s, p)) < 0)
				return r;
		}
		if (!slash)
			break;
		*slash = '/';
	}
	return 0;
}

/* A file or symlink at PATH, once: the second of two equal paths is refused, never dropped. */
static int claim_path(struct payload_stream *s, const char *path)
{
	struct hashset_entry *e = hashset_get(&s->files, path);
	int r;

	if (hashset_get(&s->dirs, path))
		return log_error_errno(-EEXIST, "payload: %s is a folder already; it cannot be a file too", path);
	if (e && e->num == PATH_FORGOTTEN) {
		e->num = PATH_WRITTEN;
		return 0;
	}
	if (e)
		return log_error_errno(-EEXIST, "payload: %s is written twice; each path goes into the payload once", path);
	r = hashset_add(&s->files, path, NULL, PATH_WRITTEN);
	return r < 0 ? r : 0;
}

void payload_stream_forget(struct payload_stream *s, const char *path)
{
	struct hashset_entry *e = hashset_get(&s->files, path);

	/* Squashfs has the bytes already: the path stays taken. */
	if (!e || s->kind == PS_SQUASHFS)
		return;
	e->num = PATH_FORGOTTEN;
	if (s->kind == PS_DIR) {
		_cleanup_free_ char *full = path_join(s->dir, path);
		if (full)
			(void)unlink(full);
	}
}

static int parent_dirs(struct payload_stream *s, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return 0;
	_cleanup_free_ char *parent = strndup(path, slash - path);
	return parent ? payload_stream_dir(s, parent) : -ENOMEM;
}

int payload_stream_file_begin(struct payload_stream *s, const char *path, uint64_t size, mode_t mode)
{
	int r = parent_dirs(s, path);
	if (r >= 0)
		r = claim_path(s, path);
	if (r < 0)
		return r;
	free(s->path);
	gb_sha256_free(s->hash);
	s->hash = gb_sha256_new();
	s->path = strdup(path);
	if (!s->hash || !s->path)
		return -ENOMEM;
	s->size = size;
	s->written = 0;
	s->mode = mode & 07777;
	s->target = -1;
	if (s->kind == PS_DIR) {
		_cleanup_free_ char *full = path_join(s->dir, path);
		if (!full)
			return -ENOMEM;
		s->fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, s->mode);
		if (s->fd < 0)
			return -errno;
	}
	return 0;
}

static int choose_target(struct payload_stream *s, const void *buf, size_t n)
{
	s->target = s->kind != PS_SQUASHFS ? TARGET_NONE
		    : payload_data_is_compressed(buf, n) ? TARGET_RAW
							 : TARGET_COMPRESSED;
	if (s->target == TARGET_NONE)
		return 0;
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_normalize(e, s->path, S_IFREG | s->mode, s->epoch);
	archive_entry_set_size(e, (la_int64_t)s->size);
	return write_header(s, s->target, e);
}

int payload_stream_file_data(struct payload_stream *s, const void *buf, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	if (s->written + n > s->size)
		return -EBADMSG;
	if (s->target < 0 && (r = choose_target(s, buf, n)) < 0)
		return r;
	gb_sha256_update(s->hash, buf, n);
	s->written += n;
	if (s->kind == PS_DIR)
		return write_all(s->fd, buf, n);
	if (s->target == TARGET_NONE)
		return 0;
	if (archive_write_data(s->out[s->target].tar, buf, n) != (la_ssize_t)n)
		return log_error_errno(-EPIPE, "cannot stream %s into mksquashfs (%s): %s", s->path,
				       s->out[s->target].image, archive_error(s->out[s->target].tar));
	return 0;
}

int payload_stream_file_end(struct payload_stream *s, char *ret_sha256)
{
	char hex[SHA256_HEX_LEN + 1];
	int r = 0;

	if (s->written != s->size)
		r = -EBADMSG;
	else if (s->target < 0)
		r = choose_target(s, "", 0);
	if (s->fd >= 0) {
		if (close(s->fd) < 0 && r == 0)
			r = -errno;
		s->fd = -1;
	}
	gb_sha256_final_hex(s->hash, hex);
	s->hash = NULL;
	if (r < 0)
		return r;
	if (ret_sha256)
		memcpy(ret_sha256, hex, sizeof(hex));
	if (s->sums && (r = sums_line_write(s->sums, hex, s->path)) < 0)
		return r;
	s->stats.files++;
	s->stats.bytes += s->size;
	if (s->target == TARGET_RAW) {
		s->stats.raw_files++;
		s->stats.raw_bytes += s->size;
	}
	return 0;
}

int payload_stream_file(struct payload_stream *s, const char *path, const void *data, size_t size, mode_t mode)
{
	int r = payload_stream_file_begin(s, path, size, mode);
	if (r >= 0)
		r = payload_stream_file_data(s, data, size);
	if (r >= 0)
		r = payload_stream_file_end(s, NULL);
	return r;
}

int payload_stream_symlink(struct payload_stream *s, const char *path, const char *target)
{
	int r = parent_dirs(s, path);
	if (r >= 0)
		r = claim_path(s, path);
	if (r < 0 || s->kind == PS_DISCARD)
		return r;
	if (s->kind == PS_DIR) {
		_cleanup_free_ char *full = path_join(s->dir, path);
		if (!full)
			return -ENOMEM;
		unlink(full);
		return symlink(target, full) < 0 ? -errno : 0;
	}
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_normalize(e, path, S_IFLNK | 0777, s->epoch);
	archive_entry_set_symlink(e, target);
	return write_header(s, TARGET_COMPRESSED, e);
}

void payload_stream_get_stats(const struct payload_stream *s, struct payload_stream_stats *ret)
{
	*ret = s->stats;
}

static void stream_free(struct payload_stream *s)
{
	if (s->sums)
		fclose(s->sums);
	if (s->fd >= 0)
		close(s->fd);
	gb_sha256_free(s->hash);
	hashset_done(&s->dirs);
	hashset_done(&s->files);
	free(s->sums_path);
	free(s->dir);
	free(s->path);
	free(s);
}

void payload_stream_abort(struct payload_stream *s)
{
	if (!s)
		return;
	for (int t = 0; t < 2; t++)
		squashfs_feeder_abort(&s->out[t]);
	stream_free(s);
}

/* The sums file itself goes last, into the compressed image (or the folder). */
static int add_sums(struct payload_stream *s)
{
	_cleanup_free_ char *text = NULL;
	size_t size;
	int r;

	if (fclose(s->sums) != 0) {
		s->sums = NULL;
		return -errno;
	}
	s->sums = NULL;
	r = read_file(s->sums_path, 256 << 20, &text, &size);
	if (r < 0)
		return r;
	return payload_stream_file(s, GB_PAYLOAD_SUMS, text, size, 0644);
}

int payload_stream_close(struct payload_stream *s)
{
	int r = 0;

	if (s->sums && s->kind != PS_DISCARD)
		r = add_sums(s);
	if (r < 0)
		log_error_errno(r, "cannot add %s to the payload: %m", GB_PAYLOAD_SUMS);
	for (int t = 0; t < 2 && s->kind == PS_SQUASHFS; t++) {
		int k = squashfs_feeder_finish(&s->out[t], r < 0 ? r : 0);
		if (r == 0)
			r = k;
	}
	stream_free(s);
	return r;
}
