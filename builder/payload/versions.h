/* The versions of what the nodes run, read from the files the payload holds (the files are what
 * kubespray-offline downloaded; config.sh shows only its defaults, which the environment of the
 * download may have overridden). */
#pragma once

#include <stddef.h>

#include "configsh.h"
#include "findings.h"

struct payload_version {
	const char *component; /* "kubespray", "containerd", "runc", ... (static) */
	char *version;         /* "2.30.0" */
	char *file;            /* the file it was read from, relative to outputs/ */
};

struct payload_versions {
	struct payload_version *v; /* in a fixed component order; absent components left out */
	size_t n;
};

/* Find each component's files in DIR for nodes of ARCH. Where config.sh (CFG, may be NULL)
 * pins a version: its file present is that version; else exactly one other version present is
 * the payload's (a note: overridden at download time); several others, the newest is taken (a
 * warning naming them); none at all is an error naming config.sh's line and the file expected.
 * Without a pin, the newest present version is taken (several are a warning). Returns 0 (the
 * findings in F) or -ENOMEM. */
int payload_versions_derive(const char *dir, const char *arch, const struct config_sh *cfg, struct findings *f,
			    struct payload_versions *ret);
void payload_versions_done(struct payload_versions *v);
/* The version of COMPONENT, or NULL. */
const char *payload_versions_get(const struct payload_versions *v, const char *component);
