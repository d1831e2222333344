/* What the nodes need, with the real admin address in it: kubespray's offline.yml (seed 000),
 * an inventory skeleton, pip.conf, and node-setup.sh, which sets a node up in one command. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "imageref.h"
#include "nodes.h"
#include "render.h"
#include "service.h"
#include "status.h"
#include "strv.h"
#include "tls.h"

/* firstboot/node-setup.sh, NUL-terminated (embedded.S). */
extern const char fb_node_setup_sh[];

/* The lines around its settings block, which rendering replaces. */
#define SETTINGS_BEGIN "\n# gapbox: settings begin"
#define SETTINGS_END "\n# gapbox: settings end"

/* A path offline.yml can carry as is: no quote, backslash, Jinja or control character, and
 * nothing that leaves /files/. */
static bool plain_path(const char *p)
{
	if (!*p || *p == '/' || strstr(p, "..") || strstr(p, "{{") || strstr(p, "{%"))
		return false;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._/+-~:@%,=", *p))
			return false;
	return true;
}

/* Text for a comment line: control characters become '?'. */
static void comment_text(struct sbuf *b, const char *s)
{
	for (; *s; s++)
		sbuf_putn(b, iscntrl((unsigned char)*s) ? "?" : s, 1);
}

/* Every *_download_url of the payload's kubespray that the payload holds a file for, at the
 * path the payload has it: the payload carries one version of each file for one architecture,
 * so the concrete path is the only one that can answer, and the admin need not evaluate
 * kubespray's Jinja and the nodes' facts (ansible_architecture, ansible_system) to name it. A
 * node whose inventory asks for another version then fails on kubespray's checksum, by name. */
static void download_urls(struct sbuf *b, const struct payload_record_kubespray *k)
{
	bool any_absent = false;

	if (!k->version) {
		sbuf_puts(b, "\n# Download URLs: none. The payload carries no kubespray (files/kubespray-<version>.tar.gz),\n"
			     "# so which files it fetches is not known here: set each *_download_url to\n"
			     "# \"{{ files_repo }}/<its path under files/>\".\n");
		return;
	}
	sbuf_printf(b, "\n# Download URLs: every *_download_url of kubespray %s's download.yml whose file the\n"
		       "# payload holds, where kubespray-offline saved it (these versions, this architecture).\n",
		    k->version);
	for (size_t i = 0; i < k->n_downloads; i++) {
		const struct payload_record_download *d = &k->downloads[i];

		if (d->path && plain_path(d->path) && plain_path(d->variable))
			sbuf_printf(b, "%s: \"{{ files_repo }}/%s\"\n", d->variable, d->path);
	}
	for (size_t i = 0; i < k->n_downloads; i++) {
		const struct payload_record_download *d = &k->downloads[i];

		if (d->path && plain_path(d->path) && plain_path(d->variable))
			continue;
		if (!any_absent)
			sbuf_puts(b, "# Left out (kubespray keeps its Internet URL, which a node in the air gap cannot reach):\n");
		any_absent = true;
		sbuf_puts(b, "#   ");
		comment_text(b, d->variable);
		sbuf_puts(b, ": ");
		comment_text(b, d->path ? "its path has characters offline.yml does not carry" :
			     d->absent ? d->absent : "not in the payload");
		sbuf_puts(b, "\n");
	}
}

