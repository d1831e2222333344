/* Unit tests of the site configuration checked on the build host: the one entry point both sides
 * use (fb_config_check_data), the private keys an image may not carry (refused at the key's
 * LINE:COLUMN, allowed on the machine), that the builder's check says exactly what first boot's
 * says, what gapbox build reads and records (site_config_load: the bytes, their sha256, the mode,
 * the secrets, what only the machine checks) and the manifest's "site_config". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../builder/build.h"
#include "../../builder/manifest.h"
#include "../../builder/siteconfig.h"
#include "../../firstboot/configcheck.h"
#include "fsutil.h"
#include "macros.h"
#include "sha256.h"
#include "strv.h"

static char tmp_dir[] = "/tmp/gapbox-test-siteconfig-XXXXXX";
static char tmp_yaml[sizeof(tmp_dir) + 16];

static const char host_key[] = "access:\n"
			       "  ssh_host_keys:\n"
			       "    - |\n"
			       "      -----BEGIN OPENSSH PRIVATE KEY-----\n"
			       "      b3BlbnNzaC1rZXktdjEAAAAA\n"
			       "      -----END OPENSSH PRIVATE KEY-----\n";
static const char site_ca[] = "registry:\n"
			      "  tls: true\n"
			      "  tls_ca_cert: |\n"
			      "    -----BEGIN CERTIFICATE-----\n"
			      "    MIIB\n"
			      "    -----END CERTIFICATE-----\n"
			      "  tls_ca_key: |\n"
			      "    -----BEGIN PRIVATE KEY-----\n"
			      "    Zm9vYmFy-secret\n"
			      "    -----END PRIVATE KEY-----\n";
static const char hash[] = "$y$j9T$abcdefghijklmnop$abcdefghijklmnopqrstuvwxyz0123456789ABCDEF";

static const char *inline_config(const char *text)
{
	FILE *f = fopen(tmp_yaml, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return tmp_yaml;
}

/* TEXT checked for USE: accepted. */
static void expect_ok(const char *text, enum appliance_use use)
{
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	_cleanup_free_ char *err = NULL;
	int r = fb_config_check_data("site.yaml", text, strlen(text), use, &a, &err);

	if (r < 0)
		fail_msg("unexpected error %d: %s", r, err ? err : "(none)");
	assert_non_null(a);
}

/* TEXT checked for USE: refused with exactly "site.yaml:" + SUFFIX. */
static void expect_refused(const char *text, enum appliance_use use, const char *suffix)
{
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	_cleanup_free_ char *err = NULL, *want = NULL;

	assert_int_equal(fb_config_check_data("site.yaml", text, strlen(text), use, &a, &err), -EINVAL);
	assert_null(a);
	assert_true(asprintf(&want, "site.yaml:%s", suffix) > 0);
	if (!err || !streq(err, want))
		fail_msg("message differs\n got: %s\nwant: %s", err ? err : "(none)", want);
}

/* The shared entry point runs every check first boot runs on a file: the loader's (syntax, keys,
 * types, values), those across keys (nodes in the subnet) and the ports against the services'. */
