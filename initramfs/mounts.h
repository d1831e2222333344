/* Mount helpers for gapbox-init: mount with its directory, and telling a mount point. */
#pragma once

/* mount(2) after creating target (mode 0755) and its parents. Returns 0 or a negative errno. */
int mount_at(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data);

/* 1 if path is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT, which also sees bind
 * mounts; else st_dev differs from the parent's), 0 if not, or a negative errno. */
int path_is_mount_point(const char *path);
