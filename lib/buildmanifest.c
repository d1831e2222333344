/* The build manifest's artifacts list: its writer and its reader. */
#include "buildmanifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fsutil.h"
#include "macros.h"

json_t *manifest_artifacts_json(const struct manifest_artifact *a, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < n; i++) {
		json_t *o = json_pack("{s:s, s:I, s:s}", MANIFEST_KEY_PATH, a[i].path, MANIFEST_KEY_SIZE,
				      (json_int_t)a[i].size, MANIFEST_KEY_SHA256, a[i].sha256);

		if (!o || json_array_append_new(list, o) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

json_t *manifest_verity_json(const struct manifest_verity *v, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "image", v[i].image, "hash_tree",
				      v[i].hash_tree, "algorithm", VERITY_ALGORITHM, "data_block_size",
				      (json_int_t)VERITY_BLOCK_SIZE, "hash_block_size", (json_int_t)VERITY_BLOCK_SIZE,
				      "data_blocks", (json_int_t)v[i].data_blocks, "salt", v[i].salt, "root_hash",
				      v[i].root_hash);

		if (!o || json_array_append_new(list, o) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

void manifest_verity_done(struct manifest_verity *v)
{
	free(v->image);
	free(v->hash_tree);
	v->image = v->hash_tree = NULL;
}

void manifest_artifact_done(struct manifest_artifact *a)
{
	free(a->path);
	a->path = NULL;
}

void manifest_done(struct manifest *m)
{
	FREE_ARRAY(m->artifacts, m->n_artifacts, manifest_artifact_done);
	FREE_ARRAY(m->verity, m->n_verity, manifest_verity_done);
	*m = (struct manifest){ 0 };
}

const struct manifest_artifact *manifest_find(const struct manifest *m, const char *path)
{
	for (size_t i = 0; i < m->n_artifacts; i++)
		if (streq(m->artifacts[i].path, path))
			return &m->artifacts[i];
	return NULL;
}

const struct manifest_verity *manifest_find_verity(const struct manifest *m, const char *path)
{
	for (size_t i = 0; i < m->n_verity; i++)
		if (streq(m->verity[i].image, path))
			return &m->verity[i];
	return NULL;
}

/* A path the builder could have written: relative, no empty, "." or ".." component. */
static bool path_ok(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
		if (*c == '/')
			c++;
		if (!*c && c[-1] == '/')
			return false;
	}
	return true;
}

static bool sha256_hex_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == SHA256_HEX_LEN;
}

/* Artifact I of WHERE from the JSON value V into *A. */
static int artifact_from_json(json_t *v, size_t i, const char *where, struct manifest_artifact *a, char **ret_error)
{
	json_t *path = json_object_get(v, MANIFEST_KEY_PATH), *size = json_object_get(v, MANIFEST_KEY_SIZE),
	       *sha = json_object_get(v, MANIFEST_KEY_SHA256);

	if (!json_is_object(v))
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_ARTIFACTS "[%zu] is not an object", where, i);
	if (!json_is_string(path))
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_ARTIFACTS "[%zu]." MANIFEST_KEY_PATH " is %s", where, i,
				path ? "not a string" : "missing");
	/* No NUL inside: json_loadb refuses "\u0000" unless told otherwise. */
	if (json_string_length(path) > MANIFEST_ARTIFACT_PATH_MAX || !path_ok(json_string_value(path)))
		return gb_error(ret_error, -EBADMSG,
				"%s: " MANIFEST_KEY_ARTIFACTS "[%zu]." MANIFEST_KEY_PATH " is not a relative path of at most %d bytes "
				"without '.' or '..'", where, i, MANIFEST_ARTIFACT_PATH_MAX);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_ARTIFACTS "[%zu]." MANIFEST_KEY_SIZE " (%s) is %s",
				where, i, json_string_value(path), size ? "not a whole number of bytes" : "missing");
	if (!json_is_string(sha) || !sha256_hex_ok(json_string_value(sha)))
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_ARTIFACTS "[%zu]." MANIFEST_KEY_SHA256 " (%s) is %s",
				where, i, json_string_value(path), sha ? "not 64 lowercase hex digits" : "missing");
	a->size = (uint64_t)json_integer_value(size);
	memcpy(a->sha256, json_string_value(sha), SHA256_HEX_LEN + 1);
	a->path = strdup(json_string_value(path));
	return a->path ? 0 : -ENOMEM;
}

