/* /gapbox/manifest.json: what an image holds, written at build time and checked by inspect. */
#pragma once

#define MANIFEST_PATH "gapbox/manifest.json"
#define MANIFEST_FORMAT 1

struct build;

/* Render the manifest of a finished build as deterministic JSON text. */
int manifest_render(const struct build *b, char **ret);
