/* Stage boot: the GRUB menu, the BIOS El Torito image and the UEFI loader in a FAT ESP image; and
 * grub-mkimage for every GRUB image gapbox makes (the netboot folder's too). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "archiveutil.h"
#include "build.h"
#include "fsutil.h"
#include "grub.h"
#include "grubcfg.h"
#include "helper.h"
#include "layout.h"
#include "log.h"
#include "spawn.h"
#include "strv.h"
#include "uki.h"

struct efi_target {
	const char *arch;
	const char *grub_format;  /* grub-mkimage -O, also the folder under /usr/lib/grub */
	const char *loader;       /* removable-media path the firmware looks for */
	/* Secure Boot: Debian's signed files in the rootfs, and the names shim looks for beside
	 * itself. shim (signed by Microsoft's UEFI CA) is the loader; it checks GRUB and MokManager
	 * against Debian's key, and GRUB has shim check the kernel. */
	const char *shim;
	const char *grub_signed;  /* the removable-media build: finds the medium by /.disk/info */
	const char *grub_name;
	const char *mok;
	const char *mok_name;
	const char *stub;         /* systemd's EFI stub, for a kernel image signed with the site's key */
};

static const struct efi_target efi_targets[] = {
	{ "amd64", "x86_64-efi", "BOOTX64.EFI", "usr/lib/shim/shimx64.efi.signed",
	  "usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed", "grubx64.efi", "usr/lib/shim/mmx64.efi.signed", "mmx64.efi",
	  "usr/lib/systemd/boot/efi/linuxx64.efi.stub" },
	{ "arm64", "arm64-efi", "BOOTAA64.EFI", "usr/lib/shim/shimaa64.efi.signed",
	  "usr/lib/grub/arm64-efi-signed/gcdaa64.efi.signed", "grubaa64.efi", "usr/lib/shim/mmaa64.efi.signed", "mmaa64.efi",
	  "usr/lib/systemd/boot/efi/linuxaa64.efi.stub" },
};

/* Everything the built-in config and the menu use; no module is loaded from the medium, so
 * a loader works even when it cannot read /boot/grub. */
static const char *const grub_modules_common[] = {
	"normal", "configfile", "search", "search_fs_uuid", "search_label", "linux", "echo", "test", "iso9660",
	"part_gpt", "part_msdos", "fat", "ls", "cat", "sleep", "reboot", "halt", "true", "gzio", NULL,
};
static const char *const grub_modules_x86[] = { "serial", "terminal", NULL };
static const char *const grub_modules_pc[] = { "biosdisk", NULL };
static const char *const grub_modules_efi[] = { "efi_gop", NULL };

static int push_all(char ***argv, const char *const *list)
{
	for (; *list; list++)
		if (strv_push(argv, *list) < 0)
			return -ENOMEM;
	return 0;
}

int grub_image_make(const struct grub_image *img, const char *log_path, const char *out_dir)
{
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_free_ char *dir = NULL;
	int r;

	if (asprintf(&dir, "/usr/lib/grub/%s", img->platform) < 0)
		return dir = NULL, -ENOMEM;
	if (!path_is_dir(dir))
		return log_error_errno(-ENOENT, "GRUB modules for %s are not installed (%s missing): run make deps", img->platform, dir);
	const char *head[] = { "grub-mkimage", "-d", dir, "-O", img->format ? img->format : img->platform, "-p", img->prefix,
			       "-o", img->out };
	for (size_t i = 0; i < ARRAY_SIZE(head); i++)
		if (strv_push(&argv, head[i]) < 0)
			return -ENOMEM;
	if (img->early_cfg && (strv_push(&argv, "-c") < 0 || strv_push(&argv, img->early_cfg) < 0))
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(img->modules); i++)
		if (img->modules[i] && push_all(&argv, img->modules[i]) < 0)
			return -ENOMEM;
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log_path });
	if (r != 0)
		return helper_failed("grub-mkimage", r, log_path, out_dir);
	return 0;
}

