/* docker-registry (distribution 2.8) for the site: its config.yml, nginx's listeners in front of
 * it (who may push, and that no push replaces a pre-filled tag), its storage (an overlay of the
 * payload's pre-filled store, mounted by storage.c), and whether every listed image can be pulled
 * from it. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fsutil.h"
#include "imagelist.h"
#include "probe.h"
#include "render.h"
#include "service.h"
#include "status.h"
#include "strv.h"
#include "tls.h"
#include "storage.h"
#include "units.h"

/* How many missing images the error names; status.json lists them all. */
#define MISSING_NAMED_MAX 5
/* From this much of the writable layer in use, the status warns that pushes will soon fail. */
#define FB_REGISTRY_FULL_PERCENT 90
/* What verify asks the registry: an API call that never needs credentials. */
#define FB_REGISTRY_PROBE_PATH "/v2/_catalog?n=1"

/* config.yml: the storage and the socket only nginx reaches. */
static void registry_config(struct sbuf *b, const struct fb_site *s)
{
	render_header(b, "#", "docker-registry for the site %s", s->domain);
	sbuf_puts(b, "# It listens on a unix socket that only nginx can reach (" FB_REGISTRY_SOCKET_DIR " is\n"
		     "# " FB_REGISTRY_USER ":" FB_HTTP_USER " 2750); nginx takes the registry port on the internal address and\n"
		     "# 127.0.0.1 and decides who may push (" HTTP_CONF_PATH "). The storage is an overlay: the\n"
		     "# images the image was built with, read-only, under a writable layer that takes pushes.\n"
		     "version: 0.1\n"
		     "log:\n"
		     "  level: info\n"
		     "  fields:\n"
		     "    service: registry\n"
		     "storage:\n"
		     "  cache:\n"
		     "    blobdescriptor: inmemory\n"
		     "  filesystem:\n"
		     "    rootdirectory: " FB_REGISTRY_ROOT "\n"
		     "  delete:\n"
		     "    enabled: false\n"
		     "  maintenance:\n"
		     "    uploadpurging:\n"
		     "      enabled: true\n"
		     "      age: 168h\n"
		     "      interval: 24h\n"
		     "      dryrun: false\n"
		     "http:\n"
		     "  net: unix\n"
		     "  addr: " FB_REGISTRY_SOCKET "\n"
		     "  # Upload locations relative to the request, whichever address nginx was asked on.\n"
		     "  relativeurls: true\n"
		     "  headers:\n"
		     "    X-Content-Type-Options: [nosniff]\n"
		     "health:\n"
		     "  storagedriver:\n"
		     "    enabled: true\n"
		     "    interval: 10s\n"
		     "    threshold: 3\n");
}

/* A registry API error, as clients print it ("denied: MESSAGE"). */
#define DENIED(message) "'{\"errors\":[{\"code\":\"DENIED\",\"message\":\"" message "\"}]}'"

/* Hand the request to docker-registry, streaming both ways. */
static void nginx_registry_proxy(struct sbuf *b)
{
	sbuf_puts(b, "\t\t\tproxy_pass http://gapbox_registry;\n"
		     "\t\t\tproxy_set_header Host $http_host;\n"
		     "\t\t\tproxy_set_header X-Forwarded-Proto $scheme;\n"
		     "\t\t\tproxy_set_header X-Forwarded-For $remote_addr;\n"
		     "\t\t\tproxy_request_buffering off;\n"
		     "\t\t\tproxy_buffering off;\n"
		     "\t\t\tproxy_read_timeout 900s;\n"
		     "\t\t\tproxy_send_timeout 900s;\n");
}

/* registry.tls: the registry's certificate, made at first boot and signed by the site CA. */
static void nginx_registry_tls(struct sbuf *b)
{
	sbuf_puts(b, "\t\tssl_certificate " FB_TLS_CERT ";\n"
		     "\t\tssl_certificate_key " FB_TLS_KEY ";\n"
		     "\t\tssl_protocols TLSv1.2 TLSv1.3;\n"
		     "\t\tssl_prefer_server_ciphers off;\n");
}

/* One nginx server for the registry port on ADDRESS: anonymous pulls, no push over a pre-filled
 * tag, and pushes without credentials (LOOPBACK), with them (push users configured) or none. */
