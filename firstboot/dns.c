/* bind9 for the site: the admin's own zone (admin, registry, every node) and its reverse
 * zone, answering the internal subnet and loopback only, forwarding only when told to. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "probe.h"
#include "render.h"
#include "service.h"
#include "spawn.h"
#include "status.h"

/* Short TTLs: the zone is rebuilt from the configuration at boot, and nodes should see a
 * change soon after. */
#define ZONE_TTL 300

static void zone_path(char *buf, size_t size, const char *zone)
{
	snprintf(buf, size, DNS_ZONE_DIR "/db.%s", zone);
}

static void soa(struct sbuf *b, const struct fb_site *s)
{
	const char *d = s->domain;

	sbuf_printf(b,
		    "$TTL %d\n"
		    "@\tIN\tSOA\tadmin.%s. hostmaster.%s. (\n"
		    "\t\t1\t; serial: the zone is rewritten from the configuration, never transferred\n"
		    "\t\t3600\t; refresh\n"
		    "\t\t600\t; retry\n"
		    "\t\t86400\t; expire\n"
		    "\t\t%d )\t; negative answers\n"
		    "\tIN\tNS\tadmin.%s.\n",
		    ZONE_TTL, d, d, ZONE_TTL, d);
}

static int named_conf(const struct fb_site *s, const char *reverse, struct fb_files *out)
{
	const struct appliance *c = s->cfg;
	char forward_file[300], reverse_file[300];
	struct sbuf b = SBUF_INIT;

	zone_path(forward_file, sizeof(forward_file), c->domain);
	zone_path(reverse_file, sizeof(reverse_file), reverse);
	render_header(&b, "//", "bind9 for the site %s", c->domain);
	sbuf_printf(&b,
		    "// Answers on the internal address and loopback, to the internal subnet and loopback only.\n"
		    "\n"
		    "acl gapbox_clients {\n"
		    "\t127.0.0.0/8;\n"
		    "\t::1;\n"
		    "\t%s;\n"
		    "};\n"
		    "\n"
		    "options {\n"
		    "\tdirectory \"/var/cache/bind\";\n"
		    "\tlisten-on { 127.0.0.1; %s; };\n"
		    "\tlisten-on-v6 { ::1; };\n"
		    "\tallow-query { gapbox_clients; };\n"
		    "\tallow-query-cache { gapbox_clients; };\n"
		    "\trecursion yes;\n"
		    "\tallow-recursion { gapbox_clients; };\n"
		    "\tallow-transfer { none; };\n"
		    "\tnotify no;\n",
		    s->subnet, s->address);
	if (c->dns_forwarders[0]) {
		sbuf_puts(&b, "\t// Names outside the site go to these servers only (dns.forwarders).\n"
			      "\tforwarders {");
		for (size_t i = 0; c->dns_forwarders[i]; i++)
			sbuf_printf(&b, " %s;", c->dns_forwarders[i]);
		sbuf_puts(&b, " };\n"
			      "\tforward only;\n"
			      "\tdnssec-validation auto;\n"
			      "};\n");
	} else {
		sbuf_puts(&b, "\t// No forwarders (dns.forwarders is empty): the site is air-gapped, so names\n"
			      "\t// outside it are not looked up anywhere; see the server clauses below.\n"
			      "\tdnssec-validation no;\n"
			      "};\n"
			      "\n"
			      "// Air gap: every remote server is bogus, so named never sends a query out.\n"
			      "server 0.0.0.0/0 { bogus yes; };\n"
			      "server ::/0 { bogus yes; };\n");
	}
	sbuf_printf(&b,
		    "\n"
		    "zone \"%s\" {\n"
		    "\ttype primary;\n"
		    "\tfile \"%s\";\n"
		    "};\n"
		    "\n"
		    "zone \"%s\" {\n"
		    "\ttype primary;\n"
		    "\tfile \"%s\";\n"
		    "};\n",
		    c->domain, forward_file, reverse, reverse_file);
	fb_files_add(out, DNS_NAMED_CONF_PATH, &b, 0644, true);
	return out->error;
}

static int forward_zone(const struct fb_site *s, struct fb_files *out)
{
	const struct appliance *c = s->cfg;
	struct sbuf b = SBUF_INIT;
	char path[300], addr[INET_ADDRSTRLEN];

	render_header(&b, ";", "the zone %s", c->domain);
	soa(&b, s);
	sbuf_printf(&b, "admin\tIN\tA\t%s\nregistry\tIN\tA\t%s\n", s->address, s->address);
	for (size_t i = 0; i < c->n_nodes; i++) {
		ipv4_format(c->nodes[i].address, addr);
		sbuf_printf(&b, "%s\tIN\tA\t%s\n", c->nodes[i].name, addr);
	}
	zone_path(path, sizeof(path), c->domain);
	fb_files_add(out, path, &b, 0644, true);
	return out->error;
}

