/* The site CA and the registry's server certificate, with the openssl CLI: the admin has it
 * (ca-certificates depends on it), and a few command lines are easier to read and to check by
 * hand than the same through libcrypto's API. Keys are EC P-256, which every TLS client of the
 * site (containerd, skopeo, curl, Python) takes. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "spawn.h"
#include "strv.h"
#include "files.h"
#include "tls.h"

#define PEM_MAX 65536
#define CA_DAYS "3650"
/* Under 825 days, the most that Apple's clients take for a server certificate. */
#define CERT_DAYS "820"
/* Renewed when it ends within this many seconds. */
#define CERT_RENEW_SECONDS "2592000"

/* Paths under ROOT for one run. */
struct tls_paths {
	char *dir, *ca_cert, *ca_key, *cert, *key, *issued, *log;
};

static void tls_paths_done(struct tls_paths *p)
{
	free(p->dir);
	free(p->ca_cert);
	free(p->ca_key);
	free(p->cert);
	free(p->key);
	free(p->issued);
	free(p->log);
}

static int tls_paths_init(const char *root, struct tls_paths *p)
{
	*p = (struct tls_paths){
		.dir = fb_rooted(root, FB_TLS_DIR), .ca_cert = fb_rooted(root, FB_TLS_CA_CERT),
		.ca_key = fb_rooted(root, FB_TLS_CA_KEY), .cert = fb_rooted(root, FB_TLS_CERT),
		.key = fb_rooted(root, FB_TLS_KEY), .issued = fb_rooted(root, FB_TLS_ISSUED),
		.log = fb_rooted(root, FB_TLS_DIR "/openssl.log"),
	};
	return p->dir && p->ca_cert && p->ca_key && p->cert && p->key && p->issued && p->log ? 0 : -ENOMEM;
}

void fb_tls_sha256(const char *pem, char hex[static SHA256_HEX_LEN + 1])
{
	(void)gb_sha256_data(pem, strlen(pem), hex);
}

/* Run openssl with ARGV (argv[0] "openssl"); on failure, *ret_error quotes the end of its log. */
static int openssl(char *const *argv, const struct tls_paths *p, const char *what, char **ret_error)
{
	_cleanup_free_ char *tail = NULL;
	int r;

	(void)unlink(p->log);
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = p->log });
	if (r == 0) {
		(void)unlink(p->log);
		return 0;
	}
	tail = gb_log_tail(p->log, 400);
	/* One line for the status; openssl's progress dots and dashes say nothing. */
	for (char *c = tail; c && *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (tail)
		memmove(tail, tail + strspn(tail, ".+-* "), strlen(tail + strspn(tail, ".+-* ")) + 1);
	if (r < 0)
		return gb_error(ret_error, r, "cannot run openssl to %s: %s", what, strerror(-r));
	return gb_error(ret_error, -EIO, "openssl could not %s (exit %d): %s", what, r, tail ? tail : "no output");
}

/* Make PATH hold TEXT with MODE, written atomically only when it differs. 1 when it changed. */
static int file_update(const char *path, const char *text, mode_t mode)
{
	_cleanup_free_ char *old = NULL;
	size_t size;

	if (read_file(path, PEM_MAX, &old, &size) >= 0 && size == strlen(text) && memcmp(old, text, size) == 0)
		return chmod(path, mode) < 0 ? -errno : 0;
	return write_file_atomic(path, text, strlen(text), mode) < 0 ? -EIO : 1;
}

/* The CA: the configuration's, else the one already there (a rerun keeps it), else a new one. */
static int ca_ensure(const struct appliance *cfg, const struct tls_paths *p, char **ret_error)
{
	_cleanup_free_ char *subject = NULL, *new_key = NULL, *new_cert = NULL;
	int r;

	if (cfg->registry_tls_ca_cert) {
		r = file_update(p->ca_key, cfg->registry_tls_ca_key, 0600);
		if (r >= 0)
			r = file_update(p->ca_cert, cfg->registry_tls_ca_cert, 0644);
		return r < 0 ? gb_error(ret_error, r, "cannot write the site CA from registry.tls_ca_cert into %s", p->dir) : 0;
	}
	if (path_exists(p->ca_cert) && path_exists(p->ca_key))
		return 0;
	if (asprintf(&subject, "/CN=gapbox site CA for %s", cfg->domain) < 0 || asprintf(&new_key, "%s.new", p->ca_key) < 0 ||
	    asprintf(&new_cert, "%s.new", p->ca_cert) < 0)
		return -ENOMEM;
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			 "-keyout", new_key, "-out", new_cert, "-days", CA_DAYS, "-subj", subject, NULL };
	r = openssl(argv, p, "make the site CA", ret_error);
	if (r < 0)
		return r;
	/* The key first: a certificate never stands without its key. */
	if (chmod(new_key, 0600) < 0 || rename(new_key, p->ca_key) < 0 || chmod(new_cert, 0644) < 0 ||
	    rename(new_cert, p->ca_cert) < 0)
		return gb_error_errno(ret_error, -errno, "cannot put the new site CA in %s", p->dir);
	return 0;
}

/* The server certificate for ISSUED (its names and the CA's hash), unless the one there is for
 * them and does not end soon. */
