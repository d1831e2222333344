/* Unit tests of gapbox-firstboot's inputs: the appliance configuration (values, defaults, the
 * exact FILE:LINE:COLUMN message for each mistake, kernel-parameter overrides, whole-config
 * checks), IPv4 and reverse-zone arithmetic, NIC roles, image names, and root's shadow entry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../firstboot/access.h"
#include "../../firstboot/appliance.h"
#include "imagelist.h"
#include "../../firstboot/netaddr.h"
#include "../../firstboot/nics.h"
#include "../../firstboot/service.h"
#include "fsutil.h"
#include "macros.h"

static char tmp_dir[PATH_MAX];
static char tmp_yaml[PATH_MAX + 16];

static const char *inline_config(const char *text)
{
	FILE *f = fopen(tmp_yaml, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return tmp_yaml;
}

static struct appliance *load_ok(const char *text)
{
	_cleanup_free_ char *err = NULL;
	struct appliance *a = NULL;
	int r = appliance_load(inline_config(text), &a, NULL, &err);

	if (r < 0)
		fail_msg("unexpected error %d: %s", r, err ? err : "(none)");
	assert_non_null(a);
	return a;
}

/* TEXT is rejected with exactly "PATH:" + SUFFIX. */
static void expect_error(const char *text, const char *suffix)
{
	_cleanup_free_ char *err = NULL, *want = NULL;
	struct appliance *a = NULL;

	assert_int_equal(appliance_load(inline_config(text), &a, NULL, &err), -EINVAL);
	assert_null(a);
	assert_non_null(err);
	assert_true(asprintf(&want, "%s:%s", tmp_yaml, suffix) > 0);
	if (!streq(err, want))
		fail_msg("message differs\n got: %s\nwant: %s", err, want);
}

/* TEXT loads but fails the whole-configuration checks with "PATH:" + SUFFIX. */
static void expect_invalid(const char *text, const char *suffix)
{
	_cleanup_free_ char *err = NULL, *want = NULL;
	struct appliance *a = load_ok(text);

	assert_int_equal(appliance_validate(a, &err), -EINVAL);
	assert_true(asprintf(&want, "%s:%s", tmp_yaml, suffix) > 0);
	if (!err || !streq(err, want))
		fail_msg("message differs\n got: %s\nwant: %s", err ? err : "(none)", want);
	appliance_free(a);
}

static const char *addr(struct in_addr a)
{
	static char buf[INET_ADDRSTRLEN];

	ipv4_format(a, buf);
	return buf;
}

static void test_defaults(void **state)
{
	struct appliance_source source = { .sha256 = "x" };
	struct appliance *a = NULL;

	(void)state;
	assert_int_equal(appliance_load("/nonexistent/appliance.yaml", &a, &source, NULL), 0);
	assert_true(source.missing);
	assert_string_equal(source.sha256, "");
	assert_string_equal(addr(a->address), "192.168.10.10");
	assert_int_equal(a->prefix, 24);
	assert_string_equal(a->internal, "auto");
	assert_string_equal(a->external, "auto");
	assert_int_equal(a->nat, APPLIANCE_NAT_AUTO);
	assert_string_equal(a->domain, "gapbox.lan");
	assert_null(a->dns_forwarders[0]);
	assert_null(a->ntp_servers[0]);
	assert_int_equal(a->http_port, 80);
	assert_int_equal(a->registry_port, 35000);
	assert_int_equal(a->n_nodes, 0);
	assert_null(a->ssh_keys[0]);
	assert_null(a->root_password_hash);
	assert_int_equal(appliance_validate(a, NULL), 0);
	appliance_free(a);

	/* Empty, or only comments: the defaults too. */
	a = load_ok("# nothing here\n");
	assert_string_equal(a->domain, "gapbox.lan");
	appliance_free(a);
}

/* The shipped file spells out the built-in defaults. */
static void test_shipped_config_is_the_defaults(void **state)
{
	_cleanup_free_ char *err = NULL;
	struct appliance *a = NULL;

	(void)state;
	if (appliance_load("overlay/etc/gapbox/appliance.yaml", &a, NULL, &err) < 0)
		fail_msg("overlay/etc/gapbox/appliance.yaml: %s", err ? err : "cannot load");
	assert_string_equal(addr(a->address), "192.168.10.10");
	assert_int_equal(a->prefix, 24);
	assert_int_equal(a->nat, APPLIANCE_NAT_AUTO);
	assert_string_equal(a->domain, "gapbox.lan");
	assert_int_equal(a->registry_port, 35000);
	assert_int_equal(a->n_nodes, 0);
	appliance_free(a);
}

