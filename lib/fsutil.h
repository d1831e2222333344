/* Filesystem helpers: directories, whole-file reads with a cap, atomic writes, safe removal. */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "macros.h"

int mkdir_p(const char *path, mode_t mode);
/* Read a whole file of at most max bytes; the buffer is NUL-terminated. -EFBIG past the cap.
 * The one capped reader: everything that reads a file whole goes through these. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_size);
/* The same from an open file descriptor, read to its end. */
int read_fd(int fd, size_t max, char **ret, size_t *ret_size);
/* Write data to PATH through a temporary name beside it, fsync, rename. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
/* Write all of buf to fd, retrying short writes and EINTR. */
int write_all(int fd, const void *buf, size_t size);
/* Remove PATH and everything below it, never crossing into another filesystem. Missing is fine. */
int rm_rf(const char *path);
/* Remove the contents of the directory dirfd (not the directory itself) on device dev. */
int rm_rf_children(int dirfd, dev_t dev);
/* Copy a regular file, writing through a temporary name then renaming. */
int copy_file_atomic(const char *src, const char *dst, mode_t mode);
bool path_is_dir(const char *path);
bool path_exists(const char *path);
/* "a" + "/" + "b" with a single slash; NULL on allocation failure. */
char *path_join(const char *a, const char *b);

struct dir_walk_entry {
	const char *rel;   /* path relative to the walk's root */
	const char *path;  /* full path */
	const struct stat *st;
};

/* Call fn for every entry below ROOT/SUB (SUB may be NULL: all of ROOT) in sorted order,
 * folders before what they hold, without following symlinks; rel is relative to ROOT.
 * fn returns negative to stop, and that is returned; -errno when a folder cannot be read. */
int dir_walk(const char *root, const char *sub, int (*fn)(const struct dir_walk_entry *e, void *userdata),
	     void *userdata);

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)
#define _cleanup_closedir_ _cleanup_(closedirp)
