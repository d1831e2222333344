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

/* "verity": [{image, hash_tree, algorithm, data_block_size, hash_block_size, data_blocks, salt,
 * root_hash}, ...]: a dm-verity hash tree (veritysetup's format 1, no superblock, the tree from
 * offset 0 of its file) beside each squashfs image, for gapbox.verify=verity. Both files are
 * artifacts too. Only what gapbox builds is taken: sha256, 4096-byte blocks, a 32-byte salt. */
#define MANIFEST_KEY_VERITY "verity"
#define VERITY_ALGORITHM "sha256"
#define VERITY_BLOCK_SIZE 4096u
/* The salt and the root hash are both 32 bytes, 64 hex digits. */
#define VERITY_HEX_LEN SHA256_HEX_LEN

struct manifest_verity {
	char *image;      /* artifact path, e.g. GB_MEDIUM_SYSTEM */
	char *hash_tree;  /* artifact path of its hash tree */
	uint64_t data_blocks; /* VERITY_BLOCK_SIZE blocks: the image's size exactly */
	char salt[VERITY_HEX_LEN + 1];
	char root_hash[VERITY_HEX_LEN + 1];
};

struct manifest_artifact {
	char *path;   /* relative to the medium's root, e.g. GB_MEDIUM_SYSTEM */
	uint64_t size;
	char sha256[SHA256_HEX_LEN + 1];
};

/* What the reader takes from the manifest: the format it checked, and the artifacts. */
struct manifest {
	struct manifest_artifact *artifacts;
	size_t n_artifacts;
	struct manifest_verity *verity; /* empty for a manifest without hash trees */
	size_t n_verity;
};

/* The "artifacts" list as the builder writes it: [{path, size, sha256}, ...] in the given order.
 * NULL when out of memory. */
json_t *manifest_artifacts_json(const struct manifest_artifact *a, size_t n);
/* The "verity" list as the builder writes it. NULL when out of memory. */
json_t *manifest_verity_json(const struct manifest_verity *v, size_t n);

/*
 * Parse the manifest TEXT (SIZE bytes, named WHERE in messages). Its format must be
 * GB_MEDIUM_MANIFEST_FORMAT, and every artifact needs a relative path without "..", at most
 * MANIFEST_ARTIFACT_PATH_MAX bytes and not listed twice, a non-negative integer size and 64
 * lowercase hex digits of sha256. A "verity" list, when there is one, must name for each entry
 * an image and a hash tree both in the artifacts, the image a whole number of blocks
 * (data_blocks), each image once, with VERITY_ALGORITHM, VERITY_BLOCK_SIZE and 64 lowercase hex
 * digits of salt and root hash. Other members are not looked at. Returns 0, -ENOMEM, or
 * -EBADMSG with "WHERE:LINE:COLUMN: ..." or "WHERE: artifacts[I].KEY ..." in *ret_error.
 */
int manifest_parse(const char *text, size_t size, const char *where, struct manifest *ret, char **ret_error);
/* Read and parse the file at PATH, at most MANIFEST_FILE_MAX bytes (-EFBIG past it). */
int manifest_load(const char *path, struct manifest *ret, char **ret_error);
/* The artifact at PATH (relative to the medium's root), or NULL. */
const struct manifest_artifact *manifest_find(const struct manifest *m, const char *path);
/* The hash tree record of the image at PATH, or NULL. */
const struct manifest_verity *manifest_find_verity(const struct manifest *m, const char *path);

void manifest_artifact_done(struct manifest_artifact *a);
void manifest_verity_done(struct manifest_verity *v);
void manifest_done(struct manifest *m);
