/* The steps of gapbox-init's boot: parameters, modules, medium, images, overlay root. */
#include "boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "clock.h"
#include "cmdline.h"
#include "fsutil.h"
#include "log.h"
#include "loop.h"
#include "macros.h"
#include "mounts.h"
#include "toram.h"
#include "verify.h"

#ifndef GB_VERSION
#define GB_VERSION "(unversioned)"
#endif

/* A hint for the error a missing module typically causes. */
static const char *fs_hint(int r, const char *fstype)
{
	static char buf[128];

	if (r != -ENODEV)
		return "";
	snprintf(buf, sizeof(buf), " (the kernel does not know %s: is its module in modules.load?)", fstype);
	return buf;
}

int boot_read_params(struct boot *b)
{
	_cleanup_free_ char *line = NULL;
	struct utsname u;
	int r;

	init_params_defaults(&b->params);
	r = init_params_load_conf(&b->params, INIT_CONF_PATH);
	if (r < 0)
		log_warning_errno(r, "cannot read %s, using defaults: %m", INIT_CONF_PATH);
	r = cmdline_read(NULL, &line);
	if (r < 0)
		log_warning_errno(r, "cannot read /proc/cmdline, no gapbox.* parameters: %m");
	else {
		r = init_params_parse_cmdline(&b->params, line);
		if (r < 0)
			log_warning_errno(r, "cannot parse /proc/cmdline: %m");
	}
	if (b->params.debug)
		gb_log_set_level(GB_LOG_DEBUG);

	if (uname(&u) == 0) {
		if (!b->params.kver[0])
			snprintf(b->params.kver, sizeof(b->params.kver), "%s", u.release);
		else if (!streq(b->params.kver, u.release))
			log_warning("modules are for kernel %s but this is %s: they will not load", b->params.kver,
				    u.release);
	}
	log_info("version %s, image %s, kernel %s", GB_VERSION, b->params.name[0] ? b->params.name : "(unnamed)",
		 b->params.kver);
	return 0;
}

int boot_load_modules(struct boot *b)
{
	char moddir[256];
	int r;

	if (access(MODULES_LOAD_PATH, F_OK) < 0 && errno == ENOENT) {
		/* A kernel with the drivers built in needs no list. */
		log_info("no %s: loading no modules", MODULES_LOAD_PATH);
		return 0;
	}
	snprintf(moddir, sizeof(moddir), "/lib/modules/%s", b->params.kver);
	r = modules_load_list(moddir, MODULES_LOAD_PATH, &b->modules);
	if (r < 0) {
		/* Not a reason to stop here: drivers may be built in, and if they are not,
		 * the medium search says what is missing (a rescue shell could not fix it). */
		log_error_errno(r, "cannot load modules from %s listed in %s: %m", moddir, MODULES_LOAD_PATH);
		return 0;
	}
	log_info("modules: %u loaded, %u already present, %u failed%s", b->modules.n_loaded, b->modules.n_present,
		 b->modules.n_failed, b->modules.n_failed ? " (normal for absent hardware)" : "");
	return 0;
}

/* The medium is usable if the system image is on it. */
static int check_medium_content(const char *what)
{
	struct stat st;

	if (stat(GB_RUN_MEDIUM "/" GB_MEDIUM_SYSTEM, &st) < 0 || !S_ISREG(st.st_mode))
		return log_error_errno(-ENOENT, "%s has no %s: wrong medium or a broken image", what, GB_MEDIUM_SYSTEM);
	return 0;
}