static void test_full(void **state)
{
	struct appliance *a;

	(void)state;
	a = load_ok("network:\n"
		    "  address: 10.20.0.5/16\n"
		    "  internal: ens4\n"
		    "  external: \"52:54:00:AA:bb:01\"\n"
		    "  nat: false\n"
		    "domain: site.example\n"
		    "dns: {forwarders: [192.0.2.53, \"2001:db8::53\"]}\n"
		    "ntp: {servers: [ntp.example.com]}\n"
		    "http: {port: 8080}\n"
		    "registry: {port: 5000, strip_registries: [registry.example.com:5000]}\n"
		    "nodes:\n"
		    "  - {name: cp1, address: 10.20.1.1, roles: [control-plane, etcd]}\n"
		    "  - {name: w1, address: 10.20.2.1}\n"
		    "access:\n"
		    "  ssh_authorized_keys: [\"from=\\\"10.0.0.0/8\\\" ssh-ed25519 AAAA k@h\"]\n"
		    "  root_password_hash: \"$6$salt$hash.hash/hash\"\n"
		    "  node_ssh_user: ansible_1\n");
	assert_string_equal(addr(a->address), "10.20.0.5");
	assert_string_equal(a->node_ssh_user, "ansible_1");
	assert_int_equal(a->prefix, 16);
	assert_string_equal(a->internal, "ens4");
	assert_string_equal(a->external, "52:54:00:AA:bb:01");
	assert_int_equal(a->nat, 0);
	assert_string_equal(a->dns_forwarders[1], "2001:db8::53");
	assert_string_equal(a->ntp_servers[0], "ntp.example.com");
	assert_int_equal(a->http_port, 8080);
	assert_int_equal(a->registry_port, 5000);
	assert_string_equal(a->registry_strip[0], "registry.example.com:5000");
	assert_int_equal(a->n_nodes, 2);
	assert_string_equal(a->nodes[0].name, "cp1");
	assert_int_equal(a->nodes[0].roles, NODE_CONTROL_PLANE | NODE_ETCD);
	/* Some node has roles: one without is a worker. */
	assert_int_equal(a->nodes[1].roles, NODE_WORKER);
	assert_non_null(strstr(a->nodes[1].where, ":13:"));
	assert_string_equal(a->root_password_hash, "$6$salt$hash.hash/hash");
	assert_int_equal(appliance_validate(a, NULL), 0);
	appliance_free(a);
}

static void test_default_roles(void **state)
{
	struct appliance *a;

	(void)state;
	a = load_ok("nodes:\n"
		    "  - {name: n1, address: 192.168.10.11}\n"
		    "  - {name: n2, address: 192.168.10.12}\n");
	assert_int_equal(a->nodes[0].roles, NODE_CONTROL_PLANE | NODE_ETCD | NODE_WORKER);
	assert_int_equal(a->nodes[1].roles, NODE_WORKER);
	appliance_free(a);
}

