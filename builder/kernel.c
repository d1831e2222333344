/* Stage kernel: find the kernel, its module index, busybox and e2fsck in the rootfs tarball, and put
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

struct scan {
	const char *tar;
	struct kernel *k;
	char **kernels;  /* every boot/vmlinuz-*: which one is used depends on the modules found */
};

/* One pass: data of everything else is skipped by seeking. The module index is read whole;
 * the kernel is saved only once the index tells which kernel the modules belong to. */
static int scan_entry(struct archive *a, struct archive_entry *e, const char *path, void *userdata)
{
	struct scan *sc = userdata;
	struct kernel *k = sc->k;
	_cleanup_free_ char *kver = NULL;
	int r;

	if (archive_entry_filetype(e) != AE_IFREG)
		return 0;
	if ((kver = kver_of_moddep(path, "modules.dep"))) {
		if (k->kver && !streq(k->kver, kver))
			return log_error_errno(-EINVAL, "rootfs %s holds modules of two kernels (%s and %s); "
							"a profile must install exactly one", sc->tar, k->kver, kver);
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
		r = strv_push(&sc->kernels, path);
	else if (streq(path, "usr/bin/busybox") || streq(path, "bin/busybox")) {
		free(k->busybox);
		r = (k->busybox = strdup(path)) ? 0 : -ENOMEM;
	} else if (streq(path, "usr/sbin/e2fsck.static") || streq(path, "sbin/e2fsck.static")) {
		free(k->e2fsck);
		r = (k->e2fsck = strdup(path)) ? 0 : -ENOMEM;
	} else
		return 0;
	if (r < 0)
		return log_error_errno(r, "cannot read %s from %s: %m", path, sc->tar);
	return 0;
}

struct copy {
	const char *want;
	const char *dst;
};

/* Second, short pass (headers only, data skipped) to copy the kernel out. */
static int copy_entry(struct archive *a, struct archive_entry *e, const char *path, void *userdata)
{
	struct copy *c = userdata;
	int r;

	(void)e;
	if (!streq(path, c->want))
		return 0;
	r = save_entry(a, c->dst);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", c->dst);
	return 1;
}

int stage_kernel(struct build *b, const struct rootfs *rootfs, struct kernel *ret)
{
	_cleanup_(kernel_done) struct kernel k = { 0 };
	_cleanup_free_ char *dst = build_medium_path(b, GB_MEDIUM_KERNEL);
	struct scan sc = { .tar = rootfs->tar, .k = &k };
	int r;

	if (!dst)
		return -ENOMEM;
	r = rootfs_foreach(rootfs->tar, scan_entry, &sc);
	_cleanup_strv_free_ char **kernels = TAKE_PTR(sc.kernels);
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
	if (!k.e2fsck)
		return log_error_errno(-ENOENT, "rootfs %s has no usr/sbin/e2fsck.static: the profile must install "
						"e2fsck-static (the initramfs checks the data partition with it)", rootfs->tar);
	r = rootfs_foreach(rootfs->tar, copy_entry, &(struct copy){ .want = k.path, .dst = dst });
	if (r < 0)
		return r;
	if (!path_exists(dst))
		return log_error_errno(-ENOENT, "rootfs %s: %s went missing on the second read", rootfs->tar, k.path);
	log_info("kernel: %s (%s)", k.kver, k.path);
	r = build_add_artifact(b, GB_MEDIUM_KERNEL);
	if (r < 0)
		return r;
	*ret = k;
	k = (struct kernel){ 0 };
	return 0;
}
