/* dm-verity devices (dmverity.h) through /dev/mapper/control. */
#include "dmverity.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fsutil.h"
#include "macros.h"

#define DM_CONTROL "/dev/mapper/control"
/* device-mapper's misc minor (MAPPER_CTRL_MINOR), for a /dev without the node. */
#define DM_CONTROL_MINOR 236
/* Room for one ioctl header, one target and its parameters, or a status reply. */
#define DM_BUFFER 16384

union dm_buffer {
	struct dm_ioctl io;
	char bytes[DM_BUFFER];
};

static int control_open(void)
{
	int fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		(void)mkdir_p("/dev/mapper", 0755);
		if (mknod(DM_CONTROL, S_IFCHR | 0600, makedev(10, DM_CONTROL_MINOR)) < 0 && errno != EEXIST)
			return negative_errno();
		fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	}
	return fd < 0 ? negative_errno() : fd;
}

static void dm_init(union dm_buffer *buf, const char *name)
{
	memset(buf, 0, sizeof(*buf));
	buf->io.version[0] = DM_VERSION_MAJOR;
	buf->io.data_size = sizeof(*buf);
	buf->io.data_start = sizeof(buf->io);
	snprintf(buf->io.name, sizeof(buf->io.name), "%s", name);
}

static int dm_ioctl(int fd, unsigned long request, union dm_buffer *buf)
{
	return ioctl(fd, request, &buf->io) < 0 ? negative_errno() : 0;
}

static void dm_remove(int fd, const char *name)
{
	union dm_buffer buf;

	dm_init(&buf, name);
	(void)dm_ioctl(fd, DM_DEV_REMOVE, &buf);
}

int dm_verity_create(const char *name, dev_t data, dev_t hash, const struct manifest_verity *v, char *ret_path,
		     size_t size)
{
	_cleanup_close_ int fd = control_open();
	union dm_buffer buf;
	struct dm_target_spec *spec;
	char *params;
	dev_t dev;
	int r;

	if (fd < 0)
		return fd;
	if (snprintf(ret_path, size, "/dev/mapper/%s", name) >= (int)size || strlen(name) >= DM_NAME_LEN)
		return -ENAMETOOLONG;
	dm_init(&buf, name);
	r = dm_ioctl(fd, DM_DEV_CREATE, &buf);
	if (r == -EBUSY) {
		dm_remove(fd, name);
		dm_init(&buf, name);
		r = dm_ioctl(fd, DM_DEV_CREATE, &buf);
	}
	if (r < 0)
		return r;
	dev = (dev_t)buf.io.dev;

	/* One target over the whole image: format 1, the tree from hash block 0, no options (a block
	 * that does not match reads as an I/O error). */
	dm_init(&buf, name);
	buf.io.flags = DM_READONLY_FLAG;
	buf.io.target_count = 1;
	spec = (struct dm_target_spec *)(buf.bytes + sizeof(buf.io));
	params = (char *)(spec + 1);
	spec->sector_start = 0;
	spec->length = v->data_blocks * (VERITY_BLOCK_SIZE / 512);
	snprintf(spec->target_type, sizeof(spec->target_type), "verity");
	r = snprintf(params, sizeof(buf) - (size_t)(params - buf.bytes),
		     "1 %u:%u %u:%u %u %u %" PRIu64 " 0 " VERITY_ALGORITHM " %s %s", major(data), minor(data), major(hash),
		     minor(hash), VERITY_BLOCK_SIZE, VERITY_BLOCK_SIZE, v->data_blocks, v->root_hash, v->salt);
	spec->next = (uint32_t)(sizeof(*spec) + (((size_t)r + 1 + 7) & ~(size_t)7));
	r = dm_ioctl(fd, DM_TABLE_LOAD, &buf);
	if (r >= 0) {
		/* Resuming the device puts the table in force. */
		dm_init(&buf, name);
		r = dm_ioctl(fd, DM_DEV_SUSPEND, &buf);
	}
	if (r < 0) {
		dm_remove(fd, name);
		return r;
	}
	/* Our own node: devtmpfs names it dm-N, and no udev is here to add the mapper name. */
	(void)mkdir_p("/dev/mapper", 0755);
	(void)unlink(ret_path);
	if (mknod(ret_path, S_IFBLK | 0600, dev) < 0) {
		r = negative_errno();
		dm_remove(fd, name);
		return r;
	}
	return 0;
}

int dm_verity_corrupted(const char *name)
{
	_cleanup_close_ int fd = control_open();
	union dm_buffer buf;
	const struct dm_target_spec *spec;
	const char *status;
	int r;

	if (fd < 0)
		return fd;
	dm_init(&buf, name);
	r = dm_ioctl(fd, DM_TABLE_STATUS, &buf);
	if (r < 0)
		return r;
	if (buf.io.target_count < 1 || buf.io.data_start + sizeof(*spec) >= sizeof(buf))
		return -ENODATA;
	spec = (const struct dm_target_spec *)(buf.bytes + buf.io.data_start);
	status = (const char *)(spec + 1);
	return status[0] == 'C';
}
