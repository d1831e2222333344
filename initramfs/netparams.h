/* The network parameters of a netboot: gapbox.fetch=URL, the kernel's ip= syntax and BOOTIF=, parsed
 * without side effects. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <net/if.h>

/* The longest gapbox.fetch= URL; the artifact paths of the manifest are added to it. */
#define NETBOOT_URL_MAX 1024

/* ip=: the kernel's nfsroot syntax (Documentation/admin-guide/nfs/nfsroot.rst), which pxelinux's
 * IPAPPEND 1 and iPXE scripts write:
 * ip=<client>:<server>:<gateway>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>, or one word
 * (dhcp, on, any, off, none). */
struct net_ipconf {
	bool given;             /* ip= was on the command line */
	bool dhcp;              /* ask DHCP (no client address, or autoconf dhcp/on/any/both) */
	struct in_addr client, server, gateway, netmask; /* INADDR_ANY when empty */
	char hostname[65];
	char device[IF_NAMESIZE];
	struct in_addr dns[2];
};

/* -EINVAL for a field that is not what the syntax says (an address that is not dotted quad, a
 * netmask that is not contiguous, a device name too long, a static address without a netmask
 * that cannot be derived, autoconf other than the kernel's words). */
int net_ipconf_parse(const char *value, struct net_ipconf *ret);

/* BOOTIF=: the boot NIC's hardware address as pxelinux (IPAPPEND 2: "01-aa-bb-cc-dd-ee-ff", 01 being
 * Ethernet's ARP type) and GRUB ("aa:bb:cc:dd:ee:ff") write it. -EINVAL for anything else. */
int net_bootif_parse(const char *value, uint8_t ret_mac[6]);

/* gapbox.fetch=: an http:// URL with a host, without whitespace, quotes or control
 * characters, at most NETBOOT_URL_MAX bytes. -EINVAL or -ENAMETOOLONG. */
int net_fetch_url_check(const char *url);

/* Prefix length of a contiguous netmask, or -EINVAL. */
int net_netmask_prefix(struct in_addr mask);

/* "aa:bb:cc:dd:ee:ff". */
const char *net_mac_text(const uint8_t mac[6], char buf[static 18]);
