/* gapbox: builds, checks, inspects and writes bootable images of the air-gap admin server. A
 * dispatcher: each command parses its options and hands them to the code that runs it. */
#include <locale.h>
#include <string.h>

#include "build.h"
#include "helper.h"
#include "inspect.h"
#include "log.h"
#include "manifestsig.h"
#include "netboot.h"
#include "strv.h"
#include "options.h"
#include "fsutil.h"
#include "payload/payload.h"
#include "smoke.h"
#include "write.h"

static int cmd_build(int argc, char **argv)
{
	struct build_options o;
	int r = build_options_parse(argc, argv, &o);

	if (r != 0)
		return r - 1;
	interrupt_setup();
	r = build_run(&o);
	build_options_done(&o);
	return r == -EINTR ? 130 : r < 0 ? 1 : 0;
}

static int cmd_check_outputs(int argc, char **argv)
{
	struct check_options o;
	struct payload_verdict v;
	int r = check_options_parse(argc, argv, &o);

	if (r != 0)
		return r - 1;
	interrupt_setup();
	struct payload_input in = { .dir = o.dir, .arch = o.arch, .registries = o.registries, .strict = o.strict,
				    .caps = o.caps };
	_cleanup_(payload_record_done) struct payload_record rec = { 0 };
	_cleanup_free_ char *text = NULL;
	bool written = true;
	r = payload_check(&in, true, stdout, &v, o.record ? &rec : NULL);
	if (r >= 0 && v.versions && v.versions[0]) {
		printf("versions (from files/):");
		for (char **c = v.versions; c[0] && c[1]; c += 2)
			printf(" %s %s%s", c[0], c[1], c[2] ? "," : "\n");
	}
	if (r >= 0 && o.record) {
		int w = payload_record_format(&rec, &text);

		if (w >= 0)
			w = write_file_atomic(o.record, text, strlen(text), 0644);
		if (w < 0)
			written = log_error_errno(w, "cannot write %s: %m", o.record) >= 0;
	}
	if (r >= 0)
		printf("%s (%s): %zu errors, %zu warnings, %zu notes%s\n", o.dir, o.arch, v.errors, v.warnings, v.notes,
		       o.strict && v.warnings ? " (warnings count as errors: --strict)" : "");
	check_options_done(&o);
	if (r >= 0)
		strv_free(v.versions);
	return r < 0 || v.failed || !written ? 1 : 0;
}

/* gapbox check-config FILE: the site configuration checked as a build would check it (or, with
 * --machine, as the machine reads it), what it sets that is secret, and what only the machine can
 * check. Exit 0 valid, 1 not, 2 usage. */
static int cmd_check_config(int argc, char **argv)
{
	_cleanup_(site_config_done) struct site_config s = { 0 };
	struct check_config_options o;
	_cleanup_free_ char *err = NULL;
	int r = check_config_options_parse(argc, argv, &o);

	if (r != 0)
		return r - 1;
	r = site_config_load(o.path, o.use, &s, &err);
	if (r < 0) {
		if (err)
			log_error("%s", err);
		else
			log_error_errno(r, "cannot check %s: %m", o.path);
		return 1;
	}
	printf("%s: valid %s; sha256 %s\n", s.path,
	       o.use == APPLIANCE_IN_IMAGE ? "to bake into an image (gapbox build --config)"
					   : "for the machine (the data partition's etc/gapbox/appliance.yaml)",
	       s.sha256);
	for (char **k = s.secrets; *k; k++)
		printf("%s: sets %s, a secret: the file is root's alone (mode 0600)\n", s.path, *k);
	for (char **m = s.machine_checks; *m; m++)
		printf("%s\n", *m);
	return 0;
}

static int inspect_or_verify(int argc, char **argv, bool verify)
{
	struct inspect_options o;
	struct signing_key *key = NULL;
	_cleanup_free_ char *error = NULL;
	int r = inspect_options_parse(argc, argv, verify, &o);

	if (r != 0)
		return r - 1;
	if (o.key && (r = signing_key_load_public(o.key, &key, &error)) < 0) {
		log_error("%s", error ? error : strerror(-r));
		return 2;
	}
	r = image_inspect(o.image, key, o.json, stdout);
	signing_key_free(key);
	if (verify && !o.json)
		printf("%s: %s\n", o.image, r >= 0 ? (o.key ? "verified: signature and every artifact" : "every artifact verified (no key given: the signature was not checked)") : "NOT VERIFIED");
	return r < 0 ? 1 : 0;
}

static int cmd_inspect(int argc, char **argv)
{
	return inspect_or_verify(argc, argv, false);
}

static int cmd_verify(int argc, char **argv)
{
	return inspect_or_verify(argc, argv, true);
}

static int cmd_netboot(int argc, char **argv)
{
	struct netboot_options o;
	int r = netboot_options_parse(argc, argv, &o);

	if (r != 0)
		return r - 1;
	interrupt_setup();
	r = netboot_run(&o);
	return r == -EINTR ? 130 : r < 0 ? 1 : 0;
}

static int cmd_smoke(int argc, char **argv)
{
	struct smoke_options o;
	int r = smoke_options_parse(argc, argv, &o);

	if (r != 0)
		return r - 1;
	interrupt_setup();
	r = smoke_run(&o);
	smoke_options_done(&o);
	return r == -EINTR ? 130 : r < 0 ? 2 : r;
}

static int cmd_write(int argc, char **argv)
{
	struct write_options o;
	int r = write_options_parse(argc, argv, &o);

	if (r != 0)
		return r - 1;
	interrupt_setup();
	r = write_run(&o);
	return r == -EINTR ? 130 : r < 0 ? 1 : 0;
}

static int cmd_version(int argc, char **argv)
{
	if (argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
		command_usage(stdout, "version");
		return 0;
	}
	if (argc > 1) {
		log_error("version takes no operand or option but --help");
		command_usage(stderr, "version");
		return 2;
	}
	printf("gapbox %s\n", GB_VERSION);
	return 0;
}

/* gapbox help [COMMAND]. */
static int cmd_help(int argc, char **argv)
{
	(void)argv;
	if (argc > 2) {
		usage(stderr);
		return 2;
	}
	if (argc == 2 && command_usage(stdout, argv[1]) < 0) {
		log_error("unknown command '%s'", argv[1]);
		usage(stderr);
		return 2;
	}
	if (argc < 2)
		usage(stdout);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "build", cmd_build },       { "check-outputs", cmd_check_outputs },
	{ "check-config", cmd_check_config },
	{ "inspect", cmd_inspect },   { "write", cmd_write },
	{ "netboot", cmd_netboot },   { "verify", cmd_verify },
	{ "smoke", cmd_smoke },
	{ "version", cmd_version },   { "--version", cmd_version },
	{ "help", cmd_help },         { "--help", cmd_help },
	{ "-h", cmd_help },
};

int main(int argc, char **argv)
{
	gb_log_set_ident("gapbox");
	/* Archive member names are UTF-8; libarchive converts through the locale's charset. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (streq(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	log_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return 2;
}
