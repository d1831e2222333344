/* The payload's two entry points: the outputs/ folder checked, and the folder streamed into the
 * payload images with every image pre-filled into the registry store. */
#include "payload.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "../helper.h"
#include "findings.h"
#include "fsutil.h"
#include "imageref.h"
#include "kubespray.h"
#include "layout.h"
#include "log.h"
#include "outputs.h"
#include "nodeos.h"
#include "payloadrecord.h"
#include "payloadstream.h"
#include "registry.h"
#include "strv.h"

struct import {
	const struct payload_input *in;
	const struct outputs_info *info;
	int dirfd;                  /* the outputs/ folder: archives are opened and named from it */
	struct registry_store *rs;
	struct findings *f;
	struct payload_record *record; /* what was stored, or NULL (a check) */
};

/* ARCHIVE into the store under REPOS (NULL: the name it carries) and the record. REF is the
 * list line, or NULL for an unlisted archive. Problems become findings. */
static int import_archive(struct import *im, const char *archive, const char *ref, char *const *repos, const char *tag)
{
	struct registry_image_info info = { 0 };
	_cleanup_free_ char *err = NULL;
	int r;

	if (interrupted())
		return -EINTR;
	r = registry_import(im->rs, im->dirfd, archive, repos, tag, im->in->arch, &info, &err);
	if (r < 0)
		/* The message names the archive, relative to outputs/, as a finding's file does. */
		findings_add(im->f, FINDING_ERROR, NULL, "%s", err ? err : strerror(-r));
	else {
		for (char **w = info.warnings; w && *w; w++)
			findings_add(im->f, FINDING_WARNING, archive, "%s", *w);
		if (!ref)
			findings_add(im->f, FINDING_NOTE, archive,
				     "no images/*.list names it: imported as %s:%s, the name it carries (%s), as "
				     "load-push-all-images.sh loads every archive",
				     info.repos[0], info.carried_tag, info.names[0]);
		if (im->record)
			r = payload_record_add_image(im->record, &(struct payload_record_image){
				.ref = (char *)(ref ? ref : info.names[0]), .repository = info.repos[0],
				.tag = (char *)(tag ? tag : info.carried_tag), .digest = info.digest,
				.media_type = info.media_type, .archive = (char *)archive, .aliases = info.repos + 1,
				.unlisted = !ref });
	}
	registry_image_info_done(&info);
	return r == -ENOMEM ? r : 0;
}

/* Import one listed image; outputs_check has already reported bad references and missing
 * archives. */
static int import_image(const struct outputs_image *it, void *userdata)
{
	struct import *im = userdata;
	_cleanup_free_ char *archive = it->first ? NULL : outputs_image_archive(im->in->dir, it->ref), *why = NULL;
	_cleanup_strv_free_ char **repos = NULL;
	struct image_ref ref = { 0 };
	int r;

	if (it->first)
		return 0; /* imported already; the check reports the repeated line */
	if (!archive || image_ref_parse(it->ref, &ref, NULL) < 0) {
		image_ref_done(&ref);
		return 0;
	}
	r = image_ref_names(it->ref, im->info->registries, &repos, &why);
	if (r < 0) {
		image_ref_done(&ref);
		if (r == -ENOMEM)
			return r;
		return findings_add(im->f, FINDING_ERROR, it->where, "%s cannot be pushed under a registry name: %s", it->ref,
				    why ? why : strerror(-r));
	}
	r = import_archive(im, archive, it->ref, repos, ref.tag ? ref.tag : "latest");
	image_ref_done(&ref);
	return r;
}

static int import_images(const struct payload_input *in, const struct outputs_info *info, struct payload_stream *s,
			 struct findings *f, struct payload_record *record)
{
	_cleanup_close_ int dirfd = open(in->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_strv_free_ char **unlisted = NULL;
	struct import im = { .in = in, .info = info, .dirfd = dirfd, .f = f, .record = record };
	int r;

	if (dirfd < 0)
		return log_error_errno(-errno, "cannot open %s: %m", in->dir);
	r = registry_store_new(s, GB_PAYLOAD_REGISTRY_ROOT, info->registries, &im.rs);
	if (r >= 0)
		registry_store_set_caps(im.rs, &in->caps);
	if (r >= 0) {
		/* An unreadable list is the check's finding, made before; the images' go to F. */
		struct findings lists = { 0 };
		r = outputs_foreach_image(in->dir, &lists, import_image, &im);
		findings_done(&lists);
	}
	if (r >= 0)
		r = outputs_unlisted_archives(in->dir, &unlisted);
	for (char **u = unlisted; r >= 0 && u && *u; u++)
		r = import_archive(&im, *u, NULL, NULL, NULL);
	registry_store_free(im.rs);
	return r < 0 ? r : 0;
}

/* Read every image without writing anything: what check-outputs adds to the quick checks. */
static int check_images(const struct payload_input *in, const struct outputs_info *info, struct findings *f,
			struct payload_record *record)
{
	struct payload_stream *s = NULL;
	int r = payload_stream_open_discard(&s);

	if (r >= 0)
		r = import_images(in, info, s, f, record);
	payload_stream_abort(s);
	return r;
}

/* The record's fields that do not depend on what the images hold. */
static int record_init(const struct payload_input *in, const struct outputs_info *info, struct payload_record *rec)
{
	if (!(rec->arch = strdup(in->arch)) || !(rec->registry_root = strdup(GB_PAYLOAD_REGISTRY_ROOT)) ||
	    image_ref_strip_list(info->registries, &rec->strip_registries) < 0)
		return -ENOMEM;
	rec->sample = info->sample;
	for (size_t i = 0; i < info->versions.n; i++)
		if (payload_record_add_version(rec, info->versions.v[i].component, info->versions.v[i].version) < 0)
			return -ENOMEM;
	/* Which node OS the package repositories are for, from their own metadata. */
	return payload_node_os(in->dir, &rec->node_os);
}

int payload_check(const struct payload_input *in, bool read_images, FILE *out, struct payload_verdict *ret,
		  struct payload_record *ret_record)
{
	_cleanup_(payload_record_done) struct payload_record record = { 0 };
	_cleanup_(outputs_info_done) struct outputs_info info = { 0 };
	struct findings f = { 0 };
	int r;

