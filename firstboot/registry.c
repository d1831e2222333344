/* docker-registry (distribution 2.8) for the site: its config.yml, its storage (an overlay of
 * the payload's pre-filled store, mounted by storage.c), and whether every listed image can be
 * pulled from it. */
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "imagelist.h"
#include "probe.h"
#include "render.h"
#include "service.h"
#include "status.h"
#include "strv.h"
#include "storage.h"
#include "units.h"

/* How many missing images the error names; status.json lists them all. */
#define MISSING_NAMED_MAX 5

/* One listener's config.yml: ADDR, and what both listeners share (the storage, the settings). */
static void registry_config(struct sbuf *b, const struct fb_site *s, const char *addr, const char *role)
{
	render_header(b, "#", "docker-registry for the site %s: %s", s->domain, role);
	sbuf_printf(b, "# No authentication, like kubespray-offline's registry: the nodes pull over plain HTTP\n"
		    "# on the internal network. The storage is an overlay: the images the image was built\n"
		    "# with, read-only, under a writable layer that takes pushes. Two registries share it,\n"
		    "# each listening on one address: the internal one (" FB_REGISTRY_CONFIG ", docker-registry.service)\n"
		    "# and 127.0.0.1 (" FB_REGISTRY_LOOPBACK_CONFIG ", " FB_REGISTRY_LOOPBACK_UNIT ").\n"
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
		    "  addr: %s\n"
		    "  headers:\n"
		    "    X-Content-Type-Options: [nosniff]\n"
		    "health:\n"
		    "  storagedriver:\n"
		    "    enabled: true\n"
		    "    interval: 10s\n"
		    "    threshold: 3\n",
		    addr);
}

/* Two listeners rather than one on the wildcard address: like named and nginx, the registry binds
 * the internal address and loopback only, so the external NIC is closed to unauthenticated pushes
 * even when the firewall is not loaded, and a push on the admin does not need the internal NIC. */
static int registry_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;
	char loopback[32];

	registry_config(&b, s, s->registry_host, "the internal network");
	fb_files_add(out, FB_REGISTRY_CONFIG, &b, 0644, true);
	snprintf(loopback, sizeof(loopback), "127.0.0.1:%u", s->ports[FB_PORT_REGISTRY]);
	registry_config(&b, s, loopback, "loopback, for pushes on the admin itself");
	fb_files_add(out, FB_REGISTRY_LOOPBACK_CONFIG, &b, 0644, true);
	return out->error;
}

/* Live: the storage, an overlay of the payload's store, or an empty folder without one. */
static void registry_apply(const struct fb_site *s, const struct fb_host *h, json_t *svc)
{
	_cleanup_free_ char *store = path_join(s->payload, GB_PAYLOAD_REGISTRY), *note = NULL, *error = NULL;
	struct passwd *pw;
	int r;

	if (!h->live)
		return;
	pw = getpwnam(FB_REGISTRY_USER);
	if (!pw) {
		status_error(svc, "there is no user %s: is the docker-registry package installed?", FB_REGISTRY_USER);
		return;
	}
	if (store && path_is_dir(store)) {
		r = fb_registry_storage_mount(store, FB_REGISTRY_RW, FB_REGISTRY_ROOT, pw->pw_uid, pw->pw_gid, &note, &error);
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

/* Every image in the payload's lists must be pullable: its manifest is served. */
static void verify_images(struct fb_verify *v, json_t *svc)
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

		if (asprintf(&url, "http://%s:%u/v2/%s/manifests/%s", v->probe_text, v->ports[FB_PORT_REGISTRY],
			     refs[k].name, refs[k].reference) < 0)
			break;
		r = probe_http(url, true, manifest_types, FB_PROBE_TIMEOUT_MS * 2, &status, &error);
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
 * localhost:35000): its unit is active, and it answers. */
static bool verify_loopback(struct fb_verify *v, json_t *svc)
{
	unsigned port = v->o->registry_loopback_port ? v->o->registry_loopback_port : v->ports[FB_PORT_REGISTRY];

	if (v->live && fb_systemd_booted() && fb_unit_is_active(FB_REGISTRY_LOOPBACK_UNIT) <= 0) {
		status_set(svc, "verified", 0);
		status_error(svc, FB_REGISTRY_LOOPBACK_UNIT " is not running (journalctl -u " FB_REGISTRY_LOOPBACK_UNIT
			     "): pushes on the admin itself to 127.0.0.1:%u fail", port);
		return false;
	}
	if (!fb_verify_http_at(v, svc, "127.0.0.1", port, "/v2/", "the registry does not answer on loopback")) {
		status_error(svc, "pushes on the admin itself to 127.0.0.1:%u fail", port);
		return false;
	}
	status_detail(svc, "pushes from the admin on 127.0.0.1:%u", port);
	return true;
}

/* The registry API answers on both listeners, and every listed image is there. */
static void registry_verify(struct fb_verify *v, json_t *svc)
{
	bool loopback;

	if (!fb_verify_http(v, svc, FB_PORT_REGISTRY, "/v2/", "the registry API does not answer"))
		return;
	loopback = verify_loopback(v, svc);
	verify_images(v, svc);
	if (!loopback)
		status_set(svc, "verified", 0);
}

static void registry_describe(const struct fb_site *s, json_t *svc)
{
	_cleanup_free_ char *store = path_join(s->payload, GB_PAYLOAD_REGISTRY);

	status_detail(svc, "%s and 127.0.0.1:%u", s->registry_host, s->ports[FB_PORT_REGISTRY]);
	if (!path_is_dir(s->payload))
		status_error(svc, "no payload at %s: the registry starts with empty storage and none of the listed images",
			     s->payload);
	else if (store && !path_is_dir(store))
		status_error(svc, "the payload has no registry store (%s): the registry starts empty", store);
}

const struct fb_service fb_service_registry = {
	.name = "registry", .unit = "docker-registry.service", .daemon = "docker-registry",
	.daemon_user = FB_REGISTRY_USER,
	.port = FB_PORT_REGISTRY, .protocols = FB_TCP,
	.describe = registry_describe, .render = registry_render, .apply = registry_apply, .verify = registry_verify,
};
