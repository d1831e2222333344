/* GRUB images made with grub-mkimage from the host's GRUB modules: the medium's loaders (stage
 * boot) and the netboot folder's. */
#pragma once

/* One grub-mkimage run. */
struct grub_image {
	const char *platform;  /* folder of modules under /usr/lib/grub: x86_64-efi, arm64-efi, i386-pc */
	const char *format;    /* -O; NULL: the platform */
	const char *prefix;    /* -p: where GRUB looks for its config and modules */
	const char *early_cfg; /* -c: a config built in; NULL: none */
	const char *out;
	const char *const *modules[4]; /* NULL-terminated lists of the modules built in, in order; NULL slots are skipped */
};

/* Make IMG, grub-mkimage's output going to LOG_PATH. 0, or a negative errno, reported (with the
 * end of the log, and a full disk under OUT_DIR when that is why). */
int grub_image_make(const struct grub_image *img, const char *log_path, const char *out_dir);
/* The GRUB platform of ARCH's UEFI (amd64: x86_64-efi, arm64: arm64-efi), or NULL. */
const char *grub_efi_platform(const char *arch);
