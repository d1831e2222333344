/* The one list of the first-boot services; each record lives in its service's own file. */
#include "service.h"

#include <string.h>

#include "error.h"

/* Below this port only root may bind (net.ipv4.ip_unprivileged_port_start, 1024 on Debian). */

/* Listeners on the admin that no service record owns, each on a fixed port. */
static const struct {
	unsigned port;
	const char *daemon;
	const char *what;
} other_listeners[] = {
	{ 22, "sshd", "SSH" },
	{ 68, "systemd-networkd", "the external interface's DHCP client" },
	{ 323, "chronyd", "chronyc's commands, on loopback" },
	{ 953, "named", "rndc's control channel, on loopback" },
};

const struct fb_service *const fb_services[] = {
	&fb_service_config,
	&fb_service_network,
	&fb_service_nat,
	&fb_service_dns,
	&fb_service_ntp,
	&fb_service_http,
	&fb_service_registry,
	&fb_service_nodes,
	&fb_service_access,
	NULL,
};

const struct fb_service *fb_service_find(const char *name)
{
	for (const struct fb_service *const *s = fb_services; *s; s++)
		if (streq((*s)->name, name))
			return *s;
	return NULL;
}

const char *fb_service_port_holder(const struct fb_service *s)
{
	return s->front ? s->front : s->daemon;
}

static const char *daemon_name(const struct fb_service *s)
{
	return fb_service_port_holder(s) ? fb_service_port_holder(s) : s->name;
}

/* Service S's port PORT, which the configuration sets at WHERE with KEY: free, and bindable. */
static int check_port(const struct appliance *cfg, const struct fb_service *s, unsigned port, const char *key,
		      const char *where, char **ret_error)
{
	static const char expected[] = "expected a port that nothing else on the admin listens on";

	for (size_t i = 0; i < ARRAY_SIZE(other_listeners); i++)
		if (port == other_listeners[i].port)
			return gb_error(ret_error, -EINVAL, "%s: %s: %s, got %u, which is %s's (%s)", where, key,
					expected, port, other_listeners[i].daemon, other_listeners[i].what);
	for (const struct fb_service *const *t = fb_services; *t; t++) {
		const char *other_key;

		if (*t == s || (*t)->port == FB_PORT_NONE || fb_site_config_port(cfg, (*t)->port, &other_key, NULL) != port)
			continue;
		if (other_key)
			return gb_error(ret_error, -EINVAL, "%s: %s: %s, got %u, which is %s's (%s)", where, key, expected,
					port, daemon_name(*t), other_key);
		return gb_error(ret_error, -EINVAL, "%s: %s: %s, got %u, which is %s's (the %s service)", where, key,
				expected, port, daemon_name(*t), (*t)->name);
	}
	return 0;
}

int fb_check_ports(const struct appliance *cfg, char **ret_error)
{
	for (const struct fb_service *const *s = fb_services; *s; s++) {
		const char *key, *where;
		unsigned port;
		int r;

		if ((*s)->port == FB_PORT_NONE)
			continue;
		port = fb_site_config_port(cfg, (*s)->port, &key, &where);
		/* The defaults agree with everything: a clash is the fault of a port the file sets. */
		if (!where)
			continue;
		r = check_port(cfg, *s, port, key, where, ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}
