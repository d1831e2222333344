/* Load /etc/gapbox/appliance.yaml over the built-in defaults, apply gapbox.* kernel
 * parameters, and check everything with FILE:LINE:COLUMN messages. Nothing here looks at the
 * machine: gapbox build runs the same loader on the build host (firstboot/configcheck.h). */
#include "appliance.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "error.h"
#include "netaddr.h"
#include "strv.h"
#include "yamlnode.h"

#define DNS_LABEL_MAX 63
#define DNS_NAME_MAX APPLIANCE_DOMAIN_MAX
#define PORT_MAX 65535

static const char *const role_names[] = { "control-plane", "etcd", "worker", NULL };
static const unsigned role_bits[] = { NODE_CONTROL_PLANE, NODE_ETCD, NODE_WORKER };

static char **strv_empty(void)
{
	return calloc(1, sizeof(char *));
}

static void nodes_free(struct appliance_node *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(nodes[i].name);
		free(nodes[i].where);
	}
	free(nodes);
}

void appliance_free(struct appliance *a)
{
	if (!a)
		return;
	char *strings[] = { a->internal, a->external, a->domain, a->root_password_hash, a->address_where,
			    a->internal_where, a->external_where, a->nat_where,
			    a->registry_writable_size, a->http_port_where, a->registry_port_where,
			    a->registry_tls_ca_cert, a->registry_tls_ca_key, a->node_ssh_user };
	char **lists[] = { a->dns_forwarders, a->ntp_servers, a->registry_strip, a->registry_push_users, a->ssh_keys,
			   a->ssh_host_keys };

	for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
		free(strings[i]);
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		strv_free(lists[i]);
	nodes_free(a->nodes, a->n_nodes);
	free(a);
}

int appliance_new_default(struct appliance **ret)
{
	_cleanup_(appliance_freep) struct appliance *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	if (ipv4_parse_cidr(APPLIANCE_DEFAULT_ADDRESS, &a->address, &a->prefix) < 0)
		return -EINVAL;
	a->nat = APPLIANCE_NAT_AUTO;
	a->http_port = APPLIANCE_DEFAULT_HTTP_PORT;
	a->registry_port = APPLIANCE_DEFAULT_REGISTRY_PORT;
	a->internal = strdup("auto");
	a->external = strdup("auto");
	a->domain = strdup(APPLIANCE_DEFAULT_DOMAIN);
	a->dns_forwarders = strv_empty();
	a->ntp_servers = strv_empty();
	a->registry_strip = strv_empty();
	a->registry_push_users = strv_empty();
	a->registry_writable_size = strdup(APPLIANCE_DEFAULT_REGISTRY_WRITABLE);
	a->ssh_keys = strv_empty();
	a->ssh_host_keys = strv_empty();
	if (!a->internal || !a->external || !a->domain || !a->dns_forwarders || !a->ntp_servers ||
	    !a->registry_strip || !a->registry_push_users || !a->registry_writable_size || !a->ssh_keys ||
	    !a->ssh_host_keys)
		return -ENOMEM;
	*ret = TAKE_PTR(a);
	return 0;
}

/* ---- value checks ---- */

static bool is_label_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

/* One lowercase DNS label of LEN bytes at S. */
static bool is_label(const char *s, size_t len)
{
	if (len == 0 || len > DNS_LABEL_MAX || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_label_char(s[i]))
			return false;
	return true;
}

/* Last labels that nodes resolve without asking a DNS server (RFC 6761, 6762, 7686): a site
 * under one of them would not resolve on the nodes. */
static const char *const special_use_tlds[] = { "local", "localhost", "invalid", "onion" };

/* The site's domain is a zone the admin's DNS serves as its own. At least two labels, so that
 * it is never a top-level domain on its own: a single label ('com', but also 'lan' or
 * 'internal') would make the admin answer for a whole top-level domain, and which single
 * labels are public changes with ICANN's delegations, which an air-gapped machine cannot
 * look up; two labels are always a name below one (gapbox.lan, site.internal, home.arpa). */
const char *appliance_check_domain(const char *s)
{
	static const char expected[] = "a DNS domain of lowercase letters, digits and '-' in dot-separated "
				       "labels, like gapbox.lan (no trailing dot)";
	const char *label = s, *dot;
	bool numeric = true;

	if (!*s || strlen(s) > DNS_NAME_MAX)
		return expected;
	for (;;) {
		dot = strchr(label, '.');
		if (!is_label(label, dot ? (size_t)(dot - label) : strlen(label)))
			return expected;
		if (!dot)
			break;
		label = dot + 1;
	}
	/* The last label must not be all digits, or the domain reads as an address. */
	for (const char *c = label; *c; c++)
		if (!isdigit((unsigned char)*c))
			numeric = false;
	if (numeric)
		return expected;
	if (label == s)
		return "a domain of at least two labels, like gapbox.lan or site.internal (a top-level domain on "
		       "its own is not the site's to serve)";
	for (size_t i = 0; i < ARRAY_SIZE(special_use_tlds); i++)
		if (streq(label, special_use_tlds[i]))
			return "a domain outside .local, .localhost, .invalid and .onion, like gapbox.lan (nodes "
			       "resolve those names without asking the admin's DNS)";
	return NULL;
}

