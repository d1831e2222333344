/* The payload: a kubespray-offline outputs/ folder, checked, with its images pre-filled into a
 * registry store, written as squashfs images. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/* gapbox check-outputs: every check a build makes, images read and verified in full, nothing
 * written. Prints the findings to out; negative when the check failed (errors, or warnings
 * when strict). */
int payload_check_outputs(const char *dir, const char *arch, char *const *registries, bool strict, FILE *out);
