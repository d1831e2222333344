/* The node files (offline.yml, inventory.ini, pip.conf, node-setup.sh): what the rest of first
 * boot needs to know of them. */
#pragma once

#include "sha256.h"
#include "site.h"

/* The sha256 of the node-setup.sh rendered for S, as 64 hex digits: what the node command
 * checks the download against. 0 or negative errno. */
int nodes_setup_sha256(const struct fb_site *s, char hex[static SHA256_HEX_LEN + 1]);