static int reverse_zone(const struct fb_site *s, const char *zone, unsigned octets, struct fb_files *out)
{
	const struct appliance *c = s->cfg;
	struct sbuf b = SBUF_INIT;
	char path[300], owner[32];

	render_header(&b, ";", "the reverse zone %s of %s", zone, s->subnet);
	soa(&b, s);
	if (ipv4_reverse_owner(c->address, octets, owner, sizeof(owner)) < 0)
		return -ENAMETOOLONG;
	sbuf_printf(&b, "%s\tIN\tPTR\tadmin.%s.\n", owner, c->domain);
	for (size_t i = 0; i < c->n_nodes; i++) {
		if (ipv4_reverse_owner(c->nodes[i].address, octets, owner, sizeof(owner)) < 0)
			return -ENAMETOOLONG;
		sbuf_printf(&b, "%s\tIN\tPTR\t%s.%s.\n", owner, c->nodes[i].name, c->domain);
	}
	zone_path(path, sizeof(path), zone);
	fb_files_add(out, path, &b, 0644, true);
	return out->error;
}

static int dns_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;
	char reverse[64];
	unsigned octets;
	int r;

	r = ipv4_reverse_zone(s->cfg->address, s->cfg->prefix, reverse, sizeof(reverse), &octets);
	if (r < 0)
		return r;
	r = named_conf(s, reverse, out);
	if (r >= 0)
		r = forward_zone(s, out);
	if (r >= 0)
		r = reverse_zone(s, reverse, octets, out);
	if (r < 0)
		return r;

	/* The admin resolves through itself; a symlink (systemd-resolved's) is replaced. */
	render_header(&b, "#", "the admin's resolver: itself");
	sbuf_printf(&b, "search %s\nnameserver 127.0.0.1\n", s->domain);
	fb_files_add(out, DNS_RESOLV_CONF_PATH, &b, 0644, false);
	return out->error;
}

/* The zone a zone file holds, from its name: DNS_ZONE_DIR "/db.ZONE". */
static const char *zone_of(const char *path)
{
	size_t n = strlen(DNS_ZONE_DIR "/db.");

	return strncmp(path, DNS_ZONE_DIR "/db.", n) == 0 ? path + n : NULL;
}

static int dns_check(const struct fb_files *fs, char *const *staged, char **ret_error)
{
	/* Syntax only: the zone files it names are checked one by one below. */
	static const struct fb_checker named_conf = {
		DNS_NAMED_CONF_PATH, { "named-checkconf" }, "named-checkconf rejected the rendered named.conf"
	};
	int r = fb_check_file(fs, staged, &named_conf, ret_error);

	for (size_t i = 0; r >= 0 && i < fs->n; i++) {
		const char *zone = zone_of(fs->v[i].path);
		char *argv[] = { "named-checkzone", "-q", (char *)zone, staged[i], NULL };

		if (zone)
			r = fb_run_checker(argv, "named-checkzone rejected a rendered zone", ret_error);
	}
	return r;
}

/* NAME resolves to the admin's address. */
static int resolves_to_admin(struct fb_verify *v, void *name, char **ret_error)
{
	return probe_dns(v->probe, v->ports[FB_PORT_DNS], name, v->site.address_ip, FB_PROBE_TIMEOUT_MS, ret_error);
}

/* The admin's own name resolves to its address. */
static void dns_verify(struct fb_verify *v, json_t *svc)
{
	_cleanup_free_ char *name = NULL;

	if (asprintf(&name, "admin.%s", v->site.domain) < 0)
		return;
	(void)fb_verify_until(v, svc, resolves_to_admin, name, "no answer");
}

/* named's key for rndc, made on the machine: an image leaves out the one bind9's postinst made in
 * the rootfs (builder/rootstream.c), which every admin booted from it would share. Kept on the
 * data partition with /etc when the state is persistent. 0, a negative errno, or rndc-confgen's
 * exit status. */
static int rndc_key(const char *path)
{
	char *argv[] = { "rndc-confgen", "-a", "-A", "hmac-sha256", "-c", (char *)path, NULL };
	struct group *gr;
	int r;

	if (path_exists(path))
		return 0;
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = "/dev/null" });
	if (r != 0)
		return r;
	/* As bind9's postinst leaves it: named reads it as its own group. */
	gr = getgrnam("bind");
	if (gr && chown(path, 0, gr->gr_gid) < 0)
		return -errno;
	return chmod(path, 0640) < 0 ? -errno : 0;
}

static void dns_apply(const struct fb_site *s, const struct fb_host *h, json_t *svc)
{
	int r;

	(void)s;
	if (!h->live)
		return;
	r = rndc_key(DNS_RNDC_KEY_PATH);
	if (r < 0)
		status_error(svc, "cannot make named's rndc key %s: %s (is rndc-confgen installed?)", DNS_RNDC_KEY_PATH, strerror(-r));
	else if (r > 0)
		status_error(svc, "cannot make named's rndc key %s: rndc-confgen -a exited with status %d", DNS_RNDC_KEY_PATH, r);
}

static void dns_describe(const struct fb_site *s, json_t *svc)
{
	const struct appliance *c = s->cfg;

	status_detail(svc, "bind9 on %s:%u, zone %s with %zu node%s, %s", s->address, s->ports[FB_PORT_DNS], c->domain,
		      c->n_nodes, c->n_nodes == 1 ? "" : "s", c->dns_forwarders[0] ? "forwarding the rest" : "no forwarders");
}

const struct fb_service fb_service_dns = {
	.name = "dns", .unit = "named.service", .daemon = "named",
	.port = FB_PORT_DNS, .protocols = FB_UDP | FB_TCP,
	.describe = dns_describe, .render = dns_render, .check = dns_check, .apply = dns_apply, .verify = dns_verify,
};