static void nginx_registry_server(struct sbuf *b, const struct fb_site *s, const char *address, bool loopback)
{
	bool users = !loopback && s->cfg->registry_push_users[0];

	sbuf_printf(b,
		    "\tserver {\n"
		    "\t\tlisten %s:%u%s;\n"
		    "\t\tserver_name _;\n",
		    address, s->ports[FB_PORT_REGISTRY], s->registry_tls ? " ssl" : "");
	if (s->registry_tls)
		nginx_registry_tls(b);
	sbuf_puts(b, "\t\tclient_max_body_size 0;\n"
		     "\t\tchunked_transfer_encoding on;\n"
		     "\t\tdefault_type application/json;\n"
		     "\n"
		     "\t\t# Refusals at the server level: a location's limit_except would skip them.\n"
		     "\t\tif ($gapbox_registry_replace) {\n"
		     "\t\t\treturn 403 " DENIED("this tag was pre-filled from the payload when the image was built and no "
						"push replaces it: push under another tag") ";\n"
		     "\t\t}\n");
	if (!loopback && !users)
		sbuf_printf(b, "\t\t# From the network: no registry.push_users, so no pushes.\n"
			       "\t\tif ($gapbox_registry_write) {\n"
			       "\t\t\treturn 403 " DENIED("pushes from the network are off until registry.push_users is set in "
							  FB_CONFIG_PATH "; on the admin itself, push to 127.0.0.1:%u") ";\n"
			       "\t\t}\n",
			    s->ports[FB_PORT_REGISTRY]);
	sbuf_puts(b, "\n");
	if (users) {
		sbuf_puts(b, "\t\t# The API's ping asks for credentials, so that clients send those they hold: skopeo,\n"
			     "\t\t# podman and docker send them only when challenged there. A client without any goes on\n"
			     "\t\t# to pull anonymously all the same.\n"
			     "\t\tlocation = /v2/ {\n"
			     "\t\t\tauth_basic \"gapbox registry\";\n"
			     "\t\t\tauth_basic_user_file " FB_REGISTRY_HTPASSWD ";\n");
		nginx_registry_proxy(b);
		sbuf_puts(b, "\t\t}\n\n");
	}
	sbuf_puts(b, "\t\tlocation /v2/ {\n");
	if (loopback)
		sbuf_puts(b, "\t\t\t# On the admin itself: pushes need no credentials (kubespray-offline's scripts).\n");
	else if (users)
		sbuf_puts(b, "\t\t\t# From the network: pushes need one of registry.push_users.\n"
			     "\t\t\tlimit_except GET HEAD {\n"
			     "\t\t\t\tauth_basic \"gapbox registry\";\n"
			     "\t\t\t\tauth_basic_user_file " FB_REGISTRY_HTPASSWD ";\n"
			     "\t\t\t}\n");
	nginx_registry_proxy(b);
	sbuf_puts(b, "\t\t}\n"
		     "\n"
		     "\t\tlocation / {\n"
		     "\t\t\treturn 404;\n"
		     "\t\t}\n"
		     "\t}\n");
}

void fb_registry_nginx(struct sbuf *b, const struct fb_site *s)
{
	size_t n = strv_length(s->registry_tags);

	sbuf_printf(b,
		    "\n"
		    "\t# The registry: docker-registry listens on " FB_REGISTRY_SOCKET " alone, nginx on the\n"
		    "\t# registry port. Pulls need no credentials; a push from the admin itself (127.0.0.1)\n"
		    "\t# needs none either, one from the network needs registry.push_users; and no push\n"
		    "\t# replaces any of the %zu tags the image was built with (their files in the store are\n"
		    "\t# root's, too).\n"
		    "\tupstream gapbox_registry {\n"
		    "\t\tserver unix:" FB_REGISTRY_SOCKET ";\n"
		    "\t}\n"
		    "\n"
		    "\t# Set before the first map, which fixes them; a key is a manifest's path.\n"
		    "\tmap_hash_bucket_size 512;\n"
		    "\tmap_hash_max_size 262144;\n"
		    "\n"
		    "\tmap $request_method $gapbox_registry_write {\n"
		    "\t\tGET 0;\n"
		    "\t\tHEAD 0;\n"
		    "\t\tdefault 1;\n"
		    "\t}\n"
		    "\n"
		    "\tmap $uri $gapbox_registry_prefilled {\n"
		    "\t\tdefault 0;\n",
		    n);
	for (size_t i = 0; i < n; i++) {
		const char *tag = strrchr(s->registry_tags[i], ':');

		sbuf_printf(b, "\t\t\"/v2/%.*s/manifests/%s\" 1;\n", (int)(tag - s->registry_tags[i]), s->registry_tags[i],
			    tag + 1);
	}
	sbuf_puts(b, "\t}\n"
		     "\n"
		     "\tmap \"$gapbox_registry_write$gapbox_registry_prefilled\" $gapbox_registry_replace {\n"
		     "\t\t11 1;\n"
		     "\t\tdefault 0;\n"
		     "\t}\n"
		     "\n");
	/* As for the HTTP port: one socket, so nginx never waits for the internal address. */
	sbuf_printf(b, "\tserver {\n"
		       "\t\tlisten %u default_server;\n"
		       "\t\tserver_name _;\n"
		       "\t\treturn 444;\n"
		       "\t}\n"
		       "\n",
		    s->ports[FB_PORT_REGISTRY]);
	nginx_registry_server(b, s, "127.0.0.1", true);
	sbuf_puts(b, "\n");
	nginx_registry_server(b, s, s->address, false);
}

