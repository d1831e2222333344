/* An image profile: what goes into one image flavour, loaded from YAML. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "unpackcap.h"

enum profile_menu_entry { PROFILE_MENU_DEFAULT, PROFILE_MENU_SERIAL, PROFILE_MENU_RESCUE };

struct profile_boot {
	bool bios;                 /* GRUB i386-pc El Torito + hybrid MBR (amd64 only) */
	bool uefi;                 /* GRUB EFI in an ESP image */
	bool secure_boot;          /* UEFI through Debian's signed shim and GRUB (from the rootfs), which
				      boot with Secure Boot on or off; false: gapbox's own unsigned GRUB */
	char **kernel_params;      /* extra kernel parameters, NULL-terminated */
	unsigned menu_timeout;     /* seconds */
	char *serial_console;      /* e.g. "ttyS0,115200"; NULL when none */
	enum profile_menu_entry default_entry;
};

/* The kubespray-offline outputs/ folder the image carries. */
struct profile_payload {
	char *outputs;            /* absolute after loading; NULL: no payload unless --outputs */
	char *arch;               /* the nodes' architecture; NULL: the profile's */
	bool keep_image_archives; /* also carry the image archives, whose content is in the registry */
	char **registries;        /* extra registries stripped from image names, NULL-terminated */
	struct unpack_caps caps;  /* max_layer_size, max_image_size, max_unpacked_size */
};

struct profile {
	char *path;        /* file it was loaded from */
	char *dir;         /* folder of that file: relative paths in it are resolved from here */
	char *name;        /* image name, e.g. "debian12-amd64" */
	char *arch;        /* Debian architecture: amd64 | arm64 */
	char *suite;       /* e.g. "bookworm" */
	char *mirror;      /* NULL: the host's apt sources for this suite */
	char *variant;     /* mmdebstrap variant, default "apt" */
	char **packages;   /* NULL-terminated */
	char *kernel;      /* kernel package, e.g. "linux-image-amd64" */
	char **overlays;   /* overlay folders, absolute after loading, NULL-terminated */
	char **modules;    /* extra initramfs modules beyond the built-in set, NULL-terminated */
	struct profile_boot boot;
	struct profile_payload payload;
	char **outputs;    /* artifact kinds to write: "iso"; NULL-terminated */
	bool appliance;    /* carry gapbox-firstboot, the admin service (default true) */
	char *persist;     /* the default of gapbox.persist= (lib/persist.h), default "auto" */
	char *site_config; /* the appliance configuration to bake in, absolute after loading; NULL: none */
};

/* Load and validate PATH (schema: profiles/README.md), apply defaults, make overlays absolute.
 * Every list of a loaded profile is non-NULL (empty: just the NULL terminator).
 * On error returns a negative errno (-EINVAL for content, -ENOENT for a missing file, -EFBIG
 * above 1 MiB, -ENOMEM) and sets *ret_error, when not NULL, to a message (caller frees):
 * "PATH:LINE:COLUMN: what was expected" for content, "cannot open PATH: reason" for I/O;
 * only -ENOMEM may leave it NULL. */
int profile_load(const char *path, struct profile **ret, char **ret_error);
void profile_free(struct profile *p);
