/* Persistent state: the gapbox.persist= spec, the data partition's layout, the paths of the
 * booted system kept on it, and the state record gapbox-init writes for gapbox-firstboot.
 * gapbox build (the profile's default), gapbox-init and gapbox-firstboot compile against it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "layout.h"

/* An image's build id: the first hex digits of its system image's sha256. It names the folder of
 * the root overlay's writable layer on the data partition, so a layer is only ever used over the
 * exact system image it was made on. */
#define GB_BUILD_ID_LEN 16

/* The data partition's label is GB_DATA_LABEL (lib/layout.h). The smallest one `auto` makes on
 * its own: less would not hold the registry's pushes (gapbox write --data, asked, goes lower). */
#define GB_DATA_MIN_SIZE (256ULL << 20)

/* On the data partition (relative to its root): a file naming the layout's version, the root
 * overlay's writable layers, one folder per build id (a new image never runs on another build's
 * upper), and the overlay work folders of the kept paths. */
#define GB_DATA_MARKER "gapbox-data"
#define GB_DATA_FORMAT 1
#define GB_DATA_SYSTEM "system"
#define GB_DATA_WORK ".work"

enum gb_persist_mode {
	GB_PERSIST_OFF,   /* state in RAM */
	GB_PERSIST_AUTO,  /* the data partition on the boot medium, created in free space if none */
	GB_PERSIST_LABEL, /* the filesystem with this label, anywhere; never created */
	GB_PERSIST_UUID,  /* the filesystem with this UUID, anywhere; never created */
};

struct gb_persist_spec {
	enum gb_persist_mode mode;
	char value[128]; /* the label or UUID */
};

/* "off", "auto", "LABEL=...", "UUID=..."; -EINVAL otherwise, -ENAMETOOLONG for a long value. */
int gb_persist_spec_parse(const char *s, struct gb_persist_spec *ret);
/* The spec as it is written, for messages and initrd.conf. */
const char *gb_persist_spec_format(const struct gb_persist_spec *s, char *buf, size_t size);
#define GB_PERSIST_SPEC_EXPECTED "off, auto, LABEL=... or UUID=..."

/* Paths of the booted system that outlive image upgrades: an overlay keeps the image's files
 * visible below what was changed (a new image's defaults show through, an edit wins), a bind
 * mount is the folder itself. */
enum gb_kept_kind { GB_KEPT_OVERLAY, GB_KEPT_BIND };
struct gb_kept_path {
	const char *path;  /* in the booted system */
	const char *dir;   /* on the data partition */
	enum gb_kept_kind kind;
	const char *what;  /* for the status */
};
extern const struct gb_kept_path gb_kept_paths[];
extern const size_t gb_n_kept_paths;

/* GB_RUN_STATE: what gapbox-init found and did. */
struct gb_state_record {
	char mode[16];        /* "data" (on a partition) or "ram" */
	char reason[256];     /* why "ram", or what was done ("created", "found") */
	char spec[160];       /* the gapbox.persist= value in force */
	char device[96];      /* /dev/sda4 */
	char uuid[128];
	char label[128];
	char build_id[40];    /* the image's build id: the folder of the root overlay's upper */
	char fsck[160];       /* e2fsck's verdict: "clean", "journal replayed", "repaired (exit 1)" */
	char other_builds[512]; /* build ids of other images' uppers kept on the partition, space-separated */
	bool created;         /* the partition was created at this boot */
};

/* KEY=VALUE lines; -EINVAL if a value holds a newline. */
int gb_state_record_format(const struct gb_state_record *s, char **ret);
/* Unknown keys and bad lines are skipped (a record from another gapbox-init). */
void gb_state_record_parse(const char *text, struct gb_state_record *ret);
