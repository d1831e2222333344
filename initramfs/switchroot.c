/* switch_root from the initramfs to /sysroot, with the checks that keep it from emptying the wrong tree. */
#include "switchroot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "chase.h"
#include "fsutil.h"
#include "mounts.h"
#include "log.h"
#include "macros.h"

/* An initramfs tree is shallow; deeper means something is wrong (or a loop). */
#define DELETE_MAX_DEPTH 128

int switchroot_check_initramfs(int root_fd, unsigned long *ret_fstype)
{
	struct statfs sfs;

	if (fstatfs(root_fd, &sfs) < 0)
		return negative_errno();
	*ret_fstype = (unsigned long)sfs.f_type;
	if ((unsigned long)sfs.f_type == RAMFS_MAGIC || (unsigned long)sfs.f_type == TMPFS_MAGIC)
		return 0;
	return -EINVAL;
}

int switchroot_check_other_fs(int oldroot_fd, int newroot_fd)
{
	struct stat a, b;

	if (fstat(oldroot_fd, &a) < 0 || fstat(newroot_fd, &b) < 0)
		return negative_errno();
	return a.st_dev == b.st_dev ? -EBUSY : 0;
}

int switchroot_check_init(int newroot_fd, const char *init)
{
	_cleanup_close_ int fd = -1;
	struct statvfs svfs;
	struct stat st;

	fd = chase_in_root(newroot_fd, init, O_PATH);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	/* execve() refuses these with EACCES too. */
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return -EACCES;
	if (fstatvfs(fd, &svfs) == 0 && (svfs.f_flag & ST_NOEXEC))
		return -EACCES;
	return 0;
}

static bool is_mount_root(int dir_fd, const char *name)
{
	struct statx sx;

	/* Catches bind mounts of the same filesystem, which st_dev cannot tell apart. */
	return statx(dir_fd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
	       (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* Empties the directory fd (which it takes over). */
static int delete_children(int fd, dev_t root_dev, unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int ret = 0;

	d = fdopendir(fd);
	if (!d) {
		ret = negative_errno();
		close(fd);
		return ret;
	}

	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		int r = 0;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = negative_errno();
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			/* Another filesystem, or a mount on this one: not ours to empty. */
			if (st.st_dev != root_dev || is_mount_root(dirfd(d), de->d_name))
				continue;
			if (depth >= DELETE_MAX_DEPTH) {
				r = -ELOOP;
			} else {
				sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				r = sub < 0 ? negative_errno() : delete_children(sub, root_dev, depth + 1);
				/* A directory that kept a skipped mount stays, and that is fine. */
				if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOTEMPTY &&
				    errno != EBUSY && r == 0)
					r = negative_errno();
			}
		} else if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			r = negative_errno();
		}
		if (r < 0) {
			log_debug_errno(r, "cannot delete %s of the old root: %m", de->d_name);
			if (ret == 0)
				ret = r;
		}
	}
	if (errno && ret == 0)
		ret = negative_errno();
	return ret;
}

int switchroot_delete_tree(int dir_fd, dev_t root_dev)
{
	struct stat st;
	int fd;

	if (fstat(dir_fd, &st) < 0)
		return negative_errno();
	if (st.st_dev != root_dev)
		return -EXDEV;
	/* The caller keeps its fd; fdopendir() would take ours. */
	fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return negative_errno();
	/* A dup shares the read position: start from the top whatever the caller did. */
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	return delete_children(fd, root_dev, 0);
}

/* Moves the mount at what into newroot; one already moved by an earlier try is skipped. */
static int move_mount_into(const char *newroot, const char *what)
{
	char target[PATH_MAX];
	int r;

	if ((size_t)snprintf(target, sizeof(target), "%s%s", newroot, what) >= sizeof(target))
		return log_error_errno(-ENAMETOOLONG, "path too long: %s%s", newroot, what);
	r = mkdir_p(target, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create %s: %m", target);

	r = path_is_mount_point(what);
	if (r <= 0) {
		if (path_is_mount_point(target) > 0)
			log_debug("%s already moved to %s", what, target);
		else
			log_warning("%s is not a mount point, not moving it", what);
		return 0;
	}
	if (mount(what, target, NULL, MS_MOVE, NULL) < 0)
		return log_error_errno(negative_errno(), "cannot move mount %s to %s: %m", what, target);
	return 0;
}

int switch_root(const char *newroot, const char *init)
{
	static const char *const moved[] = SWITCHROOT_MOVED_MOUNTS;
	_cleanup_close_ int oldroot_fd = -1, newroot_fd = -1;
	unsigned long fstype = 0;
	struct stat oldroot_st;
	int r;

	oldroot_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (oldroot_fd < 0 || fstat(oldroot_fd, &oldroot_st) < 0)
		return log_error_errno(negative_errno(), "cannot open /: %m");
	newroot_fd = open(newroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (newroot_fd < 0)
		return log_error_errno(negative_errno(), "cannot open the new root %s: %m", newroot);

	r = switchroot_check_initramfs(oldroot_fd, &fstype);
	if (r == -EINVAL)
		return log_error_errno(r, "/ is not an initramfs (filesystem type 0x%lx, expected ramfs or tmpfs); "
					  "refusing to delete it", fstype);
	if (r < 0)
		return log_error_errno(r, "cannot stat /: %m");
	r = switchroot_check_other_fs(oldroot_fd, newroot_fd);
	if (r == -EBUSY)
		return log_error_errno(r, "%s is on the same filesystem as /: nothing is mounted there", newroot);
	if (r < 0)
		return log_error_errno(r, "cannot stat %s: %m", newroot);
	r = switchroot_check_init(newroot_fd, init);
	if (r < 0)
		return log_error_errno(r, "%s in %s (resolved inside it) is not an executable file: %m", init, newroot);

	/* MS_MOVE refuses to move mounts out of a shared parent. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return log_error_errno(negative_errno(), "cannot make mounts private: %m");
	for (size_t i = 0; i < ARRAY_SIZE(moved); i++) {
		r = move_mount_into(newroot, moved[i]);
		if (r < 0)
			return r;
	}

	if (chdir(newroot) < 0)
		return log_error_errno(negative_errno(), "cannot change directory to %s: %m", newroot);
	if (mount(newroot, "/", NULL, MS_MOVE, NULL) < 0) {
		r = log_error_errno(negative_errno(), "cannot move %s to /: %m", newroot);
		(void)chdir("/");
		return r;
	}
	if (chroot(".") < 0 || chdir("/") < 0)
		return log_error_errno(negative_errno(), "cannot chroot into %s: %m", newroot);

	/* Only memory is lost if this fails, so it does not stop the boot. */
	r = switchroot_delete_tree(oldroot_fd, oldroot_st.st_dev);
	if (r < 0)
		log_warning_errno(r, "could not delete all of the initramfs: %m");
	return 0;
}
