/* Unit tests of gapbox smoke's reading of qemu/site (builder/smoke.c): the node's and the admin's
 * check lines, the host's look at the external NIC, checks the node never reached, qemu/site's
 * own failure outside the checks, and the JUnit XML report (parsed back here by nothing but
 * string checks: well-formedness is what a CI's parser needs, so every special character is
 * escaped and control characters are dropped). The lines are of the shape qemu/site prints. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../builder/smoke.h"

static const struct smoke_result *find(const struct smoke_report *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->results[i].name, name) == 0)
			return &r->results[i];
	return NULL;
}

static void expect(const struct smoke_report *r, const char *name, enum smoke_status status, const char *detail)
{
	const struct smoke_result *c = find(r, name);

	assert_non_null(c);
	assert_int_equal(c->status, status);
	if (detail)
		assert_string_equal(c->detail, detail);
}

static void test_good_run(void **state)
{
	(void)state;
	const char *out =
		"qemu/site: amd64 admin: booting; the node waits for its own verdict (--admin-ready node)\n"
		"qemu/site: amd64 admin: external NIC: SSH answers (SSH-2.0-OpenSSH_9.2p1), HTTP and the registry do not\n"
		"qemu/site: node check: ok admin: healthy (status.json)\n"
		"qemu/site: node check: ok setup: node-setup.sh ran: gapbox-node: done\n"
		"qemu/site: node check: ok dns: admin, registry, node1 and its PTR resolve, answered by 10.0.0.1\n"
		"qemu/site: node check: ok route: default via 10.0.0.1 dev enp0s1\n"
		"qemu/site: node check: ok ntp: chrony selected 10.0.0.1: ^* 10.0.0.1\n"
		"qemu/site: node check: ok pip: downloaded and verified: a.whl\n"
		"qemu/site: node check: ok files: 24 files over HTTP\n"
		"qemu/site: node check: ok repo: apt update and download from the admin\n"
		"qemu/site: node check: ok pull: 10 images by upstream name\n"
		"qemu/site: node check: skip push: no registry push credentials given\n"
		"qemu/site: amd64 node: all checks passed 70s after power-on: GAPBOX-NODE-TEST: PASS checks=9\n";
	struct smoke_report r = { 0 };

	assert_int_equal(smoke_report_parse(out, 0, &r), 0);
	/* Every check in its order, none added. */
	assert_int_equal(r.n, 12);
	assert_string_equal(r.results[0].name, "admin");
	assert_string_equal(r.results[11].name, "site");
	expect(&r, "dns", SMOKE_OK, "admin, registry, node1 and its PTR resolve, answered by 10.0.0.1");
	expect(&r, "push", SMOKE_SKIP, "no registry push credentials given");
	expect(&r, "external", SMOKE_OK, "SSH answers (SSH-2.0-OpenSSH_9.2p1), HTTP and the registry do not");
	expect(&r, "site", SMOKE_OK, NULL);
	assert_null(r.site_error);

	char *xml = NULL;
	assert_int_equal(smoke_junit(&r, "gapbox smoke site (amd64, uefi, cd)", 70.25, out, &xml), 0);
	assert_non_null(strstr(xml, "<testsuites name=\"gapbox smoke\" tests=\"12\" failures=\"0\" errors=\"0\" skipped=\"1\" time=\"70.2\">"));
	assert_non_null(strstr(xml, "<testcase classname=\"gapbox.smoke\" name=\"pull\"/>"));
	assert_non_null(strstr(xml, "<skipped message=\"no registry push credentials given\"/>"));
	assert_non_null(strstr(xml, "<system-out>qemu/site: amd64 admin: booting;"));
	free(xml);
	smoke_report_done(&r);
}

static void test_failed_run(void **state)
{
	(void)state;
	/* The node stopped after its setup failed; the admin's test overlay and the external look
	 * both reported a failure; an unknown status word and a line with no name are not checks. */
	const char *out =
		"qemu/site: node check: FAIL admin: NOT HEALTHY: registry: not running or not answering\n"
		"qemu/site: node check: FAIL setup: cannot fetch http://10.0.0.1/gapbox/node-setup.sh: <refused> & \"gone\"\n"
		"qemu/site: node check: maybe pull: what\n"
		"qemu/site: node check: ok : no name\n"
		"qemu/site: admin check: FAIL external: HTTP answers on the external NIC\n"
		"qemu/site: admin check: FAIL medium-ejected: still reads the CD\n"
		"qemu/site: amd64 node: checks FAILED: admin,setup (40s after power-on)\n";
	struct smoke_report r = { 0 };

	assert_int_equal(smoke_report_parse(out, 1, &r), 0);
	assert_int_equal(r.n, 13);
	expect(&r, "admin", SMOKE_FAIL, "NOT HEALTHY: registry: not running or not answering");
	expect(&r, "setup", SMOKE_FAIL, NULL);
	expect(&r, "pull", SMOKE_NOT_RUN, NULL);
	expect(&r, "external", SMOKE_FAIL, "HTTP answers on the external NIC");
	expect(&r, "admin-medium-ejected", SMOKE_FAIL, "still reads the CD");
	/* The node gave its verdict: the site ran, its checks failed. */
	expect(&r, "site", SMOKE_OK, "the admin and the node booted, and the node gave its verdict");
	assert_null(r.site_error);

	char *xml = NULL;
	assert_int_equal(smoke_junit(&r, "<site> & \"co\"", 40, "a\x01" "b<c>\n", &xml), 0);
	/* Failures: 4 failed, and the 8 checks after setup never run. */
	assert_non_null(strstr(xml, "tests=\"13\" failures=\"12\" errors=\"0\" skipped=\"0\""));
	assert_non_null(strstr(xml, "<testsuite name=\"&lt;site&gt; &amp; &quot;co&quot;\""));
	assert_non_null(strstr(xml, "<failure message=\"cannot fetch http://10.0.0.1/gapbox/node-setup.sh: &lt;refused&gt; &amp; &quot;gone&quot;\" type=\"check\"/>"));
	assert_non_null(strstr(xml, "name=\"pull\">\n      <failure message=\"not run: the node stopped before this check (see node-console.log)\""));
	assert_non_null(strstr(xml, "<system-out>ab&lt;c&gt;\n</system-out>"));
	free(xml);
	smoke_report_done(&r);
}

static void test_site_failed_before_checks(void **state)
{
	(void)state;
	/* The admin never came up: qemu/site's last three lines of its own are the reason. */
	const char *out = "qemu/site: amd64 admin: booting; the node waits for its own verdict (--admin-ready node)\n"
			  "qemu/site: one\nqemu/site: two\n"
			  "qemu/site: amd64 node: the node checks' verdict: timed out after 900s\n"
			  "something else entirely\n";
	struct smoke_report r = { 0 };

	assert_int_equal(smoke_report_parse(out, 2, &r), 0);
	assert_string_equal(r.site_error, "one; two; amd64 node: the node checks' verdict: timed out after 900s");
	for (size_t i = 0; i + 1 < r.n; i++)
		assert_int_equal(r.results[i].status, SMOKE_NOT_RUN);
	smoke_report_done(&r);

	/* Nothing at all. */
	assert_int_equal(smoke_report_parse("", 1, &r), 0);
	assert_string_equal(r.site_error, "qemu/site exited 1 and said nothing");
	smoke_report_done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_run),
		cmocka_unit_test(test_failed_run),
		cmocka_unit_test(test_site_failed_before_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
