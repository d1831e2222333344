/* Stages check and payload: the outputs/ folder checked before anything slow, then streamed
 * into the payload images with every image pre-filled into the registry store. */
#include "payload.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>

#include "build.h"
#include "findings.h"
#include "fsutil.h"
#include "imageref.h"
#include "log.h"
#include "outputs.h"
#include "payloadstream.h"
#include "registry.h"
#include "strv.h"

#define REGISTRY_ROOT "registry/docker/registry/v2"
#define PAYLOAD_SUMMARY "gapbox-payload.json"

struct import {
	const char *dir, *arch;
	char *const *registries;
	struct registry_store *rs;
	struct findings *f;
	json_t *images; /* the summary's list, or NULL */
};

/* Import one listed image. Problems become findings (the file is the list line or the
 * archive); outputs_check has already reported bad references and missing archives. */
static int import_image(const struct image_list_item *it, void *userdata)
{
	struct import *im = userdata;
	_cleanup_free_ char *archive = outputs_image_archive(im->dir, it->ref), *repo = NULL, *why = NULL, *err = NULL;
	struct image_ref ref = { 0 };
	struct registry_image_info info = { 0 };
	int r;

	if (interrupted())
		return -EINTR;
	if (!archive || image_ref_parse(it->ref, &ref, NULL) < 0) {
		image_ref_done(&ref);
		return 0;
	}
	r = image_ref_push_repository(&ref, im->registries, &repo, &why);
	if (r < 0) {
		findings_add(im->f, FINDING_ERROR, it->where, "%s cannot be pushed under a registry name: %s", it->ref,
			     why ? why : strerror(-r));
		image_ref_done(&ref);
		return 0;
	}
	const char *rel = archive + strlen(im->dir) + 1;
	const char *tag = ref.tag ? ref.tag : "latest";
	r = registry_import(im->rs, archive, repo, tag, im->arch, &info, &err);
	if (r < 0) {
		/* The finding names the archive already. */
		const char *msg = err ? err : strerror(-r);
		size_t alen = strlen(archive);
		if (!strncmp(msg, archive, alen) && !strncmp(msg + alen, ": ", 2))
			msg += alen + 2;
		findings_add(im->f, FINDING_ERROR, rel, "%s", msg);
	} else {
		for (char **w = info.warnings; w && *w; w++)
			findings_add(im->f, FINDING_WARNING, rel, "%s", *w);
		if (im->images)
			json_array_append_new(im->images, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ref", it->ref, "repository",
								    repo, "tag", tag, "digest", info.digest, "media_type",
								    info.media_type, "archive", rel));
	}
	registry_image_info_done(&info);
	image_ref_done(&ref);
	return 0;
}

static int import_images(const char *dir, const char *arch, char *const *registries, struct registry_store *rs,
			 struct findings *f, json_t *images)
{
	struct import im = { .dir = dir, .arch = arch, .registries = registries, .rs = rs, .f = f, .images = images };
	int r = outputs_foreach_image(dir, f, import_image, &im);
	return r < 0 ? r : 0;
}

int payload_check_outputs(const char *dir, const char *arch, char *const *registries, bool strict, FILE *out)
{
	struct findings f = { 0 };
	struct payload_stream *s = NULL;
	struct registry_store *rs = NULL;
	int r;

	r = outputs_check(dir, arch, registries, &f);
	if (r < 0) {
		findings_done(&f);
		return log_error_errno(r, "cannot check %s: %m", dir);
	}
	r = payload_stream_open_discard(&s);
	if (r >= 0)
		r = registry_store_new(s, REGISTRY_ROOT, &rs);
	if (r >= 0)
		r = import_images(dir, arch, registries, rs, &f, NULL);
	registry_store_free(rs);
	payload_stream_abort(s);
	if (r < 0) {
		findings_done(&f);
		return r == -EINTR ? r : log_error_errno(r, "cannot check the images of %s: %m", dir);
	}
	findings_print(out, &f, strict);
	fprintf(out, "%s (%s): %zu errors, %zu warnings%s\n", dir, arch, f.errors, f.warnings,
		strict && f.warnings ? " (warnings count as errors: --strict)" : "");
	r = findings_failed(&f, strict) ? -EBADMSG : 0;
	findings_done(&f);
	return r;
}

const char *build_payload_arch(const struct build *b)
{
	return b->profile->payload.arch ? b->profile->payload.arch : b->profile->arch;
}

int stage_check(struct build *b)
{
	struct findings f = { 0 };
	int r;

	if (!b->outputs_dir) {
		log_info("check: no outputs/ folder given (--outputs or payload.outputs): the image carries no payload");
		return 0;
	}
	r = outputs_check(b->outputs_dir, build_payload_arch(b), b->profile->payload.registries, &f);
	if (r < 0) {
		findings_done(&f);
		return log_error_errno(r, "cannot check %s: %m", b->outputs_dir);
	}
	findings_print(stderr, &f, b->strict);
	log_info("check: %s for %s nodes: %zu errors, %zu warnings", b->outputs_dir, build_payload_arch(b), f.errors,
		 f.warnings);
	r = findings_failed(&f, b->strict) ? -EBADMSG : 0;
	findings_done(&f);
	if (r < 0)
		log_error("%s has problems to fix before it goes into the air gap (see above)", b->outputs_dir);
	return r;
}

struct copy {
	struct build *b;
	struct payload_stream *s;
	const char *dir;
	char *real_dir;
};

static bool is_image_archive(const char *rel)
{
	if (strncmp(rel, "images/", 7) != 0 || strchr(rel + 7, '/'))
		return false;
	size_t n = strlen(rel);
	return (n > 7 && streq(rel + n - 7, ".tar.gz")) || (n > 4 && streq(rel + n - 4, ".tar"));
}