/* MIRRORS: the registries whose pulls containerd sends to the admin's registry. */
static int offline_yml(const struct fb_site *s, char *const *mirrors, struct fb_files *out)
{
	const char *scheme = s->registry_tls ? "https" : "http";
	struct sbuf b = SBUF_INIT;

	if (s->kubespray.version)
		render_header(&b, "#", "kubespray %s offline settings for the site %s", s->kubespray.version, s->domain);
	else
		render_header(&b, "#", "kubespray offline settings for the site %s", s->domain);
	sbuf_printf(&b,
		    "# Copy to inventory/<cluster>/group_vars/all/offline.yml (fetch it from\n"
		    "# %s/gapbox/offline.yml).\n"
		    "\n"
		    "http_server: \"%s\"\n"
		    "registry_host: \"%s\"\n"
		    "\n"
		    "# containerd pulls from the admin's registry, also for images named after the public\n"
		    "# registries (the images were pushed there without their registry prefix).\n",
		    s->http_url, s->http_url, s->registry_host);
	if (s->registry_tls)
		sbuf_puts(&b, "# The registry speaks TLS with a certificate of the site CA, which node-setup.sh\n"
			      "# installs for containerd and the system (run it on every node before kubespray).\n");
	sbuf_printf(&b,
		    "containerd_registries_mirrors:\n"
		    "  - prefix: \"{{ registry_host }}\"\n"
		    "    mirrors:\n"
		    "      - host: \"%s://{{ registry_host }}\"\n"
		    "        capabilities: [\"pull\", \"resolve\"]\n"
		    "        skip_verify: %s\n",
		    scheme, s->registry_tls ? "false" : "true");
	for (char *const *m = mirrors; *m; m++)
		sbuf_printf(&b,
			    "  - prefix: \"%s\"\n"
			    "    mirrors:\n"
			    "      - host: \"%s://{{ registry_host }}\"\n"
			    "        capabilities: [\"pull\", \"resolve\"]\n"
			    "        skip_verify: false\n",
			    *m, scheme);
	if (s->registry_tls)
		sbuf_puts(&b,
			  "\n"
			  "# CRI-O and Docker trust the site CA through the system trust store (node-setup.sh): no\n"
			  "# insecure registries.\n"
			  "crio_insecure_registries: []\n"
			  "docker_insecure_registries: []\n");
	else
		sbuf_puts(&b,
			  "\n"
			  "# CRI-O and Docker reach the admin's registry over plain HTTP.\n"
			  "crio_insecure_registries:\n"
			  "  - \"{{ registry_host }}\"\n"
			  "docker_insecure_registries:\n"
			  "  - \"{{ registry_host }}\"\n");
	sbuf_puts(&b,
		  "\n"
		  "files_repo: \"{{ http_server }}/files\"\n"
		  "yum_repo: \"{{ http_server }}/rpms\"\n"
		  "ubuntu_repo: \"{{ http_server }}/debs\"\n"
		  "\n"
		  "# Registry overrides: every image comes from the admin's registry.\n"
		  "kube_image_repo: \"{{ registry_host }}\"\n"
		  "gcr_image_repo: \"{{ registry_host }}\"\n"
		  "github_image_repo: \"{{ registry_host }}\"\n"
		  "docker_image_repo: \"{{ registry_host }}\"\n"
		  "quay_image_repo: \"{{ registry_host }}\"\n");
	download_urls(&b, &s->kubespray);
	fb_files_add(out, GB_RUN_NODE_FILES "/offline.yml", &b, 0644, false);
	return out->error;
}

static void group(struct sbuf *b, const struct appliance *c, const char *name, unsigned role, const char *example)
{
	bool any = false;

	sbuf_printf(b, "\n[%s]\n", name);
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].roles & role) {
			sbuf_printf(b, "%s\n", c->nodes[i].name);
			any = true;
		}
	if (!any)
		sbuf_printf(b, "# %s\n", example);
}

/* The user Ansible on the admin logs in to the nodes as. */
static const char *ssh_user(const struct fb_site *s)
{
	return s->cfg && s->cfg->node_ssh_user ? s->cfg->node_ssh_user : "root";
}