/* Verity entry I of WHERE from V into *OUT, its files checked against M's artifacts. */
static int verity_from_json(json_t *v, size_t i, const char *where, const struct manifest *m, struct manifest_verity *out,
			    char **ret_error)
{
	static const char *const paths[] = { "image", "hash_tree" };
	static const char *const blocks[] = { "data_block_size", "hash_block_size" };
	const struct manifest_artifact *image;
	json_t *n = json_object_get(v, "data_blocks");
	const char *algorithm = json_string_value(json_object_get(v, "algorithm"));
	const char *salt = json_string_value(json_object_get(v, "salt"));
	const char *root = json_string_value(json_object_get(v, "root_hash"));

	if (!json_is_object(v))
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_VERITY "[%zu] is not an object", where, i);
	for (size_t k = 0; k < ARRAY_SIZE(paths); k++) {
		const char *p = json_string_value(json_object_get(v, paths[k]));

		if (!p || !manifest_find(m, p))
			return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_VERITY "[%zu].%s is %s", where, i, paths[k],
					p ? "not one of the artifacts" : "missing or not a string");
	}
	for (size_t k = 0; k < ARRAY_SIZE(blocks); k++) {
		json_t *b = json_object_get(v, blocks[k]);

		if (!json_is_integer(b) || json_integer_value(b) != VERITY_BLOCK_SIZE)
			return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_VERITY "[%zu].%s is not %u", where, i, blocks[k],
					VERITY_BLOCK_SIZE);
	}
	if (!algorithm || !streq(algorithm, VERITY_ALGORITHM))
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_VERITY "[%zu].algorithm is not " VERITY_ALGORITHM,
				where, i);
	if (!salt || !sha256_hex_ok(salt) || !root || !sha256_hex_ok(root))
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_VERITY "[%zu]: salt and root_hash must be 64 lowercase "
				"hex digits", where, i);
	image = manifest_find(m, json_string_value(json_object_get(v, "image")));
	if (!json_is_integer(n) || json_integer_value(n) <= 0 ||
	    (uint64_t)json_integer_value(n) != image->size / VERITY_BLOCK_SIZE || image->size % VERITY_BLOCK_SIZE)
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_VERITY "[%zu].data_blocks is not the %s's %" PRIu64
				" bytes in blocks of %u", where, i, image->path, image->size, VERITY_BLOCK_SIZE);
	if (manifest_find_verity(m, image->path))
		return gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_VERITY "[%zu]: %s has two hash trees", where, i,
				image->path);
	*out = (struct manifest_verity){ .data_blocks = (uint64_t)json_integer_value(n) };
	memcpy(out->salt, salt, VERITY_HEX_LEN + 1);
	memcpy(out->root_hash, root, VERITY_HEX_LEN + 1);
	out->image = strdup(image->path);
	out->hash_tree = strdup(json_string_value(json_object_get(v, "hash_tree")));
	if (!out->image || !out->hash_tree) {
		manifest_verity_done(out);
		return -ENOMEM;
	}
	return 0;
}

int manifest_parse(const char *text, size_t size, const char *where, struct manifest *ret, char **ret_error)
{
	_cleanup_(manifest_done) struct manifest m = { 0 };
	json_t *root, *format, *list, *verity, *v;
	json_error_t e;
	size_t i;
	int r = 0;

	root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &e);
	if (!root)
		return gb_error(ret_error, -EBADMSG, "%s:%d:%d: %s", where, e.line, e.column, e.text);
	format = json_object_get(root, MANIFEST_KEY_FORMAT);
	list = json_object_get(root, MANIFEST_KEY_ARTIFACTS);
	verity = json_object_get(root, MANIFEST_KEY_VERITY);
	if (!json_is_object(root))
		r = gb_error(ret_error, -EBADMSG, "%s: not a JSON object", where);
	else if (!json_is_integer(format) || json_integer_value(format) != GB_MEDIUM_MANIFEST_FORMAT)
		r = gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_FORMAT " is not %d: not a manifest this gapbox knows",
			     where, GB_MEDIUM_MANIFEST_FORMAT);
	else if (!json_is_array(list))
		r = gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_ARTIFACTS " is %s", where,
			     list ? "not a list" : "missing");
	else if (json_array_size(list) > MANIFEST_ARTIFACTS_MAX)
		r = gb_error(ret_error, -EBADMSG, "%s: %zu artifacts, more than the %d a medium may list", where,
			     json_array_size(list), MANIFEST_ARTIFACTS_MAX);
	else if (!(m.artifacts = calloc(json_array_size(list) + 1, sizeof(*m.artifacts))))
		r = -ENOMEM;
	json_array_foreach(list, i, v) {
		if (r < 0)
			break;
		r = artifact_from_json(v, i, where, &m.artifacts[m.n_artifacts], ret_error);
		if (r < 0)
			break;
		if (manifest_find(&m, m.artifacts[m.n_artifacts].path)) {
			r = gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_ARTIFACTS "[%zu]: %s is listed twice", where, i,
				     m.artifacts[m.n_artifacts].path);
			manifest_artifact_done(&m.artifacts[m.n_artifacts]);
			break;
		}
		m.n_artifacts++;
	}
	if (r >= 0 && verity && (!json_is_array(verity) || json_array_size(verity) > MANIFEST_ARTIFACTS_MAX))
		r = gb_error(ret_error, -EBADMSG, "%s: " MANIFEST_KEY_VERITY " is not a list of at most %d", where,
			     MANIFEST_ARTIFACTS_MAX);
	else if (r >= 0 && verity && !(m.verity = calloc(json_array_size(verity) + 1, sizeof(*m.verity))))
		r = -ENOMEM;
	json_array_foreach(verity, i, v) {
		if (r < 0)
			break;
		r = verity_from_json(v, i, where, &m, &m.verity[m.n_verity], ret_error);
		if (r >= 0)
			m.n_verity++;
	}
	json_decref(root);
	if (r < 0)
		return r;
	*ret = m;
	m = (struct manifest){ 0 };
	return 0;
}

int manifest_load(const char *path, struct manifest *ret, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	int r;

	r = read_file(path, MANIFEST_FILE_MAX, &text, &size);
	if (r == -EFBIG)
		return gb_error(ret_error, r, "%s is larger than %u bytes: not a manifest gapbox wrote", path,
				MANIFEST_FILE_MAX);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read %s", path);
	return manifest_parse(text, size, path, ret, ret_error);
}
