/* The signed unified kernel image (uki.h). systemd-stub (Debian's systemd-boot-efi, installed in
 * the rootfs like shim) gets four sections with objcopy: .osrel, .cmdline, .linux and .initrd,
 * each placed after the last at the stub's section alignment; sbsign signs the result. Both run
 * under faketime at the build's epoch, so that the PE time stamp and the signature's signing time
 * do not change the image from one build to the next (RSA PKCS#1 v1.5 signatures are themselves
 * deterministic). */
#include "uki.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archiveutil.h"
#include "build.h"
#include "fsutil.h"
#include "grubcfg.h"
#include "helper.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "spawn.h"

#define UKI_MIN_RSA_BITS 2048
/* A decompressed kernel (arm64's vmlinuz is a gzip'd Image of about 30 MB). */
#define UKI_MAX_KERNEL (256ull << 20)

void uki_key_free(struct uki_key *k)
{
	if (!k)
		return;
	OPENSSL_free(k->cert_der);
	free(k);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag;
	*(int *)u = 1;
	return -1;
}

static int read_pem(const char *path, const char *option, char **ret, size_t *ret_len)
{
	int r = read_file(path, 1 << 20, ret, ret_len);

	if (r < 0)
		return log_error_errno(r, "%s: cannot read %s: %m", option, path);
	return 0;
}

int uki_key_load(const char *key_path, const char *cert_path, struct uki_key **ret)
{
	_cleanup_free_ char *key_pem = NULL, *cert_pem = NULL;
	size_t key_len, cert_len;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	BIO *bio = NULL;
	struct uki_key *k = NULL;
	int encrypted = 0, r;

	if ((r = read_pem(key_path, "--secure-boot-key", &key_pem, &key_len)) < 0 ||
	    (r = read_pem(cert_path, "--secure-boot-cert", &cert_pem, &cert_len)) < 0)
		return r;
	if (!(bio = BIO_new_mem_buf(cert_pem, (int)cert_len)))
		return -ENOMEM;
	cert = PEM_read_bio_X509(bio, NULL, no_passphrase, &encrypted);
	BIO_free(bio);
	if (!cert)
		return log_error_errno(-EINVAL, "--secure-boot-cert %s: expected an X.509 certificate in PEM "
				       "(-----BEGIN CERTIFICATE-----), as openssl req -x509 writes it", cert_path);
	if (!(bio = BIO_new_mem_buf(key_pem, (int)key_len))) {
		r = -ENOMEM;
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted);
	BIO_free(bio);
	if (!pkey) {
		r = log_error_errno(-EINVAL, encrypted ? "--secure-boot-key %s: the key is protected by a passphrase; gapbox "
							 "hands sbsign unencrypted PEM keys only"
						       : "--secure-boot-key %s: expected an RSA private key in PEM",
				    key_path);
		goto out;
	}
	if (!EVP_PKEY_is_a(pkey, "RSA")) {
		const char *type = EVP_PKEY_get0_type_name(pkey);
		r = log_error_errno(-EINVAL, "--secure-boot-key %s: a%s %s key; UEFI firmware and shim check RSA signatures "
				    "(openssl req -x509 -newkey rsa:2048)", key_path, type ? "n" : "", type ? type : "non-RSA");
		goto out;
	}
	if (EVP_PKEY_get_bits(pkey) < UKI_MIN_RSA_BITS) {
		r = log_error_errno(-EINVAL, "--secure-boot-key %s: a %d-bit RSA key; expected at least %d bits", key_path,
				    EVP_PKEY_get_bits(pkey), UKI_MIN_RSA_BITS);
		goto out;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		r = log_error_errno(-EINVAL, "--secure-boot-cert %s is not the certificate of --secure-boot-key %s: its public "
				    "key is another", cert_path, key_path);
		goto out;
	}
	if (!(k = calloc(1, sizeof(*k)))) {
		r = -ENOMEM;
		goto out;
	}
	k->key_path = key_path;
	k->cert_path = cert_path;
	k->cert_der_len = i2d_X509(cert, &k->cert_der);
	if (k->cert_der_len <= 0 || gb_sha256_data(k->cert_der, (size_t)k->cert_der_len, k->fingerprint) < 0) {
		r = -ENOMEM;
		goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(cert), k->subject, sizeof(k->subject));
	*ret = TAKE_PTR(k);
	r = 0;
out:
	uki_key_free(k);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	return r;
}

/* The kernel as systemd-stub starts it: a PE image. arm64's vmlinuz is a gzip'd Image, which
 * GRUB unpacks itself and the stub does not; it is unpacked into OUT. *RET: the file to use. */
