/* Stage system: rootfs tar + overlays + the site configuration + target programs streamed into
 * mksquashfs -tar. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "archiveutil.h"
#include "build.h"
#include "fsutil.h"
#include "log.h"
#include "layout.h"
#include "siteconfig.h"
#include "progress.h"
#include "squashfs.h"
#include "strv.h"

/* One file or folder of an overlay, with the overlay it comes from. */
struct overlay_entry {
	char *rel;  /* path inside the image, no leading slash */
	char *src;  /* absolute path on the build host; "" for a file from memory */
	struct stat st;
	/* A file from memory (the site configuration), written with st's mode as it is; NULL: SRC. */
	const char *data;
};

struct overlay_set {
	struct overlay_entry *v;
	size_t n, alloc;
};

struct stream {
	struct build *b;
	const struct rootfs *rootfs;
	const struct kernel *kernel;
	struct archive *out;
	struct overlay_set overlays;
	char **crossed; /* overlay paths that run through a symlink of the rootfs */
	size_t n_rootfs, n_overlay;
};

static void overlay_entry_done(struct overlay_entry *o)
{
	free(o->rel);
	free(o->src);
}

static void overlay_set_done(struct overlay_set *s)
{
	FREE_ARRAY(s->v, s->n, overlay_entry_done);
}

static int rel_cmp(const void *a, const void *b)
{
	return strcmp(((const struct overlay_entry *)a)->rel, ((const struct overlay_entry *)b)->rel);
}

static struct overlay_entry *overlay_find(const struct overlay_set *s, const char *rel)
{
	struct overlay_entry key = { .rel = (char *)rel };
	return s->n ? bsearch(&key, s->v, s->n, sizeof(*s->v), rel_cmp) : NULL;
}

static int overlay_add_from(struct overlay_set *s, const char *rel, const char *src, const struct stat *st,
			    const char *data)
{
	/* A later overlay replaces an earlier one's file at the same path. */
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i].rel, rel)) {
			char *nsrc = strdup(src);
			if (!nsrc)
				return -ENOMEM;
			free(s->v[i].src);
			s->v[i].src = nsrc;
			s->v[i].st = *st;
			s->v[i].data = data;
			return 0;
		}
	if (gb_grow(&s->v, &s->alloc, s->n + 1, sizeof(*s->v)) < 0)
		return -ENOMEM;
	s->v[s->n] = (struct overlay_entry){ .rel = strdup(rel), .src = strdup(src), .st = *st, .data = data };
	if (!s->v[s->n].rel || !s->v[s->n].src)
		return -ENOMEM;
	s->n++;
	return 0;
}

static int overlay_add(struct overlay_set *s, const char *rel, const char *src, const struct stat *st)
{
	return overlay_add_from(s, rel, src, st, NULL);
}

/* The site configuration over the overlays' file at its path, as one more overlay: the bytes stage
 * check checked, from memory, with their own mode (0600 for a file with secrets, where an overlay
 * file gets 0644), and its folder in case no overlay has one. */
static int overlay_add_site_config(struct overlay_set *s, const struct site_config *site)
{
	struct stat dir = { .st_mode = S_IFDIR | 0755 };
	struct stat file = { .st_mode = S_IFREG | site->mode, .st_size = (off_t)site->size };
	_cleanup_free_ char *folder = strdup(SITE_CONFIG_IMAGE_PATH);
	int r;

	if (!folder)
		return -ENOMEM;
	*strrchr(folder, '/') = '\0';
	r = overlay_add(s, folder, "", &dir);
	return r < 0 ? r : overlay_add_from(s, SITE_CONFIG_IMAGE_PATH, "", &file, site->text);
}

static int overlay_walk_entry(const struct dir_walk_entry *e, void *userdata)
{
	if (!S_ISREG(e->st->st_mode) && !S_ISDIR(e->st->st_mode) && !S_ISLNK(e->st->st_mode))
		return log_error_errno(-EINVAL, "overlay %s: only files, folders and symlinks can go into an image", e->path);
	return overlay_add(userdata, e->rel, e->path, e->st);
}

static int overlay_walk(struct overlay_set *s, const char *root)
{
	int r = dir_walk(root, NULL, overlay_walk_entry, s);
	if (r < 0 && r != -EINVAL && r != -ENOMEM)
		return log_error_errno(r, "cannot read overlay folder %s: %m", root);
	return r;
}

static int stream_write(struct stream *s, struct archive_entry *e, const void *data, size_t size)
{
	if (archive_write_header(s->out, e) != ARCHIVE_OK)
		return -EPIPE;
	if (size && archive_write_data(s->out, data, size) != (la_ssize_t)size)
		return -EPIPE;
	return 0;
}

