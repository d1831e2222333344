/* Looking at a write target before writing to it: sysfs for what the kernel knows of the
 * device, libblkid for what is on it, /proc and sysfs for who uses it. */
#include "target.h"

#include <blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bytesize.h"
#include "error.h"
#include "fsutil.h"
#include "macros.h"
#include "mountinfo.h"
#include "strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe)
#define _cleanup_blkid_probe_ _cleanup_(blkid_free_probep)

/* A sysfs attribute is a line; more than this is not one. */
#define SYSFS_ATTR_MAX 4096u
/* How deep "is on" goes: an overlay on a loop device on a file on a dm device on a disk. */
#define SYSTEM_DEPTH_MAX 8

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- sysfs ---- */

/* The attribute NAME of the sysfs folder DIR, trailing blanks removed. */
static int sysfs_read(const char *dir, const char *name, char **ret)
{
	_cleanup_free_ char *path = path_join(dir, name);
	char *text;
	size_t n;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_file(path, SYSFS_ATTR_MAX, &text, &n);
	if (r < 0)
		return r;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
	*ret = text;
	return 0;
}

static bool sysfs_flag(const char *dir, const char *name)
{
	_cleanup_free_ char *v = NULL;
	return sysfs_read(dir, name, &v) >= 0 && streq(v, "1");
}

static int sysfs_devno(const char *dir, dev_t *ret)
{
	_cleanup_free_ char *v = NULL;
	unsigned maj, min;
	int r = sysfs_read(dir, "dev", &v);

	if (r < 0)
		return r;
	if (sscanf(v, "%u:%u", &maj, &min) != 2)
		return -EBADMSG;
	*ret = makedev(maj, min);
	return 0;
}

/* The device's folder under /sys/devices. */
static int devno_sysdir(dev_t devno, char **ret)
{
	char link[64];

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(devno), minor(devno));
	*ret = realpath(link, NULL);
	return *ret ? 0 : negative_errno();
}

/* The kernel's name of the device whose sysfs folder is DIR: its last component, with the
 * '!' sysfs writes for a '/' in a name (cciss/c0d0) put back. */
static char *sysdir_name(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char *name = strdup(slash ? slash + 1 : dir);

	for (char *c = name; c && *c; c++)
		if (*c == '!')
			*c = '/';
	return name;
}

static char *dev_path(const char *name)
{
	char *p;
	return asprintf(&p, "/dev/%s", name) < 0 ? NULL : p;
}

/* Behind a USB host controller: a component of the path is "usbN". */
static bool sysdir_on_usb(const char *dir)
{
	for (const char *p = strstr(dir, "/usb"); p; p = strstr(p + 1, "/usb"))
		if (p[4] >= '0' && p[4] <= '9')
			return true;
	return false;
}

int target_holders(const char *sysdir, char ***ret)
{
	_cleanup_free_ char *dir = path_join(sysdir, "holders");
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_free_ char **list = NULL;
	struct dirent *de;

	if (!dir)
		return -ENOMEM;
	*ret = NULL;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(d))) {
		_cleanup_free_ char *holder = NULL, *dmname = NULL, *text = NULL;

		if (de->d_name[0] == '.')
			continue;
		holder = path_join(dir, de->d_name);
		if (!holder)
			return -ENOMEM;
		if (sysfs_read(holder, "dm/name", &dmname) >= 0 && dmname[0]) {
			if (asprintf(&text, "%s (%s)", de->d_name, dmname) < 0)
				text = NULL;
		} else
			text = strdup(de->d_name);
		if (!text || strv_consume(&list, TAKE_PTR(text)) < 0)
			return -ENOMEM;
	}
	strv_sort(list);
	*ret = TAKE_PTR(list);
	return 0;
}

/* ---- inspecting ---- */

static void part_done(struct target_part *p)
{
	FREE_ALL(p->name, p->fstype, p->label);
}

static void node_done(struct target_node *n)
{
	FREE_ALL(n->name, n->sysdir);
}

void target_done(struct target *t)
{
	FREE_ARRAY(t->nodes, t->n_nodes, node_done);
	FREE_ARRAY(t->parts, t->n_parts, part_done);
	FREE_ALL(t->path, t->whole_disk, t->vendor, t->model, t->pttype, t->fstype, t->label);
	*t = (struct target){ 0 };
}

