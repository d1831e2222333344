/* Stage initramfs: gapbox-init, busybox, the storage and network modules, and the netboot HTTP
 * client gapbox-fetch with its shared libraries, as a zstd cpio (newc). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "archiveutil.h"
#include "build.h"
#include "fsutil.h"
#include "initrdconf.h"
#include "layout.h"
#include "libclosure.h"
#include "log.h"
#include "manifestsig.h"
#include "modules.h"
#include "strv.h"

/* What gapbox-init needs to reach the medium on the machines we aim at: filesystems, CD,
 * SATA, NVMe, virtio, USB and SD storage, and a USB keyboard for the rescue shell; ext4 for the
 * data partition, with the crc32c its checksums ask the crypto API for (modules.dep does not
 * name it, and nothing in the initramfs could load it on demand); dm-verity. Names a kernel lacks (other
 * architectures) are skipped; the profile's own list must resolve. */
static const char *const base_modules[] = {
	"squashfs", "overlay", "isofs", "loop", "ext4", "crc32c_generic",
	/* gapbox.verify=verity; sha256 itself is built into Debian's kernels, these are its faster
	 * forms where the CPU has them. */
	"dm_verity", "sha256_ssse3", "sha2_ce",
	"sr_mod", "sd_mod", "ata_piix", "ata_generic", "ahci", "ahci_platform", "nvme",
	"virtio_pci", "virtio_mmio", "virtio_blk", "virtio_scsi",
	"xhci_pci", "xhci_plat_hcd", "ehci_pci", "ehci_platform", "ohci_pci", "ohci_platform", "uhci_hcd",
	"usb_storage", "uas", "mmc_block", "sdhci_pci", "sdhci_acpi",
	"usbhid", "hid_generic",
	/* Netboot (gapbox.fetch=): virtual NICs, then the common server NICs that work without
	 * firmware files from the host (the image carries none). udhcpc needs AF_PACKET, built into
	 * Debian's kernels (CONFIG_PACKET=y): the name is for kernels that have it as a module. Each
	 * adds 40-500 KiB to the zstd initrd; left out, and so to list in a profile's modules: where
	 * needed: mlx5_core (~940 KiB, more than all the Intel drivers together), bnx2x and qede
	 * (useless without firmware-bnx2x / firmware-qlogic), nfp (firmware, ~320 KiB). */
	"af_packet", "virtio_net", "vmxnet3", "ena", "gve",
	"e1000", "e1000e", "igb", "igc", "ixgbe", "i40e", "ice",
	"bnxt_en", "tg3", "r8169", "mlx4_en", "hns3", "mvpp2",
	NULL,
};

struct cpio {
	struct archive *a;
	time_t mtime;
	const char *path;
};

static int cpio_add(struct cpio *c, const char *name, mode_t mode, const void *data, size_t size, const char *symlink,
		    dev_t rdev)
{
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_normalize(e, name, mode, c->mtime);
	if (symlink)
		archive_entry_set_symlink(e, symlink);
	if (S_ISCHR(mode) || S_ISBLK(mode))
		archive_entry_set_rdev(e, rdev);
	archive_entry_set_size(e, S_ISREG(mode) ? (la_int64_t)size : 0);
	if (archive_write_header(c->a, e) != ARCHIVE_OK)
		return log_error_errno(-EIO, "cannot write %s into %s: %s", name, c->path, archive_error(c->a));
	if (size && archive_write_data(c->a, data, size) != (la_ssize_t)size)
		return log_error_errno(-EIO, "cannot write %s into %s: %s", name, c->path, archive_error(c->a));
	return 0;
}

static int cpio_add_dir(struct cpio *c, const char *name)
{
	return cpio_add(c, name, S_IFDIR | 0755, NULL, 0, NULL, 0);
}

static int add_file_from_disk(struct cpio *c, const char *name, const char *src, mode_t mode)
{
	_cleanup_free_ char *data = NULL;
	size_t size;
	int r = read_file(src, 64 << 20, &data, &size);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", src);
	return cpio_add(c, name, S_IFREG | mode, data, size, NULL, 0);
}

