/* gapbox.toram: copying the system and payload images into RAM, each checked against the build
 * manifest, so that the boot medium can be released and removed. */
#include "toram.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bootrecord.h"
#include "buildmanifest.h"
#include "clock.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "mounts.h"
#include "sha256.h"

/* Read and written at a time; large, so the copy is not made of small system calls. */
#define TORAM_BUFFER (4u * 1024 * 1024)
/* A progress line this often: enough to see it move, not a flood on a serial console. */
#define TORAM_PROGRESS_MS 3000
/* /proc/meminfo is about 1.5 KiB. */
#define MEMINFO_MAX (64u * 1024)

static const char *const image_names[] = { GB_MEDIUM_IMAGES };
#define N_IMAGES ARRAY_SIZE(image_names)

enum toram_verdict toram_decide(enum init_toram mode, bool removable, uint64_t need, uint64_t available,
				uint64_t reserve)
{
	if (mode == TORAM_NO)
		return TORAM_NOT_ASKED;
	if (mode == TORAM_AUTO && !removable)
		return TORAM_NOT_REMOVABLE;
	/* Written so that no sum can overflow. */
	if (need > available || available - need < reserve)
		return TORAM_TOO_BIG;
	return TORAM_COPY;
}

int toram_parse_meminfo(const char *text, uint64_t *ret_available)
{
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		unsigned long long kib;
		char unit[4];

		if (strncmp(line, "MemAvailable:", 13) != 0)
			continue;
		if (sscanf(line + 13, "%llu %3s", &kib, unit) != 2 || !streq(unit, "kB") || kib > UINT64_MAX / 1024)
			return -EBADMSG;
		*ret_available = (uint64_t)kib * 1024;
		return 0;
	}
	return -EBADMSG;
}

/* Reads the first line of DIR/NAME into BUF, without its newline; "" when it cannot. */
static void read_attr(const char *dir, const char *name, char *buf, size_t size)
{
	_cleanup_free_ char *path = path_join(dir, name), *text = NULL;

	buf[0] = '\0';
	if (path && read_file(path, 4096, &text, NULL) >= 0)
		snprintf(buf, size, "%.*s", (int)strcspn(text, "\n"), text);
}

int toram_medium_removable(const char *sys, dev_t dev, char ret_name[static 64], char ret_why[static 32])
{
	char link[PATH_MAX], disk[PATH_MAX], value[16];
	_cleanup_free_ char *partition = NULL;
	const char *name;

	snprintf(link, sizeof(link), "%s/dev/block/%u:%u", sys, major(dev), minor(dev));
	if (!realpath(link, disk))
		return negative_errno();
	/* A partition's folder is inside its disk's. */
	partition = path_join(disk, "partition");
	if (!partition)
		return -ENOMEM;
	if (access(partition, F_OK) == 0)
		*strrchr(disk, '/') = '\0';
	name = strrchr(disk, '/') ? strrchr(disk, '/') + 1 : disk;
	snprintf(ret_name, 64, "%.63s", name);

	read_attr(disk, "removable", value, sizeof(value));
	if (streq(value, "1")) {
		snprintf(ret_why, 32, "removable");
		return 1;
	}
	if (strstr(disk, "/usb")) {
		snprintf(ret_why, 32, "on USB");
		return 1;
	}
	/* SCSI peripheral type 5: CD/DVD. */
	read_attr(disk, "device/type", value, sizeof(value));
	if (streq(value, "5") || strncmp(name, "sr", 2) == 0) {
		snprintf(ret_why, 32, "an optical drive");
		return 1;
	}
	snprintf(ret_why, 32, "a fixed disk");
	return 0;
}

_printf_(2, 3) static void note(struct toram_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->note, sizeof(res->note), fmt, ap);
	va_end(ap);
}

static unsigned long long mib(uint64_t bytes)
{
	return (unsigned long long)((bytes + TORAM_MIB - 1) / TORAM_MIB);
}

/* An image's size for the console: "313 MiB", or "28 KiB" for a small one. */
static const char *size_text(uint64_t bytes, char buf[static 32])
{
	if (bytes < TORAM_MIB)
		snprintf(buf, 32, "%llu KiB", (unsigned long long)((bytes + 1023) / 1024));
	else
		snprintf(buf, 32, "%llu MiB", mib(bytes));
	return buf;
}