bool appliance_is_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return false;
		} else if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool is_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || streq(s, ".") || streq(s, ".."))
		return false;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '/' || *c == ':' || *c == 0x7f || *c == '"' || *c == '\\')
			return false;
	return true;
}

const char *appliance_check_nic(const char *s)
{
	if (streq(s, "auto") || streq(s, "none") || appliance_is_mac(s) || is_ifname(s))
		return NULL;
	return "'auto', an interface name (at most 15 characters) or a MAC address like 52:54:00:12:34:56";
}

static const char *check_internal(const char *s)
{
	if (streq(s, "none"))
		return "'auto', an interface name or a MAC address (the internal network cannot be 'none')";
	return appliance_check_nic(s);
}

static const char *check_external(const char *s)
{
	if (appliance_check_nic(s))
		return "'auto', 'none', an interface name (at most 15 characters) or a MAC address";
	return NULL;
}

static const char *check_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
		return NULL;
	return "an IPv4 or IPv6 address";
}

/* Host names for NTP servers and registries: letters, digits, '-', '.', any case. */
static bool is_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DNS_NAME_MAX || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.')
			return false;
	return !strstr(s, "..");
}

static const char *check_ntp_server(const char *s)
{
	if (!check_ip(s) || is_hostname(s))
		return NULL;
	return "a host name or an IP address";
}

static const char *check_registry_host(const char *s)
{
	_cleanup_free_ char *host = strdup(s);
	char *colon = host ? strchr(host, ':') : NULL;

	if (!host)
		return "a registry host";
	if (colon) {
		*colon = '\0';
		if (!colon[1] || strlen(colon + 1) > 5 || strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return "a registry host like registry.example.com or host:5000";
	}
	if (!is_hostname(host) || !strchr(host, '.'))
		return "a registry host with a dot in it, like registry.example.com or host:5000";
	return NULL;
}

/* One htpasswd line: a user name, and a hash nginx checks (bcrypt from `htpasswd -B`, or what
 * crypt(3) takes: yescrypt, SHA-512, SHA-256; or apr1 MD5 from `htpasswd -m`). Never a plain
 * password: nginx would take "{PLAIN}" lines too, but a password in the clear has no place in
 * a file that is kept. */
static const char *check_push_user(const char *s)
{
	static const char *const schemes[] = { "$2y$", "$2b$", "$2a$", "$y$", "$6$", "$5$", "$apr1$" };
	static const char expected[] = "'user:hash', a line such as `htpasswd -nB user` prints (a bcrypt, "
				       "yescrypt, SHA-crypt or apr1 hash, never a plain password)";
	const char *colon = strchr(s, ':'), *hash;
	bool known = false;

	if (!colon || colon == s || strchr(colon + 1, ':'))
		return expected;
	for (const char *c = s; c < colon; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-@", *c))
			return "'user:hash' with a user name of letters, digits and . _ - @";
	hash = colon + 1;
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		known = known || strncmp(hash, schemes[i], strlen(schemes[i])) == 0;
	if (!known || strlen(hash) < 20)
		return expected;
	for (const char *c = hash; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("$./=,-", *c))
			return expected;
	return NULL;
}

/* A tmpfs size: a percentage of RAM (1% to 100%) or bytes with an optional k, m or g. */
static const char *check_size(const char *s)
{
	static const char expected[] = "a size such as '25%' (of RAM), '512m' or '4g'";
	size_t digits = strspn(s, "0123456789");
	unsigned long long n;

	if (digits == 0 || digits > 12 || (s[digits] && (s[digits + 1] || !strchr("%kKmMgG", s[digits]))))
		return expected;
	n = strtoull(s, NULL, 10);
	if (n == 0 || (s[digits] == '%' && n > 100))
		return expected;
	return NULL;
}

/* A user name as useradd takes it by default and as node-setup.sh and an Ansible inventory can
 * carry unquoted: a lowercase letter or _, then lowercase letters, digits, _ and -; 32 at most. */
static const char *check_user_name(const char *s)
{
	static const char expected[] = "a user name of a lowercase letter or _ then lowercase letters, digits, _ "
				       "and -, at most 32 (such as 'ansible')";
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return expected;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return expected;
	return NULL;
}

static const char *check_ssh_key(const char *s)
{
	static const char *const types[] = { "ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-" };

	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			return "one authorized_keys line (no line breaks)";
	/* The key type comes first, or after options ("from=... ssh-ed25519 AAAA..."). */
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		const char *hit = strstr(s, types[i]);

		if (hit && (hit == s || hit[-1] == ' '))
			return NULL;
	}
	return "an SSH public key line such as 'ssh-ed25519 AAAA... user@host'";
}

/* An SSH host private key as ssh-keygen writes it; its type (ed25519 or ECDSA) is checked when
 * it is installed, by ssh-keygen itself. */
static const char *check_host_key(const char *s)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n", end[] = "-----END OPENSSH PRIVATE KEY-----";

	if (strncmp(s, begin, strlen(begin)) != 0 || !strstr(s, end) || strlen(s) > 16384)
		return "an OpenSSH private key, as ssh-keygen writes it (-----BEGIN OPENSSH PRIVATE KEY----- ...), in a "
		       "block scalar (|)";
	return NULL;
}