static int kernel_pe(const char *vmlinuz, const char *out, const char **ret)
{
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	struct archive_entry *e;
	_cleanup_close_ int fd = -1;
	unsigned char magic[2] = { 0 };
	int r;

	fd = open(vmlinuz, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, magic, 2) != 2)
		return log_error_errno(fd < 0 ? -errno : -EIO, "cannot read %s: %m", vmlinuz);
	close(TAKE_FD(fd));
	if (magic[0] == 'M' && magic[1] == 'Z') {
		*ret = vmlinuz;
		return 0;
	}
	if (magic[0] != 0x1f || magic[1] != 0x8b)
		return log_error_errno(-EINVAL, "%s is neither a PE image nor gzip'd: systemd-stub cannot start it", vmlinuz);
	if (!(a = archive_read_new()) || archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_format_raw(a) != ARCHIVE_OK)
		return -ENOMEM;
	if (archive_read_open_filename(a, vmlinuz, 1 << 16) != ARCHIVE_OK || archive_read_next_header(a, &e) != ARCHIVE_OK)
		return log_error_errno(-EIO, "cannot read %s: %s", vmlinuz, archive_error_string(a));
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "cannot write %s: %m", out);
	uint64_t total = 0;
	char buf[1 << 16];
	ssize_t n;
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		if ((total += (uint64_t)n) > UKI_MAX_KERNEL)
			return log_error_errno(-EFBIG, "%s unpacks to more than %llu MiB: not a kernel", vmlinuz,
					       UKI_MAX_KERNEL >> 20);
		if ((r = write_all(fd, buf, (size_t)n)) < 0)
			return log_error_errno(r, "cannot write %s: %m", out);
	}
	if (n < 0)
		return log_error_errno(-EIO, "cannot unpack %s: %s", vmlinuz, archive_error_string(a));
	if (total < 2 || pread(fd, magic, 2, 0) != 2 || magic[0] != 'M' || magic[1] != 'Z')
		return log_error_errno(-EINVAL, "%s unpacks to no PE image: systemd-stub cannot start it", vmlinuz);
	*ret = out;
	return 0;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define SBAT_HEADER "sbat,1,SBAT Version,"

/* Where the stub's image ends in memory: the first address free for a new section, and the
 * section alignment. shim refuses, under Secure Boot, an image without a .sbat section (its
 * revocation data); Debian's arm64 stub carries that text inside .data, so when the stub has no
 * .sbat section *RET_SBAT is the text to give it one (else NULL). */
static int stub_layout(const char *stub, uint64_t *ret_next, uint64_t *ret_align, char **ret_sbat)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_file(stub, 4 << 20, &data, &len);
	const unsigned char *p = (const unsigned char *)data;

	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", stub);
	uint32_t pe = len >= 0x40 ? le32(p + 0x3c) : 0;
	if (len < 0x40 || p[0] != 'M' || p[1] != 'Z' || (uint64_t)pe + 24 + 64 > len || memcmp(p + pe, "PE\0\0", 4) ||
	    p[pe + 24] != 0x0b || p[pe + 25] != 0x02)
		return log_error_errno(-EINVAL, "%s: not a PE32+ image", stub);
	const unsigned char *opt = p + pe + 24;
	uint64_t base = (uint64_t)le32(opt + 24) | (uint64_t)le32(opt + 28) << 32;
	uint64_t align = le32(opt + 32), size = le32(opt + 56);
	if (align == 0 || (align & (align - 1)))
		return log_error_errno(-EINVAL, "%s: section alignment %" PRIu64 " is not a power of two", stub, align);
	uint16_t sections = (uint16_t)(p[pe + 6] | p[pe + 7] << 8), optional = (uint16_t)(p[pe + 20] | p[pe + 21] << 8);
	uint64_t table = (uint64_t)pe + 24 + optional;
	if (table + 40ull * sections > len)
		return log_error_errno(-EINVAL, "%s: its section table runs past the end of the file", stub);
	bool has_sbat = false;
	for (uint16_t i = 0; i < sections; i++)
		has_sbat = has_sbat || !memcmp(p + table + 40ull * i, ".sbat\0\0\0", 8);
	*ret_sbat = NULL;
	if (!has_sbat) {
		const char *at = memmem(data, len, SBAT_HEADER, strlen(SBAT_HEADER));
		const char *end = at ? memchr(at, '\0', len - (size_t)(at - data)) : NULL;
		if (!at || !end)
			return log_error_errno(-EINVAL, "%s has neither a .sbat section nor SBAT data: shim would refuse it under "
					       "Secure Boot", stub);
		if (!(*ret_sbat = strndup(at, (size_t)(end - at))))
			return -ENOMEM;
	}
	*ret_next = base + ((size + align - 1) & ~(align - 1));
	*ret_align = align;
	return 0;
}

static const char *objcopy_for(const char *arch)
{
#if defined(__x86_64__)
	return streq(arch, "amd64") ? "objcopy" : "aarch64-linux-gnu-objcopy";
#elif defined(__aarch64__)
	return streq(arch, "arm64") ? "objcopy" : "x86_64-linux-gnu-objcopy";
#else
	return streq(arch, "amd64") ? "x86_64-linux-gnu-objcopy" : "aarch64-linux-gnu-objcopy";
#endif
}