struct pick {
	const struct kernel *k;
	const struct lib_closure *fetch;
	char **modpaths;
	struct cpio *c;
	const char *tar;
	size_t want, found;
};

/* gapbox-fetch's libraries whose data is the tar entry PATH (a library and its hard links). */
static int add_closure_files(struct pick *p, struct archive *a, struct archive_entry *e, const char *path)
{
	const struct lib_closure *f = p->fetch;
	_cleanup_free_ char *data = NULL;
	size_t size = 0;
	int r;

	for (size_t i = 0; i < f->n_entries; i++) {
		const struct closure_entry *c = &f->entries[i];
		if (c->symlink || !streq(c->source, path))
			continue;
		if (!data && (r = archive_read_data_alloc(a, 256 << 20, &data, &size)) < 0)
			return log_error_errno(r, "cannot read %s from %s: %m", path, p->tar);
		r = cpio_add(p->c, c->path, S_IFREG | (archive_entry_perm(e) & 0755), data, size, NULL, 0);
		if (r < 0)
			return r;
		p->found++;
	}
	return data ? 1 : 0;
}

/* Copy the chosen modules, busybox, e2fsck and gapbox-fetch's libraries out of the rootfs tarball
 * straight into the cpio. */
static int pick_entry(struct archive *a, struct archive_entry *e, const char *path, void *userdata)
{
	struct pick *p = userdata;
	const char *moddir = p->k->moddir, *dst = NULL;
	size_t n = strlen(moddir), size;
	_cleanup_free_ char *data = NULL;
	int r;

	if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
		return 0;
	r = add_closure_files(p, a, e, path);
	if (r != 0)
		return r < 0 ? r : p->found == p->want;
	if (streq(path, p->k->busybox))
		dst = "bin/busybox";
	else if (streq(path, p->k->e2fsck))
		dst = "bin/e2fsck";
	else if (!strncmp(path, moddir, n) && path[n] == '/' && strv_contains(p->modpaths, path + n + 1))
		dst = path;
	if (!dst)
		return 0;
	r = archive_read_data_alloc(a, 256 << 20, &data, &size);
	if (r < 0)
		return log_error_errno(r, "cannot read %s from %s: %m", path, p->tar);
	r = cpio_add(p->c, dst, S_IFREG | (strncmp(dst, "bin/", 4) == 0 ? 0755 : 0644), data, size, NULL, 0);
	if (r < 0)
		return r;
	return ++p->found == p->want;
}

static int add_from_rootfs(const struct rootfs *rootfs, const struct kernel *k, const struct lib_closure *fetch,
			   struct cpio *c, char **modpaths)
{
	struct pick p = { .k = k, .fetch = fetch, .modpaths = modpaths, .c = c, .tar = rootfs->tar,
			  .want = strv_length(modpaths) + 2 };
	int r;

	for (size_t i = 0; i < fetch->n_entries; i++)
		p.want += !fetch->entries[i].symlink;
	r = rootfs_foreach(rootfs->tar, pick_entry, &p);

	if (r < 0)
		return r;
	if (p.found < p.want)
		return log_error_errno(-ENOENT, "rootfs %s lacks %zu of the initramfs files (modules.dep lists "
						 "modules that are not there?)", rootfs->tar, p.want - p.found);
	return 0;
}

static int write_config(const struct build *b, const struct kernel *k, const struct system_image *system,
			struct cpio *c, char **modpaths)
{
	_cleanup_free_ char *conf = NULL, *load = NULL;
	struct initrd_conf ic;
	size_t len = 1;
	int r;

