/* Stage verity: a dm-verity hash tree beside each squashfs image on the medium, made by
 * veritysetup, its root hash recorded in the manifest for gapbox.verify=verity. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "fsutil.h"
#include "helper.h"
#include "log.h"
#include "macros.h"
#include "spawn.h"

static const char *const image_names[] = { GB_MEDIUM_IMAGES };

/* The hash tree of the artifact IMAGE, as IMAGE.verity; its record into *V. */
static int verity_format(struct build *b, const struct manifest_artifact *image, struct manifest_verity *v)
{
	_cleanup_free_ char *tree_rel = NULL, *data = build_medium_path(b, image->path), *tree = NULL, *root_file = NULL,
			    *log = NULL, *root = NULL, *salt_arg = NULL, *root_arg = NULL;
	size_t len;
	int r;

	if (asprintf(&tree_rel, "%s.verity", image->path) < 0 || !data || !(tree = build_medium_path(b, tree_rel)) ||
	    !(root_file = build_work_path(b, "verity-root-hash")) || !(log = build_log_path(b, "veritysetup")) ||
	    asprintf(&salt_arg, "--salt=%s", image->sha256) < 0 || asprintf(&root_arg, "--root-hash-file=%s", root_file) < 0)
		return -ENOMEM;
	/* mksquashfs pads its images to 4 KiB; dm-verity covers whole blocks only. */
	if (image->size == 0 || image->size % VERITY_BLOCK_SIZE)
		return log_error_errno(-EINVAL, "%s is %" PRIu64 " bytes, not a whole number of %u-byte blocks: dm-verity "
				       "cannot cover it", image->path, image->size, VERITY_BLOCK_SIZE);
	/* The salt is the image's own sha256: fixed by its content, so the tree reproduces, and
	 * different for every image. No superblock: the manifest holds every parameter. */
	char *argv[] = { "veritysetup", "format", "--no-superblock", "--hash=" VERITY_ALGORITHM, "--data-block-size=4096",
			 "--hash-block-size=4096", salt_arg, root_arg, data, tree, NULL };
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log });
	if (r != 0) {
		_cleanup_free_ char *what = NULL;

		return asprintf(&what, "veritysetup format for %s", image->path) < 0 ? -ENOMEM
										     : build_helper_failed(b, what, r, log);
	}
	r = read_file(root_file, 4096, &root, &len);
	if (r < 0)
		return log_error_errno(r, "cannot read the root hash veritysetup wrote to %s: %m", root_file);
	while (len > 0 && (root[len - 1] == '\n' || root[len - 1] == ' '))
		root[--len] = '\0';
	if (len != VERITY_HEX_LEN || strspn(root, "0123456789abcdef") != len)
		return log_error_errno(-EPROTO, "veritysetup wrote '%s' as the root hash of %s: expected 64 hex digits", root,
				       image->path);
	*v = (struct manifest_verity){ .data_blocks = image->size / VERITY_BLOCK_SIZE,
				       .image = strdup(image->path),
				       .hash_tree = TAKE_PTR(tree_rel) };
	memcpy(v->salt, image->sha256, sizeof(v->salt));
	memcpy(v->root_hash, root, sizeof(v->root_hash));
	if (!v->image)
		return -ENOMEM;
	r = build_add_artifact(b, v->hash_tree);
	if (r < 0)
		return r;
	log_info("verity: %s: %" PRIu64 " blocks, hash tree %" PRIu64 " KiB, root hash %.16s...", image->path,
		 v->data_blocks, b->artifacts[b->n_artifacts - 1].size >> 10, v->root_hash);
	return 0;
}

int stage_verity(struct build *b)
{
	struct manifest_verity *list = calloc(ARRAY_SIZE(image_names), sizeof(*list));
	size_t n = 0;
	int r = 0;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(image_names) && r >= 0; i++) {
		_cleanup_free_ char *rel = path_join(GB_MEDIUM_DIR, image_names[i]);
		/* The artifacts so far, looked up as the manifest's reader does. */
		const struct manifest_artifact *a =
			rel ? manifest_find(&(struct manifest){ .artifacts = b->artifacts, .n_artifacts = b->n_artifacts }, rel)
			    : NULL;

		if (!rel)
			r = -ENOMEM;
		/* A copy: the artifacts may move when the hash tree is added. */
		if (a) {
			struct manifest_artifact image = *a;

			r = verity_format(b, &image, &list[n]);
			if (r >= 0)
				n++;
		}
	}
	if (r < 0) {
		FREE_ARRAY(list, n, manifest_verity_done);
		return r;
	}
	b->verity = list;
	b->n_verity = n;
	return 0;
}
