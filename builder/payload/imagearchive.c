/* Reads a saved image (docker-archive or OCI layout) in one sequential pass, checking every
 * entry and digest, and passes its blobs to a sink without holding layers in memory. */
#include "imagearchive.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "archiveutil.h"
#include "bytesize.h"
#include "error.h"
#include "sbuf.h"
#include "log.h"
#include "macros.h"
#include "strv.h"

/* Configs, manifests and indexes are parsed from memory; layers never are. */
#define JSON_BLOB_MAX (4u << 20)
#define JSON_TOTAL_MAX (32u << 20)
#define ENTRIES_MAX 10000 /* entries are looked up by linear search */
#define LAYERS_MAX 1000
#define WARNINGS_MAX 32
#define LINK_DEPTH_MAX 16
#define CHUNK (64u << 10)
/* Enough of an entry's start to tell JSON from a tar and recognise compression. */
#define PEEK 512

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"

enum entry_type { ENTRY_FILE, ENTRY_DIR, ENTRY_SYMLINK, ENTRY_HARDLINK };
enum compression { COMP_NONE, COMP_GZIP, COMP_ZSTD, COMP_XZ, COMP_BZIP2 };

struct entry {
	char *name;   /* normalised: no "./", no "//", never ".." */
	enum entry_type type;
	char *target; /* links: normalised path inside the archive */
	uint64_t size;
	enum compression comp;
	char raw[SHA256_HEX_LEN + 1];  /* sha256 of the bytes: the blob digest */
	char diff[SHA256_HEX_LEN + 1]; /* sha256 once decompressed: the diff_id of a layer */
	bool stored;  /* the sink has it under raw */
	bool needed;  /* a layer to store in the second pass */
	char *json;   /* small entries that may be JSON, kept whole */
};

struct reader {
	int dirfd;
	const char *path;
	const char *arch;
	const struct image_blob_sink *sink;
	struct entry *entries;
	size_t n_entries, alloc_entries;
	size_t json_total;
	char *buf, *ubuf;
	char *error;
	struct image_archive_result *res;
	struct unpack_budget *budget;
	uint64_t outer_end;  /* how far into the decompressed archive its entries reach */
	uint64_t inner;      /* what its compressed layers decompressed to */
};

/* A layer streaming from the outer archive into the sink or a hash, and, through a nested
 * libarchive reader, into the diff_id hash when compressed. */
struct tee {
	struct reader *r;
	struct archive *outer;
	size_t peek_len;  /* bytes already in r->buf from the peek, handed out first */
	bool writing;
	struct gb_sha256 *hash;
	uint64_t total, size;
	int error;
	bool eof;
};

/* Record the first error, the innermost and most precise (the archive path is put in front of
 * it once, at the end), and return err. */
static int fail(struct reader *r, int err, const char *fmt, ...) _printf_(3, 4);
static int fail(struct reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->error)
		return err;
	va_start(ap, fmt);
	gb_error_v(&r->error, err, fmt, ap);
	va_end(ap);
	return err;
}

static void warn(struct reader *r, const char *fmt, ...) _printf_(2, 3);
static void warn(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (strv_length(r->res->warnings) >= WARNINGS_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) >= 0)
		(void)strv_consume(&r->res->warnings, msg);
	va_end(ap);
}