/* config.yml, and who may push from the network. nginx.conf (http.c) carries the listeners. */
static int registry_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;

	registry_config(&b, s);
	fb_files_add(out, FB_REGISTRY_CONFIG, &b, 0644, true);
	fb_files_add_absent(out, FB_REGISTRY_LOOPBACK_CONFIG, false);
	if (s->cfg->registry_push_users[0]) {
		for (size_t i = 0; s->cfg->registry_push_users[i]; i++)
			sbuf_printf(&b, "%s\n", s->cfg->registry_push_users[i]);
		/* Read by nginx's workers at each request: registry_apply makes it root:www-data. */
		fb_files_add(out, FB_REGISTRY_HTPASSWD, &b, 0640, false);
	} else
		fb_files_add_absent(out, FB_REGISTRY_HTPASSWD, false);
	return out->error;
}

/* The socket's folder: the registry's, in nginx's group, which new files there inherit. */
static int socket_dir(uid_t uid, gid_t http_gid)
{
	int r = mkdir_p(FB_REGISTRY_SOCKET_DIR, 0750);

	if (r < 0)
		return r;
	if (chown(FB_REGISTRY_SOCKET_DIR, uid, http_gid) < 0 || chmod(FB_REGISTRY_SOCKET_DIR, 02750) < 0)
		return -errno;
	return 0;
}

/* Live: the socket's folder, the password file's group, and the storage, an overlay of the
 * payload's store (or an empty folder without one). */
static void registry_apply(const struct fb_site *s, const struct fb_host *h, json_t *svc)
{
	_cleanup_free_ char *store = path_join(s->payload, GB_PAYLOAD_REGISTRY), *note = NULL, *error = NULL;
	struct passwd *pw;
	struct group *gr;
	int r;

	if (!h->live)
		return;
	pw = getpwnam(FB_REGISTRY_USER);
	if (!pw) {
		status_error(svc, "there is no user %s: is the docker-registry package installed?", FB_REGISTRY_USER);
		return;
	}
	gr = getgrnam(FB_HTTP_USER);
	if (!gr) {
		status_error(svc, "there is no group %s: is nginx installed?", FB_HTTP_USER);
		return;
	}
	r = socket_dir(pw->pw_uid, gr->gr_gid);
	if (r < 0)
		status_error(svc, "cannot prepare %s: %s", FB_REGISTRY_SOCKET_DIR, strerror(-r));
	if (s->cfg->registry_push_users[0] && chown(FB_REGISTRY_HTPASSWD, 0, gr->gr_gid) < 0)
		status_error(svc, "cannot give %s to the group %s: %s", FB_REGISTRY_HTPASSWD, FB_HTTP_USER, strerror(errno));
	if (store && path_is_dir(store)) {
		r = fb_registry_storage_mount(store, FB_REGISTRY_RW, FB_REGISTRY_ROOT, s->cfg->registry_writable_size,
					      pw->pw_uid, pw->pw_gid, &note, &error);
		if (r >= 0) {
			status_detail(svc, "storage: %s", note ? note : "overlay");
			return;
		}
		status_error(svc, "%s; the registry starts with empty storage", error ? error : strerror(-r));
	}
	r = fb_registry_storage_plain(FB_REGISTRY_ROOT, pw->pw_uid, pw->pw_gid);
	if (r < 0)
		status_error(svc, "cannot prepare %s: %s", FB_REGISTRY_ROOT, strerror(-r));
}

