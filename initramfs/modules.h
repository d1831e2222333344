/* Loading the kernel modules the builder listed for the initramfs (GB_INITRD_MODULES), in order. */
#pragma once

#include <stddef.h>

#include "layout.h"

#define MODULES_LOAD_PATH "/" GB_INITRD_MODULES
#define MODULES_FAILED_MAX 32

struct modules_result {
	unsigned n_loaded;     /* newly loaded */
	unsigned n_present;    /* already loaded or built in (EEXIST) */
	unsigned n_failed;
	struct {
		char path[128];    /* as listed, relative to /lib/modules/<kver> */
		int error;         /* negative errno of open or finit_module */
	} failed[MODULES_FAILED_MAX]; /* the first MODULES_FAILED_MAX failures */
};

/*
 * Loads each module listed in list_path (one path a line, relative to moddir, in
 * dependency order; blank lines and '#' comments skipped) with finit_module(). A module
 * that fails is noted at debug level and in *ret, not fatal: the hardware it drives may
 * simply be absent. Returns 0, or a negative errno if the list or moddir cannot be
 * opened (-ENOENT for a missing list).
 */
int modules_load_list(const char *moddir, const char *list_path, struct modules_result *ret);

/* "sr_mod.ko (No such device), ..." for failure messages; "none" if nothing failed. */
void modules_result_describe(const struct modules_result *res, char *buf, size_t size);
