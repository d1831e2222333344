/* Registry storage: tmpfs for the writable layer, overlayfs over the payload's store, and
 * ownership for the unprivileged registry. */
#include "storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <sys/stat.h>

#include "error.h"
#include "fsutil.h"
#include "layout.h"
#include "macros.h"
#include "strv.h"

#define MOUNTINFO_MAX (4u * 1024 * 1024)

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else
			*w++ = *r;
	}
	*w = '\0';
}

int fb_mount_point_type(const char *path, char **ret_fstype)
{
	_cleanup_free_ char *text = NULL, *real = realpath(path, NULL);
	char *line, *save = NULL;
	int r, found = 0;

	if (!real)
		return -errno;
	r = read_file("/proc/self/mountinfo", MOUNTINFO_MAX, &text, NULL);
	if (r < 0)
		return r;
	/* The last matching line wins: it is the mount on top. */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *fields[5], *sep, *p = line, *fstype;
		int i;

		for (i = 0; i < 5 && p; i++) {
			fields[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		if (i < 5 || !p)
			continue;
		unescape(fields[4]);
		if (!streq(fields[4], real))
			continue;
		sep = strstr(p, " - ");
		if (!sep)
			continue;
		fstype = sep + 3;
		fstype[strcspn(fstype, " ")] = '\0';
		found = 1;
		if (ret_fstype) {
			free(*ret_fstype);
			*ret_fstype = strdup(fstype);
			if (!*ret_fstype)
				return -ENOMEM;
		}
	}
	return found;
}

/* A repository's path in the store is its name, which nests ("library/nginx"), and holds
 * _manifests/tags/TAG/current/link for each tag. Folders whose names start with '_' are the
 * registry's own, never part of a name. */
static int collect_tags(const char *dir, const char *name, unsigned depth, char ***tags, size_t *n)
{
	_cleanup_free_ char *tags_dir = path_join(dir, "_manifests/tags");
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	int r;

	if (!tags_dir)
		return -ENOMEM;
	if (depth > FB_REGISTRY_NAME_DEPTH_MAX)
		return 0;
	if (name[0] && (d = opendir(tags_dir))) {
		while ((e = readdir(d))) {
			_cleanup_free_ char *link = NULL, *tag = NULL;

			if (e->d_name[0] == '.')
				continue;
			if (asprintf(&link, "%s/%s/current/link", tags_dir, e->d_name) < 0 ||
			    asprintf(&tag, "%s:%s", name, e->d_name) < 0)
				return -ENOMEM;
			if (!path_exists(link))
				continue;
			if (++*n > FB_REGISTRY_TAGS_MAX)
				return -E2BIG;
			if ((r = strv_consume(tags, TAKE_PTR(tag))) < 0)
				return r;
		}
		closedir(TAKE_PTR(d));
	}
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		_cleanup_free_ char *sub = NULL, *sub_name = NULL;

		if (e->d_name[0] == '.' || e->d_name[0] == '_' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		sub = path_join(dir, e->d_name);
		if (!sub || asprintf(&sub_name, "%s%s%s", name, name[0] ? "/" : "", e->d_name) < 0)
			return -ENOMEM;
		if (!path_is_dir(sub))
			continue;
		r = collect_tags(sub, sub_name, depth + 1, tags, n);
		if (r < 0)
			return r;
	}
	return 0;
}

int fb_registry_store_tags(const char *payload, char ***ret)
{
	_cleanup_free_ char *repos = path_join(payload, GB_PAYLOAD_REGISTRY_ROOT "/repositories");
	_cleanup_strv_free_ char **tags = NULL;
	size_t n = 0;
	int r;

	if (!repos)
		return -ENOMEM;
	r = collect_tags(repos, "", 0, &tags, &n);
	if (r < 0)
		return r;
	strv_sort(tags);
	*ret = TAKE_PTR(tags);
	return 0;
}

/* nftw has no user pointer: the walk's parameters live here for its duration. */
static struct {
	const char *root;   /* the merged tree walked */
	const char *lower;  /* the pre-filled store under it */
	uid_t uid;
	gid_t gid;
	bool files;
	int error;
	size_t changed;
} walk;

/* Inside a tag's folder (".../_manifests/tags/TAG/..."), not the tags folder itself. */
static bool in_tag(const char *path)
{
	const char *hit = strstr(path, "/_manifests/tags/");

	return hit && hit[strlen("/_manifests/tags/")] != '\0';
}

/* A tag of the payload's store: one pushed later, kept in a persistent layer, is the registry's. */
static bool prefilled(const char *path)
{
	size_t n = strlen(walk.root);
	char lower[PATH_MAX];
	struct stat st;

	if (!walk.lower || strncmp(path, walk.root, n) != 0)
		return true;
	if ((size_t)snprintf(lower, sizeof(lower), "%s%s", walk.lower, path + n) >= sizeof(lower))
		return true;
	return lstat(lower, &st) == 0;
}

static int chown_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	bool tag = in_tag(path) && prefilled(path);
	uid_t uid = tag ? 0 : walk.uid;
	gid_t gid = tag ? 0 : walk.gid;

	(void)ftw;
	if (type != FTW_D && type != FTW_DP && !(walk.files && (type == FTW_F || type == FTW_SL)))
		return 0;
	if (st->st_uid != uid || st->st_gid != gid) {
		if (lchown(path, uid, gid) < 0) {
			walk.error = -errno;
			return 1;
		}
		walk.changed++;
	}
	if (type == FTW_SL)
		return 0;
	/* A pre-filled tag stays root's and read-only to the registry, so that not even a push
	 * that got past nginx can replace it. Anything else: the owner must be allowed to write,
	 * and the payload may hold read-only modes. */
	if (tag && (st->st_mode & (S_IWGRP | S_IWOTH)) && chmod(path, st->st_mode & 07755) < 0) {
		walk.error = -errno;
		return 1;
	}
	if (!tag && (st->st_mode & S_IWUSR) == 0 && chmod(path, (st->st_mode & 07777) | S_IWUSR) < 0) {
		walk.error = -errno;
		return 1;
	}
	return 0;
}

