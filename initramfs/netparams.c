/* The network parameters of a netboot, parsed without side effects. */
#include "netparams.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macros.h"

/* The kernel's ip= has at most nine fields; anything past them is ignored, as the kernel does. */
#define IPCONF_FIELDS 9

static int parse_addr(const char *s, size_t n, struct in_addr *ret)
{
	char buf[INET_ADDRSTRLEN];

	ret->s_addr = htonl(INADDR_ANY);
	if (n == 0)
		return 0;
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, ret) == 1 ? 0 : -EINVAL;
}

int net_netmask_prefix(struct in_addr mask)
{
	uint32_t m = ntohl(mask.s_addr);
	int prefix = 0;

	while (prefix < 32 && (m & (UINT32_C(1) << (31 - prefix))))
		prefix++;
	/* Contiguous: nothing set after the first clear bit. */
	if (prefix < 32 && (m << prefix) != 0)
		return -EINVAL;
	return prefix;
}

/* The class default the kernel uses when ip= names an address but no netmask. */
static struct in_addr class_netmask(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);
	struct in_addr m;

	m.s_addr = htonl(h < 0x80000000u ? 0xff000000u : h < 0xc0000000u ? 0xffff0000u : 0xffffff00u);
	return m;
}

static bool autoconf_is_dhcp(const char *s, size_t n, bool *ret)
{
	static const char *const dhcp[] = { "dhcp", "on", "any", "both", "bootp", "rarp" };
	static const char *const off[] = { "off", "none", "static" };

	for (size_t i = 0; i < ARRAY_SIZE(dhcp); i++)
		if (strlen(dhcp[i]) == n && strncasecmp(s, dhcp[i], n) == 0) {
			*ret = true;
			return true;
		}
	for (size_t i = 0; i < ARRAY_SIZE(off); i++)
		if (strlen(off[i]) == n && strncasecmp(s, off[i], n) == 0) {
			*ret = false;
			return true;
		}
	return false;
}

static int copy_text(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '/')
			return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int net_ipconf_parse(const char *value, struct net_ipconf *ret)
{
	struct net_ipconf c = { .given = true };
	const char *field[IPCONF_FIELDS] = { 0 };
	size_t len[IPCONF_FIELDS] = { 0 };
	size_t n = 0;
	bool dhcp;
	int r;

	if (!value || !*value)
		return -EINVAL;
	/* One word: the autoconf method alone. */
	if (!strchr(value, ':')) {
		if (!autoconf_is_dhcp(value, strlen(value), &dhcp))
			return -EINVAL;
		c.dhcp = dhcp;
		*ret = c;
		return 0;
	}
	for (const char *p = value; p && n < IPCONF_FIELDS; n++) {
		const char *colon = strchr(p, ':');

		field[n] = p;
		len[n] = colon ? (size_t)(colon - p) : strlen(p);
		p = colon ? colon + 1 : NULL;
	}
	if ((r = parse_addr(field[0], len[0], &c.client)) < 0 || (r = parse_addr(field[1], len[1], &c.server)) < 0 ||
	    (r = parse_addr(field[2], len[2], &c.gateway)) < 0 || (r = parse_addr(field[3], len[3], &c.netmask)) < 0 ||
	    (r = parse_addr(field[7], len[7], &c.dns[0])) < 0 || (r = parse_addr(field[8], len[8], &c.dns[1])) < 0)
		return r;
	if ((r = copy_text(c.hostname, sizeof(c.hostname), field[4], len[4])) < 0 ||
	    (r = copy_text(c.device, sizeof(c.device), field[5], len[5])) < 0)
		return r;

	if (len[6] > 0) {
		if (!autoconf_is_dhcp(field[6], len[6], &dhcp))
			return -EINVAL;
	} else
		dhcp = c.client.s_addr == htonl(INADDR_ANY);
	c.dhcp = dhcp;
	if (!c.dhcp) {
		if (c.client.s_addr == htonl(INADDR_ANY))
			return -EINVAL;
		if (c.netmask.s_addr == htonl(INADDR_ANY))
			c.netmask = class_netmask(c.client);
		if (net_netmask_prefix(c.netmask) < 0)
			return -EINVAL;
	}
	*ret = c;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Six bytes of two hex digits each, SEP between them, and nothing after. */
static int parse_mac(const char *s, char sep, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != sep)
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

int net_bootif_parse(const char *value, uint8_t ret_mac[6])
{
	if (!value)
		return -EINVAL;
	if (strlen(value) == 20 && strncmp(value, "01-", 3) == 0)
		return parse_mac(value + 3, '-', ret_mac);
	if (strlen(value) == 17)
		return parse_mac(value, value[2] == '-' ? '-' : ':', ret_mac);
	return -EINVAL;
}

int net_fetch_url_check(const char *url)
{
	const char *host;
	size_t n;

	if (!url)
		return -EINVAL;
	n = strlen(url);
	if (n > NETBOOT_URL_MAX)
		return -ENAMETOOLONG;
	/* Plain HTTP only: the initramfs carries no CA store to check a server's certificate against,
	 * and the images are checked against the build manifest whichever way they come. */
	if (strncasecmp(url, "http://", 7) != 0)
		return -EINVAL;
	host = url + 7;
	if (!*host || *host == '/' || *host == ':')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)url[i]) || url[i] == '"' || url[i] == '\'' || url[i] == '\\')
			return -EINVAL;
	return 0;
}

const char *net_mac_text(const uint8_t mac[6], char buf[static 18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}