static int node_add(struct target *t, dev_t devno, const char *sysdir, size_t *alloc)
{
	struct target_node n = { .devno = devno, .sysdir = strdup(sysdir), .name = sysdir_name(sysdir) };

	if (!n.sysdir || !n.name || gb_grow(&t->nodes, alloc, t->n_nodes + 1, sizeof(*t->nodes)) < 0) {
		node_done(&n);
		return -ENOMEM;
	}
	t->nodes[t->n_nodes++] = n;
	return 0;
}

static bool sysdir_is_partition(const char *dir)
{
	_cleanup_free_ char *v = NULL;
	return sysfs_read(dir, "partition", &v) >= 0;
}

/* The device, then, for a disk, each partition the kernel made of it: a folder of the disk's
 * with a "partition" attribute. */
static int inspect_nodes(struct target *t, dev_t devno, const char *sysdir)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t alloc = 0;
	int r;

	r = node_add(t, devno, sysdir, &alloc);
	if (r < 0 || t->partition > 0)
		return r;
	d = opendir(sysdir);
	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;
		dev_t part;

		if (de->d_name[0] == '.')
			continue;
		sub = path_join(sysdir, de->d_name);
		if (!sub)
			return -ENOMEM;
		if (!sysdir_is_partition(sub) || sysfs_devno(sub, &part) < 0)
			continue;
		r = node_add(t, part, sub, &alloc);
		if (r < 0)
			return r;
	}
	return 0;
}

/* What sysfs says of the block device DEVNO. */
static int inspect_sysfs(struct target *t, dev_t devno, char **ret_error)
{
	_cleanup_free_ char *sysdir = NULL, *disk = NULL, *device = NULL, *partno = NULL;
	int r;

	r = devno_sysdir(devno, &sysdir);
	if (r < 0)
		return gb_error_errno(ret_error, r, "%s: block device %u:%u has no folder in /sys/dev/block", t->path,
				      major(devno), minor(devno));
	disk = strdup(sysdir);
	if (!disk)
		return -ENOMEM;
	if (sysfs_read(sysdir, "partition", &partno) >= 0) {
		_cleanup_free_ char *name = NULL;

		/* A partition's folder is inside its disk's; removable and the bus are the disk's. */
		t->partition = atoi(partno);
		*strrchr(disk, '/') = '\0';
		name = sysdir_name(disk);
		if (!name || !(t->whole_disk = dev_path(name)))
			return -ENOMEM;
	}
	r = inspect_nodes(t, devno, sysdir);
	if (r < 0)
		return gb_error_errno(ret_error, r, "%s: cannot list its partitions in %s", t->path, sysdir);
	t->removable = sysfs_flag(disk, "removable");
	t->read_only = sysfs_flag(sysdir, "ro");
	t->usb = sysdir_on_usb(disk);
	device = path_join(disk, "device");
	if (!device)
		return -ENOMEM;
	(void)sysfs_read(device, "vendor", &t->vendor);
	(void)sysfs_read(device, "model", &t->model);
	return 0;
}

static char *probe_value(blkid_probe pr, const char *key)
{
	const char *v = NULL;
	return blkid_probe_lookup_value(pr, key, &v, NULL) == 0 && v && v[0] ? strdup(v) : NULL;
}

/* A filesystem in SIZE bytes at OFFSET of FD: TYPE and LABEL, or nothing. */
static void probe_filesystem(int fd, uint64_t offset, uint64_t size, char **ret_type, char **ret_label)
{
	_cleanup_blkid_probe_ blkid_probe pr = blkid_new_probe();
	int r;

	if (!pr || blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) < 0)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
	r = blkid_do_safeprobe(pr);
	if (r == -2) {
		/* Several signatures: show the first, as blkid(8) -p would refuse to. */
		blkid_reset_probe(pr);
		r = blkid_do_probe(pr);
	}
	if (r != 0)
		return;
	*ret_type = probe_value(pr, "TYPE");
	*ret_label = probe_value(pr, "LABEL");
}

/* What libblkid finds on the device: a filesystem on the whole of it, a partition table, and
 * what is in each partition. A device it cannot read is described as holding nothing: the
 * write will tell. */
