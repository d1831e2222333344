/* The site record: resolved from the configuration and this machine's NICs, written into
 * status.json's "admin" object by configure and read back from it by verify. */
#include "site.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "imageref.h"
#include "strv.h"
#include "tls.h"

/* The record's keys for the ports, and what a status without one of them means. */
static const char *const port_keys[N_FB_PORTS] = {
	[FB_PORT_DNS] = "dns_port",
	[FB_PORT_NTP] = "ntp_port",
	[FB_PORT_HTTP] = "http_port",
	[FB_PORT_REGISTRY] = "registry_port",
};
/* The configuration's key for each port it sets. */
static const char *const port_config_keys[N_FB_PORTS] = {
	[FB_PORT_HTTP] = "http.port",
	[FB_PORT_REGISTRY] = "registry.port",
};
static const unsigned port_defaults[N_FB_PORTS] = {
	[FB_PORT_DNS] = APPLIANCE_DNS_PORT,
	[FB_PORT_NTP] = APPLIANCE_NTP_PORT,
	[FB_PORT_HTTP] = APPLIANCE_DEFAULT_HTTP_PORT,
	[FB_PORT_REGISTRY] = APPLIANCE_DEFAULT_REGISTRY_PORT,
};

/* The texts made from the address and the ports, the same way whichever side fills S. */
static void site_texts(struct fb_site *s)
{
	ipv4_format(s->address_ip, s->address);
	snprintf(s->cidr, sizeof(s->cidr), "%s/%u", s->address, s->prefix);
	ipv4_format_subnet(s->address_ip, s->prefix, s->subnet);
	if (s->ports[FB_PORT_HTTP] == 80)
		snprintf(s->http_url, sizeof(s->http_url), "http://%s", s->address);
	else
		snprintf(s->http_url, sizeof(s->http_url), "http://%s:%u", s->address, s->ports[FB_PORT_HTTP]);
	snprintf(s->registry_host, sizeof(s->registry_host), "%s:%u", s->address, s->ports[FB_PORT_REGISTRY]);
	/* Downloaded whole before it runs, and checked: the nodes fetch it over plain HTTP. */
	if (s->node_setup_sha256[0])
		snprintf(s->node_command, sizeof(s->node_command),
			 "curl -fsSo node-setup.sh %s/gapbox/node-setup.sh && echo \"%s  node-setup.sh\" | sha256sum -c "
			 "&& sudo sh node-setup.sh", s->http_url, s->node_setup_sha256);
	else
		snprintf(s->node_command, sizeof(s->node_command),
			 "curl -fsSo node-setup.sh %s/gapbox/node-setup.sh && sudo sh node-setup.sh", s->http_url);
}

void fb_site_set_tls_ca(struct fb_site *s, char *pem)
{
	free(s->tls_ca_pem);
	s->tls_ca_pem = pem;
	s->tls_ca_sha256[0] = '\0';
	if (pem)
		fb_tls_sha256(pem, s->tls_ca_sha256);
}

void fb_site_set_node_setup(struct fb_site *s, const char *hex)
{
	snprintf(s->node_setup_sha256, sizeof(s->node_setup_sha256), "%s", hex);
	site_texts(s);
}

unsigned fb_site_config_port(const struct appliance *cfg, enum fb_port p, const char **ret_key,
			     const char **ret_where)
{
	const char *where = NULL;
	unsigned port = port_defaults[p];

	if (p == FB_PORT_HTTP) {
		port = cfg->http_port;
		where = cfg->http_port_where;
	} else if (p == FB_PORT_REGISTRY) {
		port = cfg->registry_port;
		where = cfg->registry_port_where;
	}
	if (ret_key)
		*ret_key = port_config_keys[p];
	if (ret_where)
		*ret_where = where;
	return port;
}

int fb_site_init(struct fb_site *s, const struct appliance *cfg, const struct nic_choice *nics, const char *payload,
		 char *const *payload_strip, const char **ret_nat_error)
{
	_cleanup_strv_free_ char **extra = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->internal = nics->internal;
	s->external = nics->external;
	s->internal_by_mac = s->internal.mac[0] && !streq(cfg->internal, s->internal.name);
	s->external_by_mac = s->external.mac[0] && !streq(cfg->external, s->external.name);
	s->nat = cfg->nat != 0 && s->external.name[0];
	if (ret_nat_error)
		*ret_nat_error = cfg->nat == 1 && !s->external.name[0]
					 ? "nat is on in the configuration but there is no external interface; NAT stays off"
					 : NULL;
	s->address_ip = cfg->address;
	s->prefix = cfg->prefix;
	snprintf(s->domain, sizeof(s->domain), "%s", cfg->domain);
	for (int p = FB_PORT_NONE + 1; p < N_FB_PORTS; p++)
		s->ports[p] = fb_site_config_port(cfg, p, NULL, NULL);
	site_texts(s);
	s->access = cfg->ssh_keys[0] || cfg->root_password_hash;
	s->registry_tls = cfg->registry_tls;
	if (payload && !(s->payload = strdup(payload)))
		return -ENOMEM;
	/* What the build stripped, then what the configuration adds; the built-in ones lead. */
	for (char *const *p = payload_strip; p && *p; p++)
		if ((r = strv_push(&extra, *p)) < 0)
			return r;
	for (char *const *p = cfg->registry_strip; p && *p; p++)
		if ((r = strv_push(&extra, *p)) < 0)
			return r;
	return image_ref_strip_list(extra, &s->strip_registries);
}

