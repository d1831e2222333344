/* gapbox-init's settings (GB_INITRD_CONF in the initramfs): KEY=VALUE lines that gapbox build
 * writes and gapbox-init reads, both from the one key table in initrdconf.c. */
#pragma once

#include <stdbool.h>

#define INITRD_DEFAULT_TIMEOUT 30U
/* A day: anything longer is a typo, not a wish. */
#define INITRD_MAX_TIMEOUT 86400U
/* Longer lines are not something the builder writes. */
#define INITRD_CONF_LINE_MAX 1024

/* gapbox.verify: how the medium's images are checked. Off: not at all; full: each image read
 * whole before use and its sha256 compared with the build manifest's; verity: each image mounted
 * through dm-verity, every block checked as it is read against the hash tree whose root hash the
 * manifest gives. With a signing key in the initramfs (GB_INITRD_SIGNING_KEY) the manifest's
 * signature is checked first in every mode. */
enum gb_verify { GB_VERIFY_OFF, GB_VERIFY_FULL, GB_VERIFY_VERITY };
#define GB_VERIFY_EXPECTED "off, full or verity"
int gb_verify_parse(const char *s, enum gb_verify *ret);
const char *gb_verify_name(enum gb_verify v);

struct initrd_conf {
	char name[128];         /* NAME: the image's name, for messages */
	char kver[128];         /* KVER: the kernel release the modules are for */
	char medium_uuid[128];  /* MEDIUM_UUID: the volume UUID written at build time */
	char medium_label[128]; /* MEDIUM_LABEL: the volume label, the fallback */
	unsigned timeout_sec;   /* TIMEOUT: how long to wait for the medium */
	char build_id[40];      /* BUILD_ID: names the folder of the root overlay's upper on the data partition */
	char persist[160];      /* PERSIST: the default of gapbox.persist= (lib/persist.h), from the profile */
	char verify[8];         /* VERIFY: the default of gapbox.verify=: verity for a signed build, else off */
};

/* Which keys a parse set, for callers that care where a value came from. */
enum {
	INITRD_SET_NAME = 1 << 0,
	INITRD_SET_KVER = 1 << 1,
	INITRD_SET_MEDIUM_UUID = 1 << 2,
	INITRD_SET_MEDIUM_LABEL = 1 << 3,
	INITRD_SET_TIMEOUT = 1 << 4,
	INITRD_SET_BUILD_ID = 1 << 5,
	INITRD_SET_PERSIST = 1 << 6,
	INITRD_SET_VERIFY = 1 << 7,
};

/* No name, no kernel, no UUID, label GB_MEDIUM_LABEL, INITRD_DEFAULT_TIMEOUT, no build id,
 * persistence off, verification off. */
void initrd_conf_defaults(struct initrd_conf *c);

/* The file's text: every key, one line each. -ENOMEM, or -EINVAL when a value holds a newline. */
int initrd_conf_format(const struct initrd_conf *c, char **ret);

/* Apply the KEY=VALUE lines of TEXT to C. Blank lines and '#' comments are skipped, values may
 * be quoted as in sh, unknown keys are ignored (an initramfs from a newer builder). A bad line or
 * value leaves what C held and is described in *ret_problems ("WHERE:LINE: ignoring ..."; the
 * list is NULL when there was none). *ret_set (may be NULL) gets the INITRD_SET_* bits of the
 * keys applied. Returns 0 or -ENOMEM. */
int initrd_conf_parse(struct initrd_conf *c, const char *text, const char *where, char ***ret_problems,
		      unsigned *ret_set);

/* Whole seconds, at most INITRD_MAX_TIMEOUT (the TIMEOUT value and gapbox.timeout=). */
int initrd_conf_parse_timeout(const char *s, unsigned *ret);
