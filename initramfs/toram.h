/* gapbox.toram: copying the system image into a tmpfs so that the boot medium can be removed. */
#pragma once

#include <stdint.h>

/* Copies the whole of src_fd (from its current offset) to dst_fd: sendfile, or
 * read/write where sendfile cannot. Returns the bytes copied or a negative errno. */
int64_t toram_copy_fd(int src_fd, int dst_fd);

/*
 * Mounts a tmpfs sized for it on dir and copies src_fd (size bytes, named src in
 * messages) to dir/name. Returns an fd on the copy, -ENOSPC (said as a warning) if it
 * would not leave reserve bytes of memory free, or another negative errno (logged), with
 * the tmpfs unmounted again.
 */
int toram_copy(int src_fd, const char *src, int64_t size, const char *dir, const char *name, uint64_t reserve);
