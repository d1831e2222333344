/* chrony for the site: serves the internal subnet (and loopback) from upstream servers when
 * some are configured, else from its own clock at stratum 10. */
#include <stdio.h>
#include <string.h>

#include "probe.h"
#include "render.h"
#include "service.h"
#include "status.h"

static int ntp_render(const struct fb_site *s, struct fb_files *out)
{
	const struct appliance *c = s->cfg;
	struct sbuf b = SBUF_INIT;

	render_header(&b, "#", "chrony for the site %s", c->domain);
	if (c->ntp_servers[0]) {
		sbuf_puts(&b, "\n# Upstream servers (ntp.servers).\n");
		for (size_t i = 0; c->ntp_servers[i]; i++)
			sbuf_printf(&b, "server %s iburst\n", c->ntp_servers[i]);
	} else
		sbuf_puts(&b, "\n# No upstream servers (ntp.servers is empty): the site is air-gapped, so the admin\n"
			      "# serves its own clock. Set it right (firmware clock or `chronyc settime`) before\n"
			      "# deploying.\n");
	sbuf_printf(&b,
		    "\n# Serve time even when no upstream server is reachable.\n"
		    "local stratum 10\n"
		    "\n# Clients: the internal subnet and the admin itself, nobody else.\n"
		    "allow %s\n"
		    "allow 127.0.0.1\n"
		    "allow ::1\n"
		    "\n"
		    "driftfile /var/lib/chrony/chrony.drift\n"
		    "ntsdumpdir /var/lib/chrony\n"
		    "logdir /var/log/chrony\n"
		    "makestep 1 3\n"
		    "rtcsync\n",
		    s->subnet);
	fb_files_add(out, NTP_CONF_PATH, &b, 0644, true);
	return out->error;
}

/* An NTP query gets a server's answer; *STRATUM its stratum. */
static int serves_time(struct fb_verify *v, void *stratum, char **ret_error)
{
	return probe_ntp(v->probe, v->ports[FB_PORT_NTP], FB_PROBE_TIMEOUT_MS, stratum, ret_error);
}

static void ntp_verify(struct fb_verify *v, json_t *svc)
{
	unsigned stratum = 0;

	if (fb_verify_until(v, svc, serves_time, &stratum, "no answer"))
		status_detail(svc, "answers at stratum %u", stratum);
}

static void ntp_describe(const struct fb_site *s, json_t *svc)
{
	status_detail(svc, "chrony on %s:%u for %s, %s", s->address, s->ports[FB_PORT_NTP], s->subnet,
		      s->cfg->ntp_servers[0] ? "from upstream servers" : "own clock at stratum 10");
}

const struct fb_service fb_service_ntp = {
	.name = "ntp", .unit = "chrony.service", .daemon = "chronyd",
	.port = FB_PORT_NTP, .protocols = FB_UDP,
	.checker = { NTP_CONF_PATH, { "chronyd", "-p", "-f" }, "chronyd -p rejected the rendered chrony.conf" },
	.describe = ntp_describe, .render = ntp_render, .verify = ntp_verify,
};
