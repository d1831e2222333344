/* SHA-256 through OpenSSL's SHA256_* functions.
 *
 * Not EVP: gapbox-init links this statically, and EVP_sha256() pulls in OpenSSL's provider and
 * configuration machinery (3.7 MB more in the binary, a config file looked for at first use, and
 * getaddrinfo/dlopen warnings at link time) for the same assembly these functions run. They are
 * deprecated in OpenSSL 3.0 but kept through 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sha256.h"

#include <errno.h>

#include <fcntl.h>
#include <openssl/sha.h>

#include "macros.h"

struct gb_sha256 {
	SHA256_CTX ctx;
};

struct gb_sha256 *gb_sha256_new(void)
{
	struct gb_sha256 *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	if (SHA256_Init(&h->ctx) != 1) {
		gb_sha256_free(h);
		return NULL;
	}
	return h;
}

void gb_sha256_update(struct gb_sha256 *h, const void *data, size_t size)
{
	SHA256_Update(&h->ctx, data, size);
}

int gb_sha256_data(const void *data, size_t size, char hex[SHA256_HEX_LEN + 1])
{
	struct gb_sha256 *h = gb_sha256_new();

	hex[0] = '\0';
	if (!h)
		return -ENOMEM;
	gb_sha256_update(h, data, size);
	gb_sha256_final_hex(h, hex);
	return 0;
}

void gb_sha256_final_hex(struct gb_sha256 *h, char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256_Final(md, &h->ctx);
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[SHA256_HEX_LEN] = '\0';
	gb_sha256_free(h);
}

void gb_sha256_free(struct gb_sha256 *h)
{
	free(h);
}

int gb_sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], uint64_t *ret_size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	static char buf[1 << 20];
	uint64_t total = 0;

	if (fd < 0)
		return -errno;
	struct gb_sha256 *h = gb_sha256_new();
	if (!h)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			gb_sha256_free(h);
			return r;
		}
		if (n == 0)
			break;
		gb_sha256_update(h, buf, n);
		total += n;
	}
	gb_sha256_final_hex(h, hex);
	if (ret_size)
		*ret_size = total;
	return 0;
}