/* The medium's GRUB images: everything comes from the image itself, the menu from the medium. */
static int grub_mkimage(struct build *b, const char *platform, const char *early_cfg, const char *out, bool efi)
{
	_cleanup_free_ char *log = build_log_path(b, "grub-mkimage");
	bool x86 = streq(b->profile->arch, "amd64");
	struct grub_image img = {
		.platform = platform, .format = efi ? platform : "i386-pc-eltorito", .prefix = "/" GB_MEDIUM_GRUB_DIR,
		.early_cfg = early_cfg, .out = out,
		.modules = { grub_modules_common, x86 ? grub_modules_x86 : NULL, efi ? grub_modules_efi : grub_modules_pc },
	};

	if (!log)
		return -ENOMEM;
	return grub_image_make(&img, log, b->workdir);
}

static int run_mtools(struct build *b, char **argv, const char *log)
{
	_cleanup_free_ char *epoch = NULL;
	if (asprintf(&epoch, "SOURCE_DATE_EPOCH=%lld", (long long)b->epoch) < 0)
		return -ENOMEM;
	char *env[] = { epoch, "MTOOLS_SKIP_CHECK=1", NULL };
	int r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log, .env_add = env });
	if (r != 0)
		return build_helper_failed(b, argv[0], r, log);
	return 0;
}

/* One file of \EFI\BOOT: where it is in the work folder, and its name there. */
struct esp_file {
	const char *path;
	const char *name;
};

/* A FAT image holding only \EFI\BOOT and FILES (N of them), sized to fit; no loop mount needed. */
static int make_esp(struct build *b, const struct esp_file *files, size_t n, const char *esp)
{
	_cleanup_free_ char *log = build_log_path(b, "mtools"), *sectors = NULL, *serial = NULL;
	off_t total = 0;
	struct stat st;
	int r;

	if (!log)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (stat(files[i].path, &st) < 0)
			return log_error_errno(-errno, "cannot stat %s: %m", files[i].path);
		total += st.st_size;
	}
	/* FAT12/16 overhead is small; one MiB of slack keeps it comfortably valid. */
	off_t size = ((total + (1 << 20)) / (1 << 20) + 1) * (1 << 20);
	if (asprintf(&sectors, "%lld", (long long)(size / 512)) < 0 ||
	    asprintf(&serial, "%08llx", (unsigned long long)b->epoch & 0xffffffffULL) < 0)
		return -ENOMEM;
	char *mformat[] = { "mformat", "-C", "-i", (char *)esp, "-T", sectors, "-h", "64", "-s", "32", "-N", serial,
			    "-v", GB_MEDIUM_ESP_LABEL, "::", NULL };
	char *mmd[] = { "mmd", "-i", (char *)esp, "::/EFI", "::/EFI/BOOT", NULL };
	unlink(esp); /* mformat -C refuses to overwrite */
	if ((r = run_mtools(b, mformat, log)) < 0 || (r = run_mtools(b, mmd, log)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *dst = NULL;

		if (asprintf(&dst, "::/EFI/BOOT/%s", files[i].name) < 0)
			return -ENOMEM;
		char *mcopy[] = { "mcopy", "-i", (char *)esp, (char *)files[i].path, dst, NULL };
		if ((r = run_mtools(b, mcopy, log)) < 0)
			return r;
	}
	return 0;
}

struct signed_copy {
	const char *want[4];
	const char *dst[4];
	size_t n;
	unsigned found;
};

