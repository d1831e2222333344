/* Writes distribution's filesystem store (blobs, _layers, revisions, tags) into the payload
 * stream, one image archive at a time, storing each blob once. */
#include "registry.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "hashset.h"
#include "imagearchive.h"
#include "imageref.h"
#include "log.h"
#include "macros.h"
#include "payloadstream.h"
#include "strv.h"

/* A distribution link file: exactly this, no newline (a newline makes the registry answer 500). */
#define LINK_SIZE (7 + SHA256_HEX_LEN)
struct registry_store {
	struct payload_stream *out;
	char *root;
	struct hashset blobs; /* hex -> size */
	struct hashset paths; /* link files already in the stream */
	struct hashset tags;  /* "repo:tag" -> hex */
	char **strip;         /* registries stripped from carried names besides the built-in ones */
	struct unpack_budget budget; /* what the archives may decompress to, and did */
	uint64_t n_bytes;

	/* The blob being written, to close it cleanly if the import fails halfway, and its path
	 * until it is committed (a blob that fails its digest is never committed). */
	bool writing;
	uint64_t remaining;
	char *uncommitted;
	struct registry_image_info *cur;
};

/* The link file ROOT/REL holding "sha256:<hex>", once. */
static int store_link(struct registry_store *rs, const char *rel, const char *hex)
{
	_cleanup_free_ char *path = NULL;
	char content[LINK_SIZE + 1];
	int k;

	if (asprintf(&path, "%s/%s", rs->root, rel) < 0)
		return -ENOMEM;
	if (hashset_get(&rs->paths, path))
		return 0;
	snprintf(content, sizeof(content), "sha256:%s", hex);
	k = payload_stream_file(rs->out, path, content, LINK_SIZE, 0644);
	if (k < 0)
		return k;
	k = hashset_add(&rs->paths, path, NULL, 0);
	return k < 0 ? k : 0;
}

static int sink_begin(void *userdata, const char *hex, uint64_t size)
{
	struct registry_store *rs = userdata;
	_cleanup_free_ char *path = NULL;
	int k;

	if (hashset_get(&rs->blobs, hex)) {
		rs->cur->blobs_shared++;
		rs->cur->bytes_shared += size;
		return 0;
	}
	/* The stream creates the folders above a file, each once. */
	if (asprintf(&path, "%s/blobs/sha256/%.2s/%s/data", rs->root, hex, hex) < 0)
		return -ENOMEM;
	k = payload_stream_file_begin(rs->out, path, size, 0644);
	if (k < 0)
		return k;
	free(rs->uncommitted);
	rs->uncommitted = TAKE_PTR(path);
	rs->writing = true;
	rs->remaining = size;
	return 1;
}

static int sink_data(void *userdata, const void *buf, size_t n)
{
	struct registry_store *rs = userdata;
	int k = payload_stream_file_data(rs->out, buf, n);

	if (k >= 0)
		rs->remaining -= n < rs->remaining ? n : rs->remaining;
	return k;
}

static int sink_end(void *userdata, char ret_hex[SHA256_HEX_LEN + 1])
{
	struct registry_store *rs = userdata;

	rs->writing = false;
	return payload_stream_file_end(rs->out, ret_hex);
}

static int sink_commit(void *userdata, const char *hex, uint64_t size)
{
	struct registry_store *rs = userdata;
	int k = hashset_add(&rs->blobs, hex, NULL, size);

	free(rs->uncommitted);
	rs->uncommitted = NULL;
	if (k <= 0)
		return k;
	rs->cur->blobs_written++;
	rs->cur->bytes_written += size;
	rs->n_bytes += size;
	return 0;
}

/* Finish a blob an error left open, so the stream can take the next file. Its content is
 * wrong (zeros) and it is never committed; a build aborts its payload anyway. */
static void store_abandon_blob(struct registry_store *rs)
{
	static const char zeros[4096];
	char hex[SHA256_HEX_LEN + 1];

	while (rs->writing && rs->remaining > 0) {
		size_t n = rs->remaining < sizeof(zeros) ? rs->remaining : sizeof(zeros);
		if (payload_stream_file_data(rs->out, zeros, n) < 0)
			break;
		rs->remaining -= n;
	}
	if (rs->writing)
		(void)payload_stream_file_end(rs->out, hex);
	rs->writing = false;
	/* Another archive may hold the true blob under this digest. */
	if (rs->uncommitted)
		payload_stream_forget(rs->out, rs->uncommitted);
	free(rs->uncommitted);
	rs->uncommitted = NULL;
}