static bool is_hex64(const char *s, size_t n)
{
	if (n != SHA256_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Join BASE (may be NULL) and NAME component by component. ".." pops when allowed and is an
 * error when it would leave the archive's root; -EPERM in both refusals. */
static int path_normalize(const char *base, const char *name, bool allow_dotdot, char **ret)
{
	size_t cap = (base ? strlen(base) : 0) + strlen(name) + 2;
	_cleanup_free_ char *out = malloc(cap);
	size_t len = 0;

	if (!out)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass == 0 ? base : name;
		while (p && *p) {
			size_t n = strcspn(p, "/");
			if (n == 0 || (n == 1 && p[0] == '.')) {
				/* empty or "." */
			} else if (n == 2 && p[0] == '.' && p[1] == '.') {
				if (!allow_dotdot || len == 0)
					return -EPERM;
				while (len > 0 && out[len - 1] != '/')
					len--;
				if (len > 0)
					len--;
			} else {
				if (len > 0)
					out[len++] = '/';
				memcpy(out + len, p, n);
				len += n;
			}
			p += n;
			if (*p == '/')
				p++;
		}
	}
	out[len] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

static struct entry *entry_find(struct reader *r, const char *name)
{
	for (size_t i = 0; i < r->n_entries; i++)
		if (streq(r->entries[i].name, name))
			return &r->entries[i];
	return NULL;
}

/* The regular file NAME stands for, following links inside the archive; NULL if none. */
static struct entry *entry_resolve(struct reader *r, const char *name)
{
	for (int depth = 0; depth < LINK_DEPTH_MAX; depth++) {
		struct entry *en = entry_find(r, name);
		if (!en)
			return NULL;
		if (en->type == ENTRY_FILE)
			return en;
		if (en->type == ENTRY_DIR)
			return NULL;
		name = en->target;
	}
	return NULL;
}

static enum compression detect_compression(const unsigned char *b, size_t n)
{
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return COMP_GZIP;
	if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
		return COMP_ZSTD;
	if (n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0)
		return COMP_XZ;
	if (n >= 3 && memcmp(b, "BZh", 3) == 0)
		return COMP_BZIP2;
	return COMP_NONE;
}

static bool looks_like_json(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')
			continue;
		return b[i] == '{' || b[i] == '[';
	}
	return false;
}

/* The digest an entry's name promises for its bytes: blobs/sha256/<hex> (OCI) or a top-level
 * <hex>.tar holding an uncompressed layer (podman names those by their digest). */
static bool blob_claim(const struct entry *en, char hex[SHA256_HEX_LEN + 1])
{
	const char *n = en->name, *h = NULL;
	size_t len = strlen(n);

	if (strncmp(n, "blobs/sha256/", 13) == 0 && is_hex64(n + 13, len - 13))
		h = n + 13;
	else if (en->comp == COMP_NONE && len == SHA256_HEX_LEN + 4 && streq(n + SHA256_HEX_LEN, ".tar") &&
		 is_hex64(n, SHA256_HEX_LEN))
		h = n;
	if (!h)
		return false;
	memcpy(hex, h, SHA256_HEX_LEN);
	hex[SHA256_HEX_LEN] = '\0';
	return true;
}

/* Whether the decompressed bytes so far (LAYER of them in entry NAME) stay within the caps;
 * the first one passed fails the read at once. */
static int unpack_check(struct reader *r, const char *name, uint64_t layer)
{
	const struct unpack_caps *c = &r->budget->caps;
	uint64_t image = r->outer_end + r->inner;
	char cap[BYTESIZE_MAX];

	if (layer > c->layer)
		return fail(r, -EFBIG, "%s: more than %s decompressed, the cap per layer (payload.max_layer_size, "
				       "--max-layer-size)", name, bytesize_format(c->layer, cap));
	if (image > c->image)
		return fail(r, -EFBIG, "%s: the archive decompresses to more than %s, the cap per image archive "
				       "(payload.max_image_size, --max-image-size)", name, bytesize_format(c->image, cap));
	if (image > c->total || r->budget->used > c->total - image)
		return fail(r, -EFBIG, "%s: the image archives decompress to more than %s in all, the cap of the "
				       "payload (payload.max_unpacked_size, --max-unpacked-size)", name,
			    bytesize_format(c->total, cap));
	return 0;
}

static int tee_consume(struct tee *t, const void *buf, size_t n)
{
	t->total += n;
	if (t->total > t->size)
		return -EBADMSG;
	if (t->writing)
		return t->r->sink->data(t->r->sink->userdata, buf, n);
	gb_sha256_update(t->hash, buf, n);
	return 0;
}

/* Next block of the outer entry, after it has gone to the sink or hash. */
static la_ssize_t tee_next(struct tee *t, const void **ret)
{
	la_ssize_t n;
	int k;

	if (t->peek_len) {
		n = t->peek_len;
		t->peek_len = 0;
	} else {
		n = archive_read_data(t->outer, t->r->buf, CHUNK);
		if (n < 0) {
			t->error = -EIO;
			return -1;
		}
	}
	if (n == 0) {
		t->eof = true;
		return 0;
	}
	k = tee_consume(t, t->r->buf, n);
	if (k < 0) {
		t->error = k;
		return -1;
	}
	*ret = t->r->buf;
	return n;
}

static la_ssize_t tee_read_cb(struct archive *inner, void *userdata, const void **ret)
{
	struct tee *t = userdata;
	la_ssize_t n = tee_next(t, ret);

	if (n < 0)
		archive_set_error(inner, EIO, "reading the outer archive failed");
	return n;
}

static int tee_error(struct reader *r, struct tee *t, const struct entry *en)
{
	if (t->error == -EIO)
		return fail(r, -EIO, "%s: truncated or corrupt archive: %s", en->name, archive_error(t->outer));
	if (t->error == -EBADMSG)
		return fail(r, -EBADMSG, "%s: more data than the %" PRIu64 " bytes its header says", en->name, en->size);
	return fail(r, t->error, "%s: cannot store it: %s", en->name, strerror(-t->error));
}

/* Hash the decompressed bytes while the compressed ones flow through the tee. */
static int tee_decompress(struct reader *r, struct tee *t, struct entry *en)
{
	_cleanup_archive_read_ struct archive *in = archive_read_new();
	struct archive_entry *ie;
	struct gb_sha256 *h;
	const void *dummy;
	int k;

	if (!in)
		return -ENOMEM;
	if (archive_read_support_safe_filters(in) < 0)
		return fail(r, -ENOTSUP, "%s: this libarchive cannot decompress gzip, zstd, xz and bzip2 by itself", en->name);
	archive_read_support_format_raw(in);
	if (archive_read_open(in, t, NULL, tee_read_cb, NULL) != ARCHIVE_OK)
		return t->error ? tee_error(r, t, en)
				: fail(r, -EIO, "%s: corrupt compressed data: %s", en->name, archive_error(in));
	if (!(h = gb_sha256_new()))
		return -ENOMEM;
	k = archive_read_next_header(in, &ie);
	if (k == ARCHIVE_OK || k == ARCHIVE_WARN) {
		uint64_t layer = 0;
		for (;;) {
			la_ssize_t n = archive_read_data(in, r->ubuf, CHUNK);
			if (n == 0)
				break;
			if (n < 0) {
				k = ARCHIVE_FATAL;
				break;
			}
			layer += n;
			r->inner += n;
			if (unpack_check(r, en->name, layer) < 0) {
				gb_sha256_free(h);
				return -EFBIG;
			}
			gb_sha256_update(h, r->ubuf, n);
		}
	}
	if (k < ARCHIVE_WARN) {
		gb_sha256_free(h);
		return t->error ? tee_error(r, t, en)
				: fail(r, -EIO, "%s: corrupt compressed data: %s", en->name, archive_error(in));
	}
	gb_sha256_final_hex(h, en->diff);
	/* Whatever follows the compressed stream still belongs to the blob. */
	while (!t->eof)
		if (tee_next(t, &dummy) < 0)
			return tee_error(r, t, en);
	return 0;
}

/* Stream the current entry (its first HAVE bytes already in r->buf) to the sink under
 * WRITE_HEX (NULL: hash only), computing en->raw, and en->diff when WANT_DIFF. */
static int entry_stream(struct reader *r, struct archive *a, struct entry *en, size_t have, const char *write_hex,
			bool want_diff)
{
	struct tee t = { .r = r, .outer = a, .peek_len = have, .size = en->size };
	const void *dummy;
	int k;

	if (write_hex) {
		k = r->sink->begin(r->sink->userdata, write_hex, en->size);
		if (k < 0)
			return fail(r, k, "%s: cannot store blob sha256:%s: %s", en->name, write_hex, strerror(-k));
		t.writing = k > 0;
	}
	if (!t.writing && !(t.hash = gb_sha256_new()))
		return -ENOMEM;

	if (want_diff && en->comp != COMP_NONE)
		k = tee_decompress(r, &t, en);
	else {
		k = 0;
		while (!t.eof)
			if (tee_next(&t, &dummy) < 0) {
				k = tee_error(r, &t, en);
				break;
			}
	}
	if (k < 0) {
		gb_sha256_free(t.hash);
		return k;
	}
	if (t.total != en->size) {
		gb_sha256_free(t.hash);
		return fail(r, -EIO, "%s: %" PRIu64 " bytes, its header says %" PRIu64, en->name, t.total, en->size);
	}
	if (t.writing) {
		k = r->sink->end(r->sink->userdata, en->raw);
		if (k < 0)
			return fail(r, k, "%s: cannot store blob sha256:%s: %s", en->name, write_hex, strerror(-k));
	} else
		gb_sha256_final_hex(t.hash, en->raw);
	if (en->comp == COMP_NONE || !want_diff)
		memcpy(en->diff, en->raw, sizeof(en->diff));

	if (write_hex) {
		if (!streq(en->raw, write_hex))
			return fail(r, -EBADMSG, "%s: content hashes to sha256:%s, expected sha256:%s", en->name, en->raw,
				    write_hex);
		if (t.writing && (k = r->sink->commit(r->sink->userdata, en->raw, en->size)) < 0)
			return fail(r, k, "%s: cannot store blob sha256:%s: %s", en->name, en->raw, strerror(-k));
		en->stored = true;
	}
	return 0;
}

/* Keep a small entry that may be JSON in memory (still hashed, claims still checked). */
static int entry_retain(struct reader *r, struct archive *a, struct entry *en, size_t have)
{
	struct gb_sha256 *h;
	size_t size = have;
	char claim[SHA256_HEX_LEN + 1];

	if (r->json_total + en->size > JSON_TOTAL_MAX)
		return fail(r, -E2BIG, "%s: more than %u MiB of configs and manifests in one archive", en->name,
			    JSON_TOTAL_MAX >> 20);
	if (!(en->json = malloc(en->size + 1)))
		return -ENOMEM;
	memcpy(en->json, r->buf, have);
	while (size < en->size) {
		la_ssize_t n = archive_read_data(a, en->json + size, en->size - size);
		if (n < 0)
			return fail(r, -EIO, "%s: truncated or corrupt archive: %s", en->name, archive_error(a));
		if (n == 0)
			break;
		size += n;
	}
	if (size != en->size)
		return fail(r, -EIO, "%s: %zu bytes, its header says %" PRIu64, en->name, size, en->size);
	en->json[size] = '\0';
	r->json_total += size;
	if (!(h = gb_sha256_new()))
		return -ENOMEM;
	gb_sha256_update(h, en->json, size);
	gb_sha256_final_hex(h, en->raw);
	memcpy(en->diff, en->raw, sizeof(en->diff));
	if (blob_claim(en, claim) && !streq(claim, en->raw))
		return fail(r, -EBADMSG, "%s: content hashes to sha256:%s, expected sha256:%s", en->name, en->raw, claim);
	return 0;
}

static int entry_read(struct reader *r, struct archive *a, struct entry *en)
{
	size_t have = 0, want = en->size < PEEK ? en->size : PEEK;

	while (have < want) {
		la_ssize_t n = archive_read_data(a, r->buf + have, CHUNK - have);
		if (n < 0)
			return fail(r, -EIO, "%s: truncated or corrupt archive: %s", en->name, archive_error(a));
		if (n == 0)
			break;
		have += n;
	}
	const char *refused = archive_compression_refused(r->buf, have);
	if (refused)
		return fail(r, -EMEDIUMTYPE, "%s: compressed with %s: only gzip, zstd, xz and bzip2 layers are read "
					     "(gapbox never runs an external decompressor)", en->name, refused);
	en->comp = detect_compression((const unsigned char *)r->buf, have);
	if (en->size <= JSON_BLOB_MAX && looks_like_json(r->buf, have))
		return entry_retain(r, a, en, have);
	/* Anything not named by its digest (legacy <id>/layer.tar, a compressed <hex>.tar) is only
	 * hashed now and stored in a second pass once its digest is known. */
	char claim[SHA256_HEX_LEN + 1];
	return entry_stream(r, a, en, have, blob_claim(en, claim) ? claim : NULL, true);
}

static struct entry *entry_add(struct reader *r)
{
	if (gb_grow(&r->entries, &r->alloc_entries, r->n_entries + 1, sizeof(*r->entries)) < 0)
		return NULL;
	struct entry *en = &r->entries[r->n_entries++];
	*en = (struct entry){ 0 };
	return en;
}

/* Check an entry's name, type and link target; *ret_name gets the normalised name ("" for
 * the archive's root). */
static int entry_check(struct reader *r, struct archive_entry *e, char **ret_name, enum entry_type *ret_type,
		       char **ret_target)
{
	const char *name = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
	_cleanup_free_ char *norm = NULL, *target = NULL;
	int k;

	if (!name || !*name)
		return fail(r, -EPERM, "an entry has no name");
	if (name[0] == '/')
		return fail(r, -EPERM, "%s: absolute entry name", name);
	k = path_normalize(NULL, name, false, &norm);
	if (k == -EPERM)
		return fail(r, -EPERM, "%s: entry name contains \"..\"", name);
	if (k < 0)
		return k;

	if (hl) {
		if (hl[0] == '/' || path_normalize(NULL, hl, false, &target) < 0)
			return fail(r, -EPERM, "%s: hard link to %s leads outside the archive", name, hl);
		*ret_type = ENTRY_HARDLINK;
	} else {
		switch (archive_entry_filetype(e)) {
		case AE_IFREG:
			*ret_type = ENTRY_FILE;
			break;
		case AE_IFDIR:
			*ret_type = ENTRY_DIR;
			break;
		case AE_IFLNK: {
			const char *sl = archive_entry_symlink(e);
			_cleanup_free_ char *base = strdup(norm);
			char *slash;
			if (!base)
				return -ENOMEM;
			slash = strrchr(base, '/');
			*(slash ? slash : base) = '\0';
			if (!sl || !*sl || sl[0] == '/' || path_normalize(base, sl, true, &target) < 0)
				return fail(r, -EPERM, "%s: symbolic link to %s leads outside the archive", name,
					    sl ? sl : "(nothing)");
			*ret_type = ENTRY_SYMLINK;
			break;
		}
		default:
			return fail(r, -EPERM, "%s: device node, fifo or socket (mode %06o); an image archive holds only "
					       "files, folders and links",
				    name, (unsigned)archive_entry_mode(e));
		}
	}
	*ret_name = TAKE_PTR(norm);
	*ret_target = TAKE_PTR(target);
	return 0;
}

static int reader_open(struct reader *r, const char *what, struct archive **ret)
{
	_cleanup_free_ char *why = NULL;
	int k = archive_open_tar_at(r->dirfd, r->path, ret, &why);
	if (k < 0)
		return fail(r, k, "%s: %s", what, why ? why : strerror(-k));
	return 0;
}

/* An entry of a pass over the archive, checked, with its normalised name and link target. */
struct pass_entry {
	struct archive_entry *e;
	char *name;
	enum entry_type type;
	char *target;
};

static void pass_entry_done(struct pass_entry *pe)
{
	free(pe->name);
	free(pe->target);
}

/* An entry is refused at its header when it is sparse or its data would pass a cap: nothing
 * past a cap is ever decompressed, not even to skip it. */
static int entry_bounded(struct reader *r, struct archive *a, struct archive_entry *e, const char *name)
{
	_cleanup_free_ char *why = NULL;
	uint64_t size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
	uint64_t end = (uint64_t)archive_filter_bytes(a, 0) + size;
	int k = archive_entry_bounded(a, e, 0, &why);

	if (k < 0)
		return fail(r, k, "%s", why ? why : strerror(-k));
	if (end > r->outer_end)
		r->outer_end = end;
	return unpack_check(r, name, size);
}

/* One pass over the archive: every entry checked, then handed to FN (the archive's root aside). */
static int read_pass(struct reader *r, bool second, int (*fn)(struct reader *r, struct archive *a, struct pass_entry *pe))
{
	_cleanup_archive_read_ struct archive *a = NULL;
	_cleanup_free_ char *last = NULL;
	int k;

	k = reader_open(r, second ? "cannot open again" : "cannot open", &a);
	if (k < 0)
		return k;
	for (;;) {
		_cleanup_(pass_entry_done) struct pass_entry pe = { 0 };

		k = archive_read_next_header(a, &pe.e);
		if (k == ARCHIVE_EOF)
			return 0;
		if (k < ARCHIVE_WARN && second)
			return fail(r, -EIO, "unreadable on the second read: %s", archive_error(a));
		if (k < ARCHIVE_WARN)
			return fail(r, -EIO, "unreadable, truncated or corrupt archive%s%s: %s", last ? " after entry " : "",
				    last ? last : "", archive_error(a));
		k = entry_check(r, pe.e, &pe.name, &pe.type, &pe.target);
		if (k >= 0)
			k = entry_bounded(r, a, pe.e, pe.name);
		if (k >= 0 && *pe.name) {
			free(last);
			last = strdup(pe.name);
			k = fn(r, a, &pe);
		}
		if (k < 0)
			return k;
	}
}

/* First pass: every entry recorded; small ones kept, the others hashed and, when their name
 * promises a digest, stored as they stream past. */
static int pass1_entry(struct reader *r, struct archive *a, struct pass_entry *pe)
{
	struct entry *en;

	if (pe->type != ENTRY_DIR) {
		struct entry *dup = entry_find(r, pe->name);
		if (dup && dup->type != ENTRY_DIR)
			return fail(r, -EINVAL, "%s: appears twice in the archive", pe->name);
	}
	if (r->n_entries >= ENTRIES_MAX)
		return fail(r, -E2BIG, "more than %d entries", ENTRIES_MAX);
	en = entry_add(r);
	if (!en)
		return -ENOMEM;
	en->name = TAKE_PTR(pe->name);
	en->target = TAKE_PTR(pe->target);
	en->type = pe->type;
	if (en->type != ENTRY_FILE)
		return 0;
	if (!archive_entry_size_is_set(pe->e) || archive_entry_size(pe->e) < 0)
		return fail(r, -EINVAL, "%s: file entry without a size", en->name);
	en->size = archive_entry_size(pe->e);
	return entry_read(r, a, en);
}

/* Second pass: the layers whose digest only the first pass could tell (legacy docker save
 * names, compressed layers named by their diff_id), checked against that pass. */
static int pass2_entry(struct reader *r, struct archive *a, struct pass_entry *pe)
{
	struct entry *en = entry_find(r, pe->name);
	char expect[SHA256_HEX_LEN + 1];

	if (!en || pe->type != ENTRY_FILE || en->type != ENTRY_FILE || !en->needed || en->stored)
		return 0;
	if ((uint64_t)archive_entry_size(pe->e) != en->size)
		return fail(r, -EBADMSG, "%s: changed between two reads of the archive", en->name);
	memcpy(expect, en->raw, sizeof(expect));
	return entry_stream(r, a, en, 0, expect, false);
}

static int read_pass2(struct reader *r)
{
	int k = read_pass(r, true, pass2_entry);

	if (k < 0)
		return k;
	for (size_t i = 0; i < r->n_entries; i++)
		if (r->entries[i].needed && !r->entries[i].stored)
			return fail(r, -EIO, "%s: gone on the second read of the archive", r->entries[i].name);
	return 0;
}

/* Give the sink a blob that is in memory. */
static int blob_put(struct reader *r, const char *hex, const void *data, size_t size)
{
	char got[SHA256_HEX_LEN + 1];
	int k;

	k = r->sink->begin(r->sink->userdata, hex, size);
	if (k <= 0)
		return k < 0 ? fail(r, k, "cannot store blob sha256:%s: %s", hex, strerror(-k)) : 0;
	k = r->sink->data(r->sink->userdata, data, size);
	if (k >= 0)
		k = r->sink->end(r->sink->userdata, got);
	if (k < 0)
		return fail(r, k, "cannot store blob sha256:%s: %s", hex, strerror(-k));
	if (!streq(got, hex))
		return fail(r, -EIO, "blob sha256:%s was stored as sha256:%s", hex, got);
	k = r->sink->commit(r->sink->userdata, hex, size);
	if (k < 0)
		return fail(r, k, "cannot store blob sha256:%s: %s", hex, strerror(-k));
	return 0;
}

/* Make sure the sink has entry EN's bytes: from memory now, or in the second pass. */
static int entry_store(struct reader *r, struct entry *en)
{
	int k;

	if (en->stored || en->needed)
		return 0;
	if (en->json) {
		k = blob_put(r, en->raw, en->json, en->size);
		if (k < 0)
			return k;
		en->stored = true;
		return 0;
	}
	en->needed = true;
	return 0;
}

static int entry_json(struct reader *r, const struct entry *en, json_t **ret)
{
	json_error_t err;
	json_t *j;

	if (!en->json)
		return fail(r, -EINVAL, "%s: not JSON, or larger than %u MiB", en->name, JSON_BLOB_MAX >> 20);
	j = json_loadb(en->json, en->size, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		return fail(r, -EINVAL, "%s: invalid JSON at line %d column %d: %s", en->name, err.line, err.column,
			    err.text);
	*ret = j;
	return 0;
}

/* jansson's own json_decrefp accepts NULL. */
#define _cleanup_json_ _cleanup_(json_decrefp)

struct descriptor {
	const char *media_type; /* NULL when absent */
	char hex[SHA256_HEX_LEN + 1];
	uint64_t size;
	json_t *platform;       /* borrowed, NULL when absent */
	json_t *annotations;
};

static int digest_parse(struct reader *r, const char *where, const char *s, char hex[SHA256_HEX_LEN + 1])
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || !is_hex64(s + 7, strlen(s + 7)))
		return fail(r, -EINVAL, "%s: digest %s is not sha256:<64 lowercase hex digits>", where, s ? s : "(missing)");
	memcpy(hex, s + 7, SHA256_HEX_LEN + 1);
	return 0;
}

