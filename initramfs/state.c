/* gapbox.persist=: the data partition found (or created in the free space after the image), checked
 * with the initramfs's static e2fsck, mounted, and laid out per lib/persist.h. */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "clock.h"
#include "bootrecord.h"
#include "datapart.h"
#include "fsutil.h"
#include "log.h"
#include "macros.h"
#include "mounts.h"
#include "spawn.h"

/* A data partition named by label or UUID may be a second disk that is slower to show up. */
#define DATA_WAIT_MS 10000U
#define E2FSCK "/bin/e2fsck"
#define FSCK_LOG GB_RUN_DIR "/fsck.log"
#define SHUTDOWN_DIRS "dev", "proc", "sys", "run", "oldroot"

_printf_(2, 3) static void set_reason(struct persist *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->record.reason, sizeof(s->record.reason), fmt, ap);
	va_end(ap);
	/* One line in the record: a tool's output may have brought several. */
	for (char *c = s->record.reason; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
}

static bool is_data_fs(const struct medium_dev *d)
{
	return d->error == 0 && strncmp(d->type, "ext", 3) == 0;
}

/* The device the spec names: by label or UUID anywhere, or (auto) the data label on the medium's disk. */
static const struct medium_dev *match(const struct medium_scan *scan, const struct gb_persist_spec *spec,
				      const struct medium_dev *medium)
{
	char medium_disk[64] = "", disk[64];

	if (spec->mode == GB_PERSIST_AUTO && datapart_disk_of(medium->name, medium_disk, sizeof(medium_disk)) < 0)
		return NULL;
	for (size_t i = 0; i < scan->n; i++) {
		const struct medium_dev *d = &scan->devs[i];

		if (!d->partition && spec->mode == GB_PERSIST_AUTO)
			continue;
		if (spec->mode == GB_PERSIST_UUID && strcasecmp(d->uuid, spec->value) == 0)
			return d;
		if (spec->mode == GB_PERSIST_LABEL && streq(d->label, spec->value))
			return d;
		if (spec->mode == GB_PERSIST_AUTO && streq(d->label, GB_DATA_LABEL) &&
		    datapart_disk_of(d->name, disk, sizeof(disk)) == 0 && streq(disk, medium_disk))
			return d;
	}
	return NULL;
}

static int find(const struct gb_persist_spec *spec, const struct medium_dev *medium, struct medium_dev *ret)
{
	uint64_t start = clock_now_ms();
	unsigned wait = spec->mode == GB_PERSIST_AUTO ? 0 : DATA_WAIT_MS;
	static struct medium_scan scan; /* large: not on PID 1's stack */

	for (;;) {
		const struct medium_dev *d;
		int r = medium_scan("/sys/class/block", "/dev", NULL, &scan);

		if (r < 0)
			return r;
		d = match(&scan, spec, medium);
		if (d) {
			*ret = *d;
			return 0;
		}
		if (clock_now_ms() - start >= wait)
			return -ENOENT;
		usleep(MEDIUM_POLL_MS * 1000);
	}
}

/* e2fsck -p: 0 clean, 1 and 2 repaired, 4 and more not repaired. Its output goes to the console
 * and FSCK_LOG; the verdict tells a journal replay (what a power loss leaves) from a repair. */
