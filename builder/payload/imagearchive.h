/* Reads one saved container image (docker-archive or OCI layout, plain or gzip tar), checks
 * every name, link and digest in it, and hands its blobs to a sink as they stream past. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"
#include "unpackcap.h"

/* Where the blobs go (the registry store). Digests are 64 lowercase hex digits. */
struct image_blob_sink {
	void *userdata;
	/* 1: write the blob of SIZE bytes now (data() and end() follow); 0: the sink has it
	 * already (it is then only hashed, to check it); negative: error. */
	int (*begin)(void *userdata, const char *hex, uint64_t size);
	int (*data)(void *userdata, const void *buf, size_t n);
	/* The write is complete: ret_hex gets the sha256 of what was written. */
	int (*end)(void *userdata, char ret_hex[SHA256_HEX_LEN + 1]);
	/* The blob just written matched its digest: the sink may rely on having it. */
	int (*commit)(void *userdata, const char *hex, uint64_t size);
};

/* A manifest of the archive whose blobs are all there (one per present platform). */
struct image_archive_manifest {
	char hex[SHA256_HEX_LEN + 1];
	char *platform;   /* "linux/amd64", "linux/arm64/v8" */
	char **blobs;     /* config, then layers (hex digests) */
};

struct image_archive_result {
	const char *format;      /* "docker-archive" or "oci-layout" */
	char top_hex[SHA256_HEX_LEN + 1]; /* the manifest or index a tag points at */
	char *top_media_type;
	bool top_is_index;
	struct image_archive_manifest *manifests; /* present and complete ones, payload arch first */
	size_t n_manifests;
	char **platforms;        /* of manifests[], same order */
	char **warnings;         /* sentences, without the archive path */
	char **names;            /* image names it carries: manifest.json's RepoTags, or index.json's
				    io.containerd.image.name annotations (NULL when none) */
};

void image_archive_result_done(struct image_archive_result *r);

/* Read the image archive PATH (relative to the folder DIRFD, or AT_FDCWD) for a payload of architecture ARCH (amd64, arm64), giving every
 * blob to SINK: layers while they stream, configs/manifests/indexes (kept in memory, at most
 * 4 MiB each, 32 MiB per archive) and a synthesized schema2 manifest (docker-archive) at the
 * end. Manifests and indexes found in the archive are passed on byte for byte.
 *
 * A blob is begun under the digest its entry name claims and checked at its end; the caller
 * must throw away everything written when this fails. On failure returns a negative errno and
 * *ret_error (caller frees) names PATH, the entry and what was expected:
 *   -EBADMSG  content does not match a digest, size or diff_id
 *   -EPERM    unsafe entry: "..", absolute name, device node, link leading outside
 *   -EINVAL   malformed JSON or layout, unsupported media type
 *   -ENOENT   a referenced blob, or the payload architecture's manifest, is not in the archive
 *   -ENOEXEC  the image is for another architecture
 *   -EIO      unreadable, truncated or corrupt archive
 *   -E2BIG    past a size cap of the reader (entries, JSON)
 *   -EFBIG    past a cap of BUDGET (per layer, per archive, in all: lib/unpackcap.h), checked at
 *             each entry's header and as layers decompress; what the archive decompressed is
 *             added to BUDGET's used either way (NULL: the default caps, nothing counted)
 *   -EMEDIUMTYPE  a sparse entry, or a compression other than gzip, zstd, xz, bzip2
 *   or what the sink returned. */
int image_archive_read(int dirfd, const char *path, const char *arch, struct unpack_budget *budget,
		       const struct image_blob_sink *sink, struct image_archive_result *ret, char **ret_error);
