/* gapbox smoke: a site's image booted under QEMU with the test node beside it, for the site's
 * own CI. The node (profiles/test-node-ARCH.yaml, built here and cached) runs the admin's
 * node-setup.sh and the site checks; their verdicts come back as a list, a JUnit XML report and
 * the exit status. The image needs nothing added for it: the node waits for the admin's own
 * verdict (status.json) and reads the site (addresses, domain, a node) from the image's baked
 * configuration. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct smoke_options {
	const char *image;
	const char *arch;      /* NULL: the image's */
	const char *firmware;  /* "bios" or "uefi" */
	const char *medium;    /* "cd", "usb" or "disk" */
	unsigned timeout;      /* seconds from the admin's power-on to the node's last check */
	const char *logs;      /* NULL: a new folder under TMPDIR */
	const char *junit;     /* NULL: LOGS/junit.xml */
	const char *push_creds; /* USER:PASSWORD of a registry.push_users entry, NULL: push skipped */
	char *cache_dir;
};

#define SMOKE_TIMEOUT_DEFAULT 1800
#define SMOKE_TIMEOUT_MIN 120

/* 0: every check passed; 1: a check failed or the site did not come up (each named, on stdout
 * and in the report); negative errno: it could not be run (said why). */
int smoke_run(const struct smoke_options *o);

/* What the site reported, read from qemu/site's output: one result per check, in the order of
 * smoke_checks, then any other it named. */
enum smoke_status { SMOKE_NOT_RUN, SMOKE_OK, SMOKE_FAIL, SMOKE_SKIP };
struct smoke_result {
	char *name;
	enum smoke_status status;
	char *detail;
};
struct smoke_report {
	struct smoke_result *results;
	size_t n;
	char *site_error;      /* qemu/site's own last words when it failed outside a check, or NULL */
};
void smoke_report_done(struct smoke_report *r);
/* Parse qemu/site's output TEXT (exit status SITE_STATUS). */
int smoke_report_parse(const char *text, int site_status, struct smoke_report *ret);
/* The JUnit XML of a report: one testsuite NAME, a testcase per check, LOG as its system-out. */
int smoke_junit(const struct smoke_report *r, const char *name, double seconds, const char *log, char **ret);
