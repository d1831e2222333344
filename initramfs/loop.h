/* Read-only loop devices over image files (the system and payload images). */
#pragma once

#include <stddef.h>

/*
 * Binds a free loop device read-only to backing_fd with autoclear (it detaches itself
 * when its last user, an fd or a mount, goes away). Uses LOOP_CONFIGURE and falls back
 * to LOOP_SET_FD + LOOP_SET_STATUS64 on kernels without it. Returns the open loop
 * device fd and its node in ret_path, or a negative errno.
 */
int loop_attach_readonly(int backing_fd, const char *backing_name, char *ret_path, size_t size);
