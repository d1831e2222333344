/* A container registry's filesystem store (distribution's filesystem driver, 2.8 and 3.0),
 * written into the payload stream from saved image archives, so the registry starts full. */
#pragma once

#include <stdint.h>

#include "sha256.h"

struct payload_stream;
struct registry_store;

/* What one import did. */
struct registry_image_info {
	char digest[7 + SHA256_HEX_LEN + 1]; /* "sha256:<hex>" of the manifest or index the tag points at */
	char *media_type;                    /* its media type */
	const char *format;                  /* "docker-archive" or "oci-layout" */
	char **platforms;                    /* platforms linked, the payload's first: "linux/amd64" */
	unsigned blobs_written, blobs_shared; /* shared: already in the store from an earlier import */
	uint64_t bytes_written, bytes_shared;
	char **warnings;                     /* sentences without the archive path, for the caller to log */
	char **repos;                        /* the repositories it went under, the first the main one */
	char *carried_tag;                   /* the tag of the carried name, when no name was given */
	char **names;                        /* the image names the archive carries (RepoTags, or
						io.containerd.image.name) */
};
void registry_image_info_done(struct registry_image_info *i);

struct registry_store_stats {
	uint64_t blobs, bytes, tags;
};

/* A store written to OUT under ROOT, a path inside the payload such as
 * "registry/docker/registry/v2" (the registry's rootdirectory + "/docker/registry/v2").
 * OUT must outlive the store. ROOT itself is emitted at once, so an empty store exists too.
 * STRIP (NULL-terminated, may be NULL; copied) are the registries stripped besides the built-in
 * ones, for archives imported under the name they carry. */
int registry_store_new(struct payload_stream *out, const char *root, char *const *strip, struct registry_store **ret);
/* What the store's archives may decompress to (lib/unpackcap.h; UNPACK_CAPS_DEFAULT until set),
 * the total counted over every import into it. */
struct unpack_caps;
void registry_store_set_caps(struct registry_store *rs, const struct unpack_caps *caps);
/* Accepts NULL. Does not close OUT. */
void registry_store_free(struct registry_store *rs);
void registry_store_get_stats(const struct registry_store *rs, struct registry_store_stats *ret);

/* Import the image archive ARCHIVE_PATH, relative to the folder DIRFD (or AT_FDCWD), which
 * messages name it by (docker-archive or OCI layout, plain or gzip tar) as
 * REPO:TAG for each of REPOS (NULL-terminated; as image_ref_names() gives them; TAG NULL for a
 * reference pinned by digest only: then no tag is written). With REPOS NULL or empty, the
 * image goes under the names image_ref_names() gives the first name the archive carries, and
 * its tag. ARCH is the payload's architecture (amd64, arm64):
 * the image must have it. Writes blobs (once per store, however many images share them),
 * _layers links for every config and layer, revision links for the index and each manifest
 * present, and the tag's current and index links: each link is "sha256:<hex>", 71 bytes.
 *
 * ret_info (optional) is filled on success; free it with registry_image_info_done().
 * On failure returns a negative errno (see image_archive_read(); -EEXIST when REPO:TAG was
 * imported before with another digest) and *ret_error (optional, caller frees) is one message
 * naming the archive, the entry and what was expected. Nothing is logged above debug level.
 * After a failure the store stays consistent and further imports may be checked (gapbox
 * check-outputs goes on to report every bad archive), but the stream holds partial files:
 * a build must abort its payload. */
int registry_import(struct registry_store *rs, int dirfd, const char *archive_path, char *const *repos, const char *tag,
		    const char *arch, struct registry_image_info *ret_info, char **ret_error);
