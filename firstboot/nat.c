/* NAT and the service firewall: one nftables table of gapbox's own, replaced atomically, and
 * the sysctls that go with it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "render.h"
#include "service.h"
#include "status.h"

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

static int nat_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;

	sbuf_puts(&b, "#!/usr/sbin/nft -f\n");
	render_header(&b, "#", "NAT and the service firewall");
	sbuf_puts(&b, "# Only the table gapbox is ours; the two lines before it replace it in one transaction.\n"
		      "table inet gapbox\n"
		      "delete table inet gapbox\n"
		      "\n"
		      "table inet gapbox {\n"
		      "\t# Default deny. Loopback and the internal network reach every service; from the external\n"
		      "\t# network only SSH, ICMP, the DHCP client's answers and replies to what the admin asked.\n"
		      "\t# What starts listening later is not reachable from outside either.\n"
		      "\tchain input {\n"
		      "\t\ttype filter hook input priority filter; policy drop;\n"
		      "\t\tiifname \"lo\" accept\n"
		      "\t\tct state invalid drop\n");
	sbuf_printf(&b, "\t\t# The internal address, reached from another NIC: routed in from outside, or forged.\n"
			"\t\t%s%s%sip daddr %s drop\n",
		    s->internal.name[0] ? "iifname != \"" : "", s->internal.name, s->internal.name[0] ? "\" " : "",
		    s->address);
	sbuf_puts(&b, "\t\tct state established,related accept\n");
	if (s->internal.name[0])
		sbuf_printf(&b, "\t\tiifname \"%s\" accept\n", s->internal.name);
	sbuf_puts(&b, "\t\tmeta l4proto { icmp, ipv6-icmp } accept\n");
	if (s->external.name[0])
		sbuf_printf(&b,
			    "\t\tiifname \"%s\" udp sport 67 udp dport 68 accept\n"
			    "\t\tiifname \"%s\" tcp dport 22 accept\n",
			    s->external.name, s->external.name);
	sbuf_puts(&b, "\t}\n\n");

	if (s->nat) {
		sbuf_printf(&b,
			    "\t# NAT on: the internal subnet reaches out through %s; nothing comes in unasked.\n"
			    "\tchain forward {\n"
			    "\t\ttype filter hook forward priority filter; policy drop;\n"
			    "\t\tct state invalid drop\n"
			    "\t\tct state established,related accept\n"
			    "\t\t%s%s%soifname \"%s\" ip saddr %s accept\n"
			    "\t}\n"
			    "\n"
			    "\tchain postrouting {\n"
			    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
			    "\t\toifname \"%s\" ip saddr %s masquerade\n"
			    "\t}\n",
			    s->external.name, s->internal.name[0] ? "iifname \"" : "", s->internal.name,
			    s->internal.name[0] ? "\" " : "", s->external.name, s->subnet, s->external.name, s->subnet);
	} else {
		sbuf_puts(&b, "\t# NAT off: nothing is forwarded, the air gap is closed.\n"
			      "\tchain forward {\n"
			      "\t\ttype filter hook forward priority filter; policy drop;\n"
			      "\t}\n");
	}
	sbuf_puts(&b, "}\n");
	fb_files_add(out, NAT_NFT_PATH, &b, 0755, true);

	render_header(&b, "#", "kernel settings for NAT and the services");
	if (s->nat)
		sbuf_printf(&b, "# NAT on: the admin routes the internal subnet out of %s.\nnet.ipv4.ip_forward = 1\n",
			    s->external.name);
	else
		sbuf_puts(&b, "# NAT off: the admin routes nothing.\nnet.ipv4.ip_forward = 0\n");
	sbuf_puts(&b, "# The services bind the internal address even before systemd-networkd has set it.\n"
		      "net.ipv4.ip_nonlocal_bind = 1\n");
	fb_files_add(out, NAT_SYSCTL_PATH, &b, 0644, true);
	return out->error;
}

static int write_sysctl(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return write_all(fd, value, strlen(value));
}

/* nginx -t binds the internal address, which may not be up yet when the checks run. */
static void nat_prepare(json_t *svc)
{
	int r = write_sysctl("/proc/sys/net/ipv4/ip_nonlocal_bind", "1\n");

	if (r < 0)
		status_error(svc, "cannot set net.ipv4.ip_nonlocal_bind: %s", strerror(-r));
}

