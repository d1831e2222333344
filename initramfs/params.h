/* gapbox-init's parameters: built-in defaults, then initrd.conf (lib/initrdconf.h), then
 * gapbox.* on the kernel command line. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "initrdconf.h"
#include "layout.h"
#include "netparams.h"
#include "persist.h"

#define INIT_CONF_PATH "/" GB_INITRD_CONF

enum init_param_source { PARAM_DEFAULT, PARAM_CONF, PARAM_CMDLINE };

/* gapbox.toram: copy the images to RAM never, always (when memory allows), or when the medium
 * is removable and memory allows. */
enum init_toram { TORAM_NO, TORAM_YES, TORAM_AUTO };

struct init_params {
	char kver[128];          /* "" = the running kernel's release */
	char name[128];          /* image name, for messages only */
	/* The medium: a path wins, else the UUID, else the label. */
	char medium_uuid[128];
	char medium_label[128];
	char medium_path[256];
	/* Where the medium spec came from: the label stands in for the UUID only when
	 * the UUID came from initrd.conf, never against an explicit gapbox.medium=. */
	enum init_param_source medium_source;
	unsigned timeout_sec;
	char build_id[40];       /* initrd.conf's BUILD_ID, "" from an older builder */
	struct gb_persist_spec persist; /* gapbox.persist=, default initrd.conf's PERSIST */
	bool shell;   /* gapbox.shell: rescue shell right before switch_root */
	bool debug;   /* gapbox.debug */
	enum init_toram toram; /* gapbox.toram */
	enum gb_verify verify; /* gapbox.verify, default initrd.conf's VERIFY */
	bool brk;     /* gapbox.break: rescue shell before the medium search */
	/* Netboot: gapbox.fetch= names the folder the images come from instead of a medium; ip= and
	 * BOOTIF= (from the boot loader) say how to reach it. */
	char fetch_url[NETBOOT_URL_MAX + 1];
	struct net_ipconf ip;
	bool have_bootif;
	uint8_t bootif[6];
	unsigned n_invalid; /* values reported as invalid and replaced by the default */
};

void init_params_defaults(struct init_params *p);

/*
 * initrd.conf's lines (lib/initrdconf.h) on top of P; bad lines and values are reported as
 * warnings naming where:line. Never fails: whatever could not be read keeps its default.
 */
void init_params_parse_conf(struct init_params *p, const char *text, const char *where);

/* Reads path; a missing file means defaults. Returns 0, or a negative errno when the
 * file exists but cannot be read (the caller reports it; defaults stay). */
int init_params_load_conf(struct init_params *p, const char *path);

/* Applies gapbox.* words of a kernel command line; invalid values are reported as
 * warnings and leave the previous value. Returns 0 or a negative errno (-E2BIG, -ENOMEM). */
int init_params_parse_cmdline(struct init_params *p, const char *line);

/* "no", "yes" or "auto". */
const char *init_toram_name(enum init_toram t);

/* "UUID=...", "LABEL=..." or a path, for messages. */
const char *init_params_medium_describe(const struct init_params *p, char *buf, size_t size);
