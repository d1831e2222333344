/* gapbox-kubespray: the kubespray workspace on the admin (seed 000's last mile). init extracts the
 * payload's kubespray, installs its Python requirements into a venv from the admin's own PyPI
 * mirror and puts the inventory and offline.yml in place; preflight checks, per node of the
 * inventory, what a long playbook would otherwise find late. */
#pragma once

#include <stdbool.h>


/* Where the workspace lives: a bind mount of the data partition when state is kept (lib/persist.c). */
#define FB_KUBESPRAY_WORKSPACE "/var/lib/gapbox/kubespray"
#define FB_KUBESPRAY_CLUSTER "mycluster"
/* The record of what gapbox wrote into the workspace, "SHA256  PATH" a line (sha256sum's format):
 * a file whose sha256 is no longer the recorded one was edited, and is kept. */
#define FB_KUBESPRAY_WRITTEN ".gapbox-written"

/* kubespray-offline's ansible_in_container payloads: its image, imported into the admin's
 * containerd in this namespace with a snapshotter that works on any file system (the admin's
 * root is an overlay, on which containerd's overlayfs snapshotter cannot put its upper layers);
 * the image's name is kept in the workspace's FB_ANSIBLE_IMAGE_FILE. */
#define FB_ANSIBLE_ARCHIVE "images/kubespray-offline-ansible.tar.gz"
#define FB_ANSIBLE_NAMESPACE "gapbox"
#define FB_ANSIBLE_SNAPSHOTTER "native"
#define FB_ANSIBLE_IMAGE_FILE ".gapbox-ansible-image"

struct fb_kubespray_options {
	const char *workspace;   /* NULL: FB_KUBESPRAY_WORKSPACE */
	const char *payload;     /* NULL: GB_RUN_PAYLOAD */
	const char *node_files;  /* NULL: GB_RUN_NODE_FILES (offline.yml, inventory.ini, node-setup.sh) */
	const char *status;      /* NULL: GB_RUN_STATUS (the admin's address, domain and ports) */
	const char *index_url;   /* NULL: the admin's mirror on loopback, http://127.0.0.1[:PORT]/pypi/ */
	const char *cluster;     /* NULL: FB_KUBESPRAY_CLUSTER */
	const char *ssh_key;     /* NULL: the admin's key, /root/.ssh/id_ed25519 (made when there is none) */
};

/* Both return 0 when all went well, 1 when what they checked is not ready (preflight: a node
 * failed a check), negative errno when they could not do their job; they say why on stderr. */
int fb_kubespray_init(const struct fb_kubespray_options *o);
int fb_kubespray_preflight(const struct fb_kubespray_options *o);
/* Runs ARGS (ansible, ansible-playbook...) with the workspace's Ansible: the venv's, else in the
 * payload's Ansible image through containerd, the workspace, the payload and the SSH key's folder
 * mounted at their own paths, in the current folder when it is in one of them (else in the
 * kubespray folder). Returns only on failure, negative errno. */
int fb_kubespray_exec(const struct fb_kubespray_options *o, char **args);

/* A requirements.txt line's distribution name, normalized as PEP 503 says (runs of -, _ and . are
 * one -, lower case), and its version when it pins one with ==; 0, -ENOENT for a line that names
 * none (blank, comment, option), -EINVAL when it is not a requirement. For tests. */
int fb_requirement_parse(const char *line, char **ret_name, char **ret_version);
/* Whether the pypi-mirror folder PYPI (pypi/<name>/ holds the files) has NAME, and VERSION when
 * not NULL: 1, 0, or negative errno. *ret_versions (optional) lists the versions it has, joined
 * with ", ". */
int fb_mirror_has(const char *pypi, const char *name, const char *version, char **ret_versions);

/* A host of an Ansible INI inventory as preflight reaches it. */
struct fb_inventory_host {
	char *name;
	char *host; /* ansible_host */
	char *user; /* ansible_user: the host's, else [all:vars]'s, else root */
	char *port; /* ansible_port, NULL: SSH's */
};

/* The hosts of the INI inventory PATH: every "NAME ansible_host=ADDR ..." line, in any group, once
 * each, with its ansible_user and ansible_port (the host's own, else [all:vars]'s, wherever that
 * section is). 0, or negative errno (said on stderr). */
int fb_inventory_hosts(const char *path, struct fb_inventory_host **ret, size_t *ret_n);
void fb_inventory_hosts_free(struct fb_inventory_host *hosts, size_t n);