static int inventory_ini(const struct fb_site *s, struct fb_files *out)
{
	const struct appliance *c = s->cfg;
	struct sbuf b = SBUF_INIT;
	char addr[INET_ADDRSTRLEN];

	render_header(&b, "#", "kubespray inventory skeleton for the site %s", c->domain);
	sbuf_printf(&b,
		    "# The nodes of the configuration (nodes:), with the roles given there. Copy to\n"
		    "# inventory/<cluster>/inventory.ini and adjust; names resolve as NAME.%s.\n"
		    "\n"
		    "[all]\n",
		    c->domain);
	for (size_t i = 0; i < c->n_nodes; i++) {
		ipv4_format(c->nodes[i].address, addr);
		sbuf_printf(&b, "%s ansible_host=%s ip=%s\n", c->nodes[i].name, addr, addr);
	}
	if (c->n_nodes == 0)
		sbuf_puts(&b, "# k8s-node1 ansible_host=192.168.10.11 ip=192.168.10.11\n");
	/* Ansible's user: the one node-setup.sh installs the admin's key for; another than root
	 * reaches root with sudo, which kubespray's tasks need. */
	sbuf_printf(&b, "\n[all:vars]\nansible_user=%s\n", ssh_user(s));
	if (!streq(ssh_user(s), "root"))
		sbuf_puts(&b, "ansible_become=true\n");
	group(&b, c, "kube_control_plane", NODE_CONTROL_PLANE, "k8s-node1");
	group(&b, c, "etcd", NODE_ETCD, "k8s-node1");
	group(&b, c, "kube_node", NODE_WORKER, "k8s-node2");
	sbuf_puts(&b, "\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n");
	fb_files_add(out, GB_RUN_NODE_FILES "/inventory.ini", &b, 0644, false);
	return out->error;
}

static void pip_conf(struct sbuf *b, const struct fb_site *s)
{
	sbuf_printf(b,
		    "[global]\n"
		    "index-url = %s/pypi/\n"
		    "trusted-host = %s\n"
		    "timeout = 60\n",
		    s->http_url, s->address);
}

/* "debian rhel9": the payload record's node OS families, space-separated. */
static void node_os_list(struct sbuf *b, char *const *node_os)
{
	for (char *const *f = node_os; *f; f++)
		sbuf_printf(b, "%s%s", f == node_os ? "" : " ", *f);
}

/* node-setup.sh: the file of the source tree with the site's values in its settings block. */
static int node_setup_sh(const struct fb_site *s, char *const *mirrors, struct sbuf *b)
{
	const char *begin = strstr(fb_node_setup_sh, SETTINGS_BEGIN), *end = strstr(fb_node_setup_sh, SETTINGS_END);

	if (!begin || !end || end < begin)
		return -EINVAL; /* a node-setup.sh without its markers cannot be built from */
	begin = strchr(begin + 1, '\n');
	sbuf_putn(b, fb_node_setup_sh, (size_t)(begin + 1 - fb_node_setup_sh));
	render_header(b, "#", "node setup for the site %s", s->domain);
	sbuf_printf(b,
		    "# Its sha256 and the command that checks it before running it are on the admin's\n"
		    "# console and status page, %s/.\n"
		    "ADMIN=%s\n"
		    "DOMAIN=%s\n"
		    "HTTP=%s\n"
		    "REGISTRY=%s\n"
		    "MIRRORS=\"",
		    s->http_url, s->address, s->domain, s->http_url, s->registry_host);
	for (char *const *m = mirrors; *m; m++)
		sbuf_printf(b, "%s%s", m == mirrors ? "" : " ", *m);
	sbuf_printf(b, "\"\n# The admin's NAT: %s.\nNAT=%d", s->nat ? "on" : "off", s->nat);
	if (s->node_os) {
		sbuf_puts(b, "\n# The node OS the payload's package repositories are for (its record).\nREPOS=\"");
		node_os_list(b, s->node_os);
		sbuf_puts(b, "\"");
	} else
		sbuf_puts(b, "\n# The payload record does not say which node OS its package repositories are for.\n"
			     "REPOS=unknown");
	if (s->admin_key)
		sbuf_printf(b, "\n# The admin's SSH public key, which Ansible on the admin logs in with, installed for SSH_USER\n"
			       "# (access.node_ssh_user).\nADMIN_KEY=\"%s\"\nSSH_USER=%s", s->admin_key, ssh_user(s));
	else
		sbuf_printf(b, "\n# The admin has no SSH key for Ansible (its status says why): none is installed.\n"
			       "ADMIN_KEY=\nSSH_USER=%s", ssh_user(s));
	if (s->registry_tls)
		sbuf_printf(b, "\n# The registry speaks TLS with a certificate of the site CA, %s/gapbox/" FB_TLS_CA_NODE_FILE
			       ",\n# whose sha256 is CA_SHA256 (empty: not known when this file was made).\n"
			       "REGISTRY_TLS=1\nCA_SHA256=%s", s->http_url, s->tls_ca_sha256);
	sbuf_puts(b, end);
	return 0;
}