static int check(const char *device, struct persist *s)
{
	char *argv[] = { E2FSCK, "-p", (char *)device, NULL };
	_cleanup_free_ char *out = NULL;
	bool other = false, replayed = false;
	int r;

	if (access(E2FSCK, X_OK) < 0) {
		log_warning("no %s in the initramfs: %s is mounted unchecked", E2FSCK, device);
		snprintf(s->record.fsck, sizeof(s->record.fsck), "not checked (no e2fsck in the initramfs)");
		return 0;
	}
	(void)unlink(FSCK_LOG);
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = FSCK_LOG });
	if (read_file(FSCK_LOG, 64 * 1024, &out, NULL) >= 0) {
		for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
			log_info("e2fsck: %s", line);
			if (strstr(line, "recovering journal"))
				replayed = true;
			else if (!strstr(line, ": clean,") && !strstr(line, "orphaned inode") && !strstr(line, "files,"))
				other = true;
		}
	}
	if (r < 0)
		return log_error_errno(r, "cannot run %s on %s: %m", E2FSCK, device);
	/* A journal replay is what an unclean shutdown leaves; e2fsck may exit 0 or 1 after one. */
	if (r <= 3 && replayed && !other)
		snprintf(s->record.fsck, sizeof(s->record.fsck), "journal replayed");
	else if (r == 0 && !other)
		snprintf(s->record.fsck, sizeof(s->record.fsck), "clean");
	else if (r <= 3)
		snprintf(s->record.fsck, sizeof(s->record.fsck), "repaired (e2fsck exit %d)", r);
	else {
		snprintf(s->record.fsck, sizeof(s->record.fsck), "errors left (e2fsck exit %d)", r);
		return log_error_errno(-EUCLEAN,
				       "e2fsck -p found errors on %s it did not repair (exit %d, output above): run "
				       "'e2fsck -f %s' here, or boot with gapbox.persist=off to leave it alone",
				       device, r, device);
	}
	return 0;
}

/* The layout of a mounted data partition: the marker, this build's upper, the other builds'. */
static int lay_out(struct persist *s)
{
	const char *id = s->record.build_id[0] ? s->record.build_id : "unknown-build";
	_cleanup_closedir_ DIR *d = NULL;
	char path[PATH_MAX], marker[32];
	struct dirent *de;
	int r;

	snprintf(path, sizeof(path), "%s/%s", GB_RUN_DATA, GB_DATA_MARKER);
	if (access(path, F_OK) < 0) {
		snprintf(marker, sizeof(marker), "format %d\n", GB_DATA_FORMAT);
		r = write_file_atomic(path, marker, strlen(marker), 0644);
		if (r < 0)
			return log_error_errno(r, "cannot write %s: %m", path);
	}
	snprintf(s->upper, sizeof(s->upper), "%s/%s/%s/upper", GB_RUN_DATA, GB_DATA_SYSTEM, id);
	snprintf(s->work, sizeof(s->work), "%s/%s/%s/work", GB_RUN_DATA, GB_DATA_SYSTEM, id);
	if ((r = mkdir_p(s->upper, 0755)) < 0 || (r = mkdir_p(s->work, 0700)) < 0)
		return log_error_errno(r, "cannot create %s and its work folder: %m", s->upper);
	/* The upper's mode is the mode of / in the booted system. */
	if (chmod(s->upper, 0755) < 0)
		return log_error_errno(negative_errno(), "cannot chmod %s: %m", s->upper);

	snprintf(path, sizeof(path), "%s/%s", GB_RUN_DATA, GB_DATA_SYSTEM);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		size_t n = strlen(s->record.other_builds);

		if (de->d_name[0] == '.' || streq(de->d_name, id))
			continue;
		snprintf(s->record.other_builds + n, sizeof(s->record.other_builds) - n, "%s%s", n ? " " : "", de->d_name);
	}
	if (s->record.other_builds[0])
		log_info("state of other builds kept on the data partition, not used by this one: %s",
			 s->record.other_builds);
	return 0;
}

