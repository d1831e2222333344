/* Writes distribution's filesystem store (blobs, _layers, revisions, tags) into the payload
 * stream, one image archive at a time, storing each blob once. */
#include "registry.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "imagearchive.h"
#include "imageref.h"
#include "log.h"
#include "macros.h"
#include "payloadstream.h"
#include "strv.h"

/* A distribution link file: exactly this, no newline (a newline makes the registry answer 500). */
#define LINK_SIZE (7 + SHA256_HEX_LEN)
/* Hard cap on what the store remembers (blobs, written paths, tags): far above any payload. */
#define SET_MAX (1u << 24)

struct set_entry {
	char *key;
	char *value;
	uint64_t num;
};

/* String-keyed hash table with linear probing; never shrinks. */
struct set {
	struct set_entry *v;
	size_t n, cap;
};

struct registry_store {
	struct payload_stream *out;
	char *root;
	struct set blobs; /* hex -> size */
	struct set paths; /* link files already in the stream */
	struct set tags;  /* "repo:tag" -> hex */
	uint64_t n_bytes;

	/* The blob being written, to close it cleanly if the import fails halfway. */
	bool writing;
	uint64_t remaining;
	struct registry_image_info *cur;
};

static uint64_t hash_string(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct set_entry *set_get(const struct set *s, const char *key)
{
	if (!s->cap)
		return NULL;
	for (size_t i = hash_string(key) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->v[i].key)
			return NULL;
		if (streq(s->v[i].key, key))
			return &s->v[i];
	}
}

static int set_grow(struct set *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024;
	struct set_entry *nv = calloc(ncap, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->v[i].key)
			continue;
		size_t j = hash_string(s->v[i].key) & (ncap - 1);
		while (nv[j].key)
			j = (j + 1) & (ncap - 1);
		nv[j] = s->v[i];
	}
	free(s->v);
	s->v = nv;
	s->cap = ncap;
	return 0;
}

/* Add KEY (not yet present) with VALUE (copied, may be NULL) and NUM. */
static int set_add(struct set *s, const char *key, const char *value, uint64_t num)
{
	struct set_entry e = { .num = num };
	int k;

	if (s->n >= SET_MAX)
		return -E2BIG;
	if ((s->n + 1) * 10 > s->cap * 7 && (k = set_grow(s)) < 0)
		return k;
	if (!(e.key = strdup(key)) || (value && !(e.value = strdup(value)))) {
		free(e.key);
		return -ENOMEM;
	}
	size_t i = hash_string(key) & (s->cap - 1);
	while (s->v[i].key)
		i = (i + 1) & (s->cap - 1);
	s->v[i] = e;
	s->n++;
	return 0;
}

static void set_done(struct set *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		free(s->v[i].key);
		free(s->v[i].value);
	}
	free(s->v);
	*s = (struct set){ 0 };
}

/* The link file ROOT/REL holding "sha256:<hex>", once. */
static int store_link(struct registry_store *rs, const char *rel, const char *hex)
{
	_cleanup_free_ char *path = NULL;
	char content[LINK_SIZE + 1];
	int k;

	if (asprintf(&path, "%s/%s", rs->root, rel) < 0)
		return -ENOMEM;
	if (set_get(&rs->paths, path))
		return 0;
	snprintf(content, sizeof(content), "sha256:%s", hex);
	k = payload_stream_file(rs->out, path, content, LINK_SIZE, 0644);
	if (k < 0)
		return k;
	return set_add(&rs->paths, path, NULL, 0);
}

static int sink_begin(void *userdata, const char *hex, uint64_t size)
{
	struct registry_store *rs = userdata;
	_cleanup_free_ char *path = NULL;
	int k;

	if (set_get(&rs->blobs, hex)) {
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
	int k = set_add(&rs->blobs, hex, NULL, size);

	if (k < 0)
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
}

int registry_store_new(struct payload_stream *out, const char *root, struct registry_store **ret)
{
	struct registry_store *rs = calloc(1, sizeof(*rs));
	int k;

	if (!rs)
		return -ENOMEM;
	rs->out = out;
	if (!(rs->root = strdup(root))) {
		free(rs);
		return -ENOMEM;
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

void registry_store_free(struct registry_store *rs)
{
	if (!rs)
		return;
	set_done(&rs->blobs);
	set_done(&rs->paths);
	set_done(&rs->tags);
	free(rs->root);
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
	*i = (struct registry_image_info){ 0 };
}

static int import_error(char **ret_error, int err, const char *fmt, ...) _printf_(3, 4);
static int import_error(char **ret_error, int err, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	log_debug("%s", msg ? msg : "registry import failed");
	if (ret_error)
		*ret_error = msg;
	else
		free(msg);
	return err;
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

int registry_import(struct registry_store *rs, const char *archive_path, const char *repo, const char *tag,
		    const char *arch, struct registry_image_info *ret_info, char **ret_error)
{
	_cleanup_(registry_image_info_done) struct registry_image_info info = { 0 };
	_cleanup_(image_archive_result_done) struct image_archive_result res = { 0 };
	_cleanup_free_ char *tag_key = NULL;
	const struct image_blob_sink sink = {
		.userdata = rs, .begin = sink_begin, .data = sink_data, .end = sink_end, .commit = sink_commit,
	};
	struct set_entry *prev;
	int k;

	if (!image_ref_repository_is_valid(repo))
		return import_error(ret_error, -EINVAL, "%s: \"%s\" is not a valid repository name", archive_path, repo);
	if (tag && !image_ref_tag_is_valid(tag))
		return import_error(ret_error, -EINVAL, "%s: \"%s\" is not a valid tag", archive_path, tag);
	if (!arch || !*arch || strspn(arch, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(arch))
		return import_error(ret_error, -EINVAL, "%s: \"%s\" is not an architecture name", archive_path,
				    arch ? arch : "");
	if (tag && asprintf(&tag_key, "%s:%s", repo, tag) < 0)
		return -ENOMEM;

	rs->cur = &info;
	k = image_archive_read(archive_path, arch, &sink, &res, ret_error);
	if (k < 0) {
		store_abandon_blob(rs);
		rs->cur = NULL;
		return k;
	}
	rs->cur = NULL;

	prev = tag_key ? set_get(&rs->tags, tag_key) : NULL;
	if (prev && !streq(prev->value, res.top_hex))
		return import_error(ret_error, -EEXIST, "%s: %s is already taken by sha256:%s from an earlier archive; this one is sha256:%s",
				    archive_path, tag_key, prev->value, res.top_hex);
	k = store_links(rs, repo, tag, &res);
	if (k < 0)
		return import_error(ret_error, k, "%s: cannot write the registry links of %s: %s", archive_path, repo,
				    strerror(-k));
	if (tag_key && !prev && (k = set_add(&rs->tags, tag_key, res.top_hex, 0)) < 0)
		return k;
	if (prev && strv_push(&res.warnings, "this tag was imported before from the same image; nothing new written") < 0)
		return -ENOMEM;

	snprintf(info.digest, sizeof(info.digest), "sha256:%s", res.top_hex);
	info.media_type = TAKE_PTR(res.top_media_type);
	info.format = res.format;
	info.platforms = TAKE_PTR(res.platforms);
	info.warnings = TAKE_PTR(res.warnings);
	log_debug("%s: %s:%s is %s, %u blobs written, %u shared", archive_path, repo, tag ? tag : "(no tag)", info.digest,
		  info.blobs_written, info.blobs_shared);
	if (ret_info) {
		*ret_info = info;
		info = (struct registry_image_info){ 0 };
	}
	return 0;
}
