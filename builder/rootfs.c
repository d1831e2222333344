/* Stage rootfs: the admin OS as a tarball from mmdebstrap, cached under its content key. */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "archiveutil.h"
#include "archivestate.h"
#include "build.h"
#include "cachekey.h"
#include "fsutil.h"
#include "helper.h"
#include "log.h"
#include "sources.h"
#include "spawn.h"
#include "strv.h"

int rootfs_foreach(const char *tar, rootfs_entry_fn fn, void *userdata)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	struct archive_entry *e;
	int r;

	r = archive_open_tar_file(tar, &a, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot open rootfs %s: %m", tar);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		_cleanup_free_ char *path = strdup(archive_path_relative(archive_entry_pathname(e)));
		if (!path)
			return -ENOMEM;
		if (interrupted())
			return -EINTR;
		r = fn(a, e, path, userdata);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	if (r != ARCHIVE_EOF)
		return log_error_errno(-EIO, "cannot read rootfs %s: %s", tar, archive_error(a));
	return 0;
}

/* Packages the build itself relies on, whatever the profile lists: the initramfs takes its
 * rescue shell from busybox-static and checks the data partition with e2fsck-static; it creates
 * that partition's filesystem with the image's own mke2fs (e2fsprogs). */
static const char *const required_packages[] = { "busybox-static", "e2fsck-static", "e2fsprogs", NULL };

static int tool_version(const struct build *b, char **ret)
{
	_cleanup_free_ char *log = build_log_path(b, "mmdebstrap-version"), *text = NULL;
	char *argv[] = { "mmdebstrap", "--version", NULL };
	int r;

	if (!log)
		return -ENOMEM;
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log });
	if (r != 0)
		return log_error_errno(r < 0 ? r : -ENOEXEC, "cannot run mmdebstrap --version (is mmdebstrap installed? run make deps)");
	r = read_file(log, 4096, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	*ret = TAKE_PTR(text);
	return 0;
}

static int rootfs_sources(const struct profile *p, char ***ret)
{
	if (p->mirror) {
		_cleanup_strv_free_ char **l = NULL;
		char *line;
		if (asprintf(&line, "deb %s %s main", p->mirror, p->suite) < 0 || strv_consume(&l, line) < 0)
			return -ENOMEM;
		*ret = TAKE_PTR(l);
		return 0;
	}
	int r = host_apt_sources("/", p->suite, ret);
	if (r == -ENOENT)
		return log_error_errno(r, "%s: no mirror is set and the host's apt sources (/etc/apt/sources.list, "
					  "/etc/apt/sources.list.d/) have no entry for suite '%s'; set mirror: in the profile",
				       p->path, p->suite);
	if (r < 0)
		return log_error_errno(r, "cannot read the host's apt sources: %m");
	return 0;
}

static int rootfs_packages(const struct profile *p, char ***ret)
{
	_cleanup_strv_free_ char **l = NULL;
	for (char **s = p->packages; s && *s; s++)
		if (!strv_contains(l, *s) && strv_push(&l, *s) < 0)
			return -ENOMEM;
	if (!strv_contains(l, p->kernel) && strv_push(&l, p->kernel) < 0)
		return -ENOMEM;
	for (const char *const *s = required_packages; *s; s++)
		if (!strv_contains(l, *s) && strv_push(&l, *s) < 0)
			return -ENOMEM;
	/* The signed boot chain comes from the archive like the signed kernel, and the build takes
	 * it out of the rootfs (builder/grub.c), as it takes systemd's EFI stub for a kernel image
	 * signed with the operator's key (builder/uki.c). Installed whenever UEFI is on, so that images with
	 * and without boot.secure_boot share one cached rootfs. */
	if (p->boot.uefi) {
		const char *signed_grub = streq(p->arch, "arm64") ? "grub-efi-arm64-signed" : "grub-efi-amd64-signed";
		const char *chain[] = { "shim-signed", signed_grub, "systemd-boot-efi" };
		for (size_t i = 0; i < ARRAY_SIZE(chain); i++)
			if (!strv_contains(l, chain[i]) && strv_push(&l, chain[i]) < 0)
				return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

static int run_mmdebstrap(struct build *b, char **sources, char **packages, time_t epoch, const char *out)
{
	const struct profile *p = b->profile;
	_cleanup_free_ char *log = build_log_path(b, "rootfs"), *variant = NULL, *archs = NULL, *include = NULL;
	_cleanup_free_ char *tmpdir = NULL, *epoch_env = NULL;
	_cleanup_strv_free_ char **argv = NULL;
	size_t len = 1;
	int r;

	for (char **s = packages; *s; s++)
		len += strlen(*s) + 1;
	include = calloc(1, len + strlen("--include="));
	if (!log || !include || asprintf(&variant, "--variant=%s", p->variant) < 0 ||
	    asprintf(&archs, "--architectures=%s", p->arch) < 0 || asprintf(&tmpdir, "TMPDIR=%s", b->workdir) < 0 ||
	    asprintf(&epoch_env, "SOURCE_DATE_EPOCH=%lld", (long long)epoch) < 0)
		return -ENOMEM;
	strcpy(include, "--include=");
	for (char **s = packages; *s; s++) {
		if (s != packages)
			strcat(include, ",");
		strcat(include, *s);
	}

	const char *fixed[] = { "mmdebstrap", "--mode=root", "--format=tar", variant, archs, include,
				"--aptopt=Acquire::Languages \"none\"", p->suite, out };
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		if (strv_push(&argv, fixed[i]) < 0)
			return -ENOMEM;
	/* The image boots through gapbox's own initramfs, and Debian's is left out of the root
	 * stream: do not let the kernel's postinst build one. Under qemu-user that is minutes of
	 * an arm64 bootstrap. update-initramfs is diverted to a no-op while packages are
	 * installed, then put back, so the running system has the real one. */
	if (!streq(p->variant, "extract") && !streq(p->variant, "custom")) {
		const char *hooks[] = {
			"--essential-hook=chroot \"$1\" dpkg-divert --quiet --local --rename "
			"--divert /usr/sbin/update-initramfs.gapbox --add /usr/sbin/update-initramfs && "
			"printf '#!/bin/sh\\n# gapbox: no initramfs while the rootfs is bootstrapped\\nexit 0\\n' "
			"> \"$1/usr/sbin/update-initramfs\" && chmod 0755 \"$1/usr/sbin/update-initramfs\"",
			"--customize-hook=rm -f \"$1/usr/sbin/update-initramfs\" && chroot \"$1\" dpkg-divert --quiet "
			"--local --rename --divert /usr/sbin/update-initramfs.gapbox --remove /usr/sbin/update-initramfs",
		};
		for (size_t i = 0; i < ARRAY_SIZE(hooks); i++)
			if (strv_push(&argv, hooks[i]) < 0)
				return -ENOMEM;
	}
	for (char **s = sources; *s; s++)
		if (strv_push(&argv, *s) < 0)
			return -ENOMEM;

	/* mmdebstrap's own scratch chroot goes into our work folder, so an interrupted build
	 * leaves nothing behind in /tmp. */
	char *env[] = { tmpdir, epoch_env, NULL };
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log, .env_add = env });
	if (r != 0)
		return build_helper_failed(b, "mmdebstrap", r, log);
	return 0;
}