static int stream_file_from_disk(struct stream *s, const char *rel, const char *src, mode_t mode)
{
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	_cleanup_free_ char *data = NULL;
	size_t size;
	int r;

	if (!e)
		return -ENOMEM;
	r = read_file(src, 256 << 20, &data, &size);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", src);
	archive_entry_normalize(e, rel, S_IFREG | mode, s->b->epoch);
	archive_entry_set_size(e, size);
	return stream_write(s, e, data, size);
}

static int stream_overlay_entry(struct stream *s, const struct overlay_entry *o)
{
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	s->n_overlay++;
	if (o->data) {
		archive_entry_normalize(e, o->rel, o->st.st_mode, s->b->epoch);
		archive_entry_set_size(e, o->st.st_size);
		return stream_write(s, e, o->data, (size_t)o->st.st_size);
	}
	/* Git keeps only the executable bit, so the image does the same: owner root, 0644 or 0755. */
	if (S_ISREG(o->st.st_mode))
		return stream_file_from_disk(s, o->rel, o->src, o->st.st_mode & 0111 ? 0755 : 0644);
	if (S_ISDIR(o->st.st_mode)) {
		archive_entry_normalize(e, o->rel, S_IFDIR | 0755, s->b->epoch);
		return stream_write(s, e, NULL, 0);
	}
	char target[4096];
	ssize_t n = readlink(o->src, target, sizeof(target) - 1);
	if (n < 0)
		return log_error_errno(-errno, "cannot read symlink %s: %m", o->src);
	target[n] = '\0';
	archive_entry_normalize(e, o->rel, S_IFLNK | 0777, s->b->epoch);
	archive_entry_set_symlink(e, target);
	return stream_write(s, e, NULL, 0);
}

bool system_image_leaves_out(const char *rel)
{
	return !rel[0] || !strncmp(rel, "boot/initrd.img", 15) || streq(rel, "initrd.img") || streq(rel, "initrd.img.old") ||
	       !strncmp(rel, "etc/ssh/ssh_host_", 17) || streq(rel, GB_SYSTEM_RNDC_KEY) ||
	       /* The boot chain, GRUB's modules and systemd's EFI stubs, which the build took for the
	        * medium (38 MB). */
	       !strncmp(rel, "usr/lib/grub/", 13) || !strncmp(rel, "usr/lib/shim/", 13) ||
	       !strncmp(rel, "usr/lib/systemd/boot/", 21);
}

static int note_crossing(struct stream *s, const char *link)
{
	size_t len = strlen(link);
	for (size_t i = 0; i < s->overlays.n; i++) {
		const char *rel = s->overlays.v[i].rel;
		if (!strncmp(rel, link, len) && rel[len] == '/' && !strv_contains(s->crossed, link))
			return strv_push(&s->crossed, link);
	}
	return 0;
}

static int stream_rootfs_entry(struct archive *in, struct archive_entry *e, const char *rel, void *userdata)
{
	struct stream *s = userdata;
	const struct overlay_entry *o;
	char buf[1 << 16];
	int r;

	if (system_image_leaves_out(rel))
		return 0;
	/* A hard link to a file left out would have nothing to point at. */
	if (archive_entry_hardlink(e) && system_image_leaves_out(archive_path_relative(archive_entry_hardlink(e))))
		return 0;
	o = overlay_find(&s->overlays, rel);
	if (o && !(S_ISDIR(o->st.st_mode) && archive_entry_filetype(e) == AE_IFDIR))
		return 0; /* replaced by the overlay */
	if (archive_entry_filetype(e) == AE_IFLNK && (r = note_crossing(s, rel)) < 0)
		return r;
	archive_entry_set_pathname(e, rel);
	if (archive_entry_hardlink(e)) {
		_cleanup_free_ char *target = strdup(archive_path_relative(archive_entry_hardlink(e)));
		if (!target)
			return -ENOMEM;
		archive_entry_set_hardlink(e, target);
	}
	/* Numeric ids only: the build host's user names must not remap anything. */
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
	if (archive_write_header(s->out, e) != ARCHIVE_OK)
		return -EPIPE;
	for (;;) {
		la_ssize_t n = archive_read_data(in, buf, sizeof(buf));
		if (n < 0)
			return log_error_errno(-EIO, "cannot read %s from %s: %s", rel, s->rootfs->tar, archive_error(in));
		if (n == 0)
			break;
		if (archive_write_data(s->out, buf, n) != n)
			return -EPIPE;
	}
	s->n_rootfs++;
	return 0;
}