static void test_check_data(void **state)
{
	(void)state;
	expect_ok("", APPLIANCE_IN_IMAGE);
	expect_ok("domain: site.lan\nnodes:\n  - name: n1\n    address: 192.168.10.11\n", APPLIANCE_IN_IMAGE);
	expect_refused("network:\n  address: [1\n", APPLIANCE_IN_IMAGE,
		       "3:1: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 12)");
	expect_refused("http:\n  port: \"80\"\n", APPLIANCE_IN_IMAGE,
		       "2:9: http.port: expected an unsigned integer from 0 to 65535, got '80' (quoted, so a string: "
		       "remove the quotes)");
	expect_refused("network:\n  address: 192.168.10.300/24\n", APPLIANCE_IN_IMAGE,
		       "2:12: network.address: expected an IPv4 address with its prefix length, like 192.168.10.10/24, "
		       "got '192.168.10.300/24'");
	expect_refused("network:\n  adress: 10.0.0.1/8\n", APPLIANCE_IN_IMAGE,
		       "2:3: unknown key 'adress' in 'network', did you mean 'address'? (expected one of: address, "
		       "internal, external, nat)");
	/* Across keys (appliance_validate) ... */
	expect_refused("nodes:\n  - name: n1\n    address: 10.9.9.9\n", APPLIANCE_IN_IMAGE,
		       "3:14: nodes[0].address: 10.9.9.9 is outside the internal subnet 192.168.10.0/24 (the admin is "
		       "192.168.10.10/24)");
	/* ... and the ports against the services' and the admin's own (fb_check_ports). */
	expect_refused("http:\n  port: 22\n", APPLIANCE_IN_IMAGE,
		       "2:9: http.port: expected a port that nothing else on the admin listens on, got 22, which is "
		       "sshd's (SSH)");
	expect_refused("http:\n  port: 8080\nregistry:\n  port: 8080\n", APPLIANCE_ON_MACHINE,
		       "2:9: http.port: expected a port that nothing else on the admin listens on, got 8080, which is "
		       "nginx's (registry.port)");
}

/* Private key material: refused in an image at its key, whatever else the file holds; the same
 * file is fine on the machine. Hashes and empty lists are no key material. */
static void test_private_keys(void **state)
{
	_cleanup_free_ char *with_bad_address = NULL;

	(void)state;
	expect_refused(host_key, APPLIANCE_IN_IMAGE,
		       "2:3: access.ssh_host_keys: private key material cannot be baked into an image (every copy of "
		       "the image would carry it); expected it only in the configuration on the data partition, "
		       "GAPBOX-DATA's etc/gapbox/appliance.yaml, which the admin reads whole instead of the baked one");
	expect_ok(host_key, APPLIANCE_ON_MACHINE);
	expect_refused(site_ca, APPLIANCE_IN_IMAGE,
		       "7:3: registry.tls_ca_key: private key material cannot be baked into an image (every copy of "
		       "the image would carry it); expected it only in the configuration on the data partition, "
		       "GAPBOX-DATA's etc/gapbox/appliance.yaml, which the admin reads whole instead of the baked one");
	expect_ok(site_ca, APPLIANCE_ON_MACHINE);
	/* Refused before the values around it are looked at: the key is the first thing to fix. */
	assert_true(asprintf(&with_bad_address, "network:\n  address: 300.1.1.1/24\n%s", host_key) > 0);
	expect_refused(with_bad_address, APPLIANCE_IN_IMAGE,
		       "4:3: access.ssh_host_keys: private key material cannot be baked into an image (every copy of "
		       "the image would carry it); expected it only in the configuration on the data partition, "
		       "GAPBOX-DATA's etc/gapbox/appliance.yaml, which the admin reads whole instead of the baked one");
	expect_ok("access:\n  ssh_host_keys: []\n", APPLIANCE_IN_IMAGE);
	/* An empty value is no key: what is wrong with it is said as on the machine. */
	expect_refused("access:\n  ssh_host_keys:\n", APPLIANCE_IN_IMAGE,
		       "2:17: access.ssh_host_keys: expected a list of strings, got an empty value (write [] for an "
		       "empty list)");
	expect_ok("registry:\n  push_users: [\"ci:$2y$05$abcdefghijklmnopqrstuv1234567890ABCDEFGHIJKLMNOPQRSTu\"]\n",
		  APPLIANCE_IN_IMAGE);
	{
		_cleanup_free_ char *text = NULL;

		assert_true(asprintf(&text, "access:\n  root_password_hash: \"%s\"\n", hash) > 0);
		expect_ok(text, APPLIANCE_IN_IMAGE);
	}
}

/* The builder's check says, byte for byte, what first boot's says of the same file (first boot
 * loads it with appliance_load, then fb_config_check, as configure.c's load_candidate does). */
