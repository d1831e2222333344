/* The admin's network interfaces: which NICs exist, and which one is internal (the site
 * network, static address) and which external (DHCP, NAT out of it). */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

struct fb_nic {
	char name[IFNAMSIZ]; /* "" when the role has no interface */
	char mac[18];        /* lowercase "52:54:00:12:34:56", "" when unknown */
	int ifindex;
};

/* Physical NICs (those with a device behind them) from SYSFS_NET (NULL: /sys/class/net), in
 * ifindex order, which is the order the kernel found them. */
int nics_discover(const char *sysfs_net, struct fb_nic **ret, size_t *ret_n);
/* Wait until udev is done with every NIC of SYSFS_NET (NULL: /sys/class/net): it renames them
 * (eth0 -> enp0s1) while it works through its queue at boot, and a name read before that would
 * go stale in the network units, the firewall and the status. Done means udev's database has
 * the NIC (UDEV_DB/n<ifindex>; NULL: /run/udev/data), which udev writes after any rename.
 * Checks every POLL_MS for up to TIMEOUT_MS. 0, or -ETIMEDOUT with *ret_pending naming the NICs
 * udev had not finished ("eth0, eth1"). */
int nics_wait_settled(const char *sysfs_net, const char *udev_db, unsigned timeout_ms, unsigned poll_ms,
		      char **ret_pending);
/* The test form "ens3=52:54:00:00:00:01,ens4=52:54:00:00:00:02" (MACs optional), in order. */
int nics_parse(const char *spec, struct fb_nic **ret, size_t *ret_n);

struct nic_choice {
	struct fb_nic internal;
	struct fb_nic external;
	char *error; /* what could not be honoured, NULL when everything was */
};

/* Apply the configured wishes ("auto", "none" for external, a name or a MAC) to NICS.
 * Automatic: with two or more NICs the first is external and the second internal; with one it
 * is internal and there is no external. A named interface that does not exist leaves its role
 * empty (never guessed) and sets ret->error. TRUST_NAMES (rendering with --root and no NIC
 * list) takes names and MACs as given. Returns 0 or -ENOMEM. */
int nics_choose(const struct fb_nic *nics, size_t n, const char *want_internal, const char *want_external,
		bool trust_names, struct nic_choice *ret);
void nic_choice_done(struct nic_choice *c);
