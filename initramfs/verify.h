/* gapbox.verify: the medium's manifest against the signing key baked into the initramfs, and the
 * medium's images against the manifest, before anything is mounted from it. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "buildmanifest.h"
#include "initrdconf.h"

/* The digits of a key id the boot record names. */
#define VERIFY_KEY_ID_LEN 16

/* With GB_INITRD_SIGNING_KEY in the initramfs (a signed build): the manifest on MEDIUM (its
 * root) must carry that key's signature, whose id goes into RET_KEY_ID (VERIFY_KEY_ID_LEN + 1
 * bytes; may be NULL; left alone when unsigned), and the very bytes it checked, parsed, into
 * *RET (may be NULL; left empty when unsigned); without the key, nothing to check (0). What is wrong is
 * logged, naming the file; then nothing may be mounted from the medium. */
int verify_medium_signature(const char *medium, char *ret_key_id, struct manifest *ret);
/* The same for the manifest at MANIFEST and its signature at SIG (a netboot's, fetched); SOURCE
 * names where they came from in messages ("the medium"). */
int verify_manifest_signature(const char *manifest, const char *sig, const char *source, char *ret_key_id,
			      struct manifest *ret);
/* Whether the initramfs holds a signing key: a signed build. */
bool verify_signed_build(void);
/* gapbox.verify=full: each image of the medium's DIR (GB_MEDIUM_IMAGES, those present) read
 * whole, its size and sha256 compared with the manifest M: the one verify_medium_signature()
 * checked, or, when M is empty (unsigned), the medium's, read into M. -EBADMSG names the first
 * image that does not match. MODE off: nothing (0).
 * gapbox.verify=verity: each image present must have a hash tree in the manifest, the image
 * its size, and the tree (1/128 of it) is read whole and checked like an image in full mode;
 * M then serves verify_attach(). */
int verify_medium_images(enum gb_verify mode, const char *medium, struct manifest *m);
/* The dm-verity device over the image REL (relative to the medium's root, on the loop device
 * DATA) with its hash tree from the medium MEDIUM, as M's verity record gives them: its node
 * into RET_DEV. */
int verify_attach(const struct manifest *m, const char *medium, const char *rel, dev_t data, char *ret_dev, size_t size);
/* After a failed mount of REL through verify_attach(): a message naming the image when
 * dm-verity found a block that does not match (returns -EBADMSG), else R unchanged. */
int verify_mount_failed(const char *rel, int r);
