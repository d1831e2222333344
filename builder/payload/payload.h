/* The payload: a kubespray-offline outputs/ folder, checked, with its images pre-filled into a
 * registry store, written as two squashfs images. The builder's one door into builder/payload/:
 * outputs checks, image archives, the registry store and the payload streams all sit behind
 * payload_check() and payload_build(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "payloadrecord.h"
#include "unpackcap.h"

/* What is carried, and by which rules. */
struct payload_input {
	const char *dir;          /* the outputs/ folder */
	const char *arch;         /* the nodes' architecture: amd64 | arm64 */
	char *const *registries;  /* registries stripped from image names besides the built-in
				     ones (NULL-terminated, may be NULL) */
	bool strict;              /* warnings count as errors */
	bool keep_image_archives; /* also carry the image archives, whose content is in the store */
	struct unpack_caps caps;  /* what its archives may decompress to (UNPACK_CAPS_DEFAULT) */
};

/* What a check found. */
struct payload_verdict {
	size_t errors, warnings, notes;
	bool failed;              /* errors, or warnings under strict */
	char **versions;          /* component, version, component, ...: what the nodes run, as
				     files/ holds it (the caller frees) */
};

/* Check the folder: with READ_IMAGES false every check that needs no image content (what a
 * build does before anything slow starts; the images are checked as they are imported), with
 * it true also every image read and verified in full, nothing written (gapbox check-outputs).
 * Each finding, naming its file, goes to OUT. RET_RECORD (may be NULL) gets the payload record a
 * build would write (its images only with READ_IMAGES). Returns 0 with *ret filled, or a
 * negative errno when the folder cannot be read at all (reported). */
int payload_check(const struct payload_input *in, bool read_images, FILE *out, struct payload_verdict *ret,
		  struct payload_record *ret_record);

/* Where a build puts the payload. */
struct progress;
struct payload_output {
	const char *compressed;   /* the zstd image (GB_MEDIUM_PAYLOAD) */
	const char *stored;       /* the image of already-compressed data (GB_MEDIUM_PAYLOAD_STORED) */
	const char *log_dir;      /* mksquashfs's output */
	const char *work_dir;     /* scratch space */
	time_t epoch;             /* every timestamp */
	struct progress *progress; /* every byte streamed into either image is added to it; may be NULL */
};

struct payload_stats {
	size_t images;
	uint64_t files, bytes, stored_bytes;
};

/* Write the folder into the payload images with every image imported into the registry store
 * and the payload record and SHA256SUMS beside them. RECORD is the one payload_check() gave for
 * the same input (versions, kubespray downloads, node OS: read once, before the build); the
 * images are added to it as they are stored. Findings of the images go to stderr; one that
 * fails the check fails the build. Returns 0, or a negative errno (reported), and then no image
 * is left at the output paths. */
int payload_build(const struct payload_input *in, const struct payload_output *out, struct payload_record *record,
		  struct payload_stats *ret);