static int inspect_contents(struct target *t, int fd)
{
	_cleanup_blkid_probe_ blkid_probe pr = blkid_new_probe();
	blkid_partlist ls;
	int n;

	if (!pr || blkid_probe_set_device(pr, fd, 0, 0) < 0)
		return pr ? 0 : -ENOMEM;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	if (blkid_do_safeprobe(pr) == 0) {
		t->fstype = probe_value(pr, "TYPE");
		t->label = probe_value(pr, "LABEL");
		t->pttype = probe_value(pr, "PTTYPE");
	}
	ls = blkid_probe_get_partitions(pr);
	n = ls ? blkid_partlist_numof_partitions(ls) : 0;
	if (n <= 0)
		return 0;
	t->parts = calloc((size_t)n, sizeof(*t->parts));
	if (!t->parts)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);
		struct target_part *p = &t->parts[t->n_parts];
		const char *name;

		if (!par)
			continue;
		/* libblkid counts in 512-byte sectors whatever the device's sector size. */
		*p = (struct target_part){ .partno = blkid_partition_get_partno(par),
					   .start = (uint64_t)blkid_partition_get_start(par) * 512,
					   .size = (uint64_t)blkid_partition_get_size(par) * 512 };
		name = blkid_partition_get_name(par);
		if (name && name[0] && !(p->name = strdup(name)))
			return -ENOMEM;
		t->n_parts++;
		if (p->size > 0 && p->start + p->size <= t->size)
			probe_filesystem(fd, p->start, p->size, &p->fstype, &p->label);
	}
	return 0;
}

/* A missing PATH in /dev is a device that is not there, not a new file to make: a file made
 * there would fill the memory devtmpfs lives in. */
static bool in_dev(const char *path)
{
	_cleanup_free_ char *copy = strdup(path), *parent = NULL;

	if (!copy || !(parent = realpath(dirname(copy), NULL)))
		return false;
	return streq(parent, "/dev") || has_prefix(parent, "/dev/");
}

/* Size and logical sector size from sysfs, for a device that cannot be opened. */
static void inspect_sysfs_size(struct target *t)
{
	_cleanup_free_ char *sectors = NULL, *logical = NULL;

	if (sysfs_read(t->nodes[0].sysdir, "size", &sectors) >= 0)
		t->size = strtoull(sectors, NULL, 10) * 512;
	if (sysfs_read(t->nodes[0].sysdir, t->partition > 0 ? "../queue/logical_block_size" : "queue/logical_block_size",
		       &logical) >= 0)
		t->sector_size = (unsigned)strtoul(logical, NULL, 10);
}

