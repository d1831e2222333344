/* The payload record in JSON: its writer and its reader. */
#include "payloadrecord.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fsutil.h"
#include "macros.h"
#include "strv.h"

/* A record lists every image of a payload: generous, but not unbounded. */
#define RECORD_FILE_MAX (64u * 1024 * 1024)

static void image_done(struct payload_record_image *i)
{
	FREE_ALL(i->ref, i->repository, i->tag, i->digest, i->media_type, i->archive);
	strv_free(i->aliases);
	i->aliases = NULL;
}

static void version_done(struct payload_record_version *v)
{
	FREE_ALL(v->component, v->version);
}

/* The image's fields, in the order they are written. */
#define IMAGE_FIELDS(i) { "ref", &(i)->ref }, { "repository", &(i)->repository }, { "tag", &(i)->tag }, \
	{ "digest", &(i)->digest }, { "media_type", &(i)->media_type }, { "archive", &(i)->archive }

struct field {
	const char *key;
	char **value;
};

static void download_done(struct payload_record_download *d)
{
	FREE_ALL(d->variable, d->path, d->absent);
}

#define DOWNLOAD_FIELDS(d) { "variable", &(d)->variable }, { "path", &(d)->path }, { "absent", &(d)->absent }

/* Copy the strings of FROM into TO (same layout); TO's are freed by DONE on failure. */
static int fields_copy(const struct field *from, const struct field *to, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (*from[k].value && !(*to[k].value = strdup(*from[k].value)))
			return -ENOMEM;
	return 0;
}

int payload_record_add_image(struct payload_record *rec, const struct payload_record_image *image)
{
	struct payload_record_image *v = realloc(rec->images, (rec->n_images + 1) * sizeof(*v)), copy = { 0 };
	const struct field from[] = { IMAGE_FIELDS((struct payload_record_image *)image) };
	const struct field to[] = { IMAGE_FIELDS(&copy) };

	if (!v)
		return -ENOMEM;
	rec->images = v;
	if (fields_copy(from, to, ARRAY_SIZE(to)) < 0) {
		image_done(&copy);
		return -ENOMEM;
	}
	for (char **a = image->aliases; a && *a; a++)
		if (strv_push(&copy.aliases, *a) < 0) {
			image_done(&copy);
			return -ENOMEM;
		}
	copy.unlisted = image->unlisted;
	rec->images[rec->n_images++] = copy;
	return 0;
}

int payload_record_add_download(struct payload_record_kubespray *k, const struct payload_record_download *download)
{
	struct payload_record_download copy = { 0 }, *v = NULL;
	const struct field from[] = { DOWNLOAD_FIELDS((struct payload_record_download *)download) };
	const struct field to[] = { DOWNLOAD_FIELDS(&copy) };

	if (fields_copy(from, to, ARRAY_SIZE(to)) < 0 ||
	    !(v = realloc(k->downloads, (k->n_downloads + 1) * sizeof(*v)))) {
		download_done(&copy);
		return -ENOMEM;
	}
	k->downloads = v;
	k->downloads[k->n_downloads++] = copy;
	return 0;
}

void payload_record_kubespray_done(struct payload_record_kubespray *k)
{
	FREE_ARRAY(k->downloads, k->n_downloads, download_done);
	FREE_ALL(k->version, k->tarball);
	*k = (struct payload_record_kubespray){ 0 };
}