static const char manifest_types[] = "application/vnd.oci.image.index.v1+json, "
				     "application/vnd.docker.distribution.manifest.list.v2+json, "
				     "application/vnd.oci.image.manifest.v1+json, "
				     "application/vnd.docker.distribution.manifest.v2+json";

/* The payload's image lists, each line mapped to its name in the registry with the site's strip
 * list. Problems with the lists go into SVC. */
static void read_image_lists(struct fb_verify *v, json_t *svc, struct imageref **refs, size_t *n)
{
	_cleanup_strv_free_ char **lists = NULL;
	const char *payload = v->site.payload;
	size_t bad = 0, lists_found = 0;
	int r;

	if (!payload)
		return;
	r = image_lists_find(payload, &lists);
	if (r < 0) {
		status_error(svc, "cannot list %s/" IMAGE_LIST_DIR ": %s", payload, strerror(-r));
		return;
	}
	for (char **l = lists; *l; l++) {
		_cleanup_free_ char *path = path_join(payload, *l);

		if (!path)
			break;
		r = imageref_read_list(path, v->site.strip_registries, refs, n, &bad);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			status_error(svc, "cannot read %s: %s", path, strerror(-r));
		else
			lists_found++;
	}
	if (path_is_dir(payload) && lists_found == 0)
		status_error(svc, "the payload has no images/*.list: nothing to check");
	if (bad)
		status_error(svc, "%zu line%s in the image lists %s no image reference", bad, bad == 1 ? "" : "s",
			     bad == 1 ? "is" : "are");
}

/* The error naming the images that cannot be pulled: the first few, and how many more. */
static void missing_error(json_t *svc, json_t *missing, size_t n)
{
	_cleanup_free_ char *text = NULL;
	struct sbuf b = SBUF_INIT;
	json_t *item;
	size_t i;

	json_array_foreach(missing, i, item) {
		if (i == MISSING_NAMED_MAX) {
			sbuf_printf(&b, " and %zu more (status.json lists them all)", json_array_size(missing) - i);
			break;
		}
		sbuf_printf(&b, "%s%s", i ? ", " : "", json_string_value(item));
	}
	if (sbuf_finish(&b, &text, NULL) >= 0)
		status_error(svc, "%zu of %zu listed images cannot be pulled: %s", json_array_size(missing), n, text);
}

/* Every image in the payload's lists must be pullable: its manifest is served. CA: the site
 * CA's certificate with registry.tls, else NULL. */
static void verify_images(struct fb_verify *v, json_t *svc, const char *ca)
{
	json_t *missing = json_array();
	struct imageref *refs = NULL;
	size_t n = 0;

	if (!missing)
		return;
	read_image_lists(v, svc, &refs, &n);
	for (size_t k = 0; k < n; k++) {
		_cleanup_free_ char *url = NULL, *error = NULL;
		long status = 0;
		int r;

		if (asprintf(&url, "%s://%s:%u/v2/%s/manifests/%s", ca ? "https" : "http", v->probe_text,
			     v->ports[FB_PORT_REGISTRY], refs[k].name, refs[k].reference) < 0)
			break;
		r = probe_http(url, true, manifest_types, ca, FB_PROBE_TIMEOUT_MS * 2, &status, &error);
		if (r < 0 || status != 200)
			json_array_append_new(missing, json_string(refs[k].ref));
	}
	json_object_set_new(svc, "images", json_integer((json_int_t)n));
	if (json_array_size(missing) > 0) {
		missing_error(svc, missing, n);
		status_set(svc, "verified", 0);
	} else if (n > 0)
		status_detail(svc, "all %zu listed images pullable", n);
	json_object_set_new(svc, "missing_images", missing);
	imageref_free_all(refs, n);
}

/* The loopback listener, for pushes on the admin itself (kubespray-offline's scripts push to
 * localhost:35000): it answers. */
