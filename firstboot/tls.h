/* The site CA and the registry's server certificate: made at first boot with the openssl CLI
 * (or the CA supplied by the configuration), kept under FB_TLS_DIR on the admin, never in the
 * image. nginx reads the registry's pair there; nodes fetch the CA's certificate. */
#pragma once

#include "appliance.h"
#include "sha256.h"

#define FB_TLS_DIR "/var/lib/gapbox/tls"
#define FB_TLS_CA_CERT FB_TLS_DIR "/ca.crt"
#define FB_TLS_CA_KEY FB_TLS_DIR "/ca.key"
#define FB_TLS_CERT FB_TLS_DIR "/registry.crt"
#define FB_TLS_KEY FB_TLS_DIR "/registry.key"
/* What the server certificate was made for (its names and the CA's hash): a change renews it. */
#define FB_TLS_ISSUED FB_TLS_DIR "/registry.issued"
/* Where nodes fetch the CA's certificate: http://ADMIN/gapbox/ca.crt. */
#define FB_TLS_CA_NODE_FILE "ca.crt"

/* Under ROOT ("" for the live system): the site CA (CFG's, else the one there, else a new one)
 * and a server certificate signed by it for registry.DOMAIN, admin.DOMAIN, ADDRESS and
 * 127.0.0.1 (renewed when those or the CA change, or within 30 days of its end). *ret_ca_pem:
 * the CA's certificate. 0, or negative with *ret_error naming the file or openssl's complaint
 * (never a key). */
int fb_tls_init(const char *root, const struct appliance *cfg, const char *address, char **ret_ca_pem,
		char **ret_error);
/* The CA's certificate under ROOT, when there is one: 0 with *ret_pem, or -ENOENT. */
int fb_tls_ca_read(const char *root, char **ret_pem);
/* The sha256 of PEM, as sha256sum prints it for the file nodes fetch. */
void fb_tls_sha256(const char *pem, char hex[static SHA256_HEX_LEN + 1]);
/* A throwaway self-signed pair in DIR (placeholder.crt, placeholder.key), for checking an
 * nginx.conf where the registry's pair is not there: *ret_cert and *ret_key get their paths. */
int fb_tls_placeholder(const char *dir, char **ret_cert, char **ret_key, char **ret_error);
