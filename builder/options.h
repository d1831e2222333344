/* gapbox's command lines: the usage text and the options of each command, parsed into what
 * the command runs on. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "build.h"
#include "netboot.h"
#include "siteconfig.h"
#include "write.h"

/* Every command's usage; one command's (-ENOENT: no such command). */
void usage(FILE *f);
int command_usage(FILE *f, const char *command);

/* The return value of a parser: 0 go on; otherwise stop and exit with (value - 1): 1 for
 * --help (exit 0), 3 for a usage error (exit 2, reported). */
#define OPTIONS_EXIT(code) ((code) + 1)

/* gapbox build PROFILE [options]. */
int build_options_parse(int argc, char **argv, struct build_options *ret);

struct check_options {
	const char *dir;
	const char *arch;
	char **registries;
	bool strict;
	const char *record;  /* where to write the payload record a build would carry, or NULL */
	struct unpack_caps caps;
};
/* gapbox check-outputs DIR [options]. */
int check_options_parse(int argc, char **argv, struct check_options *ret);
void check_options_done(struct check_options *o);

struct check_config_options {
	const char *path;
	enum appliance_use use; /* APPLIANCE_IN_IMAGE, or APPLIANCE_ON_MACHINE with --machine */
};
/* gapbox check-config FILE [--machine]. */
int check_config_options_parse(int argc, char **argv, struct check_config_options *ret);
struct inspect_options {
	const char *image;     /* an image file, or a device written with one */
	const char *key;       /* the public key the manifest must be signed by, or NULL */
	bool json;             /* --json: the result as one JSON object */
};
/* gapbox inspect IMAGE [--verify PUBKEY] [--json] and gapbox verify IMAGE|DEVICE [--key PUBKEY] [--json]
 * (VERIFY). */
int inspect_options_parse(int argc, char **argv, bool verify, struct inspect_options *ret);
/* gapbox write IMAGE DEVICE [options]. */
int write_options_parse(int argc, char **argv, struct write_options *ret);
/* gapbox netboot IMAGE DIR --url URL [--force]. */
int netboot_options_parse(int argc, char **argv, struct netboot_options *ret);
/* gapbox smoke IMAGE [--arch A] [--firmware F] [--medium M] [--timeout S] [--logs DIR] [--junit FILE]
 * [--push-creds USER:PASSWORD] [--cache DIR]. */
struct smoke_options;
int smoke_options_parse(int argc, char **argv, struct smoke_options *ret);
void smoke_options_done(struct smoke_options *o);