/* One image to copy: where it is on the medium, where it goes, what the manifest says. */
struct image {
	const char *name;
	char src[PATH_MAX];
	char dst[PATH_MAX];
	const struct manifest_artifact *expect;
};

static double rate_mib_s(uint64_t bytes, uint64_t ms)
{
	return ms ? (double)bytes / TORAM_MIB / ((double)ms / 1000) : 0;
}

static void progress_tick(struct toram_progress *p)
{
	uint64_t now = clock_now_ms();

	if (now - p->last_ms < TORAM_PROGRESS_MS)
		return;
	p->last_ms = now;
	log_info("gapbox.toram: %3.0f%% (%llu of %llu MiB), %.1f MiB/s", p->total ? 100.0 * p->done / p->total : 100,
		 (unsigned long long)(p->done / TORAM_MIB), mib(p->total), rate_mib_s(p->done, now - p->start_ms));
}

#define DAMAGED "the medium is damaged or was changed, so nothing is mounted from it (boot without gapbox.toram " \
		"to try the medium as it is)"

int toram_copy_checked(const char *src_path, const char *dst_path, const struct manifest_artifact *expect,
		       struct toram_progress *p)
{
	_cleanup_close_ int src = -1, dst = -1;
	_cleanup_free_ char *buf = NULL;
	struct gb_sha256 *h = NULL;
	char got[SHA256_HEX_LEN + 1];
	uint64_t n = 0;
	int r = 0;

