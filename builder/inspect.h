/* gapbox inspect: what an image holds, and whether every artifact matches its manifest. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct archive;
/* Open the image IMAGE (ISO9660) for reading with libarchive; what is wrong is logged. */
int image_open_iso(const char *image, struct archive **ret);
/* Print the image's manifest summary to out and verify every artifact's size and sha256; with
 * KEY, first the manifest's signature by that key (manifestsig.h). IMAGE may be a device written
 * with the image. Returns 0 when all match, -EBADMSG on a mismatch or missing artifact (each
 * reported), -ENOKEY unsigned, -EKEYREJECTED signed by another key, -EBADE a signature that does
 * not match, other negative errno when the image cannot be read. JSON: the result as one JSON
 * object on OUT instead (gapbox inspect --json). */
struct signing_key;
int image_inspect(const char *image, const struct signing_key *key, bool json, FILE *out);

/* The image's build manifest (GB_MEDIUM_MANIFEST), parsed, with an artifacts list; what is
 * wrong is logged, naming the image: not an ISO, no manifest (not a gapbox image), bad JSON. */
int image_read_manifest(const char *image, json_t **ret);
/* Image path, name, arch, suite, kernel, build time and gapbox version, medium label and UUID,
 * from the manifest M, one "key:    value" line each. */
void image_print_summary(FILE *out, const char *image, json_t *m);
