/* Reads an image with libarchive: its manifest, then every artifact hashed as it streams by. */
#include "inspect.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "archiveutil.h"
#include "layout.h"
#include "log.h"
#include "manifest.h"
#include "manifestsig.h"
#include "sha256.h"

int image_open_iso(const char *image, struct archive **ret)
{
	struct archive *a = archive_read_new();
	if (!a)
		return -ENOMEM;
	archive_read_support_format_iso9660(a);
	if (archive_read_open_filename(a, image, 1 << 16) != ARCHIVE_OK) {
		int r = log_error_errno(-EINVAL, "%s: not a readable ISO9660 image: %s", image, archive_error(a));
		archive_read_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

/* The manifest's bytes and, when the image has one, its signature file's, in one pass. */
static int read_manifest_files(const char *image, char **ret_text, size_t *ret_len, char **ret_sig, size_t *ret_sig_len)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	_cleanup_free_ char *text = NULL, *sig = NULL;
	size_t len = 0, sig_len = 0;
	struct archive_entry *e;
	int r;

	r = image_open_iso(image, &a);
	if (r < 0)
		return r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK && !(text && sig)) {
		const char *path = archive_path_relative(archive_entry_pathname(e));

		if (!text && streq(path, MANIFEST_PATH)) {
			r = archive_read_data_alloc(a, MANIFEST_FILE_MAX, &text, &len);
			if (r < 0)
				return log_error_errno(r, "%s: cannot read /%s: %m", image, MANIFEST_PATH);
		} else if (!sig && streq(path, GB_MEDIUM_MANIFEST_SIG)) {
			r = archive_read_data_alloc(a, MANIFEST_SIG_FILE_MAX, &sig, &sig_len);
			if (r < 0)
				return log_error_errno(r, "%s: cannot read /%s: %m", image, GB_MEDIUM_MANIFEST_SIG);
		}
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF)
		return log_error_errno(-EIO, "%s: cannot read the image: %s", image, archive_error(a));
	if (!text)
		return log_error_errno(-ENOENT, "%s: no /%s: not a gapbox image, or a damaged one", image, MANIFEST_PATH);
	*ret_text = TAKE_PTR(text);
	*ret_len = len;
	if (ret_sig) {
		*ret_sig = TAKE_PTR(sig);
		*ret_sig_len = sig_len;
	}
	return 0;
}

/* The manifest TEXT, parsed, with an artifacts list. */
static int parse_manifest(const char *image, const char *text, size_t len, json_t **ret)
{
	json_error_t err;
	json_t *m = json_loadb(text, len, 0, &err);
	if (!m)
		return log_error_errno(-EBADMSG, "%s: /%s:%d:%d: %s", image, MANIFEST_PATH, err.line, err.column, err.text);
	if (!json_is_array(json_object_get(m, MANIFEST_KEY_ARTIFACTS))) {
		json_decref(m);
		return log_error_errno(-EBADMSG, "%s: /%s has no artifacts list", image, MANIFEST_PATH);
	}
	*ret = m;
	return 0;
}

int image_read_manifest(const char *image, json_t **ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_manifest_files(image, &text, &len, NULL, NULL);

	return r < 0 ? r : parse_manifest(image, text, len, ret);
}

/* The manifest of IMAGE, checked against its signature by KEY before anything in it is believed. */
static int read_signed_manifest(const char *image, const struct signing_key *key, FILE *out, json_t **ret)
{
	_cleanup_free_ char *text = NULL, *sig = NULL, *error = NULL;
	size_t len, sig_len;
	int r = read_manifest_files(image, &text, &len, &sig, &sig_len);

	if (r < 0)
		return r;
	if (!sig)
		return log_error_errno(-ENOKEY, "%s: no /%s: the image is not signed (gapbox build --sign KEY signs it)", image,
				       GB_MEDIUM_MANIFEST_SIG);
	r = manifest_sig_verify(key, text, len, sig, sig_len, &error);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return log_error_errno(r, "%s: /%s: %s; nothing in the image is trusted", image, GB_MEDIUM_MANIFEST_SIG,
				       error ? error : "refused");
	r = parse_manifest(image, text, len, ret);
	if (r >= 0 && out)
		fprintf(out, "signature: good, Ed25519 key %.16s\n", signing_key_id(key));
	return r;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "?";
}

/* The site configuration baked in, when there is one: its hash, never its content. */
static void print_site_config(FILE *out, json_t *site)
{
	json_t *secrets = json_object_get(site, "secrets"), *key;
	size_t i;

	if (!json_is_object(site))
		return;
	fprintf(out, "config:  %s baked from a site configuration: sha256 %s, %lld bytes, mode %s\n", str(site, "path"),
		str(site, "sha256"), (long long)json_integer_value(json_object_get(site, "size")), str(site, "mode"));
	json_array_foreach(secrets, i, key)
		fprintf(out, "%s%s%s", i ? ", " : "         secrets set (hashes): ", json_string_value(key) ? json_string_value(key) : "?",
			i + 1 == json_array_size(secrets) ? "\n" : "");
}

