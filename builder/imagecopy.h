/* Copying an image onto a device and reading it back, in large aligned chunks, hashing as the
 * bytes pass and showing progress and throughput. */
#pragma once

#include <stdint.h>

#include "sha256.h"

/* Chunks of this size: large enough that a USB stick sees long sequential writes, a multiple
 * of every logical sector size, and what O_DIRECT needs in alignment. */
#define IMAGECOPY_CHUNK (4u * 1024 * 1024)
#define IMAGECOPY_ALIGN 4096u

/* Copy the first SIZE bytes of IN to the start of OUT (OUT may be open with O_DIRECT), the
 * sha256 of what was written into HEX. WHAT ("writing /dev/sdb") leads the progress lines, on
 * stderr: one line redrawn on a terminal, else a line every few seconds. *ret_done gets the
 * bytes written. 0; -EINTR when interrupted; or a negative errno with the reason in *ret_error
 * (IN_NAME and OUT_NAME name the two sides). */
int image_copy(int in, const char *in_name, int out, const char *out_name, uint64_t size, const char *what,
	       char hex[static SHA256_HEX_LEN + 1], uint64_t *ret_done, char **ret_error);

/* Read the first SIZE bytes of FD back and hash them into HEX, with progress as above. */
int image_readback(int fd, const char *name, uint64_t size, const char *what, char hex[static SHA256_HEX_LEN + 1],
		   char **ret_error);
