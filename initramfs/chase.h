/* Opening a path inside a directory as if that directory were "/": symlinks never lead out. */
#pragma once

/*
 * Opens path (absolute or relative, both taken from root_fd) with open_flags
 * (O_CLOEXEC is always added), resolving "..", absolute and relative symlinks
 * inside root_fd, like openat2(RESOLVE_IN_ROOT). Uses openat2 and falls back to
 * chase_in_root_by_hand() where the kernel lacks it. Returns an fd or a negative errno
 * (-ENOENT missing, -ELOOP too many symlinks, -ENAMETOOLONG).
 */
int chase_in_root(int root_fd, const char *path, int open_flags);

/* The same without openat2, one component at a time: for kernels older than 5.6. */
int chase_in_root_by_hand(int root_fd, const char *path, int open_flags);