int boot_mount_medium(struct boot *b)
{
	struct medium_spec spec;
	char want[400], seen[4096], what[256];
	uint64_t elapsed_ms = 0;
	bool by_label = false;
	int r;

	/* A netboot: the images come over the network instead. */
	if (b->params.fetch_url[0])
		return netboot_fetch(&b->params, &b->net);

	/* Mounted by hand in a rescue shell: take it. */
	if (path_is_mount_point(GB_RUN_MEDIUM) > 0) {
		r = check_medium_content("the medium mounted on " GB_RUN_MEDIUM);
		if (r < 0)
			return r;
		log_info("using the medium already mounted on %s", GB_RUN_MEDIUM);
		return 0;
	}

	/* Created up front so that a rescue shell user can mount a medium there by hand. */
	r = mkdir_p(GB_RUN_MEDIUM, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create %s: %m", GB_RUN_MEDIUM);

	medium_spec_from_params(&b->params, &spec);
	init_params_medium_describe(&b->params, want, sizeof(want));
	log_info("looking for the medium %s (up to %u s)", want, b->params.timeout_sec);

	r = medium_wait(&spec, b->params.timeout_sec * 1000U, &b->medium, &by_label, &b->scan, &elapsed_ms);
	if (r < 0) {
		medium_scan_describe(&b->scan, seen, sizeof(seen));
		if (r == -ENOENT) {
			log_error("no medium with %s found after %u s; looked at: %s", want, b->params.timeout_sec,
				  seen);
			log_info("to boot from another device, mount it on %s in the rescue shell", GB_RUN_MEDIUM);
			return r;
		}
		return log_error_errno(r, "cannot list block devices in /sys/class/block: %m");
	}

	if (by_label)
		log_warning("no medium with UUID=%s; using %s, which has LABEL=%s but UUID=%s", b->params.medium_uuid,
			    b->medium.name, b->medium.label, b->medium.uuid);
	log_info("medium %s (%s UUID=%s LABEL=%s) after %.1f s", b->medium.name, b->medium.type[0] ? b->medium.type : "?",
		 b->medium.uuid, b->medium.label, (double)elapsed_ms / 1000);
	if (gb_log_get_level() >= GB_LOG_DEBUG) {
		medium_scan_describe(&b->scan, seen, sizeof(seen));
		log_debug("block devices: %s", seen);
	}

	/* The ISO also mounts as iso9660 from the whole USB disk. */
	r = mount_at(b->medium.path, GB_RUN_MEDIUM, "iso9660", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot mount %s (%s) read-only as iso9660 on %s: %m%s", b->medium.path,
				       b->medium.type[0] ? b->medium.type : "no filesystem recognised", GB_RUN_MEDIUM,
				       fs_hint(r, "iso9660"));
	snprintf(what, sizeof(what), "medium %s", b->medium.name);
	r = check_medium_content(what);
	if (r < 0) {
		/* Unmounted, so that the retry after the rescue shell searches afresh. */
		(void)umount2(GB_RUN_MEDIUM, MNT_DETACH);
		return r;
	}
	return 0;
}

/* The image IMAGE (open as IMAGE_FD) mounted on TARGET: through dm-verity when VERITY (a
 * manifest with hash trees) is given, REL naming the image on the medium. */
static int mount_image(int image_fd, const char *image, const char *target, unsigned long flags,
		       const struct manifest *verity, const char *rel)
{
	_cleanup_close_ int loop_fd = -1;
	char loopdev[64], dev[96];
	const char *source = loopdev;
	struct stat st;
	int r;

	loop_fd = loop_attach_readonly(image_fd, image, loopdev, sizeof(loopdev));
	if (loop_fd < 0)
		return log_error_errno(loop_fd, "cannot set up a loop device for %s: %m%s", image,
				       loop_fd == -ENOENT ? " (is the loop module in modules.load?)" : "");
	if (verity && verity->n_verity) {
		if (fstat(loop_fd, &st) < 0)
			return log_error_errno(negative_errno(), "cannot stat %s: %m", loopdev);
		r = verify_attach(verity, GB_RUN_MEDIUM, rel, st.st_rdev, dev, sizeof(dev));
		if (r < 0)
			return r;
		source = dev;
	}
	r = mount_at(source, target, "squashfs", MS_RDONLY | flags, NULL);
	if (r < 0 && source == dev)
		r = verify_mount_failed(rel, r);
	if (r == -EBADMSG)
		return r;
	if (r < 0)
		return log_error_errno(r, "cannot mount %s (%s) as squashfs on %s: %m%s", image, source, target,
				       fs_hint(r, "squashfs"));
	/* Closing loop_fd is fine: autoclear detaches the device only after the umount. */
	log_info("%s on %s mounted at %s", image, source, target);
	return 0;
}

/* The payload comes in two images, split by whether data was compressed already; an
 * overlay with both as lower layers (and no upper: read-only) shows them as one tree. DIR holds
 * the images: the medium's gapbox folder, or their copies in RAM. */
static int mount_payload(const char *dir, const struct manifest *verity)
{
	const char *parts_a = GB_RUN_PAYLOAD_PARTS "/compressed", *parts_b = GB_RUN_PAYLOAD_PARTS "/stored";
	static const char opts[] = "lowerdir=" GB_RUN_PAYLOAD_PARTS "/compressed:" GB_RUN_PAYLOAD_PARTS "/stored";
	_cleanup_free_ char *payload = path_join(dir, GB_PAYLOAD_IMAGE_NAME);
	_cleanup_free_ char *stored = path_join(dir, GB_PAYLOAD_STORED_IMAGE_NAME);
	_cleanup_close_ int payload_fd = -1, stored_fd = -1;
	int r;

	if (!payload || !stored)
		return log_error_errno(-ENOMEM, "out of memory");
	payload_fd = open(payload, O_RDONLY | O_CLOEXEC);
	if (payload_fd < 0) {
		if (errno != ENOENT)
			return log_error_errno(negative_errno(), "cannot open %s: %m", payload);
		log_info("no %s on the medium: no payload", GB_MEDIUM_PAYLOAD);
		return 0;
	}
	stored_fd = open(stored, O_RDONLY | O_CLOEXEC);
	/* nosuid,nodev: the payload is data for the nodes, with no setuid programs or devices. */
	if (stored_fd < 0)
		return mount_image(payload_fd, payload, GB_RUN_PAYLOAD, MS_NOSUID | MS_NODEV, verity, GB_MEDIUM_PAYLOAD);
	if (path_is_mount_point(parts_a) <= 0 && (r = mount_image(payload_fd, payload, parts_a, MS_NOSUID | MS_NODEV, verity, GB_MEDIUM_PAYLOAD)) < 0)
		return r;
	if (path_is_mount_point(parts_b) <= 0 && (r = mount_image(stored_fd, stored, parts_b, MS_NOSUID | MS_NODEV, verity, GB_MEDIUM_PAYLOAD_STORED)) < 0)
		return r;
	r = mount_at("overlay", GB_RUN_PAYLOAD, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts);
	if (r < 0)
		return log_error_errno(r, "cannot join the payload images on %s (overlay %s): %m", GB_RUN_PAYLOAD, opts);
	log_info("payload: %s and %s joined at %s", payload, stored, GB_RUN_PAYLOAD);
	return 0;
}

int boot_mount_images(struct boot *b)
{
	const char *dir = GB_RUN_MEDIUM "/" GB_MEDIUM_DIR;
	const struct manifest *dir_verity;
	struct toram_result ram = { 0 };
	char key_id[VERIFY_KEY_ID_LEN + 1] = "", checked[160];
	int r;

	/* gapbox.toram: copies in RAM, checked against the manifest, stand in for the medium's images;
	 * a netboot fetched them there. */
	if (!b->params.fetch_url[0] && path_is_mount_point(GB_RUN_SYSTEM) <= 0) {
		/* A signed build believes the manifest, which the copies are checked against, only
		 * with the build's signature. */
		manifest_done(&b->manifest);
		r = verify_medium_signature(GB_RUN_MEDIUM, key_id, &b->manifest);
		if (r < 0)
			return r;
		r = toram_images(b->params.toram, GB_RUN_MEDIUM, GB_RUN_TORAM, &b->manifest, &ram);
		if (r < 0)
			return r;
	}
	if (path_is_mount_point(GB_RUN_TORAM) > 0)
		dir = GB_RUN_TORAM;
	/* Copies in RAM were checked as they were made; images on the medium are checked here. */
	else if (!b->params.fetch_url[0] && path_is_mount_point(GB_RUN_SYSTEM) <= 0) {
		r = verify_medium_images(b->params.verify, GB_RUN_MEDIUM, &b->manifest);
		if (r < 0)
			return r;
	}

	/* Copies in RAM and netboot images were checked whole; only the medium's go through dm-verity. */
	dir_verity = b->params.verify == GB_VERIFY_VERITY && !streq(dir, GB_RUN_TORAM) && !b->params.fetch_url[0]
			     ? &b->manifest
			     : NULL;
	if (path_is_mount_point(GB_RUN_SYSTEM) <= 0) {
		_cleanup_free_ char *system = path_join(dir, GB_SYSTEM_IMAGE_NAME);
		_cleanup_close_ int fd = -1;

		if (!system)
			return log_error_errno(-ENOMEM, "out of memory");
		fd = open(system, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return log_error_errno(negative_errno(), "cannot open %s: %m", system);
		r = mount_image(fd, system, GB_RUN_SYSTEM, 0, dir_verity, GB_MEDIUM_SYSTEM);
		if (r < 0)
			return r;
	}
	if (path_is_mount_point(GB_RUN_PAYLOAD) <= 0) {
		r = mount_payload(dir, dir_verity);
		if (r < 0)
			return r;
	}
	if (b->params.fetch_url[0])
		netboot_write_record(&b->params, &b->net, GB_RUN_BOOT_RECORD);
	else {
		static const char *const how[] = { [GB_VERIFY_OFF] = "not checked (gapbox.verify=off)",
						   [GB_VERIFY_FULL] = "checked whole before use (gapbox.verify=full)",
						   [GB_VERIFY_VERITY] = "checked by dm-verity as they are read (gapbox.verify=verity)" };

		snprintf(checked, sizeof(checked), "%s%s%s",
			 streq(dir, GB_RUN_TORAM) ? "checked whole as they were copied" : how[b->params.verify],
			 key_id[0] ? "; the manifest signed by key " : "", key_id);
		toram_finish(&ram, streq(dir, GB_RUN_TORAM), GB_RUN_MEDIUM, checked, GB_RUN_BOOT_RECORD);
	}
	return 0;
}

int boot_mount_state(struct boot *b)
{
	return persist_mount(&b->params, &b->medium, &b->persist);
}

int boot_mount_root(struct boot *b)
{
	const char *upper = GB_RUN_RW "/upper", *work = GB_RUN_RW "/work";
	char opts[640];
	int r;

	if (path_is_mount_point(GB_INITRD_SYSROOT) > 0)
		return 0;

	if (b->persist.mounted) {
		upper = b->persist.upper;
		work = b->persist.work;
	} else {
		if (path_is_mount_point(GB_RUN_RW) <= 0) {
			r = mount_at("tmpfs", GB_RUN_RW, "tmpfs", 0, "mode=0755");
			if (r < 0)
				return log_error_errno(r, "cannot mount a tmpfs on %s: %m", GB_RUN_RW);
		}
		r = mkdir_p(upper, 0755);
		if (r >= 0)
			r = mkdir_p(work, 0755);
		if (r < 0)
			return log_error_errno(r, "cannot create %s and %s: %m", upper, work);
		/* The upper dir's mode becomes the mode of / in the booted system. */
		if (chmod(upper, 0755) < 0)
			return log_error_errno(negative_errno(), "cannot chmod %s: %m", upper);
	}

	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", GB_RUN_SYSTEM, upper, work);
	r = mount_at("overlay", GB_INITRD_SYSROOT, "overlay", 0, opts);
	if (r < 0)
		return log_error_errno(r, "cannot mount overlay (%s) on %s: %m%s", opts, GB_INITRD_SYSROOT, fs_hint(r, "overlay"));
	log_info("root: overlay of %s and %s on %s", GB_RUN_SYSTEM,
		 b->persist.mounted ? "the data partition" : "a tmpfs", GB_INITRD_SYSROOT);
	return 0;
}

int boot_keep_state(struct boot *b)
{
	return persist_finish(&b->persist, GB_INITRD_SYSROOT, b->medium.name);
}

void boot_report_failure(const struct boot *b)
{
	char buf[2048];

	if (b->modules.n_failed == 0)
		return;
	modules_result_describe(&b->modules, buf, sizeof(buf));
	log_error("%u of the modules in %s did not load: %s", b->modules.n_failed, MODULES_LOAD_PATH, buf);
}
