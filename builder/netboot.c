/* Writes the netboot folder from a built image: the artifacts copied out of the ISO and checked
 * against the build manifest as they stream, the loaders' configs and files, all in a temporary
 * folder beside the target that is renamed into place at the end. */
#include "netboot.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiveutil.h"
#include "buildmanifest.h"
#include "manifestsig.h"
#include "error.h"
#include "fsutil.h"
#include "grub.h"
#include "helper.h"
#include "inspect.h"
#include "layout.h"
#include "log.h"
#include "netbootcfg.h"
#include "sha256.h"

/* Where Debian's pxelinux and syslinux-common put the BIOS loader and the library it loads. */
#define HOST_PXELINUX "/usr/lib/PXELINUX/pxelinux.0"
#define HOST_LDLINUX "/usr/lib/syslinux/modules/bios/ldlinux.c32"

/* The GRUB netboot image: everything it runs is built in (nothing is loaded from the TFTP
 * server but grub.cfg), for TFTP (tftp, efinet) and HTTP (http) alike. */
static const char *const grub_net_modules[] = {
	"net", "tftp", "http", "efinet", "linux", "normal", "configfile", "echo", "test", "true", "sleep", "reboot",
	"halt", "gzio", "ls", "cat", "efi_gop", NULL,
};
static const char *const grub_net_modules_x86[] = { "serial", "terminal", NULL };

void netboot_stage_done(struct netboot_stage *s)
{
	if (s->tmp) {
		int r = rm_rf(s->tmp);
		if (r < 0)
			log_warning_errno(r, "cannot remove the temporary folder %s: %m", s->tmp);
	}
	FREE_ALL(s->dir, s->tmp, s->tree);
	*s = (struct netboot_stage){ 0 };
}

/* 1 when the folder DIR has an entry, 0 when empty. */
static int dir_has_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			return 1;
	return 0;
}

int netboot_target_check(const char *dir, bool force)
{
	struct stat st;
	int r;

	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return log_error_errno(-errno, "cannot look at %s: %m", dir);
	}
	if (!S_ISDIR(st.st_mode))
		return log_error_errno(-ENOTDIR, "%s exists and is not a folder: the netboot folder goes there; "
				       "remove it or choose another", dir);
	r = dir_has_entries(dir);
	if (r < 0)
		return log_error_errno(r, "cannot read the folder %s: %m", dir);
	if (r > 0 && !force)
		return log_error_errno(-ENOTEMPTY, "%s is not empty: the netboot folder is written to a new or empty "
				       "folder (--force replaces what is there)", dir);
	return 0;
}

/* DIR as an absolute path whose parent exists (made when missing). */
static int absolute_target(const char *dir, char **ret)
{
	_cleanup_free_ char *copy = strdup(dir), *copy2 = strdup(dir), *parent = NULL;
	const char *base;
	int r;

	if (!copy || !copy2)
		return -ENOMEM;
	base = basename(copy2);
	if (!*base || streq(base, ".") || streq(base, "..") || streq(base, "/"))
		return log_error_errno(-EINVAL, "%s: name the netboot folder itself, not . or .. or /", dir);
	const char *p = dirname(copy);
	r = mkdir_p(p, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create the folder %s: %m", p);
	parent = realpath(p, NULL);
	if (!parent)
		return log_error_errno(-errno, "cannot resolve %s: %m", p);
	*ret = path_join(parent, base);
	return *ret ? 0 : -ENOMEM;
}

/* The image's build manifest as it is on the medium: its bytes, its artifacts (paths checked),
 * and its JSON for what the configs say. */
struct image_manifest {
	char *text;
	size_t size;
	char *sig;      /* GB_MEDIUM_MANIFEST_SIG, for a signed image; NULL otherwise */
	size_t sig_size;
	struct manifest m;
	json_t *json;
};

static void image_manifest_done(struct image_manifest *im)
{
	free(im->text);
	free(im->sig);
	manifest_done(&im->m);
	json_decref(im->json);
	*im = (struct image_manifest){ 0 };
}

static int image_manifest_read(const char *image, struct image_manifest *ret)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	_cleanup_(image_manifest_done) struct image_manifest im = { 0 };
	_cleanup_free_ char *err = NULL, *where = NULL;
	struct archive_entry *e;
	json_error_t jerr;
	int r;

	r = image_open_iso(image, &a);
	if (r < 0)
		return r;
	/* The manifest and its signature, in whatever order the reader meets them (libarchive's
	 * ISO 9660 reader goes by where the data lies). */
	while ((!im.text || !im.sig) && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *path = archive_path_relative(archive_entry_pathname(e));

		if (streq(path, GB_MEDIUM_MANIFEST) && !im.text &&
		    (r = archive_read_data_alloc(a, MANIFEST_FILE_MAX, &im.text, &im.size)) < 0)
			return log_error_errno(r, "%s: cannot read /%s: %m", image, GB_MEDIUM_MANIFEST);
		if (streq(path, GB_MEDIUM_MANIFEST_SIG) && !im.sig &&
		    (r = archive_read_data_alloc(a, MANIFEST_SIG_FILE_MAX, &im.sig, &im.sig_size)) < 0)
			return log_error_errno(r, "%s: cannot read /%s: %m", image, GB_MEDIUM_MANIFEST_SIG);
	}
	if (!im.text)
		return log_error_errno(-ENOENT, "%s: no /%s: not a gapbox image, or a damaged one", image, GB_MEDIUM_MANIFEST);
	if (asprintf(&where, "%s: /%s", image, GB_MEDIUM_MANIFEST) < 0)
		return where = NULL, -ENOMEM;
	r = manifest_parse(im.text, im.size, where, &im.m, &err);
	if (r < 0)
		return err ? log_error_errno(r, "%s", err) : r;
	im.json = json_loadb(im.text, im.size, 0, &jerr);
	if (!im.json)
		return -ENOMEM; /* manifest_parse read it already */
	for (size_t i = 0; i < im.m.n_artifacts; i++)
		if (strncmp(im.m.artifacts[i].path, GB_MEDIUM_DIR "/", strlen(GB_MEDIUM_DIR "/")) != 0 ||
		    streq(im.m.artifacts[i].path, GB_MEDIUM_MANIFEST))
			return log_error_errno(-EBADMSG, "%s: its build manifest lists %s, which is not an image in /" GB_MEDIUM_DIR
					       "/: not a manifest gapbox wrote", image, im.m.artifacts[i].path);
	*ret = im;
	im = (struct image_manifest){ 0 };
	return 0;
}

