/* outputs/config.sh read as data, never run. kubespray-offline copies its target-scripts/config.sh
 * there as is: a shell script whose plain assignments (VAR=value, VAR=${VAR:-default}, quoted or
 * not) are what its own scripts see when nothing in the environment overrides them. Functions,
 * conditionals, command substitutions and other commands are not data: they are skipped, each
 * with a debug line naming where. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A config.sh larger than this is not one kubespray-offline wrote. */
#define CONFIG_SH_MAX (1u << 20)

struct config_sh_var {
	char *name;
	char *value;      /* the literal value, or the default of ${NAME:-default} */
	unsigned line;
	bool overridable; /* ${NAME:-default}: the environment of the download could set another */
};

struct config_sh {
	struct config_sh_var *vars; /* in file order; a later assignment of a name replaces it */
	size_t n;
};

/* Read the assignments of TEXT (the file's content; WHERE names it in debug lines). */
int config_sh_parse(const char *text, const char *where, struct config_sh *ret);
void config_sh_done(struct config_sh *c);
/* The assignment of NAME, or NULL. */
const struct config_sh_var *config_sh_get(const struct config_sh *c, const char *name);
/* Its value split at white space (ADDITIONAL_CONTAINER_REGISTRY_LIST), NULL-terminated; an
 * empty list when NAME is not assigned. */
int config_sh_words(const struct config_sh *c, const char *name, char ***ret);