static int stream_rootfs(struct stream *s)
{
	return rootfs_foreach(s->rootfs->tar, stream_rootfs_entry, s);
}

/* One of gapbox's own binaries for the image's architecture, at DEST in the root. */
static int stream_target_binary(struct stream *s, const char *name, const char *dest)
{
	_cleanup_free_ char *path = NULL;
	int r = build_target_binary(s->b, name, &path);

	return r < 0 ? r : stream_file_from_disk(s, dest, path, 0755);
}

static int stream_extras(struct stream *s)
{
	const struct profile *p = s->b->profile;
	_cleanup_free_ char *release = NULL;
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	int r;

	if (!e)
		return -ENOMEM;
	r = stream_target_binary(s, "gapbox-init", GB_SYSTEM_INIT_BINARY);
	if (r < 0)
		return r;
	if (p->appliance) {
		r = stream_target_binary(s, "gapbox-firstboot", GB_SYSTEM_FIRSTBOOT_BINARY);
		if (r < 0)
			return r;
	}
	if (asprintf(&release, "GAPBOX_NAME=%s\nGAPBOX_ARCH=%s\nGAPBOX_VERSION=%s\nGAPBOX_BUILD_EPOCH=%lld\nGAPBOX_KERNEL=%s\n",
		     p->name, p->arch, GB_VERSION, (long long)s->b->epoch, s->kernel->kver) < 0)
		return -ENOMEM;
	archive_entry_normalize(e, GB_SYSTEM_RELEASE, S_IFREG | 0644, s->b->epoch);
	archive_entry_set_size(e, strlen(release));
	return stream_write(s, e, release, strlen(release));
}

static int stream_all(struct stream *s)
{
	int r = stream_rootfs(s);
	if (r < 0)
		return r;
	if (s->crossed) {
		for (char **c = s->crossed; *c; c++)
			log_error("overlay: files under /%s, which is a symlink in the rootfs; put them under its target instead "
				  "(e.g. usr/lib rather than lib)", *c);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->overlays.n && r >= 0; i++)
		if (!system_image_leaves_out(s->overlays.v[i].rel))
			r = stream_overlay_entry(s, &s->overlays.v[i]);
	if (r >= 0)
		r = stream_extras(s);
	return r;
}

int stage_system(struct build *b, const struct rootfs *rootfs, const struct kernel *kernel,
		 const struct site_config *site, struct system_image *ret)
{
	_cleanup_free_ char *out = build_medium_path(b, GB_MEDIUM_SYSTEM), *log = build_log_path(b, "mksquashfs");
	struct stream s = { .b = b, .rootfs = rootfs, .kernel = kernel };
	struct squashfs_feeder feeder;
	int r = 0;

	if (!out || !log)
		return -ENOMEM;
	for (char **o = b->profile->overlays; o && *o && r >= 0; o++)
		r = overlay_walk(&s.overlays, *o);
	for (char **o = b->extra_overlays; o && *o && r >= 0; o++)
		r = overlay_walk(&s.overlays, *o);
	if (r >= 0 && site->text)
		r = overlay_add_site_config(&s.overlays, site);
	if (r >= 0 && s.overlays.n)
		qsort(s.overlays.v, s.overlays.n, sizeof(*s.overlays.v), rel_cmp);
	/* The stream is the rootfs tarball, less what stays out, with the overlays: about its size. */
	struct progress progress;
	struct stat st;
	progress_begin(&progress, "system: mksquashfs system.sfs", stat(rootfs->tar, &st) == 0 ? (uint64_t)st.st_size : 0);
	if (r >= 0)
		r = squashfs_feeder_start(out, log, b->epoch, SQUASHFS_COMPRESS, &progress, &feeder);
	if (r >= 0) {
		s.out = feeder.tar;
		r = squashfs_feeder_finish(&feeder, stream_all(&s));
	}
	if (r >= 0)
		progress_end(&progress);
	else
		progress_stop(&progress);
	if (r >= 0) {
		log_info("system: %zu rootfs entries, %zu overlay entries", s.n_rootfs, s.n_overlay);
		r = build_add_artifact(b, GB_MEDIUM_SYSTEM);
	}
	if (r >= 0) {
		snprintf(ret->build_id, sizeof(ret->build_id), "%.*s", GB_BUILD_ID_LEN, b->artifacts[b->n_artifacts - 1].sha256);
		log_info("build id %s", ret->build_id);
	}
	overlay_set_done(&s.overlays);
	strv_free(s.crossed);
	return r;
}