static const char *json_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The configs' facts from the manifest, checked. */
static int netboot_info_from(const char *image, const struct image_manifest *im, const char *url, const char *dir,
			     struct netboot_info *ret)
{
	json_t *profile_boot = json_object_get(json_object_get(im->json, "profile"), "boot");
	_cleanup_free_ char *err = NULL;
	struct netboot_info n = {
		.name = json_str(im->json, "name"),
		.arch = json_str(im->json, "arch"),
		.cmdline = json_str(json_object_get(im->json, MANIFEST_KEY_BOOT), MANIFEST_KEY_CMDLINE),
		.serial_console = json_str(profile_boot, "serial_console"),
		.url = url,
		.dir = dir,
	};
	int r;

	if (!n.cmdline)
		return log_error_errno(-EBADMSG, "%s: its build manifest has no " MANIFEST_KEY_BOOT "." MANIFEST_KEY_CMDLINE
				       " (the kernel command line of its default boot entry), which the netboot configs "
				       "start from: it was built by an older gapbox; build it again", image);
	r = netboot_info_check(&n, &err);
	if (r < 0)
		return log_error_errno(r, "%s: cannot write a netboot folder for it: %s", image, err ? err : "invalid");
	*ret = n;
	return 0;
}

/* Copy the current entry of A, the artifact ART, to TREE/path, hashing as it streams and
 * stopping at the first byte past the size the manifest gives. */
static int artifact_copy(struct archive *a, const char *image, const struct manifest_artifact *art, const char *tree)
{
	_cleanup_free_ char *dst = path_join(tree, art->path), *parent = NULL;
	_cleanup_close_ int fd = -1;
	struct gb_sha256 *h = NULL;
	static char buf[1 << 20];
	char got[SHA256_HEX_LEN + 1];
	uint64_t size = 0;
	int r = 0;

	if (!dst || !(parent = strdup(dst)))
		return -ENOMEM;
	r = mkdir_p(dirname(parent), 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create a folder for %s: %m", dst);
	fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create %s: %m", dst);
	if (!(h = gb_sha256_new()))
		return -ENOMEM;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));

		if (interrupted()) {
			r = -EINTR;
			break;
		}
		if (n < 0) {
			r = log_error_errno(-EIO, "%s: cannot read /%s: %s", image, art->path, archive_error(a));
			break;
		}
		if (n == 0)
			break;
		size += (uint64_t)n;
		if (size > art->size) {
			r = log_error_errno(-EBADMSG, "%s: /%s does not match the build manifest: it is larger than the %llu "
					    "bytes the manifest gives; the image is damaged or was altered", image, art->path,
					    (unsigned long long)art->size);
			break;
		}
		gb_sha256_update(h, buf, (size_t)n);
		r = write_all(fd, buf, (size_t)n);
		if (r < 0) {
			r = log_error_errno(r, "cannot write %s: %m", dst);
			break;
		}
	}
	if (r < 0) {
		gb_sha256_free(h);
		return r;
	}
	gb_sha256_final_hex(h, got);
	if (size != art->size || !streq(got, art->sha256))
		return log_error_errno(-EBADMSG, "%s: /%s does not match the build manifest: the manifest gives %llu bytes "
				       "sha256 %s, the image holds %llu bytes sha256 %s; the image is damaged or was altered",
				       image, art->path, (unsigned long long)art->size, art->sha256,
				       (unsigned long long)size, got);
	if (close(TAKE_FD(fd)) < 0)
		return log_error_errno(-errno, "cannot write %s: %m", dst);
	return 0;
}