	r = outputs_load(in->dir, in->arch, in->registries, &f, &info);
	if (r >= 0)
		r = outputs_check(in->dir, in->arch, &info, &in->caps, &f);
	if (r >= 0)
		r = record_init(in, &info, &record);
	if (r >= 0)
		r = kubespray_read(in->dir, in->arch, true, in->caps.image, &f, &record.kubespray);
	if (r == -EINTR) {
		findings_done(&f);
		return r;
	}
	if (r < 0) {
		findings_done(&f);
		return log_error_errno(r, "cannot check %s: %m", in->dir);
	}
	if (read_images && (r = check_images(in, &info, &f, ret_record ? &record : NULL)) < 0) {
		findings_done(&f);
		return r == -EINTR ? r : log_error_errno(r, "cannot check the images of %s: %m", in->dir);
	}
	findings_print(out, &f, in->strict);
	*ret = (struct payload_verdict){ .errors = f.errors, .warnings = f.warnings, .notes = f.notes,
					 .failed = findings_failed(&f, in->strict) };
	for (size_t i = 0; i < info.versions.n; i++)
		if (strv_push(&ret->versions, info.versions.v[i].component) < 0 ||
		    strv_push(&ret->versions, info.versions.v[i].version) < 0)
			r = -ENOMEM;
	findings_done(&f);
	if (r >= 0 && ret_record) {
		*ret_record = record;
		record = (struct payload_record){ 0 };
	}
	return r;
}

struct copy {
	const struct payload_input *in;
	struct payload_stream *s;
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
		return log_error_errno(-EINVAL, "%s: symlink to %s, which is outside %s", e->rel, target, c->in->dir);
	return payload_stream_symlink(c->s, e->rel, target);
}

static int copy_entry(const struct dir_walk_entry *e, void *userdata)
{
	struct copy *c = userdata;

	if (interrupted())
		return -EINTR;
	/* The check refused these already; the build never relies on that alone. */
	const char *why = outputs_name_refused(e->rel);
	if (why) {
		_cleanup_free_ char *quoted = outputs_name_quote(e->rel);
		return log_error_errno(-EINVAL, "%s: %s", quoted ? quoted : e->rel, why);
	}
	if (S_ISDIR(e->st->st_mode))
		return payload_stream_dir(c->s, e->rel);
	if (S_ISLNK(e->st->st_mode))
		return copy_symlink(c, e);
	if (!S_ISREG(e->st->st_mode))
		return log_error_errno(-EINVAL, "%s: only files, folders and symlinks can go into the payload", e->path);
	if (is_image_archive(e->rel) && !c->in->keep_image_archives)
		return 0; /* its content goes into the registry store */
	return copy_file(c, e);
}

/* The folder itself, then every image into the store and RECORD, then the record. */
static int payload_fill(const struct payload_input *in, struct payload_stream *s, struct payload_record *record)
{
	_cleanup_(outputs_info_done) struct outputs_info info = { 0 };
	struct findings loaded = { 0 };
	struct copy c = { .in = in, .s = s };
	_cleanup_free_ char *text = NULL;
	struct findings f = { 0 };
	int r;

	if (!(c.real_dir = realpath(in->dir, NULL)))
		return log_error_errno(-errno, "cannot resolve %s: %m", in->dir);
	r = dir_walk(in->dir, NULL, copy_entry, &c);
	free(c.real_dir);
	if (r < 0)
		return r;

	/* The registries to strip. Its findings were printed by the check before the build. */
	r = outputs_load(in->dir, in->arch, in->registries, &loaded, &info);
	findings_done(&loaded);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", in->dir);
	r = import_images(in, &info, s, &f, record);
	if (r >= 0) {
		findings_print(stderr, &f, in->strict);
		if (findings_failed(&f, in->strict))
			r = log_error_errno(-EBADMSG, "the images of %s have problems to fix before they go into the air "
						      "gap (see above)", in->dir);
	}
	findings_done(&f);
	if (r < 0)
		return r;
	r = payload_record_format(record, &text);
	if (r >= 0)
		r = payload_stream_file(s, GB_PAYLOAD_RECORD, text, strlen(text), 0644);
	return r;
}

int payload_build(const struct payload_input *in, const struct payload_output *out, struct payload_record *record,
		  struct payload_stats *ret)
{
	_cleanup_free_ char *sums = path_join(out->work_dir, "payload.sha256");
	struct payload_stream_stats st;
	struct payload_stream *s = NULL;
	int r;

	if (!sums)
		return -ENOMEM;
	r = payload_stream_open(out->compressed, out->stored, out->log_dir, out->epoch, sums, out->progress, &s);
	if (r >= 0)
		r = payload_fill(in, s, record);
	if (r < 0) {
		payload_stream_abort(s);
		return r;
	}
	payload_stream_get_stats(s, &st);
	r = payload_stream_close(s);
	if (r < 0)
		return r;
	*ret = (struct payload_stats){ .images = record->n_images, .files = st.files, .bytes = st.bytes,
				       .stored_bytes = st.raw_bytes };
	return 0;
}
