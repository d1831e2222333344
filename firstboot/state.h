/* Where the appliance's state lives: gapbox-init's record (GB_RUN_STATE) and how full the data
 * partition is, for status.json, the banner and the status page. */
#pragma once

#include <jansson.h>

/* {"mode": "data"|"ram", "reason", "device", "label", "uuid", "fsck", "created", "build_id",
 * "other_builds": [...], "size_bytes", "used_bytes", "kept": [{path, what}]} for the system under
 * ROOT ("" for the live one); a missing record means state in RAM. NULL only without memory. */
json_t *fb_state_json(const char *root);
