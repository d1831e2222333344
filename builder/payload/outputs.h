/* kubespray-offline's outputs/ folder: walking it and checking it before it goes into an image. */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "configsh.h"
#include "findings.h"
#include "fsutil.h"
#include "unpackcap.h"
#include "versions.h"

/* kubespray-offline's Ansible image, with ansible_in_container=true (then there is no pypi/). */
#define OUTPUTS_ANSIBLE_IMAGE "images/kubespray-offline-ansible.tar.gz"
/* Put by gapbox's fixture generator (tests/fixtures/gen-outputs --sample) into a sample
 * outputs/ folder: a payload for trying gapbox, never a site's. */
#define OUTPUTS_SAMPLE_MARKER "GAPBOX-SAMPLE"

/* What the folder says of itself, read once before anything is checked or imported. */
struct outputs_info {
	struct config_sh config;
	bool has_config;
	char **registries;              /* stripped besides the built-in ones: the profile's, then
					   config.sh's ADDITIONAL_CONTAINER_REGISTRY_LIST */
	struct payload_versions versions; /* of what the nodes run, from the files */
	bool ansible_in_container;
	bool sample;                    /* OUTPUTS_SAMPLE_MARKER is there */
};

/* Read config.sh as data, the registries to strip and the versions of files/ (findings in F:
 * an unreadable config.sh, versions overridden or missing). PROFILE_REGISTRIES may be NULL.
 * Returns 0, -ENOTDIR when DIR is no folder, or -ENOMEM. */
int outputs_load(const char *dir, const char *arch, char *const *profile_registries, struct findings *f,
		 struct outputs_info *ret);
void outputs_info_done(struct outputs_info *info);

/* One line of an image list: the reference and "images/images.list:LINE". */
struct outputs_image {
	const char *ref;
	char where[64];
	const char *first; /* where the same reference was listed first, or NULL */
};
/* Call fn for every reference of the image lists (lib/imagelist.h: images/NAME.list, read by its
 * rules); an unreadable list is a finding. A reference listed again comes with ->first set, and
 * is to be passed over (once reported). Returns how many lists there were, or fn's negative
 * return. */
int outputs_foreach_image(const char *dir, struct findings *f,
			  int (*fn)(const struct outputs_image *it, void *userdata), void *userdata);

/* The image archives under images/ that no list line names ("images/NAME", sorted):
 * load-push-all-images.sh loads every archive, so gapbox imports these too, under the name
 * each carries. */
int outputs_unlisted_archives(const char *dir, char ***ret);

/* Every check that needs no image content: names the payload cannot carry (outputs_name_refused),
 * lists against archives, ELF architecture of
 * files/ (inside their tarballs too), repo metadata, the PyPI index's links (config.sh's
 * versions against files/ are outputs_load()'s). Images' own content is checked when they are
 * imported. ARCH is the nodes' architecture; a tarball of files/ is read no further than
 * CAPS->image decompressed bytes. Returns 0 (findings in f) or a negative errno
 * when DIR is unusable. */
int outputs_check(const char *dir, const char *arch, const struct outputs_info *info, const struct unpack_caps *caps,
		  struct findings *f);

/* Why the file REL (relative to outputs/) cannot go into the payload by its name, or NULL when
 * it can: a name gapbox writes itself (lib/layout.h GB_PAYLOAD_RESERVED, or anything below
 * one), or a control character anywhere in it. */
const char *outputs_name_refused(const char *rel);
/* REL for a message, control characters spelled \n, \t, \r, \xHH (caller frees). */
char *outputs_name_quote(const char *rel);

/* The archive that holds the image of list line REF, relative to DIR ("images/NAME"), or NULL. */
char *outputs_image_archive(const char *dir, const char *ref);
