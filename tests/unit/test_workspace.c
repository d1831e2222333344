/* Unit tests for gapbox-kubespray's pure parts: requirements.txt lines as kubespray writes them,
 * the PyPI mirror's folders as kubespray-offline's pypi-mirror lays them out, and the admin's SSH
 * key line that node-setup.sh carries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "../../firstboot/adminkey.h"
#include "../../firstboot/kubespray.h"

static void expect_req(const char *line, int rc, const char *name, const char *version)
{
	char *n = NULL, *v = NULL;

	assert_int_equal(fb_requirement_parse(line, &n, &v), rc);
	if (name)
		assert_string_equal(n, name);
	else
		assert_null(n);
	if (version)
		assert_string_equal(v, version);
	else
		assert_null(v);
	free(n);
	free(v);
}

static void test_requirement_lines(void **state)
{
	(void)state;
	/* kubespray 2.30's requirements.txt */
	expect_req("ansible==10.7.0", 0, "ansible", "10.7.0");
	expect_req("cryptography==44.0.2", 0, "cryptography", "44.0.2");
	expect_req("jmespath==1.0.1", 0, "jmespath", "1.0.1");
	/* PEP 503 names, extras, spaces, markers and comments */
	expect_req("PyYAML == 6.0  # the loader", 0, "pyyaml", "6.0");
	expect_req("ansible_core==2.14.18", 0, "ansible-core", "2.14.18");
	expect_req("zope.interface__x==5", 0, "zope-interface-x", "5");
	expect_req("requests[socks]==2.31.0 ; python_version >= '3.8'", 0, "requests", "2.31.0");
	expect_req("netaddr>=0.8", 0, "netaddr", NULL);
	expect_req("netaddr", 0, "netaddr", NULL);
	expect_req("netaddr==1.*", 0, "netaddr", NULL); /* a range, not a pin */
	expect_req("jinja2==3.1.2\r", 0, "jinja2", "3.1.2");
	/* no requirement */
	expect_req("", -ENOENT, NULL, NULL);
	expect_req("   # comment", -ENOENT, NULL, NULL);
	expect_req("-r other.txt", -ENOENT, NULL, NULL);
	expect_req("--index-url http://x/", -ENOENT, NULL, NULL);
	/* not one */
	expect_req("bad line!", -EINVAL, NULL, NULL);
	expect_req("_x==1", -EINVAL, NULL, NULL);
	expect_req("name[extra==1", -EINVAL, NULL, NULL);
}

static void touch(const char *dir, const char *file)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void test_mirror_has(void **state)
{
	char tmpl[] = "/tmp/gapbox-test-mirror-XXXXXX", dir[600];
	char *versions = NULL;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(dir, sizeof(dir), "%s/ansible-core", tmpl);
	assert_int_equal(mkdir(dir, 0755), 0);
	touch(dir, "index.html");
	touch(dir, "ansible_core-2.14.18-py3-none-any.whl");
	touch(dir, "ansible-core-2.14.17.tar.gz");
	snprintf(dir, sizeof(dir), "%s/pyyaml", tmpl);
	assert_int_equal(mkdir(dir, 0755), 0);
	touch(dir, "PyYAML-6.0-cp311-cp311-linux_x86_64.whl");

	assert_int_equal(fb_mirror_has(tmpl, "ansible-core", "2.14.18", &versions), 1);
	assert_string_equal(versions, "2.14.17, 2.14.18");
	free(versions);
	assert_int_equal(fb_mirror_has(tmpl, "ansible-core", "2.14.17", NULL), 1);
	assert_int_equal(fb_mirror_has(tmpl, "ansible-core", "10.7.0", &versions), 0);
	assert_string_equal(versions, "2.14.17, 2.14.18");
	free(versions);
	assert_int_equal(fb_mirror_has(tmpl, "pyyaml", NULL, NULL), 1);
	assert_int_equal(fb_mirror_has(tmpl, "jmespath", NULL, &versions), 0);
	assert_string_equal(versions, "");
	free(versions);
	assert_int_equal(rm_rf(tmpl), 0);
}

