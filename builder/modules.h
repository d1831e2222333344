/* Kernel modules for the initramfs: modules.dep parsing and the dependency closure. */
#pragma once

#include <stdbool.h>

#include "strv.h"

struct moddep;

/* Parse the text of modules.dep (and, optionally, modules.builtin; may be NULL). */
int moddep_parse(const char *dep_text, const char *builtin_text, struct moddep **ret);
void moddep_free(struct moddep *d);

/* Module name as the kernel knows it: basename without .ko[.xz|.zst|.gz], '-' → '_'. */
char *module_name_from_path(const char *path);

bool moddep_is_builtin(const struct moddep *d, const char *name);

/* Resolve NAMES to module paths (relative to /lib/modules/<kver>) in load order: every
 * module after all of its dependencies, each once. Built-in names are skipped. Names that
 * are neither a module nor built in are returned in *ret_missing (NULL-terminated, may be
 * empty). Both lists are NULL-terminated and freed with strv_free(). */
int moddep_closure(const struct moddep *d, char *const *names, char ***ret_paths, char ***ret_missing);