static int descriptor_parse(struct reader *r, const char *where, json_t *o, struct descriptor *d)
{
	json_t *size = json_object_get(o, "size");
	json_t *mt = json_object_get(o, "mediaType");
	int k;

	if (!json_is_object(o))
		return fail(r, -EINVAL, "%s: not a descriptor object", where);
	k = digest_parse(r, where, json_string_value(json_object_get(o, "digest")), d->hex);
	if (k < 0)
		return k;
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return fail(r, -EINVAL, "%s: descriptor without a valid size", where);
	if (mt && !json_is_string(mt))
		return fail(r, -EINVAL, "%s: mediaType is not a string", where);
	d->size = json_integer_value(size);
	d->media_type = json_string_value(mt);
	d->platform = json_object_get(o, "platform");
	d->annotations = json_object_get(o, "annotations");
	return 0;
}

/* "os/architecture[/variant]" of a platform object or an image config. */
static char *platform_string(json_t *o)
{
	const char *os = json_string_value(json_object_get(o, "os"));
	const char *arch = json_string_value(json_object_get(o, "architecture"));
	const char *variant = json_string_value(json_object_get(o, "variant"));
	char *s;

	if (asprintf(&s, "%s/%s%s%s", os ? os : "unknown", arch ? arch : "unknown", variant && *variant ? "/" : "",
		     variant && *variant ? variant : "") < 0)
		return NULL;
	return s;
}

