/* Finding the boot medium among the block devices with libblkid, polling until it shows up. */
#include "fsutil.h"
#include "medium.h"

#include <blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cdrom.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "macros.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe)
#define _cleanup_blkid_probe_ _cleanup_(blkid_free_probep)

void medium_spec_from_params(const struct init_params *p, struct medium_spec *ret)
{
	*ret = (struct medium_spec){
		.path = p->medium_path[0] ? p->medium_path : NULL,
		.uuid = p->medium_uuid[0] ? p->medium_uuid : NULL,
		.label = p->medium_label[0] ? p->medium_label : NULL,
		.label_fallback = p->medium_source != PARAM_CMDLINE,
	};
}

static bool skip_device(const char *name)
{
	/* Memory and loop devices never hold the medium; probing an empty floppy drive
	 * blocks for seconds on every pass. */
	static const char *const prefixes[] = { "ram", "loop", "zram", "fd" };

	if (name[0] == '.')
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static void copy_value(blkid_probe pr, const char *key, char *buf, size_t size)
{
	const char *v = NULL;

	buf[0] = '\0';
	if (blkid_probe_lookup_value(pr, key, &v, NULL) == 0 && v)
		snprintf(buf, size, "%s", v);
}

/* Optical drives and card readers open fine without a disc, so ask them. */
static bool drive_is_empty(int fd)
{
	uint64_t size = 0;
	int status = ioctl(fd, CDROM_DRIVE_STATUS, CDSL_CURRENT);

	if (status >= 0 && status != CDS_DISC_OK && status != CDS_NO_INFO)
		return true;
	return ioctl(fd, BLKGETSIZE64, &size) == 0 && size == 0;
}

static void probe_device(struct medium_dev *d)
{
	_cleanup_blkid_probe_ blkid_probe pr = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	/* O_NONBLOCK: without it, opening an optical drive closes its tray, which on
	 * every poll would fight a user who is just inserting the disc. */
	fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		d->error = negative_errno();
		d->no_medium = errno == ENOMEDIUM;
		return;
	}
	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode))
		d->rdev = st.st_rdev;
	if (drive_is_empty(fd)) {
		d->no_medium = true;
		d->error = -ENOMEDIUM;
		return;
	}

	pr = blkid_new_probe();
	if (!pr || blkid_probe_set_device(pr, fd, 0, 0) < 0) {
		d->error = -ENOMEM;
		return;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL);
	/* Whether a whole disk has a partition table, whose partitions may still be on their way. */
	if (!d->partition) {
		blkid_probe_enable_partitions(pr, 1);
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	}
	errno = 0;
	r = blkid_do_safeprobe(pr);
	if (r == -2) {
		/* Several signatures: take the first rather than refusing the device, as
		 * the matcher still checks type and UUID. */
		blkid_reset_probe(pr);
		r = blkid_do_probe(pr);
	}
	if (r < 0) {
		d->error = errno == ENOMEDIUM ? -ENOMEDIUM : negative_errno();
		d->no_medium = errno == ENOMEDIUM;
		return;
	}
	if (r == 1)
		return; /* readable, no filesystem */
	d->partitioned = blkid_probe_lookup_value(pr, "PTTYPE", NULL, NULL) == 0;
	copy_value(pr, "TYPE", d->type, sizeof(d->type));
	copy_value(pr, "UUID", d->uuid, sizeof(d->uuid));
	copy_value(pr, "LABEL", d->label, sizeof(d->label));
}

/* Joins a and b into buf; false if it does not fit (a cut name would name another device). */
static bool join(char *buf, size_t size, const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na + nb + 1 > size)
		return false;
	memcpy(buf, a, na);
	memcpy(buf + na, b, nb + 1);
	return true;
}

/* A new entry for name with its node under dev_dir (or name itself if dev_dir is NULL). */
static struct medium_dev *scan_add(struct medium_scan *scan, const char *name, const char *dev_dir)
{
	struct medium_dev *d;
	bool ok;

	if (scan->n >= MEDIUM_SCAN_MAX) {
		scan->n_dropped++;
		return NULL;
	}
	d = &scan->devs[scan->n];
	*d = (struct medium_dev){ 0 };
	if (dev_dir)
		ok = join(d->name, sizeof(d->name), name, "") && join(d->path, sizeof(d->path), dev_dir, "/") &&
		     join(d->path + strlen(d->path), sizeof(d->path) - strlen(d->path), name, "");
	else
		ok = join(d->name, sizeof(d->name), name, "") && join(d->path, sizeof(d->path), name, "");
	if (!ok) {
		log_debug("skipping block device %s: name too long", name);
		scan->n_dropped++;
		return NULL;
	}
	scan->n++;
	return d;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(((const struct medium_dev *)a)->name, ((const struct medium_dev *)b)->name);
}

int medium_scan(const char *sysfs_block, const char *dev_dir, const char *path, struct medium_scan *ret)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct stat st;
	struct dirent *de;

	ret->n = ret->n_dropped = 0;
	ret->path_rdev = 0;

	dir = opendir(sysfs_block);
	if (!dir)
		return negative_errno();

	while ((de = readdir(dir))) {
		struct medium_dev *d;
		char attr[sizeof(de->d_name) + 16];

		if (skip_device(de->d_name))
			continue;
		d = scan_add(ret, de->d_name, dev_dir);
		if (!d)
			continue;
		/* sysfs spells a '/' in a device name (cciss/c0d0) as '!'. */
		for (char *c = d->path + strlen(dev_dir); *c; c++)
			if (*c == '!')
				*c = '/';
		snprintf(attr, sizeof(attr), "%s/partition", de->d_name);
		d->partition = faccessat(dirfd(dir), attr, F_OK, 0) == 0;
	}
	/* readdir order is arbitrary; a stable order gives stable choices and messages. */
	qsort(ret->devs, ret->n, sizeof(ret->devs[0]), compare_names);

	for (size_t i = 0; i < ret->n; i++)
		probe_device(&ret->devs[i]);

	if (path && stat(path, &st) == 0 && S_ISBLK(st.st_mode)) {
		struct medium_dev *d;

		ret->path_rdev = st.st_rdev;
		for (size_t i = 0; i < ret->n; i++)
			if (ret->devs[i].rdev == st.st_rdev)
				return 0;
		d = scan_add(ret, path, NULL);
		if (d)
			probe_device(d);
	}
	return 0;
}

