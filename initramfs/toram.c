/* gapbox.toram: copying the system image into a tmpfs so that the boot medium can be removed. */
#include "toram.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "macros.h"
#include "mounts.h"

#define MIB (1024ULL * 1024ULL)

int64_t toram_copy_fd(int src_fd, int dst_fd)
{
	static char buf[64 * 1024];
	bool use_sendfile = true;
	int64_t total = 0;

	for (;;) {
		ssize_t n;
		int r;

		if (use_sendfile) {
			n = sendfile(dst_fd, src_fd, NULL, 1 << 30);
			if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
				use_sendfile = false;
				continue;
			}
		} else
			n = read(src_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return total;
		if (!use_sendfile) {
			r = write_all(dst_fd, buf, (size_t)n);
			if (r < 0)
				return r;
		}
		total += n;
	}
}

int toram_copy(int src_fd, const char *src, int64_t size, const char *dir, const char *name, uint64_t reserve)
{
	_cleanup_close_ int dst_fd = -1;
	char opts[64], dst[PATH_MAX];
	uint64_t start = clock_now_ms();
	struct sysinfo si;
	int64_t n;
	int r;

	if (sysinfo(&si) == 0) {
		uint64_t avail = ((uint64_t)si.freeram + si.bufferram) * si.mem_unit;

		if ((uint64_t)size + reserve > avail) {
			log_warning("gapbox.toram: %s (%llu MiB) does not fit in free memory (%llu MiB)", src,
				    (unsigned long long)((uint64_t)size / MIB), (unsigned long long)(avail / MIB));
			return -ENOSPC;
		}
	}

	/* Sized to the file: a tmpfs only takes what is written, the limit keeps it so. */
	snprintf(opts, sizeof(opts), "mode=0700,size=%llu", (unsigned long long)((uint64_t)size + MIB));
	r = mount_at("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts);
	if (r < 0)
		return log_error_errno(r, "cannot mount a tmpfs on %s: %m", dir);

	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	log_info("copying %s (%.1f MiB) to RAM", src, (double)size / MIB);
	dst_fd = open(dst, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (dst_fd < 0) {
		r = log_error_errno(negative_errno(), "cannot create %s: %m", dst);
		goto fail;
	}
	n = toram_copy_fd(src_fd, dst_fd);
	if (n >= 0 && n != size)
		n = -EIO; /* a short read: the medium went away or changed */
	if (n < 0) {
		r = log_error_errno((int)n, "cannot copy %s to %s: %m", src, dst);
		goto fail;
	}
	if (lseek(dst_fd, 0, SEEK_SET) < 0) {
		r = log_error_errno(negative_errno(), "cannot rewind %s: %m", dst);
		goto fail;
	}
	log_info("copied %s to RAM in %.1f s", src, (double)(clock_now_ms() - start) / 1000);
	return TAKE_FD(dst_fd);

fail:
	if (dst_fd >= 0)
		close(TAKE_FD(dst_fd));
	(void)umount2(dir, MNT_DETACH);
	return r;
}
