/* Bringing up the boot NIC for a netboot: ioctls for the address and route, busybox's udhcpc for DHCP. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "macros.h"
#include "spawn.h"
#include "strv.h"

#define SYS_NET "/sys/class/net"
/* ARPHRD_ETHER in /sys/class/net/NAME/type. */
#define NET_TYPE_ETHER "1"
#define NET_POLL_MS 250
/* After the first NIC shows up, how long the others get to show up too (drivers probe one by one). */
#define NET_SETTLE_MS 1000
/* How long one NIC waits for its link before the next is tried. */
#define NET_CARRIER_MS 10000
#define NET_MAX_NICS 16
#define LEASE_FILE_MAX (16u * 1024)
/* udhcpc: discovers sent, seconds between them. */
#define DHCP_TRIES "4"
#define DHCP_PAUSE "3"
#define BUSYBOX "/bin/busybox"
/* udhcpc runs this with the lease in its environment: gapbox-init, which then writes it. */
#define DHCP_EVENT_PROGRAM "/init"

static void read_attr(const char *ifname, const char *attr, char *buf, size_t size)
{
	char path[128];
	_cleanup_free_ char *text = NULL;

	buf[0] = '\0';
	snprintf(path, sizeof(path), SYS_NET "/%s/%s", ifname, attr);
	if (read_file(path, 4096, &text, NULL) >= 0)
		snprintf(buf, size, "%.*s", (int)strcspn(text, "\n"), text);
}

static int parse_mac_attr(const char *text, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

struct nic {
	char name[IF_NAMESIZE];
	uint8_t mac[6];
};

/* The Ethernet NICs in sysfs, sorted by name. */
static size_t list_nics(struct nic *nics, size_t max)
{
	_cleanup_closedir_ DIR *d = opendir(SYS_NET);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		char type[16], addr[32];

		if (de->d_name[0] == '.' || streq(de->d_name, "lo") || strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		read_attr(de->d_name, "type", type, sizeof(type));
		read_attr(de->d_name, "address", addr, sizeof(addr));
		if (!streq(type, NET_TYPE_ETHER) || parse_mac_attr(addr, nics[n].mac) < 0)
			continue;
		snprintf(nics[n].name, sizeof(nics[n].name), "%.*s", IF_NAMESIZE - 1, de->d_name);
		n++;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(nics[j - 1].name, nics[j].name) > 0; j--) {
			struct nic t = nics[j];
			nics[j] = nics[j - 1];
			nics[j - 1] = t;
		}
	return n;
}

static bool nic_wanted(const struct init_params *p, const struct nic *n)
{
	if (p->have_bootif)
		return memcmp(p->bootif, n->mac, 6) == 0;
	if (p->ip.device[0])
		return streq(p->ip.device, n->name);
	return true;
}

static void describe_nics(const struct nic *nics, size_t n, char *buf, size_t size)
{
	size_t used = 0;
	char mac[18];

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s (%s)", i ? ", " : "", nics[i].name,
					 net_mac_text(nics[i].mac, mac));
	if (n == 0)
		snprintf(buf, size, "none");
}

static int sock_inet(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? negative_errno() : fd;
}

static int link_set_up(const char *ifname)
{
	_cleanup_close_ int fd = sock_inet();
	struct ifreq ifr = { 0 };

	if (fd < 0)
		return fd;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.*s", IF_NAMESIZE - 1, ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return negative_errno();
	ifr.ifr_flags |= IFF_UP;
	return ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 ? negative_errno() : 0;
}

static bool link_has_carrier(const char *ifname)
{
	char v[8];

	read_attr(ifname, "carrier", v, sizeof(v));
	return streq(v, "1");
}

static int set_inaddr(int fd, const char *ifname, unsigned long request, struct in_addr a)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.*s", IF_NAMESIZE - 1, ifname);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(fd, request, &ifr) < 0 ? negative_errno() : 0;
}

