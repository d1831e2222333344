/* One image build: its inputs, its work folder, and the stages, each handing the next what it
 * made as a typed result. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buildmanifest.h"
#include "payloadrecord.h"
#include "persist.h"
#include "profile.h"
#include "sha256.h"

/* What the user asked for (gapbox build's options, see options.h). */
struct build_options {
	const char *profile_path;
	char *output;          /* NULL: out/gapbox-<profile name>.iso */
	char *cache_dir;       /* NULL: GAPBOX_CACHE, else /var/cache/gapbox */
	bool no_cache;
	char **extra_overlays; /* --overlay folders, absolute, after the profile's */
	char *outputs_dir;     /* --outputs; NULL: the profile's payload.outputs, if any */
	bool strict;           /* payload warnings are errors */
	struct unpack_caps caps; /* --max-*-size; a field 0: the profile's */
	char *site_config;     /* --config, as typed; NULL: the profile's site_config, if any */
	const char *netboot_dir; /* --netboot: also write the netboot folder there; NULL: none */
	const char *netboot_url; /* --netboot-url, checked; set when netboot_dir is */
	bool netboot_force;    /* --force: replace what netboot_dir holds */
	const char *sign_key;  /* --sign: the Ed25519 private key (PEM) the manifest is signed with; NULL: none */
	const char *secure_boot_key;  /* --secure-boot-key: the RSA key (PEM) the kernel image is signed with */
	const char *secure_boot_cert; /* --secure-boot-cert: its X.509 certificate (PEM); set when the key is */
};
void build_options_done(struct build_options *o);

/* The state every stage shares: inputs, the work folder and the artifacts so far. */
struct build {
	struct profile *profile;
	const char *output;    /* final image path */
	const char *cache_dir;
	bool no_cache;
	char **extra_overlays;
	const char *outputs_dir; /* kubespray-offline outputs/; NULL: no payload */
	const char *site_config; /* --config, else the profile's site_config; NULL: none */
	bool strict;
	const char *netboot_dir; /* --netboot; NULL: no netboot folder */
	const char *netboot_url;
	bool netboot_force;
	struct signing_key *signing_key; /* --sign's key, loaded before anything slow; NULL: unsigned */
	struct uki_key *uki_key; /* --secure-boot-key's, checked before anything slow; NULL: GRUB behind shim */
	time_t epoch;          /* every timestamp we can set: SOURCE_DATE_EPOCH, else the newest input's time
				  (set once the rootfs stage has read the archive's date) */
	const char *epoch_from; /* what gave it, for the manifest */
	char *datadir;         /* where overlay/ and build/<arch>/ live */
	char *workdir;         /* temporary folder beside the output, removed at the end */
	char *logdir;          /* helpers' output, in $TMPDIR: still writable when the output disk is full */
	char *isotree;         /* workdir/iso: what xorriso puts on the medium */
	char medium_uuid[24];  /* ISO9660 volume date as blkid shows it: 2026-11-21-10-00-00-00 */
	const char *medium_label;

	struct manifest_artifact *artifacts; /* each file the build put on the medium, for the manifest */
	size_t n_artifacts;
	struct manifest_verity *verity; /* each squashfs image's hash tree, for the manifest */
	size_t n_verity;
	struct payload_record payload; /* what the check found (versions, kubespray, node OS), the build
					  adds the images: the payload record */
};

/* Stage rootfs: the admin OS as a tarball, from the cache or mmdebstrap. */
struct rootfs {
	char *tar;             /* the cached tarball */
	char *key;             /* its content key (hex) */
	bool cached;           /* taken from the cache rather than bootstrapped */
	char archive_state[SHA256_HEX_LEN + 1]; /* the apt archive's state it was keyed by */
	time_t archive_date;   /* the newest Date: of the archive's Release files */
};
void rootfs_done(struct rootfs *r);
/* Read the rootfs tarball TAR once, calling FN for every entry with its path relative to the
 * root (the entry's data is FN's to read or skip). FN returns 0 to go on, 1 to stop, or a
 * negative errno (which it reports). Failures to read the tarball are reported here. */
struct archive;
struct archive_entry;
typedef int (*rootfs_entry_fn)(struct archive *a, struct archive_entry *e, const char *path, void *userdata);
int rootfs_foreach(const char *tar, rootfs_entry_fn fn, void *userdata);

