/* gapbox.verify (verify.h): a medium that does not match its signed manifest stops the boot with
 * a message naming what differs, before a damaged or changed image is mounted. */
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buildmanifest.h"
#include "clock.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "manifestsig.h"
#include "sha256.h"

/* Read at a time while hashing. */
#define VERIFY_BUFFER (4u * 1024 * 1024)

static const char *const image_names[] = { GB_MEDIUM_IMAGES };

#define STOPPED "the medium is damaged or was changed; nothing is mounted from it"

int verify_medium_signature(const char *medium)
{
	_cleanup_free_ char *pem = NULL, *text = NULL, *sig = NULL, *error = NULL, *manifest = NULL, *sig_path = NULL;
	struct signing_key *key = NULL;
	size_t pem_len, len, sig_len;
	int r;

	r = read_file("/" GB_INITRD_SIGNING_KEY, SIGNING_KEY_FILE_MAX, &pem, &pem_len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "cannot read the signing key /%s: %m", GB_INITRD_SIGNING_KEY);
	if (!(manifest = path_join(medium, GB_MEDIUM_MANIFEST)) || !(sig_path = path_join(medium, GB_MEDIUM_MANIFEST_SIG)))
		return log_error_errno(-ENOMEM, "out of memory");
	r = signing_key_parse_public(pem, pem_len, "/" GB_INITRD_SIGNING_KEY, &key, &error);
	if (r < 0)
		return log_error_errno(r, "%s", error ? error : "cannot read the signing key");
	r = read_file(manifest, MANIFEST_FILE_MAX, &text, &len);
	if (r < 0) {
		r = log_error_errno(r, "gapbox.verify: this is a signed build, and its manifest %s cannot be read: %m; " STOPPED,
				    manifest);
		goto out;
	}
	r = read_file(sig_path, MANIFEST_SIG_FILE_MAX, &sig, &sig_len);
	if (r < 0) {
		r = log_error_errno(r, "gapbox.verify: this is a signed build, and the medium has no signature %s: %m; " STOPPED,
				    sig_path);
		goto out;
	}
	r = manifest_sig_verify(key, text, len, sig, sig_len, &error);
	if (r < 0) {
		r = log_error_errno(r, "gapbox.verify: %s: %s; " STOPPED, sig_path, error ? error : "refused");
		goto out;
	}
	log_info("gapbox.verify: the manifest %s is signed by the build's key %.16s", manifest, signing_key_id(key));
out:
	signing_key_free(key);
	return r;
}

/* Hash PATH whole and compare it with E. */
static int image_check(const char *path, const struct manifest_artifact *e, char *buf, uint64_t *done)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct gb_sha256 *h;
	char got[SHA256_HEX_LEN + 1];
	uint64_t n = 0;

	if (fd < 0)
		return log_error_errno(negative_errno(), "gapbox.verify: cannot open %s, which the build manifest lists: %m", path);
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
			return log_error_errno(negative_errno(), "gapbox.verify: cannot read %s after %" PRIu64 " bytes: %m; " STOPPED,
					       path, n);
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
				       "gapbox.verify=full: %s does not match the build manifest: read %" PRIu64 " bytes with "
				       "sha256 %s, the manifest says %" PRIu64 " bytes with sha256 %s; " STOPPED,
				       e->path, n, got, e->size, e->sha256);
	return 0;
}

int verify_medium_images(enum gb_verify mode, const char *medium)
{
	_cleanup_(manifest_done) struct manifest m = { 0 };
	_cleanup_free_ char *error = NULL, *manifest = NULL, *buf = NULL;
	uint64_t done = 0, start = clock_now_ms();
	size_t checked = 0;
	int r;

	if (mode == GB_VERIFY_OFF)
		return 0;
	if (!(manifest = path_join(medium, GB_MEDIUM_MANIFEST)) || !(buf = malloc(VERIFY_BUFFER)))
		return log_error_errno(-ENOMEM, "out of memory");
	r = manifest_load(manifest, &m, &error);
	if (r < 0)
		return log_error_errno(r, "gapbox.verify=full: %s; " STOPPED, error ? error : "cannot read the build manifest");
	for (size_t i = 0; i < ARRAY_SIZE(image_names); i++) {
		_cleanup_free_ char *rel = path_join(GB_MEDIUM_DIR, image_names[i]), *path = NULL;
		const struct manifest_artifact *e;

		if (!rel || !(path = path_join(medium, rel)))
			return log_error_errno(-ENOMEM, "out of memory");
		e = manifest_find(&m, rel);
		if (!e) {
			if (path_exists(path))
				return log_error_errno(-EBADMSG, "gapbox.verify=full: %s is on the medium but not in its build "
						       "manifest; " STOPPED, rel);
			continue;
		}
		r = image_check(path, e, buf, &done);
		if (r < 0)
			return r;
		checked++;
	}
	log_info("gapbox.verify=full: %zu images, %" PRIu64 " MiB, match the build manifest (%.1f s)", checked, done >> 20,
		 (clock_now_ms() - start) / 1000.0);
	return 0;
}
