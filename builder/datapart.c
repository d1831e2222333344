/* GAPBOX-DATA behind the image: planned before anything is written, added to the new image's
 * table after the verified write, and formatted with mke2fs. */
#include "datapart.h"

#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "spawn.h"
#include "write.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe)
#define _cleanup_blkid_probe_ _cleanup_(blkid_free_probep)

/* The image's table as it will be on a disk of DISK_SECTORS. */
static int image_table_for_disk(int image_fd, uint64_t disk_sectors, struct gpt_table *ret, char **ret_error)
{
	int r = gpt_read(image_fd, ret, ret_error);

	if (r < 0)
		return r;
	ret->disk_sectors = disk_sectors;
	return 0;
}

int datapart_plan_keep(int image_fd, uint64_t disk_sectors, int target_fd, const struct target_part *found,
		       struct gpt_partition *ret, char **ret_error)
{
	_cleanup_(gpt_table_done) struct gpt_table old = { 0 }, new = { 0 };
	const struct gpt_partition *entry = NULL;
	int r;

	r = gpt_read(target_fd, &old, ret_error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < old.n_parts; i++)
		if (old.parts[i].first_lba * GPT_SECTOR_SIZE == found->start)
			entry = &old.parts[i];
	if (!entry)
		return gb_error(ret_error, -ENOENT, "its GPT has no entry starting at byte %llu", (unsigned long long)found->start);
	r = image_table_for_disk(image_fd, disk_sectors, &new, ret_error);
	if (r < 0)
		return r;
	/* A trial on a copy of the new image's table: what fits there now fits after the write. */
	r = gpt_add(&new, entry, ret_error);
	if (r < 0)
		return r;
	*ret = *entry;
	return 0;
}

int datapart_plan_make(int image_fd, uint64_t disk_sectors, uint64_t size, struct gpt_partition *ret, char **ret_error)
{
	_cleanup_(gpt_table_done) struct gpt_table t = { 0 };
	int r = image_table_for_disk(image_fd, disk_sectors, &t, ret_error);

	return r < 0 ? r : gpt_plan_append(&t, size, WRITE_DATA_MIN_SIZE, ret, ret_error);
}

int datapart_keep(int fd, const struct gpt_partition *p, char **ret_error)
{
	_cleanup_(gpt_table_done) struct gpt_table t = { 0 };
	int r = gpt_read(fd, &t, ret_error);

	if (r >= 0)
		r = gpt_add(&t, p, ret_error);
	return r < 0 ? r : gpt_write(fd, &t, ret_error);
}

int datapart_make(int fd, uint64_t size, struct gpt_partition *ret, char **ret_error)
{
	return gpt_append(fd, GB_DATA_LABEL, size, WRITE_DATA_MIN_SIZE, ret, ret_error);
}

/* What libblkid finds at P on PATH: ext4 labelled GAPBOX-DATA, or the reason it is not. */
static int check_filesystem(const char *path, const struct gpt_partition *p, char **ret_error)
{
	_cleanup_blkid_probe_ blkid_probe pr = blkid_new_probe();
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t offset = p->first_lba * GPT_SECTOR_SIZE, size = (p->last_lba - p->first_lba + 1) * GPT_SECTOR_SIZE;
	const char *type = NULL, *label = NULL;

	if (fd < 0)
		return gb_error_errno(ret_error, negative_errno(), "cannot open %s to check its new filesystem", path);
	if (!pr || blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) < 0)
		return -ENOMEM;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
	if (blkid_do_safeprobe(pr) == 0) {
		(void)blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
		(void)blkid_probe_lookup_value(pr, "LABEL", &label, NULL);
	}
	if (!type || !streq(type, "ext4") || !label || !streq(label, GB_DATA_LABEL))
		return gb_error(ret_error, -EBADMSG, "mke2fs ran, but libblkid finds %s%s%s at byte %llu of %s, not ext4 \"%s\"",
				type ? type : "no filesystem", label ? " labelled " : "", label ? label : "",
				(unsigned long long)offset, path, GB_DATA_LABEL);
	return 0;
}

int datapart_mkfs(const char *path, const struct gpt_partition *p, char **ret_error)
{
	uint64_t offset = p->first_lba * GPT_SECTOR_SIZE, size = (p->last_lba - p->first_lba + 1) * GPT_SECTOR_SIZE;
	char log_path[] = "/tmp/gapbox-mke2fs-XXXXXX", offset_arg[64], size_arg[32];
	_cleanup_free_ char *tail = NULL;
	_cleanup_close_ int log_fd = mkostemp(log_path, O_CLOEXEC);
	int r;

	if (log_fd < 0)
		return gb_error_errno(ret_error, negative_errno(), "cannot make a log file for mke2fs in /tmp");
	/* The filesystem is made in place through an offset rather than on the partition's node:
	 * one way for a device and a disk image file alike, and no wait for udev to make the node.
	 * nodiscard: a discard would reach the device through the offset arithmetic of mke2fs, and
	 * there is nothing to gain on a new partition. 4 KiB blocks whatever the size (mke2fs
	 * takes 1 KiB ones below 512 MiB); 1% reserved, as in the one gapbox-init makes, so that
	 * both ways give the same filesystem. */
	snprintf(offset_arg, sizeof(offset_arg), "offset=%llu,nodiscard", (unsigned long long)offset);
	snprintf(size_arg, sizeof(size_arg), "%lluk", (unsigned long long)(size / 1024));
	char *argv[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "1", "-L", GB_DATA_LABEL, "-E", offset_arg, (char *)path,
			 size_arg, NULL };
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log_path });
	tail = gb_log_tail(log_path, 2048);
	unlink(log_path);
	if (r != 0)
		return gb_error(ret_error, r < 0 ? r : -EPROTO, "mke2fs -L %s on %s at byte %llu failed (%s %d): %s",
				GB_DATA_LABEL, path, (unsigned long long)offset, r < 0 ? "error" : "exit status",
				r < 0 ? -r : r, tail && tail[0] ? tail : "no output");
	log_debug("mke2fs: %s", tail ? tail : "");
	return check_filesystem(path, p, ret_error);
}