int nodes_setup_sha256(const struct fb_site *s, char hex[static SHA256_HEX_LEN + 1])
{
	_cleanup_strv_free_ char **mirrors = NULL;
	_cleanup_free_ char *text = NULL;
	struct sbuf b = SBUF_INIT;
	size_t size;
	int r;

	r = image_ref_mirror_hosts(s->strip_registries, &mirrors);
	if (r < 0)
		return r;
	r = node_setup_sh(s, mirrors, &b);
	if (r < 0) {
		sbuf_free(&b);
		return r;
	}
	r = sbuf_finish(&b, &text, &size);
	if (r < 0)
		return r;
	return gb_sha256_data(text, size, hex);
}

static int nodes_render(const struct fb_site *s, struct fb_files *out)
{
	_cleanup_strv_free_ char **mirrors = NULL;
	struct sbuf b = SBUF_INIT;
	int r;

	r = image_ref_mirror_hosts(s->strip_registries, &mirrors);
	if (r >= 0)
		r = offline_yml(s, mirrors, out);
	if (r >= 0)
		r = inventory_ini(s, out);
	if (r < 0)
		return r;
	render_header(&b, "#", "pip configuration for the nodes of %s", s->domain);
	sbuf_puts(&b, "# Install as /etc/pip.conf (node-setup.sh does).\n");
	pip_conf(&b, s);
	fb_files_add(out, GB_RUN_NODE_FILES "/pip.conf", &b, 0644, false);
	if (out->error)
		return out->error;
	/* The admin's own pip (gapbox-kubespray's venv, the operator's) uses its mirror on loopback. */
	render_header(&b, "#", "pip configuration of the admin of %s", s->domain);
	if (s->ports[FB_PORT_HTTP] == 80)
		sbuf_puts(&b, "[global]\nindex-url = http://127.0.0.1/pypi/\ntimeout = 60\n");
	else
		sbuf_printf(&b, "[global]\nindex-url = http://127.0.0.1:%u/pypi/\ntimeout = 60\n", s->ports[FB_PORT_HTTP]);
	fb_files_add(out, FB_ADMIN_PIP_CONF, &b, 0644, false);
	if (out->error)
		return out->error;
	r = node_setup_sh(s, mirrors, &b);
	if (r < 0) {
		sbuf_free(&b);
		return r;
	}
	fb_files_add(out, GB_RUN_NODE_FILES "/node-setup.sh", &b, 0755, false);
	/* The CA's certificate, public, for node-setup.sh to fetch (its key stays on the admin). */
	if (s->registry_tls && s->tls_ca_pem) {
		sbuf_puts(&b, s->tls_ca_pem);
		fb_files_add(out, GB_RUN_NODE_FILES "/" FB_TLS_CA_NODE_FILE, &b, 0644, false);
	} else
		fb_files_add_absent(out, GB_RUN_NODE_FILES "/" FB_TLS_CA_NODE_FILE, false);
	return out->error;
}

/* nginx serves them: when it does not answer, neither are they served. */
static void nodes_verify(struct fb_verify *v, json_t *svc)
{
	if (json_is_true(json_object_get(status_service(v->st, &fb_service_http), "verified")))
		(void)fb_verify_http(v, svc, FB_PORT_HTTP, "/gapbox/node-setup.sh", "node-setup.sh is not served");
	else
		status_set(svc, "verified", 0);
}

static void nodes_describe(const struct fb_site *s, json_t *svc)
{
	struct sbuf b = SBUF_INIT;
	_cleanup_free_ char *os = NULL;

	status_detail(svc, "%s/gapbox/", s->http_url);
	if (!s->node_os)
		return;
	node_os_list(&b, s->node_os);
	if (sbuf_finish(&b, &os, NULL) < 0)
		return;
	if (os[0])
		status_detail(svc, "package repositories for %s nodes", os);
	else
		status_detail(svc, "the payload has no package repository for the nodes");
}

const struct fb_service fb_service_nodes = {
	.name = "nodes",
	.describe = nodes_describe, .render = nodes_render, .verify = nodes_verify,
};
