/* IPv4 parsing, subnet arithmetic and reverse-zone names. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ipv4_parse(const char *s, struct in_addr *ret)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret = a;
	return 0;
}

int ipv4_parse_cidr(const char *s, struct in_addr *ret_addr, unsigned *ret_prefix)
{
	char text[INET_ADDRSTRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	unsigned prefix = 0;
	size_t n;

	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, n);
	text[n] = '\0';
	/* One or two digits, no sign, no leading zero: "/024" is a typo, not 24. */
	if (!slash[1] || strlen(slash + 1) > 2 || (slash[1] == '0' && slash[2]))
		return -EINVAL;
	for (const char *c = slash + 1; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		prefix = prefix * 10 + (unsigned)(*c - '0');
	}
	if (prefix > 32 || ipv4_parse(text, ret_addr) < 0)
		return -EINVAL;
	*ret_prefix = prefix;
	return 0;
}

uint32_t ipv4_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

struct in_addr ipv4_network(struct in_addr a, unsigned prefix)
{
	return (struct in_addr){ .s_addr = htonl(ntohl(a.s_addr) & ipv4_mask(prefix)) };
}

struct in_addr ipv4_broadcast(struct in_addr a, unsigned prefix)
{
	return (struct in_addr){ .s_addr = htonl(ntohl(a.s_addr) | ~ipv4_mask(prefix)) };
}

bool ipv4_in_subnet(struct in_addr a, struct in_addr net, unsigned prefix)
{
	return ((ntohl(a.s_addr) ^ ntohl(net.s_addr)) & ipv4_mask(prefix)) == 0;
}

bool ipv4_equal(struct in_addr a, struct in_addr b)
{
	return a.s_addr == b.s_addr;
}

void ipv4_format(struct in_addr a, char buf[static INET_ADDRSTRLEN])
{
	if (!inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN))
		snprintf(buf, INET_ADDRSTRLEN, "0.0.0.0");
}

void ipv4_format_subnet(struct in_addr a, unsigned prefix, char buf[static IPV4_CIDR_MAX + 1])
{
	char net[INET_ADDRSTRLEN];

	ipv4_format(ipv4_network(a, prefix), net);
	snprintf(buf, IPV4_CIDR_MAX + 1, "%s/%u", net, prefix);
}

static void octets(struct in_addr a, unsigned o[4])
{
	uint32_t h = ntohl(a.s_addr);

	for (int i = 0; i < 4; i++)
		o[i] = (h >> (24 - 8 * i)) & 0xff;
}

int ipv4_reverse_zone(struct in_addr a, unsigned prefix, char *buf, size_t size, unsigned *ret_octets)
{
	unsigned o[4], n = prefix / 8;
	size_t len = 0;
	int w;

	if (n < 1)
		n = 1;
	if (n > 3)
		n = 3; /* a /32 zone would hold one name; keep the /24 that contains it */
	octets(a, o);
	buf[0] = '\0';
	for (unsigned i = n; i-- > 0;) {
		w = snprintf(buf + len, size - len, "%u.", o[i]);
		if (w < 0 || (size_t)w >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)w;
	}
	w = snprintf(buf + len, size - len, "in-addr.arpa");
	if (w < 0 || (size_t)w >= size - len)
		return -ENAMETOOLONG;
	if (ret_octets)
		*ret_octets = n;
	return 0;
}

int ipv4_reverse_owner(struct in_addr h, unsigned zone_octets, char *buf, size_t size)
{
	unsigned o[4];
	size_t len = 0;
	int w;

	octets(h, o);
	buf[0] = '\0';
	for (unsigned i = 4; i-- > zone_octets;) {
		w = snprintf(buf + len, size - len, "%s%u", len ? "." : "", o[i]);
		if (w < 0 || (size_t)w >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)w;
	}
	return 0;
}