static int chown_tree(const char *dir, const char *lower, uid_t uid, gid_t gid, bool files, size_t *ret_changed)
{
	walk.root = dir;
	walk.lower = lower;
	walk.uid = uid;
	walk.gid = gid;
	walk.files = files;
	walk.error = 0;
	walk.changed = 0;
	/* Not FTW_MOUNT: overlayfs reports the underlying filesystem's st_dev for files, so that
	 * would skip every one of them. Nothing else is mounted below the registry's storage. */
	if (nftw(dir, chown_one, 32, FTW_PHYS) < 0)
		return -errno;
	*ret_changed = walk.changed;
	return walk.error;
}

int fb_registry_storage_plain(const char *target, uid_t uid, gid_t gid)
{
	int r = mkdir_p(target, 0750);

	if (r < 0)
		return r;
	return chown(target, uid, gid) < 0 ? -errno : 0;
}

/* A metadata-only copy (metacopy) takes its data from the lower layer at mount time; kept on a
 * data partition across an image upgrade, it would point into another payload (overlayfs allows
 * offline changes of the lower layer only without metacopy). They hold nothing of their own, and
 * the chown below makes them again, so they go before every mount; pushed files are whole. */
static int prune_one(const struct dir_walk_entry *e, void *userdata)
{
	size_t *n = userdata;

	if (S_ISREG(e->st->st_mode) && lgetxattr(e->path, "trusted.overlay.metacopy", NULL, 0) >= 0) {
		if (unlink(e->path) < 0)
			return -errno;
		(*n)++;
	}
	return 0;
}

static int prune_metacopies(const char *upper, size_t *ret_n)
{
	*ret_n = 0;
	if (access(upper, F_OK) < 0)
		return 0;
	return dir_walk(upper, NULL, prune_one, ret_n);
}

int fb_registry_storage_mount(const char *lower, const char *rw, const char *target, const char *size, uid_t uid,
			      gid_t gid, char **ret_note, char **ret_error)
{
	_cleanup_free_ char *upper = path_join(rw, "upper"), *work = path_join(rw, "work"), *opts = NULL,
			    *fstype = NULL, *tmpfs_opts = NULL;
	size_t pruned = 0;
	bool metacopy = true, kept;
	size_t changed = 0;
	int r;

	if (!upper || !work)
		return -ENOMEM;
	r = fb_mount_point_type(target, &fstype);
	if (r > 0 && streq(fstype, "overlay")) {
		if (ret_note)
			*ret_note = strdup("already mounted");
		return 0;
	}
	r = mkdir_p(rw, 0755);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot create %s", rw);
	r = fb_mount_point_type(rw, NULL);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read the mounts of %s", rw);
	/* overlayfs cannot take its upper layer from an overlay (the root filesystem is one). */
	if (asprintf(&tmpfs_opts, "mode=0755,size=%s", size) < 0)
		return -ENOMEM;
	/* Already a mount: gapbox-init bound the data partition's folder there (lib/persist.h). */
	kept = r > 0;
	if (r == 0 && mount("tmpfs", rw, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts) < 0)
		return gb_error_errno(ret_error, -errno, "cannot mount a tmpfs (%s) on %s", tmpfs_opts, rw);
	if ((r = prune_metacopies(upper, &pruned)) < 0)
		return gb_error_errno(ret_error, r, "cannot clear the metadata-only copies in %s", upper);
	if ((r = mkdir_p(upper, 0755)) < 0 || (r = mkdir_p(work, 0700)) < 0 || (r = mkdir_p(target, 0750)) < 0)
		return gb_error_errno(ret_error, r, "cannot create the registry's overlay directories");
	/* The merged root takes the upper directory's owner. */
	if (chown(upper, uid, gid) < 0)
		return gb_error_errno(ret_error, -errno, "cannot chown %s", upper);

	if (asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s,metacopy=on", lower, upper, work) < 0)
		return -ENOMEM;
	if (mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, opts) < 0) {
		/* Kernels without metacopy: mount anyway; only directories change owner below. */
		opts[strlen(opts) - strlen(",metacopy=on")] = '\0';
		metacopy = false;
		if (mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
			return gb_error_errno(ret_error, -errno, "cannot mount the registry's overlay (%s) on %s", opts, target);
	}
	r = chown_tree(target, lower, uid, gid, metacopy, &changed);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot hand the registry's storage in %s to uid %u", target, (unsigned)uid);
	if (ret_note && asprintf(ret_note, "overlay of %s%s, writable layer %s%s%s%s; %zu entries handed to the "
					   "registry user, the pre-filled tags kept root's%s",
				 lower, metacopy ? " (metacopy)" : "", kept ? "kept in " : "of ", kept ? rw : size,
				 kept ? " (the data partition)" : " in ", kept ? "" : rw, changed,
				 metacopy ? "" : " (directories only: retagging a pre-filled image may fail)") < 0)
		*ret_note = NULL;
	return 0;
}
