/* gapbox.verify (verify.h): a medium that does not match its signed manifest stops the boot with
 * a message naming what differs, before a damaged or changed image is mounted. */
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buildmanifest.h"
#include "clock.h"
#include "dmverity.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "loop.h"
#include "macros.h"
#include "manifestsig.h"
#include "sha256.h"

/* Read at a time while hashing. */
#define VERIFY_BUFFER (4u * 1024 * 1024)

static const char *const image_names[] = { GB_MEDIUM_IMAGES };

#define STOPPED "the medium is damaged or was changed; nothing is mounted from it"

bool verify_signed_build(void)
{
	return access("/" GB_INITRD_SIGNING_KEY, F_OK) == 0;
}

int verify_manifest_signature(const char *manifest, const char *sig_path, const char *source, char *ret_key_id,
			      struct manifest *ret)
{
	_cleanup_free_ char *pem = NULL, *text = NULL, *sig = NULL, *error = NULL;
	struct signing_key *key = NULL;
	size_t pem_len, len, sig_len;
	int r;

	r = read_file("/" GB_INITRD_SIGNING_KEY, SIGNING_KEY_FILE_MAX, &pem, &pem_len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "cannot read the signing key /%s: %m", GB_INITRD_SIGNING_KEY);
	r = signing_key_parse_public(pem, pem_len, "/" GB_INITRD_SIGNING_KEY, &key, &error);
	if (r < 0)
		return log_error_errno(r, "%s", error ? error : "cannot read the signing key");
	r = read_file(manifest, MANIFEST_FILE_MAX, &text, &len);
	if (r < 0) {
		r = log_error_errno(r, "gapbox.verify: this is a signed build, and its manifest %s cannot be read: %m; %s is damaged or was "
				    "changed; nothing is mounted from it", manifest, source);
		goto out;
	}
	r = read_file(sig_path, MANIFEST_SIG_FILE_MAX, &sig, &sig_len);
	if (r < 0) {
		r = log_error_errno(r, "gapbox.verify: this is a signed build, and there is no signature %s: %m; %s is damaged or "
				    "was changed; nothing is mounted from it", sig_path, source);
		goto out;
	}
	r = manifest_sig_verify(key, text, len, sig, sig_len, &error);
	if (r < 0) {
		r = log_error_errno(r, "gapbox.verify: %s: %s; %s is damaged or was changed; nothing is mounted from it",
				    sig_path, error ? error : "refused", source);
		goto out;
	}
	/* What the boot goes on with is these very bytes, not the file read again. */
	if (ret && (r = manifest_parse(text, len, manifest, ret, &error)) < 0) {
		r = log_error_errno(r, "gapbox.verify: %s; %s is damaged or was changed; nothing is mounted from it",
				    error ? error : "cannot parse the manifest", source);
		goto out;
	}
	log_info("gapbox.verify: the manifest %s is signed by the build's key %.16s", manifest, signing_key_id(key));
	if (ret_key_id)
		snprintf(ret_key_id, VERIFY_KEY_ID_LEN + 1, "%.16s", signing_key_id(key));
out:
	signing_key_free(key);
	return r;
}

int verify_medium_signature(const char *medium, char *ret_key_id, struct manifest *ret)
{
	_cleanup_free_ char *manifest = path_join(medium, GB_MEDIUM_MANIFEST), *sig = path_join(medium, GB_MEDIUM_MANIFEST_SIG);

	if (!manifest || !sig)
		return log_error_errno(-ENOMEM, "out of memory");
	return verify_manifest_signature(manifest, sig, "the medium", ret_key_id, ret);
}

/* Hash PATH whole and compare it with E; MODE names the check in messages. */
static int image_check(const char *mode, const char *path, const struct manifest_artifact *e, char *buf, uint64_t *done)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct gb_sha256 *h;
	char got[SHA256_HEX_LEN + 1];
	uint64_t n = 0;

	if (fd < 0)
		return log_error_errno(negative_errno(), "gapbox.verify=%s: cannot open %s, which the build manifest lists: %m",
				       mode, path);
	h = gb_sha256_new();
	if (!h)
		return log_error_errno(-ENOMEM, "out of memory");
	/* One byte more than the manifest says is read, to see a file that is longer. */
	while (n <= e->size) {
		ssize_t k = read(fd, buf, VERIFY_BUFFER);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			gb_sha256_free(h);
			return log_error_errno(negative_errno(), "gapbox.verify=%s: cannot read %s after %" PRIu64 " bytes: %m; "
					       STOPPED, mode, path, n);
		}
		if (k == 0)
			break;
		gb_sha256_update(h, buf, (size_t)k);
		n += (uint64_t)k;
	}
	gb_sha256_final_hex(h, got);
	*done += n;
	if (n != e->size || !streq(got, e->sha256))
		return log_error_errno(-EBADMSG,
				       "gapbox.verify=%s: %s does not match the build manifest: read %" PRIu64 " bytes with "
				       "sha256 %s, the manifest says %" PRIu64 " bytes with sha256 %s; " STOPPED,
				       mode, e->path, n, got, e->size, e->sha256);
	return 0;
}

/* gapbox.verify=verity's check of the image REL at PATH (its artifact E) before it is mounted:
 * its size, and its hash tree read whole. */