/* One bootstrap per architecture at a time, across every build using this cache: a second
 * build of the same recipe then finds the first one's tarball instead of making its own, and
 * bootstraps of foreign architectures (minutes each under qemu-user) never pile up. */
static int lock_bootstrap(const char *dir, const char *arch, int *ret_fd)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&path, "%s/.bootstrap-%s.lock", dir, arch) < 0)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open the cache lock %s: %m", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return log_error_errno(-errno, "cannot lock %s: %m", path);
		log_info("rootfs: another build is bootstrapping %s with this cache; waiting for it (%s)", arch, path);
		if (flock(fd, LOCK_EX) < 0)
			return errno == EINTR ? -EINTR : log_error_errno(-errno, "cannot lock %s: %m", path);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* mmdebstrap into a temporary name beside PATH, renamed into place when complete. */
static int bootstrap(struct build *b, char **sources, char **packages, time_t epoch, const char *path)
{
	_cleanup_free_ char *tmp = NULL;
	int r;

	if (asprintf(&tmp, "%s.tmp-%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	log_info("rootfs: %s, running mmdebstrap for %s/%s (%zu packages)", b->no_cache ? "--no-cache" : "cache miss",
		 b->profile->suite, b->profile->arch, strv_length(packages));
	r = run_mmdebstrap(b, sources, packages, epoch, tmp);
	if (r >= 0 && rename(tmp, path) < 0)
		r = log_error_errno(-errno, "cannot rename %s to %s: %m", tmp, path);
	if (r < 0)
		unlink(tmp);
	return r;
}

int stage_rootfs(struct build *b, struct rootfs *ret)
{
	const struct profile *p = b->profile;
	_cleanup_strv_free_ char **sources = NULL, **packages = NULL;
	_cleanup_free_ char *version = NULL, *dir = NULL, *path = NULL, *key_copy = NULL;
	_cleanup_close_ int lock = -1;
	char key[SHA256_HEX_LEN + 1];
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	struct archive_state archive;
	int r;

	r = rootfs_sources(p, &sources);
	if (r < 0)
		return r;
	r = archive_state_read(sources, &archive);
	if (r < 0)
		return r;
	r = rootfs_packages(p, &packages);
	if (r < 0)
		return r;
	r = tool_version(b, &version);
	if (r < 0)
		return r;

	struct rootfs_recipe recipe = {
		.tool_version = version, .arch = p->arch, .suite = p->suite, .variant = p->variant,
		.sources = sources, .packages = packages, .epoch = epoch && *epoch ? epoch : NULL,
		.archive = archive.hex,
	};
	r = rootfs_cache_key(&recipe, key);
	if (r < 0)
		return r;
	dir = path_join(b->cache_dir, "rootfs");
	if (!dir || asprintf(&path, "%s/%s-%s-%.16s.tar", dir, p->suite, p->arch, key) < 0 || !(key_copy = strdup(key)))
		return -ENOMEM;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create cache folder %s: %m", dir);
	r = lock_bootstrap(dir, p->arch, &lock);
	if (r < 0)
		return r;

	*ret = (struct rootfs){ .cached = !b->no_cache && path_exists(path), .archive_date = archive.date };
	memcpy(ret->archive_state, archive.hex, sizeof(archive.hex));
	if (ret->cached)
		log_info("rootfs: cache hit %s", path);
	/* Without SOURCE_DATE_EPOCH, the archive's own date: a function of what the key covers. */
	else if ((r = bootstrap(b, sources, packages, recipe.epoch ? b->epoch : archive.date, path)) < 0)
		return r;
	ret->tar = TAKE_PTR(path);
	ret->key = TAKE_PTR(key_copy);
	return 0;
}
