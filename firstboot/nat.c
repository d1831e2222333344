/* NAT and the service firewall: one nftables table of gapbox's own, replaced atomically, and
 * the sysctls that go with it. */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_value(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return (x > y) - (x < y);
}

/* "{ 53, 80, 35000 }" from the ports, sorted and without duplicates (nft refuses them). */
static void port_set(struct sbuf *b, unsigned *ports, size_t n)
{
	qsort(ports, n, sizeof(*ports), by_value);
	sbuf_puts(b, "{ ");
	for (size_t i = 0; i < n; i++)
		if (i == 0 || ports[i] != ports[i - 1])
			sbuf_printf(b, "%s%u", i ? ", " : "", ports[i]);
	sbuf_puts(b, " }");
}

int nat_render(const struct fb_site *s, struct fb_files *out)
{
	unsigned tcp[] = { 53, s->cfg->http_port, s->cfg->registry_port }, udp[] = { 53, 123 };
	struct sbuf b = SBUF_INIT;

	sbuf_puts(&b, "#!/usr/sbin/nft -f\n");
	render_header(&b, "#", "NAT and the service firewall");
	sbuf_puts(&b, "# Only the table gapbox is ours; the two lines before it replace it in one transaction.\n"
		      "table inet gapbox\n"
		      "delete table inet gapbox\n"
		      "\n"
		      "table inet gapbox {\n"
		      "\t# DNS, NTP, HTTP and the registry answer on the internal network and loopback only.\n"
		      "\tchain input {\n"
		      "\t\ttype filter hook input priority filter; policy accept;\n"
		      "\t\tiifname \"lo\" accept\n");
	if (s->internal.name[0])
		sbuf_printf(&b, "\t\tiifname \"%s\" accept\n", s->internal.name);
	sbuf_puts(&b, "\t\ttcp dport ");
	port_set(&b, tcp, ARRAY_SIZE(tcp));
	sbuf_puts(&b, " drop\n\t\tudp dport ");
	port_set(&b, udp, ARRAY_SIZE(udp));
	sbuf_puts(&b, " drop\n\t}\n\n");

	if (s->nat) {
		sbuf_printf(&b,
			    "\t# NAT on: the internal subnet reaches out through %s; nothing comes in unasked.\n"
			    "\tchain forward {\n"
			    "\t\ttype filter hook forward priority filter; policy drop;\n"
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

int nat_check(const struct fb_files *fs, char *const *staged, char **ret_error)
{
	for (size_t i = 0; i < fs->n; i++)
		if (streq(fs->v[i].path, NAT_NFT_PATH)) {
			char *argv[] = { "nft", "-c", "-f", staged[i], NULL };

			return fb_run_checker(argv, "nft -c -f rejected the rendered ruleset", ret_error);
		}
	return 0;
}