static int verity_check(const struct manifest *m, const char *medium, const char *rel, const char *path,
			const struct manifest_artifact *e, char *buf, uint64_t *done)
{
	const struct manifest_verity *v = manifest_find_verity(m, rel);
	_cleanup_free_ char *tree = NULL;
	struct stat st;

	if (!v)
		return log_error_errno(-EBADMSG, "gapbox.verify=verity: the build manifest has no hash tree for %s (a build "
				       "without them?); boot with gapbox.verify=full to check it whole", rel);
	if (stat(path, &st) < 0)
		return log_error_errno(negative_errno(), "gapbox.verify=verity: cannot stat %s: %m", path);
	if ((uint64_t)st.st_size != e->size)
		return log_error_errno(-EBADMSG, "gapbox.verify=verity: %s is %" PRIu64 " bytes, the build manifest says %" PRIu64
				       "; " STOPPED, rel, (uint64_t)st.st_size, e->size);
	if (!(tree = path_join(medium, v->hash_tree)))
		return log_error_errno(-ENOMEM, "out of memory");
	return image_check("verity", tree, manifest_find(m, v->hash_tree), buf, done);
}

int verify_medium_images(enum gb_verify mode, const char *medium, struct manifest *m)
{
	_cleanup_free_ char *error = NULL, *manifest = NULL, *buf = NULL;
	const char *name = gb_verify_name(mode);
	uint64_t done = 0, start = clock_now_ms();
	size_t checked = 0;
	int r;

	if (mode == GB_VERIFY_OFF)
		return 0;
	if (!(manifest = path_join(medium, GB_MEDIUM_MANIFEST)) || !(buf = malloc(VERIFY_BUFFER)))
		return log_error_errno(-ENOMEM, "out of memory");
	/* A signed build's manifest was read and checked already; an unsigned one is read here. */
	r = m->artifacts ? 0 : manifest_load(manifest, m, &error);
	if (r < 0)
		return log_error_errno(r, "gapbox.verify=%s: %s; " STOPPED, name, error ? error : "cannot read the build manifest");
	for (size_t i = 0; i < ARRAY_SIZE(image_names); i++) {
		_cleanup_free_ char *rel = path_join(GB_MEDIUM_DIR, image_names[i]), *path = NULL;
		const struct manifest_artifact *e;

		if (!rel || !(path = path_join(medium, rel)))
			return log_error_errno(-ENOMEM, "out of memory");
		e = manifest_find(m, rel);
		if (!e) {
			if (path_exists(path))
				return log_error_errno(-EBADMSG, "gapbox.verify=%s: %s is on the medium but not in its build "
						       "manifest; " STOPPED, name, rel);
			continue;
		}
		r = mode == GB_VERIFY_VERITY ? verity_check(m, medium, rel, path, e, buf, &done)
					     : image_check(name, path, e, buf, &done);
		if (r < 0)
			return r;
		checked++;
	}
	if (mode == GB_VERIFY_VERITY) {
		log_info("gapbox.verify=verity: %zu images to mount through dm-verity; their hash trees, %" PRIu64
			 " KiB, match the build manifest (%.1f s)", checked, done >> 10, (clock_now_ms() - start) / 1000.0);
		return 0;
	}
	log_info("gapbox.verify=full: %zu images, %" PRIu64 " MiB, match the build manifest (%.1f s)", checked, done >> 20,
		 (clock_now_ms() - start) / 1000.0);
	return 0;
}

/* "gapbox-system" for gapbox/system.sfs. */
static void device_name(const char *rel, char *buf, size_t size)
{
	const char *base = strrchr(rel, '/');
	size_t n;

	base = base ? base + 1 : rel;
	n = strcspn(base, ".");
	snprintf(buf, size, "gapbox-%.*s", (int)n, base);
}

int verify_attach(const struct manifest *m, const char *medium, const char *rel, dev_t data, char *ret_dev, size_t size)
{
	const struct manifest_verity *v = manifest_find_verity(m, rel);
	_cleanup_free_ char *tree = NULL;
	_cleanup_close_ int fd = -1, loop_fd = -1;
	char loopdev[64], name[64];
	struct stat st;
	int r;

	if (!v)
		return log_error_errno(-EBADMSG, "gapbox.verify=verity: the build manifest has no hash tree for %s", rel);
	if (!(tree = path_join(medium, v->hash_tree)))
		return log_error_errno(-ENOMEM, "out of memory");
	fd = open(tree, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(negative_errno(), "gapbox.verify=verity: cannot open %s: %m", tree);
	/* The device-mapper table holds the loop device; autoclear detaches it once that goes. */
	loop_fd = loop_attach_readonly(fd, tree, loopdev, sizeof(loopdev));
	if (loop_fd < 0)
		return log_error_errno(loop_fd, "gapbox.verify=verity: cannot set up a loop device for %s: %m", tree);
	if (fstat(loop_fd, &st) < 0)
		return log_error_errno(negative_errno(), "cannot stat %s: %m", loopdev);
	device_name(rel, name, sizeof(name));
	r = dm_verity_create(name, data, st.st_rdev, v, ret_dev, size);
	if (r < 0)
		return log_error_errno(r, "gapbox.verify=verity: cannot set up the dm-verity device %s for %s: %m%s", name, rel,
				       r == -ENOENT || r == -ENODEV || r == -EINVAL
					       ? " (is dm_verity in modules.load, and the kernel's sha256 there?)"
					       : "");
	log_info("gapbox.verify=verity: %s through dm-verity as %s (root hash %.16s...)", rel, ret_dev, v->root_hash);
	return 0;
}

int verify_mount_failed(const char *rel, int r)
{
	char name[64];

	device_name(rel, name, sizeof(name));
	if (dm_verity_corrupted(name) <= 0)
		return r;
	return log_error_errno(-EBADMSG, "gapbox.verify=verity: %s: a block read while mounting it does not match its hash "
			       "tree, whose root hash the build manifest gives (dm-verity); " STOPPED, rel);
}
