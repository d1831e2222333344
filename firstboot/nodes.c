/* What the nodes need, with the real admin address in it: kubespray's offline.yml (seed 000),
 * an inventory skeleton, pip.conf, and node-setup.sh, which sets a node up in one command. */
#include "render.h"

#include <stdio.h>
#include <string.h>

static const char *const mirrored[] = { FB_MIRRORED_REGISTRIES };

static int offline_yml(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;

	render_header(&b, "#", "kubespray offline settings for the site %s", s->cfg->domain);
	sbuf_printf(&b,
		    "# Copy to inventory/<cluster>/group_vars/all/offline.yml (fetch it from\n"
		    "# %s/gapbox/offline.yml).\n"
		    "\n"
		    "http_server: \"%s\"\n"
		    "registry_host: \"%s\"\n"
		    "\n"
		    "# containerd pulls from the admin's registry, also for images named after the public\n"
		    "# registries (the images were pushed there without their registry prefix).\n"
		    "containerd_registries_mirrors:\n"
		    "  - prefix: \"{{ registry_host }}\"\n"
		    "    mirrors:\n"
		    "      - host: \"http://{{ registry_host }}\"\n"
		    "        capabilities: [\"pull\", \"resolve\"]\n"
		    "        skip_verify: true\n",
		    s->http_url, s->http_url, s->registry_host);
	for (size_t i = 0; i < ARRAY_SIZE(mirrored); i++)
		sbuf_printf(&b,
			    "  - prefix: \"%s\"\n"
			    "    mirrors:\n"
			    "      - host: \"http://{{ registry_host }}\"\n"
			    "        capabilities: [\"pull\", \"resolve\"]\n"
			    "        skip_verify: false\n",
			    mirrored[i]);
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
		  "quay_image_repo: \"{{ registry_host }}\"\n"
		  "\n"
		  "# Download URLs (roles/download/defaults/main.yml of kubespray), for every architecture.\n"
		  "kubeadm_download_url: \"{{ files_repo }}/kubernetes/v{{ kube_version }}/kubeadm\"\n"
		  "kubectl_download_url: \"{{ files_repo }}/kubernetes/v{{ kube_version }}/kubectl\"\n"
		  "kubelet_download_url: \"{{ files_repo }}/kubernetes/v{{ kube_version }}/kubelet\"\n"
		  "etcd_download_url: \"{{ files_repo }}/kubernetes/etcd/etcd-v{{ etcd_version }}-linux-{{ image_arch }}.tar.gz\"\n"
		  "cni_download_url: \"{{ files_repo }}/kubernetes/cni/cni-plugins-linux-{{ image_arch }}-v{{ cni_version }}.tgz\"\n"
		  "crictl_download_url: \"{{ files_repo }}/kubernetes/cri-tools/crictl-v{{ crictl_version }}-{{ ansible_system | lower }}-{{ image_arch }}.tar.gz\"\n"
		  "runc_download_url: \"{{ files_repo }}/runc/v{{ runc_version }}/runc.{{ image_arch }}\"\n"
		  "nerdctl_download_url: \"{{ files_repo }}/nerdctl-{{ nerdctl_version }}-{{ ansible_system | lower }}-{{ image_arch }}.tar.gz\"\n"
		  "containerd_download_url: \"{{ files_repo }}/containerd-{{ containerd_version }}-linux-{{ image_arch }}.tar.gz\"\n"
		  "helm_download_url: \"{{ files_repo }}/helm-v{{ helm_version }}-linux-{{ image_arch }}.tar.gz\"\n"
		  "# If using Calico\n"
		  "calicoctl_download_url: \"{{ files_repo }}/kubernetes/calico/v{{ calico_ctl_version }}/calicoctl-linux-{{ image_arch }}\"\n"
		  "calico_crds_download_url: \"{{ files_repo }}/kubernetes/calico/v{{ calico_version }}.tar.gz\"\n"
		  "# If using Cilium\n"
		  "ciliumcli_download_url: \"{{ files_repo }}/cilium-cli/v{{ cilium_cli_version }}/cilium-linux-{{ image_arch }}.tar.gz\"\n");
	fb_files_add(out, FB_NODE_DIR "/offline.yml", &b, 0644, false);
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
	group(&b, c, "kube_control_plane", NODE_CONTROL_PLANE, "k8s-node1");
	group(&b, c, "etcd", NODE_ETCD, "k8s-node1");
	group(&b, c, "kube_node", NODE_WORKER, "k8s-node2");
	sbuf_puts(&b, "\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n");
	fb_files_add(out, FB_NODE_DIR "/inventory.ini", &b, 0644, false);
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

