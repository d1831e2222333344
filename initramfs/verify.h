/* gapbox.verify: the medium's manifest against the signing key baked into the initramfs, and the
 * medium's images against the manifest, before anything is mounted from it. */
#pragma once

#include "initrdconf.h"

/* With GB_INITRD_SIGNING_KEY in the initramfs (a signed build): the manifest on MEDIUM (its
 * root) must carry that key's signature; without the key, nothing to check (0). What is wrong is
 * logged, naming the file; then nothing may be mounted from the medium. */
int verify_medium_signature(const char *medium);
/* gapbox.verify=full: each image of the medium's DIR (GB_MEDIUM_IMAGES, those present) read
 * whole, its size and sha256 compared with the manifest on MEDIUM. -EBADMSG names the first
 * image that does not match. MODE off: nothing (0). */
int verify_medium_images(enum gb_verify mode, const char *medium);
