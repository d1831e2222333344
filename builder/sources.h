/* The apt sources a rootfs is bootstrapped from: a profile's mirror or the host's own. */
#pragma once

/* One-line apt sources ("deb [opts] URI SUITE COMPONENTS") for SUITE, its -updates and
 * -security suites, taken from the host's sources.list and sources.list.d (one-line and
 * deb822 files) under ROOT (normally "/"). -ENOENT with nothing found. NULL-terminated. */
int host_apt_sources(const char *root, const char *suite, char ***ret);
/* Parse the text of one sources file (deb822 when is_deb822) and append matching lines. */
int apt_sources_parse(const char *text, int is_deb822, const char *suite, char ***lines);
