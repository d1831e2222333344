/* The build manifest (GB_MEDIUM_MANIFEST): build info, the profile's essentials and every
 * artifact on the medium with its size and sha256. gapbox build writes it (builder/manifest.c,
 * with the artifacts list from here); gapbox inspect and gapbox-init (gapbox.toram) check the
 * medium's files against that list, read by the reader here. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "sha256.h"

/* The builder's manifest is a few KiB, most of it the profile's package list. The cap keeps a
 * hostile or damaged medium from making gapbox-init read without end; the builder refuses to
 * write a larger one. */
#define MANIFEST_FILE_MAX (1024u * 1024)
/* A medium holds five artifacts (kernel, initrd, system and two payload images). */
#define MANIFEST_ARTIFACTS_MAX 64
/* Longest artifact path, relative to the medium's root. */
#define MANIFEST_ARTIFACT_PATH_MAX 255

/* The keys both sides use. */
#define MANIFEST_KEY_FORMAT "format"
#define MANIFEST_KEY_ARTIFACTS "artifacts"
#define MANIFEST_KEY_PATH "path"
#define MANIFEST_KEY_SIZE "size"
#define MANIFEST_KEY_SHA256 "sha256"
/* "boot": {"cmdline": "..."}: the kernel command line of the medium's default GRUB entry (its
 * console= and the profile's kernel_params), which the netboot configs start from. */
#define MANIFEST_KEY_BOOT "boot"
#define MANIFEST_KEY_CMDLINE "cmdline"

struct manifest_artifact {
	char *path;   /* relative to the medium's root, e.g. GB_MEDIUM_SYSTEM */
	uint64_t size;
	char sha256[SHA256_HEX_LEN + 1];
};

/* What the reader takes from the manifest: the format it checked, and the artifacts. */
struct manifest {
	struct manifest_artifact *artifacts;
	size_t n_artifacts;
};

/* The "artifacts" list as the builder writes it: [{path, size, sha256}, ...] in the given order.
 * NULL when out of memory. */
json_t *manifest_artifacts_json(const struct manifest_artifact *a, size_t n);

/*
 * Parse the manifest TEXT (SIZE bytes, named WHERE in messages). Its format must be
 * GB_MEDIUM_MANIFEST_FORMAT, and every artifact needs a relative path without "..", at most
 * MANIFEST_ARTIFACT_PATH_MAX bytes and not listed twice, a non-negative integer size and 64
 * lowercase hex digits of sha256; other members are not looked at. Returns 0, -ENOMEM, or
 * -EBADMSG with "WHERE:LINE:COLUMN: ..." or "WHERE: artifacts[I].KEY ..." in *ret_error.
 */
int manifest_parse(const char *text, size_t size, const char *where, struct manifest *ret, char **ret_error);
/* Read and parse the file at PATH, at most MANIFEST_FILE_MAX bytes (-EFBIG past it). */
int manifest_load(const char *path, struct manifest *ret, char **ret_error);
/* The artifact at PATH (relative to the medium's root), or NULL. */
const struct manifest_artifact *manifest_find(const struct manifest *m, const char *path);

void manifest_artifact_done(struct manifest_artifact *a);
void manifest_done(struct manifest *m);