int payload_record_add_version(struct payload_record *rec, const char *component, const char *version)
{
	struct payload_record_version *v = realloc(rec->versions, (rec->n_versions + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	rec->versions = v;
	v[rec->n_versions] = (struct payload_record_version){ .component = strdup(component), .version = strdup(version) };
	if (!v[rec->n_versions].component || !v[rec->n_versions].version) {
		version_done(&v[rec->n_versions]);
		return -ENOMEM;
	}
	rec->n_versions++;
	return 0;
}

void payload_record_done(struct payload_record *rec)
{
	FREE_ARRAY(rec->images, rec->n_images, image_done);
	FREE_ARRAY(rec->versions, rec->n_versions, version_done);
	free(rec->arch);
	free(rec->registry_root);
	strv_free(rec->strip_registries);
	strv_free(rec->node_os);
	payload_record_kubespray_done(&rec->kubespray);
	*rec = (struct payload_record){ 0 };
}

/* An object of FIELDS, null for a field without a value. */
static json_t *fields_to_json(const struct field *fields, size_t n)
{
	json_t *o = json_object();

	for (size_t k = 0; o && k < n; k++)
		json_object_set_new(o, fields[k].key, *fields[k].value ? json_string(*fields[k].value) : json_null());
	return o;
}

/* "kubespray": null when the payload carries none. */
static json_t *kubespray_to_json(const struct payload_record_kubespray *k)
{
	json_t *o, *downloads;

	if (!k->version)
		return json_null();
	o = json_pack("{s:s, s:s?, s:[]}", "version", k->version, "tarball", k->tarball, "downloads");
	downloads = json_object_get(o, "downloads");
	for (size_t i = 0; o && i < k->n_downloads; i++) {
		const struct field fields[] = { DOWNLOAD_FIELDS(&k->downloads[i]) };
		json_array_append_new(downloads, fields_to_json(fields, ARRAY_SIZE(fields)));
	}
	return o;
}

/* A string list as a JSON array (empty for NULL): node_os. */
static json_t *strings_json(char *const *l)
{
	json_t *a = json_array();

	for (; a && l && *l; l++)
		json_array_append_new(a, json_string(*l));
	return a;
}

int payload_record_format(const struct payload_record *rec, char **ret)
{
	json_t *root = json_object(), *strip = json_array(), *images = json_array(), *versions = json_object();
	char *text = NULL;

	if (!root || !strip || !images || !versions)
		goto out;
	json_object_set_new(root, "format", json_integer(PAYLOAD_RECORD_FORMAT));
	json_object_set_new(root, "arch", json_string(rec->arch ? rec->arch : ""));
	json_object_set_new(root, "registry_root", json_string(rec->registry_root ? rec->registry_root : ""));
	for (char **s = rec->strip_registries; s && *s; s++)
		json_array_append_new(strip, json_string(*s));
	json_object_set(root, "strip_registries", strip);
	json_object_set_new(root, "node_os", strings_json(rec->node_os));
	if (rec->sample)
		json_object_set_new(root, "sample", json_true());
	for (size_t i = 0; i < rec->n_versions; i++)
		json_object_set_new(versions, rec->versions[i].component, json_string(rec->versions[i].version));
	json_object_set(root, "versions", versions);
	for (size_t i = 0; i < rec->n_images; i++) {
		const struct field fields[] = { IMAGE_FIELDS(&rec->images[i]) };
		json_t *o = fields_to_json(fields, ARRAY_SIZE(fields)), *aliases = json_array();

		for (size_t k = 0; rec->images[i].aliases && rec->images[i].aliases[k] && aliases; k++)
			json_array_append_new(aliases, json_string(rec->images[i].aliases[k]));
		if (o) {
			json_object_set_new(o, "aliases", aliases);
			json_object_set_new(o, "listed", json_boolean(!rec->images[i].unlisted));
		} else
			json_decref(aliases);
		json_array_append_new(images, o);
	}
	json_object_set(root, "images", images);
	json_object_set_new(root, "kubespray", kubespray_to_json(&rec->kubespray));
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
	json_decref(root);
	json_decref(strip);
	json_decref(images);
	json_decref(versions);
	if (!text)
		return -ENOMEM;
	*ret = text;
	return 0;
}

/* A string member, or NULL when absent; -EINVAL when present and not a string. */
static int member_string(json_t *o, const char *key, char **ret)
{
	json_t *v = json_object_get(o, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	return (*ret = strdup(json_string_value(v))) ? 0 : -ENOMEM;
}

/* FIELDS from the object O, which is ARRAY[I] in the record at PATH. */
static int fields_from_json(json_t *o, const struct field *fields, size_t n, const char *path, const char *array,
			    size_t i, char **ret_error)
{
	int r;

	for (size_t k = 0; k < n; k++)
		if ((r = member_string(o, fields[k].key, fields[k].value)) < 0)
			return gb_error(ret_error, r, "%s: %s[%zu].%s is not a string", path, array, i, fields[k].key);
	return 0;
}

/* "kubespray": absent or null (a payload without one, or a record from before it), or the object. */
static int kubespray_from_json(json_t *o, const char *path, struct payload_record_kubespray *ret, char **ret_error)
{
	json_t *v;
	size_t i;
	int r;

	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o) || (r = member_string(o, "version", &ret->version)) < 0 ||
	    (r = member_string(o, "tarball", &ret->tarball)) < 0 || !ret->version)
		return gb_error(ret_error, -EINVAL, "%s: kubespray must be an object with a version string", path);
	json_array_foreach(json_object_get(o, "downloads"), i, v) {
		_cleanup_(download_done) struct payload_record_download d = { 0 };
		const struct field fields[] = { DOWNLOAD_FIELDS(&d) };

		r = fields_from_json(v, fields, ARRAY_SIZE(fields), path, "kubespray.downloads", i, ret_error);
		if (r >= 0 && !d.variable)
			r = gb_error(ret_error, -EINVAL, "%s: kubespray.downloads[%zu] has no variable", path, i);
		if (r >= 0)
			r = payload_record_add_download(ret, &d);
		if (r < 0)
			return r;
	}
	return 0;
}

/* KEY's array of strings into *l: NULL when absent, an empty list when empty (node_os, where
 * the two differ: "the record does not say" and "no repository"). */
static int member_strings(json_t *o, const char *key, char ***l, const char *path, char **ret_error)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;
	int r;

	if (!a)
		return 0;
	if (!json_is_array(a))
		return gb_error(ret_error, -EINVAL, "%s: %s is not a list", path, key);
	if (!*l && !(*l = calloc(1, sizeof(char *))))
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		r = json_is_string(v) ? strv_push(l, json_string_value(v)) : -EINVAL;
		if (r < 0)
			return gb_error(ret_error, r, "%s: %s[%zu] is not a string", path, key, i);
	}
	return 0;
}