/* The site CA's certificate, one PEM block; openssl reads it when first boot uses it. */
static const char *check_ca_cert(const char *s)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n", end[] = "-----END CERTIFICATE-----";

	if (strncmp(s, begin, strlen(begin)) != 0 || !strstr(s, end) || strstr(strstr(s, end), begin) ||
	    strlen(s) > 16384)
		return "one PEM certificate (-----BEGIN CERTIFICATE----- ...), the site CA's, in a block scalar (|)";
	return NULL;
}

/* The site CA's private key: PKCS#8 (openssl genpkey) or EC (openssl ecparam -genkey), unencrypted. */
static const char *check_ca_key(const char *s)
{
	static const char *const begins[] = { "-----BEGIN PRIVATE KEY-----\n", "-----BEGIN EC PRIVATE KEY-----\n" };

	for (size_t i = 0; i < ARRAY_SIZE(begins); i++)
		if (strncmp(s, begins[i], strlen(begins[i])) == 0 && strstr(s, "-----END ") && strlen(s) <= 16384)
			return NULL;
	return "an unencrypted PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----), "
	       "the site CA's, in a block scalar (|)";
}

static const char *check_password_hash(const char *s)
{
	static const char expected[] = "a crypt(3) hash such as `mkpasswd -m yescrypt` prints ('$y$...', "
				       "'$6$...'), never a plain password";
	const char *id_end;

	if (s[0] != '$' || strlen(s) < 13)
		return expected;
	id_end = strchr(s + 1, '$');
	if (!id_end || id_end == s + 1)
		return expected;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("$./=,-", *c))
			return expected;
	return NULL;
}

static const char *check_node_name(const char *s)
{
	if (!is_label(s, strlen(s)))
		return "a host name of lowercase letters, digits and '-' (one DNS label, at most 63 characters)";
	if (streq(s, "admin") || streq(s, "registry"))
		return "a host name other than 'admin' and 'registry' (the admin server has those)";
	return NULL;
}

/* ---- YAML walk ---- */

static char *mark_text(struct yn_doc *d, const yaml_node_t *node)
{
	char *s;

	if (asprintf(&s, "%s:%zu:%zu", d->path, node->start_mark.line + 1, node->start_mark.column + 1) < 0)
		return NULL;
	return s;
}

static int handle_address(struct yn_doc *d, const yaml_node_t *value, const char *key, void *target,
			  char **ret_error)
{
	struct appliance *a = target;
	const char *s = yn_scalar(value);
	char buf[YN_DESCRIBE_MAX];
	struct in_addr addr;
	unsigned prefix;

	if (!s || ipv4_parse_cidr(s, &addr, &prefix) < 0)
		return yn_error(d, value, ret_error,
				"%s: expected an IPv4 address with its prefix length, like 192.168.10.10/24, got %s",
				key, yn_describe(d, value, buf));
	if (prefix < APPLIANCE_PREFIX_MIN || prefix > APPLIANCE_PREFIX_MAX)
		return yn_error(d, value, ret_error, "%s: expected a prefix length from /%d to /%d, got %s", key,
				APPLIANCE_PREFIX_MIN, APPLIANCE_PREFIX_MAX, yn_describe(d, value, buf));
	a->address = addr;
	a->prefix = prefix;
	free(a->address_where);
	a->address_where = mark_text(d, value);
	return a->address_where ? 0 : -ENOMEM;
}

static int handle_nat(struct yn_doc *d, const yaml_node_t *value, const char *key, void *target,
		      char **ret_error)
{
	struct appliance *a = target;
	const char *s = yn_scalar(value);
	char buf[YN_DESCRIBE_MAX];
	bool b;

	if (s && value->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && streq(s, "auto")) {
		a->nat = APPLIANCE_NAT_AUTO;
		return 0;
	}
	if (yn_get_bool(d, value, key, &b, NULL) < 0)
		return yn_error(d, value, ret_error, "%s: expected true, false or auto, got %s", key,
				yn_describe(d, value, buf));
	a->nat = b;
	return 0;
}

/* A node as written; converted and checked after the walk. */
struct node_yaml {
	char *name;
	char *address;
	char **roles;
};

enum { NODE_F_NAME, NODE_F_ADDRESS, NODE_F_ROLES, N_NODE_FIELDS };