static bool platform_is_payload(struct reader *r, json_t *o)
{
	const char *os = json_string_value(json_object_get(o, "os"));
	const char *arch = json_string_value(json_object_get(o, "architecture"));
	const char *variant = json_string_value(json_object_get(o, "variant"));

	if (!os || !arch || !streq(os, "linux") || !streq(arch, r->arch))
		return false;
	return !variant || !*variant || (streq(arch, "arm64") && streq(variant, "v8")) ||
	       (streq(arch, "amd64") && streq(variant, "v1"));
}

/* The blob a descriptor points at, checked against its digest and size. */
static int blob_find(struct reader *r, const char *where, const struct descriptor *d, struct entry **ret)
{
	_cleanup_free_ char *name = NULL;
	struct entry *en;

	if (asprintf(&name, "blobs/sha256/%s", d->hex) < 0)
		return -ENOMEM;
	en = entry_resolve(r, name);
	if (!en)
		return fail(r, -ENOENT, "%s: blob sha256:%s is not in the archive", where, d->hex);
	if (!streq(en->raw, d->hex))
		return fail(r, -EBADMSG, "%s: content hashes to sha256:%s, expected sha256:%s", name, en->raw, d->hex);
	if (en->size != d->size)
		return fail(r, -EBADMSG, "%s: %" PRIu64 " bytes, %s says %" PRIu64, name, en->size, where, d->size);
	*ret = en;
	return 0;
}

