/* The state of the apt archive a rootfs is bootstrapped from: each source's InRelease, read with
 * libcurl, hashed into the rootfs cache key and dated for the build's default epoch. */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "sha256.h"

/* An InRelease larger than this is not an apt archive's (Debian's main one is about 150 KiB). */
#define RELEASE_FILE_MAX (8u * 1024 * 1024)

struct archive_state {
	char hex[SHA256_HEX_LEN + 1]; /* sha256 over every source's Release text, in source order */
	time_t date;                  /* the newest Date: among them */
};

/* The InRelease and Release URLs of the one-line apt source LINE ("deb [opts] URI SUITE
 * [COMPONENT...]"; a SUITE ending in / is a flat repository). -EINVAL for another shape,
 * -EPROTONOSUPPORT for a URI that is not http, https or file. */
int apt_source_release_urls(const char *line, char **ret_inrelease, char **ret_release);
/* The Date: field of a Release text as seconds since 1970 (RFC 2822 date in UTC).
 * -ENOENT without one, -EINVAL when it does not parse. */
int release_date(const char *text, time_t *ret);
/* Read each source's InRelease (else its Release), at most RELEASE_FILE_MAX bytes each. Reports
 * what failed, naming the source and the URL. */
int archive_state_read(char *const *sources, struct archive_state *ret);
