/* The appliance configuration: /etc/gapbox/appliance.yaml (schema in
 * overlay/usr/share/doc/gapbox/appliance.md) with gapbox.* kernel-parameter overrides. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "macros.h"
#include "sha256.h"

#define APPLIANCE_NAT_AUTO (-1)
#define APPLIANCE_DEFAULT_ADDRESS "192.168.10.10/24"
#define APPLIANCE_DEFAULT_DOMAIN "gapbox.lan"
#define APPLIANCE_DEFAULT_HTTP_PORT 80
#define APPLIANCE_DEFAULT_REGISTRY_PORT 35000
/* Pushes land in RAM: a quarter of it by default, like a tmpfs of its own (half is the kernel's
 * default for one), so a runaway push cannot starve the services. */
#define APPLIANCE_DEFAULT_REGISTRY_WRITABLE "25%"
/* bind9 and chrony answer on their standard ports, which the configuration does not change. */
#define APPLIANCE_DNS_PORT 53
#define APPLIANCE_NTP_PORT 123
/* A DNS name's length at most (RFC 1035), without the trailing dot. */
#define APPLIANCE_DOMAIN_MAX 253
/* Room for the admin and a few nodes at least; a /31 or /32 has none. */
#define APPLIANCE_PREFIX_MIN 8
#define APPLIANCE_PREFIX_MAX 30
#define APPLIANCE_NODES_MAX 1000

enum node_role {
	NODE_CONTROL_PLANE = 1 << 0,
	NODE_ETCD = 1 << 1,
	NODE_WORKER = 1 << 2,
};

struct appliance_node {
	char *name;            /* one DNS label, also the kubespray inventory name */
	struct in_addr address;
	unsigned roles;        /* enum node_role bits, defaults applied (see appliance_load) */
	char *where;           /* "PATH:LINE:COLUMN" of its address, for later messages */
};

struct appliance {
	struct in_addr address;    /* the admin's internal address ... */
	unsigned prefix;           /* ... and the internal subnet's prefix length */
	char *internal;            /* "auto", an interface name or a MAC address */
	char *external;            /* "auto", "none", an interface name or a MAC address */
	int nat;                   /* 0, 1 or APPLIANCE_NAT_AUTO (on when there is an external NIC) */
	char *domain;              /* the site's DNS domain */
	char **dns_forwarders;     /* NULL-terminated; empty by default (air gap) */
	char **ntp_servers;        /* NULL-terminated; empty by default (air gap) */
	unsigned http_port;
	unsigned registry_port;
	char **registry_strip;     /* extra registry hosts stripped from image names */
	char **registry_push_users; /* "user:hash" htpasswd lines: who may push from the network */
	char *registry_writable_size; /* the registry's writable layer: tmpfs size= ("25%", "4g") */
	bool registry_tls;         /* nginx serves the registry over TLS with the site CA's certificate */
	char *registry_tls_ca_cert; /* the site CA (PEM) to use instead of one made at first boot ... */
	char *registry_tls_ca_key;  /* ... and its private key (PEM), a secret; both or neither */
	struct appliance_node *nodes;
	size_t n_nodes;
	char **ssh_keys;           /* root's authorized_keys lines */
	char **ssh_host_keys;      /* OpenSSH private host keys (ed25519, ECDSA) to use instead of new ones */
	char *root_password_hash;  /* crypt(3) hash, NULL: leave root's password alone */
	char *node_ssh_user;       /* the user Ansible on the admin logs in to the nodes as, NULL: root */
	char *address_where;       /* where network.address was set, for messages */
	char *internal_where;      /* where network.internal, network.external and network.nat were */
	char *external_where;      /* set ("PATH:LINE:COLUMN"), NULL: not in the file */
	char *nat_where;
	char *http_port_where;     /* where http.port and registry.port were set, NULL: the defaults */
	char *registry_port_where;
};

/* The built-in defaults (every list non-NULL and empty). */
int appliance_new_default(struct appliance **ret);
void appliance_free(struct appliance *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct appliance *, appliance_free)

/* Where a configuration file is used. */
enum appliance_use {
	/* On the machine: /etc/gapbox/appliance.yaml as first boot reads it (the data partition's,
	 * when one is mounted over /etc/gapbox). */
	APPLIANCE_ON_MACHINE,
	/* Baked into an image (gapbox build --config): it may hold no private key material (the
	 * keys marked .private_key: access.ssh_host_keys, registry.tls_ca_key), which every copy
	 * of the image would carry. */
	APPLIANCE_IN_IMAGE,
};

/* What appliance_load read. */
struct appliance_source {
	bool missing;                     /* no file: the defaults */
	char sha256[SHA256_HEX_LEN + 1];  /* of the bytes loaded; "" when missing */
};

/* Defaults, then PATH on top, each value checked, for use on the machine. Nodes without roles
 * get defaults: if no node has any, the first is control-plane and etcd and all are workers;
 * else they are workers. A missing file is not an error: it gives the defaults (-ENOENT is
 * returned only through ret_source->missing). RET_SOURCE (may be NULL) gets the sha256 of the
 * bytes loaded. On bad content returns -EINVAL with *ret_error = "PATH:LINE:COLUMN: what was
 * expected, got what". */
int appliance_load(const char *path, struct appliance **ret, struct appliance_source *ret_source, char **ret_error);
/* The same for the LEN bytes at BUF (NAME stands for the file in messages), for USE: with
 * APPLIANCE_IN_IMAGE a private key is refused at its key's LINE:COLUMN, before anything else in
 * the sections is looked at. */
int appliance_load_data(const char *name, const char *buf, size_t len, enum appliance_use use,
			struct appliance **ret, char **ret_error);

/* Whether PATH sets a key marked secret (.secret in the key table), whatever else it holds,
 * valid or not: 1 with *ret_key its name ("access.root_password_hash"), 0 when it sets none or
 * cannot be read as YAML, or -ENOMEM. */
int appliance_secret_key(const char *path, char **ret_key);
/* Every secret key the LEN bytes at BUF set, in the key table's order (an empty vector when
 * none, or when they are not YAML). 0 or -ENOMEM. */
int appliance_secret_keys_data(const char *buf, size_t len, char ***ret_keys);

/* What only the machine can check, of what A sets: a NIC named by name or MAC exists there;
 * nat: true finds an external NIC there. One line each, "PATH:LINE:COLUMN: KEY: ...", in
 * *ret (NULL-terminated, empty when none). For gapbox build, which cannot. 0 or -ENOMEM. */
int appliance_machine_checks(const struct appliance *a, char ***ret);

/* Apply gapbox.address=, gapbox.internal=, gapbox.external=, gapbox.nat=, gapbox.domain= from
 * the kernel command line LINE. A bad value is skipped and described in *ret_errors (joined
 * with "; ", NULL when all were good); *ret_applied lists what was applied ("gapbox.nat=0"). */
int appliance_apply_cmdline(struct appliance *a, const char *line, char **ret_applied, char **ret_errors);

/* Checks that need the whole configuration (after overrides): nodes inside the internal subnet,
 * distinct names and addresses. Returns 0 or -EINVAL with *ret_error set. The ports are checked
 * against the services' by fb_check_ports (service.h). */
int appliance_validate(const struct appliance *a, char **ret_error);

/* Value checks shared with the kernel-parameter parser; NULL when S is acceptable, else what
 * was expected. */
const char *appliance_check_domain(const char *s);
const char *appliance_check_nic(const char *s);
bool appliance_is_mac(const char *s);
