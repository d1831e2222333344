/* systemd-networkd units: the internal NIC gets the static address, the external one DHCP. */
#include "render.h"

#include <stdio.h>

static void match(struct sbuf *b, const struct fb_nic *nic, bool by_mac)
{
	sbuf_puts(b, "[Match]\n");
	if (by_mac)
		sbuf_printf(b, "MACAddress=%s\n", nic->mac);
	else
		sbuf_printf(b, "Name=%s\n", nic->name);
}

int network_render(const struct fb_site *s, struct fb_files *out)
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
			      "UseHostname=no\n");
		fb_files_add(out, NETWORK_EXTERNAL_PATH, &b, 0644, true);
	} else
		fb_files_add_absent(out, NETWORK_EXTERNAL_PATH, true);
	return out->error;
}
