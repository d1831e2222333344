/* Ed25519 signatures of the build manifest (manifestsig.h), through OpenSSL's EVP. */
#include "manifestsig.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "fsutil.h"
#include "macros.h"

#define ED25519_KEY_LEN 32
#define ED25519_SIG_LEN 64

struct signing_key {
	EVP_PKEY *pkey;
	char id[SHA256_HEX_LEN + 1];
};

void signing_key_free(struct signing_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *signing_key_id(const struct signing_key *k)
{
	return k->id;
}

/* No passphrase prompt, ever: an encrypted key is refused with a message instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag;
	*(int *)u = 1;
	return -1;
}

static int key_finish(EVP_PKEY *pkey, const char *where, struct signing_key **ret, char **ret_error)
{
	unsigned char raw[ED25519_KEY_LEN];
	size_t n = sizeof(raw);
	struct signing_key *k;

	if (!EVP_PKEY_is_a(pkey, "ED25519")) {
		const char *type = EVP_PKEY_get0_type_name(pkey);
		int r = gb_error(ret_error, -EINVAL, "%s: a%s %s key; gapbox signs with Ed25519 (openssl genpkey -algorithm ed25519)",
				 where, type ? "n" : "", type ? type : "non-Ed25519");
		EVP_PKEY_free(pkey);
		return r;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, raw, &n) != 1 || n != sizeof(raw)) {
		EVP_PKEY_free(pkey);
		return gb_error(ret_error, -EINVAL, "%s: cannot take the Ed25519 public key", where);
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		return -ENOMEM;
	}
	k->pkey = pkey;
	if (gb_sha256_data(raw, sizeof(raw), k->id) < 0) {
		signing_key_free(k);
		return -ENOMEM;
	}
	*ret = k;
	return 0;
}

static int key_read(const char *pem, size_t len, const char *where, bool private, struct signing_key **ret, char **ret_error)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pkey = NULL;
	int encrypted = 0;

	if (!bio)
		return -ENOMEM;
	if (private)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted);
	else {
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, &encrypted);
		if (!pkey) { /* a private key file names its public key too */
			(void)BIO_reset(bio);
			pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted);
		}
	}
	BIO_free(bio);
	if (!pkey && encrypted)
		return gb_error(ret_error, -EINVAL, "%s: the key is protected by a passphrase; gapbox reads unencrypted PEM keys "
				"(keep the file on the build host, readable by you alone)", where);
	if (!pkey)
		return gb_error(ret_error, -EINVAL, "%s: expected an Ed25519 %s key in PEM (-----BEGIN %s-----)", where,
				private ? "private" : "public", private ? "PRIVATE KEY" : "PUBLIC KEY");
	return key_finish(pkey, where, ret, ret_error);
}

static int key_load(const char *path, bool private, struct signing_key **ret, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_file(path, SIGNING_KEY_FILE_MAX, &text, &len);

	if (r == -EFBIG)
		return gb_error(ret_error, r, "%s: larger than %u bytes: not a key file", path, SIGNING_KEY_FILE_MAX);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read %s", path);
	r = key_read(text, len, path, private, ret, ret_error);
	explicit_bzero(text, len);
	return r;
}

int signing_key_load_private(const char *path, struct signing_key **ret, char **ret_error)
{
	return key_load(path, true, ret, ret_error);
}

int signing_key_load_public(const char *path, struct signing_key **ret, char **ret_error)
{
	return key_load(path, false, ret, ret_error);
}

int signing_key_parse_public(const char *pem, size_t len, const char *where, struct signing_key **ret, char **ret_error)
{
	return key_read(pem, len, where, false, ret, ret_error);
}

int signing_key_public_pem(const struct signing_key *k, char **ret)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int r = -ENOMEM;

	if (!bio)
		return -ENOMEM;
	if (PEM_write_bio_PUBKEY(bio, k->pkey) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0 && (*ret = strndup(data, n)))
		r = 0;
	BIO_free(bio);
	return r;
}

int manifest_sign(const struct signing_key *k, const char *text, size_t len, char **ret_sig)
{
	unsigned char sig[ED25519_SIG_LEN];
	char b64[4 * ((ED25519_SIG_LEN + 2) / 3) + 1];
	size_t n = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	json_t *o;
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	     EVP_DigestSign(ctx, sig, &n, (const unsigned char *)text, len) == 1 && n == sizeof(sig);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)b64, sig, sizeof(sig));
	o = json_pack("{s:i, s:s, s:s, s:s}", "format", MANIFEST_SIG_FORMAT, "algorithm", MANIFEST_SIG_ALGORITHM, "key", k->id,
		      "signature", b64);
	if (!o)
		return -ENOMEM;
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	int r = asprintf(ret_sig, "%s\n", s);
	free(s);
	return r < 0 ? -ENOMEM : 0;
}

int manifest_sig_verify(const struct signing_key *k, const char *text, size_t len, const char *sig, size_t sig_len,
			char **ret_error)
{
	unsigned char raw[4 * ((ED25519_SIG_LEN + 2) / 3) / 4 * 3]; /* what 88 base64 digits decode to */
	json_error_t err;
	json_t *o = sig_len > MANIFEST_SIG_FILE_MAX ? NULL : json_loadb(sig, sig_len, 0, &err);
	json_int_t format;
	const char *alg = NULL, *key = NULL, *b64 = NULL;
	int r;

	if (!o)
		return gb_error(ret_error, -EBADMSG, "the signature file is not JSON of at most %u bytes", MANIFEST_SIG_FILE_MAX);
	if (json_unpack(o, "{s:I, s:s, s:s, s:s}", "format", &format, "algorithm", &alg, "key", &key, "signature", &b64) != 0 ||
	    format != MANIFEST_SIG_FORMAT || !streq(alg, MANIFEST_SIG_ALGORITHM) || strlen(b64) != 4 * ((ED25519_SIG_LEN + 2) / 3)) {
		json_decref(o);
		return gb_error(ret_error, -EBADMSG, "the signature file is not a format %d %s signature (format, algorithm, key, "
				"signature of %d bytes in base64)", MANIFEST_SIG_FORMAT, MANIFEST_SIG_ALGORITHM, ED25519_SIG_LEN);
	}
	if (!streq(key, k->id)) {
		r = gb_error(ret_error, -EKEYREJECTED, "signed by key %.16s, not by the given key %.16s", key, k->id);
		json_decref(o);
		return r;
	}
	/* 88 base64 digits decode to 66 bytes, the last two the "==" padding's zeros. */
	if (EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64)) != (int)sizeof(raw)) {
		json_decref(o);
		return gb_error(ret_error, -EBADMSG, "the signature file's signature is not base64");
	}
	json_decref(o);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	r = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, raw, ED25519_SIG_LEN, (const unsigned char *)text, len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!r)
		return gb_error(ret_error, -EBADE, "the signature of key %.16s does not match the manifest: the manifest was "
				"changed after it was signed", k->id);
	return 0;
}