static const struct yn_field node_fields[N_NODE_FIELDS] = {
	[NODE_F_NAME] = { "name", YN_STRING, .required = true, .offset = offsetof(struct node_yaml, name),
			  .check = check_node_name },
	[NODE_F_ADDRESS] = { "address", YN_STRING, .required = true, .offset = offsetof(struct node_yaml, address) },
	[NODE_F_ROLES] = { "roles", YN_STRLIST, .offset = offsetof(struct node_yaml, roles), .names = role_names },
};

static int node_convert(struct yn_doc *d, struct node_yaml *y, yaml_node_t **found, const char *key,
			struct appliance_node *ret, char **ret_error)
{
	char buf[YN_DESCRIBE_MAX];

	if (ipv4_parse(y->address, &ret->address) < 0)
		return yn_error(d, found[NODE_F_ADDRESS], ret_error, "%s.address: expected an IPv4 address, got %s",
				key, yn_describe(d, found[NODE_F_ADDRESS], buf));
	ret->roles = 0;
	for (size_t i = 0; y->roles && y->roles[i]; i++)
		for (size_t j = 0; role_names[j]; j++)
			if (streq(y->roles[i], role_names[j]))
				ret->roles |= role_bits[j];
	ret->where = mark_text(d, found[NODE_F_ADDRESS]);
	if (!ret->where)
		return -ENOMEM;
	ret->name = TAKE_PTR(y->name);
	return 0;
}

static int handle_nodes(struct yn_doc *d, const yaml_node_t *value, const char *key, void *target,
			char **ret_error)
{
	struct appliance *a = target;
	struct appliance_node *nodes;
	char buf[YN_DESCRIBE_MAX];
	size_t n;
	int r = 0;

	if (value->type != YAML_SEQUENCE_NODE)
		return yn_error(d, value, ret_error, "%s: expected a list of nodes (name, address, roles), got %s%s",
				key, yn_describe(d, value, buf), yn_is_null(value) ? " (write [] for none)" : "");
	n = yn_seq_len(value);
	if (n > APPLIANCE_NODES_MAX)
		return yn_error(d, value, ret_error, "%s: at most %d nodes, got %zu", key, APPLIANCE_NODES_MAX, n);
	nodes = calloc(n ? n : 1, sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		yaml_node_t *item = yn_seq_item(d, value, i), *found[N_NODE_FIELDS];
		struct node_yaml y = {};
		char section[48], prefix[48];

		snprintf(section, sizeof(section), "%s[%zu]", key, i);
		snprintf(prefix, sizeof(prefix), "%s[%zu].", key, i);
		r = yn_map_walk(d, item, section, prefix, node_fields, N_NODE_FIELDS, &y, found, ret_error);
		if (r >= 0)
			r = node_convert(d, &y, found, section, &nodes[i], ret_error);
		free(y.name);
		free(y.address);
		strv_free(y.roles);
	}
	if (r < 0) {
		nodes_free(nodes, n);
		return r;
	}
	nodes_free(a->nodes, a->n_nodes);
	a->nodes = nodes;
	a->n_nodes = n;
	return 0;
}

enum { TOP_NETWORK, TOP_DOMAIN, TOP_DNS, TOP_NTP, TOP_HTTP, TOP_REGISTRY, TOP_NODES, TOP_ACCESS, N_TOP };

static const struct yn_field top_fields[N_TOP] = {
	[TOP_NETWORK] = { "network", YN_MAPPING },
	[TOP_DOMAIN] = { "domain", YN_STRING, .offset = offsetof(struct appliance, domain),
			 .check = appliance_check_domain },
	[TOP_DNS] = { "dns", YN_MAPPING },
	[TOP_NTP] = { "ntp", YN_MAPPING },
	[TOP_HTTP] = { "http", YN_MAPPING },
	[TOP_REGISTRY] = { "registry", YN_MAPPING },
	[TOP_NODES] = { "nodes", YN_CUSTOM, .handler = handle_nodes },
	[TOP_ACCESS] = { "access", YN_MAPPING },
};

enum { NETWORK_ADDRESS, NETWORK_INTERNAL, NETWORK_EXTERNAL, NETWORK_NAT, N_NETWORK };

static const struct yn_field network_fields[N_NETWORK] = {
	[NETWORK_ADDRESS] = { "address", YN_CUSTOM, .handler = handle_address },
	[NETWORK_INTERNAL] = { "internal", YN_STRING, .offset = offsetof(struct appliance, internal),
			       .check = check_internal },
	[NETWORK_EXTERNAL] = { "external", YN_STRING, .offset = offsetof(struct appliance, external),
			       .check = check_external },
	[NETWORK_NAT] = { "nat", YN_CUSTOM, .handler = handle_nat },
};

static const struct yn_field dns_fields[] = {
	{ "forwarders", YN_STRLIST, .offset = offsetof(struct appliance, dns_forwarders), .check = check_ip },
};

static const struct yn_field ntp_fields[] = {
	{ "servers", YN_STRLIST, .offset = offsetof(struct appliance, ntp_servers), .check = check_ntp_server },
};

static const struct yn_field http_fields[] = {
	{ "port", YN_UINT, .offset = offsetof(struct appliance, http_port), .max = PORT_MAX },
};