static void test_admin_key_line(void **state)
{
	(void)state;
	assert_null(fb_admin_key_check("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKfYSDghWl4T7gNWsrL root@admin (gapbox, for Ansible)"));
	assert_null(fb_admin_key_check("ecdsa-sha2-nistp256 AAAAE2VjZHNh"));
	assert_non_null(fb_admin_key_check("-----BEGIN OPENSSH PRIVATE KEY-----"));
	assert_non_null(fb_admin_key_check("ssh-ed25519 AAAA $(reboot)"));
	assert_non_null(fb_admin_key_check("ssh-ed25519 AAAA \"x"));
	assert_non_null(fb_admin_key_check("ssh-ed25519 AAAA `x`"));
	assert_non_null(fb_admin_key_check("ssh-ed25519 AAAA\tx"));
}

/* A key made when there is none, read back as one line; without MAKE, none is made. */
static void test_admin_key_made_once(void **state)
{
	char tmpl[] = "/tmp/gapbox-test-key-XXXXXX", priv[600];
	char *pub = NULL, *again = NULL, *error = NULL;

	(void)state;
	if (access("/usr/bin/ssh-keygen", X_OK) < 0)
		skip();
	assert_non_null(mkdtemp(tmpl));
	snprintf(priv, sizeof(priv), "%s/.ssh/id_ed25519", tmpl);
	assert_int_equal(fb_admin_key(priv, false, "c", &pub, &error), 0);
	assert_null(pub);
	assert_int_equal(fb_admin_key(priv, true, "root@admin (gapbox, for Ansible)", &pub, &error), 0);
	assert_non_null(pub);
	assert_int_equal(strncmp(pub, "ssh-ed25519 ", 12), 0);
	assert_non_null(strstr(pub, "root@admin (gapbox, for Ansible)"));
	assert_null(strchr(pub, '\n'));
	assert_int_equal(fb_admin_key(priv, true, "other", &again, &error), 0);
	assert_string_equal(pub, again); /* the same key: made only once */
	free(pub);
	free(again);
	assert_int_equal(rm_rf(tmpl), 0);
}

/* The inventory preflight reads: hosts in any group once each, their ansible_user and
 * ansible_port, [all:vars] wherever it is, a host's own values first. */
static void test_inventory_hosts(void **state)
{
	char path[] = "/tmp/gapbox-test-inventory-XXXXXX";
	struct fb_inventory_host *h = NULL;
	size_t n = 0;
	int fd;
	static const char ini[] =
		"# gapbox: kubespray inventory skeleton\n"
		"[all]\n"
		"node1 ansible_host=10.0.0.11 ip=10.0.0.11\n"
		"node2   ansible_host=10.0.0.12\tansible_user=admin2 ansible_port=2222\n"
		"  ; a comment\n"
		"node3 ip=10.0.0.13\n" /* no ansible_host: not reachable, left out */
		"[kube_control_plane]\n"
		"node1\n"
		"[kube_node]\n"
		"node1 ansible_host=10.0.0.99\n" /* seen already: the first wins */
		"[all:vars]\n"
		"ansible_user=deploy\n"
		"ansible_become=true\n"
		"[k8s_cluster:children]\n"
		"kube_node\n";

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, ini, sizeof(ini) - 1), (ssize_t)sizeof(ini) - 1);
	close(fd);
	assert_int_equal(fb_inventory_hosts(path, &h, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].name, "node1");
	assert_string_equal(h[0].host, "10.0.0.11");
	assert_string_equal(h[0].user, "deploy");
	assert_null(h[0].port);
	assert_string_equal(h[1].name, "node2");
	assert_string_equal(h[1].host, "10.0.0.12");
	assert_string_equal(h[1].user, "admin2");
	assert_string_equal(h[1].port, "2222");
	fb_inventory_hosts_free(h, n);
	/* Without ansible_user anywhere: root. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[all]\nn1 ansible_host=10.0.0.5\n", 31), 31);
	close(fd);
	assert_int_equal(fb_inventory_hosts(path, &h, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].user, "root");
	fb_inventory_hosts_free(h, n);
	unlink(path);
	assert_true(fb_inventory_hosts(path, &h, &n) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requirement_lines),
		cmocka_unit_test(test_mirror_has),
		cmocka_unit_test(test_admin_key_line),
		cmocka_unit_test(test_admin_key_made_once),
		cmocka_unit_test(test_inventory_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