int persist_mount(const struct init_params *p, const struct medium_dev *medium, struct persist *ret)
{
	struct persist *s = ret;
	struct medium_dev data;
	char want[160];
	int r;

	*s = (struct persist){ 0 };
	gb_persist_spec_format(&p->persist, s->record.spec, sizeof(s->record.spec));
	snprintf(s->record.build_id, sizeof(s->record.build_id), "%s", p->build_id);
	snprintf(s->record.mode, sizeof(s->record.mode), "ram");
	if (p->persist.mode == GB_PERSIST_OFF) {
		set_reason(s, "gapbox.persist=off");
		log_info("state: in RAM (gapbox.persist=off): nothing is kept across a reboot");
		return 0;
	}
	if (path_is_mount_point(GB_RUN_DATA) > 0) {
		/* Mounted by hand in a rescue shell, or by an earlier try of this step. */
		log_info("using the data partition already mounted on %s", GB_RUN_DATA);
		snprintf(s->record.mode, sizeof(s->record.mode), "data");
		s->mounted = true;
		return lay_out(s);
	}

	/* auto keeps state beside the image on its medium; a netboot has none, and auto never takes a
	 * local disk it was not pointed at. */
	if (p->persist.mode == GB_PERSIST_AUTO && !medium->name[0]) {
		set_reason(s, "a netboot has no boot medium; gapbox.persist=LABEL=%s uses a local data partition", GB_DATA_LABEL);
		log_info("state: in RAM, nothing is kept across a reboot: a netboot has no boot medium to keep state on "
			 "(boot with gapbox.persist=LABEL=%s to use a data partition on a local disk)", GB_DATA_LABEL);
		return 0;
	}
	snprintf(want, sizeof(want), "%s", p->persist.mode == GB_PERSIST_AUTO ? "LABEL=" GB_DATA_LABEL " on the boot medium"
										 : s->record.spec);
	r = find(&p->persist, medium, &data);
	if (r == -ENOENT && p->persist.mode == GB_PERSIST_AUTO) {
		char reason[300], device[96];

		r = datapart_create(medium, device, sizeof(device), reason, sizeof(reason));
		if (r >= 0)
			r = find(&p->persist, medium, &data);
		if (r == -ENOENT)
			snprintf(reason, sizeof(reason), "%s was made but shows no %s filesystem", device, GB_DATA_LABEL);
		if (r < 0) {
			set_reason(s, "%s", reason);
			log_info("state: in RAM, nothing is kept across a reboot: %s", reason);
			return 0;
		}
		s->record.created = true;
		set_reason(s, "created at this boot");
	} else if (r == -ENOENT) {
		set_reason(s, "no filesystem with %s found", s->record.spec);
		log_warning("state: in RAM, nothing is kept across a reboot: no filesystem with %s after %u s", s->record.spec,
			    DATA_WAIT_MS / 1000);
		return 0;
	} else if (r < 0) {
		set_reason(s, "cannot list block devices");
		return log_error_errno(r, "cannot list block devices to find %s: %m", want);
	} else
		set_reason(s, "found");
	snprintf(s->record.device, sizeof(s->record.device), "%s", data.path);
	snprintf(s->record.uuid, sizeof(s->record.uuid), "%s", data.uuid);
	snprintf(s->record.label, sizeof(s->record.label), "%s", data.label);
	if (!is_data_fs(&data)) {
		set_reason(s, "%s holds %s, not ext4", data.path, data.type[0] ? data.type : "no filesystem");
		return log_error_errno(-EMEDIUMTYPE, "the data partition %s (%s) holds %s, expected ext4", data.path, want,
				       data.type[0] ? data.type : "no filesystem");
	}
	log_info("data partition %s (%s UUID=%s LABEL=%s)%s", data.path, data.type, data.uuid, data.label,
		 s->record.created ? ", created at this boot" : "");

	r = check(data.path, s);
	if (r < 0)
		return r;
	/* Not nosuid or nodev: the root overlay's upper is on it, and overlayfs stores whiteouts
	 * as device nodes. */
	r = mount_at(data.path, GB_RUN_DATA, data.type, 0, "errors=remount-ro");
	if (r < 0)
		return log_error_errno(r, "cannot mount the data partition %s (%s) on %s: %m", data.path, data.type,
				       GB_RUN_DATA);
	snprintf(s->record.mode, sizeof(s->record.mode), "data");
	s->mounted = true;
	return lay_out(s);
}