static int copy_signed_entry(struct archive *a, struct archive_entry *e, const char *path, void *userdata)
{
	struct signed_copy *c = userdata;

	(void)e;
	for (size_t i = 0; i < c->n; i++)
		if (streq(path, c->want[i])) {
			_cleanup_close_ int fd = open(c->dst[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			int r = fd < 0 ? -errno : archive_read_data_to_fd(a, fd);

			if (r < 0)
				return log_error_errno(r, "cannot write %s: %m", c->dst[i]);
			c->found |= 1u << i;
			return c->found == (1u << c->n) - 1 ? 1 : 0;
		}
	return 0;
}

/* Secure Boot: shim, the signed GRUB and MokManager out of the rootfs, into the work folder; with
 * STUB, systemd's EFI stub too (at STUB), in the same pass over the tarball. */
static int signed_chain(struct build *b, const struct rootfs *rootfs, const struct efi_target *t, const char *stub,
			struct esp_file ret[3])
{
	struct signed_copy c = { .want = { t->shim, t->grub_signed, t->mok, t->stub }, .n = stub ? 4 : 3 };
	char *paths[3] = { build_work_path(b, t->loader), build_work_path(b, t->grub_name), build_work_path(b, t->mok_name) };
	int r = 0;

	for (size_t i = 0; i < 3; i++)
		if (!paths[i])
			r = -ENOMEM;
	for (size_t i = 0; r >= 0 && i < 3; i++)
		c.dst[i] = paths[i];
	c.dst[3] = stub;
	if (r >= 0)
		r = rootfs_foreach(rootfs->tar, copy_signed_entry, &c);
	for (size_t i = 0; r >= 0 && i < c.n; i++)
		if (!(c.found & (1u << i)))
			r = log_error_errno(-ENOENT, "rootfs %s has no %s: Secure Boot (boot.secure_boot) takes it from "
					    "Debian's shim-signed, grub-efi-%s-signed and systemd-boot-efi", rootfs->tar,
					    c.want[i], b->profile->arch);
	for (size_t i = 0; i < 3; i++) {
		ret[i] = (struct esp_file){ .path = paths[i], .name = i == 0 ? t->loader : i == 1 ? t->grub_name : t->mok_name };
		if (r < 0) {
			free(paths[i]);
			ret[i].path = NULL;
		}
	}
	return r;
}

static const struct efi_target *efi_target_for(const char *arch)
{
	for (size_t i = 0; i < ARRAY_SIZE(efi_targets); i++)
		if (streq(efi_targets[i].arch, arch))
			return &efi_targets[i];
	return NULL;
}

const char *grub_efi_platform(const char *arch)
{
	const struct efi_target *t = efi_target_for(arch);
	return t ? t->grub_format : NULL;
}

/* /.disk/info, by which Debian's signed removable-media GRUB finds the medium it came from and
 * sets its prefix to that medium's /boot/grub. */
static int disk_info(struct build *b)
{
	_cleanup_free_ char *dir = build_medium_path(b, GB_MEDIUM_DISK_INFO_DIR), *path = build_medium_path(b, GB_MEDIUM_DISK_INFO),
			    *text = NULL;
	int r;

	if (!dir || !path || asprintf(&text, "gapbox %s (%s) %s\n", b->profile->name, b->profile->arch, b->medium_uuid) < 0)
		return -ENOMEM;
	if ((r = mkdir_p(dir, 0755)) < 0 || (r = write_file_atomic(path, text, strlen(text), 0644)) < 0)
		return log_error_errno(r, "cannot write %s: %m", path);
	return 0;
}

int stage_boot(struct build *b, const struct rootfs *rootfs)
{
	const struct profile *p = b->profile;
	_cleanup_free_ char *cfg = NULL, *early = NULL, *grubdir = build_medium_path(b, GB_MEDIUM_GRUB_DIR);
	_cleanup_free_ char *cfg_path = NULL, *early_path = build_work_path(b, "grub-early.cfg");
	int r;

	if (!grubdir || !early_path || !(cfg_path = build_medium_path(b, GB_MEDIUM_GRUB_CFG)))
		return -ENOMEM;
	r = mkdir_p(grubdir, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create %s: %m", grubdir);
	if ((r = grub_cfg_render(p, &cfg)) < 0 || (r = grub_early_cfg_render(b->medium_uuid, b->medium_label, &early)) < 0)
		return r;
	if ((r = write_file_atomic(cfg_path, cfg, strlen(cfg), 0644)) < 0 ||
	    (r = write_file_atomic(early_path, early, strlen(early), 0644)) < 0)
		return log_error_errno(r, "cannot write the GRUB configuration: %m");

	if (p->boot.bios) {
		_cleanup_free_ char *bios = build_medium_path(b, GB_MEDIUM_BIOS_IMAGE);
		if (!bios)
			return -ENOMEM;
		if ((r = grub_mkimage(b, "i386-pc", early_path, bios, false)) < 0)
			return r;
		log_info("boot: BIOS El Torito image (i386-pc)");
	}
	if (p->boot.uefi) {
		const struct efi_target *t = efi_target_for(p->arch);
		_cleanup_free_ char *loader = build_work_path(b, t ? t->loader : "x"), *esp = build_work_path(b, "efiboot.img");
		_cleanup_free_ char *efidir = build_medium_path(b, GB_MEDIUM_EFI_DIR), *copy = NULL;
		if (!t)
			return log_error_errno(-EINVAL, "no UEFI loader is known for architecture %s", p->arch);
		if (!loader || !esp || !efidir || !(copy = path_join(efidir, t->loader)))
			return -ENOMEM;
		struct esp_file files[4] = { { loader, t->loader } };
		size_t n = 1;

		if (p->boot.secure_boot) {
			_cleanup_free_ char *stub = b->uki_key ? build_work_path(b, "uki-stub.efi") : NULL;

			if (b->uki_key && !stub)
				return -ENOMEM;
			if ((r = signed_chain(b, rootfs, t, stub, files)) < 0 || (r = disk_info(b)) < 0)
				return r;
			n = 3;
			/* With the operator's key, shim starts the signed kernel image in GRUB's place,
			 * and the certificate to enrol lies beside it. */
			if (b->uki_key) {
				files[n] = (struct esp_file){ build_work_path(b, GB_MEDIUM_SECURE_BOOT_CERT_NAME),
							      GB_MEDIUM_SECURE_BOOT_CERT_NAME };
				n++;
				if (!files[3].path)
					r = -ENOMEM;
				else
					r = uki_make(b, stub, files[1].path, files[3].path);
				if (r < 0) {
					for (size_t i = 0; i < n; i++)
						free((char *)files[i].path);
					return r;
				}
			}
		} else if ((r = grub_mkimage(b, t->grub_format, early_path, loader, true)) < 0)
			return r;
		r = make_esp(b, files, n, esp);
		/* Some firmware reads \EFI\BOOT from the ISO9660 tree rather than the ESP image. */
		if (r >= 0 && (r = mkdir_p(efidir, 0755)) < 0)
			r = log_error_errno(r, "cannot create %s: %m", efidir);
		for (size_t i = 0; r >= 0 && i < n; i++) {
			_cleanup_free_ char *dst = path_join(efidir, files[i].name);

			if (!dst)
				r = -ENOMEM;
			else if ((r = copy_file_atomic(files[i].path, dst, 0644)) < 0)
				r = log_error_errno(r, "cannot copy the UEFI loader to %s: %m", dst);
		}
		if (p->boot.secure_boot)
			for (size_t i = 0; i < n; i++)
				free((char *)files[i].path);
		if (r < 0)
			return r;
		if (b->uki_key)
			log_info("boot: UEFI through Debian's signed shim (%s) and a kernel image signed for %s (%s), "
				 "MokManager (%s) and the certificate (%s) in an ESP image", t->loader, b->uki_key->subject,
				 t->grub_name, t->mok_name, GB_MEDIUM_SECURE_BOOT_CERT_NAME);
		else if (p->boot.secure_boot)
			log_info("boot: UEFI through Debian's signed shim (%s), GRUB (%s) and MokManager (%s) in an ESP image",
				 t->loader, t->grub_name, t->mok_name);
		else
			log_info("boot: UEFI loader %s (%s) in an ESP image", t->loader, t->grub_format);
	}
	return 0;
}
