/* Bringing up the boot NIC for a netboot: the NIC BOOTIF= names (or each one with a link), then the
 * static address of ip= or a DHCP lease from busybox's udhcpc. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <net/if.h>

#include "params.h"

/* Where udhcpc's event program (gapbox-init itself, see net_dhcp_event_main) writes a lease. */
#define NET_LEASE_DIR GB_RUN_DIR "/net"
/* Set in udhcpc's environment, which it hands its event program: the lease file to write. */
#define NET_LEASE_ENV "GAPBOX_DHCP_LEASE"

/* What came up. */
struct net_link {
	char ifname[IF_NAMESIZE];
	uint8_t mac[6];
	bool dhcp;                 /* the address came from a DHCP lease */
	struct in_addr addr, netmask, gateway, server; /* server: the boot server (siaddr / ip='s server) */
	struct in_addr dns[2];
};

/*
 * Waits up to TIMEOUT_SEC for the NIC P names (BOOTIF=, ip='s device) or, when it names none,
 * for NICs with a link, and configures the first one that gets an address: ip='s static address,
 * or DHCP. Says on the console what it waited for and found. Returns 0 with *RET filled, or a
 * negative errno after saying why no NIC came up.
 */
int net_up(const struct init_params *p, unsigned timeout_sec, struct net_link *ret);

/* Once the images are in RAM: removes the default route net_up added, so that the admin's own
 * routing (its external NIC's gateway) is not outranked by it, and takes the NIC down with its
 * address kept: udev renames only a NIC that is down (eth0 to its predictable name), and
 * systemd-networkd then brings it up as the appliance configures it. */
void net_release(const struct net_link *l);

/* "ens3 (52:54:00:12:34:56) 10.0.2.15/24 via 10.0.2.2, from DHCP". */
const char *net_link_describe(const struct net_link *l, char *buf, size_t size);

/* True when gapbox-init was started by udhcpc as its event program. */
bool net_dhcp_event_invoked(void);
/* udhcpc's event program: on "bound" and "renew", writes the lease udhcpc put in the environment
 * to the file NET_LEASE_ENV names (KEY=VALUE lines, through a temporary name). Returns the exit
 * status. */
int net_dhcp_event_main(int argc, char **argv);

/* Parse a lease file's TEXT (the lines net_dhcp_event_main writes) into RET's address fields.
 * -EBADMSG when it has no usable address. */
int net_lease_parse(const char *text, struct net_link *ret);