static void test_nat_spellings(void **state)
{
	struct appliance *a;

	(void)state;
	a = load_ok("network: {nat: auto}\n");
	assert_int_equal(a->nat, APPLIANCE_NAT_AUTO);
	appliance_free(a);
	a = load_ok("network: {nat: yes}\n");
	assert_int_equal(a->nat, 1);
	appliance_free(a);
	a = load_ok("network: {nat: off}\n");
	assert_int_equal(a->nat, 0);
	appliance_free(a);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("network:\n  nat: [true\ndomain: x\n",
		     "3:7: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 8)");
	expect_error("colour: blue\n",
		     "1:1: unknown key 'colour' in the appliance configuration (expected one of: network, domain, dns, "
		     "ntp, http, registry, nodes, access)");
	expect_error("network:\n  adress: 10.0.0.1/24\n",
		     "2:3: unknown key 'adress' in 'network', did you mean 'address'? (expected one of: address, "
		     "internal, external, nat)");
	expect_error("network:\n  address: 10.0.0.1\n",
		     "2:12: network.address: expected an IPv4 address with its prefix length, like 192.168.10.10/24, "
		     "got '10.0.0.1'");
	expect_error("network:\n  address: 10.0.0.1/31\n",
		     "2:12: network.address: expected a prefix length from /8 to /30, got '10.0.0.1/31'");
	expect_error("network:\n  address: 300.0.0.1/24\n",
		     "2:12: network.address: expected an IPv4 address with its prefix length, like 192.168.10.10/24, "
		     "got '300.0.0.1/24'");
	expect_error("network:\n  internal: none\n",
		     "2:13: network.internal: expected 'auto', an interface name or a MAC address (the internal "
		     "network cannot be 'none'), got 'none'");
	expect_error("network:\n  external: a/b\n",
		     "2:13: network.external: expected 'auto', 'none', an interface name (at most 15 characters) or "
		     "a MAC address, got 'a/b'");
	expect_error("network:\n  nat: sometimes\n", "2:8: network.nat: expected true, false or auto, got 'sometimes'");
	expect_error("domain: Gapbox.LAN\n",
		     "1:9: domain: expected a DNS domain of lowercase letters, digits and '-' in dot-separated labels, "
		     "like gapbox.lan (no trailing dot), got 'Gapbox.LAN'");
	expect_error("domain: site.123\n",
		     "1:9: domain: expected a DNS domain of lowercase letters, digits and '-' in dot-separated labels, "
		     "like gapbox.lan (no trailing dot), got 'site.123'");
	expect_error("dns:\n  forwarders: [8.8.8]\n", "2:16: dns.forwarders: expected an IPv4 or IPv6 address, got '8.8.8'");
	expect_error("ntp:\n  servers: pool.ntp.org\n",
		     "2:12: ntp.servers: expected a list of strings, got 'pool.ntp.org' (write it as [item, ...] or "
		     "as '- item' lines)");
	expect_error("http:\n  port: 0\n", "2:9: http.port: expected a port from 1 to 65535, got '0'");
	expect_error("http:\n  port: 70000\n",
		     "2:9: http.port: expected an unsigned integer from 0 to 65535, got '70000'");
	expect_error("registry:\n  strip_registries: [example]\n",
		     "2:22: registry.strip_registries: expected a registry host with a dot in it, like "
		     "registry.example.com or host:5000, got 'example'");
	expect_error("nodes: {name: a}\n",
		     "1:8: nodes: expected a list of nodes (name, address, roles), got a mapping");
	expect_error("nodes:\n  - name: admin\n    address: 192.168.10.2\n",
		     "2:11: nodes[0].name: expected a host name other than 'admin' and 'registry' (the admin server "
		     "has those), got 'admin'");
	expect_error("nodes:\n  - name: Node_1\n    address: 192.168.10.2\n",
		     "2:11: nodes[0].name: expected a host name of lowercase letters, digits and '-' (one DNS label, "
		     "at most 63 characters), got 'Node_1'");
	expect_error("nodes:\n  - name: n1\n    address: 192.168.10\n",
		     "3:14: nodes[0].address: expected an IPv4 address, got '192.168.10'");
	expect_error("nodes:\n  - name: n1\n", "2:5: missing required key 'nodes[0].address'");
	expect_error("nodes:\n  - {name: n1, address: 192.168.10.2, roles: [master]}\n",
		     "2:47: nodes[0].roles: unsupported value 'master' (expected one of: control-plane, etcd, worker)");
	expect_error("access:\n  ssh_authorized_keys: [\"AAAA only\"]\n",
		     "2:25: access.ssh_authorized_keys: expected an SSH public key line such as 'ssh-ed25519 AAAA... "
		     "user@host', got 'AAAA only'");
	expect_error("access:\n  node_ssh_user: \"root; reboot\"\n",
		     "2:18: access.node_ssh_user: expected a user name of a lowercase letter or _ then lowercase letters, "
		     "digits, _ and -, at most 32 (such as 'ansible'), got 'root; reboot'");
	expect_error("access:\n  node_ssh_user: -oProxyCommand=x\n",
		     "2:18: access.node_ssh_user: expected a user name of a lowercase letter or _ then lowercase letters, "
		     "digits, _ and -, at most 32 (such as 'ansible'), got '-oProxyCommand=x'");
}

/* A secret key's value is never quoted back, whatever is wrong with it. */
static void test_secret(void **state)
{
	_cleanup_free_ char *key = NULL;

	(void)state;
	expect_error("access:\n  root_password_hash: \"Corr3ct-Horse-Battery\"\n",
		     "2:23: access.root_password_hash: expected a crypt(3) hash such as `mkpasswd -m yescrypt` prints "
		     "('$y$...', '$6$...'), never a plain password, got a value (not shown)");
	expect_error("access:\n  root_password_hash: [Corr3ct, Horse]\n",
		     "2:23: access.root_password_hash: expected a string, got a list");
	expect_error("access:\n  root_password_hash: yes\n",
		     "2:23: access.root_password_hash: expected a string, got a value (not shown) (a boolean in YAML; "
		     "quote it to use it as a string)");
	/* The key next to it is not secret. */
	expect_error("access:\n  ssh_authorized_keys: [\"AAAA only\"]\n",
		     "2:25: access.ssh_authorized_keys: expected an SSH public key line such as 'ssh-ed25519 AAAA... "
		     "user@host', got 'AAAA only'");

	/* Whether a file sets a secret, valid or not. */
	assert_int_equal(appliance_secret_key(inline_config("access:\n  root_password_hash: plain\n"), &key), 1);
	assert_string_equal(key, "access.root_password_hash");
	free(key);
	key = NULL;
	assert_int_equal(appliance_secret_key(inline_config("domain: x\naccess:\n  root_password_hash: \"$6$s$h\"\n"), &key), 1);
	free(key);
	key = NULL;
	assert_int_equal(appliance_secret_key(inline_config("access:\n  root_password_hash:\n"), &key), 0);
	assert_null(key);
	assert_int_equal(appliance_secret_key(inline_config("access:\n  ssh_authorized_keys: [\"ssh-ed25519 AAAA\"]\n"), &key), 0);
	assert_int_equal(appliance_secret_key(inline_config("access: [\n"), &key), 0);
	assert_int_equal(appliance_secret_key("/nonexistent/appliance.yaml", &key), 0);
}

