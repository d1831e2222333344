/* Stage kernel: find the kernel, its module index and busybox in the rootfs tarball, and put
 * the kernel on the medium. */
#include <fcntl.h>
#include <string.h>

#include "archiveutil.h"
#include "build.h"
#include "fsutil.h"
#include "layout.h"
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

/* One pass: data of everything else is skipped by seeking. The module index is read whole;
 * the kernel is saved only once the index tells which kernel the modules belong to, so every
 * candidate name is remembered. */
static int scan_rootfs(const char *tar, struct kernel *k, char ***kernels)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	struct archive_entry *e;
	int r;

	r = archive_open_tar_file(tar, &a, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot open rootfs %s: %m", tar);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *path = archive_path_relative(archive_entry_pathname(e));
		_cleanup_free_ char *kver = NULL;

		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		if ((kver = kver_of_moddep(path, "modules.dep"))) {
			if (k->kver && !streq(k->kver, kver))
				return log_error_errno(-EINVAL, "rootfs %s holds modules of two kernels (%s and %s); "
								"a profile must install exactly one", tar, k->kver, kver);
			free(k->kver);
			k->kver = TAKE_PTR(kver);
			free(k->moddir);
			k->moddir = strndup(path, strrchr(path, '/') - path);
			free(k->moddep);
			r = k->moddir ? archive_read_data_alloc(a, 64 << 20, &k->moddep, NULL) : -ENOMEM;
		} else if ((kver = kver_of_moddep(path, "modules.builtin"))) {
			free(k->modbuiltin);
			r = archive_read_data_alloc(a, 16 << 20, &k->modbuiltin, NULL);
		} else if (!strncmp(path, "boot/vmlinuz-", 13) || !strncmp(path, "boot/vmlinux-", 13))
			r = strv_push(kernels, path);
		else if (streq(path, "usr/bin/busybox") || streq(path, "bin/busybox")) {
			free(k->busybox);
			r = (k->busybox = strdup(path)) ? 0 : -ENOMEM;
		} else
			continue;
		if (r < 0)
			return log_error_errno(r, "cannot read %s from %s: %m", path, tar);
	}
	if (r != ARCHIVE_EOF)
		return log_error_errno(-EIO, "cannot read rootfs %s: %s", tar, archive_error(a));
	return 0;
}

/* Second, short pass (headers only, data skipped) to copy the kernel out. */
static int copy_kernel(const char *tar, const char *path, const char *dst)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	struct archive_entry *e;
	int r;

	r = archive_open_tar_file(tar, &a, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot open rootfs %s: %m", tar);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		if (streq(archive_path_relative(archive_entry_pathname(e)), path))
			break;
	if (r != ARCHIVE_OK)
		return log_error_errno(-EIO, "cannot read %s from %s: %s", path, tar, archive_error(a));
	r = save_entry(a, dst);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", dst);
	return 0;
}

int stage_kernel(struct build *b, const struct rootfs *rootfs, struct kernel *ret)
{
	_cleanup_(kernel_done) struct kernel k = { 0 };
	_cleanup_strv_free_ char **kernels = NULL;
	_cleanup_free_ char *dst = build_medium_path(b, GB_MEDIUM_KERNEL);
	int r;

	if (!dst)
		return -ENOMEM;
	r = scan_rootfs(rootfs->tar, &k, &kernels);
	if (r < 0)
		return r;
	if (!k.kver || !k.moddep)
		return log_error_errno(-ENOENT, "rootfs %s has no lib/modules/<version>/modules.dep: is the kernel "
						"package '%s' installed?", rootfs->tar, b->profile->kernel);
	for (char **c = kernels; c && *c && !k.path; c++)
		if (streq(*c + 13, k.kver) && !(k.path = strdup(*c)))
			return -ENOMEM;
	if (!k.path)
		return log_error_errno(-ENOENT, "rootfs %s has modules for kernel %s but no boot/vmlinuz-%s", rootfs->tar,
				       k.kver, k.kver);
	if (!k.busybox)
		return log_error_errno(-ENOENT, "rootfs %s has no usr/bin/busybox: the profile must install "
						"busybox-static (the initramfs rescue shell)", rootfs->tar);
	r = copy_kernel(rootfs->tar, k.path, dst);
	if (r < 0)
		return r;
	log_info("kernel: %s (%s)", k.kver, k.path);
	r = build_add_artifact(b, GB_MEDIUM_KERNEL);
	if (r < 0)
		return r;
	*ret = k;
	k = (struct kernel){ 0 };
	return 0;
}