/* The body of node-setup.sh after its settings; POSIX sh, every step idempotent. */
static const char node_setup_body[] =
	"\n"
	"# Run as `curl ... | sh`, the shell reads this script from stdin: commands below that could\n"
	"# read stdin get </dev/null. For tests: GAPBOX_NODE_ROOT=DIR writes every file under DIR and\n"
	"# runs no command that changes the system. GAPBOX_KEEP_REPOS=1 leaves the node's other package\n"
	"# sources enabled.\n"
	"ROOT=${GAPBOX_NODE_ROOT:-}\n"
	"KEEP_REPOS=${GAPBOX_KEEP_REPOS:-0}\n"
	"\n"
	"say() { printf 'gapbox-node: %s\\n' \"$*\"; }\n"
	"warn() { printf 'gapbox-node: warning: %s\\n' \"$*\" >&2; }\n"
	"die() { printf 'gapbox-node: error: %s\\n' \"$*\" >&2; exit 1; }\n"
	"live() { [ -z \"$ROOT\" ]; }\n"
	"has() { command -v \"$1\" >/dev/null 2>&1; }\n"
	"active() { live && has systemctl && systemctl is-active --quiet \"$1\" 2>/dev/null; }\n"
	"\n"
	"# put PATH MODE TEXT: make PATH hold TEXT (and a newline); CHANGED=1 when it had to change.\n"
	"# The first time a file is replaced, the original is kept as PATH.gapbox-orig.\n"
	"CHANGED=0\n"
	"put() {\n"
	"	dest=$ROOT$1\n"
	"	if [ -f \"$dest\" ] && [ ! -L \"$dest\" ] && [ \"$(cat \"$dest\")\" = \"$3\" ]; then\n"
	"		CHANGED=0\n"
	"		return 0\n"
	"	fi\n"
	"	mkdir -p \"$(dirname \"$dest\")\"\n"
	"	if [ -e \"$dest\" ] || [ -L \"$dest\" ]; then\n"
	"		[ -e \"$dest.gapbox-orig\" ] || [ -L \"$dest.gapbox-orig\" ] || cp -P \"$dest\" \"$dest.gapbox-orig\"\n"
	"		rm -f \"$dest\"\n"
	"	fi\n"
	"	printf '%s\\n' \"$3\" > \"$dest\"\n"
	"	chmod \"$2\" \"$dest\"\n"
	"	CHANGED=1\n"
	"	say \"wrote $1\"\n"
	"}\n"
	"\n"
	"# unput PATH: remove a file an earlier run wrote.\n"
	"unput() {\n"
	"	CHANGED=0\n"
	"	if [ -e \"$ROOT$1\" ]; then\n"
	"		rm -f \"$ROOT$1\"\n"
	"		CHANGED=1\n"
	"		say \"removed $1\"\n"
	"	fi\n"
	"}\n"
	"\n"
	"# park DIR PATTERN BACKUP: move the node's other package sources into BACKUP, once.\n"
	"park() {\n"
	"	[ \"$KEEP_REPOS\" = 1 ] && return 0\n"
	"	for f in \"$ROOT$1\"/$2; do\n"
	"		[ -f \"$f\" ] || continue\n"
	"		case ${f##*/} in gapbox.*) continue ;; esac\n"
	"		mkdir -p \"$ROOT$3\"\n"
	"		mv \"$f\" \"$ROOT$3/\"\n"
	"		say \"moved ${f#\"$ROOT\"} to $3/\"\n"
	"	done\n"
	"}\n"
	"\n"
	"if live && [ \"$(id -u)\" != 0 ]; then die \"run me as root (curl -fsSL $HTTP/gapbox/node-setup.sh | sudo sh)\"; fi\n"
	"[ -r \"$ROOT/etc/os-release\" ] || die \"$ROOT/etc/os-release not found: cannot tell the distribution\"\n"
	"# shellcheck disable=SC1091 # the node's own os-release\n"
	"os=$(. \"$ROOT/etc/os-release\"; echo \" ${ID:-} ${ID_LIKE:-} \")\n"
	"case $os in\n"
	"*\" rhel \"*|*\" centos \"*|*\" fedora \"*|*\" rocky \"*|*\" almalinux \"*) family=rhel ;;\n"
	"*\" debian \"*|*\" ubuntu \"*) family=debian ;;\n"
	"*) die \"unsupported distribution:$os(expected RHEL, Rocky, Alma, Debian or Ubuntu)\" ;;\n"
	"esac\n"
	"say \"setting up a $family node for $DOMAIN from $ADMIN\"\n"
	"\n"
	"# 1. Names from the admin's DNS; NetworkManager must not rewrite resolv.conf.\n"
	"if [ -d \"$ROOT/etc/NetworkManager\" ]; then\n"
	"	put /etc/NetworkManager/conf.d/99-gapbox-dns-none.conf 0644 \"[main]\n"
	"dns=none\"\n"
	"	if [ \"$CHANGED\" = 1 ] && active NetworkManager; then systemctl restart NetworkManager; fi\n"
	"fi\n"
	"put /etc/resolv.conf 0644 \"search $DOMAIN\n"
	"nameserver $ADMIN\"\n"
	"\n"
	"# 2. Packages from the admin's repository; the node's other sources are parked, since the air\n"
	"# gap has no way to them.\n"
	"if [ \"$family\" = rhel ]; then\n"
	"	park /etc/yum.repos.d '*.repo' /etc/yum.repos.d/gapbox-backup\n"
	"	put /etc/yum.repos.d/gapbox.repo 0644 \"[gapbox-offline]\n"
	"name=gapbox offline repository ($ADMIN)\n"
	"baseurl=$HTTP/rpms/local/\n"
	"enabled=1\n"
	"gpgcheck=0\"\n"
	"	if [ \"$CHANGED\" = 1 ] && live; then\n"
	"		if has dnf; then dnf clean all </dev/null >/dev/null || true; else yum clean all </dev/null >/dev/null || true; fi\n"
	"	fi\n"
	"	pkg_install() { if has dnf; then dnf install -y \"$@\" </dev/null; else yum install -y \"$@\" </dev/null; fi; }\n"
	"	chrony_conf=/etc/chrony.conf\n"
	"	chrony_unit=chronyd\n"
	"	drift=/var/lib/chrony/drift\n"
	"else\n"
	"	park /etc/apt/sources.list.d '*.list' /etc/apt/gapbox-backup\n"
	"	park /etc/apt/sources.list.d '*.sources' /etc/apt/gapbox-backup\n"
	"	park /etc/apt 'sources.list' /etc/apt/gapbox-backup\n"
	"	put /etc/apt/sources.list.d/gapbox.list 0644 \"deb [trusted=yes] $HTTP/debs/local/ ./\"\n"
	"	if [ \"$CHANGED\" = 1 ] && live; then apt-get update </dev/null || warn \"apt-get update failed\"; fi\n"
	"	pkg_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y \"$@\" </dev/null; }\n"
	"	chrony_conf=/etc/chrony/chrony.conf\n"
	"	chrony_unit=chrony\n"
	"	drift=/var/lib/chrony/chrony.drift\n"
	"fi\n"
	"\n"
	"# 3. Time from the admin.\n"
	"if live && ! has chronyd; then pkg_install chrony || warn \"chrony is not installed and could not be installed\"; fi\n"
	"put \"$chrony_conf\" 0644 \"server $ADMIN iburst\n"
	"driftfile $drift\n"
	"makestep 1 3\n"
	"rtcsync\n"
	"logdir /var/log/chrony\"\n"
	"if [ \"$CHANGED\" = 1 ] && live && has chronyd; then\n"
	"	systemctl enable \"$chrony_unit\" >/dev/null 2>&1 || true\n"
	"	systemctl restart \"$chrony_unit\" || warn \"could not restart $chrony_unit\"\n"
	"fi\n"
	"\n"
	"# 4. Python packages from the admin's PyPI mirror.\n"
	"put /etc/pip.conf 0644 \"[global]\n"
	"index-url = $HTTP/pypi/\n"
	"trusted-host = $ADMIN\n"
	"timeout = 60\"\n"
	"\n"
	"# 5. containerd pulls through the admin's registry; it reads these files at each pull.\n"
	"for reg in \"$REGISTRY\" $MIRRORS; do\n"
	"	if [ \"$reg\" = \"$REGISTRY\" ]; then server=\"http://$REGISTRY\" skip=true; else server=\"https://$reg\" skip=false; fi\n"
	"	put \"/etc/containerd/certs.d/$reg/hosts.toml\" 0644 \"server = \\\"$server\\\"\n"
	"\n"
	"[host.\\\"http://$REGISTRY\\\"]\n"
	"  capabilities = [\\\"pull\\\", \\\"resolve\\\"]\n"
	"  skip_verify = $skip\"\n"
	"done\n"
	"\n"
	"# 6. A default route through the admin while its NAT is on, taken away once it is off.\n"
	"netplan_route=/etc/netplan/99-gapbox-route.yaml\n"
	"dev=\n"
	"conn=\n"
	"if live && has ip; then\n"
	"	dev=$(ip -4 route get \"$ADMIN\" 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p' | head -n 1)\n"
	"fi\n"
	"if [ -n \"$dev\" ] && has nmcli && active NetworkManager; then\n"
	"	conn=$(nmcli -g GENERAL.CONNECTION device show \"$dev\" 2>/dev/null | head -n 1)\n"
	"fi\n"
	"has_nm_route() { nmcli -g ipv4.routes connection show \"$conn\" 2>/dev/null | grep -q \"0.0.0.0/0 $ADMIN\"; }\n"
	"if [ \"$NAT\" = 1 ]; then\n"
	"	if [ -n \"$conn\" ]; then\n"
	"		if ! has_nm_route; then\n"
	"			nmcli connection modify \"$conn\" +ipv4.routes \"0.0.0.0/0 $ADMIN 200\"\n"
	"			nmcli device reapply \"$dev\" || nmcli connection up \"$conn\"\n"
	"			say \"default route via $ADMIN on $dev ($conn)\"\n"
	"		fi\n"
	"	elif [ -n \"$dev\" ]; then\n"
	"		ip -4 route replace default via \"$ADMIN\" dev \"$dev\" metric 200\n"
	"		if [ -d \"$ROOT/etc/netplan\" ]; then\n"
	"			put \"$netplan_route\" 0600 \"network:\n"
	"  version: 2\n"
	"  ethernets:\n"
	"    $dev:\n"
	"      routes:\n"
	"        - to: default\n"
	"          via: $ADMIN\n"
	"          metric: 200\"\n"
	"		fi\n"
	"		say \"default route via $ADMIN on $dev\"\n"
	"	elif live; then\n"
	"		warn \"no route to $ADMIN: is this node on the internal network?\"\n"
	"	fi\n"
	"else\n"
	"	if [ -n \"$conn\" ] && has_nm_route; then\n"
	"		nmcli connection modify \"$conn\" -ipv4.routes \"0.0.0.0/0 $ADMIN 200\"\n"
	"		nmcli device reapply \"$dev\" || nmcli connection up \"$conn\"\n"
	"		say \"removed the default route via $ADMIN (its NAT is off)\"\n"
	"	fi\n"
	"	if [ -n \"$dev\" ]; then ip -4 route del default via \"$ADMIN\" dev \"$dev\" metric 200 2>/dev/null || true; fi\n"
	"	unput \"$netplan_route\"\n"
	"fi\n"
	"\n"
	"say \"done: DNS and NTP from $ADMIN, packages from $HTTP, images from $REGISTRY\"\n";