int registry_store_new(struct payload_stream *out, const char *root, char *const *strip, struct registry_store **ret)
{
	struct registry_store *rs = calloc(1, sizeof(*rs));
	int k;

	if (!rs)
		return -ENOMEM;
	rs->out = out;
	rs->budget = (struct unpack_budget){ .caps = UNPACK_CAPS_DEFAULT };
	if (!(rs->root = strdup(root))) {
		free(rs);
		return -ENOMEM;
	}
	for (char *const *s = strip; s && *s; s++)
		if ((k = strv_push(&rs->strip, *s)) < 0) {
			registry_store_free(rs);
			return k;
		}
	/* No trailing slash: every path below is root + "/" + something. */
	for (size_t n = strlen(rs->root); n > 1 && rs->root[n - 1] == '/'; n--)
		rs->root[n - 1] = '\0';
	k = payload_stream_dir(rs->out, rs->root);
	if (k < 0) {
		registry_store_free(rs);
		return k;
	}
	*ret = rs;
	return 0;
}

void registry_store_set_caps(struct registry_store *rs, const struct unpack_caps *caps)
{
	rs->budget.caps = *caps;
}

void registry_store_free(struct registry_store *rs)
{
	if (!rs)
		return;
	hashset_done(&rs->blobs);
	hashset_done(&rs->paths);
	hashset_done(&rs->tags);
	strv_free(rs->strip);
	free(rs->root);
	free(rs->uncommitted);
	free(rs);
}

void registry_store_get_stats(const struct registry_store *rs, struct registry_store_stats *ret)
{
	*ret = (struct registry_store_stats){ .blobs = rs->blobs.n, .bytes = rs->n_bytes, .tags = rs->tags.n };
}

void registry_image_info_done(struct registry_image_info *i)
{
	free(i->media_type);
	strv_free(i->platforms);
	strv_free(i->warnings);
	strv_free(i->repos);
	strv_free(i->names);
	free(i->carried_tag);
	*i = (struct registry_image_info){ 0 };
}

/* Every link of one imported image; the blobs are in the stream already. */
static int store_links(struct registry_store *rs, const char *repo, const char *tag,
		       const struct image_archive_result *res)
{
	_cleanup_free_ char *rel = NULL;
	int k;

	for (size_t i = 0; i < res->n_manifests; i++) {
		const struct image_archive_manifest *m = &res->manifests[i];
		for (char **b = m->blobs; b && *b; b++) {
			free(rel);
			if (asprintf(&rel, "repositories/%s/_layers/sha256/%s/link", repo, *b) < 0)
				return rel = NULL, -ENOMEM;
			if ((k = store_link(rs, rel, *b)) < 0)
				return k;
		}
		free(rel);
		if (asprintf(&rel, "repositories/%s/_manifests/revisions/sha256/%s/link", repo, m->hex) < 0)
			return rel = NULL, -ENOMEM;
		if ((k = store_link(rs, rel, m->hex)) < 0)
			return k;
	}
	if (res->top_is_index) {
		free(rel);
		if (asprintf(&rel, "repositories/%s/_manifests/revisions/sha256/%s/link", repo, res->top_hex) < 0)
			return rel = NULL, -ENOMEM;
		if ((k = store_link(rs, rel, res->top_hex)) < 0)
			return k;
	}
	if (!tag)
		return 0;
	free(rel);
	if (asprintf(&rel, "repositories/%s/_manifests/tags/%s/index/sha256/%s/link", repo, tag, res->top_hex) < 0)
		return rel = NULL, -ENOMEM;
	if ((k = store_link(rs, rel, res->top_hex)) < 0)
		return k;
	free(rel);
	if (asprintf(&rel, "repositories/%s/_manifests/tags/%s/current/link", repo, tag) < 0)
		return rel = NULL, -ENOMEM;
	return store_link(rs, rel, res->top_hex);
}

