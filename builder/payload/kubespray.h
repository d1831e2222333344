/* The kubespray the payload carries (files/kubespray-<v>.tar.gz), read against the payload: for
 * each *_download_url of its download.yml, the file under files/ that kubespray-offline saved for
 * it, or why there is none, and whether that file hashes to kubespray's checksum for it. */
#pragma once

#include <stdbool.h>

#include "findings.h"
#include "payloadrecord.h"

/* Read the kubespray of the outputs/ folder DIR for nodes of ARCH into *ret (ret->version NULL
 * when files/ holds no kubespray tarball). With VERIFY, every file found is hashed and compared
 * with kubespray's checksums.yml. Reading the tarball stops before it decompresses past UNPACK_MAX
 * bytes (0: no cap), or at a sparse entry. Problems (an unreadable tarball or YAML file, a files.list
 * from another kubespray, a checksum mismatch) are findings naming the file and line. Returns 0,
 * or -ENOMEM, or -EINTR when interrupted; *ret is filled either way (free it with
 * payload_record_kubespray_done). */
int kubespray_read(const char *dir, const char *arch, bool verify, uint64_t unpack_max, struct findings *f,
		   struct payload_record_kubespray *ret);

/* download.yml's TEMPLATE against a URL of files.list, each {{ expression }} a wildcard; an
 * expression met twice matches the same text. Returns 1 when it matches, with *ret_value
 * (optional) what the expression VAR matched (NULL when there is none), 0 when it does not,
 * -E2BIG for a template gapbox cannot read, -ENOMEM. */
int kubespray_match(const char *template, const char *url, const char *var, char **ret_value);
/* Where kubespray-offline's download-kubespray-files.sh saves URL under files/ for nodes of ARCH
 * ("runc/v1.3.4/runc.amd64"); NULL when out of memory. */
char *kubespray_payload_path(const char *url, const char *arch);