static int copy_file(struct copy *c, const struct dir_walk_entry *e)
{
	static char buf[1 << 20];
	_cleanup_close_ int fd = open(e->path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return log_error_errno(-errno, "cannot open %s: %m", e->path);
	r = payload_stream_file_begin(c->s, e->rel, e->st->st_size, e->st->st_mode & 0111 ? 0755 : 0644);
	if (r < 0)
		return log_error_errno(r, "cannot add %s to the payload: %m", e->rel);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR && !interrupted())
			continue;
		if (n < 0)
			return log_error_errno(-errno, "cannot read %s: %m", e->path);
		if (n == 0)
			break;
		if ((r = payload_stream_file_data(c->s, buf, n)) < 0)
			return r == -EBADMSG ? log_error_errno(r, "%s grew while it was read", e->path) : r;
	}
	r = payload_stream_file_end(c->s, NULL);
	if (r == -EBADMSG)
		return log_error_errno(r, "%s shrank while it was read", e->path);
	return r;
}

/* Symlinks are kept (the PyPI mirror's are how pip finds files) but may not leave outputs/. */
static int copy_symlink(struct copy *c, const struct dir_walk_entry *e)
{
	char target[PATH_MAX];
	ssize_t n = readlink(e->path, target, sizeof(target) - 1);
	if (n < 0)
		return log_error_errno(-errno, "cannot read symlink %s: %m", e->path);
	target[n] = '\0';
	_cleanup_free_ char *real = realpath(e->path, NULL);
	size_t len = strlen(c->real_dir);
	if (!real)
		return log_error_errno(-ENOENT, "%s: symlink to %s, which does not exist", e->rel, target);
	if (strncmp(real, c->real_dir, len) != 0 || real[len] != '/')
		return log_error_errno(-EINVAL, "%s: symlink to %s, which is outside %s", e->rel, target, c->dir);
	return payload_stream_symlink(c->s, e->rel, target);
}

static int copy_entry(const struct dir_walk_entry *e, void *userdata)
{
	struct copy *c = userdata;

	if (interrupted())
		return -EINTR;
	if (S_ISDIR(e->st->st_mode))
		return payload_stream_dir(c->s, e->rel);
	if (S_ISLNK(e->st->st_mode))
		return copy_symlink(c, e);
	if (!S_ISREG(e->st->st_mode))
		return log_error_errno(-EINVAL, "%s: only files, folders and symlinks can go into the payload", e->path);
	if (is_image_archive(e->rel) && !c->b->profile->payload.keep_image_archives)
		return 0; /* its content goes into the registry store */
	return copy_file(c, e);
}

int stage_payload(struct build *b)
{
	_cleanup_free_ char *out = path_join(b->isotree, "gapbox/payload.sfs"), *stored = NULL;
	_cleanup_free_ char *sums = build_work_path(b, "payload.sha256"), *text = NULL;
	struct payload_stream_stats st;
	struct payload_stream *s = NULL;
	struct registry_store *rs = NULL;
	struct findings f = { 0 };
	json_t *summary = NULL, *images = NULL;
	struct copy c = { .b = b, .dir = b->outputs_dir };
	int r;

	if (!b->outputs_dir)
		return 0;
	if (!out || !sums || !(stored = path_join(b->isotree, "gapbox/payload-stored.sfs")))
		return -ENOMEM;
	if (!(c.real_dir = realpath(b->outputs_dir, NULL)))
		return log_error_errno(-errno, "cannot resolve %s: %m", b->outputs_dir);

	r = payload_stream_open(out, stored, b->logdir, b->epoch, sums, &s);
	if (r < 0)
		goto finish;
	c.s = s;
	r = dir_walk(b->outputs_dir, NULL, copy_entry, &c);
	if (r < 0)
		goto finish;

	summary = json_pack("{s:i, s:s, s:s, s:[]}", "format", 1, "arch", build_payload_arch(b), "registry_root",
			    REGISTRY_ROOT, "images");
	images = json_object_get(summary, "images");
	r = registry_store_new(s, REGISTRY_ROOT, &rs);
	if (r >= 0)
		r = import_images(b->outputs_dir, build_payload_arch(b), b->profile->payload.registries, rs, &f, images);
	if (r < 0)
		goto finish;
	findings_print(stderr, &f, b->strict);
	if (findings_failed(&f, b->strict)) {
		r = log_error_errno(-EBADMSG, "the images of %s have problems to fix before they go into the air gap (see above)",
				    b->outputs_dir);
		goto finish;
	}

	text = json_dumps(summary, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		r = -ENOMEM;
		goto finish;
	}
	r = payload_stream_file(s, PAYLOAD_SUMMARY, text, strlen(text), 0644);
	if (r < 0)
		goto finish;

	payload_stream_get_stats(s, &st);
	r = payload_stream_close(TAKE_PTR(s));
	if (r < 0)
		goto finish;
	log_info("payload: %zu images, %llu files, %.1f MiB (%.1f MiB already compressed, stored as is)",
		 json_array_size(images), (unsigned long long)st.files, st.bytes / 1048576.0, st.raw_bytes / 1048576.0);
	r = build_add_artifact(b, "gapbox/payload.sfs", out);
	if (r >= 0)
		r = build_add_artifact(b, "gapbox/payload-stored.sfs", stored);
finish:
	registry_store_free(rs);
	payload_stream_abort(s);
	json_decref(summary);
	findings_done(&f);
	free(c.real_dir);
	return r;
}
