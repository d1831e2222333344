/* The build manifest's signature (GB_MEDIUM_MANIFEST_SIG): gapbox build --sign writes it beside the
 * manifest; gapbox inspect --verify and gapbox verify check it on the air-gapped side.
 *
 * Ed25519 (RFC 8032) over the manifest file's exact bytes, with keys in OpenSSL's PEM files
 * (openssl genpkey -algorithm ed25519; openssl pkey -pubout). The file is JSON:
 *   {"format": 1, "algorithm": "ed25519", "key": "<sha256 of the 32-byte public key, hex>",
 *    "signature": "<64 bytes, base64>"}
 * The key id lets a refusal say which key signed. */
#pragma once

#include <stddef.h>

#include "sha256.h"

#define MANIFEST_SIG_FORMAT 1
#define MANIFEST_SIG_ALGORITHM "ed25519"
/* A signature file is about 200 bytes; more is not one. */
#define MANIFEST_SIG_FILE_MAX 4096u
/* A PEM key file of any kind OpenSSL reads is far smaller than this. */
#define SIGNING_KEY_FILE_MAX (64u * 1024)

struct signing_key;

/* The Ed25519 private key in the PEM file PATH (unencrypted). -EINVAL with *ret_error naming the
 * file and what was expected (not PEM, another algorithm, encrypted). */
int signing_key_load_private(const char *path, struct signing_key **ret, char **ret_error);
/* The Ed25519 public key in the PEM file PATH (a private key file gives its public half). */
int signing_key_load_public(const char *path, struct signing_key **ret, char **ret_error);
/* The same from PEM text in memory, named WHERE in messages (the initramfs's baked-in key). */
int signing_key_parse_public(const char *pem, size_t len, const char *where, struct signing_key **ret, char **ret_error);
/* Its id: sha256 of the raw 32-byte public key, hex. */
const char *signing_key_id(const struct signing_key *k);
/* Its public half as PEM text (caller frees). */
int signing_key_public_pem(const struct signing_key *k, char **ret);
void signing_key_free(struct signing_key *k);

/* The signature file's text for the manifest TEXT (LEN bytes). */
int manifest_sign(const struct signing_key *k, const char *text, size_t len, char **ret_sig);
/* Check the signature file SIG (SIG_LEN bytes) of the manifest TEXT against KEY. 0: good.
 * -EBADMSG: malformed signature file; -EKEYREJECTED: signed by another key (*ret_error names
 * both ids); -EBADE: the key's, but the signature does not match the manifest's bytes. */
int manifest_sig_verify(const struct signing_key *k, const char *text, size_t len, const char *sig, size_t sig_len,
			char **ret_error);