int payload_record_load(const char *path, struct payload_record *ret, char **ret_error)
{
	_cleanup_(payload_record_done) struct payload_record rec = { 0 };
	_cleanup_free_ char *text = NULL;
	json_error_t e;
	json_t *root, *v;
	size_t i;
	int r;

	r = read_file(path, RECORD_FILE_MAX, &text, NULL);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read %s", path);
	root = json_loads(text, 0, &e);
	if (!root)
		return gb_error(ret_error, -EINVAL, "%s:%d:%d: %s", path, e.line, e.column, e.text);
	r = json_integer_value(json_object_get(root, "format")) == PAYLOAD_RECORD_FORMAT ? 0 : -EINVAL;
	if (r < 0)
		gb_error(ret_error, r, "%s: format is not %d: not a payload record this gapbox knows", path,
			 PAYLOAD_RECORD_FORMAT);
	if (r >= 0 && ((r = member_string(root, "arch", &rec.arch)) < 0 ||
		       (r = member_string(root, "registry_root", &rec.registry_root)) < 0))
		gb_error(ret_error, r, "%s: arch and registry_root must be strings", path);
	json_array_foreach(json_object_get(root, "strip_registries"), i, v) {
		if (r < 0)
			break;
		r = json_is_string(v) ? strv_push(&rec.strip_registries, json_string_value(v)) : -EINVAL;
		if (r < 0)
			gb_error(ret_error, r, "%s: strip_registries[%zu] is not a string", path, i);
	}
	if (r >= 0)
		r = member_strings(root, "node_os", &rec.node_os, path, ret_error);
	json_t *sample = json_object_get(root, "sample");
	if (r >= 0 && sample && !json_is_boolean(sample))
		r = gb_error(ret_error, -EINVAL, "%s: sample is not true or false", path);
	rec.sample = json_is_true(sample);
	const char *component;
	json_object_foreach(json_object_get(root, "versions"), component, v) {
		if (r < 0)
			break;
		r = json_is_string(v) ? payload_record_add_version(&rec, component, json_string_value(v)) : -EINVAL;
		if (r < 0)
			gb_error(ret_error, r, "%s: versions.%s is not a string", path, component);
	}
	json_array_foreach(json_object_get(root, "images"), i, v) {
		_cleanup_(image_done) struct payload_record_image image = { 0 };
		const struct field fields[] = { IMAGE_FIELDS(&image) };

		json_t *a, *listed = json_object_get(v, "listed");
		size_t j;

		if (r >= 0)
			r = fields_from_json(v, fields, ARRAY_SIZE(fields), path, "images", i, ret_error);
		json_array_foreach(json_object_get(v, "aliases"), j, a) {
			if (r < 0)
				break;
			r = json_is_string(a) ? strv_push(&image.aliases, json_string_value(a)) : -EINVAL;
			if (r < 0)
				gb_error(ret_error, r, "%s: images[%zu].aliases[%zu] is not a string", path, i, j);
		}
		image.unlisted = json_is_false(listed);
		if (r >= 0)
			r = payload_record_add_image(&rec, &image);
		if (r < 0)
			break;
	}
	if (r >= 0)
		r = kubespray_from_json(json_object_get(root, "kubespray"), path, &rec.kubespray, ret_error);
	json_decref(root);
	if (r < 0)
		return r;
	*ret = rec;
	rec = (struct payload_record){ 0 };
	return 0;
}