static bool verify_loopback(struct fb_verify *v, json_t *svc, const char *ca)
{
	unsigned port = v->o->registry_loopback_port ? v->o->registry_loopback_port : v->ports[FB_PORT_REGISTRY];

	if (!fb_verify_https_at(v, svc, "127.0.0.1", port, FB_REGISTRY_PROBE_PATH, ca,
				"the registry does not answer on loopback")) {
		status_error(svc, "pushes on the admin itself to 127.0.0.1:%u fail", port);
		return false;
	}
	return true;
}

/* How full the writable layer is: pushes fail once it is. */
static void verify_writable(struct fb_verify *v, json_t *svc)
{
	struct statvfs st;
	unsigned long long size, used;

	if (!v->live || statvfs(FB_REGISTRY_RW, &st) < 0 || st.f_blocks == 0)
		return;
	size = (unsigned long long)st.f_blocks * st.f_frsize;
	used = size - (unsigned long long)st.f_bfree * st.f_frsize;
	json_object_set_new(svc, "writable_bytes", json_integer((json_int_t)size));
	json_object_set_new(svc, "writable_used_bytes", json_integer((json_int_t)used));
	status_detail(svc, "pushes: %llu of %llu MiB used (registry.writable_size)", used >> 20, size >> 20);
	if (used * 100 >= size * FB_REGISTRY_FULL_PERCENT)
		status_error(svc, "the writable layer for pushes (%s) is %llu%% full: pushes fail once it is full; "
			     "raise registry.writable_size", FB_REGISTRY_RW, used * 100 / size);
}

/* The registry API answers on both listeners, and every listed image is there. */
static void registry_verify(struct fb_verify *v, json_t *svc)
{
	_cleanup_free_ char *ca = v->site.registry_tls ? fb_rooted(v->o->root, FB_TLS_CA_CERT) : NULL;
	bool loopback;

	/* Not /v2/ itself: with push users, it asks for credentials. */
	if (!fb_verify_https_at(v, svc, v->probe_text, v->ports[FB_PORT_REGISTRY], FB_REGISTRY_PROBE_PATH, ca,
				"the registry API does not answer"))
		return;
	loopback = verify_loopback(v, svc, ca);
	verify_images(v, svc, ca);
	verify_writable(v, svc);
	if (!loopback)
		status_set(svc, "verified", 0);
}

static void registry_describe(const struct fb_site *s, json_t *svc)
{
	_cleanup_free_ char *store = path_join(s->payload, GB_PAYLOAD_REGISTRY);
	size_t users = strv_length(s->cfg->registry_push_users);

	status_detail(svc, "%s and 127.0.0.1:%u; pulls need no credentials", s->registry_host, s->ports[FB_PORT_REGISTRY]);
	if (users)
		status_detail(svc, "pushes: on the admin itself, or from the network with the credentials of %zu user%s",
			      users, users == 1 ? "" : "s");
	else
		status_detail(svc, "pushes: on the admin itself (127.0.0.1:%u) only; registry.push_users opens them to the "
			      "network", s->ports[FB_PORT_REGISTRY]);
	if (s->registry_tls && s->tls_ca_sha256[0])
		status_detail(svc, "TLS with the site CA's certificate; the CA (%s/gapbox/" FB_TLS_CA_NODE_FILE ") has "
			      "sha256 %s", s->http_url, s->tls_ca_sha256);
	else if (s->registry_tls)
		status_error(svc, "registry.tls is on but there is no site CA (" FB_TLS_CA_CERT "): the nodes get no "
			     "ca.crt, and node-setup.sh no CA_SHA256");
	status_detail(svc, "%zu pre-filled tag%s, never replaced by a push", strv_length(s->registry_tags),
		      strv_length(s->registry_tags) == 1 ? "" : "s");
	if (!path_is_dir(s->payload))
		status_error(svc, "no payload at %s: the registry starts with empty storage and none of the listed images",
			     s->payload);
	else if (store && !path_is_dir(store))
		status_error(svc, "the payload has no registry store (%s): the registry starts empty", store);
}

const struct fb_service fb_service_registry = {
	.name = "registry", .unit = "docker-registry.service", .daemon = "docker-registry", .front = "nginx",
	.port = FB_PORT_REGISTRY, .protocols = FB_TCP,
	.describe = registry_describe, .render = registry_render, .apply = registry_apply, .verify = registry_verify,
};