static void test_same_as_firstboot(void **state)
{
	static const char *const cases[] = {
		"network:\n  address: 192.168.10.0/24\n",
		"network:\n  internal: none\n",
		"domain: lan\n",
		"dns:\n  forwarders: [dns.example.com]\n",
		"registry:\n  push_users: [\"ci:plain-password\"]\n",
		"access:\n  root_password_hash: Corr3ct-Horse\n",
		"nodes:\n  - name: a\n    address: 192.168.10.11\n  - name: a\n    address: 192.168.10.12\n",
		"registry:\n  port: 53\n",
		"network: [\n",
		"a: 1\n---\nb: 2\n",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_(site_config_done) struct site_config s = { 0 };
		_cleanup_(appliance_freep) struct appliance *a = NULL;
		_cleanup_free_ char *build_err = NULL, *boot_err = NULL;
		const char *path = inline_config(cases[i]);
		int r;

		assert_int_equal(site_config_load(path, APPLIANCE_ON_MACHINE, &s, &build_err), -EINVAL);
		r = appliance_load(path, &a, NULL, &boot_err);
		if (r >= 0)
			r = fb_config_check(a, &boot_err);
		assert_int_equal(r, -EINVAL);
		assert_non_null(build_err);
		assert_non_null(boot_err);
		if (!streq(build_err, boot_err))
			fail_msg("case %zu: the build says\n  %s\nfirst boot says\n  %s", i, build_err, boot_err);
	}
}

static void sha256_text(const char *text, char hex[SHA256_HEX_LEN + 1])
{
	struct gb_sha256 *h = gb_sha256_new();

	assert_non_null(h);
	gb_sha256_update(h, text, strlen(text));
	gb_sha256_final_hex(h, hex);
}

/* What a build takes from the file: the bytes, their hash, the mode, the secrets, the notes. */
static void test_load(void **state)
{
	_cleanup_free_ char *text = NULL, *err = NULL;
	struct site_config s = { 0 };
	char want[SHA256_HEX_LEN + 1];

	(void)state;
	assert_true(asprintf(&text,
			     "network:\n  internal: 52:54:00:12:34:56\n  external: eth0\n  nat: true\n"
			     "access:\n  root_password_hash: \"%s\"\n",
			     hash) > 0);
	assert_int_equal(site_config_load(inline_config(text), APPLIANCE_IN_IMAGE, &s, &err), 0);
	assert_null(err);
	assert_string_equal(s.path, tmp_yaml);
	assert_int_equal(s.size, strlen(text));
	assert_memory_equal(s.text, text, s.size);
	sha256_text(text, want);
	assert_string_equal(s.sha256, want);
	assert_int_equal(s.mode, 0600);
	assert_int_equal(strv_length(s.secrets), 1);
	assert_string_equal(s.secrets[0], "access.root_password_hash");
	assert_int_equal(strv_length(s.machine_checks), 3);
	{
		_cleanup_free_ char *l0 = NULL, *l1 = NULL, *l2 = NULL;

		assert_true(asprintf(&l0, "%s:2:13: network.internal: '52:54:00:12:34:56': whether the machine has a NIC "
				     "with that MAC address is checked there, at first boot", tmp_yaml) > 0);
		assert_true(asprintf(&l1, "%s:3:13: network.external: 'eth0': whether the machine has a NIC of that name "
				     "is checked there, at first boot", tmp_yaml) > 0);
		assert_true(asprintf(&l2, "%s:4:8: network.nat: true needs an external NIC, which first boot looks for on "
				     "the machine (without one, NAT stays off and the status says why)", tmp_yaml) > 0);
		assert_string_equal(s.machine_checks[0], l0);
		assert_string_equal(s.machine_checks[1], l1);
		assert_string_equal(s.machine_checks[2], l2);
	}
	site_config_done(&s);

	/* No secret: 0644; auto and none need no machine to check; the shipped file is a valid one. */
	assert_int_equal(site_config_load(inline_config("network:\n  internal: auto\n  external: none\n  nat: false\n"),
					  APPLIANCE_IN_IMAGE, &s, &err), 0);
	assert_int_equal(s.mode, 0644);
	assert_null(s.secrets[0]);
	assert_null(s.machine_checks[0]);
	site_config_done(&s);
	assert_int_equal(site_config_load("overlay/etc/gapbox/appliance.yaml", APPLIANCE_IN_IMAGE, &s, &err), 0);
	assert_int_equal(s.mode, 0644);
	site_config_done(&s);

	/* A file that cannot be read, or is not a file. */
	assert_int_equal(site_config_load("/nonexistent/site.yaml", APPLIANCE_IN_IMAGE, &s, &err), -ENOENT);
	assert_string_equal(err, "cannot open /nonexistent/site.yaml: No such file or directory");
	free(err);
	err = NULL;
	assert_int_equal(site_config_load(tmp_dir, APPLIANCE_IN_IMAGE, &s, &err), -EISDIR);
	assert_non_null(strstr(err, "is a directory, expected a YAML file"));
}