void image_print_summary(FILE *out, const char *image, json_t *m)
{
	json_t *build = json_object_get(m, "build"), *medium = json_object_get(m, "medium");
	time_t epoch = (time_t)json_integer_value(json_object_get(build, "epoch"));
	const char *from = json_string_value(json_object_get(build, "epoch_from")); /* older images: none */
	char when[64] = "?";
	struct tm tm;

	if (gmtime_r(&epoch, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(out, "image:   %s\n", image);
	fprintf(out, "name:    %s (%s, %s)\n", str(m, "name"), str(m, "arch"), str(m, "suite"));
	fprintf(out, "kernel:  %s\n", str(m, "kernel"));
	/* The epoch is the build's date stamp, not when it ran: SOURCE_DATE_EPOCH or the newest input. */
	fprintf(out, "epoch:   %s (%s), by gapbox %s, build id %s\n", when, from && *from ? from : "time of the build",
		str(build, "gapbox_version"), str(build, "id"));
	fprintf(out, "medium:  label %s, UUID %s\n", str(medium, "label"), str(medium, "uuid"));
	if (json_is_true(json_object_get(json_object_get(m, "payload"), "sample")))
		fprintf(out, "payload: a SAMPLE made by gapbox's fixture generator, not a site's kubespray-offline outputs/\n");
	print_site_config(out, json_object_get(m, "site_config"));
}

struct check {
	const char *path;
	const char *sha256;
	json_int_t size;
	char got[SHA256_HEX_LEN + 1];
	uint64_t got_size;
	bool seen;
};

static int hash_entry(struct archive *a, struct check *c)
{
	struct gb_sha256 *h = gb_sha256_new();
	char buf[1 << 16];
	if (!h)
		return -ENOMEM;
	c->got_size = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
		if (n < 0) {
			gb_sha256_free(h);
			return -EIO;
		}
		if (n == 0)
			break;
		gb_sha256_update(h, buf, n);
		c->got_size += n;
	}
	gb_sha256_final_hex(h, c->got);
	c->seen = true;
	return 0;
}

/* --json: the manifest, the signature's verdict and each artifact's, as one object. */
static int print_json(FILE *out, const char *image, const struct signing_key *key, json_t *m, const struct check *checks,
		      size_t n, size_t bad)
{
	json_t *arts = json_array(), *o;

	for (size_t i = 0; arts && i < n; i++) {
		const struct check *c = &checks[i];
		const char *verdict = !c->seen ? "missing" : (json_int_t)c->got_size != c->size || !streq(c->got, c->sha256) ? "mismatch" : "ok";
		json_t *a = json_pack("{s:s, s:I, s:s, s:s}", "path", c->path, "size", c->size, "sha256", c->sha256, "verdict", verdict);

		if (a && c->seen && !streq(verdict, "ok"))
			json_object_update_new(a, json_pack("{s:I, s:s}", "image_size", (json_int_t)c->got_size, "image_sha256", c->got));
		if (!a || json_array_append_new(arts, a) < 0) {
			json_decref(arts);
			return -ENOMEM;
		}
	}
	o = json_pack("{s:s, s:o, s:o, s:o, s:b}", "image", image, "signature",
		      key ? json_pack("{s:s, s:s}", "verdict", "good", "key", signing_key_id(key)) : json_null(), "manifest",
		      json_incref(m), "artifacts", arts ? arts : json_null(), "verified", bad == 0);
	if (!o || json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	fputc('\n', out);
	json_decref(o);
	return 0;
}

int image_inspect(const char *image, const struct signing_key *key, bool json, FILE *out)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	_cleanup_free_ struct check *checks = NULL;
	json_t *m = NULL, *arts, *art;
	struct archive_entry *e;
	size_t n, i, bad = 0;
	int r;

	r = key ? read_signed_manifest(image, key, json ? NULL : out, &m) : image_read_manifest(image, &m);
	if (r < 0)
		return r;
	if (!json)
		image_print_summary(out, image, m);
	arts = json_object_get(m, MANIFEST_KEY_ARTIFACTS);
	n = json_array_size(arts);
	checks = calloc(n ? n : 1, sizeof(*checks));
	if (!checks) {
		json_decref(m);
		return -ENOMEM;
	}
	json_array_foreach(arts, i, art) checks[i] = (struct check){ .path = str(art, MANIFEST_KEY_PATH), .sha256 = str(art, MANIFEST_KEY_SHA256),
								 .size = json_integer_value(json_object_get(art, MANIFEST_KEY_SIZE)) };

	r = image_open_iso(image, &a);
	if (r < 0) {
		json_decref(m);
		return r;
	}
	int ar;
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *path = archive_path_relative(archive_entry_pathname(e));
		for (i = 0; i < n; i++)
			if (!checks[i].seen && streq(checks[i].path, path))
				break;
		if (i < n && (r = hash_entry(a, &checks[i])) < 0) {
			r = log_error_errno(r, "%s: cannot read /%s: %s", image, path, archive_error(a));
			break;
		}
	}
	if (r >= 0 && ar != ARCHIVE_EOF)
		r = log_error_errno(-EIO, "%s: cannot read the image: %s", image, archive_error(a));
	if (r < 0) {
		json_decref(m);
		return r;
	}

	if (!json)
		fprintf(out, "artifacts:\n");
	for (i = 0; i < n; i++) {
		struct check *c = &checks[i];
		const char *verdict = "ok";
		if (!c->seen)
			verdict = "MISSING";
		else if ((json_int_t)c->got_size != c->size || !streq(c->got, c->sha256))
			verdict = "MISMATCH";
		if (!json)
			fprintf(out, "  %-8s %-28s %12lld  %.16s\n", verdict, c->path, (long long)c->size, c->sha256);
		if (!streq(verdict, "ok")) {
			bad++;
			if (c->seen)
				log_error("%s: /%s: manifest says %lld bytes sha256 %s, image has %llu bytes sha256 %s", image, c->path,
					  (long long)c->size, c->sha256, (unsigned long long)c->got_size, c->got);
			else
				log_error("%s: /%s is in the manifest but not in the image", image, c->path);
		}
	}
	if (json)
		r = print_json(out, image, key, m, checks, n, bad);
	else
		fprintf(out, "%zu artifacts, %zu verified, %zu bad\n", n, n - bad, bad);
	json_decref(m);
	return r < 0 ? r : bad ? -EBADMSG : 0;
}