/* ARGV run under faketime frozen at the build's epoch (UTC), its output into LOG. */
static int run_at_epoch(struct build *b, const char *what, char **argv, const char *log)
{
	char when[32], *env[] = { "TZ=UTC", NULL };
	struct tm tm;
	time_t epoch = b->epoch;
	_cleanup_free_ char **full = NULL;
	size_t n = 0;
	int r;

	if (!gmtime_r(&epoch, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
		return log_error_errno(-EINVAL, "the build's epoch %lld is not a date", (long long)epoch);
	while (argv[n])
		n++;
	if (!(full = calloc(n + 4, sizeof(char *))))
		return -ENOMEM;
	full[0] = "faketime";
	full[1] = "-f";
	full[2] = when;
	memcpy(full + 3, argv, n * sizeof(char *));
	r = gb_run(full, &(struct gb_spawn_opts){ .log_path = log, .env_add = env });
	return r == 0 ? 0 : build_helper_failed(b, what, r, log);
}

int uki_make(struct build *b, const char *stub, const char *out, const char *cert_out)
{
	const struct profile *p = b->profile;
	_cleanup_free_ char *unpacked = build_work_path(b, "uki-linux"),
			    *osrel = build_work_path(b, "uki-osrel"), *cmdline_path = build_work_path(b, "uki-cmdline"),
			    *unsigned_path = build_work_path(b, "uki-unsigned.efi"), *vmlinuz = build_medium_path(b, GB_MEDIUM_KERNEL),
			    *initrd = build_medium_path(b, GB_MEDIUM_INITRD), *log = build_log_path(b, "uki"), *cmdline = NULL,
			    *osrel_text = NULL, *sbat = NULL, *sbat_path = build_work_path(b, "uki-sbat");
	const char *kernel = NULL;
	uint64_t next = 0, align = 1;
	int r;

	if (!unpacked || !osrel || !cmdline_path || !unsigned_path || !vmlinuz || !initrd || !log || !sbat_path)
		return -ENOMEM;
	if ((r = kernel_pe(vmlinuz, unpacked, &kernel)) < 0 || (r = boot_cmdline(p, p->boot.default_entry, &cmdline)) < 0)
		return r;
	if (asprintf(&osrel_text, "NAME=gapbox\nID=gapbox\nPRETTY_NAME=\"gapbox %s (%s)\"\n", p->name, p->arch) < 0)
		return -ENOMEM;
	if ((r = write_file_atomic(osrel, osrel_text, strlen(osrel_text), 0644)) < 0 ||
	    (r = write_file_atomic(cmdline_path, cmdline, strlen(cmdline), 0644)) < 0 ||
	    (r = write_file_atomic(cert_out, b->uki_key->cert_der, (size_t)b->uki_key->cert_der_len, 0644)) < 0)
		return log_error_errno(r, "cannot write the signed kernel image's parts: %m");
	if ((r = stub_layout(stub, &next, &align, &sbat)) < 0)
		return r;
	if (sbat && (r = write_file_atomic(sbat_path, sbat, strlen(sbat), 0644)) < 0)
		return log_error_errno(r, "cannot write %s: %m", sbat_path);

	/* The stub's own SBAT data as a section, where it has none (arm64), then the four parts. */
	const char *names[] = { ".sbat", ".osrel", ".cmdline", ".linux", ".initrd" };
	const char *files[] = { sbat_path, osrel, cmdline_path, kernel, initrd };
	char add[5][PATH_MAX + 16], vma[5][48];
	char *argv[2 + 5 * 4 + 3] = { (char *)objcopy_for(p->arch) };
	size_t n = 1;
	for (size_t i = sbat ? 0 : 1; i < 5; i++) {
		struct stat st;

		if (stat(files[i], &st) < 0)
			return log_error_errno(-errno, "cannot stat %s: %m", files[i]);
		snprintf(add[i], sizeof(add[i]), "%s=%s", names[i], files[i]);
		snprintf(vma[i], sizeof(vma[i]), "%s=0x%" PRIx64, names[i], next);
		argv[n++] = "--add-section";
		argv[n++] = add[i];
		argv[n++] = "--change-section-vma";
		argv[n++] = vma[i];
		next += ((uint64_t)st.st_size + align - 1) & ~(align - 1);
	}
	argv[n++] = (char *)stub;
	argv[n++] = unsigned_path;
	argv[n] = NULL;
	if ((r = run_at_epoch(b, "objcopy (the unified kernel image)", argv, log)) < 0)
		return r;
	char *sign[] = { "sbsign", "--key", (char *)b->uki_key->key_path, "--cert", (char *)b->uki_key->cert_path,
			 "--output", (char *)out, unsigned_path, NULL };
	if ((r = run_at_epoch(b, "sbsign (the unified kernel image)", sign, log)) < 0)
		return r;
	/* sbsign's own check that the signature it made is good for the certificate. */
	char *check[] = { "sbverify", "--cert", (char *)b->uki_key->cert_path, (char *)out, NULL };
	r = gb_run(check, &(struct gb_spawn_opts){ .log_path = log });
	if (r != 0)
		return build_helper_failed(b, "sbverify (the signed kernel image)", r, log);
	unlink(unpacked);
	unlink(unsigned_path);
	unlink(sbat_path);
	unlink(stub);
	return 0;
}
