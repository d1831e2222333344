/* Creating the data partition behind the image: lib/gpt for the table, the kernel told with BLKPG
 * (the disk stays mounted, so no re-read), libblkid to make sure the space is empty, and the
 * system image's own mke2fs for the filesystem. */
#include "datapart.h"

#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "gpt.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "persist.h"
#include "spawn.h"
#include "sysexec.h"

#define MKE2FS_LOG GB_RUN_DIR "/mke2fs.log"
/* devtmpfs makes the node as soon as the kernel adds the partition; this is plenty. */
#define NODE_WAIT_MS 5000U
#define MIB (1024.0 * 1024.0)

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe)
#define _cleanup_blkid_probe_ _cleanup_(blkid_free_probep)

_printf_(4, 5) static int because(char *reason, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, size, fmt, ap);
	va_end(ap);
	return r;
}

/* What libblkid sees in [OFFSET, OFFSET+SIZE) of FD: 0 and "" for nothing, else its type. */
static int probe_region(int fd, uint64_t offset, uint64_t size, char *type, size_t type_size)
{
	_cleanup_blkid_probe_ blkid_probe pr = blkid_new_probe();
	const char *v = NULL;
	int r;

	type[0] = '\0';
	if (!pr || blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) < 0)
		return -ENOMEM;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	r = blkid_do_safeprobe(pr);
	if (r == 1)
		return 0;
	if (r == -2) {
		snprintf(type, type_size, "several signatures");
		return 0;
	}
	if (r < 0)
		return -EIO;
	if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 && v)
		snprintf(type, type_size, "%s", v);
	else if (blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL) == 0 && v)
		snprintf(type, type_size, "a %s partition table", v);
	else
		snprintf(type, type_size, "a signature");
	return 0;
}

static int add_to_kernel(int fd, const struct gpt_partition *p)
{
	struct blkpg_partition part = {
		.start = (long long)(p->first_lba * GPT_SECTOR_SIZE),
		.length = (long long)((p->last_lba - p->first_lba + 1) * GPT_SECTOR_SIZE),
		.pno = (int)p->index,
	};
	struct blkpg_ioctl_arg arg = { .op = BLKPG_ADD_PARTITION, .datalen = sizeof(part), .data = &part };

	return ioctl(fd, BLKPG, &arg) < 0 ? negative_errno() : 0;
}

static int wait_for_node(const char *path)
{
	uint64_t start = clock_now_ms();
	struct stat st;

	while (stat(path, &st) < 0 || !S_ISBLK(st.st_mode)) {
		if (clock_now_ms() - start > NODE_WAIT_MS)
			return -ETIMEDOUT;
		usleep(50 * 1000);
	}
	return 0;
}

static int make_filesystem(const char *device, char *reason, size_t size)
{
	char *argv[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-L", GB_DATA_LABEL, "-m", "1", "-E", "nodiscard",
			 (char *)device, NULL };
	char *env[] = { "MKE2FS_CONFIG=" GB_RUN_SYSTEM "/etc/mke2fs.conf", NULL };
	_cleanup_free_ char *tail = NULL;
	uint64_t start = clock_now_ms();
	int r;

	(void)unlink(MKE2FS_LOG);
	r = sysexec_run(GB_RUN_SYSTEM, "/sbin/mke2fs", argv, env, MKE2FS_LOG);
	if (r < 0)
		return because(reason, size, r, "cannot run the system image's /sbin/mke2fs: %s", strerror(-r));
	if (r > 0) {
		tail = gb_log_tail(MKE2FS_LOG, 400);
		return because(reason, size, -EIO, "mke2fs on %s failed (exit %d): %s", device, r, tail ? tail : "");
	}
	log_info("made an ext4 filesystem labelled %s on %s in %.1f s", GB_DATA_LABEL, device,
		 (double)(clock_now_ms() - start) / 1000);
	return 0;
}

