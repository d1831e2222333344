/* The netboot folder: written from a built image by gapbox netboot and at the end of gapbox build
 * --netboot, by the same code. Its layout is lib/layout.h's GB_NETBOOT_* and GB_MEDIUM_* names. */
#pragma once

#include <stdbool.h>

/* gapbox netboot IMAGE DIR --url URL [--force]. */
struct netboot_options {
	const char *image;
	const char *dir;
	const char *url;
	bool force;  /* replace DIR when it is not empty */
};

/* A netboot folder written in full into a temporary folder beside its place, until committed. */
struct netboot_stage {
	char *dir;   /* where it goes, absolute */
	char *tmp;   /* the temporary folder beside it: the tree, and grub-mkimage's log */
	char *tree;  /* TMP/tree, what becomes DIR */
	bool force;
};

/* Whether DIR may receive a netboot folder: it does not exist, or is an empty folder, or FORCE.
 * Refusals are reported. */
int netboot_target_check(const char *dir, bool force);
/* Write the folder for IMAGE (a gapbox ISO) at URL into a temporary folder beside DIR: every
 * artifact the build manifest lists, verified against its size and sha256 as it is copied, the
 * manifest as it is, the loaders' configs and files. Nothing is at DIR yet. Reported. */
int netboot_prepare(const char *image, const char *dir, const char *url, bool force, struct netboot_stage *ret);
/* Put the prepared folder at DIR (with force, in place of what was there, which is then
 * removed). Reported. */
int netboot_commit(struct netboot_stage *s);
/* Remove what is left of the temporary folder, and free. */
void netboot_stage_done(struct netboot_stage *s);

/* gapbox netboot: prepare and commit. 0, or a negative errno (reported). */
int netboot_run(const struct netboot_options *o);
