/* Sizes as people write them in profiles and on command lines: "8GiB", "512M", "1048576". */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Digits, then optionally K, M, G or T (powers of 1024), each optionally followed by "iB";
 * a bare number is bytes. -EINVAL for anything else, -ERANGE past 2^64. */
int bytesize_parse(const char *s, uint64_t *ret);
/* "8 GiB" when SIZE is a whole number of a unit, else "N bytes", into BUF. */
#define BYTESIZE_MAX 32
const char *bytesize_format(uint64_t size, char buf[static BYTESIZE_MAX]);
/* "326.3 MiB", "1.5 GiB", "512 bytes": a size for people to read, one decimal, into BUF. */
const char *bytesize_human(uint64_t size, char buf[static BYTESIZE_MAX]);