	initrd_conf_defaults(&ic);
	snprintf(ic.name, sizeof(ic.name), "%s", b->profile->name);
	snprintf(ic.kver, sizeof(ic.kver), "%s", k->kver);
	snprintf(ic.medium_uuid, sizeof(ic.medium_uuid), "%s", b->medium_uuid);
	snprintf(ic.medium_label, sizeof(ic.medium_label), "%s", b->medium_label);
	snprintf(ic.build_id, sizeof(ic.build_id), "%s", system->build_id);
	snprintf(ic.persist, sizeof(ic.persist), "%s", b->profile->persist);
	/* A signed build checks its images against the signed manifest by default. */
	snprintf(ic.verify, sizeof(ic.verify), "%s", gb_verify_name(b->signing_key ? GB_VERIFY_VERITY : GB_VERIFY_OFF));
	r = initrd_conf_format(&ic, &conf);
	if (r < 0)
		return r;
	if (b->signing_key) {
		_cleanup_free_ char *pem = NULL;

		r = signing_key_public_pem(b->signing_key, &pem);
		if (r >= 0)
			r = cpio_add(c, GB_INITRD_SIGNING_KEY, S_IFREG | 0644, pem, strlen(pem), NULL, 0);
		if (r < 0)
			return r;
	}
	for (char **p = modpaths; *p; p++)
		len += strlen(*p) + 1;
	load = calloc(1, len);
	if (!load)
		return -ENOMEM;
	for (char **p = modpaths; *p; p++) {
		strcat(load, *p);
		strcat(load, "\n");
	}
	r = cpio_add(c, GB_INITRD_CONF, S_IFREG | 0644, conf, strlen(conf), NULL, 0);
	if (r < 0)
		return r;
	return cpio_add(c, GB_INITRD_MODULES, S_IFREG | 0644, load, strlen(load), NULL, 0);
}

static int resolve_modules(const struct build *b, const struct kernel *k, char ***ret_paths)
{
	_cleanup_strv_free_ char **names = NULL, **paths = NULL, **missing = NULL, **missing_profile = NULL;
	struct moddep *d = NULL;
	int r;

	for (const char *const *m = base_modules; *m; m++)
		if (strv_push(&names, *m) < 0)
			return -ENOMEM;
	for (char **m = b->profile->modules; m && *m; m++)
		if (strv_push(&names, *m) < 0)
			return -ENOMEM;
	r = moddep_parse(k->moddep, k->modbuiltin, &d);
	if (r < 0)
		return log_error_errno(r, "cannot parse %s/modules.dep of the rootfs: %m", k->moddir);
	r = moddep_closure(d, names, &paths, &missing);
	moddep_free(d);
	if (r == -ENOENT || r == -ELOOP)
		return log_error_errno(r, "%s/modules.dep of the rootfs is inconsistent: %m", k->moddir);
	if (r < 0)
		return r;
	for (char **m = missing; *m; m++) {
		if (strv_contains(b->profile->modules, *m)) {
			if (strv_push(&missing_profile, *m) < 0)
				return -ENOMEM;
		} else
			log_debug("initramfs: kernel %s has no module %s, skipped", k->kver, *m);
	}
	if (missing_profile) {
		for (char **m = missing_profile; *m; m++)
			log_error("%s: module '%s' (modules:) is neither a module nor built into kernel %s",
				  b->profile->path, *m, k->kver);
		return -ENOENT;
	}
	*ret_paths = TAKE_PTR(paths);
	return 0;
}

/* Every folder above PATH (a path in the cpio), once, parents first: cpio needs them in order. */
static int parent_dirs(const char *path, char ***dirs)
{
	_cleanup_free_ char *copy = strdup(path);
	int r;

	if (!copy)
		return -ENOMEM;
	for (char *s = strchr(copy, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (!strv_contains(*dirs, copy) && (r = strv_push(dirs, copy)) < 0)
			return r;
		*s = '/';
	}
	return 0;
}

/* The folders gapbox-init needs: mount points, its config's folder, the modules', gapbox-fetch's
 * and its libraries'. */
static int initramfs_dirs(const struct kernel *k, char **modpaths, const struct lib_closure *fetch, char ***ret)
{
	static const char *const fixed[] = { "bin", "dev", "proc", "run", "sys", "tmp", GB_INITRD_SYSROOT + 1, NULL };
	_cleanup_strv_free_ char **dirs = NULL;
	int r = 0;

	for (const char *const *d = fixed; *d && r >= 0; d++)
		r = strv_push(&dirs, *d);
	if (r >= 0)
		r = parent_dirs(GB_INITRD_CONF, &dirs);
	if (r >= 0)
		r = parent_dirs(GB_INITRD_MODULES, &dirs);
	for (char **m = modpaths; r >= 0 && *m; m++) {
		_cleanup_free_ char *full = path_join(k->moddir, *m);
		r = full ? parent_dirs(full, &dirs) : -ENOMEM;
	}
	if (r >= 0)
		r = parent_dirs(GB_INITRD_FETCH, &dirs);
	for (size_t i = 0; r >= 0 && i < fetch->n_entries; i++)
		r = parent_dirs(fetch->entries[i].path, &dirs);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(dirs);
	return 0;
}

/* Whether gapbox-fetch's closure has PATH (the symlinks it crossed, such as usrmerge's lib). */
static bool closure_has(const struct lib_closure *fetch, const char *path)
{
	for (size_t i = 0; i < fetch->n_entries; i++)
		if (streq(fetch->entries[i].path, path))
			return true;
	return false;
}

static int add_closure_symlinks(struct cpio *c, const struct lib_closure *fetch)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < fetch->n_entries; i++)
		if (fetch->entries[i].symlink)
			r = cpio_add(c, fetch->entries[i].path, S_IFLNK | 0777, NULL, 0, fetch->entries[i].symlink, 0);
	return r;
}

