/* Stage iso: one hybrid ISO9660 image (El Torito BIOS + EFI, MBR + GPT) made by xorriso, in the
 * work folder until the build publishes it. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "spawn.h"
#include "strv.h"

/* xorriso's --modification-date wants the UUID's digits: 2026-11-21-10-00-00-00 → 2026112110000000. */
static void uuid_digits(const char *uuid, char out[17])
{
	size_t n = 0;
	for (const char *s = uuid; *s && n < 16; s++)
		if (*s >= '0' && *s <= '9')
			out[n++] = *s;
	out[n] = '\0';
}

static int push(char ***argv, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strv_push(argv, list[i]) < 0)
			return -ENOMEM;
	return 0;
}
#define PUSH(argv, ...) push((argv), (const char *const[]){ __VA_ARGS__ }, ARRAY_SIZE(((const char *const[]){ __VA_ARGS__ })))

static int fsync_path(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

int stage_iso(struct build *b, char **ret_image)
{
	const struct profile *p = b->profile;
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_free_ char *tmp = build_work_path(b, "image.iso"), *esp = build_work_path(b, "efiboot.img");
	_cleanup_free_ char *log = build_log_path(b, "xorriso"), *appid = NULL, *date = NULL, *epoch = NULL;
	char digits[17];
	int r;

	if (!tmp || !esp || !log)
		return -ENOMEM;
	uuid_digits(b->medium_uuid, digits);
	if (asprintf(&appid, "gapbox %s %s", p->name, GB_VERSION) < 0 || asprintf(&date, "--modification-date=%s", digits) < 0 ||
	    asprintf(&epoch, "SOURCE_DATE_EPOCH=%lld", (long long)b->epoch) < 0)
		return -ENOMEM;

	r = PUSH(&argv, "xorriso", "-as", "mkisofs", "-o", tmp, "-iso-level", "3", "-full-iso9660-filenames",
		 "-rational-rock", "-joliet", "-joliet-long", "-volid", b->medium_label, "-appid", appid, "-publisher", "gapbox",
		 "-preparer", "gapbox build", date, "--set_all_file_dates", digits, "-partition_offset", "16", "-c", GB_MEDIUM_BOOT_CATALOG);
	/* BIOS: GRUB's El Torito core, and its hybrid MBR so the same file boots from a disk. */
	if (r >= 0 && p->boot.bios)
		r = PUSH(&argv, "-b", GB_MEDIUM_BIOS_IMAGE, "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
			 "--grub2-boot-info", "--grub2-mbr", "/usr/lib/grub/i386-pc/boot_hybrid.img", "--mbr-force-bootable");
	/* UEFI: the ESP goes in as GPT partition 2 and is also the El Torito EFI boot image. */
	if (r >= 0 && p->boot.uefi) {
		r = PUSH(&argv, "-append_partition", "2", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", esp, "-appended_part_as_gpt");
		if (r >= 0 && p->boot.bios)
			r = PUSH(&argv, "-eltorito-alt-boot");
		if (r >= 0)
			r = PUSH(&argv, "-e", "--interval:appended_partition_2:all::", "-no-emul-boot");
	}
	if (r >= 0)
		r = PUSH(&argv, b->isotree);
	if (r < 0)
		return r;

	char *env[] = { epoch, NULL };
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log, .env_add = env });
	if (r != 0)
		return build_helper_failed(b, "xorriso", r, log);
	r = fsync_path(tmp);
	if (r < 0)
		return log_error_errno(r, "cannot sync %s: %m", tmp);
	*ret_image = TAKE_PTR(tmp);
	return 0;
}
