/* Stage kernel: find the kernel, its module index and busybox in the rootfs tarball. */
#include <fcntl.h>
#include <string.h>

#include "archiveutil.h"
#include "build.h"
#include "fsutil.h"
#include "log.h"
#include "strv.h"

/* "usr/lib/modules/<kver>/FILE" or "lib/modules/<kver>/FILE" → kver, else NULL. */
static char *kver_of_moddep(const char *path, const char *file)
{
	const char *kver;

	if (!strncmp(path, "usr/lib/modules/", 16))
		kver = path + 16;
	else if (!strncmp(path, "lib/modules/", 12))
		kver = path + 12;
	else
		return NULL;
	const char *slash = strchr(kver, '/');
	if (!slash || slash == kver || !streq(slash + 1, file))
		return NULL;
	return strndup(kver, slash - kver);
}

static int save_entry(struct archive *a, const char *dst)
{
	_cleanup_close_ int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	return archive_read_data_to_fd(a, fd);
}

int stage_kernel(struct build *b)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	_cleanup_free_ char *kernel_dst = NULL, *gbdir = NULL;
	struct archive_entry *e;
	char **kernels = NULL;
	int r;

	r = archive_open_tar_file(b->rootfs_tar, &a, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot open rootfs %s: %m", b->rootfs_tar);

	/* One pass: data of everything else is skipped by seeking. The module index is read
	 * whole; vmlinuz is saved only once the index tells which kernel the modules belong to,
	 * so remember every candidate name. */
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *path = archive_path_relative(archive_entry_pathname(e));
		_cleanup_free_ char *kver = NULL;

		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		if ((kver = kver_of_moddep(path, "modules.dep"))) {
			if (b->kver && !streq(b->kver, kver))
				return log_error_errno(-EINVAL, "rootfs %s holds modules of two kernels (%s and %s); "
								"a profile must install exactly one", b->rootfs_tar, b->kver, kver);
			b->kver = TAKE_PTR(kver);
			free(b->moddir);
			b->moddir = strndup(path, strrchr(path, '/') - path);
			r = archive_read_data_alloc(a, 64 << 20, &b->moddep_text, NULL);
		} else if ((kver = kver_of_moddep(path, "modules.builtin")))
			r = archive_read_data_alloc(a, 16 << 20, &b->modbuiltin_text, NULL);
		else if (!strncmp(path, "boot/vmlinuz-", 13) || !strncmp(path, "boot/vmlinux-", 13))
			r = strv_push(&kernels, path);
		else if (streq(path, "usr/bin/busybox") || streq(path, "bin/busybox")) {
			free(b->busybox_path);
			b->busybox_path = strdup(path);
			r = b->busybox_path ? 0 : -ENOMEM;
		} else
			continue;
		if (r < 0) {
			strv_free(kernels);
			return log_error_errno(r, "cannot read %s from %s: %m", path, b->rootfs_tar);
		}
	}
	if (r != ARCHIVE_EOF) {
		strv_free(kernels);
		return log_error_errno(-EIO, "cannot read rootfs %s: %s", b->rootfs_tar, archive_error(a));
	}

	if (!b->kver || !b->moddep_text) {
		strv_free(kernels);
		return log_error_errno(-ENOENT, "rootfs %s has no lib/modules/<version>/modules.dep: is the kernel "
						"package '%s' installed?", b->rootfs_tar, b->profile->kernel);
	}
	for (char **k = kernels; k && *k; k++)
		if (streq(*k + 13, b->kver))
			b->kernel_path = strdup(*k);
	strv_free(kernels);
	if (!b->kernel_path)
		return log_error_errno(-ENOENT, "rootfs %s has modules for kernel %s but no boot/vmlinuz-%s",
				       b->rootfs_tar, b->kver, b->kver);
	if (!b->busybox_path)
		return log_error_errno(-ENOENT, "rootfs %s has no usr/bin/busybox: the profile must install "
						"busybox-static (the initramfs rescue shell)", b->rootfs_tar);

	/* Second, short pass (headers only, data skipped) to copy the kernel out. */
	archive_read_free(a);
	a = NULL;
	r = archive_open_tar_file(b->rootfs_tar, &a, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot open rootfs %s: %m", b->rootfs_tar);
	gbdir = path_join(b->isotree, "gapbox");
	kernel_dst = path_join(b->isotree, "gapbox/vmlinuz");
	if (!gbdir || !kernel_dst)
		return -ENOMEM;
	r = mkdir_p(gbdir, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create %s: %m", gbdir);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		if (streq(archive_path_relative(archive_entry_pathname(e)), b->kernel_path))
			break;
	if (r != ARCHIVE_OK)
		return log_error_errno(-EIO, "cannot read %s from %s: %s", b->kernel_path, b->rootfs_tar, archive_error(a));
	r = save_entry(a, kernel_dst);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", kernel_dst);
	log_info("kernel: %s (%s)", b->kver, b->kernel_path);
	return build_add_artifact(b, "gapbox/vmlinuz", kernel_dst);
}