int stage_initramfs(struct build *b, const struct rootfs *rootfs, const struct kernel *k, const struct system_image *system,
		    const struct lib_closure *fetch)
{
	_cleanup_archive_write_ struct archive *a = archive_write_new();
	_cleanup_strv_free_ char **modpaths = NULL, **dirs = NULL;
	_cleanup_free_ char *init = NULL, *out = build_medium_path(b, GB_MEDIUM_INITRD);
	int r;

	if (!a || !out)
		return -ENOMEM;
	r = build_target_binary(b, "gapbox-init", &init);
	if (r < 0)
		return r;
	r = resolve_modules(b, k, &modpaths);
	if (r < 0)
		return r;
	r = initramfs_dirs(k, modpaths, fetch, &dirs);
	if (r < 0)
		return r;

	struct cpio c = { .a = a, .mtime = b->epoch, .path = out };
	archive_write_set_format_cpio_newc(a);
	if (archive_write_add_filter_zstd(a) != ARCHIVE_OK)
		return log_error_errno(-ENOTSUP, "libarchive cannot write zstd: %s", archive_error(a));
	if (archive_write_open_filename(a, out) != ARCHIVE_OK)
		return log_error_errno(-EIO, "cannot create %s: %s", out, archive_error(a));

	for (char **d = dirs; *d && r >= 0; d++)
		r = cpio_add_dir(&c, *d);
	if (r >= 0 && !strncmp(k->moddir, "usr/", 4) && !closure_has(fetch, "lib"))
		r = cpio_add(&c, "lib", S_IFLNK | 0777, NULL, 0, "usr/lib", 0);
	if (r >= 0)
		r = add_closure_symlinks(&c, fetch);
	/* The kernel opens /dev/console before running /init; without the node init has no output. */
	if (r >= 0)
		r = cpio_add(&c, "dev/console", S_IFCHR | 0600, NULL, 0, NULL, makedev(5, 1));
	if (r >= 0)
		r = add_file_from_disk(&c, "init", init, 0755);
	if (r >= 0)
		r = add_file_from_disk(&c, GB_INITRD_FETCH, fetch->program, 0755);
	if (r >= 0)
		r = cpio_add(&c, "bin/sh", S_IFLNK | 0777, NULL, 0, "busybox", 0);
	if (r >= 0)
		r = write_config(b, k, system, &c, modpaths);
	if (r >= 0)
		r = add_from_rootfs(rootfs, k, fetch, &c, modpaths);
	if (r < 0)
		return r;
	if (archive_write_close(a) != ARCHIVE_OK)
		return log_error_errno(-EIO, "cannot write %s: %s", out, archive_error(a));
	log_info("initramfs: %zu modules for kernel %s; %s with %zu shared libraries", strv_length(modpaths), k->kver,
		 GB_INITRD_FETCH, strv_length(fetch->sonames));
	return build_add_artifact(b, GB_MEDIUM_INITRD);
}
