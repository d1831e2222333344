/* The build manifest (GB_MEDIUM_MANIFEST): what an image holds, written at build time and
 * checked by gapbox inspect and gapbox-init; its artifacts list, keys, size cap and reader are
 * lib/buildmanifest.h's. */
#pragma once

#include "build.h"
#include "layout.h"

#define MANIFEST_PATH GB_MEDIUM_MANIFEST
#define MANIFEST_FORMAT GB_MEDIUM_MANIFEST_FORMAT

/* Render the manifest of a finished build as deterministic JSON text. With a site configuration
 * (SITE's text not NULL) it has "site_config": where the image holds it, its sha256, size, mode
 * and the secret keys it sets, never its content. */
int manifest_render(const struct build *b, const struct rootfs *rootfs, const struct kernel *kernel,
		    const struct system_image *system, const struct site_config *site, char **ret);