/* registry.tls and a supplied site CA: both halves or none, only with tls on; the key never shown. */
static void test_registry_tls(void **state)
{
	static const char cert[] = "    -----BEGIN CERTIFICATE-----\n    MIIB\n    -----END CERTIFICATE-----\n";
	static const char key[] = "    -----BEGIN PRIVATE KEY-----\n    Zm9vYmFy-secret\n    -----END PRIVATE KEY-----\n";
	_cleanup_free_ char *both = NULL, *cert_only = NULL, *key_only = NULL, *tls_off = NULL, *bad_key = NULL,
			    *secret = NULL;
	struct appliance *a;

	(void)state;
	a = load_ok("domain: x.lan\n");
	assert_false(a->registry_tls);
	assert_null(a->registry_tls_ca_cert);
	appliance_free(a);
	a = load_ok("registry:\n  tls: true\n");
	assert_true(a->registry_tls);
	appliance_free(a);
	assert_true(asprintf(&both, "registry:\n  tls: true\n  tls_ca_cert: |\n%s  tls_ca_key: |\n%s", cert, key) > 0);
	a = load_ok(both);
	assert_string_equal(a->registry_tls_ca_cert, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	assert_non_null(a->registry_tls_ca_key);
	appliance_free(a);

	expect_error("registry:\n  tls: sometimes\n", "2:8: registry.tls: expected a boolean, got 'sometimes'");
	assert_true(asprintf(&cert_only, "registry:\n  tls: true\n  tls_ca_cert: |\n%s", cert) > 0);
	expect_error(cert_only, "3:16: registry.tls_ca_cert: expected registry.tls_ca_key beside it (the site CA's "
		     "certificate and its private key go together)");
	assert_true(asprintf(&key_only, "registry:\n  tls: true\n  tls_ca_key: |\n%s", key) > 0);
	expect_error(key_only, "3:15: registry.tls_ca_key: expected registry.tls_ca_cert beside it (the site CA's "
		     "certificate and its private key go together)");
	assert_true(asprintf(&tls_off, "registry:\n  tls_ca_cert: |\n%s  tls_ca_key: |\n%s", cert, key) > 0);
	expect_error(tls_off, "2:16: registry.tls: expected true where a site CA is supplied (registry.tls_ca_cert)");
	expect_error("registry:\n  tls: true\n  tls_ca_cert: \"not a certificate\"\n",
		     "3:16: registry.tls_ca_cert: expected one PEM certificate (-----BEGIN CERTIFICATE----- ...), the site "
		     "CA's, in a block scalar (|), got 'not a certificate'");
	assert_true(asprintf(&bad_key, "registry:\n  tls: true\n  tls_ca_cert: |\n%s  tls_ca_key: \"Zm9vYmFy-secret\"\n",
			     cert) > 0);
	expect_error(bad_key, "7:15: registry.tls_ca_key: expected an unencrypted PEM private key (-----BEGIN PRIVATE "
		     "KEY----- or -----BEGIN EC PRIVATE KEY-----), the site CA's, in a block scalar (|), got a value (not shown)");
	assert_int_equal(appliance_secret_key(inline_config(both), &secret), 1);
	assert_string_equal(secret, "registry.tls_ca_key");
}

/* TEXT loads, but its ports clash: "PATH:" + SUFFIX. */
static void expect_port_error(const char *text, const char *suffix)
{
	_cleanup_free_ char *err = NULL, *want = NULL;
	struct appliance *a = load_ok(text);

	assert_int_equal(fb_check_ports(a, &err), -EINVAL);
	assert_true(asprintf(&want, "%s:%s", tmp_yaml, suffix) > 0);
	if (!err || !streq(err, want))
		fail_msg("message differs\n got: %s\nwant: %s", err ? err : "(none)", want);
	appliance_free(a);
}

static void test_ports(void **state)
{
	_cleanup_free_ char *err = NULL;
	struct appliance *a;

	(void)state;
	expect_port_error("http:\n  port: 22\n",
			  "2:9: http.port: expected a port that nothing else on the admin listens on, got 22, which is "
			  "sshd's (SSH)");
	expect_port_error("http:\n  port: 53\n",
			  "2:9: http.port: expected a port that nothing else on the admin listens on, got 53, which is "
			  "named's (the dns service)");
	expect_port_error("http:\n  port: 123\n",
			  "2:9: http.port: expected a port that nothing else on the admin listens on, got 123, which is "
			  "chronyd's (the ntp service)");
	expect_port_error("http:\n  port: 953\n",
			  "2:9: http.port: expected a port that nothing else on the admin listens on, got 953, which is "
			  "named's (rndc's control channel, on loopback)");
	expect_port_error("http:\n  port: 35000\n",
			  "2:9: http.port: expected a port that nothing else on the admin listens on, got 35000, which is "
			  "nginx's (registry.port)");
	expect_port_error("registry:\n  port: 80\n",
			  "2:9: registry.port: expected a port that nothing else on the admin listens on, got 80, which "
			  "is nginx's (http.port)");
	expect_port_error("http: {port: 8080}\nregistry: {port: 8080}\n",
			  "1:14: http.port: expected a port that nothing else on the admin listens on, got 8080, which is "
			  "nginx's (registry.port)");
	expect_port_error("registry:\n  port: 5000\nhttp:\n  port: 22\n",
			  "4:9: http.port: expected a port that nothing else on the admin listens on, got 22, which is "
			  "sshd's (SSH)");
	/* nginx binds both as root, the registry's in front of docker-registry's socket: any free port. */
	a = load_ok("http: {port: 443}\nregistry: {port: 5000}\n");
	assert_int_equal(fb_check_ports(a, &err), 0);
	appliance_free(a);
	a = load_ok("registry: {port: 443}\n");
	assert_int_equal(fb_check_ports(a, &err), 0);
	appliance_free(a);
	a = load_ok("network: {nat: off}\n");
	assert_int_equal(fb_check_ports(a, &err), 0);
	assert_null(err);
	appliance_free(a);
}

static void test_domain(void **state)
{
	static const char *const good[] = { "gapbox.lan", "site.internal", "home.arpa", "k8s.example.com", "a.b",
					    "x-1.y2" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (appliance_check_domain(good[i]))
			fail_msg("%s: %s", good[i], appliance_check_domain(good[i]));
	expect_error("domain: com\n",
		     "1:9: domain: expected a domain of at least two labels, like gapbox.lan or site.internal (a "
		     "top-level domain on its own is not the site's to serve), got 'com'");
	expect_error("domain: lan\n",
		     "1:9: domain: expected a domain of at least two labels, like gapbox.lan or site.internal (a "
		     "top-level domain on its own is not the site's to serve), got 'lan'");
	expect_error("domain: gapbox.local\n",
		     "1:9: domain: expected a domain outside .local, .localhost, .invalid and .onion, like gapbox.lan "
		     "(nodes resolve those names without asking the admin's DNS), got 'gapbox.local'");
	expect_error("domain: gapbox.lan.\n",
		     "1:9: domain: expected a DNS domain of lowercase letters, digits and '-' in dot-separated labels, "
		     "like gapbox.lan (no trailing dot), got 'gapbox.lan.'");
	assert_non_null(appliance_check_domain("localhost"));
	assert_non_null(appliance_check_domain("a.-b"));
}

static void test_validate(void **state)
{
	(void)state;
	expect_invalid("nodes:\n  - {name: n1, address: 192.168.10.11}\n  - {name: stray, address: 10.9.9.9}\n",
		       "3:28: nodes[1].address: 10.9.9.9 is outside the internal subnet 192.168.10.0/24 (the admin is "
		       "192.168.10.10/24)");
	expect_invalid("nodes:\n  - {name: n1, address: 192.168.10.10}\n",
		       "2:25: nodes[0].address: 192.168.10.10 is the admin server's own address");
	expect_invalid("nodes:\n  - {name: n1, address: 192.168.10.255}\n",
		       "2:25: nodes[0].address: 192.168.10.255 is the network or broadcast address of 192.168.10.0/24");
	expect_invalid("nodes:\n  - {name: n1, address: 192.168.10.11}\n  - {name: n1, address: 192.168.10.12}\n",
		       "3:25: nodes[1]: the name 'n1' is also nodes[0]'s");
	expect_invalid("nodes:\n  - {name: n1, address: 192.168.10.11}\n  - {name: n2, address: 192.168.10.11}\n",
		       "3:25: nodes[1].address: 192.168.10.11 is also nodes[0]'s");
	expect_invalid("network:\n  address: 192.168.10.0/24\n",
		       "2:12: network.address: 192.168.10.0/24 is the network address of 192.168.10.0/24; expected a "
		       "host address in it");
}

static void test_cmdline(void **state)
{
	_cleanup_free_ char *applied = NULL, *errors = NULL;
	struct appliance *a = NULL;

	(void)state;
	assert_int_equal(appliance_new_default(&a), 0);
	assert_int_equal(appliance_apply_cmdline(a,
						 "BOOT_IMAGE=/vmlinuz quiet gapbox.medium=LABEL=GAPBOX gapbox.address=10.1.2.3/16 "
						 "gapbox.internal=52:54:00:00:00:02 gapbox.external=none gapbox.nat=0 "
						 "gapbox.domain=k.lan",
						 &applied, &errors),
			 0);
	assert_null(errors);
	assert_string_equal(applied, "gapbox.address=10.1.2.3/16 gapbox.internal=52:54:00:00:00:02 "
				     "gapbox.external=none gapbox.nat=0 gapbox.domain=k.lan");
	assert_string_equal(addr(a->address), "10.1.2.3");
	assert_int_equal(a->prefix, 16);
	assert_string_equal(a->internal, "52:54:00:00:00:02");
	assert_string_equal(a->external, "none");
	assert_int_equal(a->nat, 0);
	assert_string_equal(a->domain, "k.lan");
	assert_string_equal(a->address_where, "kernel parameter gapbox.address");
	free(applied);
	applied = NULL;

	assert_int_equal(appliance_apply_cmdline(a, "gapbox.address=1.2.3.4 gapbox.nat=2 gapbox.internal=none gapbox.domain",
						 &applied, &errors),
			 0);
	assert_null(applied);
	assert_string_equal(errors,
			    "kernel parameter gapbox.address=1.2.3.4: expected an IPv4 address with a prefix length "
			    "from /8 to /30, like 192.168.10.10/24; ignored; kernel parameter gapbox.nat=2: expected 0, 1 or "
			    "auto; ignored; kernel parameter gapbox.internal=none: expected 'auto', an interface name or a "
			    "MAC address (the internal network cannot be 'none'); ignored; kernel parameter gapbox.domain "
			    "needs a value (gapbox.domain=...); ignored");
	/* Nothing bad was applied. */
	assert_string_equal(addr(a->address), "10.1.2.3");
	assert_int_equal(a->nat, 0);
	appliance_free(a);
}

static void test_netaddr(void **state)
{
	struct in_addr a;
	unsigned prefix, octets;
	char buf[64];

	(void)state;
	assert_int_equal(ipv4_parse_cidr("192.168.10.10/24", &a, &prefix), 0);
	assert_int_equal(prefix, 24);
	assert_int_equal(ipv4_parse_cidr("192.168.10.10", &a, &prefix), -EINVAL);
	assert_int_equal(ipv4_parse_cidr("192.168.10.10/33", &a, &prefix), -EINVAL);
	assert_int_equal(ipv4_parse_cidr("192.168.10.10/024", &a, &prefix), -EINVAL);
	assert_int_equal(ipv4_parse_cidr("192.168.010.10/24", &a, &prefix), -EINVAL);
	assert_int_equal(ipv4_parse_cidr("/24", &a, &prefix), -EINVAL);
	assert_int_equal(ipv4_parse_cidr("1.2.3.4/", &a, &prefix), -EINVAL);

	assert_int_equal(ipv4_parse_cidr("192.168.10.10/24", &a, &prefix), 0);
	ipv4_format_subnet(a, prefix, buf);
	assert_string_equal(buf, "192.168.10.0/24");
	assert_string_equal(addr(ipv4_broadcast(a, prefix)), "192.168.10.255");
	assert_int_equal(ipv4_reverse_zone(a, 24, buf, sizeof(buf), &octets), 0);
	assert_string_equal(buf, "10.168.192.in-addr.arpa");
	assert_int_equal(octets, 3);
	assert_int_equal(ipv4_reverse_owner(a, octets, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10");
	/* Not on an octet boundary: the enclosing whole-octet zone. */
	assert_int_equal(ipv4_reverse_zone(a, 20, buf, sizeof(buf), &octets), 0);
	assert_string_equal(buf, "168.192.in-addr.arpa");
	assert_int_equal(ipv4_reverse_owner(a, octets, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.10");
	assert_int_equal(ipv4_reverse_zone(a, 28, buf, sizeof(buf), &octets), 0);
	assert_string_equal(buf, "10.168.192.in-addr.arpa");
	assert_int_equal(ipv4_reverse_zone(a, 8, buf, sizeof(buf), &octets), 0);
	assert_string_equal(buf, "192.in-addr.arpa");
	assert_int_equal(ipv4_reverse_owner(a, octets, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.10.168");
	assert_int_equal(ipv4_reverse_zone(a, 24, buf, 10, &octets), -ENAMETOOLONG);

	assert_int_equal(ipv4_parse("192.168.11.1", &a), 0);
	{
		struct in_addr net;

		assert_int_equal(ipv4_parse("192.168.10.0", &net), 0);
		assert_false(ipv4_in_subnet(a, net, 24));
		assert_true(ipv4_in_subnet(a, net, 23));
	}
}

static const struct fb_nic two[] = {
	{ "ens3", "52:54:00:00:00:01", 2 },
	{ "ens4", "52:54:00:00:00:02", 3 },
};

static void choose(const struct fb_nic *nics, size_t n, const char *in, const char *ex, bool trust,
		   const char *want_in, const char *want_ex, const char *want_error)
{
	struct nic_choice c;

	assert_int_equal(nics_choose(nics, n, in, ex, trust, &c), 0);
	assert_string_equal(c.internal.name, want_in);
	assert_string_equal(c.external.name, want_ex);
	if (want_error) {
		if (!c.error || !strstr(c.error, want_error))
			fail_msg("error '%s' does not contain '%s'", c.error ? c.error : "(none)", want_error);
	} else if (c.error)
		fail_msg("unexpected error: %s", c.error);
	nic_choice_done(&c);
}

static void test_nics(void **state)
{
	struct fb_nic *parsed = NULL;
	size_t n = 0;

	(void)state;
	choose(two, 2, "auto", "auto", false, "ens4", "ens3", NULL);
	choose(two, 1, "auto", "auto", false, "ens3", "", NULL);
	choose(two, 0, "auto", "auto", false, "", "", "no network interface found");
	choose(two, 2, "ens3", "auto", false, "ens3", "ens4", NULL);
	choose(two, 2, "auto", "ens4", false, "ens3", "ens4", NULL);
	choose(two, 2, "52:54:00:00:00:01", "none", false, "ens3", "", NULL);
	choose(two, 2, "auto", "52:54:00:00:00:02", false, "ens3", "ens4", NULL);
	choose(two, 2, "auto", "none", false, "ens3", "", NULL);
	choose(two, 2, "eth9", "auto", false, "", "ens3",
	       "internal interface 'eth9' does not exist (interfaces found: ens3 (52:54:00:00:00:01), ens4 "
	       "(52:54:00:00:00:02)); the internal address is not configured on any interface");
	/* One NIC and the named internal one missing: the NIC is not turned external. */
	choose(two, 1, "eth9", "auto", false, "", "", "'eth9' does not exist");
	choose(two, 2, "auto", "eth9", false, "ens3", "", "external interface 'eth9' does not exist");
	choose(two, 2, "ens3", "ens3", false, "ens3", "", "both the internal and the external interface");
	/* --root without a NIC list: names are taken as given. */
	choose(NULL, 0, "enp1s0", "enp2s0", true, "enp1s0", "enp2s0", NULL);

	assert_int_equal(nics_parse("ens3=52:54:00:00:00:0A,eth1", &parsed, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(parsed[0].mac, "52:54:00:00:00:0a");
	assert_string_equal(parsed[1].name, "eth1");
	assert_string_equal(parsed[1].mac, "");
	free(parsed);
	assert_int_equal(nics_parse("ens3=nonsense", &parsed, &n), -EINVAL);
}

/* A fake /sys/class/net NIC: NAME with a device behind it and INDEX. */
static void fake_nic(const char *sysfs, const char *name, int index)
{
	char path[PATH_MAX], text[32];

	snprintf(path, sizeof(path), "%s/%s/device", sysfs, name);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s/ifindex", sysfs, name);
	snprintf(text, sizeof(text), "%d\n", index);
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
	snprintf(path, sizeof(path), "%s/%s/address", sysfs, name);
	assert_int_equal(write_file_atomic(path, "52:54:00:00:00:01\n", 18, 0644), 0);
}

static void test_nics_wait_settled(void **state)
{
	char sysfs[PATH_MAX + 8], db[PATH_MAX + 8], entry[PATH_MAX + 16];
	char *pending = NULL;

	(void)state;
	snprintf(sysfs, sizeof(sysfs), "%s/net", tmp_dir);
	snprintf(db, sizeof(db), "%s/udev", tmp_dir);
	fake_nic(sysfs, "eth0", 2);
	fake_nic(sysfs, "enp0s2", 3);
	assert_int_equal(mkdir_p(db, 0755), 0);
	/* udev has the second NIC (renamed) but not the first yet: the wait ends naming it. */
	snprintf(entry, sizeof(entry), "%s/n3", db);
	assert_int_equal(write_file_atomic(entry, "", 0, 0644), 0);
	assert_int_equal(nics_wait_settled(sysfs, db, 0, 1, &pending), -ETIMEDOUT);
	assert_string_equal(pending, "eth0");
	free(pending);
	pending = NULL;
	snprintf(entry, sizeof(entry), "%s/n2", db);
	assert_int_equal(write_file_atomic(entry, "", 0, 0644), 0);
	assert_int_equal(nics_wait_settled(sysfs, db, 0, 1, &pending), 0);
	assert_null(pending);
	assert_int_equal(rm_rf(sysfs), 0);
	assert_int_equal(rm_rf(db), 0);
}

static void expect_map(const char *ref, const char *name, const char *reference)
{
	char *const extra[] = { "registry.example.com", NULL };
	struct imageref r;

	assert_int_equal(imageref_map(ref, extra, &r), 0);
	if (!streq(r.name, name) || !streq(r.reference, reference))
		fail_msg("%s -> %s:%s, expected %s:%s", ref, r.name, r.reference, name, reference);
	imageref_done(&r);
}

static void test_imageref(void **state)
{
	struct imageref r;

	(void)state;
	expect_map("docker.io/library/nginx:1.29.2", "library/nginx", "1.29.2");
	expect_map("nginx:1.29.2", "library/nginx", "1.29.2");
	expect_map("nginx", "library/nginx", "latest");
	expect_map("registry.k8s.io/pause:3.10", "pause", "3.10");
	expect_map("registry.k8s.io/coredns/coredns:v1.12.0", "coredns/coredns", "v1.12.0");
	expect_map("quay.io/calico/node:v3.30.5", "calico/node", "v3.30.5");
	expect_map("ghcr.io/kube-vip/kube-vip:v0.8.9", "kube-vip/kube-vip", "v0.8.9");
	expect_map("gcr.io/google-containers/pause:3.1", "google-containers/pause", "3.1");
	expect_map("k8s.gcr.io/pause:3.1", "pause", "3.1");
	expect_map("calico/node:v3.30.5", "calico/node", "v3.30.5");
	expect_map("nvcr.io/nvidia/driver:550", "nvcr.io/nvidia/driver", "550");
	expect_map("registry.example.com/team/app:1", "team/app", "1");
	expect_map("quay.io/x/y:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "x/y",
		   "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_int_equal(imageref_map("", NULL, &r), -EINVAL);
	assert_int_equal(imageref_map("nginx:", NULL, &r), -EINVAL);
	assert_int_equal(imageref_map("has space:1", NULL, &r), -EINVAL);
	assert_int_equal(imageref_map("docker.io/Library/nginx:1", NULL, &r), -EINVAL);
	assert_int_equal(imageref_map("x@md5:abc", NULL, &r), -EINVAL);
}

static void test_image_lists(void **state)
{
	struct imageref *v = NULL;
	size_t n = 0, bad = 0;

	(void)state;
	inline_config("# images\n\nregistry.k8s.io/pause:3.10\r\n  nginx:1.29.2  \nnot an image\n");
	assert_int_equal(imageref_read_list(tmp_yaml, NULL, &v, &n, &bad), 0);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 1);
	assert_string_equal(v[0].ref, "registry.k8s.io/pause:3.10");
	assert_string_equal(v[1].name, "library/nginx");
	imageref_free_all(v, n);
	assert_int_equal(imageref_read_list("/nonexistent/images.list", NULL, &v, &n, NULL), -ENOENT);
}

static void test_shadow(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(shadow_set_root_hash("root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n", "$y$j9T$s$h", &out), 0);
	assert_string_equal(out, "root:$y$j9T$s$h:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n");
	free(out);
	assert_int_equal(shadow_set_root_hash("daemon:*:1::::::\nroot::19000::::::\n", "$6$x$y", &out), 0);
	assert_string_equal(out, "daemon:*:1::::::\nroot:$6$x$y:19000::::::\n");
	free(out);
	assert_int_equal(shadow_set_root_hash("rootless:*:1::::::\n", "$6$x$y", &out), -ENOENT);
	assert_int_equal(shadow_set_root_hash("root:broken\n", "$6$x$y", &out), -EINVAL);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/gapbox-test-firstboot-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(tmp_yaml, sizeof(tmp_yaml), "%s/appliance.yaml", tmp_dir);
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
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_shipped_config_is_the_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_default_roles),
		cmocka_unit_test(test_nat_spellings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_registry_tls),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_netaddr),
		cmocka_unit_test(test_nics),
		cmocka_unit_test(test_nics_wait_settled),
		cmocka_unit_test(test_imageref),
		cmocka_unit_test(test_image_lists),
		cmocka_unit_test(test_shadow),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