int target_inspect(const char *path, struct target *ret, char **ret_error)
{
	_cleanup_(target_done) struct target t = { 0 };
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	t.path = strdup(path);
	if (!t.path)
		return -ENOMEM;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return gb_error_errno(ret_error, negative_errno(), "cannot stat %s", path);
		if (in_dev(path))
			return gb_error(ret_error, -ENOENT, "%s does not exist: is the stick plugged in? (gapbox write makes a "
					"new disk image file for a path that does not exist, but not in /dev)", path);
		*ret = t;
		t = (struct target){ 0 };
		return 0;
	}
	t.exists = true;
	if (S_ISBLK(st.st_mode)) {
		t.block = true;
		r = inspect_sysfs(&t, st.st_rdev, ret_error);
		if (r < 0)
			return r;
		inspect_sysfs_size(&t);
	} else if (S_ISREG(st.st_mode)) {
		t.file_dev = st.st_dev;
		t.file_ino = st.st_ino;
		t.size = (uint64_t)st.st_size;
	} else
		return gb_error(ret_error, -ENOTBLK, "%s is neither a block device (a whole disk) nor a disk image file", path);

	/* Not O_EXCL yet: that is taken once the user has said yes, and would fail here for
	 * exactly the devices whose users must be named (mounted ones). A device that cannot
	 * even be read is still checked: what uses it is known without opening it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && !t.block)
		return gb_error_errno(ret_error, negative_errno(), "cannot open %s", path);
	if (fd < 0) {
		t.unreadable = negative_errno();
	} else if (t.block) {
		int sector = 0;

		if (ioctl(fd, BLKGETSIZE64, &t.size) < 0 || ioctl(fd, BLKSSZGET, &sector) < 0)
			return gb_error_errno(ret_error, negative_errno(), "%s: cannot get its size", path);
		t.sector_size = (unsigned)sector;
	}
	if (fd >= 0 && t.size > 0) {
		r = inspect_contents(&t, fd);
		if (r < 0)
			return gb_error_errno(ret_error, r, "%s: cannot probe what it holds", path);
	}
	*ret = t;
	t = (struct target){ 0 };
	return 0;
}

const struct target_part *target_find_label(const struct target *t, const char *label)
{
	for (size_t i = 0; i < t->n_parts; i++)
		if (t->parts[i].label && streq(t->parts[i].label, label))
			return &t->parts[i];
	return NULL;
}

void target_describe(const struct target *t, FILE *out)
{
	char size[BYTESIZE_MAX], start[BYTESIZE_MAX];

	if (!t->exists) {
		fprintf(out, "target:  %s: a new disk image file\n", t->path);
		return;
	}
	if (t->block)
		fprintf(out, "target:  %s: %s %u:%u, %s, %s\n", t->path, t->partition > 0 ? "partition" : "disk",
			major(t->nodes[0].devno), minor(t->nodes[0].devno), t->removable ? "removable" : "not removable",
			t->usb ? "on USB" : "not on USB");
	else
		fprintf(out, "target:  %s: a disk image file (not a device: no removable, USB or holders checks)\n", t->path);
	/* Without a model, a vendor is often a bus number (virtio's "0x1af4"): only both say much. */
	if (t->model)
		fprintf(out, "model:   %s%s%s\n", t->vendor ? t->vendor : "", t->vendor ? " " : "", t->model);
	fprintf(out, "size:    %s (%llu bytes)\n", bytesize_human(t->size, size), (unsigned long long)t->size);
	if (t->unreadable)
		fprintf(out, "holds:   unknown: it cannot be opened to look (%s)\n", strerror(-t->unreadable));
	else if (!t->fstype && !t->pttype)
		fprintf(out, "holds:   no filesystem or partition table that libblkid knows\n");
	else
		fprintf(out, "holds:   %s%s%s%s%s%s%s\n", t->fstype ? t->fstype : "", t->label ? " \"" : "",
			t->label ? t->label : "", t->label ? "\"" : "", t->fstype && t->pttype ? ", " : "",
			t->pttype ? t->pttype : "", t->pttype ? " partition table" : "");
	for (size_t i = 0; i < t->n_parts; i++) {
		const struct target_part *p = &t->parts[i];

		fprintf(out, "  %2d  %-14s %10s at %-10s %s%s%s%s\n", p->partno, p->name ? p->name : "-",
			bytesize_human(p->size, size), bytesize_human(p->start, start), p->fstype ? p->fstype : "no filesystem",
			p->label ? " \"" : "", p->label ? p->label : "", p->label ? "\"" : "");
	}
}

/* ---- who uses it ---- */

static const struct target_node *node_find(const struct target *t, dev_t devno)
{
	for (size_t i = 0; i < t->n_nodes; i++)
		if (t->nodes[i].devno == devno)
			return &t->nodes[i];
	return NULL;
}


/* The disks the running system lives on, each with the way there ("/ on /dev/dm-0 on
 * /dev/sda2"). */
struct system_disk {
	dev_t devno;
	char *why;
};

struct system_disks {
	struct system_disk *v;
	size_t n, alloc;
	const struct mountinfo *mounts;
};

static void system_disks_done(struct system_disks *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].why);
	free(s->v);
}

static void system_add_path(struct system_disks *s, const char *path, const char *why, int depth);

static void system_add_dev(struct system_disks *s, dev_t devno, const char *why, int depth)
{
	_cleanup_free_ char *sysdir = NULL, *name = NULL, *here = NULL, *backing = NULL, *slaves = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	bool known = false;
	dev_t disk = devno;

	if (depth > SYSTEM_DEPTH_MAX || devno_sysdir(devno, &sysdir) < 0 || !(name = sysdir_name(sysdir)) ||
	    asprintf(&here, "%s on /dev/%s", why, name) < 0)
		return;
	if (sysdir_is_partition(sysdir)) {
		*strrchr(sysdir, '/') = '\0';
		if (sysfs_devno(sysdir, &disk) < 0)
			return;
	}
	for (size_t i = 0; i < s->n; i++)
		known |= s->v[i].devno == disk;
	if (!known && gb_grow(&s->v, &s->alloc, s->n + 1, sizeof(*s->v)) >= 0) {
		s->v[s->n] = (struct system_disk){ .devno = disk, .why = strdup(here) };
		if (s->v[s->n].why)
			s->n++;
	}
	/* What the disk is made of: device-mapper and md name theirs in slaves/, a loop device
	 * has its backing file. */
	slaves = path_join(sysdir, "slaves");
	if (slaves && (d = opendir(slaves)))
		while ((de = readdir(d))) {
			_cleanup_free_ char *sub = NULL;
			dev_t slave;

			if (de->d_name[0] == '.' || !(sub = path_join(slaves, de->d_name)))
				continue;
			if (sysfs_devno(sub, &slave) >= 0)
				system_add_dev(s, slave, here, depth + 1);
		}
	if (sysfs_read(sysdir, "loop/backing_file", &backing) >= 0)
		system_add_path(s, backing, here, depth + 1);
}

