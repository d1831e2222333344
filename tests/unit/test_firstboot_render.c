/* Unit tests of gapbox-firstboot's outputs: installing rendered files (only when different,
 * atomically, removing unwanted ones), properties of the pure renderers that the golden files
 * in tests/firstboot/expected/ do not pin down one by one, the status and its three renderings,
 * the probes (against servers in this process), and the registry's overlay storage (as root). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../firstboot/nodes.h"
#include "../../firstboot/probe.h"
#include "../../firstboot/render.h"
#include "../../firstboot/service.h"
#include "../../firstboot/state.h"
#include "persist.h"
#include "../../firstboot/status.h"
#include "../../firstboot/storage.h"
#include "bootrecord.h"
#include "fsutil.h"
#include "macros.h"
#include "sha256.h"
#include "strv.h"

static char tmp_dir[PATH_MAX];

static char *tmp_path(const char *name)
{
	static char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	return path;
}

static char *slurp(const char *path)
{
	char *text = NULL;

	assert_int_equal(read_file(path, 1 << 20, &text, NULL), 0);
	return text;
}

/* ---- installing ---- */

static void test_install(void **state)
{
	struct fb_files fs = {};
	struct sbuf b = SBUF_INIT;
	struct stat st1, st2;
	char *text;

	(void)state;
	sbuf_puts(&b, "hello\n");
	fb_files_add(&fs, "/etc/x/y.conf", &b, 0640, true);
	fb_files_add_absent(&fs, "/etc/x/gone.conf", false);
	assert_int_equal(fs.error, 0);
	assert_int_equal(fs.n, 2);

	/* New: written, with its folder. */
	assert_int_equal(fb_file_install(tmp_dir, &fs.v[0]), 1);
	assert_int_equal(stat(tmp_path("etc/x/y.conf"), &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0640);
	text = slurp(tmp_path("etc/x/y.conf"));
	assert_string_equal(text, "hello\n");
	free(text);
	/* Same again: untouched (same inode, no rename). */
	assert_int_equal(fb_file_install(tmp_dir, &fs.v[0]), 0);
	assert_int_equal(stat(tmp_path("etc/x/y.conf"), &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	/* A different mode is a change. */
	assert_int_equal(chmod(tmp_path("etc/x/y.conf"), 0644), 0);
	assert_int_equal(fb_file_install(tmp_dir, &fs.v[0]), 1);
	/* A symlink in the way is replaced, not written through. */
	assert_int_equal(unlink(tmp_path("etc/x/y.conf")), 0);
	assert_int_equal(symlink("/nonexistent/target", tmp_path("etc/x/y.conf")), 0);
	assert_int_equal(fb_file_install(tmp_dir, &fs.v[0]), 1);
	assert_int_equal(lstat(tmp_path("etc/x/y.conf"), &st1), 0);
	assert_true(S_ISREG(st1.st_mode));

	/* Absent: removed when there, nothing to do otherwise. */
	assert_int_equal(write_file_atomic(tmp_path("etc/x/gone.conf"), "x", 1, 0644), 0);
	assert_int_equal(fb_file_install(tmp_dir, &fs.v[1]), 1);
	assert_false(path_exists(tmp_path("etc/x/gone.conf")));
	assert_int_equal(fb_file_install(tmp_dir, &fs.v[1]), 0);

	assert_int_equal(rm_rf(tmp_path("etc")), 0);
	fb_files_free(&fs);
}

static void test_sbuf_cap(void **state)
{
	struct sbuf b = { .max = 8 };
	char *text = NULL;

	(void)state;
	sbuf_puts(&b, "12345");
	sbuf_printf(&b, "%s", "6789");
	sbuf_puts(&b, "more");
	assert_int_equal(sbuf_finish(&b, &text, NULL), -E2BIG);
	assert_null(text);
	assert_int_equal(fb_rooted("/r/", "/etc/a") ? 0 : -1, 0);
	{
		_cleanup_free_ char *p = fb_rooted("/r/", "/etc/a"), *q = fb_rooted(NULL, "/etc/a"), *s = fb_rooted("/r", "etc");

		assert_string_equal(p, "/r/etc/a");
		assert_string_equal(q, "/etc/a");
		assert_string_equal(s, "/r/etc");
	}
}

/* ---- renderers ---- */

static struct appliance *cfg;
static struct fb_site site;

/* The site of cfg and NICS, as configure makes it (without a payload). */
static void site_init(const struct nic_choice *nics, const char **ret_nat_error)
{
	fb_site_done(&site);
	assert_int_equal(fb_site_init(&site, cfg, nics, NULL, NULL, ret_nat_error), 0);
}

static void make_site(const char *internal, const char *external, int nat)
{
	struct nic_choice nics = {};

	appliance_free(cfg);
	assert_int_equal(appliance_new_default(&cfg), 0);
	cfg->nat = nat;
	if (internal)
		snprintf(nics.internal.name, sizeof(nics.internal.name), "%s", internal);
	if (external)
		snprintf(nics.external.name, sizeof(nics.external.name), "%s", external);
	site_init(&nics, NULL);
}

static const struct fb_file *render_one(int (*render)(const struct fb_site *, struct fb_files *), struct fb_files *fs,
					 const char *path)
{
	const struct fb_file *f;

	assert_int_equal(render(&site, fs), 0);
	f = fb_files_find(fs, path);
	assert_non_null(f);
	return f;
}

static void test_nat_render(void **state)
{
	struct fb_files fs = {};
	const struct fb_file *f;

	(void)state;
	/* One NIC: no masquerade, forwarding off, the internal NIC still accepted. */
	make_site("ens3", NULL, APPLIANCE_NAT_AUTO);
	assert_false(site.nat);
	f = render_one(fb_service_nat.render, &fs, NAT_NFT_PATH);
	assert_null(strstr(f->content, "masquerade"));
	assert_non_null(strstr(f->content, "iifname \"ens3\" accept"));
	f = fb_files_find(&fs, NAT_SYSCTL_PATH);
	assert_non_null(strstr(f->content, "net.ipv4.ip_forward = 0\n"));
	fb_files_free(&fs);

	/* Two NICs: masquerade out of the external one only, from the internal subnet only. */
	make_site("ens4", "ens3", APPLIANCE_NAT_AUTO);
	assert_true(site.nat);
	f = render_one(fb_service_nat.render, &fs, NAT_NFT_PATH);
	assert_non_null(strstr(f->content, "oifname \"ens3\" ip saddr 192.168.10.0/24 masquerade"));
	fb_files_free(&fs);

	/* Default deny: only SSH, ICMP and the DHCP client's answers from the external NIC, and
	 * nothing for the internal address from it. */
	f = render_one(fb_service_nat.render, &fs, NAT_NFT_PATH);
	assert_non_null(strstr(f->content, "chain input {\n\t\ttype filter hook input priority filter; policy drop;\n"));
	assert_non_null(strstr(f->content, "iifname != \"ens4\" ip daddr 192.168.10.10 drop\n"));
	assert_non_null(strstr(f->content, "iifname \"ens3\" tcp dport 22 accept\n"));
	assert_non_null(strstr(f->content, "iifname \"ens3\" udp sport 67 udp dport 68 accept\n"));
	assert_null(strstr(f->content, "dport 80"));
	assert_null(strstr(f->content, "policy accept; \n\t\tiifname"));
	fb_files_free(&fs);

	/* NAT asked for without an external NIC: off, and said why. */
	{
		struct nic_choice nics = { .internal = { "ens3", "", 2 } };
		const char *why = NULL;

		cfg->nat = 1;
		site_init(&nics, &why);
		assert_false(site.nat);
		assert_non_null(why);
	}
}

static void test_network_render(void **state)
{
	struct fb_files fs = {};
	const struct fb_file *f;
	struct nic_choice nics = { .internal = { "ens4", "52:54:00:00:00:02", 3 } };

	(void)state;
	/* Chosen automatically with a known MAC: matched by MAC (robust to renaming). */
	appliance_free(cfg);
	assert_int_equal(appliance_new_default(&cfg), 0);
	site_init(&nics, NULL);
	f = render_one(fb_service_network.render, &fs, NETWORK_INTERNAL_PATH);
	assert_non_null(strstr(f->content, "[Match]\nMACAddress=52:54:00:00:00:02\n"));
	assert_non_null(strstr(f->content, "Address=192.168.10.10/24\n"));
	/* No external NIC: its file must go. */
	f = fb_files_find(&fs, NETWORK_EXTERNAL_PATH);
	assert_non_null(f);
	assert_null(f->content);
	fb_files_free(&fs);

	/* Named in the configuration: matched by that name. */
	free(cfg->internal);
	cfg->internal = strdup("ens4");
	site_init(&nics, NULL);
	f = render_one(fb_service_network.render, &fs, NETWORK_INTERNAL_PATH);
	assert_non_null(strstr(f->content, "[Match]\nName=ens4\n"));
	assert_null(strstr(f->content, "KeepConfiguration"));
	fb_files_free(&fs);

	/* Netbooted over the internal NIC: its boot address stays beside the site's. */
	snprintf(site.internal_boot_address, sizeof(site.internal_boot_address), "10.0.2.15/24 from DHCP");
	f = render_one(fb_service_network.render, &fs, NETWORK_INTERNAL_PATH);
	assert_non_null(strstr(f->content, "# The image was netbooted over this NIC (10.0.2.15/24 from DHCP): that address "
					   "stays\n# beside the site's, so the boot network keeps reaching the admin.\n"
					   "KeepConfiguration=static\n"));
	assert_non_null(strstr(f->content, "Address=192.168.10.10/24\n"));
	fb_files_free(&fs);
}

static void test_dns_render(void **state)
{
	struct fb_files fs = {};
	const struct fb_file *f;
	struct appliance_node nodes[] = { { .name = "a1" }, { .name = "b2" } };

	(void)state;
	make_site("ens4", "ens3", APPLIANCE_NAT_AUTO);
	assert_int_equal(ipv4_parse_cidr("10.20.30.40/20", &cfg->address, &cfg->prefix), 0);
	assert_int_equal(ipv4_parse("10.20.31.1", &nodes[0].address), 0);
	assert_int_equal(ipv4_parse("10.20.16.2", &nodes[1].address), 0);
	cfg->nodes = nodes;
	cfg->n_nodes = 2;
	site_init(&(struct nic_choice){ .internal = { "ens4", "", 3 } }, NULL);
	f = render_one(fb_service_dns.render, &fs, DNS_NAMED_CONF_PATH);
	assert_non_null(strstr(f->content, "10.20.16.0/20;"));
	assert_non_null(strstr(f->content, "zone \"20.10.in-addr.arpa\""));
	assert_non_null(strstr(f->content, "server 0.0.0.0/0 { bogus yes; };"));
	assert_null(strstr(f->content, "\tforwarders"));
	f = fb_files_find(&fs, DNS_ZONE_DIR "/db.20.10.in-addr.arpa");
	assert_non_null(f);
	assert_non_null(strstr(f->content, "40.30\tIN\tPTR\tadmin.gapbox.lan.\n"));
	assert_non_null(strstr(f->content, "1.31\tIN\tPTR\ta1.gapbox.lan.\n"));
	f = fb_files_find(&fs, DNS_ZONE_DIR "/db.gapbox.lan");
	assert_non_null(strstr(f->content, "b2\tIN\tA\t10.20.16.2\n"));
	assert_non_null(strstr(f->content, "registry\tIN\tA\t10.20.30.40\n"));
	f = fb_files_find(&fs, DNS_RESOLV_CONF_PATH);
	assert_non_null(strstr(f->content, "nameserver 127.0.0.1\n"));
	assert_false(f->restart);
	fb_files_free(&fs);
	cfg->nodes = NULL;
	cfg->n_nodes = 0;
}

static void test_ntp_and_nodes_render(void **state)
{
	struct fb_files fs = {};
	const struct fb_file *f;

	(void)state;
	make_site("ens4", NULL, APPLIANCE_NAT_AUTO);
	f = render_one(fb_service_ntp.render, &fs, NTP_CONF_PATH);
	/* The air gap: no upstream source of any kind by default. */
	assert_null(strstr(f->content, "\nserver "));
	assert_null(strstr(f->content, "\npool "));
	assert_null(strstr(f->content, "sourcedir"));
	assert_non_null(strstr(f->content, "local stratum 10\n"));
	assert_non_null(strstr(f->content, "allow 192.168.10.0/24\n"));
	fb_files_free(&fs);

	cfg->http_port = 8080;
	site_init(&(struct nic_choice){ .internal = { "ens4", "", 3 } }, NULL);
	f = render_one(fb_service_nodes.render, &fs, GB_RUN_NODE_FILES "/offline.yml");
	assert_non_null(strstr(f->content, "http_server: \"http://192.168.10.10:8080\"\n"));
	assert_non_null(strstr(f->content, "registry_host: \"192.168.10.10:35000\"\n"));
	assert_null(strstr(f->content, "amd64"));
	assert_null(strstr(f->content, "arm64"));
	f = fb_files_find(&fs, GB_RUN_NODE_FILES "/node-setup.sh");
	assert_int_equal(f->mode, 0755);
	assert_non_null(strstr(f->content, "\nNAT=0\n"));
	assert_non_null(strstr(f->content, "\nHTTP=http://192.168.10.10:8080\n"));
	/* The tree's file with only its settings replaced: k8s.gcr.io mirrored, the body a function
	 * called on the last line. */
	assert_non_null(strstr(f->content, " registry.k8s.io k8s.gcr.io ghcr.io gcr.io\"\n"));
	assert_non_null(strstr(f->content, "\n# gapbox: settings end\n"));
	assert_int_equal(strcmp(f->content + f->size - strlen("\nmain \"$@\" --end-of-script\n"),
				"\nmain \"$@\" --end-of-script\n"), 0);
	/* The hash the node command checks is that of the file rendered. */
	{
		struct gb_sha256 *h = gb_sha256_new();
		char want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];

		assert_non_null(h);
		gb_sha256_update(h, f->content, f->size);
		gb_sha256_final_hex(h, want);
		assert_int_equal(nodes_setup_sha256(&site, got), 0);
		assert_string_equal(got, want);
	}
	f = fb_files_find(&fs, GB_RUN_NODE_FILES "/inventory.ini");
	assert_non_null(strstr(f->content, "[kube_control_plane]\n# k8s-node1\n"));
	fb_files_free(&fs);

	/* The payload record's downloads: a plain path is set; a path that would leave /files/, or
	 * quote or template its way out of the YAML, and a reason with a newline, stay comments. */
	site.kubespray.version = strdup("2.31.0");
	assert_non_null(site.kubespray.version);
	const struct payload_record_download downloads[] = {
		{ .variable = "runc_download_url", .path = "runc/v1.3.4/runc.amd64" },
		{ .variable = "crun_download_url", .path = "../etc/shadow" },
		{ .variable = "yq_download_url", .path = "yq\"\nkube_version: \"{{ lookup('pipe', 'id') }}" },
		{ .variable = "kata_containers_download_url", .absent = "files/kata is not in the payload\nx: 1" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(downloads); i++)
		assert_int_equal(payload_record_add_download(&site.kubespray, &downloads[i]), 0);
	static const char *const set[] = {
		"# gapbox: kubespray 2.31.0 offline settings",
		"\nrunc_download_url: \"{{ files_repo }}/runc/v1.3.4/runc.amd64\"\n",
		"\n#   crun_download_url: its path has characters offline.yml does not carry\n",
		"\n#   yq_download_url: its path has",
		"\n#   kata_containers_download_url: files/kata is not in the payload?x: 1\n",
	}, *const unset[] = { "\ncrun_download_url", "lookup", "\nx: 1" };
	f = render_one(fb_service_nodes.render, &fs, GB_RUN_NODE_FILES "/offline.yml");
	for (size_t i = 0; i < ARRAY_SIZE(set); i++)
		assert_non_null(strstr(f->content, set[i]));
	for (size_t i = 0; i < ARRAY_SIZE(unset); i++)
		assert_null(strstr(f->content, unset[i]));
	fb_files_free(&fs);
	payload_record_kubespray_done(&site.kubespray);

	/* No keys: root's authorized_keys is left alone (not in the set); the sshd drop-in is keys
	 * only, with no root password login. */
	assert_int_equal(fb_service_access.render(&site, &fs), 0);
	assert_null(fb_files_find(&fs, ACCESS_KEYS_PATH));
	f = fb_files_find(&fs, ACCESS_SSHD_CONFIG_PATH);
	assert_non_null(f);
	assert_non_null(strstr(f->content, "\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"));
	assert_non_null(strstr(f->content, "\nX11Forwarding no\n"));
	assert_non_null(strstr(f->content, "\nHostKey /etc/ssh/ssh_host_ed25519_key\n"));
	fb_files_free(&fs);
}

/* ---- the site record in status.json ---- */

static void test_site_record(void **state)
{
	char *const stripped[] = { "registry.gapbox.test", "quay.io", NULL };
	_cleanup_free_ char *err = NULL;
	struct fb_site back = {};
	json_t *admin;

	(void)state;
	make_site("ens4", "ens3", APPLIANCE_NAT_AUTO);
	cfg->http_port = 8080;
	strv_free(cfg->registry_strip);
	cfg->registry_strip = NULL;
	assert_int_equal(strv_push(&cfg->registry_strip, "harbor.local/proj"), 0);
	fb_site_done(&site);
	assert_int_equal(fb_site_init(&site, cfg, &(struct nic_choice){ .internal = { "ens4" }, .external = { "ens3" } },
				      "/p", stripped, NULL), 0);
	/* The payload record's and the configuration's, after the built-in ones, each once. */
	assert_string_equal(site.strip_registries[0], "docker.io");
	assert_string_equal(site.strip_registries[6], "registry.gapbox.test");
	assert_string_equal(site.strip_registries[7], "harbor.local/proj");
	assert_null(site.strip_registries[8]);

	/* Before its hash is known, the node command still downloads the script whole. */
	assert_string_equal(site.node_command, "curl -fsSo node-setup.sh http://192.168.10.10:8080/gapbox/node-setup.sh "
					       "&& sudo sh node-setup.sh");
	fb_site_set_node_setup(&site, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_string_equal(site.node_command,
			    "curl -fsSo node-setup.sh http://192.168.10.10:8080/gapbox/node-setup.sh && echo "
			    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  node-setup.sh\" | "
			    "sha256sum -c && sudo sh node-setup.sh");
	admin = fb_site_to_json(&site);
	assert_non_null(admin);
	assert_int_equal(json_integer_value(json_object_get(admin, "dns_port")), 53);
	assert_int_equal(json_integer_value(json_object_get(admin, "ntp_port")), 123);
	assert_string_equal(json_string_value(json_object_get(admin, "http_url")), "http://192.168.10.10:8080");
	assert_int_equal(fb_site_from_json(admin, &back, NULL), 0);
	assert_null(back.cfg);
	assert_string_equal(back.address, "192.168.10.10");
	assert_string_equal(back.cidr, "192.168.10.10/24");
	assert_string_equal(back.domain, "gapbox.lan");
	assert_string_equal(back.internal.name, "ens4");
	assert_string_equal(back.external.name, "ens3");
	assert_true(back.nat);
	assert_memory_equal(back.ports, site.ports, sizeof(site.ports));
	assert_string_equal(back.http_url, site.http_url);
	assert_string_equal(back.registry_host, site.registry_host);
	assert_string_equal(back.node_setup_sha256, site.node_setup_sha256);
	assert_string_equal(back.node_command, site.node_command);
	assert_string_equal(back.payload, "/p");
	assert_int_equal(strv_length(back.strip_registries), 8);
	fb_site_done(&back);

	/* A status without the ports: the defaults, written once in appliance.h. */
	json_object_del(admin, "dns_port");
	json_object_del(admin, "http_port");
	assert_int_equal(fb_site_from_json(admin, &back, NULL), 0);
	assert_int_equal(back.ports[FB_PORT_DNS], APPLIANCE_DNS_PORT);
	assert_int_equal(back.ports[FB_PORT_HTTP], APPLIANCE_DEFAULT_HTTP_PORT);
	fb_site_done(&back);

	/* Nothing to verify without an address. */
	json_object_del(admin, "address");
	assert_int_equal(fb_site_from_json(admin, &back, &err), -EINVAL);
	assert_string_equal(err, "the status has no admin address");
	json_decref(admin);
}

/* ---- status ---- */

/* Where state lives: gapbox-init's record under a root, as the status shows it. */
static void test_status_state(void **state)
{
	_cleanup_free_ char *text = NULL, *html = NULL, *record = NULL, *rundir = NULL;
	struct gb_state_record rec = { .created = false };
	json_t *st = status_new(), *s;

	(void)state;
	/* No record: state in RAM, and why. */
	s = fb_state_json(tmp_dir);
	assert_string_equal(json_string_value(json_object_get(s, "mode")), "ram");
	assert_non_null(strstr(json_string_value(json_object_get(s, "reason")), "left no record"));
	json_decref(s);

	snprintf(rec.mode, sizeof(rec.mode), "data");
	snprintf(rec.device, sizeof(rec.device), "/dev/sda4");
	snprintf(rec.label, sizeof(rec.label), "GAPBOX-DATA");
	snprintf(rec.fsck, sizeof(rec.fsck), "clean");
	snprintf(rec.build_id, sizeof(rec.build_id), "0123456789abcdef");
	snprintf(rec.other_builds, sizeof(rec.other_builds), "fedcba9876543210");
	assert_int_equal(gb_state_record_format(&rec, &record), 0);
	rundir = strdup(tmp_path("run/gapbox"));
	assert_int_equal(mkdir_p(rundir, 0755), 0);
	assert_int_equal(write_file_atomic(tmp_path("run/gapbox/state"), record, strlen(record), 0644), 0);
	/* The data partition's use comes from statvfs of its mount point: here, the test's folder. */
	assert_int_equal(mkdir_p(tmp_path("run/gapbox/data"), 0755), 0);
	s = fb_state_json(tmp_dir);
	assert_string_equal(json_string_value(json_object_get(s, "mode")), "data");
	assert_string_equal(json_string_value(json_array_get(json_object_get(s, "other_builds"), 0)), "fedcba9876543210");
	assert_true(json_integer_value(json_object_get(s, "size_bytes")) > 0);
	assert_true(json_array_size(json_object_get(s, "kept")) >= 5);
	json_object_set_new(st, "state", s);
	json_object_set_new(st, "admin", json_pack("{s:s}", "cidr", "192.168.10.10/24"));
	assert_int_equal(status_render_text(st, &text), 0);
	assert_non_null(strstr(text, "State:  kept on /dev/sda4 (LABEL=GAPBOX-DATA, e2fsck: clean): "));
	assert_non_null(strstr(text, " GiB used ("));
	assert_non_null(strstr(text, "also keeps the root layers of other builds, unused by this one: fedcba9876543210\n"));
	assert_int_equal(status_render_html(st, &html), 0);
	assert_non_null(strstr(html, "<h2>State</h2>\n<p>kept on /dev/sda4"));

	json_object_set_new(st, "state", json_pack("{s:s, s:s}", "mode", "ram", "reason", "0 MiB free after the image on sda"));
	free(text);
	text = NULL;
	assert_int_equal(status_render_text(st, &text), 0);
	assert_non_null(strstr(text, "State:  in RAM, lost at reboot (0 MiB free after the image on sda)\n"));
	assert_null(strstr(text, "SAMPLE"));

	/* A sample payload (make demo) says so on the banner and the page. */
	json_object_set_new(json_object_get(st, "admin"), "payload_sample", json_true());
	free(text);
	free(html);
	text = html = NULL;
	assert_int_equal(status_render_text(st, &text), 0);
	assert_non_null(strstr(text, "Payload: a SAMPLE made by gapbox's fixture generator (make demo), not a site's "
				     "kubespray-offline outputs/\n"));
	assert_int_equal(status_render_html(st, &html), 0);
	assert_non_null(strstr(html, "<p class=\"bad\">Payload: a SAMPLE made by gapbox's fixture generator"));
	json_decref(st);
}

static void test_status(void **state)
{
	_cleanup_free_ char *text = NULL, *html = NULL, *issue = NULL;
	char *path = tmp_path("status.json");
	json_t *st = status_new(), *loaded = NULL;

	(void)state;
	assert_non_null(st);
	json_object_set_new(st, "admin", json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "cidr", "192.168.10.10/24", "domain",
						   "gapbox.lan", "http_url", "http://192.168.10.10", "node_setup_sha256",
						   "0123abcd", "node_command", "curl ... && sudo sh node-setup.sh", "access", 1));
	for (const struct fb_service *const *s = fb_services; *s; s++)
		status_set(status_service(st, *s), "configured", 1);
	assert_true(status_healthy(st));
	status_set(status_service(st, &fb_service_dns), "running", 1);
	status_set(status_service(st, &fb_service_dns), "verified", 0);
	status_error(status_service(st, &fb_service_dns), "no answer");
	status_error(status_service(st, &fb_service_dns), "no answer"); /* said once */
	status_error(status_service(st, &fb_service_dns), "<b>&");
	status_detail(status_service(st, &fb_service_http), "http://192.168.10.10/");
	assert_false(status_healthy(st));
	/* gapbox-init's boot record, as configure takes it in. */
	json_object_set_new(st, "boot", boot_record_to_json(&(struct boot_record){
		.from_ram = true, .medium_released = true, .medium = "sr0", .ram_bytes = 812 * 1024 * 1024 }));

	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	assert_int_equal(status_save(path, st), 0);
	unsetenv("SOURCE_DATE_EPOCH");
	assert_int_equal(status_load(path, &loaded, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(loaded, "generated")), "2023-11-14T22:13:20Z");
	assert_true(json_is_false(json_object_get(loaded, "healthy")));

	assert_int_equal(status_render_text(loaded, &text), 0);
	assert_non_null(strstr(text, "gapbox admin server 192.168.10.10/24 (admin.gapbox.lan): NOT HEALTHY\n"));
	assert_non_null(strstr(text, "  dns       yes        yes     NO       ERROR: no answer; <b>&\n"));
	assert_non_null(strstr(text, "  http      yes        -       -        http://192.168.10.10/\n"));
	assert_null(strstr(text, "Login:"));
	assert_non_null(strstr(text, "\nRuns:   from RAM (812 MiB copied and checked); the medium sr0 was released and can "
				     "be removed\n"));
	assert_non_null(strstr(text, "\nNodes:  node-setup.sh has sha256 0123abcd; on each node, download it, check it, "
				     "run it:\n        curl ... && sudo sh node-setup.sh\n"));
	assert_int_equal(status_render_html(loaded, &html), 0);
	assert_non_null(strstr(html, "no answer; &lt;b&gt;&amp;"));
	assert_non_null(strstr(html, "has sha256 <code>0123abcd</code>"));
	assert_non_null(strstr(html, "<code>curl ... &amp;&amp; sudo sh node-setup.sh</code>"));
	assert_null(strstr(html, "<b>&"));
	assert_non_null(strstr(html, "<p>Runs from RAM (812 MiB copied and checked); the medium sr0 was released"));
	assert_int_equal(status_render_issue(loaded, &issue), 0);
	assert_non_null(strstr(issue, "NOT HEALTHY"));

	/* Without a boot record (an initramfs that writes none), no line about it. */
	free(text);
	text = NULL;
	json_object_del(loaded, "boot");
	assert_int_equal(status_render_text(loaded, &text), 0);
	assert_null(strstr(text, "Runs:"));

	/* Not a status file. */
	assert_int_equal(write_file_atomic(path, "[1]", 3, 0644), 0);
	{
		_cleanup_free_ char *err = NULL;
		json_t *bad = NULL;

		assert_int_equal(status_load(path, &bad, &err), -EINVAL);
		assert_non_null(strstr(err, "not a gapbox status"));
	}
	unlink(path);
	json_decref(st);
	json_decref(loaded);
}

/* ---- probes, against servers in this process ---- */

struct fake_server {
	int fd;
	int kind; /* 0: DNS answering 192.168.10.10, 1: NTP stratum 10 */
};

static void *serve_one(void *arg)
{
	struct fake_server *s = arg;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	uint8_t q[512], a[512];
	ssize_t n = recvfrom(s->fd, q, sizeof(q), 0, (struct sockaddr *)&peer, &len);

	if (n <= 0)
		return NULL;
	if (s->kind == 0) {
		/* Echo the question, add one A record pointing at it by compression. */
		static const uint8_t answer[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 168, 10, 10 };

		memcpy(a, q, (size_t)n);
		a[2] = 0x81, a[3] = 0x80, a[7] = 1;
		memcpy(a + n, answer, sizeof(answer));
		sendto(s->fd, a, (size_t)n + sizeof(answer), 0, (struct sockaddr *)&peer, len);
	} else {
		memset(a, 0, 48);
		a[0] = (4 << 3) | 4;
		a[1] = 10;
		memcpy(a + 24, q + 40, 8);
		sendto(s->fd, a, 48, 0, (struct sockaddr *)&peer, len);
	}
	return NULL;
}

static int udp_listener(unsigned *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

static void test_probes(void **state)
{
	struct in_addr lo = { .s_addr = htonl(INADDR_LOOPBACK) }, want;
	struct fake_server s;
	_cleanup_free_ char *err = NULL, *comm = NULL;
	unsigned port, stratum = 0;
	pthread_t t;
	int pid;

	(void)state;
	assert_int_equal(ipv4_parse("192.168.10.10", &want), 0);
	s.fd = udp_listener(&port);
	s.kind = 0;
	/* The socket is ours, so its owner is this process. */
	assert_int_equal(probe_port_owner(false, lo, port, &pid, &comm), 1);
	assert_int_equal(pid, getpid());
	assert_int_equal(pthread_create(&t, NULL, serve_one, &s), 0);
	assert_int_equal(probe_dns(lo, port, "admin.gapbox.lan", want, 2000, &err), 0);
	pthread_join(t, NULL);
	/* No answer: a timeout, said in words. */
	assert_int_equal(probe_dns(lo, port, "admin.gapbox.lan", want, 200, &err), -ETIMEDOUT);
	assert_non_null(strstr(err, "no answer to a query for admin.gapbox.lan within 200 ms"));
	close(s.fd);

	s.fd = udp_listener(&port);
	s.kind = 1;
	assert_int_equal(pthread_create(&t, NULL, serve_one, &s), 0);
	assert_int_equal(probe_ntp(lo, port, 2000, &stratum, NULL), 0);
	assert_int_equal(stratum, 10);
	pthread_join(t, NULL);
	close(s.fd);
	/* Nothing there any more. */
	assert_int_equal(probe_port_owner(false, lo, port, &pid, &comm), 0);
}

/* ---- registry store and storage ---- */

/* The pre-filled tags: nested names, and only tags with a current link. */
static void test_store_tags(void **state)
{
	_cleanup_strv_free_ char **tags = NULL;
	const char *links[] = { "library/nginx/_manifests/tags/1.29.2", "a/b/c/_manifests/tags/v1", "pause/_manifests/tags/3.10",
				"pause/_manifests/tags/latest" };
	char path[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		snprintf(path, sizeof(path), "tags/" GB_PAYLOAD_REGISTRY_ROOT "/repositories/%s/current", links[i]);
		assert_int_equal(mkdir_p(tmp_path(path), 0755), 0);
		strcat(path, "/link");
		assert_int_equal(write_file_atomic(tmp_path(path), "sha256:x", 8, 0644), 0);
	}
	/* A tag folder without its link, and the registry's own folders: not tags. */
	assert_int_equal(mkdir_p(tmp_path("tags/" GB_PAYLOAD_REGISTRY_ROOT "/repositories/pause/_manifests/tags/half"), 0755), 0);
	assert_int_equal(mkdir_p(tmp_path("tags/" GB_PAYLOAD_REGISTRY_ROOT "/repositories/pause/_layers/sha256"), 0755), 0);
	assert_int_equal(fb_registry_store_tags(tmp_path("tags"), &tags), 0);
	assert_int_equal(strv_length(tags), 4);
	assert_string_equal(tags[0], "a/b/c:v1");
	assert_string_equal(tags[1], "library/nginx:1.29.2");
	assert_string_equal(tags[2], "pause:3.10");
	assert_string_equal(tags[3], "pause:latest");
	/* No store: no tags. */
	strv_free(tags);
	tags = NULL;
	assert_int_equal(fb_registry_store_tags(tmp_path("no-such-payload"), &tags), 0);
	assert_int_equal(strv_length(tags), 0);
}

/* ---- registry storage (needs root and mounts) ---- */

static void test_storage(void **state)
{
	_cleanup_free_ char *note = NULL, *err = NULL, *fstype = NULL;
	char *lower = strdup(tmp_path("lower")), *rw = strdup(tmp_path("rw")), *target = strdup(tmp_path("merged"));
	const uid_t uid = 65534;
	struct stat st;
	pid_t child;
	int status, r;

	(void)state;
	if (geteuid() != 0) {
		free(lower), free(rw), free(target);
		skip();
	}
	assert_int_equal(mkdir_p(tmp_path("lower/docker/registry/v2/repositories/pause/_manifests/tags/3.10/current"), 0555), 0);
	assert_int_equal(write_file_atomic(tmp_path("lower/docker/registry/v2/repositories/pause/_manifests/tags/3.10/current/link"),
					   "sha256:x", 8, 0444), 0);
	r = fb_registry_storage_mount(lower, rw, target, "16m", uid, uid, &note, &err);
	if (r == -EPERM || (r < 0 && err && strstr(err, "Operation not permitted"))) {
		free(lower), free(rw), free(target);
		skip();
	}
	if (r < 0)
		fail_msg("fb_registry_storage_mount: %s", err ? err : strerror(-r));
	assert_int_equal(fb_mount_point_type(target, &fstype), 1);
	assert_string_equal(fstype, "overlay");
	assert_int_equal(fb_mount_point_type(rw, NULL), 1);
	/* Mounted already: nothing to do. */
	assert_int_equal(fb_registry_storage_mount(lower, rw, target, "16m", uid, uid, NULL, NULL), 0);

	/* As the registry's user: new repositories and new tags, but no pre-filled tag rewritten. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (setgid(uid) < 0 || setuid(uid) < 0)
			_exit(2);
		if (mkdir_p(tmp_path("merged/docker/registry/v2/repositories/calico/node"), 0755) < 0)
			_exit(3);
		if (mkdir_p(tmp_path("merged/docker/registry/v2/repositories/pause/_manifests/tags/new/current"), 0755) < 0)
			_exit(4);
		/* The registry rewrites a link in place (O_TRUNC), not by rename: refused. */
		int fd = open(tmp_path("merged/docker/registry/v2/repositories/pause/_manifests/tags/3.10/current/link"),
			      O_WRONLY | O_TRUNC | O_CLOEXEC);

		if (fd >= 0 || errno != EACCES)
			_exit(5);
		/* Nor a second index entry for it. */
		if (mkdir(tmp_path("merged/docker/registry/v2/repositories/pause/_manifests/tags/3.10/index"), 0755) == 0 ||
		    errno != EACCES)
			_exit(6);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The payload itself is untouched. */
	assert_false(path_exists(tmp_path("lower/docker/registry/v2/repositories/calico")));
	assert_int_equal(stat(tmp_path("lower/docker/registry/v2/repositories/pause/_manifests/tags/3.10/current/link"), &st), 0);
	assert_int_equal(st.st_uid, 0);
	/* The tmpfs under the writable layer has the size asked for. */
	assert_non_null(strstr(note, "16m"));

	/* Mounted again over the same writable layer, as after a reboot with a data partition: the
	 * tag pushed above stays the registry's, the pre-filled one root's. */
	assert_int_equal(umount(target), 0);
	free(note);
	note = NULL;
	assert_int_equal(fb_registry_storage_mount(lower, rw, target, "16m", uid, uid, &note, &err), 0);
	assert_non_null(strstr(note, "writable layer kept in"));
	assert_int_equal(stat(tmp_path("merged/docker/registry/v2/repositories/pause/_manifests/tags/new/current"), &st), 0);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(stat(tmp_path("merged/docker/registry/v2/repositories/pause/_manifests/tags/3.10/current/link"), &st), 0);
	assert_int_equal(st.st_uid, 0);

	assert_int_equal(umount(target), 0);
	assert_int_equal(umount(rw), 0);
	assert_int_equal(fb_mount_point_type(target, NULL), 0);
	assert_int_equal(fb_registry_storage_plain(tmp_path("plain"), uid, uid), 0);
	assert_int_equal(stat(tmp_path("plain"), &st), 0);
	assert_int_equal(st.st_uid, uid);
	rm_rf(lower);
	rm_rf(rw);
	rm_rf(target);
	rm_rf(tmp_path("plain"));
	free(lower), free(rw), free(target);
}

/* Whatever happened in test_storage, nothing stays mounted. */
static int storage_teardown(void **state)
{
	(void)state;
	if (fb_mount_point_type(tmp_path("merged"), NULL) > 0)
		umount2(tmp_path("merged"), MNT_DETACH);
	if (fb_mount_point_type(tmp_path("rw"), NULL) > 0)
		umount2(tmp_path("rw"), MNT_DETACH);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/gapbox-test-firstboot-render-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(tmp_dir))
		return -1;
	/* The storage test's child runs as another user and must reach its files. */
	chmod(tmp_dir, 0755);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	fb_site_done(&site);
	appliance_free(cfg);
	rm_rf(tmp_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install),
		cmocka_unit_test(test_sbuf_cap),
		cmocka_unit_test(test_nat_render),
		cmocka_unit_test(test_network_render),
		cmocka_unit_test(test_dns_render),
		cmocka_unit_test(test_ntp_and_nodes_render),
		cmocka_unit_test(test_site_record),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_state),
		cmocka_unit_test(test_probes),
		cmocka_unit_test_teardown(test_storage, storage_teardown),
		cmocka_unit_test(test_store_tags),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