int registry_import(struct registry_store *rs, int dirfd, const char *archive_path, char *const *repos, const char *tag,
		    const char *arch, struct registry_image_info *ret_info, char **ret_error)
{
	_cleanup_(registry_image_info_done) struct registry_image_info info = { 0 };
	_cleanup_(image_archive_result_done) struct image_archive_result res = { 0 };
	const struct image_blob_sink sink = {
		.userdata = rs, .begin = sink_begin, .data = sink_data, .end = sink_end, .commit = sink_commit,
	};
	bool again = false;
	int k;

	for (char *const *repo = repos; repo && *repo; repo++)
		if (!image_ref_repository_is_valid(*repo))
			return gb_error(ret_error, -EINVAL, "%s: \"%s\" is not a valid repository name", archive_path, *repo);
	if (tag && !image_ref_tag_is_valid(tag))
		return gb_error(ret_error, -EINVAL, "%s: \"%s\" is not a valid tag", archive_path, tag);
	if (!arch || !*arch || strspn(arch, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(arch))
		return gb_error(ret_error, -EINVAL, "%s: \"%s\" is not an architecture name", archive_path,
				    arch ? arch : "");

	rs->cur = &info;
	k = image_archive_read(dirfd, archive_path, arch, &rs->budget, &sink, &res, ret_error);
	if (k < 0) {
		store_abandon_blob(rs);
		rs->cur = NULL;
		return k;
	}
	rs->cur = NULL;

	/* No name at all: the one the archive carries, as load-push-all-images.sh's nerdctl load
	 * would give it. */
	_cleanup_strv_free_ char **carried = NULL;
	if (!repos || !*repos) {
		_cleanup_free_ char *why = NULL;
		struct image_ref ref = { 0 };
		if (!res.names || !res.names[0])
			return gb_error(ret_error, -EINVAL, "%s: carries no image name, and no images/*.list names it",
					archive_path);
		k = image_ref_names(res.names[0], rs->strip, &carried, &why);
		if (k == -ENOMEM)
			return k;
		if (k < 0)
			return gb_error(ret_error, k, "%s: carries the name %s: %s", archive_path, res.names[0], why);
		if (image_ref_parse(res.names[0], &ref, NULL) >= 0) {
			if (!(info.carried_tag = strdup(ref.tag ? ref.tag : "latest")))
				k = -ENOMEM;
			image_ref_done(&ref);
		}
		if (k < 0)
			return k;
		repos = carried;
		tag = info.carried_tag;
	}

	for (char *const *repo = repos; *repo; repo++) {
		_cleanup_free_ char *tag_key = NULL;
		struct hashset_entry *prev;

		if (tag && asprintf(&tag_key, "%s:%s", *repo, tag) < 0)
			return -ENOMEM;
		prev = tag_key ? hashset_get(&rs->tags, tag_key) : NULL;
		if (prev && !streq(prev->value, res.top_hex))
			return gb_error(ret_error, -EEXIST,
					"%s: %s is already taken by sha256:%s from an earlier archive; this one is sha256:%s",
					archive_path, tag_key, prev->value, res.top_hex);
		k = store_links(rs, *repo, tag, &res);
		if (k < 0)
			return gb_error(ret_error, k, "%s: cannot write the registry links of %s: %s", archive_path, *repo,
					strerror(-k));
		if (tag_key && !prev && (k = hashset_add(&rs->tags, tag_key, res.top_hex, 0)) < 0)
			return k;
		again |= prev != NULL;
		if ((k = strv_push(&info.repos, *repo)) < 0)
			return k;
	}
	if (again && strv_push(&res.warnings, "this tag was imported before from the same image; nothing new written") < 0)
		return -ENOMEM;

	snprintf(info.digest, sizeof(info.digest), "sha256:%s", res.top_hex);
	info.media_type = TAKE_PTR(res.top_media_type);
	info.format = res.format;
	info.platforms = TAKE_PTR(res.platforms);
	info.warnings = TAKE_PTR(res.warnings);
	info.names = TAKE_PTR(res.names);
	log_debug("%s: %s:%s is %s, %u blobs written, %u shared", archive_path, info.repos[0], tag ? tag : "(no tag)",
		  info.digest, info.blobs_written, info.blobs_shared);
	if (ret_info) {
		*ret_info = info;
		info = (struct registry_image_info){ 0 };
	}
	return 0;
}
