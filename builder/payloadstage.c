/* The payload's stages: the kubespray-offline outputs/ folder checked in stage check, before
 * anything slow starts, then carried into the payload images (builder/payload/). */
#include <ftw.h>
#include <stdlib.h>

#include "build.h"
#include "layout.h"
#include "log.h"
#include "strv.h"
#include "payload/payload.h"
#include "progress.h"

/* nftw gives its callback no user data. */
static uint64_t outputs_bytes;

static int add_file_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path, (void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		outputs_bytes += (uint64_t)st->st_size;
	return 0;
}

static struct payload_input payload_input(const struct build *b)
{
	return (struct payload_input){
		.dir = b->outputs_dir,
		.arch = build_payload_arch(b),
		.registries = b->profile->payload.registries,
		.strict = b->strict,
		.keep_image_archives = b->profile->payload.keep_image_archives,
		.caps = b->profile->payload.caps,
	};
}

int stage_check_payload(struct build *b)
{
	struct payload_input in = payload_input(b);
	struct payload_verdict v;
	int r;

	if (!b->outputs_dir) {
		log_info("check: no outputs/ folder given (--outputs or payload.outputs): the image carries no payload");
		return 0;
	}
	r = payload_check(&in, false, stderr, &v, &b->payload);
	if (r < 0)
		return r;
	log_info("check: %s for %s nodes: %zu errors, %zu warnings, %zu notes", in.dir, in.arch, v.errors, v.warnings,
		 v.notes);
	strv_free(v.versions);
	if (v.failed)
		return log_error_errno(-EBADMSG, "%s has problems to fix before it goes into the air gap (see above)", in.dir);
	return 0;
}

int stage_payload(struct build *b)
{
	_cleanup_free_ char *compressed = build_medium_path(b, GB_MEDIUM_PAYLOAD);
	_cleanup_free_ char *stored = build_medium_path(b, GB_MEDIUM_PAYLOAD_STORED);
	struct payload_input in = payload_input(b);
	struct payload_stats st;
	int r;

	if (!b->outputs_dir)
		return 0;
	if (!compressed || !stored)
		return -ENOMEM;
	/* The bytes streamed into the images come close to the folder's: its files, and its image
	 * archives' blobs and manifests. */
	struct progress progress;
	outputs_bytes = 0;
	(void)nftw(b->outputs_dir, add_file_size, 16, FTW_PHYS);
	progress_begin(&progress, "payload: import into payload.sfs and payload-stored.sfs", outputs_bytes);
	struct payload_output out = { .compressed = compressed, .stored = stored, .log_dir = b->logdir,
				      .work_dir = b->workdir, .epoch = b->epoch, .progress = &progress };
	r = payload_build(&in, &out, &b->payload, &st);
	if (r < 0) {
		progress_stop(&progress);
		return r;
	}
	progress_end(&progress);
	log_info("payload: %zu images, %llu files, %.1f MiB (%.1f MiB already compressed, stored as is)", st.images,
		 (unsigned long long)st.files, st.bytes / 1048576.0, st.stored_bytes / 1048576.0);
	r = build_add_artifact(b, GB_MEDIUM_PAYLOAD);
	if (r >= 0)
		r = build_add_artifact(b, GB_MEDIUM_PAYLOAD_STORED);
	return r;
}
