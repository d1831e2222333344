/* switch_root: hand the machine from the initramfs to the root filesystem at /sysroot. */
#pragma once

#include <sys/types.h>

/* Mounts that travel from the initramfs into the new root (/run carries the run folder GB_RUN_DIR and its mounts). */
#define SWITCHROOT_MOVED_MOUNTS { "/dev", "/proc", "/sys", "/run" }

/* 0 if root_fd is on ramfs or tmpfs, the only roots it is safe to empty; else -EINVAL
 * with the filesystem magic in *ret_fstype. */
int switchroot_check_initramfs(int root_fd, unsigned long *ret_fstype);

/* 0 if newroot_fd is on another filesystem than oldroot_fd, else -EBUSY. */
int switchroot_check_other_fs(int oldroot_fd, int newroot_fd);

/* 0 if init, resolved inside newroot_fd (an absolute symlink such as
 * /sbin/init -> /lib/systemd/systemd stays inside), is an executable regular file on an
 * exec-allowed mount; -ENOENT, -ELOOP, -EACCES (not a regular file or not executable). */
int switchroot_check_init(int newroot_fd, const char *init);

/*
 * Deletes everything below dir_fd that lives on the filesystem root_dev, never descending
 * into a directory of another filesystem or into a mount point. dir_fd itself (and
 * directories that keep a skipped mount) stay. Returns 0 or the first negative errno;
 * it goes on past errors to free what it can.
 */
int switchroot_delete_tree(int dir_fd, dev_t root_dev);

/*
 * Checks (see above), makes mounts private, moves SWITCHROOT_MOVED_MOUNTS into newroot,
 * makes newroot "/" and deletes the initramfs. Logs what failed and returns a negative
 * errno; a failure before the move of newroot leaves the initramfs as root. On success
 * the caller is in the new root and execs init.
 */
int switch_root(const char *newroot, const char *init);
