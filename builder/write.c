/* gapbox write, as its stages: check the image, look at the target, plan the data partition,
 * refuse or ask, write and read back, then the data partition. */
#include "write.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bytesize.h"
#include "datapart.h"
#include "helper.h"
#include "imagecopy.h"
#include "inspect.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "strv.h"
#include "target.h"

/* An ISO9660 image is a whole number of these. */
#define ISO_BLOCK 2048u
#define MIB (1024ull * 1024)

struct image {
	const char *path;
	int fd;
	uint64_t size;
	dev_t dev;
	ino_t ino;
	json_t *manifest;
};

static void image_done(struct image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	json_decref(img->manifest);
}

/* A gapbox image: an ISO whose GPT (what makes it boot as a USB disk) is whole, with its backup
 * at its very end as gapbox build writes it, and a build manifest. */
static int image_open(const char *path, struct image *ret)
{
	_cleanup_(gpt_table_done) struct gpt_table t = { 0 };
	_cleanup_free_ char *error = NULL;
	struct stat st;
	int r;

	*ret = (struct image){ .path = path, .fd = open(path, O_RDONLY | O_CLOEXEC) };
	if (ret->fd < 0)
		return log_error_errno(negative_errno(), "cannot open the image %s: %m", path);
	if (fstat(ret->fd, &st) < 0)
		return log_error_errno(negative_errno(), "cannot stat the image %s: %m", path);
	if (!S_ISREG(st.st_mode))
		return log_error_errno(-EINVAL, "the image %s is not a regular file: expected an ISO made by gapbox build", path);
	ret->size = (uint64_t)st.st_size;
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;
	if (ret->size == 0 || ret->size % ISO_BLOCK)
		return log_error_errno(-EINVAL, "the image %s is not an ISO image: %llu bytes are not a whole number of "
				       "%u-byte blocks", path, (unsigned long long)ret->size, ISO_BLOCK);
	r = gpt_read(ret->fd, &t, &error);
	if (r < 0)
		return log_error_errno(r, "the image %s: %s: gapbox images carry a GPT to boot as a USB disk", path,
				       error ? error : "cannot read its GPT");
	if (t.header.alternate_lba != t.disk_sectors - 1)
		return log_error_errno(-EINVAL, "the image %s: its backup GPT is at LBA %llu, not at its end (LBA %llu), "
				       "as gapbox build writes it", path, (unsigned long long)t.header.alternate_lba,
				       (unsigned long long)(t.disk_sectors - 1));
	return image_read_manifest(path, &ret->manifest);
}

/* What is going to happen, decided before anything is written. */
struct plan {
	uint64_t disk_size;               /* the target's size once written: a new file is made this large */
	bool keep;                        /* put the GAPBOX-DATA entry keep_part back after writing */
	struct gpt_partition keep_part;
	bool make;                        /* add a new GAPBOX-DATA, make_part */
	struct gpt_partition make_part;
	char **refusals, **forceable;     /* reasons not to write, besides the target's own */
};

static void plan_done(struct plan *p)
{
	strv_free(p->refusals);
	strv_free(p->forceable);
}


static uint64_t part_bytes(const struct gpt_partition *p)
{
	return (p->last_lba - p->first_lba + 1) * GPT_SECTOR_SIZE;
}

/* Keep the GAPBOX-DATA partition already on the target when the new image leaves it alone:
 * an upgrade in place keeps the site's data. */
