/* The site: the appliance configuration resolved against this machine. configure builds it and
 * every renderer reads it; it is also the "admin" object of status.json, which configure writes
 * and verify reads back, so both stages see one typed record (writer and reader in site.c). */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "appliance.h"
#include "netaddr.h"
#include "nics.h"
#include "payloadrecord.h"
#include "sha256.h"

/* The ports the site's services answer on: the index into fb_site.ports. */
enum fb_port {
	FB_PORT_NONE,
	FB_PORT_DNS,
	FB_PORT_NTP,
	FB_PORT_HTTP,
	FB_PORT_REGISTRY,
	N_FB_PORTS,
};

struct fb_site {
	/* configure's alone, not in the record: NULL and "" when read back from the status. */
	const struct appliance *cfg;
	bool internal_by_mac;     /* networkd matches the NIC by MAC rather than by name */
	bool external_by_mac;
	/* A netboot came over the internal NIC (the boot record's nic_mac is its MAC): the address
	 * gapbox-init gave it for the netboot ("10.0.2.15/24 from DHCP"), which networkd keeps beside
	 * the site's; "" otherwise. */
	char internal_boot_address[64];
	/* The node OS families the payload's package repositories are for (the payload record's
	 * node_os): node-setup.sh refuses a node of another. NULL when the record does not say. */
	char **node_os;
	/* The payload is a sample made by gapbox's fixture generator (the record's sample), which
	 * the status says wherever it names the payload. */
	bool payload_sample;
	/* The payload record's kubespray and where its downloads are: offline.yml's download URLs. */
	struct payload_record_kubespray kubespray;
	/* Every tag the payload's registry store holds, "name:tag": no push may replace one. */
	char **registry_tags;

	/* The record. */
	struct fb_nic internal;   /* name "" when there is none; the MAC only at configure */
	struct fb_nic external;
	struct in_addr address_ip;
	char address[INET_ADDRSTRLEN];  /* 192.168.10.10 */
	unsigned prefix;
	char cidr[IPV4_CIDR_MAX + 1];   /* 192.168.10.10/24 */
	char subnet[IPV4_CIDR_MAX + 1]; /* 192.168.10.0/24 */
	char domain[APPLIANCE_DOMAIN_MAX + 1];
	bool nat;                       /* in effect: wanted (or auto) and there is an external NIC */
	unsigned ports[N_FB_PORTS];     /* [FB_PORT_NONE] is 0 */
	char http_url[64];              /* http://192.168.10.10, with :PORT unless 80 */
	char registry_host[64];         /* 192.168.10.10:35000 */
	char node_setup_sha256[SHA256_HEX_LEN + 1]; /* of the served node-setup.sh; "" when unknown */
	bool registry_tls;              /* nginx serves the registry over TLS (registry.tls) */
	/* The site CA's certificate (PEM) that nodes fetch, NULL when not known (under --root
	 * without one there); configure's alone, like cfg. */
	char *tls_ca_pem;
	char tls_ca_sha256[SHA256_HEX_LEN + 1]; /* of tls_ca_pem, as sha256sum prints it; "" without */
	/* The admin's SSH public key (adminkey.h) that node-setup.sh installs for Ansible, NULL when
	 * there is none; configure's alone, like cfg. */
	char *admin_key;
	/* What a node runs: download node-setup.sh, check its sha256, run it. */
	char node_command[320];
	bool access;                    /* someone can log in: an SSH key or a root password */
	char *payload;                  /* where the payload is read from */
	/* Every registry the payload's image names were stripped of: the built-in ones, the payload
	 * record's and the configuration's registry.strip_registries; NULL-terminated. */
	char **strip_registries;
};

/* Fill S from CFG, the NIC choice, the PAYLOAD folder and the registries the payload record says
 * the build stripped (NULL-terminated, may be NULL). *ret_nat_error (may be NULL) explains NAT asked
 * for without an external NIC. Returns 0 or -ENOMEM; fb_site_done() frees S either way. */
int fb_site_init(struct fb_site *s, const struct appliance *cfg, const struct nic_choice *nics, const char *payload,
		 char *const *payload_strip, const char **ret_nat_error);
void fb_site_done(struct fb_site *s);
/* Take PEM (may be NULL) as the site CA's certificate, and its sha256. */
void fb_site_set_tls_ca(struct fb_site *s, char *pem);
/* Record HEX, the sha256 of the node-setup.sh rendered for S, and the node command that checks it. */
void fb_site_set_node_setup(struct fb_site *s, const char *hex);

/* The number of port P in CFG, the configuration key that sets it (NULL for a fixed port: DNS,
 * NTP) and where the file set it ("PATH:LINE:COLUMN", NULL for a default); RET_* may be NULL. */
unsigned fb_site_config_port(const struct appliance *cfg, enum fb_port p, const char **ret_key,
			     const char **ret_where);

/* The record as status.json's "admin" object; NULL when out of memory. */
json_t *fb_site_to_json(const struct fb_site *s);
/* Read ADMIN back into *ret (cfg NULL). Ports that are missing get the defaults. -EINVAL with
 * *ret_error when there is no usable address or domain. */
int fb_site_from_json(json_t *admin, struct fb_site *ret, char **ret_error);