/* One kept path: an overlay over the system image's folder, or the data folder bound in. */
static int keep_path(const struct gb_kept_path *k, const char *sysroot)
{
	char target[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], lower[PATH_MAX], opts[3 * PATH_MAX + 64];
	struct stat st;
	int r;

	snprintf(target, sizeof(target), "%s%s", sysroot, k->path);
	snprintf(upper, sizeof(upper), "%s/%s", GB_RUN_DATA, k->dir);
	snprintf(work, sizeof(work), "%s/%s/%s", GB_RUN_DATA, GB_DATA_WORK, k->dir);
	snprintf(lower, sizeof(lower), "%s%s", GB_RUN_SYSTEM, k->path);
	if (path_is_mount_point(target) > 0)
		return 0;
	if ((r = mkdir_p(upper, 0755)) < 0 || (r = mkdir_p(target, 0755)) < 0)
		return log_error_errno(r, "cannot create %s and %s: %m", upper, target);
	if (k->kind == GB_KEPT_OVERLAY && stat(lower, &st) == 0 && S_ISDIR(st.st_mode)) {
		if ((r = mkdir_p(work, 0700)) < 0)
			return log_error_errno(r, "cannot create %s: %m", work);
		/* The folder takes the image's mode and owner (root's home is 0700). */
		if (chmod(upper, st.st_mode & 07777) < 0 || chown(upper, st.st_uid, st.st_gid) < 0)
			return log_error_errno(negative_errno(), "cannot set the mode of %s: %m", upper);
		snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
		r = mount_at("overlay", target, "overlay", 0, opts);
	} else
		r = mount(upper, target, NULL, MS_BIND, NULL) < 0 ? negative_errno() : 0;
	if (r < 0)
		return log_error_errno(r, "cannot keep %s on the data partition (%s): %m", k->path, upper);
	return 0;
}

/* systemd-shutdown pivots into /run/initramfs and runs its shutdown (bootup(7)): a copy of this
 * static program unmounts the data partition after everything else. */
static int install_shutdown(void)
{
	static const char *const dirs[] = { SHUTDOWN_DIRS };
	char dir[PATH_MAX];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(dir, sizeof(dir), "/run/initramfs/%s", dirs[i]);
		if ((r = mkdir_p(dir, 0755)) < 0)
			return r;
	}
	return copy_file_atomic("/init", GB_RUN_SHUTDOWN, 0755);
}

/* gapbox.toram released the medium, but the data partition is on the same disk: it cannot be
 * pulled after all, and the boot record must not say it can. */
static void keep_medium(const struct persist *s, const char *medium)
{
	_cleanup_free_ char *text = NULL, *error = NULL;
	char medium_disk[64], data_disk[64];
	struct boot_record rec;
	const char *dev = strrchr(s->record.device, '/');

	if (!dev || boot_record_load(GB_RUN_BOOT_RECORD, &rec, &error) < 0 || !rec.medium_released ||
	    datapart_disk_of(medium, medium_disk, sizeof(medium_disk)) < 0 ||
	    datapart_disk_of(dev + 1, data_disk, sizeof(data_disk)) < 0 || !streq(medium_disk, data_disk))
		return;
	rec.medium_released = false;
	snprintf(rec.note, sizeof(rec.note), "also holds the data partition %s", s->record.device);
	log_warning("the images run from RAM, but the data partition %s is on the boot medium: keep it inserted",
		    s->record.device);
	if (boot_record_format(&rec, &text) >= 0)
		(void)write_file_atomic(GB_RUN_BOOT_RECORD, text, strlen(text), 0644);
}

int persist_finish(struct persist *s, const char *sysroot, const char *medium)
{
	_cleanup_free_ char *text = NULL;
	int r;

	if (s->mounted) {
		keep_medium(s, medium);
		for (size_t i = 0; i < gb_n_kept_paths; i++) {
			r = keep_path(&gb_kept_paths[i], sysroot);
			if (r < 0)
				return r;
		}
		r = install_shutdown();
		if (r < 0)
			log_warning_errno(r, "cannot install %s: the data partition is not unmounted at shutdown "
					     "(its journal covers that): %m", GB_RUN_SHUTDOWN);
	}
	r = gb_state_record_format(&s->record, &text);
	if (r >= 0)
		r = write_file_atomic(GB_RUN_STATE, text, strlen(text), 0644);
	if (r < 0)
		log_warning_errno(r, "cannot write %s: %m", GB_RUN_STATE);
	return 0;
}