static void system_add_path(struct system_disks *s, const char *path, const char *why, int depth)
{
	_cleanup_free_ char *here = NULL, *opts = NULL, *real = realpath(path, NULL);
	const struct mountinfo_entry *m;
	char *save = NULL;
	struct stat st;

	if (depth > SYSTEM_DEPTH_MAX || !real || stat(real, &st) < 0)
		return;
	if (major(st.st_dev) != 0) {
		system_add_dev(s, st.st_dev, why, depth);
		return;
	}
	/* An anonymous device (overlayfs, btrfs, tmpfs): what is it mounted from? */
	m = mountinfo_find(s->mounts, real);
	if (!m)
		return;
	if (m->source[0] == '/' && stat(m->source, &st) == 0 && S_ISBLK(st.st_mode)) {
		system_add_dev(s, st.st_rdev, why, depth);
		return;
	}
	if (!streq(m->fstype, "overlay") || !(opts = strdup(m->super_options)) ||
	    asprintf(&here, "%s on an overlay", why) < 0)
		return;
	/* Its layers: lowerdir=a:b,upperdir=c,workdir=d. */
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char *save2 = NULL;

		if (!has_prefix(o, "lowerdir=") && !has_prefix(o, "upperdir=") && !has_prefix(o, "workdir="))
			continue;
		for (char *dir = strtok_r(strchr(o, '=') + 1, ":", &save2); dir; dir = strtok_r(NULL, ":", &save2))
			system_add_path(s, dir, here, depth + 1);
	}
}

static int check_system(const struct target *t, const struct mountinfo *mounts, char ***refusals)
{
	static const char *const paths[] = { "/", "/usr", "/boot", "/boot/efi" };
	_cleanup_(system_disks_done) struct system_disks s = { .mounts = mounts };
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		system_add_path(&s, paths[i], paths[i], 0);
	for (size_t i = 0; r >= 0 && i < s.n; i++) {
		const struct target_node *n = node_find(t, s.v[i].devno);
		if (n)
			r = strv_pushf(refusals, "%s holds the running system (%s)", t->path, s.v[i].why);
	}
	return r;
}

/* Every mount of the disk or a partition of it, three mount points named per device. */
static int check_mounts(const struct target *t, const struct mountinfo *mounts, char ***refusals)
{
	for (size_t i = 0; i < t->n_nodes; i++) {
		_cleanup_strv_free_ char **points = NULL;
		size_t n = 0;

		for (size_t k = 0; k < mounts->n; k++) {
			const struct mountinfo_entry *m = &mounts->entries[k];
			struct stat st;
			bool on = m->devno == t->nodes[i].devno;

			/* btrfs and others show an anonymous device number: their source names the node. */
			if (!on && major(m->devno) == 0 && m->source[0] == '/' && stat(m->source, &st) == 0 && S_ISBLK(st.st_mode))
				on = st.st_rdev == t->nodes[i].devno;
			if (on && ++n <= 3 && strv_push(&points, m->mount_point) < 0)
				return -ENOMEM;
		}
		if (n == 0)
			continue;
		_cleanup_free_ char *list = NULL;
		if (asprintf(&list, "%s%s%s%s%s", points[0], points[1] ? ", " : "", points[1] ? points[1] : "",
			     points[1] && points[2] ? ", " : "", points[1] && points[2] ? points[2] : "") < 0)
			return -ENOMEM;
		if (strv_pushf(refusals, "/dev/%s is mounted on %s%s: unmount it first", t->nodes[i].name, list,
			   n > 3 ? " and more" : "") < 0)
			return -ENOMEM;
	}
	return 0;
}

