/* SHA-256 over streams and files, with lowercase hex output. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

struct gb_sha256;

struct gb_sha256 *gb_sha256_new(void);
void gb_sha256_update(struct gb_sha256 *h, const void *data, size_t size);
/* Writes 64 hex digits and a NUL into hex (65 bytes) and frees h. */
void gb_sha256_final_hex(struct gb_sha256 *h, char hex[SHA256_HEX_LEN + 1]);
void gb_sha256_free(struct gb_sha256 *h);
/* Hash SIZE bytes at DATA; -ENOMEM (HEX then "") or 0. */
int gb_sha256_data(const void *data, size_t size, char hex[SHA256_HEX_LEN + 1]);
/* Hash a whole file; optional *ret_size gets its length. */
int gb_sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], uint64_t *ret_size);
