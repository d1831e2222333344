/* IPv4 addresses and subnets as the appliance uses them: parsing "A.B.C.D/P", subnet
 * membership, and the names of reverse DNS zones. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Text forms: "255.255.255.255/32" fits. */
#define IPV4_CIDR_MAX 19

/* Dotted quad, decimal, no leading zeros (inet_pton's rules). Returns 0 or -EINVAL. */
int ipv4_parse(const char *s, struct in_addr *ret);
/* "A.B.C.D/P" with 0 <= P <= 32. Returns 0 or -EINVAL. */
int ipv4_parse_cidr(const char *s, struct in_addr *ret_addr, unsigned *ret_prefix);

uint32_t ipv4_mask(unsigned prefix);  /* host order */
struct in_addr ipv4_network(struct in_addr a, unsigned prefix);
struct in_addr ipv4_broadcast(struct in_addr a, unsigned prefix);
bool ipv4_in_subnet(struct in_addr a, struct in_addr net, unsigned prefix);
bool ipv4_equal(struct in_addr a, struct in_addr b);

void ipv4_format(struct in_addr a, char buf[static INET_ADDRSTRLEN]);
/* "192.168.10.0/24" for A/P. */
void ipv4_format_subnet(struct in_addr a, unsigned prefix, char buf[static IPV4_CIDR_MAX + 1]);

/* The reverse zone that holds the subnet of A/P: whole octets only, so the prefix is rounded
 * down to a multiple of 8 (at least 8): 192.168.10.10/24 -> "10.168.192.in-addr.arpa",
 * /20 -> "168.192.in-addr.arpa". *ret_octets (may be NULL) gets the number of network octets
 * in the zone name. Returns 0 or -ENAMETOOLONG. */
int ipv4_reverse_zone(struct in_addr a, unsigned prefix, char *buf, size_t size, unsigned *ret_octets);
/* Owner name of host H inside that zone, relative to it: "10" in a /24 zone, "10.10" in a /16. */
int ipv4_reverse_owner(struct in_addr h, unsigned zone_octets, char *buf, size_t size);