/* Every artifact the manifest lists, out of the image into TREE, each verified. */
static int artifacts_copy(const char *image, const struct manifest *m, const char *tree)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	_cleanup_free_ bool *seen = calloc(m->n_artifacts + 1, sizeof(bool));
	struct archive_entry *e;
	int r, ar;

	if (!seen)
		return -ENOMEM;
	r = image_open_iso(image, &a);
	if (r < 0)
		return r;
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *path = archive_path_relative(archive_entry_pathname(e));
		size_t i;

		for (i = 0; i < m->n_artifacts; i++)
			if (streq(m->artifacts[i].path, path))
				break;
		if (i == m->n_artifacts)
			continue;
		if (seen[i] || archive_entry_filetype(e) != AE_IFREG)
			return log_error_errno(-EBADMSG, "%s: /%s is %s: not an image gapbox wrote", image, path,
					       seen[i] ? "there twice" : "not a regular file");
		r = artifact_copy(a, image, &m->artifacts[i], tree);
		if (r < 0)
			return r;
		seen[i] = true;
		log_info("netboot: %s verified (%llu bytes, sha256 %.16s...)", m->artifacts[i].path,
			 (unsigned long long)m->artifacts[i].size, m->artifacts[i].sha256);
	}
	if (ar != ARCHIVE_EOF)
		return log_error_errno(-EIO, "%s: cannot read the image: %s", image, archive_error(a));
	for (size_t i = 0; i < m->n_artifacts; i++)
		if (!seen[i])
			return log_error_errno(-EBADMSG, "%s: /%s is in the build manifest but not in the image", image,
					       m->artifacts[i].path);
	return 0;
}

/* TEXT at TREE/REL, a new file. */
static int tree_write(const char *tree, const char *rel, const char *text, size_t size)
{
	_cleanup_free_ char *path = path_join(tree, rel), *parent = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (!path || !(parent = strdup(path)))
		return -ENOMEM;
	r = mkdir_p(dirname(parent), 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create a folder for %s: %m", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create %s: %m", path);
	r = write_all(fd, text, size);
	if (r >= 0 && close(TAKE_FD(fd)) < 0)
		r = -errno;
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", path);
	return 0;
}

typedef int (*render_fn)(const struct netboot_info *n, char **ret);

static int tree_render(const char *tree, const char *rel, render_fn render, const struct netboot_info *n)
{
	_cleanup_free_ char *text = NULL;
	int r = render(n, &text);

	if (r < 0)
		return log_error_errno(r, "cannot render %s: %m", rel);
	return tree_write(tree, rel, text, strlen(text));
}

/* A file of the host's loader packages, copied to TREE/REL. */
static int tree_copy_host(const char *tree, const char *rel, const char *src, const char *package)
{
	_cleanup_free_ char *dst = path_join(tree, rel);
	int r;

	if (!dst)
		return -ENOMEM;
	if (access(src, R_OK) < 0)
		return log_error_errno(-errno, "%s: %m: the netboot folder needs it from Debian's %s package (make deps "
				       "installs it)", src, package);
	r = copy_file_atomic(src, dst, 0644);
	if (r < 0)
		return log_error_errno(r, "cannot copy %s to %s: %m", src, dst);
	return 0;
}

/* The loaders: configs for each, pxelinux for BIOS on amd64, a GRUB image for UEFI. */
static int loaders_write(struct netboot_stage *s, const struct netboot_info *n)
{
	const char *platform = grub_efi_platform(n->arch), *efi = netboot_grub_efi_name(n->arch);
	_cleanup_free_ char *log = path_join(s->tmp, "grub-mkimage.log"), *out = path_join(s->tree, efi);
	bool amd64 = streq(n->arch, "amd64");
	int r;

	if (!log || !out)
		return -ENOMEM;
	if ((r = tree_render(s->tree, GB_NETBOOT_IPXE, netboot_ipxe_render, n)) < 0 ||
	    (r = tree_render(s->tree, GB_NETBOOT_GRUB_CFG, netboot_grub_cfg_render, n)) < 0 ||
	    (r = tree_render(s->tree, GB_NETBOOT_DNSMASQ, netboot_dnsmasq_render, n)) < 0)
		return r;
	if (amd64 && ((r = tree_render(s->tree, GB_NETBOOT_PXELINUX_CFG, netboot_pxelinux_render, n)) < 0 ||
		      (r = tree_copy_host(s->tree, GB_NETBOOT_PXELINUX, HOST_PXELINUX, "pxelinux")) < 0 ||
		      (r = tree_copy_host(s->tree, GB_NETBOOT_LDLINUX, HOST_LDLINUX, "syslinux-common")) < 0))
		return r;
	struct grub_image img = {
		.platform = platform, .prefix = "/" GB_NETBOOT_GRUB_DIR, .out = out,
		.modules = { grub_net_modules, amd64 ? grub_net_modules_x86 : NULL },
	};
	return grub_image_make(&img, log, s->tmp);
}