static const struct yn_field registry_fields[] = {
	{ "port", YN_UINT, .offset = offsetof(struct appliance, registry_port), .max = PORT_MAX },
	{ "strip_registries", YN_STRLIST, .offset = offsetof(struct appliance, registry_strip),
	  .check = check_registry_host },
	{ "push_users", YN_STRLIST, .offset = offsetof(struct appliance, registry_push_users),
	  .check = check_push_user, .secret = true },
	{ "writable_size", YN_STRING, .offset = offsetof(struct appliance, registry_writable_size),
	  .check = check_size },
	{ "tls", YN_BOOL, .offset = offsetof(struct appliance, registry_tls) },
	{ "tls_ca_cert", YN_STRING, .offset = offsetof(struct appliance, registry_tls_ca_cert), .check = check_ca_cert },
	{ "tls_ca_key", YN_STRING, .offset = offsetof(struct appliance, registry_tls_ca_key), .check = check_ca_key,
	  .secret = true, .private_key = true },
};

/* registry_fields' indexes, for the checks across them. */
enum { REGISTRY_PORT, REGISTRY_TLS = 4, REGISTRY_TLS_CA_CERT, REGISTRY_TLS_CA_KEY };

static const struct yn_field access_fields[] = {
	{ "ssh_authorized_keys", YN_STRLIST, .offset = offsetof(struct appliance, ssh_keys), .check = check_ssh_key },
	{ "ssh_host_keys", YN_STRLIST, .offset = offsetof(struct appliance, ssh_host_keys), .check = check_host_key,
	  .secret = true, .private_key = true },
	{ "root_password_hash", YN_STRING, .offset = offsetof(struct appliance, root_password_hash),
	  .check = check_password_hash, .secret = true },
	{ "node_ssh_user", YN_STRING, .offset = offsetof(struct appliance, node_ssh_user), .check = check_user_name },
};

struct section {
	int top;
	const char *name;
	const struct yn_field *fields;
	size_t n;
};

static const struct section sections[] = {
	{ TOP_NETWORK, "network", network_fields, ARRAY_SIZE(network_fields) },
	{ TOP_DNS, "dns", dns_fields, ARRAY_SIZE(dns_fields) },
	{ TOP_NTP, "ntp", ntp_fields, ARRAY_SIZE(ntp_fields) },
	{ TOP_HTTP, "http", http_fields, ARRAY_SIZE(http_fields) },
	{ TOP_REGISTRY, "registry", registry_fields, ARRAY_SIZE(registry_fields) },
	{ TOP_ACCESS, "access", access_fields, ARRAY_SIZE(access_fields) },
};

/* A port set in the file: not 0, and where it was set kept for the checks against the services'
 * ports (fb_check_ports). */
static int port_set(struct yn_doc *d, const yaml_node_t *node, const char *key, unsigned port, char **where,
		    char **ret_error)
{
	if (!node)
		return 0;
	if (port == 0)
		return yn_error(d, node, ret_error, "%s: expected a port from 1 to %d, got '0'", key, PORT_MAX);
	free(*where);
	*where = mark_text(d, node);
	return *where ? 0 : -ENOMEM;
}

/* A supplied site CA comes whole (certificate and key) and only with registry.tls on. FOUND:
 * registry_fields' value nodes. */
static int registry_tls_check(struct yn_doc *d, const struct appliance *a, yaml_node_t **found, char **ret_error)
{
	yaml_node_t *cert = found[REGISTRY_TLS_CA_CERT], *key = found[REGISTRY_TLS_CA_KEY];

	if (cert && !key)
		return yn_error(d, cert, ret_error, "registry.tls_ca_cert: expected registry.tls_ca_key beside it (the site "
				"CA's certificate and its private key go together)");
	if (key && !cert)
		return yn_error(d, key, ret_error, "registry.tls_ca_key: expected registry.tls_ca_cert beside it (the site "
				"CA's certificate and its private key go together)");
	if (cert && !a->registry_tls)
		return yn_error(d, found[REGISTRY_TLS] ? found[REGISTRY_TLS] : cert, ret_error,
				"registry.tls: expected true where a site CA is supplied (registry.tls_ca_cert)");
	return 0;
}

/* A value that holds something: not null, not an empty list. */
static bool holds_value(const yaml_node_t *v)
{
	return v && !yn_is_null(v) && !(v->type == YAML_SEQUENCE_NODE && yn_seq_len(v) == 0);
}

/* A configuration baked into an image holds no private key: every copy of the image would carry
 * it, and an image is copied (USB sticks, PXE servers, the build host's out/). An empty value
 * ([] as the shipped file has) holds none. FOUND: top_fields' value nodes. */