/* The firewall goes in before forwarding is switched on, and forwarding off before it goes.
 * The site's services start only once it is loaded (their units' ConditionPathExists= on
 * FB_FIREWALL_LOADED): if nft refuses the ruleset, they stay down rather than open. */
static void nat_apply(const struct fb_site *s, const struct fb_host *h, json_t *svc)
{
	_cleanup_free_ char *error = NULL;
	char *argv[] = { "nft", "-f", NAT_NFT_PATH, NULL };
	int r;

	if (!h->live)
		return;
	if (unlink(FB_FIREWALL_LOADED) < 0 && errno != ENOENT)
		status_error(svc, "cannot remove %s: %s", FB_FIREWALL_LOADED, strerror(errno));
	if (!s->nat && (r = write_sysctl(IP_FORWARD, "0\n")) < 0)
		status_error(svc, "cannot switch IPv4 forwarding off: %s", strerror(-r));
	r = fb_run_checker(argv, "nft -f " NAT_NFT_PATH " failed", &error);
	if (r < 0) {
		status_error(svc, "%s; the site's services (DNS, NTP, HTTP, the registry) are not started without "
			     "the firewall", error ? error : "cannot load the nftables ruleset");
		return; /* no forwarding and no services without the firewall */
	}
	r = write_file_atomic(FB_FIREWALL_LOADED, "", 0, 0644);
	if (r < 0)
		status_error(svc, "cannot create %s: %s; the site's services will not start", FB_FIREWALL_LOADED,
			     strerror(-r));
	if (s->nat && (r = write_sysctl(IP_FORWARD, "1\n")) < 0)
		status_error(svc, "cannot switch IPv4 forwarding on: %s", strerror(-r));
}

/* Live: NAT as configured, forwarding on or off, and gapbox's nftables table loaded. */
static void nat_verify(struct fb_verify *v, json_t *svc)
{
	_cleanup_free_ char *forward = NULL, *error = NULL;
	char *argv[] = { "nft", "list", "table", "inet", "gapbox", NULL };
	bool table, forwarding;

	if (!v->live)
		return;
	forwarding = read_file(IP_FORWARD, 16, &forward, NULL) >= 0 && forward[0] == '1';
	table = fb_run_checker(argv, "nft list table inet gapbox failed", &error) >= 0;
	status_set(svc, "running", v->site.nat ? forwarding && table : table);
	status_set(svc, "verified", table && forwarding == v->site.nat);
	if (!table)
		status_error(svc, "the nftables table gapbox is not loaded%s%s: the site's services do not start without it",
			     error ? ": " : "", error ? error : "");
	else if (!path_exists(FB_FIREWALL_LOADED))
		status_error(svc, "the firewall was not loaded by this configuration (%s is missing): the site's "
			     "services do not start", FB_FIREWALL_LOADED);
	else if (forwarding != v->site.nat)
		status_error(svc, "IPv4 forwarding is %s, expected %s", forwarding ? "on" : "off",
			     v->site.nat ? "on" : "off");
}

static void nat_describe(const struct fb_site *s, json_t *svc)
{
	if (s->nat)
		status_detail(svc, "on: %s masqueraded out of %s", s->subnet, s->external.name);
	else
		status_detail(svc, "off: nothing is forwarded%s",
			      s->cfg->nat == 0 ? " (nat: false)" : !s->external.name[0] ? " (no external interface)" : "");
}

const struct fb_service fb_service_nat = {
	.name = "nat",
	.checker = { NAT_NFT_PATH, { "nft", "-c", "-f" }, "nft -c -f rejected the rendered ruleset" },
	.describe = nat_describe, .prepare = nat_prepare, .render = nat_render, .apply = nat_apply,
	.verify = nat_verify,
};
