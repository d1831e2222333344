/* Mount helpers for gapbox-init: mount with its directory, and telling a mount point. */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "macros.h"

int mount_at(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)
{
	int r = mkdir_p(target, 0755);

	if (r < 0)
		return r;
	if (mount(source, target, fstype, flags, data) < 0)
		return negative_errno();
	return 0;
}

int path_is_mount_point(const char *path)
{
	char parent[PATH_MAX];
	struct statx sx;
	struct stat a, b;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return !!(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);

	/* Kernels before 5.8: a different device than the parent's. */
	if (strlen(path) + sizeof("/..") > sizeof(parent))
		return -ENAMETOOLONG;
	strcpy(parent, path);
	strcat(parent, "/..");
	if (lstat(path, &a) < 0 || stat(parent, &b) < 0)
		return negative_errno();
	return a.st_dev != b.st_dev;
}
