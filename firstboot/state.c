/* The state section of the status: gapbox-init's record read back, the data partition measured. */
#include "state.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fsutil.h"
#include "layout.h"
#include "macros.h"
#include "persist.h"

#define RECORD_MAX (64 * 1024)

json_t *fb_state_json(const char *root)
{
	_cleanup_free_ char *text = NULL;
	struct gb_state_record rec;
	char path[4096];
	struct statvfs sv;
	json_t *o = json_object(), *others = json_array(), *kept = json_array();

	if (!o || !others || !kept) {
		json_decref(o);
		json_decref(others);
		json_decref(kept);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s%s", root ? root : "", GB_RUN_STATE);
	if (read_file(path, RECORD_MAX, &text, NULL) < 0) {
		gb_state_record_parse("", &rec);
		snprintf(rec.mode, sizeof(rec.mode), "ram");
		snprintf(rec.reason, sizeof(rec.reason), "gapbox-init left no record in %s", GB_RUN_STATE);
	} else
		gb_state_record_parse(text, &rec);

	json_object_set_new(o, "mode", json_string(streq(rec.mode, "data") ? "data" : "ram"));
	json_object_set_new(o, "reason", json_string(rec.reason));
	json_object_set_new(o, "spec", json_string(rec.spec));
	json_object_set_new(o, "build_id", json_string(rec.build_id));
	if (streq(rec.mode, "data")) {
		json_object_set_new(o, "device", json_string(rec.device));
		json_object_set_new(o, "label", json_string(rec.label));
		json_object_set_new(o, "uuid", json_string(rec.uuid));
		json_object_set_new(o, "fsck", json_string(rec.fsck));
		json_object_set_new(o, "created", json_boolean(rec.created));
		for (char *w = strtok(rec.other_builds, " "); w; w = strtok(NULL, " "))
			json_array_append_new(others, json_string(w));
		for (size_t i = 0; i < gb_n_kept_paths; i++)
			json_array_append_new(kept, json_pack("{s:s, s:s}", "path", gb_kept_paths[i].path, "what",
							      gb_kept_paths[i].what));
		snprintf(path, sizeof(path), "%s%s", root ? root : "", GB_RUN_DATA);
		if (statvfs(path, &sv) == 0 && sv.f_blocks) {
			json_object_set_new(o, "size_bytes", json_integer((json_int_t)(sv.f_blocks * sv.f_frsize)));
			json_object_set_new(o, "used_bytes",
					    json_integer((json_int_t)((sv.f_blocks - sv.f_bfree) * sv.f_frsize)));
		}
	}
	json_object_set_new(o, "other_builds", others);
	json_object_set_new(o, "kept", kept);
	return o;
}
