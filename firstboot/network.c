/* systemd-networkd units: the internal NIC gets the static address, the external one DHCP. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>

#include "render.h"
#include "service.h"
#include "status.h"
#include "units.h"

static void match(struct sbuf *b, const struct fb_nic *nic, bool by_mac)
{
	sbuf_puts(b, "[Match]\n");
	if (by_mac)
		sbuf_printf(b, "MACAddress=%s\n", nic->mac);
	else
		sbuf_printf(b, "Name=%s\n", nic->name);
}

static int network_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;

	if (s->internal.name[0]) {
		render_header(&b, "#", "the internal interface (the site network)");
		sbuf_printf(&b, "# %s, static: DNS, NTP, the repos and the registry answer here.\n",
			    s->internal.name);
		match(&b, &s->internal, s->internal_by_mac);
		sbuf_printf(&b,
			    "\n[Link]\n"
			    "RequiredForOnline=no\n"
			    "\n[Network]\n"
			    "Address=%s\n"
			    "DHCP=no\n"
			    "LinkLocalAddressing=no\n"
			    "IPv6AcceptRA=no\n"
			    "ConfigureWithoutCarrier=yes\n",
			    s->cidr);
		if (s->internal_boot_address[0])
			sbuf_printf(&b,
				    "# The image was netbooted over this NIC (%s): that address stays\n"
				    "# beside the site's, so the boot network keeps reaching the admin.\n"
				    "KeepConfiguration=static\n",
				    s->internal_boot_address);
		fb_files_add(out, NETWORK_INTERNAL_PATH, &b, 0644, true);
	} else
		fb_files_add_absent(out, NETWORK_INTERNAL_PATH, true);

	if (s->external.name[0]) {
		render_header(&b, "#", "the external interface");
		sbuf_printf(&b, "# %s, by DHCP; NAT is %s.\n", s->external.name,
			    s->nat ? "on: the internal subnet reaches out through it" : "off");
		match(&b, &s->external, s->external_by_mac);
		sbuf_puts(&b, "\n[Link]\n"
			      "RequiredForOnline=no\n"
			      "\n[Network]\n"
			      "DHCP=ipv4\n"
			      "LinkLocalAddressing=no\n"
			      "IPv6AcceptRA=no\n"
			      "\n[DHCPv4]\n"
			      "# The admin resolves names and keeps time through its own services.\n"
			      "UseDNS=no\n"
			      "UseNTP=no\n"
			      "UseDomains=no\n"
			      "UseHostname=no\n"
			      "# The default gateway only: routes a DHCP server there pushes (option 121, option 33)\n"
			      "# could be more specific than the internal subnet and take the replies to the nodes\n"
			      "# out of this NIC.\n"
			      "UseRoutes=no\n"
			      "UseGateway=yes\n");
		fb_files_add(out, NETWORK_EXTERNAL_PATH, &b, 0644, true);
	} else
		fb_files_add_absent(out, NETWORK_EXTERNAL_PATH, true);
	return out->error;
}

/* 1 when ADDRESS is on the interface IFNAME, 0 when not, negative errno when the interfaces
 * cannot be listed. *ret_present becomes true when IFNAME is there at all. */
static int address_on(const char *ifname, struct in_addr address, bool *ret_present)
{
	struct ifaddrs *list = NULL;
	int found = 0;

	if (getifaddrs(&list) < 0)
		return -errno;
	for (struct ifaddrs *i = list; i; i = i->ifa_next) {
		if (!streq(i->ifa_name, ifname))
			continue;
		*ret_present = true;
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == address.s_addr)
			found = 1;
	}
	freeifaddrs(list);
	return found;
}

/* Live: the internal address is on the internal NIC. Without it, a probe sent to that address
 * would leave through the default route: unless told where to probe, ask on loopback instead,
 * where every service answers too (the registry through its second listener). */
static void network_verify(struct fb_verify *v, json_t *svc)
{
	const char *ifname = v->site.internal.name;
	bool present = false;
	int found = 0;

	if (!v->live)
		return;
	while (ifname[0] && (found = address_on(ifname, v->site.address_ip, &present)) == 0 && fb_verify_again(v))
		;
	if (found <= 0 && !v->o->probe) {
		v->probe.s_addr = htonl(INADDR_LOOPBACK);
		ipv4_format(v->probe, v->probe_text);
	}
	if (!ifname[0])
		return; /* configure said why */
	status_set(svc, "running", present);
	status_set(svc, "verified", found > 0);
	if (found <= 0)
		status_error(svc, present ? "%s does not have the address %s (networkctl status %s)"
					  : "interface %s is not there%s%s",
			     ifname, present ? v->site.cidr : "", present ? ifname : "");
}

static void network_describe(const struct fb_site *s, json_t *svc)
{
	if (s->internal.name[0])
		status_detail(svc, "internal %s %s", s->internal.name, s->cidr);
	else
		status_detail(svc, "no internal interface");
	status_detail(svc, s->external.name[0] ? "external %s (DHCP)" : "no external interface%s", s->external.name);
}

const struct fb_service fb_service_network = {
	.name = "network", .unit = "systemd-networkd.service",
	.describe = network_describe, .render = network_render, .reload = fb_networkd_reload, .verify = network_verify,
};