static int node_setup_sh(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;

	sbuf_puts(&b, "#!/bin/sh\n");
	render_header(&b, "#", "node setup for the site %s", s->cfg->domain);
	sbuf_printf(&b,
		    "# Sets up a RHEL/Rocky/Alma or Debian/Ubuntu node to use the admin server: its DNS, NTP,\n"
		    "# package repository, PyPI mirror and registry (containerd mirrors). Safe to run again.\n"
		    "#   curl -fsSL %s/gapbox/node-setup.sh | sudo sh\n"
		    "set -eu\n"
		    "\n"
		    "ADMIN=%s\n"
		    "DOMAIN=%s\n"
		    "HTTP=%s\n"
		    "REGISTRY=%s\n"
		    "MIRRORS=\"",
		    s->http_url, s->address, s->cfg->domain, s->http_url, s->registry_host);
	for (size_t i = 0; i < ARRAY_SIZE(mirrored); i++)
		sbuf_printf(&b, "%s%s", i ? " " : "", mirrored[i]);
	sbuf_printf(&b, "\"\n# The admin's NAT: %s.\nNAT=%d\n", s->nat ? "on" : "off", s->nat);
	sbuf_puts(&b, node_setup_body);
	fb_files_add(out, FB_NODE_DIR "/node-setup.sh", &b, 0755, false);
	return out->error;
}

int nodes_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;
	int r;

	r = offline_yml(s, out);
	if (r >= 0)
		r = inventory_ini(s, out);
	if (r < 0)
		return r;
	render_header(&b, "#", "pip configuration for the nodes of %s", s->cfg->domain);
	sbuf_puts(&b, "# Install as /etc/pip.conf (node-setup.sh does).\n");
	pip_conf(&b, s);
	fb_files_add(out, FB_NODE_DIR "/pip.conf", &b, 0644, false);
	if (out->error)
		return out->error;
	return node_setup_sh(s, out);
}
