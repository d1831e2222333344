/* The configuration resolved against this machine's NICs: what the renderers read. */
#include "firstboot.h"

#include <stdio.h>
#include <string.h>

void fb_site_init(struct fb_site *s, const struct appliance *cfg, const struct nic_choice *nics,
		  const char **ret_nat_error)
{
	bool want_nat;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->internal = nics->internal;
	s->external = nics->external;
	s->internal_by_mac = s->internal.mac[0] && !streq(cfg->internal, s->internal.name);
	s->external_by_mac = s->external.mac[0] && !streq(cfg->external, s->external.name);
	want_nat = cfg->nat != 0;
	s->nat = want_nat && s->external.name[0];
	if (ret_nat_error)
		*ret_nat_error = cfg->nat == 1 && !s->external.name[0]
					 ? "nat is on in the configuration but there is no external interface; NAT stays off"
					 : NULL;
	ipv4_format(cfg->address, s->address);
	snprintf(s->cidr, sizeof(s->cidr), "%s/%u", s->address, cfg->prefix);
	ipv4_format_subnet(cfg->address, cfg->prefix, s->subnet);
	if (cfg->http_port == 80)
		snprintf(s->http_url, sizeof(s->http_url), "http://%s", s->address);
	else
		snprintf(s->http_url, sizeof(s->http_url), "http://%s:%u", s->address, cfg->http_port);
	snprintf(s->registry_host, sizeof(s->registry_host), "%s:%u", s->address, cfg->registry_port);
}