static int check_holders(const struct target *t, char ***refusals)
{
	for (size_t i = 0; i < t->n_nodes; i++) {
		_cleanup_strv_free_ char **holders = NULL;
		_cleanup_free_ char *list = NULL;
		size_t len = 1;
		int r = target_holders(t->nodes[i].sysdir, &holders);

		if (r < 0)
			return r;
		if (!holders)
			continue;
		for (char **h = holders; *h; h++)
			len += strlen(*h) + 2;
		list = calloc(1, len);
		if (!list)
			return -ENOMEM;
		for (char **h = holders; *h; h++)
			strcat(strcat(list, h == holders ? "" : ", "), *h);
		r = strv_pushf(refusals, "/dev/%s is held by %s (device-mapper, LVM, md or dm-crypt): stop what holds it first",
			   t->nodes[i].name, list);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Is the file or device at PATH (an entry of /proc/swaps, a loop device's backing file) the
 * target or a partition of it? Its name when so, else NULL. */
static const char *uses_target(const struct target *t, const char *path)
{
	struct stat st;
	const struct target_node *n;

	if (stat(path, &st) < 0)
		return NULL;
	if (S_ISBLK(st.st_mode) && t->block && (n = node_find(t, st.st_rdev)))
		return n->name;
	if (S_ISREG(st.st_mode) && !t->block && st.st_dev == t->file_dev && st.st_ino == t->file_ino)
		return t->path;
	return NULL;
}

static int check_swaps(const struct target *t, char ***refusals)
{
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;
	int r = read_file("/proc/swaps", SYSFS_ATTR_MAX * 16, &text, NULL);

	/* No /proc/swaps: a kernel without swap. */
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	/* The first line is the column titles. */
	line = strtok_r(text, "\n", &save);
	while ((line = strtok_r(NULL, "\n", &save))) {
		const char *used;

		line[strcspn(line, " \t")] = '\0';
		mountinfo_unescape(line);
		used = uses_target(t, line);
		if (used && strv_pushf(refusals, "%s%s is in use as swap: swapoff %s first", t->block ? "/dev/" : "", used, line) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int check_loops(const struct target *t, char ***refusals)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	struct dirent *de;

	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		_cleanup_free_ char *dir = NULL, *backing = NULL;
		const char *used;
		char *deleted;

		if (!has_prefix(de->d_name, "loop") || !(dir = path_join("/sys/block", de->d_name)))
			continue;
		if (sysfs_read(dir, "loop/backing_file", &backing) < 0)
			continue;
		deleted = strstr(backing, " (deleted)");
		if (deleted)
			*deleted = '\0';
		used = uses_target(t, backing);
		if (used && strv_pushf(refusals, "%s%s is attached to loop device /dev/%s: losetup -d /dev/%s first",
				   t->block ? "/dev/" : "", used, de->d_name, de->d_name) < 0)
			return -ENOMEM;
	}
	return 0;
}

int target_check(const struct target *t, char ***ret_refusals, char ***ret_forceable)
{
	_cleanup_(mountinfo_done) struct mountinfo mounts = { 0 };
	_cleanup_strv_free_ char **refusals = NULL, **forceable = NULL;
	int r = 0;

	*ret_refusals = *ret_forceable = NULL;
	if (!t->exists)
		return 0;
	r = mountinfo_read(NULL, &mounts);
	if (r < 0)
		return r;
	if (t->block) {
		if (t->partition > 0)
			r = strv_pushf(&refusals, "%s is partition %d of %s: gapbox write writes a whole disk (%s)", t->path,
				   t->partition, t->whole_disk, t->whole_disk);
		if (r >= 0)
			r = check_system(t, &mounts, &refusals);
		if (r >= 0)
			r = check_mounts(t, &mounts, &refusals);
		if (r >= 0)
			r = check_holders(t, &refusals);
		if (r >= 0 && t->read_only)
			r = strv_pushf(&refusals, "%s is read-only (a write-protect switch?)", t->path);
		if (r >= 0 && t->size == 0)
			r = strv_pushf(&refusals, "%s holds no medium (its size is 0)", t->path);
		if (r >= 0 && t->sector_size != 512)
			r = strv_pushf(&refusals, "%s has %u-byte logical sectors: the partition table of gapbox images is made for "
				   "512-byte sectors", t->path, t->sector_size);
		if (r >= 0 && !t->removable && !t->usb)
			r = strv_pushf(&forceable, "%s is neither removable nor on USB: a fixed disk?",
				   t->path);
	}
	if (r >= 0)
		r = check_swaps(t, &refusals);
	if (r >= 0)
		r = check_loops(t, &refusals);
	if (r < 0)
		return r;
	*ret_refusals = TAKE_PTR(refusals);
	*ret_forceable = TAKE_PTR(forceable);
	return 0;
}