static bool media_type_is_index(const char *mt)
{
	return streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST);
}

/* The media type of a manifest or index: its own field, checked against the descriptor's. */
static int media_type_resolve(struct reader *r, const char *where, json_t *doc, const char *desc_mt, const char **ret)
{
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));

	if (mt && desc_mt && !streq(mt, desc_mt))
		return fail(r, -EBADMSG, "%s: mediaType %s, but the descriptor pointing at it says %s", where, mt, desc_mt);
	if (!mt && desc_mt && streq(desc_mt, MT_DOCKER_MANIFEST))
		warn(r, "%s has no mediaType field: registries serve it as an OCI manifest", where);
	if (!mt)
		mt = desc_mt;
	if (!mt)
		mt = json_object_get(doc, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST;
	if (!streq(mt, MT_OCI_INDEX) && !streq(mt, MT_DOCKER_LIST) && !streq(mt, MT_OCI_MANIFEST) &&
	    !streq(mt, MT_DOCKER_MANIFEST))
		return fail(r, -EINVAL, "%s: unsupported media type %s", where, mt);
	*ret = mt;
	return 0;
}

static bool layer_media_type_is_known(const char *mt)
{
	static const char *const known[] = {
		MT_DOCKER_LAYER,
		MT_DOCKER_LAYER_GZIP,
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (streq(mt, known[i]))
			return true;
	return false;
}

/* The image config EN of the manifest OWNER with N_LAYERS layers: parsed, its platform checked
 * against the payload's when STRICT, and one diff_id per layer. */
static int config_load(struct reader *r, const struct entry *en, bool strict, const char *owner, size_t n_layers,
		       json_t **ret_cfg, char **ret_platform, json_t **ret_diff_ids)
{
	_cleanup_free_ char *platform = NULL;
	_cleanup_json_ json_t *cfg = NULL;
	json_t *rootfs, *diff_ids;
	int k;

	k = entry_json(r, en, &cfg);
	if (k < 0)
		return k;
	rootfs = json_object_get(cfg, "rootfs");
	diff_ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_object(cfg) || !json_is_string(json_object_get(cfg, "architecture")) ||
	    !json_is_string(json_object_get(cfg, "os")))
		return fail(r, -EINVAL, "%s: image config without architecture and os", en->name);
	if (!(platform = platform_string(cfg)))
		return -ENOMEM;
	if (strict && !platform_is_payload(r, cfg))
		return fail(r, -ENOEXEC, "architecture mismatch: %s is %s, the payload is %s", r->path, platform,
				r->arch);
	if (!json_is_array(diff_ids) || !json_is_string(json_object_get(rootfs, "type")) ||
	    !streq(json_string_value(json_object_get(rootfs, "type")), "layers"))
		return fail(r, -EINVAL, "%s: image config without rootfs.diff_ids", en->name);
	if (json_array_size(diff_ids) != n_layers)
		return fail(r, -EBADMSG, "%s lists %zu layers, but its config %s lists %zu diff_ids", owner, n_layers,
			    en->name, json_array_size(diff_ids));
	*ret_platform = TAKE_PTR(platform);
	*ret_diff_ids = diff_ids;
	*ret_cfg = TAKE_PTR(cfg);
	return 0;
}

/* A layer's uncompressed digest against the config's claim. */
static int diff_id_check(struct reader *r, const struct entry *en, json_t *diff_ids, size_t i)
{
	const char *want = json_string_value(json_array_get(diff_ids, i));

	if (!want || strncmp(want, "sha256:", 7) != 0 || !streq(want + 7, en->diff))
		return fail(r, -EBADMSG, "%s: uncompressed content hashes to sha256:%s, the config's rootfs.diff_ids[%zu] says %s",
			    en->name, en->diff, i, want ? want : "(nothing)");
	return 0;
}

static void manifest_done(struct image_archive_manifest *m)
{
	free(m->platform);
	strv_free(m->blobs);
	*m = (struct image_archive_manifest){ 0 };
}

