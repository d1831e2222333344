/* The state one image build carries from stage to stage. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "profile.h"
#include "sha256.h"

struct build_artifact {
	char *path;   /* path on the medium, e.g. "gapbox/system.sfs" */
	char *source; /* file in the work folder */
	uint64_t size;
	char sha256[SHA256_HEX_LEN + 1];
};

struct build {
	/* inputs */
	struct profile *profile;
	char *output;         /* final image path */
	char *cache_dir;      /* GAPBOX_CACHE */
	bool no_cache;
	char **extra_overlays; /* --overlay folders, after the profile's */
	char *datadir;        /* where overlay/ and build/<arch>/ live */
	char *outputs_dir;    /* kubespray-offline outputs/ (--outputs or the profile); NULL: no payload */
	bool strict;          /* payload warnings are errors */
	time_t epoch;         /* SOURCE_DATE_EPOCH or now: every timestamp we can set */

	/* work state */
	char *workdir;        /* temporary folder beside the output, removed at the end */
	char *logdir;         /* helpers' output, in $TMPDIR: still writable when the output disk is full */
	char *isotree;        /* workdir/iso: what xorriso puts on the medium */
	char *cache_tmp;      /* a cache entry being written, removed on failure */
	char *rootfs_tar;     /* cached rootfs tarball */
	char *rootfs_key;     /* its content key (hex) */
	bool rootfs_cached;   /* hit or miss, for the report */
	char *kver;           /* kernel release found in the rootfs */
	char *kernel_path;    /* boot/vmlinuz-<kver> inside the rootfs tar */
	char *moddir;         /* usr/lib/modules/<kver> inside the rootfs tar */
	char *busybox_path;   /* usr/bin/busybox inside the rootfs tar */
	char *moddep_text, *modbuiltin_text;
	char medium_uuid[24]; /* ISO9660 volume date as blkid shows it: 2026-11-21-10-00-00-00 */
	char *medium_label;

	struct build_artifact *artifacts;
	size_t n_artifacts;
};

#define MEDIUM_LABEL_DEFAULT "GAPBOX"

/* Stages, in the order gapbox build runs them. Each returns 0 or a negative errno and has
 * already logged what went wrong. */
int stage_check(struct build *b);
int stage_rootfs(struct build *b);
int stage_kernel(struct build *b);
int stage_initramfs(struct build *b);
int stage_system(struct build *b);
int stage_payload(struct build *b);
int stage_boot(struct build *b);
int stage_manifest(struct build *b);
int stage_iso(struct build *b);

/* The nodes' architecture: the payload's own setting, else the profile's. */
const char *build_payload_arch(const struct build *b);

/* Record a file of the work folder as an artifact at PATH on the medium, hashing it. */
int build_add_artifact(struct build *b, const char *medium_path, const char *source);
/* A path inside the work folder; caller frees. */
char *build_work_path(const struct build *b, const char *name);
/* The target binary NAME built for the profile's architecture (build/<arch>/NAME). */
int build_target_binary(const struct build *b, const char *name, char **ret);
/* Log file for a helper program of a stage. */
char *build_log_path(const struct build *b, const char *stage);
/* Report a helper that failed: its command, status and the tail of its log. */
int build_helper_failed(const struct build *b, const char *what, int status, const char *log_path);

/* Interruption: SIGINT/SIGTERM/SIGHUP set a flag and stop running helpers. */
void interrupt_setup(void);
bool interrupted(void);