static int refuse_private_keys(struct yn_doc *d, yaml_node_t **found, char **ret_error)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		const struct section *s = &sections[i];

		for (size_t j = 0; j < s->n; j++)
			if (s->fields[j].private_key && holds_value(yn_map_get(d, found[s->top], s->fields[j].key)))
				return yn_error(d, yn_map_get_key(d, found[s->top], s->fields[j].key), ret_error,
						"%s.%s: private key material cannot be baked into an image (every copy of the "
						"image would carry it); expected it only in the configuration on the data "
						"partition, GAPBOX-DATA's etc/gapbox/appliance.yaml, which the admin reads "
						"whole instead of the baked one", s->name, s->fields[j].key);
	}
	return 0;
}

/* Where the network keys that only the machine can check were set. SUB: network_fields' value nodes. */
static int network_where(struct yn_doc *d, struct appliance *a, yaml_node_t **sub)
{
	struct {
		yaml_node_t *node;
		char **where;
	} keys[] = { { sub[NETWORK_INTERNAL], &a->internal_where }, { sub[NETWORK_EXTERNAL], &a->external_where },
		     { sub[NETWORK_NAT], &a->nat_where } };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!keys[i].node)
			continue;
		free(*keys[i].where);
		*keys[i].where = mark_text(d, keys[i].node);
		if (!*keys[i].where)
			return -ENOMEM;
	}
	return 0;
}

static int walk(struct yn_doc *d, struct appliance *a, enum appliance_use use, char **ret_error)
{
	yaml_node_t *root = yn_doc_root(d), *found[N_TOP], *sub[8];
	yaml_node_t *http_port = NULL, *registry_port = NULL;
	int r;

	if (!root || yn_is_null(root))
		return 0; /* empty or only comments: the defaults */
	r = yn_map_walk(d, root, "the appliance configuration", "", top_fields, N_TOP, a, found, ret_error);
	if (r < 0)
		return r;
	if (use == APPLIANCE_IN_IMAGE) {
		r = refuse_private_keys(d, found, ret_error);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		const struct section *s = &sections[i];
		char section[32], prefix[32];

		if (!found[s->top])
			continue;
		snprintf(section, sizeof(section), "'%s'", s->name);
		snprintf(prefix, sizeof(prefix), "%s.", s->name);
		r = yn_map_walk(d, found[s->top], section, prefix, s->fields, s->n, a, sub, ret_error);
		if (r < 0)
			return r;
		if (s->top == TOP_NETWORK && (r = network_where(d, a, sub)) < 0)
			return r;
		if (s->top == TOP_HTTP)
			http_port = sub[0];
		if (s->top == TOP_REGISTRY) {
			registry_port = sub[REGISTRY_PORT];
			r = registry_tls_check(d, a, sub, ret_error);
			if (r < 0)
				return r;
		}
	}
	r = port_set(d, http_port, "http.port", a->http_port, &a->http_port_where, ret_error);
	if (r < 0)
		return r;
	return port_set(d, registry_port, "registry.port", a->registry_port, &a->registry_port_where, ret_error);
}

/* Nodes without roles: when none has any, the first is the control plane and etcd, and every
 * node a worker (a one-node cluster works as is); otherwise a node without roles is a worker. */
static void default_roles(struct appliance *a)
{
	bool any = false;

	for (size_t i = 0; i < a->n_nodes; i++)
		any = any || a->nodes[i].roles;
	for (size_t i = 0; i < a->n_nodes; i++)
		if (!any)
			a->nodes[i].roles = NODE_WORKER | (i == 0 ? NODE_CONTROL_PLANE | NODE_ETCD : 0);
		else if (!a->nodes[i].roles)
			a->nodes[i].roles = NODE_WORKER;
}

int appliance_load_data(const char *name, const char *buf, size_t len, enum appliance_use use,
			struct appliance **ret, char **ret_error)
{
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	_cleanup_yn_doc_ struct yn_doc *d = NULL;
	int r;

	if (ret_error)
		*ret_error = NULL;
	r = appliance_new_default(&a);
	if (r < 0)
		return r;
	r = yn_doc_load_data(name, buf, len, &d, ret_error);
	if (r < 0)
		return r;
	r = walk(d, a, use, ret_error);
	if (r < 0)
		return r;
	default_roles(a);
	*ret = TAKE_PTR(a);
	return 0;
}

int appliance_load(const char *path, struct appliance **ret, struct appliance_source *ret_source, char **ret_error)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (ret_source)
		*ret_source = (struct appliance_source){};
	if (ret_error)
		*ret_error = NULL;
	r = yn_read_file(path, &buf, &len, ret_error);
	if (r == -ENOENT) {
		if (ret_error) {
			free(*ret_error);
			*ret_error = NULL;
		}
		if (ret_source)
			ret_source->missing = true;
		return appliance_new_default(ret);
	}
	if (r < 0)
		return r;
	/* The hash of the bytes parsed, not of the file read again: it may change in between. */
	if (ret_source) {
		struct gb_sha256 *h = gb_sha256_new();

		if (!h)
			return -ENOMEM;
		gb_sha256_update(h, buf, len);
		gb_sha256_final_hex(h, ret_source->sha256);
	}
	return appliance_load_data(path, buf, len, APPLIANCE_ON_MACHINE, ret, ret_error);
}

/* ---- secrets ---- */