/* The address, its netmask and, when there is one, the default route through the gateway. */
static int link_configure(const struct net_link *l)
{
	_cleanup_close_ int fd = sock_inet();
	struct rtentry rt = { 0 };
	struct sockaddr_in any = { .sin_family = AF_INET }, gw = { .sin_family = AF_INET, .sin_addr = l->gateway };
	int r;

	if (fd < 0)
		return fd;
	if ((r = set_inaddr(fd, l->ifname, SIOCSIFADDR, l->addr)) < 0 ||
	    (r = set_inaddr(fd, l->ifname, SIOCSIFNETMASK, l->netmask)) < 0)
		return r;
	if (l->gateway.s_addr == htonl(INADDR_ANY))
		return 0;
	memcpy(&rt.rt_dst, &any, sizeof(any));
	memcpy(&rt.rt_genmask, &any, sizeof(any));
	memcpy(&rt.rt_gateway, &gw, sizeof(gw));
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = (char *)l->ifname;
	if (ioctl(fd, SIOCADDRT, &rt) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

static void net_drop_gateway(const struct net_link *l)
{
	_cleanup_close_ int fd = sock_inet();
	struct rtentry rt = { 0 };
	struct sockaddr_in any = { .sin_family = AF_INET }, gw = { .sin_family = AF_INET, .sin_addr = l->gateway };

	if (fd < 0 || l->gateway.s_addr == htonl(INADDR_ANY))
		return;
	memcpy(&rt.rt_dst, &any, sizeof(any));
	memcpy(&rt.rt_genmask, &any, sizeof(any));
	memcpy(&rt.rt_gateway, &gw, sizeof(gw));
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = (char *)l->ifname;
	if (ioctl(fd, SIOCDELRT, &rt) < 0 && errno != ESRCH)
		log_warning_errno(negative_errno(), "netboot: cannot remove the default route through %s: %m", l->ifname);
}

void net_release(const struct net_link *l)
{
	_cleanup_close_ int fd = -1;
	struct ifreq ifr = { 0 };

	net_drop_gateway(l);
	fd = sock_inet();
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.*s", IF_NAMESIZE - 1, l->ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return;
	ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		log_warning_errno(negative_errno(), "netboot: cannot take %s down: %m", l->ifname);
}

/* The resolver of the fetch program (glibc) reads /etc/resolv.conf. */
static void write_resolv_conf(const struct net_link *l)
{
	char text[256], a[INET_ADDRSTRLEN];
	size_t used = 0;

	for (int i = 0; i < 2; i++)
		if (l->dns[i].s_addr != htonl(INADDR_ANY))
			used += (size_t)snprintf(text + used, sizeof(text) - used, "nameserver %s\n",
						 inet_ntop(AF_INET, &l->dns[i], a, sizeof(a)));
	if (used == 0)
		return;
	(void)mkdir_p("/etc", 0755);
	if (write_file_atomic("/etc/resolv.conf", text, used, 0644) < 0)
		log_warning("cannot write /etc/resolv.conf: host names in gapbox.fetch= will not resolve");
}

static int addr_field(const char *v, struct in_addr *ret)
{
	char first[INET_ADDRSTRLEN];

	/* udhcpc lists several routers or servers separated by spaces: the first is used. */
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(v, " "), v);
	return inet_pton(AF_INET, first, ret) == 1 ? 0 : -EINVAL;
}

int net_lease_parse(const char *text, struct net_link *ret)
{
	bool have_addr = false, have_mask = false;

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char buf[512];
		char *eq;

		snprintf(buf, sizeof(buf), "%.*s", (int)(n < sizeof(buf) - 1 ? n : sizeof(buf) - 1), line);
		line = nl ? nl + 1 : NULL;
		eq = strchr(buf, '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (streq(buf, "ip"))
			have_addr = addr_field(eq + 1, &ret->addr) >= 0;
		else if (streq(buf, "subnet"))
			have_mask = addr_field(eq + 1, &ret->netmask) >= 0 && net_netmask_prefix(ret->netmask) >= 0;
		else if (streq(buf, "router"))
			(void)addr_field(eq + 1, &ret->gateway);
		else if (streq(buf, "siaddr"))
			(void)addr_field(eq + 1, &ret->server);
		else if (streq(buf, "dns")) {
			char *second = strchr(eq + 1, ' ');

			(void)addr_field(eq + 1, &ret->dns[0]);
			if (second)
				(void)addr_field(second + 1, &ret->dns[1]);
		}
	}
	return have_addr && have_mask ? 0 : -EBADMSG;
}

/* udhcpc on IFNAME until it has a lease or gives up; the lease is read back from the file its event
 * program wrote. */
static int link_dhcp(struct net_link *l)
{
	_cleanup_free_ char *lease = NULL, *env = NULL, *text = NULL;
	struct gb_spawn_opts opts = { 0 };
	char *env_add[2] = { NULL, NULL };
	int r;

	if (asprintf(&lease, NET_LEASE_DIR "/%s.lease", l->ifname) < 0 || asprintf(&env, NET_LEASE_ENV "=%s", lease) < 0)
		return -ENOMEM;
	(void)mkdir_p(NET_LEASE_DIR, 0755);
	(void)unlink(lease);
	env_add[0] = env;
	opts.env_add = env_add;
	{
		char *const argv[] = { BUSYBOX, "udhcpc", "-f", "-q", "-n", "-t", DHCP_TRIES, "-T", DHCP_PAUSE, "-i",
				       l->ifname, "-s", DHCP_EVENT_PROGRAM, "-V", "gapbox", NULL };

		r = gb_run(argv, &opts);
	}
	if (r != 0)
		return r < 0 ? r : -ETIMEDOUT;
	r = read_file(lease, LEASE_FILE_MAX, &text, NULL);
	if (r < 0)
		return r;
	r = net_lease_parse(text, l);
	if (r < 0)
		return r;
	l->dhcp = true;
	return link_configure(l);
}

static int link_static(const struct init_params *p, struct net_link *l)
{
	l->addr = p->ip.client;
	l->netmask = p->ip.netmask;
	l->gateway = p->ip.gateway;
	l->server = p->ip.server;
	l->dns[0] = p->ip.dns[0];
	l->dns[1] = p->ip.dns[1];
	l->dhcp = false;
	return link_configure(l);
}

/* Waits for the link of NIC up to MS; true when it came. */
static bool wait_carrier(const char *ifname, uint64_t ms)
{
	uint64_t start = clock_now_ms();

	for (;;) {
		if (link_has_carrier(ifname))
			return true;
		if (clock_now_ms() - start >= ms)
			return false;
		clock_sleep_ms(NET_POLL_MS);
	}
}

int net_up(const struct init_params *p, unsigned timeout_sec, struct net_link *ret)
{
	struct nic nics[NET_MAX_NICS], wanted[NET_MAX_NICS];
	uint64_t start = clock_now_ms(), deadline = start + (uint64_t)timeout_sec * 1000, first_seen = 0;
	size_t n = 0, n_wanted = 0;
	char want[64], mac[18], seen[512];

	if (p->have_bootif)
		snprintf(want, sizeof(want), "the NIC %s (BOOTIF)", net_mac_text(p->bootif, mac));
	else if (p->ip.device[0])
		snprintf(want, sizeof(want), "the NIC %s (ip=)", p->ip.device);
	else
		snprintf(want, sizeof(want), "a NIC with a link");
	log_info("netboot: looking for %s (up to %u s)", want, timeout_sec);

	/* The NICs whose drivers loaded; the one asked for may take a moment to register. */
	for (;;) {
		n = list_nics(nics, ARRAY_SIZE(nics));
		n_wanted = 0;
		for (size_t i = 0; i < n; i++)
			if (nic_wanted(p, &nics[i]))
				wanted[n_wanted++] = nics[i];
		if (n_wanted && !first_seen)
			first_seen = clock_now_ms();
		if (n_wanted && (p->have_bootif || p->ip.device[0] || clock_now_ms() - first_seen >= NET_SETTLE_MS))
			break;
		if (clock_now_ms() >= deadline) {
			describe_nics(nics, n, seen, sizeof(seen));
			return log_error_errno(-ENODEV, "netboot: %s did not show up in %u s; NICs seen: %s%s", want,
					       timeout_sec, seen,
					       n ? "" : " (is the NIC's driver among the initramfs's modules?)");
		}
		clock_sleep_ms(NET_POLL_MS);
	}

	for (size_t i = 0; i < n_wanted; i++)
		if (link_set_up(wanted[i].name) < 0)
			log_warning("netboot: cannot bring %s up", wanted[i].name);

	for (size_t i = 0; i < n_wanted; i++) {
		struct net_link l = { 0 };
		uint64_t now = clock_now_ms(), left = deadline > now ? deadline - now : 0;
		int r;

		snprintf(l.ifname, sizeof(l.ifname), "%.*s", IF_NAMESIZE - 1, wanted[i].name);
		memcpy(l.mac, wanted[i].mac, 6);
		if (!wait_carrier(l.ifname, (left < NET_CARRIER_MS ? left : NET_CARRIER_MS))) {
			log_warning("netboot: %s (%s) has no link", l.ifname, net_mac_text(l.mac, mac));
			continue;
		}
		if (p->ip.given && !p->ip.dhcp)
			r = link_static(p, &l);
		else {
			log_info("netboot: asking DHCP on %s (%s)", l.ifname, net_mac_text(l.mac, mac));
			r = link_dhcp(&l);
		}
		if (r < 0) {
			log_warning_errno(r, "netboot: %s: %s: %m", l.ifname,
					  p->ip.given && !p->ip.dhcp ? "cannot set the address of ip=" : "no DHCP lease");
			continue;
		}
		write_resolv_conf(&l);
		*ret = l;
		return 0;
	}
	describe_nics(wanted, n_wanted, seen, sizeof(seen));
	return log_error_errno(-ENETUNREACH, "netboot: no NIC came up with an address; tried %s", seen);
}

const char *net_link_describe(const struct net_link *l, char *buf, size_t size)
{
	char mac[18], a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	int prefix = net_netmask_prefix(l->netmask);

	inet_ntop(AF_INET, &l->addr, a, sizeof(a));
	inet_ntop(AF_INET, &l->gateway, g, sizeof(g));
	snprintf(buf, size, "%s (%s) %s/%d%s%s, %s", l->ifname, net_mac_text(l->mac, mac), a, prefix < 0 ? 32 : prefix,
		 l->gateway.s_addr != htonl(INADDR_ANY) ? " via " : "",
		 l->gateway.s_addr != htonl(INADDR_ANY) ? g : "", l->dhcp ? "from DHCP" : "from ip=");
	return buf;
}

bool net_dhcp_event_invoked(void)
{
	return getpid() != 1 && getenv(NET_LEASE_ENV) != NULL;
}

int net_dhcp_event_main(int argc, char **argv)
{
	static const char *const keys[] = { "interface", "ip", "subnet", "router", "dns", "siaddr", "serverid",
					    "hostname", "domain", "lease" };
	const char *path = getenv(NET_LEASE_ENV);
	char text[4096];
	size_t used = 0;

	if (argc < 2 || !path)
		return 1;
	/* deconfig, leasefail, nak: nothing to keep. */
	if (!streq(argv[1], "bound") && !streq(argv[1], "renew"))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = getenv(keys[i]);

		if (v && !strpbrk(v, "\n") && used < sizeof(text))
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s=%s\n", keys[i], v);
	}
	if (used >= sizeof(text))
		return 1;
	return write_file_atomic(path, text, used, 0644) < 0 ? 1 : 0;
}