/* First boot's loader tells which bytes it loaded: their sha256. */
static void test_source_sha256(void **state)
{
	static const char text[] = "domain: site.lan\n";
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	struct appliance_source source;
	char want[SHA256_HEX_LEN + 1];

	(void)state;
	assert_int_equal(appliance_load(inline_config(text), &a, &source, NULL), 0);
	assert_false(source.missing);
	sha256_text(text, want);
	assert_string_equal(source.sha256, want);
}

/* The manifest records the site configuration by hash, never by content, and only when there is one. */
static void test_manifest(void **state)
{
	_cleanup_free_ char *with = NULL, *without = NULL, *err = NULL, *site_json = NULL, *text = NULL;
	struct profile *p = NULL;
	struct build b = { 0 };
	struct rootfs rootfs = { .key = (char *)"k" };
	struct kernel kernel = { .kver = (char *)"6.1.0-test" };
	struct site_config none = { 0 }, s = { 0 };
	struct system_image system = { .build_id = "0123456789abcdef" };
	json_t *m;

	(void)state;
	assert_int_equal(profile_load("profiles/debian12-amd64.yaml", &p, &err), 0);
	b.profile = p;
	b.medium_label = "GAPBOX";
	assert_true(asprintf(&text, "access:\n  root_password_hash: \"%s\"\n", hash) > 0);
	assert_int_equal(site_config_load(inline_config(text), APPLIANCE_IN_IMAGE, &s, &err), 0);

	assert_int_equal(manifest_render(&b, &rootfs, &kernel, &system, &none, &without), 0);
	m = json_loads(without, 0, NULL);
	assert_non_null(m);
	assert_null(json_object_get(m, "site_config"));
	json_decref(m);

	assert_int_equal(manifest_render(&b, &rootfs, &kernel, &system, &s, &with), 0);
	assert_null(strstr(with, hash));
	m = json_loads(with, 0, NULL);
	assert_non_null(m);
	site_json = json_dumps(json_object_get(m, "site_config"), JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_decref(m);
	{
		_cleanup_free_ char *want = NULL;

		assert_true(asprintf(&want,
				     "{\"path\":\"/etc/gapbox/appliance.yaml\",\"sha256\":\"%s\",\"size\":%zu,"
				     "\"mode\":\"0600\",\"secrets\":[\"access.root_password_hash\"]}",
				     s.sha256, s.size) > 0);
		assert_string_equal(site_json, want);
	}
	site_config_done(&s);
	profile_free(p);
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(tmp_yaml, sizeof(tmp_yaml), "%s/site.yaml", tmp_dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(tmp_yaml);
	rmdir(tmp_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_data),
		cmocka_unit_test(test_private_keys),
		cmocka_unit_test(test_same_as_firstboot),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_source_sha256),
		cmocka_unit_test(test_manifest),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