static int result_add_manifest(struct reader *r, struct image_archive_manifest *m)
{
	struct image_archive_result *res = r->res;
	struct image_archive_manifest *nm;
	int k;

	for (size_t i = 0; i < res->n_manifests; i++)
		if (streq(res->manifests[i].hex, m->hex)) {
			manifest_done(m);
			return 0;
		}
	nm = realloc(res->manifests, (res->n_manifests + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	res->manifests = nm;
	if ((k = strv_push(&res->platforms, m->platform)) < 0)
		return k;
	nm[res->n_manifests++] = *m;
	*m = (struct image_archive_manifest){ 0 };
	return 0;
}

static char *descriptor_platform(const struct descriptor *d)
{
	const char *type = json_string_value(json_object_get(d->annotations, "vnd.docker.reference.type"));
	_cleanup_free_ char *p = d->platform ? platform_string(d->platform) : strdup("unknown/unknown");
	char *s;

	if (!p || !type)
		return TAKE_PTR(p);
	return asprintf(&s, "%s (%s)", p, type) < 0 ? NULL : s;
}

/* Whether an index's platform claim and an image config agree (a variant counts only when
 * both name one: configs often leave out arm64's "v8"). */
static bool platform_agrees(json_t *claim, json_t *cfg)
{
	const char *keys[] = { "os", "architecture", "variant" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *a = json_string_value(json_object_get(claim, keys[i]));
		const char *b = json_string_value(json_object_get(cfg, keys[i]));
		if (i < 2 ? !a || !b || !streq(a, b) : a && b && *a && *b && !streq(a, b))
			return false;
	}
	return true;
}

/* An image manifest (OCI or schema2) found in the archive: config and layers must all be
 * there and match. STRICT: the payload's image, whose platform must be the payload's. Other
 * manifests of an index may be artifacts (attestations): their blobs are only checked against
 * their digests. D is the index's descriptor of it (NULL: none), whose platform claim is checked. */
static int manifest_process(struct reader *r, const struct entry *men, json_t *m, bool strict,
			    const struct descriptor *d, struct image_archive_manifest *ret)
{
	_cleanup_(manifest_done) struct image_archive_manifest out = { 0 };
	_cleanup_json_ json_t *cfg = NULL;
	_cleanup_free_ char *where = NULL;
	struct descriptor cd = { 0 };
	struct entry *cen;
	json_t *layers = json_object_get(m, "layers"), *diff_ids = NULL, *l;
	bool image;
	size_t i;
	int k;

	if (!json_is_integer(json_object_get(m, "schemaVersion")) ||
	    json_integer_value(json_object_get(m, "schemaVersion")) != 2)
		return fail(r, -EINVAL, "%s: manifest schemaVersion is not 2", men->name);
	if (asprintf(&where, "%s config", men->name) < 0)
		return -ENOMEM;
	k = descriptor_parse(r, where, json_object_get(m, "config"), &cd);
	if (k < 0)
		return k;
	image = !cd.media_type || streq(cd.media_type, MT_OCI_CONFIG) || streq(cd.media_type, MT_DOCKER_CONFIG);
	if (!image && strict)
		return fail(r, -EINVAL, "%s: config media type %s is not a container image's", men->name, cd.media_type);
	if (!json_is_array(layers))
		return fail(r, -EINVAL, "%s: manifest without layers", men->name);
	if (json_array_size(layers) > LAYERS_MAX)
		return fail(r, -E2BIG, "%s: more than %d layers", men->name, LAYERS_MAX);
	k = blob_find(r, where, &cd, &cen);
	if (k < 0)
		return k;
	if (image) {
		k = config_load(r, cen, strict, men->name, json_array_size(layers), &cfg, &out.platform, &diff_ids);
		if (k < 0)
			return k;
		if (d && d->platform && !platform_agrees(d->platform, cfg)) {
			_cleanup_free_ char *claimed = platform_string(d->platform);
			return fail(r, -EBADMSG, "%s: the index says %s, its config says %s", men->name,
				    claimed ? claimed : "another platform", out.platform);
		}
	} else if (!(out.platform = d ? descriptor_platform(d) : strdup("unknown/unknown")))
		return -ENOMEM;
	memcpy(out.hex, men->raw, sizeof(out.hex));
	if ((k = strv_push(&out.blobs, cen->raw)) < 0)
		return k;
	json_array_foreach(layers, i, l) {
		struct descriptor ld = { 0 };
		struct entry *len;
		free(where);
		if (asprintf(&where, "%s layers[%zu]", men->name, i) < 0) {
			where = NULL;
			return -ENOMEM;
		}
		k = descriptor_parse(r, where, l, &ld);
		if (k < 0)
			return k;
		if (image && (!ld.media_type || !layer_media_type_is_known(ld.media_type)))
			return fail(r, -EINVAL, "%s: unsupported layer media type %s", where,
				    ld.media_type ? ld.media_type : "(none)");
		k = blob_find(r, where, &ld, &len);
		if (k < 0)
			return k;
		if (image && (k = diff_id_check(r, len, diff_ids, i)) < 0)
			return k;
		if ((k = strv_push(&out.blobs, len->raw)) < 0)
			return k;
	}
	*ret = out;
	out = (struct image_archive_manifest){ 0 };
	return 0;
}

/* The blob of a manifest or index with its parsed JSON and media type. */
static int manifest_load(struct reader *r, const char *where, const struct descriptor *d, struct entry **ret_en,
			 json_t **ret_doc, const char **ret_mt)
{
	json_t *doc;
	int k;

	k = blob_find(r, where, d, ret_en);
	if (k < 0)
		return k;
	k = entry_json(r, *ret_en, &doc);
	if (k < 0)
		return k;
	if (!json_is_object(doc)) {
		json_decref(doc);
		return fail(r, -EINVAL, "%s: not a JSON object", (*ret_en)->name);
	}
	k = media_type_resolve(r, (*ret_en)->name, doc, d->media_type, ret_mt);
	if (k < 0) {
		json_decref(doc);
		return k;
	}
	*ret_doc = doc;
	return 0;
}

static char *strv_join_comma(char **l)
{
	size_t n = 1;
	char *s;

	if (!l || !*l)
		return strdup("none");
	for (char **p = l; *p; p++)
		n += strlen(*p) + 2;
	if (!(s = malloc(n)))
		return NULL;
	s[0] = '\0';
	for (char **p = l; *p; p++) {
		if (p != l)
			strcat(s, ", ");
		strcat(s, *p);
	}
	return s;
}

/* A multi-platform index: the payload's platform must be there; other platforms found whole
 * are linked too; absent ones are only reported. */
/* A name the archive carries, once; at most a few, each a plausible reference length. */
static int result_add_name(struct reader *r, const char *name)
{
	if (!name || !*name || strlen(name) > 512 || strv_length(r->res->names) >= 16 ||
	    strv_contains(r->res->names, name))
		return 0;
	return strv_push(&r->res->names, name);
}

static int index_process(struct reader *r, const struct entry *ien, json_t *index)
{
	_cleanup_strv_free_ char **listed = NULL, **absent = NULL, **present = NULL;
	json_t *manifests = json_object_get(index, "manifests"), *o;
	ssize_t chosen = -1, listed_payload = -1;
	size_t i;
	int k;

	if (!json_is_array(manifests) || json_array_size(manifests) == 0)
		return fail(r, -EINVAL, "%s: index without manifests", ien->name);

	/* First pass over the list: what is there and which one is the payload's. */
	json_array_foreach(manifests, i, o) {
		_cleanup_free_ char *where = NULL, *name = NULL, *plat = NULL;
		struct descriptor d = { 0 };
		if (asprintf(&where, "%s manifests[%zu]", ien->name, i) < 0)
			return -ENOMEM;
		k = descriptor_parse(r, where, o, &d);
		if (k < 0)
			return k;
		if (!(plat = descriptor_platform(&d)))
			return -ENOMEM;
		if ((k = strv_push(&listed, plat)) < 0)
			return k;
		if (asprintf(&name, "blobs/sha256/%s", d.hex) < 0)
			return -ENOMEM;
		bool payload = d.platform && platform_is_payload(r, d.platform);
		if (payload && listed_payload < 0)
			listed_payload = i;
		if (!entry_resolve(r, name)) {
			if ((k = strv_push(&absent, plat)) < 0)
				return k;
			continue;
		}
		if ((k = strv_push(&present, plat)) < 0)
			return k;
		if (payload && chosen < 0)
			chosen = i;
	}
	if (chosen < 0) {
		_cleanup_free_ char *has = strv_join_comma(present), *all = strv_join_comma(listed);
		if (!has || !all)
			return -ENOMEM;
		if (listed_payload >= 0)
			return fail(r, -ENOENT, "the index lists linux/%s but its manifest is not in the archive; the archive has: %s",
				    r->arch, has);
		return fail(r, -ENOENT, "no linux/%s image: the index lists %s; the archive has: %s", r->arch, all, has);
	}

	/* The payload's platform first, then the others. */
	for (ssize_t pass = 0; pass < 2; pass++)
		json_array_foreach(manifests, i, o) {
			_cleanup_(manifest_done) struct image_archive_manifest m = { 0 };
			_cleanup_free_ char *where = NULL, *name = NULL;
			_cleanup_json_ json_t *doc = NULL;
			struct descriptor d = { 0 };
			struct entry *men;
			const char *mt;
			bool strict = (ssize_t)i == chosen;

			if ((pass == 0) != strict)
				continue;
			if (asprintf(&where, "%s manifests[%zu]", ien->name, i) < 0)
				return -ENOMEM;
			k = descriptor_parse(r, where, o, &d);
			if (k < 0)
				return k;
			if (asprintf(&name, "blobs/sha256/%s", d.hex) < 0)
				return -ENOMEM;
			if (!entry_resolve(r, name))
				continue;
			k = manifest_load(r, where, &d, &men, &doc, &mt);
			if (k < 0)
				return k;
			if (media_type_is_index(mt)) {
				if (strict)
					return fail(r, -EINVAL, "%s: an index inside an index is not supported", men->name);
				warn(r, "nested index sha256:%s not followed", d.hex);
				continue;
			}
			k = manifest_process(r, men, doc, strict, &d, &m);
			if (k == -ENOENT && !strict) {
				/* Part of another platform is missing: report it, do not link it. */
				_cleanup_free_ char *plat = descriptor_platform(&d);
				warn(r, "%s is only partly in the archive (%s); not linked", plat ? plat : "a platform",
				     r->error ? r->error : "a blob is missing");
				free(r->error);
				r->error = NULL;
				continue;
			}
			if (k < 0)
				return k;
			k = result_add_manifest(r, &m);
			if (k < 0)
				return k;
		}

	if (absent) {
		_cleanup_free_ char *list = strv_join_comma(absent);
		if (!list)
			return -ENOMEM;
		warn(r, "index lists %s whose blobs are not in the archive", list);
	}
	return 0;
}

static int oci_process(struct reader *r)
{
	_cleanup_json_ json_t *layout = NULL, *index = NULL, *top = NULL;
	struct entry *len = entry_resolve(r, "oci-layout"), *ien = entry_resolve(r, "index.json"), *ten;
	json_t *manifests, *o;
	struct descriptor d = { 0 };
	size_t i, n_payload = 0;
	bool same = true;
	const char *mt;
	int k;

	if (!ien)
		return fail(r, -ENOENT, "oci-layout without index.json");
	if (len) {
		k = entry_json(r, len, &layout);
		if (k < 0)
			return k;
		const char *v = json_string_value(json_object_get(layout, "imageLayoutVersion"));
		if (!v || !streq(v, "1.0.0"))
			warn(r, "oci-layout says imageLayoutVersion %s, expected 1.0.0", v ? v : "(none)");
	} else
		warn(r, "no oci-layout file beside index.json");
	k = entry_json(r, ien, &index);
	if (k < 0)
		return k;
	manifests = json_object_get(index, "manifests");
	if (!json_is_array(manifests) || json_array_size(manifests) == 0)
		return fail(r, -EINVAL, "index.json lists no image");
	json_array_foreach(manifests, i, o) {
		const char *name = json_string_value(
			json_object_get(json_object_get(o, "annotations"), "io.containerd.image.name"));
		if ((k = result_add_name(r, name)) < 0)
			return k;
	}

	/* One image per archive; several entries are fine when they name the same blob, or when
	 * exactly one of them is for the payload's platform. */
	json_array_foreach(manifests, i, o) {
		struct descriptor di = { 0 };
		_cleanup_free_ char *where = NULL;
		if (asprintf(&where, "index.json manifests[%zu]", i) < 0)
			return -ENOMEM;
		k = descriptor_parse(r, where, o, &di);
		if (k < 0)
			return k;
		if (i == 0)
			d = di;
		else if (!streq(di.hex, d.hex))
			same = false;
	}
	if (!same) {
		json_array_foreach(manifests, i, o) {
			struct descriptor di = { 0 };
			k = descriptor_parse(r, "index.json", o, &di);
			if (k < 0)
				return k;
			if (di.platform && platform_is_payload(r, di.platform) && n_payload++ == 0)
				d = di;
		}
		if (n_payload != 1)
			return fail(r, -EINVAL, "index.json lists %zu different images, expected one",
				    json_array_size(manifests));
		warn(r, "index.json lists %zu images; using the linux/%s one", json_array_size(manifests), r->arch);
	}

	k = manifest_load(r, "index.json", &d, &ten, &top, &mt);
	if (k < 0)
		return k;
	memcpy(r->res->top_hex, ten->raw, sizeof(r->res->top_hex));
	if (!(r->res->top_media_type = strdup(mt)))
		return -ENOMEM;
	r->res->top_is_index = media_type_is_index(mt);
	if (r->res->top_is_index)
		k = index_process(r, ten, top);
	else {
		_cleanup_(manifest_done) struct image_archive_manifest m = { 0 };
		k = manifest_process(r, ten, top, true, NULL, &m);
		if (k >= 0)
			k = result_add_manifest(r, &m);
	}
	if (k < 0)
		return k;

	/* Every blob of the layout goes into the store, even one nothing links: the layers did
	 * while streaming, the small ones go now. */
	for (size_t j = 0; j < r->n_entries; j++) {
		struct entry *en = &r->entries[j];
		char claim[SHA256_HEX_LEN + 1];
		if (en->type == ENTRY_FILE && en->json && blob_claim(en, claim)) {
			k = entry_store(r, en);
			if (k < 0)
				return k;
		}
	}
	return 0;
}

static int docker_process(struct reader *r)
{
	_cleanup_json_ json_t *list = NULL, *cfg = NULL;
	_cleanup_(manifest_done) struct image_archive_manifest m = { 0 };
	_cleanup_(sbuf_free) struct sbuf b = SBUF_INIT_MAX(1 << 20);
	struct entry *men = entry_resolve(r, "manifest.json"), *cen;
	const char *config_name, *layer_name;
	json_t *item, *layers, *diff_ids, *l;
	struct gb_sha256 *h;
	size_t i;
	int k;

	k = entry_json(r, men, &list);
	if (k < 0)
		return k;
	if (!json_is_array(list) || json_array_size(list) == 0)
		return fail(r, -EINVAL, "manifest.json lists no image");
	if (json_array_size(list) > 1)
		return fail(r, -EINVAL, "manifest.json lists %zu images; expected one per archive", json_array_size(list));
	item = json_array_get(list, 0);
	json_array_foreach(json_object_get(item, "RepoTags"), i, l)
		if ((k = result_add_name(r, json_string_value(l))) < 0)
			return k;
	config_name = json_string_value(json_object_get(item, "Config"));
	layers = json_object_get(item, "Layers");
	if (!config_name || !json_is_array(layers))
		return fail(r, -EINVAL, "manifest.json: entry without Config and Layers");
	if (json_array_size(layers) > LAYERS_MAX)
		return fail(r, -E2BIG, "manifest.json: more than %d layers", LAYERS_MAX);

	_cleanup_free_ char *cname = NULL;
	if (path_normalize(NULL, config_name, false, &cname) < 0)
		return fail(r, -EPERM, "manifest.json: Config %s leads outside the archive", config_name);
	cen = entry_resolve(r, cname);
	if (!cen)
		return fail(r, -ENOENT, "manifest.json: Config %s is not in the archive", config_name);
	/* <hex>.json promises its own digest. */
	if (strlen(cname) == SHA256_HEX_LEN + 5 && streq(cname + SHA256_HEX_LEN, ".json") &&
	    is_hex64(cname, SHA256_HEX_LEN) && strncmp(cname, cen->raw, SHA256_HEX_LEN) != 0)
		return fail(r, -EBADMSG, "%s: content hashes to sha256:%s, expected sha256:%.64s", cname, cen->raw, cname);
	k = config_load(r, cen, true, "manifest.json", json_array_size(layers), &cfg, &m.platform, &diff_ids);
	if (k < 0)
		return k;

	k = entry_store(r, cen);
	if (k >= 0)
		k = strv_push(&m.blobs, cen->raw);
	sbuf_printf(&b,
		    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
		    "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"size\":%" PRIu64 ",\"digest\":\"sha256:%s\"},"
		    "\"layers\":[",
		    cen->size, cen->raw);
	if (k < 0)
		goto out;
	json_array_foreach(layers, i, l) {
		_cleanup_free_ char *lname = NULL;
		struct entry *len;
		layer_name = json_string_value(l);
		if (!layer_name || path_normalize(NULL, layer_name, false, &lname) < 0)
			return fail(r, -EPERM, "manifest.json: Layers[%zu] is not a path inside the archive", i);
		len = entry_resolve(r, lname);
		if (!len)
			return fail(r, -ENOENT, "manifest.json: layer %s is not in the archive", layer_name);
		if (len->comp != COMP_NONE && len->comp != COMP_GZIP)
			return fail(r, -EINVAL, "%s: a zstd, xz or bzip2 layer has no Docker schema2 media type", len->name);
		k = diff_id_check(r, len, diff_ids, i);
		if (k < 0)
			return k;
		k = entry_store(r, len);
		if (k >= 0)
			k = strv_push(&m.blobs, len->raw);
		sbuf_printf(&b, "%s{\"mediaType\":\"%s\",\"size\":%" PRIu64 ",\"digest\":\"sha256:%s\"}", i ? "," : "",
			    len->comp == COMP_GZIP ? MT_DOCKER_LAYER_GZIP : MT_DOCKER_LAYER, len->size, len->raw);
		if (k < 0)
			goto out;
	}
	sbuf_printf(&b, "]}");
	if ((k = b.error) < 0)
		goto out;

	for (size_t j = 0; j < r->n_entries; j++)
		if (r->entries[j].needed && !r->entries[j].stored) {
			k = read_pass2(r);
			if (k < 0)
				goto out;
			break;
		}

	if (!(h = gb_sha256_new())) {
		k = -ENOMEM;
		goto out;
	}
	gb_sha256_update(h, b.data, b.len);
	gb_sha256_final_hex(h, m.hex);
	k = blob_put(r, m.hex, b.data, b.len);
	if (k < 0)
		goto out;
	memcpy(r->res->top_hex, m.hex, sizeof(m.hex));
	if (!(r->res->top_media_type = strdup(MT_DOCKER_MANIFEST))) {
		k = -ENOMEM;
		goto out;
	}
	k = result_add_manifest(r, &m);
out:
	if (k == -E2BIG)
		return fail(r, k, "manifest.json: the synthesized manifest would pass %zu bytes", b.max);
	return k;
}

void image_archive_result_done(struct image_archive_result *r)
{
	FREE_ARRAY(r->manifests, r->n_manifests, manifest_done);
	free(r->top_media_type);
	strv_free(r->platforms);
	strv_free(r->warnings);
	strv_free(r->names);
	*r = (struct image_archive_result){ 0 };
}

static void entry_done(struct entry *en)
{
	free(en->name);
	free(en->target);
	free(en->json);
}

static void reader_done(struct reader *r)
{
	FREE_ARRAY(r->entries, r->n_entries, entry_done);
	free(r->buf);
	free(r->ubuf);
	free(r->error);
}

int image_archive_read(int dirfd, const char *path, const char *arch, struct unpack_budget *budget,
		       const struct image_blob_sink *sink, struct image_archive_result *ret, char **ret_error)
{
	struct image_archive_result res = { 0 };
	struct unpack_budget unbounded = { .caps = UNPACK_CAPS_DEFAULT };
	_cleanup_(reader_done) struct reader r = { .dirfd = dirfd, .path = path, .arch = arch, .sink = sink, .res = &res,
						   .budget = budget ? budget : &unbounded };
	int k;

	if (!(r.buf = malloc(CHUNK)) || !(r.ubuf = malloc(CHUNK)))
		return -ENOMEM;
	k = read_pass(&r, false, pass1_entry);
	if (k >= 0) {
		if (entry_resolve(&r, "index.json") || entry_resolve(&r, "oci-layout")) {
			res.format = "oci-layout";
			k = oci_process(&r);
		} else if (entry_resolve(&r, "manifest.json")) {
			res.format = "docker-archive";
			k = docker_process(&r);
		} else
			k = fail(&r, -EINVAL, "neither index.json (OCI layout) nor manifest.json (docker-archive) in it");
	}
	/* What was decompressed counts, whether the archive was good or not. */
	r.budget->used += r.outer_end + r.inner;
	if (k < 0) {
		if (!r.error)
			gb_error(&r.error, k, "%s", strerror(-k));
		if (gb_error_prefix(&r.error, "%s", path) < 0)
			return -ENOMEM;
		log_debug("%s", r.error ? r.error : path);
		if (ret_error)
			*ret_error = TAKE_PTR(r.error);
		image_archive_result_done(&res);
		return k;
	}
	*ret = res;
	return 0;
}
