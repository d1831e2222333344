/* The site configuration: an appliance configuration (/etc/gapbox/appliance.yaml) checked on the
 * build host with gapbox-firstboot's own code (firstboot/configcheck.h), for gapbox build
 * --config (and the profile's site_config), which bakes it into the image, and for gapbox
 * check-config. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../firstboot/appliance.h"
#include "sha256.h"

/* Where the system image holds it, over the overlays' default. */
#define SITE_CONFIG_IMAGE_PATH "etc/gapbox/appliance.yaml"

struct site_config {
	char *path;                       /* as given: messages name it so */
	char *text;                       /* the bytes checked, which are the bytes baked */
	size_t size;
	char sha256[SHA256_HEX_LEN + 1];
	mode_t mode;                      /* 0600 when it sets a secret (a hash), else 0644 */
	char **secrets;                   /* the secret keys it sets ("access.root_password_hash") */
	char **machine_checks;            /* "PATH:LINE:COLUMN: KEY: ..." what only the machine can check */
};
void site_config_done(struct site_config *s);

/* Read PATH once and check it whole for USE (APPLIANCE_IN_IMAGE: as a build bakes it, no private
 * key). 0 with *ret filled, else a negative errno with *ret_error = "PATH:LINE:COLUMN: KEY:
 * expected ..., got ..." for content, "cannot open PATH: reason" for I/O (NULL only on -ENOMEM). */
int site_config_load(const char *path, enum appliance_use use, struct site_config *ret, char **ret_error);
