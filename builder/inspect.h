/* gapbox inspect: what an image holds, and whether every artifact matches its manifest. */
#pragma once

#include <stdio.h>

/* Print the image's manifest summary to out and verify every artifact's size and sha256.
 * Returns 0 when all match, -EBADMSG on a mismatch or missing artifact (each reported),
 * other negative errno when the image cannot be read. */
int image_inspect(const char *image, FILE *out);