int datapart_disk_of(const char *name, char *buf, size_t size)
{
	char link[PATH_MAX], target[PATH_MAX], attr[PATH_MAX], *slash;

	snprintf(attr, sizeof(attr), "/sys/class/block/%s/partition", name);
	if (access(attr, F_OK) < 0) {
		snprintf(buf, size, "%s", name);
		return 0;
	}
	/* /sys/class/block/sda1 -> .../block/sda/sda1 */
	snprintf(link, sizeof(link), "/sys/class/block/%s", name);
	if (!realpath(link, target))
		return negative_errno();
	if (!(slash = strrchr(target, '/')))
		return -EINVAL;
	*slash = '\0';
	if (!(slash = strrchr(target, '/')))
		return -EINVAL;
	snprintf(buf, size, "%s", slash + 1);
	return 0;
}

int datapart_create(const struct medium_dev *medium, char *device, size_t device_size, char *reason,
		    size_t reason_size)
{
	_cleanup_free_ char *error = NULL;
	_cleanup_close_ int fd = -1;
	struct gpt_table table = { 0 };
	struct gpt_partition part;
	uint64_t first, last;
	char type[96], disk[64], disk_path[96];
	size_t n;
	int ro = 0, r;

	/* The medium is the image's own partition on a stick (medium.c), or a whole disk or drive. */
	r = datapart_disk_of(medium->name, disk, sizeof(disk));
	if (r < 0)
		return because(reason, reason_size, r, "cannot tell which disk %s is on: %s", medium->name, strerror(-r));
	snprintf(disk_path, sizeof(disk_path), "/dev/%s", disk);
	fd = open(disk_path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM))
		return because(reason, reason_size, -EROFS, "the boot medium %s is read-only", disk);
	if (fd < 0)
		return because(reason, reason_size, negative_errno(), "cannot open the boot medium %s: %s", disk_path,
				strerror(errno));
	if (ioctl(fd, BLKROGET, &ro) == 0 && ro)
		return because(reason, reason_size, -EROFS, "the boot medium %s is read-only (a CD, or a write-protected stick)",
			       disk);

	r = gpt_read(fd, &table, &error);
	if (r < 0)
		return because(reason, reason_size, r, "the boot medium %s has no usable GPT: %s", disk,
				error ? error : strerror(-r));
	r = gpt_free_space(&table, &first, &last);
	gpt_table_done(&table);
	if (r < 0 || (last - first + 1) * GPT_SECTOR_SIZE < GB_DATA_MIN_SIZE)
		return because(reason, reason_size, -ENOSPC,
				"%.0f MiB free after the image on %s, a data partition needs at least %llu MiB",
				r < 0 ? 0.0 : (double)((last - first + 1) * GPT_SECTOR_SIZE) / MIB, disk,
				GB_DATA_MIN_SIZE >> 20);

	/* Never over something: a stick's earlier life may have left a filesystem there. */
	r = probe_region(fd, first * GPT_SECTOR_SIZE, (last - first + 1) * GPT_SECTOR_SIZE, type, sizeof(type));
	if (r < 0)
		return because(reason, reason_size, r, "cannot read the free space after the image on %s", disk);
	if (type[0])
		return because(reason, reason_size, -EEXIST,
				"the free space after the image on %s holds %s: not touching it (make a data partition "
				"with gapbox write --data, or give gapbox.persist=off)", disk, type);

	r = gpt_append(fd, GB_DATA_LABEL, GPT_SIZE_REST, GB_DATA_MIN_SIZE, &part, &error);
	if (r < 0)
		return because(reason, reason_size, r, "cannot add a partition to %s: %s", disk,
				error ? error : strerror(-r));
	r = add_to_kernel(fd, &part);
	if (r < 0)
		return because(reason, reason_size, r, "added partition %u to %s's table, but the kernel did not take it "
				"(BLKPG: %s); it is used from the next boot", part.index, disk, strerror(-r));

	n = strlen(disk_path);
	snprintf(device, device_size, "%s%s%u", disk_path, n && disk_path[n - 1] >= '0' && disk_path[n - 1] <= '9' ? "p" : "",
		 part.index);
	r = wait_for_node(device);
	if (r < 0)
		return because(reason, reason_size, r, "%s did not show up after the partition was added", device);
	log_info("created partition %u (%s, %.0f MiB) in the free space after the image on %s", part.index, device,
		 (double)((part.last_lba - part.first_lba + 1) * GPT_SECTOR_SIZE) / MIB, disk);
	return make_filesystem(device, reason, reason_size);
}