/* Every secret key D sets, valid or not, in the key table's order: appended to *KEYS. */
static int secret_keys(struct yn_doc *d, char ***keys)
{
	yaml_node_t *root = yn_doc_root(d);
	int r;

	for (size_t i = 0; i < N_TOP; i++)
		if (top_fields[i].secret && holds_value(yn_map_get(d, root, top_fields[i].key)) &&
		    (r = strv_push(keys, top_fields[i].key)) < 0)
			return r;
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		const struct section *s = &sections[i];
		yaml_node_t *map = yn_map_get(d, root, s->name);

		for (size_t j = 0; j < s->n; j++) {
			char *key;

			if (!s->fields[j].secret || !holds_value(yn_map_get(d, map, s->fields[j].key)))
				continue;
			if (asprintf(&key, "%s.%s", s->name, s->fields[j].key) < 0)
				return -ENOMEM;
			if ((r = strv_consume(keys, key)) < 0)
				return r;
		}
	}
	return 0;
}

int appliance_secret_key(const char *path, char **ret_key)
{
	_cleanup_yn_doc_ struct yn_doc *d = NULL;
	_cleanup_strv_free_ char **keys = NULL;
	int r;

	*ret_key = NULL;
	if (yn_doc_load(path, &d, NULL) < 0)
		return 0; /* not readable as YAML: no key is known to be there */
	r = secret_keys(d, &keys);
	if (r < 0)
		return r;
	if (!keys || !keys[0])
		return 0;
	return (*ret_key = strdup(keys[0])) ? 1 : -ENOMEM;
}

int appliance_secret_keys_data(const char *buf, size_t len, char ***ret_keys)
{
	_cleanup_yn_doc_ struct yn_doc *d = NULL;
	_cleanup_strv_free_ char **keys = calloc(1, sizeof(char *));
	int r;

	if (!keys)
		return -ENOMEM;
	if (yn_doc_load_data("", buf, len, &d, NULL) >= 0 && (r = secret_keys(d, &keys)) < 0)
		return r;
	*ret_keys = TAKE_PTR(keys);
	return 0;
}

/* ---- kernel parameters ---- */

struct cmdline_ctx {
	struct appliance *a;
	FILE *applied;
	FILE *errors;
	int n_applied;
	int n_errors;
	int r;
};

_printf_(2, 3) static void cmdline_error(struct cmdline_ctx *c, const char *fmt, ...)
{
	va_list ap;

	fputs(c->n_errors++ ? "; " : "", c->errors);
	va_start(ap, fmt);
	vfprintf(c->errors, fmt, ap);
	va_end(ap);
}

static int replace_string(char **slot, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*slot);
	*slot = s;
	return 0;
}

static int cmdline_one(const char *key, const char *value, void *userdata)
{
	struct cmdline_ctx *c = userdata;
	struct appliance *a = c->a;
	const char *expected = NULL;
	struct in_addr addr;
	unsigned prefix;
	int r = 0;

	if (strncmp(key, "gapbox.", 7) != 0)
		return 0;
	if (!streq(key, "gapbox.address") && !streq(key, "gapbox.internal") && !streq(key, "gapbox.external") &&
	    !streq(key, "gapbox.nat") && !streq(key, "gapbox.domain"))
		return 0; /* the initramfs' own parameters */
	if (!value) {
		cmdline_error(c, "kernel parameter %s needs a value (%s=...); ignored", key, key);
		return 0;
	}
	if (streq(key, "gapbox.address")) {
		if (ipv4_parse_cidr(value, &addr, &prefix) < 0 || prefix < APPLIANCE_PREFIX_MIN ||
		    prefix > APPLIANCE_PREFIX_MAX)
			expected = "an IPv4 address with a prefix length from /8 to /30, like 192.168.10.10/24";
		else {
			a->address = addr;
			a->prefix = prefix;
			r = replace_string(&a->address_where, "kernel parameter gapbox.address");
		}
	} else if (streq(key, "gapbox.internal")) {
		expected = check_internal(value);
		if (!expected)
			r = replace_string(&a->internal, value);
	} else if (streq(key, "gapbox.external")) {
		expected = check_external(value);
		if (!expected)
			r = replace_string(&a->external, value);
	} else if (streq(key, "gapbox.nat")) {
		if (streq(value, "0") || streq(value, "1"))
			a->nat = value[0] == '1';
		else if (streq(value, "auto"))
			a->nat = APPLIANCE_NAT_AUTO;
		else
			expected = "0, 1 or auto";
	} else if (streq(key, "gapbox.domain")) {
		expected = appliance_check_domain(value);
		if (!expected)
			r = replace_string(&a->domain, value);
	}
	if (r < 0)
		return r;
	if (expected) {
		cmdline_error(c, "kernel parameter %s=%s: expected %s; ignored", key, value, expected);
		return 0;
	}
	fprintf(c->applied, "%s%s=%s", c->n_applied++ ? " " : "", key, value);
	return 0;
}