	src = open(src_path, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return log_error_errno(negative_errno(), "gapbox.toram: cannot open %s, which the build manifest lists: %m",
				       src_path);
	dst = open(dst_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (dst < 0)
		return log_error_errno(negative_errno(), "gapbox.toram: cannot create %s: %m", dst_path);
	buf = malloc(TORAM_BUFFER);
	h = gb_sha256_new();
	if (!buf || !h) {
		gb_sha256_free(h);
		return log_error_errno(-ENOMEM, "gapbox.toram: out of memory");
	}
	/* One byte more than the manifest says is read, to see a file that is longer. */
	while (n <= expect->size) {
		ssize_t k = read(src, buf, TORAM_BUFFER);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = log_error_errno(negative_errno(), "gapbox.toram: cannot read %s after %" PRIu64 " bytes: %m",
					    src_path, n);
			break;
		}
		if (k == 0)
			break;
		r = write_all(dst, buf, (size_t)k);
		if (r < 0) {
			r = log_error_errno(r, "gapbox.toram: cannot write %s: %m", dst_path);
			break;
		}
		gb_sha256_update(h, buf, (size_t)k);
		n += (uint64_t)k;
		p->done += (uint64_t)k;
		progress_tick(p);
	}
	if (r < 0) {
		gb_sha256_free(h);
		return r;
	}
	gb_sha256_final_hex(h, got);
	/* The medium's pages are not needed again: the system runs from the copy. */
	(void)posix_fadvise(src, 0, 0, POSIX_FADV_DONTNEED);
	if (n > expect->size)
		return log_error_errno(-EBADMSG,
				       "gapbox.toram: %s is longer than the %" PRIu64 " bytes the build manifest says; " DAMAGED,
				       src_path, expect->size);
	if (n != expect->size || !streq(got, expect->sha256))
		return log_error_errno(-EBADMSG,
				       "gapbox.toram: the copy of %s does not match the build manifest: read %" PRIu64
				       " bytes with sha256 %s, the manifest says %" PRIu64 " bytes with sha256 %s; " DAMAGED,
				       src_path, n, got, expect->size, expect->sha256);
	log_info("gapbox.toram: %s: %" PRIu64 " bytes, sha256 %s, as the manifest says", expect->path, n, got);
	return 0;
}

/* Mounts the tmpfs and copies every image into it; on failure nothing is left in RAM. */
static int copy_images(const struct image *imgs, size_t n, uint64_t need, const char *ram_dir)
{
	struct toram_progress p = { .total = need };
	char opts[64];
	uint64_t ms;
	int r;

	/* Sized to the images: a tmpfs takes only what is written, and the limit keeps it so. */
	snprintf(opts, sizeof(opts), "mode=0700,size=%llu", (unsigned long long)(need + TORAM_SLACK));
	r = mount_at("tmpfs", ram_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts);
	if (r < 0)
		return log_error_errno(r, "gapbox.toram: cannot mount a tmpfs (%s) on %s: %m", opts, ram_dir);
	p.start_ms = p.last_ms = clock_now_ms();
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = toram_copy_checked(imgs[i].src, imgs[i].dst, imgs[i].expect, &p);
	/* The copies are what the system runs from: nothing changes them from now on. */
	if (r >= 0 && mount(NULL, ram_dir, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		r = log_error_errno(negative_errno(), "gapbox.toram: cannot make %s read-only: %m", ram_dir);
	if (r < 0) {
		if (umount2(ram_dir, 0) < 0)
			log_warning_errno(negative_errno(), "gapbox.toram: cannot unmount %s: %m", ram_dir);
		return r;
	}
	ms = clock_now_ms() - p.start_ms;
	log_info("gapbox.toram: copied and checked %zu image%s, %.1f MiB in %.1f s: %.1f MiB/s", n, n == 1 ? "" : "s",
		 (double)p.done / TORAM_MIB, (double)ms / 1000, rate_mib_s(p.done, ms));
	return 0;
}

/* A retry after a rescue shell: the copies are there, checked when they were made. */
static int take_copies(const char *ram_dir, struct toram_result *ret)
{
	for (size_t i = 0; i < N_IMAGES; i++) {
		_cleanup_free_ char *path = path_join(ram_dir, image_names[i]);
		struct stat st;

		if (path && stat(path, &st) == 0)
			ret->bytes += (uint64_t)st.st_size;
	}
	ret->copied = true;
	log_info("gapbox.toram: using the copies already in %s", ram_dir);
	return 1;
}

int toram_images(enum init_toram mode, const char *medium, const char *ram_dir, const struct manifest *checked,
		 struct toram_result *ret)
{
	_cleanup_(manifest_done) struct manifest loaded = { 0 };
	const struct manifest *m = &loaded;
	_cleanup_free_ char *error = NULL, *meminfo = NULL;
	char manifest_path[PATH_MAX], sizes[256] = "", size[32], name[64] = "?", why[32] = "";
	struct image imgs[N_IMAGES];
	uint64_t need = 0, available = 0;
	bool removable = false;
	const char *mode_name = init_toram_name(mode);
	struct stat st;
	size_t n = 0;
	int r;

	*ret = (struct toram_result){ 0 };
	if (mode == TORAM_NO)
		return 0;
	if (path_is_mount_point(ram_dir) > 0)
		return take_copies(ram_dir, ret);

	/* What to copy: each image on the medium, with the size and sha256 its manifest lists. */
	snprintf(manifest_path, sizeof(manifest_path), "%s/%s", medium, GB_MEDIUM_MANIFEST);
	/* A signed build's manifest, checked already, is not read again. */
	if (checked && checked->artifacts)
		m = checked;
	r = m == checked ? 0 : manifest_load(manifest_path, &loaded, &error);
	if (r == -ENOMEM)
		return log_error_errno(r, "gapbox.toram: out of memory");
	if (r < 0) {
		note(ret, "gapbox.toram=%s: no manifest to check copies against", mode_name);
		log_warning("gapbox.toram=%s: not copying to RAM, as there is no manifest to check the copies against: %s; "
			    "booting from the medium", mode_name, error ? error : strerror(-r));
		return 0;
	}
	for (size_t i = 0; i < N_IMAGES; i++) {
		struct image *img = &imgs[n];
		char rel[64];

		snprintf(rel, sizeof(rel), "%s/%s", GB_MEDIUM_DIR, image_names[i]);
		snprintf(img->src, sizeof(img->src), "%s/%s", medium, rel);
		snprintf(img->dst, sizeof(img->dst), "%s/%s", ram_dir, image_names[i]);
		img->name = image_names[i];
		img->expect = manifest_find(m, rel);
		/* Listed but missing: found when copying (the medium is damaged). Neither: no payload. */
		if (!img->expect && access(img->src, F_OK) < 0 && errno == ENOENT)
			continue;
		if (!img->expect) {
			note(ret, "gapbox.toram=%s: %s is not in the manifest", mode_name, rel);
			log_warning("gapbox.toram=%s: not copying to RAM: %s is not in %s, so its copy could not be checked; "
				    "booting from the medium", mode_name, img->src, manifest_path);
			return 0;
		}
		need += img->expect->size;
		snprintf(sizes + strlen(sizes), sizeof(sizes) - strlen(sizes), "%s%s %s", n ? ", " : "", img->name,
			 size_text(img->expect->size, size));
		n++;
	}

	r = read_file("/proc/meminfo", MEMINFO_MAX, &meminfo, NULL);
	if (r >= 0)
		r = toram_parse_meminfo(meminfo, &available);
	if (r < 0) {
		note(ret, "gapbox.toram=%s: the available memory is not known", mode_name);
		log_warning_errno(r, "gapbox.toram=%s: not copying to RAM: cannot read MemAvailable in /proc/meminfo: %m; "
				  "booting from the medium", mode_name);
		return 0;
	}
	if (stat(medium, &st) == 0) {
		r = toram_medium_removable("/sys", st.st_dev, name, why);
		removable = r > 0;
		if (r < 0)
			snprintf(why, sizeof(why), "not a block device");
	}

	switch (toram_decide(mode, removable, need + TORAM_SLACK, available, TORAM_RESERVE)) {
	case TORAM_NOT_ASKED:
		return 0;
	case TORAM_NOT_REMOVABLE:
		note(ret, "gapbox.toram=auto: the medium %s is %s", name, why);
		log_info("gapbox.toram=auto: not copying to RAM: the medium %s is %s", name, why);
		return 0;
	case TORAM_TOO_BIG:
		note(ret, "gapbox.toram=%s: needs %llu MiB of RAM, has %llu MiB", mode_name,
		     mib(need + TORAM_SLACK + TORAM_RESERVE), mib(available));
		if (mode == TORAM_AUTO)
			log_info("gapbox.toram=auto: not copying to RAM: needs %llu MiB, has %llu MiB", mib(need + TORAM_SLACK + TORAM_RESERVE),
				 mib(available));
		else
			log_warning("gapbox.toram: refused: too little memory to copy %s to RAM: needs %llu MiB (%llu MiB of "
				    "images and %llu MiB for the running system), has %llu MiB available; booting from the "
				    "medium %s instead, which must stay in",
				    sizes, mib(need + TORAM_SLACK + TORAM_RESERVE), mib(need + TORAM_SLACK), mib(TORAM_RESERVE),
				    mib(available), name);
		return 0;
	case TORAM_COPY:
		break;
	}

	log_info("gapbox.toram=%s: copying %s to RAM: needs %llu MiB (with %llu MiB for the running system), has %llu MiB%s%s",
		 mode_name, sizes, mib(need + TORAM_SLACK + TORAM_RESERVE), mib(TORAM_RESERVE), mib(available),
		 mode == TORAM_AUTO ? "; the medium is " : "", mode == TORAM_AUTO ? why : "");
	r = copy_images(imgs, n, need, ram_dir);
	if (r < 0)
		return r;
	ret->copied = true;
	ret->bytes = need;
	return 1;
}

void toram_finish(const struct toram_result *res, bool from_ram, const char *medium, const char *checked,
		  const char *record_path)
{
	struct boot_record rec = { .from_ram = from_ram, .ram_bytes = res->bytes };
	_cleanup_free_ char *text = NULL;
	char why[32];
	struct stat st;
	int r;

	snprintf(rec.note, sizeof(rec.note), "%s", res->note);
	snprintf(rec.checked, sizeof(rec.checked), "%s", checked);
	if (path_is_mount_point(medium) > 0 && stat(medium, &st) == 0)
		(void)toram_medium_removable("/sys", st.st_dev, rec.medium, why);
	else if (from_ram)
		rec.medium_released = true; /* released by an earlier try */

	if (from_ram && !rec.medium_released) {
		/* Not lazily: the unmount succeeds only when nothing, no loop device, refers to the medium. */
		if (umount2(medium, 0) == 0) {
			rec.medium_released = true;
			log_info("gapbox.toram: the system runs from RAM and the medium %s is released: it can be removed",
				 rec.medium[0] ? rec.medium : medium);
		} else
			log_warning_errno(negative_errno(), "gapbox.toram: the system runs from RAM, but the medium on %s cannot "
					  "be unmounted: %m; keep it in", medium);
	}

	r = boot_record_format(&rec, &text);
	if (r >= 0)
		r = write_file_atomic(record_path, text, strlen(text), 0644);
	if (r < 0)
		log_warning_errno(r, "cannot write %s, the status will not say where the system runs from: %m", record_path);
}