/* Stage kernel: what the rootfs holds for booting. */
struct kernel {
	char *kver;            /* kernel release */
	char *path;            /* boot/vmlinuz-<kver> inside the rootfs tar */
	char *moddir;          /* usr/lib/modules/<kver> inside the rootfs tar */
	char *busybox;         /* usr/bin/busybox inside the rootfs tar */
	char *e2fsck;          /* usr/sbin/e2fsck.static inside the rootfs tar: checks the data partition */
	char *moddep;          /* text of modules.dep */
	char *modbuiltin;      /* text of modules.builtin, NULL when absent */
};
void kernel_done(struct kernel *k);

/* Stage system: the root image, and the build id its hash gives (lib/persist.h). */
struct system_image {
	char build_id[GB_BUILD_ID_LEN + 1];
};

/* Stages, in the order gapbox build runs them. Each returns 0 or a negative errno and has
 * already logged what went wrong. */
struct site_config;
/* Stage check: the site configuration (checked, read once into *ret_site, which stays empty
 * without one), then the outputs/ folder. */
int stage_check(struct build *b, struct site_config *ret_site);
int stage_rootfs(struct build *b, struct rootfs *ret);
int stage_kernel(struct build *b, const struct rootfs *rootfs, struct kernel *ret);
/* SITE: the site configuration stage check read (its text NULL: none), which replaces the
 * overlays' /etc/gapbox/appliance.yaml. */
int stage_system(struct build *b, const struct rootfs *rootfs, const struct kernel *kernel,
		 const struct site_config *site, struct system_image *ret);
/* FETCH: gapbox-fetch's closure (libclosure.h), which goes in with it. */
struct lib_closure;
int stage_initramfs(struct build *b, const struct rootfs *rootfs, const struct kernel *kernel,
		    const struct system_image *system, const struct lib_closure *fetch);
/* Whether the path REL (relative to the root) stays out of system.sfs, from the rootfs and the
 * overlays alike: the distribution's initramfs (ours is on the medium) and the symlinks to it,
 * and the key material packages' postinsts made in the cached rootfs, SSH host keys and named's
 * rndc key (every machine makes its own at boot, so no two share one); and the signed boot chain
 * and GRUB's modules (usr/lib/shim, usr/lib/grub), which only the medium needs. */
bool system_image_leaves_out(const char *rel);
/* The outputs/ folder's part of stage check (payloadstage.c). */
int stage_check_payload(struct build *b);
int stage_payload(struct build *b);
/* Stage verity: a dm-verity hash tree (IMAGE.verity, an artifact) for each squashfs image,
 * recorded in b->verity. */
int stage_verity(struct build *b);
int stage_boot(struct build *b, const struct rootfs *rootfs);
int stage_manifest(struct build *b, const struct rootfs *rootfs, const struct kernel *kernel,
		   const struct system_image *system, const struct site_config *site);
/* The image, synced, in the work folder: *ret_image is its path (caller frees). */
int stage_iso(struct build *b, char **ret_image);
/* Stage netboot (with --netboot): the netboot folder of IMAGE, prepared beside its place. */
struct netboot_stage;
int stage_netboot(struct build *b, const char *image, struct netboot_stage *ret);

/* gapbox build: set up, run the stages, tear down. Returns 0, or a negative errno (reported). */
int build_run(const struct build_options *o);
/* The folder holding gapbox's own files (overlay/, profiles/, qemu/, build/<arch>/): GAPBOX_DATADIR,
 * else the tree this binary was built or installed in (build/host/gapbox → ../..). */
int gapbox_datadir(char **ret);

/* The nodes' architecture: the payload's own setting, else the profile's. */
const char *build_payload_arch(const struct build *b);
/* Record SOURCE, the file at MEDIUM_PATH in the image tree, as an artifact, hashing it. */
int build_add_artifact(struct build *b, const char *medium_path);
/* A path inside the work folder, or inside the image tree; caller frees. */
char *build_work_path(const struct build *b, const char *name);
char *build_medium_path(const struct build *b, const char *medium_path);
/* The target binary NAME built for the profile's architecture (build/<arch>/NAME). */
int build_target_binary(const struct build *b, const char *name, char **ret);
/* Log file for a helper program of a stage. */
char *build_log_path(const struct build *b, const char *stage);
/* Report a helper that failed: its command, status and the tail of its log. */
int build_helper_failed(const struct build *b, const char *what, int status, const char *log_path);