static bool is_iso9660(const struct medium_dev *d)
{
	return d->error == 0 && streq(d->type, "iso9660");
}

/* Best of the devices accepted by want(): on a stick, where the hybrid image shows up as the whole
 * disk and as its first partition (xorriso's -partition_offset makes that one mountable), the
 * partition. Mounting the whole disk would claim it exclusively, and then the kernel lets no
 * other partition of it be claimed: the data partition behind the image could not be mounted. */
static const struct medium_dev *pick(const struct medium_scan *scan, bool (*want)(const struct medium_dev *, const char *),
				     const char *arg)
{
	const struct medium_dev *best = NULL;

	for (size_t i = 0; i < scan->n; i++) {
		const struct medium_dev *d = &scan->devs[i];

		if (!want(d, arg))
			continue;
		if (!best || (!best->partition && d->partition))
			best = d;
	}
	return best;
}

static bool want_uuid(const struct medium_dev *d, const char *uuid)
{
	return is_iso9660(d) && strcasecmp(d->uuid, uuid) == 0;
}

static bool want_label(const struct medium_dev *d, const char *label)
{
	return is_iso9660(d) && streq(d->label, label);
}

const struct medium_dev *medium_match(const struct medium_scan *scan, const struct medium_spec *spec, bool allow_fallback,
				      bool *ret_by_label)
{
	const struct medium_dev *d = NULL;

	*ret_by_label = false;
	if (spec->path) {
		/* The user named the node: take whatever is there, mounting will tell. */
		for (size_t i = 0; i < scan->n && !d; i++) {
			const struct medium_dev *c = &scan->devs[i];

			if (c->error == 0 && ((scan->path_rdev && c->rdev == scan->path_rdev) || streq(c->path, spec->path)))
				d = c;
		}
		return d;
	}
	if (spec->uuid) {
		d = pick(scan, want_uuid, spec->uuid);
		if (d || !allow_fallback || !spec->label_fallback)
			return d;
	}
	if (spec->label) {
		d = pick(scan, want_label, spec->label);
		*ret_by_label = d != NULL;
	}
	return d;
}

void medium_scan_describe(const struct medium_scan *scan, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	if (scan->n == 0) {
		snprintf(buf, size, "no block devices");
		return;
	}
	for (size_t i = 0; i < scan->n && used < size; i++) {
		const struct medium_dev *d = &scan->devs[i];
		char what[320];
		int k;

		if (d->no_medium)
			snprintf(what, sizeof(what), "no medium");
		else if (d->error == -ENOENT)
			snprintf(what, sizeof(what), "no device node");
		else if (d->error)
			snprintf(what, sizeof(what), "error: %s", strerror(-d->error));
		else if (!d->type[0])
			snprintf(what, sizeof(what), "no filesystem");
		else
			snprintf(what, sizeof(what), "%s%s%s%s%s", d->type, d->uuid[0] ? " UUID=" : "", d->uuid,
				 d->label[0] ? " LABEL=" : "", d->label);
		k = snprintf(buf + used, size - used, "%s%s (%s)", i ? ", " : "", d->name, what);
		if (k < 0)
			break;
		used += (size_t)k;
	}
	if (scan->n_dropped && used < size)
		snprintf(buf + used, size - used, " and %zu more", scan->n_dropped);
}

int medium_wait(const struct medium_spec *spec, unsigned timeout_ms, struct medium_dev *ret, bool *ret_by_label,
		struct medium_scan *ret_scan, uint64_t *ret_elapsed_ms)
{
	uint64_t start = clock_now_ms(), whole_seen = 0;

	for (;;) {
		uint64_t elapsed = clock_now_ms() - start;
		const struct medium_dev *d;
		/* A medium with the right UUID may still be on its way (USB enumerates
		 * slowly) while an older stick with the same label is already there. */
		bool allow_fallback = elapsed >= MEDIUM_FALLBACK_GRACE_MS || elapsed >= timeout_ms;
		int r;

		r = medium_scan("/sys/class/block", "/dev", spec->path, ret_scan);
		*ret_elapsed_ms = clock_now_ms() - start;
		if (r < 0)
			return r;
		d = medium_match(ret_scan, spec, allow_fallback, ret_by_label);
		/* The kernel lists a disk before it has read its partition table: a stick's own
		 * partition (preferred, see pick()) may show up a moment later. */
		if (d && !d->partition && d->partitioned && !whole_seen)
			whole_seen = clock_now_ms();
		if (d && !d->partition && d->partitioned && clock_now_ms() - whole_seen < MEDIUM_PARTITION_GRACE_MS &&
		    elapsed < timeout_ms) {
			log_debug("%s matches; waiting for its partitions", d->name);
			clock_sleep_ms(MEDIUM_POLL_MS);
			continue;
		}
		if (d) {
			*ret = *d;
			return 0;
		}
		if (elapsed >= timeout_ms)
			return -ENOENT;
		log_debug("no medium yet after %.1f s: %zu block devices", (double)elapsed / 1000, ret_scan->n);
		clock_sleep_ms(MEDIUM_POLL_MS);
	}
}