static int cert_ensure(const char *issued, const char *subject, const char *san, bool supplied,
		       const struct tls_paths *p, char **ret_error)
{
	_cleanup_free_ char *old = NULL, *new_key = NULL, *new_cert = NULL, *addext = NULL;
	size_t size;
	int r;

	if (read_file(p->issued, PEM_MAX, &old, &size) >= 0 && streq(old, issued) && path_exists(p->key)) {
		char *argv[] = { "openssl", "x509", "-in", p->cert, "-noout", "-checkend", CERT_RENEW_SECONDS, NULL };

		if (gb_run(argv, &(struct gb_spawn_opts){ .log_path = "/dev/null" }) == 0)
			return 0;
	}
	if (asprintf(&new_key, "%s.new", p->key) < 0 || asprintf(&new_cert, "%s.new", p->cert) < 0 ||
	    asprintf(&addext, "subjectAltName=%s", san) < 0)
		return -ENOMEM;
	char *argv[] = { "openssl", "req", "-x509", "-CA", p->ca_cert, "-CAkey", p->ca_key, "-newkey", "ec", "-pkeyopt",
			 "ec_paramgen_curve:P-256", "-nodes", "-keyout", new_key, "-out", new_cert, "-days", CERT_DAYS,
			 "-subj", (char *)subject, "-addext", addext, "-addext", "basicConstraints=critical,CA:FALSE",
			 "-addext", "extendedKeyUsage=serverAuth", NULL };
	r = openssl(argv, p, supplied ? "sign the registry's certificate with the site CA (is registry.tls_ca_key the key of "
		    "registry.tls_ca_cert?)" : "sign the registry's certificate with the site CA", ret_error);
	if (r < 0) {
		(void)unlink(new_key);
		(void)unlink(new_cert);
		return r;
	}
	/* The chain checked the way clients will, before nginx takes it. */
	char *verify[] = { "openssl", "verify", "-CAfile", p->ca_cert, new_cert, NULL };
	r = openssl(verify, p, "verify the registry's certificate against the site CA", ret_error);
	if (r < 0) {
		(void)unlink(new_key);
		(void)unlink(new_cert);
		return r;
	}
	if (chmod(new_key, 0600) < 0 || rename(new_key, p->key) < 0 || chmod(new_cert, 0644) < 0 ||
	    rename(new_cert, p->cert) < 0)
		return gb_error_errno(ret_error, -errno, "cannot put the registry's new certificate in %s", p->dir);
	r = write_file_atomic(p->issued, issued, strlen(issued), 0644);
	return r < 0 ? gb_error(ret_error, r, "cannot write %s", p->issued) : 0;
}

int fb_tls_init(const char *root, const struct appliance *cfg, const char *address, char **ret_ca_pem,
		char **ret_error)
{
	_cleanup_(tls_paths_done) struct tls_paths p = {};
	_cleanup_free_ char *san = NULL, *subject = NULL, *issued = NULL, *pem = NULL;
	char sha[SHA256_HEX_LEN + 1];
	size_t size;
	int r;

	r = tls_paths_init(root, &p);
	if (r < 0)
		return r;
	r = mkdir_p(p.dir, 0700);
	if (r < 0 || chmod(p.dir, 0700) < 0)
		return gb_error(ret_error, r < 0 ? r : -errno, "cannot make %s (0700)", p.dir);
	r = ca_ensure(cfg, &p, ret_error);
	if (r < 0)
		return r;
	r = read_file(p.ca_cert, PEM_MAX, &pem, &size);
	if (r < 0)
		return gb_error(ret_error, r, "cannot read %s", p.ca_cert);
	fb_tls_sha256(pem, sha);
	if (asprintf(&san, "DNS:registry.%s,DNS:admin.%s,IP:%s,IP:127.0.0.1", cfg->domain, cfg->domain, address) < 0 ||
	    asprintf(&subject, "/CN=registry.%s", cfg->domain) < 0 || asprintf(&issued, "%s\nCA %s\n", san, sha) < 0)
		return -ENOMEM;
	r = cert_ensure(issued, subject, san, cfg->registry_tls_ca_cert, &p, ret_error);
	if (r < 0)
		return r;
	*ret_ca_pem = TAKE_PTR(pem);
	return 0;
}

int fb_tls_ca_read(const char *root, char **ret_pem)
{
	_cleanup_free_ char *path = fb_rooted(root, FB_TLS_CA_CERT);
	size_t size;

	if (!path)
		return -ENOMEM;
	return read_file(path, PEM_MAX, ret_pem, &size);
}

int fb_tls_placeholder(const char *dir, char **ret_cert, char **ret_key, char **ret_error)
{
	_cleanup_free_ char *cert = path_join(dir, "placeholder.crt"), *key = path_join(dir, "placeholder.key"),
			    *log = path_join(dir, "placeholder.log");
	struct tls_paths p = { .log = log };
	int r;

	if (!cert || !key || !log)
		return -ENOMEM;
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			 "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=gapbox nginx -t placeholder", NULL };
	r = openssl(argv, &p, "make a placeholder certificate for nginx -t", ret_error);
	if (r < 0)
		return r;
	*ret_cert = TAKE_PTR(cert);
	*ret_key = TAKE_PTR(key);
	return 0;
}