int netboot_prepare(const char *image, const char *dir, const char *url, bool force, struct netboot_stage *ret)
{
	_cleanup_(netboot_stage_done) struct netboot_stage s = { .force = force };
	_cleanup_(image_manifest_done) struct image_manifest im = { 0 };
	_cleanup_free_ char *copy = NULL, *manifest_path = NULL;
	_cleanup_close_ int fd = -1;
	struct netboot_info n;
	int r;

	if ((r = absolute_target(dir, &s.dir)) < 0 || (r = netboot_target_check(s.dir, force)) < 0)
		return r;
	if ((r = image_manifest_read(image, &im)) < 0 || (r = netboot_info_from(image, &im, url, s.dir, &n)) < 0)
		return r;

	if (!(copy = strdup(s.dir)))
		return -ENOMEM;
	if (asprintf(&s.tmp, "%s/.gapbox-netboot-%s-XXXXXX", dirname(copy), basename(s.dir)) < 0)
		return s.tmp = NULL, -ENOMEM;
	if (!mkdtemp(s.tmp)) {
		r = log_error_errno(-errno, "cannot create a temporary folder %s: %m", s.tmp);
		free(s.tmp);
		s.tmp = NULL;
		return r;
	}
	if (!(s.tree = path_join(s.tmp, "tree")))
		return -ENOMEM;
	if (mkdir(s.tree, 0755) < 0)
		return log_error_errno(-errno, "cannot create %s: %m", s.tree);

	log_info("netboot: %s (%s) into %s, served at %s", n.name, n.arch, s.dir, url);
	if ((r = artifacts_copy(image, &im.m, s.tree)) < 0 ||
	    (r = tree_write(s.tree, GB_MEDIUM_MANIFEST, im.text, im.size)) < 0 ||
	    (im.sig && (r = tree_write(s.tree, GB_MEDIUM_MANIFEST_SIG, im.sig, im.sig_size)) < 0) ||
	    (r = loaders_write(&s, &n)) < 0)
		return r;
	if (interrupted())
		return -EINTR;
	fd = open(s.tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0)
		return log_error_errno(-errno, "cannot sync %s: %m", s.tree);
	*ret = s;
	s = (struct netboot_stage){ 0 };
	return 0;
}

int netboot_commit(struct netboot_stage *s)
{
	int r;

	/* Checked again: something may have written there while the folder was made. */
	if ((r = netboot_target_check(s->dir, s->force)) < 0)
		return r;
	if (s->force && path_exists(s->dir)) {
		/* The new folder and the old one change places at once; the old one goes with the
		 * temporary folder. */
		if (renameat2(AT_FDCWD, s->tree, AT_FDCWD, s->dir, RENAME_EXCHANGE) < 0)
			return log_error_errno(-errno, "cannot put %s in place of %s: %m", s->tree, s->dir);
	} else if (rename(s->tree, s->dir) < 0)
		return log_error_errno(-errno, "cannot rename %s to %s: %m", s->tree, s->dir);
	r = rm_rf(s->tmp);
	if (r < 0)
		log_warning_errno(r, "cannot remove the temporary folder %s: %m", s->tmp);
	free(s->tmp);
	s->tmp = NULL;
	return 0;
}

int netboot_run(const struct netboot_options *o)
{
	_cleanup_(netboot_stage_done) struct netboot_stage s = { 0 };
	int r = netboot_prepare(o->image, o->dir, o->url, o->force, &s);

	/* Once the folder is in place, it is written: an interruption after that changes nothing. */
	if (r >= 0)
		r = interrupted() ? -EINTR : netboot_commit(&s);
	if (r == -EINTR || (r < 0 && interrupted())) {
		log_error("interrupted; temporary files removed, no netboot folder written");
		return -EINTR;
	}
	if (r < 0) {
		log_error("no netboot folder written at %s", o->dir);
		return r;
	}
	log_info("netboot folder %s written: serve it at %s, and its loaders over TFTP (%s says how)", s.dir,
		 o->url, GB_NETBOOT_DNSMASQ);
	return 0;
}
