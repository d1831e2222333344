/* The first things PID 1 does: a console on fds 0-2 and the API filesystems. */
#include "early.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <unistd.h>

#include "fsutil.h"
#include "mounts.h"
#include "log.h"
#include "macros.h"

int early_console(void)
{
	bool closed[3];
	int fd;

	for (int i = 0; i < 3; i++)
		closed[i] = fcntl(i, F_GETFD) < 0 && errno == EBADF;
	if (!closed[0] && !closed[1] && !closed[2])
		return 0;

	fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	for (int i = 0; i < 3; i++) {
		if (!closed[i])
			continue;
		/* open() took the lowest free number, which may be one of ours: that one
		 * keeps the fd, minus the O_CLOEXEC meant for a spare. */
		if (i == fd)
			(void)fcntl(fd, F_SETFD, 0);
		else if (dup2(fd, i) < 0)
			return negative_errno();
	}
	if (fd > 2)
		close(fd);
	return 0;
}

int early_mount_api_filesystems(void)
{
	static const struct {
		const char *fstype, *target, *data;
		unsigned long flags;
	} mounts[] = {
		{ "proc", "/proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "sysfs", "/sys", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "devtmpfs", "/dev", "mode=0755", MS_NOSUID },
		{ "tmpfs", "/run", "mode=0755", MS_NOSUID | MS_NODEV },
	};
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(mounts); i++) {
		int r;

		/* Already there (the kernel may mount devtmpfs itself): stacking a second
		 * instance would only hide the first. */
		if (path_is_mount_point(mounts[i].target) > 0)
			continue;
		r = mount_at(mounts[i].fstype, mounts[i].target, mounts[i].fstype, mounts[i].flags, mounts[i].data);
		if (r < 0) {
			log_error_errno(r, "cannot mount %s on %s: %m", mounts[i].fstype, mounts[i].target);
			if (ret == 0)
				ret = r;
		}
	}
	return ret;
}
