/* Read-only, self-detaching loop devices for the squashfs images. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "clock.h"
#include "log.h"
#include "macros.h"

/* The node may appear a moment after LOOP_CTL_GET_FREE created the device. */
#define LOOP_OPEN_TRIES 40
#define LOOP_OPEN_WAIT_MS 50
/* Another opener could win the race for the free device: ask again a few times. */
#define LOOP_BUSY_TRIES 8

static int open_loop_node(const char *path)
{
	for (unsigned i = 0;; i++) {
		int fd = open(path, O_RDWR | O_CLOEXEC);

		/* Read-only bindings do not need write access to the node. */
		if (fd < 0 && (errno == EACCES || errno == EROFS))
			fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT || i + 1 >= LOOP_OPEN_TRIES)
			return negative_errno();
		clock_sleep_ms(LOOP_OPEN_WAIT_MS);
	}
}

static int bind_legacy(int loop_fd, int backing_fd, const struct loop_info64 *info)
{
	/* backing_fd is read-only, so the binding is too; LOOP_SET_STATUS64 cannot set
	 * LO_FLAGS_READ_ONLY itself. */
	if (ioctl(loop_fd, LOOP_SET_FD, backing_fd) < 0)
		return negative_errno();
	if (ioctl(loop_fd, LOOP_SET_STATUS64, info) < 0) {
		int r = negative_errno();

		(void)ioctl(loop_fd, LOOP_CLR_FD, 0);
		return r;
	}
	return 0;
}

int loop_attach_readonly(int backing_fd, const char *backing_name, char *ret_path, size_t size)
{
	_cleanup_close_ int ctl = -1;
	struct loop_config config = {
		.fd = (unsigned)backing_fd,
		.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR,
	};

	snprintf((char *)config.info.lo_file_name, sizeof(config.info.lo_file_name), "%s", backing_name);

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return negative_errno();

	for (unsigned attempt = 0;; attempt++) {
		_cleanup_close_ int fd = -1;
		int nr, r;

		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			return negative_errno();
		snprintf(ret_path, size, "/dev/loop%d", nr);

		fd = open_loop_node(ret_path);
		if (fd < 0)
			return fd;

		r = ioctl(fd, LOOP_CONFIGURE, &config) < 0 ? negative_errno() : 0;
		if (r == -EINVAL || r == -ENOTTY) {
			log_debug("LOOP_CONFIGURE on %s: %s, using LOOP_SET_FD", ret_path, strerror(-r));
			r = bind_legacy(fd, backing_fd, &config.info);
		}
		if (r == -EBUSY && attempt + 1 < LOOP_BUSY_TRIES)
			continue;
		if (r < 0)
			return r;
		return TAKE_FD(fd);
	}
}
