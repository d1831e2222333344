/* A netboot (gapbox.fetch=URL): the network up, the build manifest and then each image fetched over
 * HTTP into a tmpfs by gapbox-fetch, checked against the manifest, in place of a medium. */
#pragma once

#include <stdint.h>

#include "net.h"
#include "params.h"

struct netboot_result {
	struct net_link link;
	uint64_t bytes;     /* fetched into RAM */
	char key_id[17];    /* the key the fetched manifest is signed by (a signed build); else "" */
};

/*
 * Brings up the boot NIC, fetches URL/gapbox/manifest.json (which must be of this initramfs's
 * build), checks that the images fit in memory beside what the running system needs, and fetches
 * each image the manifest lists into a tmpfs on GB_RUN_TORAM, hashed while streaming. Returns 0
 * with the images there (read-only), or a negative errno after saying which file and URL failed
 * and why; nothing is then left mounted. When GB_RUN_TORAM is already a mount point (a retry after
 * a rescue shell), its images are taken as they are.
 */
int netboot_fetch(const struct init_params *p, struct netboot_result *ret);

/* The boot record (GB_RUN_BOOT_RECORD at RECORD_PATH) of a netboot. Never fails: says what it cannot do. */
void netboot_write_record(const struct init_params *p, const struct netboot_result *res, const char *record_path);