int appliance_apply_cmdline(struct appliance *a, const char *line, char **ret_applied, char **ret_errors)
{
	_cleanup_free_ char *applied = NULL, *errors = NULL;
	size_t applied_size = 0, errors_size = 0;
	struct cmdline_ctx c = { .a = a };
	int r;

	c.applied = open_memstream(&applied, &applied_size);
	c.errors = open_memstream(&errors, &errors_size);
	if (!c.applied || !c.errors) {
		if (c.applied)
			fclose(c.applied);
		if (c.errors)
			fclose(c.errors);
		return -ENOMEM;
	}
	r = cmdline_parse(line ? line : "", cmdline_one, &c);
	if ((fclose(c.applied) != 0 || fclose(c.errors) != 0) && r >= 0)
		r = -ENOMEM;
	if (r < 0)
		return r;
	if (ret_applied)
		*ret_applied = c.n_applied ? TAKE_PTR(applied) : NULL;
	if (ret_errors)
		*ret_errors = c.n_errors ? TAKE_PTR(errors) : NULL;
	return 0;
}

/* ---- whole-configuration checks ---- */

int appliance_machine_checks(const struct appliance *a, char ***ret)
{
	_cleanup_strv_free_ char **lines = calloc(1, sizeof(char *));
	struct {
		const char *where, *key, *value;
	} nics[] = { { a->internal_where, "network.internal", a->internal },
		     { a->external_where, "network.external", a->external } };
	char *line;
	int r;

	if (!lines)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(nics); i++) {
		/* auto and none name no NIC: they pick among the machine's, which cannot fail. */
		if (!nics[i].where || streq(nics[i].value, "auto") || streq(nics[i].value, "none"))
			continue;
		if (asprintf(&line, "%s: %s: '%s': whether the machine has a NIC %s is checked there, at first boot",
			     nics[i].where, nics[i].key, nics[i].value,
			     appliance_is_mac(nics[i].value) ? "with that MAC address" : "of that name") < 0)
			return -ENOMEM;
		if ((r = strv_consume(&lines, line)) < 0)
			return r;
	}
	if (a->nat_where && a->nat == 1) {
		if (asprintf(&line, "%s: network.nat: true needs an external NIC, which first boot looks for on the "
			     "machine (without one, NAT stays off and the status says why)", a->nat_where) < 0)
			return -ENOMEM;
		if ((r = strv_consume(&lines, line)) < 0)
			return r;
	}
	*ret = TAKE_PTR(lines);
	return 0;
}

static bool is_host_address(struct in_addr a, unsigned prefix)
{
	return !ipv4_equal(a, ipv4_network(a, prefix)) && !ipv4_equal(a, ipv4_broadcast(a, prefix));
}

int appliance_validate(const struct appliance *a, char **ret_error)
{
	char addr[INET_ADDRSTRLEN], subnet[IPV4_CIDR_MAX + 1], node_addr[INET_ADDRSTRLEN];

	ipv4_format(a->address, addr);
	ipv4_format_subnet(a->address, a->prefix, subnet);
	if (!is_host_address(a->address, a->prefix)) {
		gb_error(ret_error, -EINVAL, "network.address: %s/%u is the %s address of %s; expected a host address in it",
			 addr, a->prefix, ipv4_equal(a->address, ipv4_network(a->address, a->prefix)) ? "network" : "broadcast",
			 subnet);
		/* The defaults are a host address: only a file or a kernel parameter, which say where, gets here. */
		if (a->address_where && gb_error_prefix(ret_error, "%s", a->address_where) < 0)
			return -ENOMEM;
		return -EINVAL;
	}
	/* Every node knows where its address was written (PATH:LINE:COLUMN). */
	for (size_t i = 0; i < a->n_nodes; i++) {
		const struct appliance_node *n = &a->nodes[i];

		ipv4_format(n->address, node_addr);
		if (!ipv4_in_subnet(n->address, a->address, a->prefix))
			return gb_error(ret_error, -EINVAL,
					"%s: nodes[%zu].address: %s is outside the internal subnet %s (the admin is %s/%u)",
					n->where, i, node_addr, subnet, addr, a->prefix);
		if (!is_host_address(n->address, a->prefix))
			return gb_error(ret_error, -EINVAL, "%s: nodes[%zu].address: %s is the network or broadcast address of %s",
					n->where, i, node_addr, subnet);
		if (ipv4_equal(n->address, a->address))
			return gb_error(ret_error, -EINVAL, "%s: nodes[%zu].address: %s is the admin server's own address",
					n->where, i, node_addr);
		for (size_t j = 0; j < i; j++) {
			if (streq(a->nodes[j].name, n->name))
				return gb_error(ret_error, -EINVAL, "%s: nodes[%zu]: the name '%s' is also nodes[%zu]'s",
						n->where, i, n->name, j);
			if (ipv4_equal(a->nodes[j].address, n->address))
				return gb_error(ret_error, -EINVAL, "%s: nodes[%zu].address: %s is also nodes[%zu]'s", n->where,
						i, node_addr, j);
		}
	}
	return 0;
}