void fb_site_done(struct fb_site *s)
{
	free(s->payload);
	strv_free(s->strip_registries);
	strv_free(s->node_os);
	strv_free(s->registry_tags);
	payload_record_kubespray_done(&s->kubespray);
	free(s->tls_ca_pem);
	s->tls_ca_pem = NULL;
	free(s->admin_key);
	s->admin_key = NULL;
	s->payload = NULL;
	s->strip_registries = NULL;
	s->node_os = NULL;
	s->registry_tags = NULL;
}

json_t *fb_site_to_json(const struct fb_site *s)
{
	json_t *admin, *strip = json_array();

	admin = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s?, s:s?, s:b}", "address", s->address, "prefix", (int)s->prefix,
			  "cidr", s->cidr, "subnet", s->subnet, "domain", s->domain, "internal",
			  s->internal.name[0] ? s->internal.name : NULL, "external",
			  s->external.name[0] ? s->external.name : NULL, "nat", s->nat);
	if (!admin || !strip) {
		json_decref(admin);
		json_decref(strip);
		return NULL;
	}
	for (int p = FB_PORT_NONE + 1; p < N_FB_PORTS; p++)
		json_object_set_new(admin, port_keys[p], json_integer(s->ports[p]));
	json_object_set_new(admin, "http_url", json_string(s->http_url));
	json_object_set_new(admin, "registry", json_string(s->registry_host));
	json_object_set_new(admin, "payload", s->payload ? json_string(s->payload) : json_null());
	json_object_set_new(admin, "payload_sample", json_boolean(s->payload_sample));
	json_object_set_new(admin, "node_setup_sha256",
			    s->node_setup_sha256[0] ? json_string(s->node_setup_sha256) : json_null());
	json_object_set_new(admin, "node_command", json_string(s->node_command));
	json_object_set_new(admin, "registry_tls", json_boolean(s->registry_tls));
	json_object_set_new(admin, "tls_ca_sha256", s->tls_ca_sha256[0] ? json_string(s->tls_ca_sha256) : json_null());
	json_object_set_new(admin, "access", json_boolean(s->access));
	for (char **r = s->strip_registries; r && *r; r++)
		json_array_append_new(strip, json_string(*r));
	json_object_set_new(admin, "strip_registries", strip);
	return admin;
}

/* ADMIN's string KEY into BUF; false when it is missing or does not fit. */
static bool string_into(json_t *admin, const char *key, char *buf, size_t size)
{
	const char *v = json_string_value(json_object_get(admin, key));

	return v && (size_t)snprintf(buf, size, "%s", v) < size;
}

int fb_site_from_json(json_t *admin, struct fb_site *ret, char **ret_error)
{
	json_int_t prefix = json_integer_value(json_object_get(admin, "prefix"));
	const char *payload = json_string_value(json_object_get(admin, "payload"));
	struct fb_site s = {};
	json_t *item;
	size_t i;
	int r;

	if (!string_into(admin, "address", s.address, sizeof(s.address)) || ipv4_parse(s.address, &s.address_ip) < 0 ||
	    !string_into(admin, "domain", s.domain, sizeof(s.domain)))
		return gb_error(ret_error, -EINVAL, "the status has no admin address");
	s.prefix = prefix >= APPLIANCE_PREFIX_MIN && prefix <= APPLIANCE_PREFIX_MAX ? (unsigned)prefix : 0;
	for (int p = FB_PORT_NONE + 1; p < N_FB_PORTS; p++) {
		json_int_t port = json_integer_value(json_object_get(admin, port_keys[p]));

		s.ports[p] = port > 0 && port < 65536 ? (unsigned)port : port_defaults[p];
	}
	if (!string_into(admin, "node_setup_sha256", s.node_setup_sha256, sizeof(s.node_setup_sha256)) ||
	    strspn(s.node_setup_sha256, "0123456789abcdef") != SHA256_HEX_LEN)
		s.node_setup_sha256[0] = '\0';
	site_texts(&s);
	(void)string_into(admin, "internal", s.internal.name, sizeof(s.internal.name));
	(void)string_into(admin, "external", s.external.name, sizeof(s.external.name));
	s.nat = json_is_true(json_object_get(admin, "nat"));
	s.access = json_is_true(json_object_get(admin, "access"));
	s.payload_sample = json_is_true(json_object_get(admin, "payload_sample"));
	s.registry_tls = json_is_true(json_object_get(admin, "registry_tls"));
	if (!string_into(admin, "tls_ca_sha256", s.tls_ca_sha256, sizeof(s.tls_ca_sha256)) ||
	    strspn(s.tls_ca_sha256, "0123456789abcdef") != SHA256_HEX_LEN)
		s.tls_ca_sha256[0] = '\0';
	if (payload && !(s.payload = strdup(payload)))
		return -ENOMEM;
	json_array_foreach(json_object_get(admin, "strip_registries"), i, item)
		if (json_is_string(item) && (r = strv_push(&s.strip_registries, json_string_value(item))) < 0) {
			fb_site_done(&s);
			return r;
		}
	*ret = s;
	return 0;
}