static int plan_keep(const struct write_options *o, const struct image *img, const struct target *t, struct plan *p)
{
	const struct target_part *found = target_find_label(t, GB_DATA_LABEL);
	_cleanup_free_ char *error = NULL;
	_cleanup_close_ int fd = -1;
	char size[BYTESIZE_MAX], at[BYTESIZE_MAX], image[BYTESIZE_MAX];
	int r;

	if (!found || t->size < img->size)
		return 0;
	fd = open(o->device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(negative_errno(), "cannot open %s: %m", o->device);
	r = datapart_plan_keep(img->fd, p->disk_size / GPT_SECTOR_SIZE, fd, found, &p->keep_part, &error);
	if (r == -ENOMEM)
		return r;
	if (r >= 0) {
		p->keep = true;
		return 0;
	}
	if (found->start < img->size)
		return strv_pushf(&p->forceable, "%s: %s (partition %d, %s at %s) lies where the new image (%s) goes: writing "
			      "loses what it holds", o->device, GB_DATA_LABEL, found->partno, bytesize_human(found->size, size),
			      bytesize_human(found->start, at), bytesize_human(img->size, image));
	return strv_pushf(&p->forceable, "%s: %s (partition %d, %s at %s) cannot be kept behind the new image (%s): %s; "
		      "writing loses what it holds", o->device, GB_DATA_LABEL, found->partno,
		      bytesize_human(found->size, size), bytesize_human(found->start, at), bytesize_human(img->size, image),
		      error ? error : strerror(-r));
}

static int plan_write(const struct write_options *o, const struct image *img, const struct target *t, struct plan *p)
{
	_cleanup_free_ char *error = NULL;
	char a[BYTESIZE_MAX], b[BYTESIZE_MAX];
	int r = 0;

	p->disk_size = t->exists ? t->size : img->size;
	if (!t->exists && o->data) {
		_cleanup_(gpt_table_done) struct gpt_table table = { 0 };

		if (o->data_size == GPT_SIZE_REST)
			return strv_pushf(&p->refusals, "%s is a new file: it has no rest for %s; give --data a size", o->device,
				      GB_DATA_LABEL);
		r = gpt_read(img->fd, &table, NULL);
		if (r < 0)
			return r;
		p->disk_size = (gpt_disk_sectors_for(&table, o->data_size) * GPT_SECTOR_SIZE + MIB - 1) / MIB * MIB;
	}
	if (t->exists && !t->block && t->file_dev == img->dev && t->file_ino == img->ino)
		return strv_pushf(&p->refusals, "%s is the image itself", o->device);
	if (t->exists && t->size < img->size)
		r = strv_pushf(&p->refusals, "%s is too small: it holds %s (%llu bytes), the image needs %s (%llu bytes)", o->device,
			   bytesize_human(t->size, a), (unsigned long long)t->size, bytesize_human(img->size, b),
			   (unsigned long long)img->size);
	if (r >= 0 && t->exists)
		r = plan_keep(o, img, t, p);
	if (r >= 0 && o->data && !p->keep && p->disk_size >= img->size) {
		r = datapart_plan_make(img->fd, p->disk_size / GPT_SECTOR_SIZE, o->data_size, &p->make_part, &error);
		if (r >= 0)
			p->make = true;
		else if (r != -ENOMEM)
			r = strv_pushf(&p->refusals, "%s: no room for %s behind the image: %s", o->device, GB_DATA_LABEL,
				   error ? error : strerror(-r));
	}
	return r;
}

static void describe(const struct write_options *o, const struct image *img, const struct target *t, const struct plan *p)
{
	char a[BYTESIZE_MAX], b[BYTESIZE_MAX];

	image_print_summary(stdout, img->path, img->manifest);
	printf("size:    %s (%llu bytes)\n\n", bytesize_human(img->size, a), (unsigned long long)img->size);
	target_describe(t, stdout);
	printf("\nplan:    %swrite the image to the start of %s and read it back\n",
	       t->exists ? "" : "make the file, ", o->device);
	if (!t->exists)
		printf("         the file is made %s large\n", bytesize_human(p->disk_size, a));
	if (p->keep)
		printf("         keep %s: partition %u, %s at %s, behind the image%s\n", GB_DATA_LABEL, p->keep_part.index,
		       bytesize_human(part_bytes(&p->keep_part), a),
		       bytesize_human(p->keep_part.first_lba * GPT_SECTOR_SIZE, b),
		       o->data ? " (--data makes no second one)" : "");
	if (p->make)
		printf("         make %s: %s of ext4 at %s\n", GB_DATA_LABEL, bytesize_human(part_bytes(&p->make_part), a),
		       bytesize_human(p->make_part.first_lba * GPT_SECTOR_SIZE, b));
	printf("\n");
	fflush(stdout);
}

/* Every reason not to write, named; --force lets the forceable ones pass. -EPERM when any
 * stops the write. */
static int refuse_or_go(const struct write_options *o, char **refusals, char **forceable)
{
	size_t n = 0;

	for (char **r = refusals; r && *r; r++) {
		log_error("%s", *r);
		n++;
	}
	for (char **f = forceable; f && *f; f++) {
		if (o->force)
			log_warning("%s; writing anyway, as --force says", *f);
		else {
			log_error("%s; --force writes anyway", *f);
			n++;
		}
	}
	if (n)
		return log_error_errno(-EPERM, "not writing to %s: %zu reason%s above; nothing was written", o->device, n,
				       n == 1 ? "" : "s");
	return 0;
}

static int confirm(const struct write_options *o, const struct target *t, const struct plan *p)
{
	char answer[16];

	/* A new file holds nothing to lose. */
	if (o->yes || !t->exists)
		return 0;
	if (!isatty(STDIN_FILENO))
		return log_error_errno(-EPERM, "not writing to %s: there is no terminal on stdin to ask on; --yes writes "
				       "without asking", o->device);
	printf("Write %s to %s, destroying what it holds%s%s%s? [y/N] ", o->image, o->device,
	       p->keep ? " but " : "", p->keep ? GB_DATA_LABEL : "", p->keep ? " behind the image" : "");
	fflush(stdout);
	if (!fgets(answer, sizeof(answer), stdin)) {
		printf("\n");
		return interrupted() ? -EINTR : log_error_errno(-ECANCELED, "not writing to %s: no answer", o->device);
	}
	answer[strcspn(answer, "\n")] = '\0';
	if (strcasecmp(answer, "y") != 0 && strcasecmp(answer, "yes") != 0)
		return log_error_errno(-ECANCELED, "not writing to %s: the answer was not yes", o->device);
	return 0;
}

/* The target, open for writing and no one else's: O_EXCL on a block device (the kernel refuses
 * it while anything is mounted from or holds the disk), a lock on a file. *ret_direct says
 * whether writes bypass the page cache, so that the progress shown is the device's. */
static int open_target(const struct write_options *o, const struct target *t, const struct plan *p, bool *ret_direct,
		       bool *ret_created)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint64_t size = 0;

	*ret_direct = false;
	if (!t->exists) {
		fd = open(o->device, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			return log_error_errno(negative_errno(), "cannot make %s: %m", o->device);
		*ret_created = true;
		if (ftruncate(fd, (off_t)p->disk_size) < 0)
			return log_error_errno(negative_errno(), "cannot make %s %llu bytes large: %m", o->device,
					       (unsigned long long)p->disk_size);
		return TAKE_FD(fd);
	}
	if (t->block) {
		fd = open(o->device, O_RDWR | O_EXCL | O_CLOEXEC | O_DIRECT);
		*ret_direct = fd >= 0;
		if (fd < 0 && errno == EINVAL)
			fd = open(o->device, O_RDWR | O_EXCL | O_CLOEXEC);
		if (fd < 0 && errno == EBUSY)
			return log_error_errno(-EBUSY, "not writing to %s: the kernel refuses to open it exclusively: it is in "
					       "use (mounted, or held by another program)", o->device);
		if (fd < 0)
			return log_error_errno(negative_errno(), "cannot open %s for writing: %m", o->device);
		if (fstat(fd, &st) < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0)
			return log_error_errno(negative_errno(), "cannot stat %s: %m", o->device);
		if (!S_ISBLK(st.st_mode) || st.st_rdev != t->nodes[0].devno || size != t->size)
			return log_error_errno(-ESTALE, "not writing to %s: it changed since it was looked at (another medium?)",
					       o->device);
		return TAKE_FD(fd);
	}
	fd = open(o->device, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return log_error_errno(negative_errno(), "cannot open %s for writing: %m", o->device);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return log_error_errno(negative_errno(), "not writing to %s: another program holds a lock on it: %m", o->device);
	if (fstat(fd, &st) < 0)
		return log_error_errno(negative_errno(), "cannot stat %s: %m", o->device);
	if (st.st_dev != t->file_dev || st.st_ino != t->file_ino || (uint64_t)st.st_size != t->size)
		return log_error_errno(-ESTALE, "not writing to %s: it changed since it was looked at", o->device);
	return TAKE_FD(fd);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static double mib_per_s(uint64_t bytes, double seconds)
{
	return seconds > 0 ? (double)bytes / (double)MIB / seconds : 0;
}

/* Write the image, flush it to the device, read it back: 0 only when what the device gives back
 * is what was read from the image. */
static int write_verified(const struct write_options *o, const struct image *img, int fd, bool block, bool direct)
{
	_cleanup_free_ char *error = NULL;
	char written[SHA256_HEX_LEN + 1], back[SHA256_HEX_LEN + 1], what[512], size[BYTESIZE_MAX];
	struct timespec start;
	double write_s, read_s;
	uint64_t done;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	snprintf(what, sizeof(what), "writing %s", o->device);
	r = image_copy(img->fd, img->path, fd, o->device, img->size, what, written, &done, &error);
	if (r == -EINTR)
		return log_error_errno(r, "interrupted: %s holds %s of the image and will not boot", o->device,
				       bytesize_human(done, size));
	if (r < 0)
		return log_error_errno(r, "%s%s; %s does not hold the image", error ? error : "the write failed",
				       r != -ENOSPC ? "" : block ? ": the device is smaller than it says it is, or failing"
								 : ": the filesystem it is on is full", o->device);
	/* A device that took the writes into the page cache reports a lack of space, or a
	 * failing write, only here. */
	if (fsync(fd) < 0)
		return log_error_errno(negative_errno(), "flushing %s failed: %m; it does not hold the whole image", o->device);
	write_s = seconds_since(&start);
	/* Read back from the device, not from what the kernel kept of the writes (a file: ENOTTY,
	 * and the advice instead). */
	if (!direct && ioctl(fd, BLKFLSBUF, 0) < 0)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	clock_gettime(CLOCK_MONOTONIC, &start);
	snprintf(what, sizeof(what), "verifying %s", o->device);
	r = image_readback(fd, o->device, img->size, what, back, &error);
	if (r == -EINTR)
		return log_error_errno(r, "interrupted while reading %s back: the image is written but not verified", o->device);
	if (r < 0)
		return log_error_errno(r, "%s; the image is written but not verified", error ? error : "the read-back failed");
	read_s = seconds_since(&start);
	if (!streq(written, back))
		return log_error_errno(-EIO, "%s gives back other bytes than were written: sha256 %s, the image's is %s. "
				       "It is failing, or smaller than it says it is", o->device, back, written);
	log_info("wrote %s to %s in %.1f s (%.1f MiB/s) and read it back in %.1f s (%.1f MiB/s): sha256 %s matches",
		 bytesize_human(img->size, size), o->device, write_s, mib_per_s(img->size, write_s), read_s,
		 mib_per_s(img->size, read_s), written);
	return 0;
}

/* A backup GPT header left at the end of the disk by what it held before describes the old
 * partitions, and tools that look there (and the kernel, when the primary table is damaged)
 * would find it; the new image's own backup is at the image's end. */
static int clear_stale_backup(const struct write_options *o, int fd, uint64_t disk_size, uint64_t image_size)
{
	uint8_t sector[GPT_SECTOR_SIZE];
	uint64_t last = disk_size / GPT_SECTOR_SIZE * GPT_SECTOR_SIZE - GPT_SECTOR_SIZE;

	if (disk_size / GPT_SECTOR_SIZE * GPT_SECTOR_SIZE <= image_size)
		return 0;
	if (pread(fd, sector, sizeof(sector), (off_t)last) != (ssize_t)sizeof(sector) || memcmp(sector, "EFI PART", 8) != 0)
		return 0;
	memset(sector, 0, sizeof(sector));
	if (pwrite(fd, sector, sizeof(sector), (off_t)last) != (ssize_t)sizeof(sector) || fsync(fd) < 0)
		return log_error_errno(negative_errno(), "cannot clear the old backup GPT header at the end of %s: %m", o->device);
	log_info("cleared the old backup GPT header at the end of %s", o->device);
	return 0;
}

/* The data partition, once the image is written and verified: the kept entry put back, or a
 * new one added (its filesystem is made after the target is closed). */
static int write_data_table(const struct write_options *o, const struct plan *p, int fd, struct gpt_partition *ret_made)
{
	_cleanup_free_ char *error = NULL;
	char a[BYTESIZE_MAX], b[BYTESIZE_MAX];
	int r;

	if (p->keep) {
		r = datapart_keep(fd, &p->keep_part, &error);
		if (r < 0)
			return log_error_errno(r, "the image is written and verified, but %s could not be put back into its "
					       "partition table: %s. Its data are still on %s at byte %llu",
					       GB_DATA_LABEL, error ? error : strerror(-r), o->device,
					       (unsigned long long)(p->keep_part.first_lba * GPT_SECTOR_SIZE));
		log_info("kept %s: partition %u, %s at %s", GB_DATA_LABEL, p->keep_part.index,
			 bytesize_human(part_bytes(&p->keep_part), a), bytesize_human(p->keep_part.first_lba * GPT_SECTOR_SIZE, b));
		return 0;
	}
	if (!p->make)
		return 0;
	r = datapart_make(fd, o->data_size, ret_made, &error);
	if (r < 0)
		return log_error_errno(r, "the image is written and verified, but %s could not be added: %s", GB_DATA_LABEL,
				       error ? error : strerror(-r));
	return 0;
}

/* Tell the kernel about the new partition table. Loop devices without partition scanning
 * refuse with EINVAL; a disk with a partition in use keeps its old view until replugged. */
static void reread_partitions(const struct write_options *o)
{
	_cleanup_close_ int fd = open(o->device, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && ioctl(fd, BLKRRPART) < 0) {
		if (errno == EINVAL)
			log_debug("%s does not scan partitions (a loop device without -P?)", o->device);
		else
			log_warning("the kernel keeps the old partitions of %s until it is plugged in again: %m", o->device);
	}
}

static int write_steps(const struct write_options *o, const struct image *img, const struct target *t,
		       const struct plan *p, bool *ret_created)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *error = NULL;
	struct gpt_partition made;
	bool direct;
	int r, flags;

	fd = open_target(o, t, p, &direct, ret_created);
	if (fd < 0)
		return fd;
	r = write_verified(o, img, fd, t->block, direct);
	if (r < 0)
		return r;
	/* lib/gpt reads and writes single sectors from unaligned buffers. */
	flags = fcntl(fd, F_GETFL);
	if (direct && (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_DIRECT) < 0))
		return log_error_errno(negative_errno(), "cannot switch %s to buffered I/O: %m", o->device);
	if (!p->keep && !p->make) {
		r = clear_stale_backup(o, fd, p->disk_size, img->size);
		if (r < 0)
			return r;
	}
	r = write_data_table(o, p, fd, &made);
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return log_error_errno(negative_errno(), "flushing %s failed: %m", o->device);
	/* mke2fs opens the disk exclusively itself. */
	close(TAKE_FD(fd));
	if (p->make) {
		char a[BYTESIZE_MAX], b[BYTESIZE_MAX];

		r = datapart_mkfs(o->device, &made, &error);
		if (r < 0)
			return log_error_errno(r, "the image is written and verified, %s is partition %u, but its filesystem "
					       "could not be made: %s", GB_DATA_LABEL, made.index, error ? error : strerror(-r));
		log_info("made %s: partition %u, %s of ext4 at %s", GB_DATA_LABEL, made.index,
			 bytesize_human(part_bytes(&made), a), bytesize_human(made.first_lba * GPT_SECTOR_SIZE, b));
	}
	if (t->block)
		reread_partitions(o);
	return 0;
}

int write_run(const struct write_options *o)
{
	_cleanup_(image_done) struct image img = { .fd = -1 };
	_cleanup_(target_done) struct target t = { 0 };
	_cleanup_(plan_done) struct plan p = { 0 };
	_cleanup_strv_free_ char **refusals = NULL, **forceable = NULL;
	_cleanup_free_ char *error = NULL;
	bool created = false;
	int r;

	r = image_open(o->image, &img);
	if (r < 0)
		return r;
	r = target_inspect(o->device, &t, &error);
	if (r < 0)
		return log_error_errno(r, "%s", error ? error : "cannot look at the target");
	r = target_check(&t, &refusals, &forceable);
	if (r < 0)
		return log_error_errno(r, "cannot check whether %s is in use: %m", o->device);
	r = plan_write(o, &img, &t, &p);
	if (r < 0)
		return log_error_errno(r, "cannot plan the write to %s: %m", o->device);
	describe(o, &img, &t, &p);
	for (char **x = p.refusals; r >= 0 && x && *x; x++)
		r = strv_push(&refusals, *x);
	for (char **x = p.forceable; r >= 0 && x && *x; x++)
		r = strv_push(&forceable, *x);
	if (r < 0)
		return r;
	r = refuse_or_go(o, refusals, forceable);
	if (r >= 0)
		r = confirm(o, &t, &p);
	if (r < 0)
		return r;
	r = write_steps(o, &img, &t, &p, &created);
	/* A file this run made holds nothing anyone wanted unless the whole write worked. */
	if (r < 0 && created && unlink(o->device) == 0)
		log_info("removed %s, which this run made", o->device);
	if (r >= 0)
		log_info("%s is ready", o->device);
	return r;
}
