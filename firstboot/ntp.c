/* chrony for the site: serves the internal subnet (and loopback) from upstream servers when
 * some are configured, else from its own clock at stratum 10. */
#include "render.h"

#include <stdio.h>
#include <string.h>

int ntp_render(const struct fb_site *s, struct fb_files *out)
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

int ntp_check(const struct fb_files *fs, char *const *staged, char **ret_error)
{
	for (size_t i = 0; i < fs->n; i++)
		if (streq(fs->v[i].path, NTP_CONF_PATH)) {
			char *argv[] = { "chronyd", "-p", "-f", staged[i], NULL };

			return fb_run_checker(argv, "chronyd -p rejected the rendered chrony.conf", ret_error);
		}
	return 0;
}
