/* The verify stage (gapbox-firstboot-verify.service, after the services): restart what the
 * configure stage changed under a running daemon, then ask every service whether it runs and
 * answers, check every listed image through the registry API, and show the result: status.json,
 * the status page, the console banner and /etc/issue.d. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "firstboot.h"
#include "fsutil.h"
#include "imagelist.h"
#include "log.h"
#include "probe.h"
#include "render.h"
#include "status.h"
#include "strv.h"
#include "units.h"

/* Services may still be starting when verify begins: keep asking this long. */
#define SETTLE_MS 20000
#define PROBE_TIMEOUT_MS 2000
#define MISSING_NAMED_MAX 5

struct vctx {
	const struct fb_options *o;
	const char *root;
	bool live;
	bool systemd;
	json_t *st;
	json_t *admin;
	struct in_addr address;   /* the admin's internal address */
	struct in_addr probe;     /* where probes go */
	char probe_text[INET_ADDRSTRLEN];
	unsigned ports[N_FB_PORTS];
	const char *domain;
	bool internal_down;       /* the internal address is on no NIC: nothing to reach it with */
	struct timespec start;
};

static json_t *svc(struct vctx *v, enum fb_svc id) { return status_service(v->st, id); }

static long elapsed_ms(struct vctx *v)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - v->start.tv_sec) * 1000 + (now.tv_nsec - v->start.tv_nsec) / 1000000;
}

/* Wait a little before asking again, unless the settle time is over. */
static bool again(struct vctx *v)
{
	if (elapsed_ms(v) >= SETTLE_MS)
		return false;
	usleep(500 * 1000);
	return true;
}

static const char *admin_string(struct vctx *v, const char *key)
{
	return json_string_value(json_object_get(v->admin, key));
}

static unsigned admin_port(struct vctx *v, const char *key, unsigned fallback)
{
	json_int_t p = json_integer_value(json_object_get(v->admin, key));

	return p > 0 && p < 65536 ? (unsigned)p : fallback;
}

/* ---- running ---- */

struct daemon {
	enum fb_svc id;
	const char *comm;   /* process name of the daemon */
	bool tcp;
	enum fb_port port;
};

static const struct daemon daemons[] = {
	{ SVC_DNS, "named", false, FB_PORT_DNS },
	{ SVC_NTP, "chronyd", false, FB_PORT_NTP },
	{ SVC_HTTP, "nginx", true, FB_PORT_HTTP },
	{ SVC_REGISTRY, "docker-registry", true, FB_PORT_REGISTRY },
};

/* Running: the unit is active under systemd; without systemd (tests), the port is held by the
 * daemon. When it is not running and someone else holds the port, say who. */
static bool check_running(struct vctx *v, const struct daemon *d)
{
	const char *unit = status_svc_unit(d->id);
	unsigned port = v->ports[d->port];
	_cleanup_free_ char *comm = NULL;
	json_t *s = svc(v, d->id);
	int pid = 0, owned, active = -1;

	for (;;) {
		free(comm);
		comm = NULL;
		owned = probe_port_owner(d->tcp, v->probe, port, &pid, &comm);
		if (v->systemd)
			active = fb_unit_is_active(unit);
		if (v->systemd ? active > 0 : owned > 0 && comm && streq(comm, d->comm))
			break;
		/* Another program on the port will not go away by waiting. */
		if (owned > 0 && comm && !streq(comm, d->comm))
			break;
		if (!again(v))
			break;
	}
	if (v->systemd ? active > 0 : owned > 0 && comm && streq(comm, d->comm)) {
		status_set(s, "running", 1);
		return true;
	}
	status_set(s, "running", 0);
	if (owned > 0 && comm && !streq(comm, d->comm))
		status_error(s, "port %u/%s on %s is taken by %s (pid %d), not %s", port, d->tcp ? "tcp" : "udp",
			     v->probe_text, comm, pid, d->comm);
	else if (owned > 0 && !comm)
		status_error(s, "port %u/%s on %s is taken by a process that is not %s", port, d->tcp ? "tcp" : "udp",
			     v->probe_text, d->comm);
	else if (v->systemd)
		status_error(s, "%s is not running (journalctl -u %s)", unit, unit);
	else
		status_error(s, "%s is not running: nothing listens on %s port %u/%s", d->comm, v->probe_text, port,
			     d->tcp ? "tcp" : "udp");
	return false;
}

/* ---- answering ---- */

static void verify_dns(struct vctx *v)
{
	_cleanup_free_ char *name = NULL, *error = NULL;
	json_t *s = svc(v, SVC_DNS);
	int r;

	if (asprintf(&name, "admin.%s", v->domain) < 0)
		return;
	do {
		free(error);
		error = NULL;
		r = probe_dns(v->probe, v->ports[FB_PORT_DNS], name, v->address, PROBE_TIMEOUT_MS, &error);
	} while (r < 0 && again(v));
	status_set(s, "verified", r >= 0);
	if (r < 0)
		status_error(s, "%s", error ? error : "no answer");
}

static void verify_ntp(struct vctx *v)
{
	_cleanup_free_ char *error = NULL;
	json_t *s = svc(v, SVC_NTP);
	unsigned stratum = 0;
	int r;

	do {
		free(error);
		error = NULL;
		r = probe_ntp(v->probe, v->ports[FB_PORT_NTP], PROBE_TIMEOUT_MS, &stratum, &error);
	} while (r < 0 && again(v));
	status_set(s, "verified", r >= 0);
	if (r < 0)
		status_error(s, "%s", error ? error : "no answer");
	else
		status_detail(s, "answers at stratum %u", stratum);
}

/* GET http://PROBE:PORT/PATH until it answers 200 (or the settle time is over). */
static int http_get_ok(struct vctx *v, unsigned port, const char *path, const char *accept, long *ret_status,
		       char **ret_error)
{
	_cleanup_free_ char *url = NULL;
	int r;

	if (asprintf(&url, "http://%s:%u%s", v->probe_text, port, path) < 0)
		return -ENOMEM;
	do {
		free(*ret_error);
		*ret_error = NULL;
		r = probe_http(url, false, accept, PROBE_TIMEOUT_MS * 2, ret_status, ret_error);
		if (r >= 0 && *ret_status != 200)
			r = gb_error(ret_error, -EPROTO, "GET %s answered %ld", url, *ret_status);
	} while (r < 0 && again(v));
	return r;
}

static void verify_http(struct vctx *v)
{
	_cleanup_free_ char *error = NULL;
	json_t *s = svc(v, SVC_HTTP), *nodes = svc(v, SVC_NODES);
	long status;
	int r;

	r = http_get_ok(v, v->ports[FB_PORT_HTTP], "/", NULL, &status, &error);
	status_set(s, "verified", r >= 0);
	if (r < 0) {
		status_error(s, "%s", error ? error : "no answer");
		status_set(nodes, "verified", 0);
		return;
	}
	r = http_get_ok(v, v->ports[FB_PORT_HTTP], "/gapbox/node-setup.sh", NULL, &status, &error);
	status_set(nodes, "verified", r >= 0);
	if (r < 0)
		status_error(nodes, "%s", error ? error : "node-setup.sh is not served");
}

static const char manifest_types[] = "application/vnd.oci.image.index.v1+json, "
				     "application/vnd.docker.distribution.manifest.list.v2+json, "
				     "application/vnd.oci.image.manifest.v1+json, "
				     "application/vnd.docker.distribution.manifest.v2+json";

/* Every image in the payload's lists must be pullable: its manifest is served. */
static void verify_images(struct vctx *v)
{
	static const char *const lists[] = { "images.list", "additional-images.list" };
	const char *payload = admin_string(v, "payload");
	_cleanup_strv_free_ char **strip = NULL;
	json_t *s = svc(v, SVC_REGISTRY), *missing = json_array(), *item;
	struct imageref *refs = NULL;
	size_t n = 0, bad = 0, lists_found = 0, i;

	if (!missing)
		return;
	json_array_foreach(json_object_get(v->admin, "strip_registries"), i, item)
		if (json_is_string(item))
			(void)strv_push(&strip, json_string_value(item));
	for (size_t k = 0; payload && k < ARRAY_SIZE(lists); k++) {
		_cleanup_free_ char *path = NULL;
		int r;

		if (asprintf(&path, "%s/images/%s", payload, lists[k]) < 0)
			break;
		r = imageref_read_list(path, strip, &refs, &n, &bad);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			status_error(s, "cannot read %s: %s", path, strerror(-r));
		else
			lists_found++;
	}
	if (payload && path_is_dir(payload) && lists_found == 0)
		status_error(s, "the payload has no images/images.list: nothing to check");
	if (bad)
		status_error(s, "%zu line%s in the image lists %s no image reference", bad, bad == 1 ? "" : "s",
			     bad == 1 ? "is" : "are");

	for (size_t k = 0; k < n; k++) {
		_cleanup_free_ char *url = NULL, *error = NULL;
		long status = 0;
		int r;

		if (asprintf(&url, "http://%s:%u/v2/%s/manifests/%s", v->probe_text, v->ports[FB_PORT_REGISTRY],
			     refs[k].name, refs[k].reference) < 0)
			break;
		r = probe_http(url, true, manifest_types, PROBE_TIMEOUT_MS * 2, &status, &error);
		if (r < 0 || status != 200)
			json_array_append_new(missing, json_string(refs[k].ref));
	}
	json_object_set_new(s, "images", json_integer((json_int_t)n));
	if (json_array_size(missing) > 0) {
		struct sbuf b = SBUF_INIT;
		_cleanup_free_ char *text = NULL;

		json_array_foreach(missing, i, item) {
			if (i == MISSING_NAMED_MAX) {
				sbuf_printf(&b, " and %zu more (status.json lists them all)", json_array_size(missing) - i);
				break;
			}
			sbuf_printf(&b, "%s%s", i ? ", " : "", json_string_value(item));
		}
		if (sbuf_finish(&b, &text, NULL) >= 0)
			status_error(s, "%zu of %zu listed images cannot be pulled: %s", json_array_size(missing), n, text);
		status_set(s, "verified", 0);
	} else if (n > 0)
		status_detail(s, "all %zu listed images pullable", n);
	json_object_set_new(s, "missing_images", missing);
	imageref_free_all(refs, n);
}

static void verify_registry(struct vctx *v)
{
	_cleanup_free_ char *error = NULL;
	json_t *s = svc(v, SVC_REGISTRY);
	long status;
	int r;

	r = http_get_ok(v, v->ports[FB_PORT_REGISTRY], "/v2/", NULL, &status, &error);
	status_set(s, "verified", r >= 0);
	if (r < 0) {
		status_error(s, "%s", error ? error : "the registry API does not answer");
		return;
	}
	verify_images(v);
}

/* The internal address is on the internal NIC. Returns whether it is. */
static bool verify_network(struct vctx *v)
{
	const char *ifname = admin_string(v, "internal");
	json_t *s = svc(v, SVC_NETWORK);
	bool found = false, present = false;
	struct ifaddrs *list = NULL;

	if (!ifname)
		return false; /* configure said why */
	for (;;) {
		if (getifaddrs(&list) < 0)
			break;
		for (struct ifaddrs *i = list; i; i = i->ifa_next) {
			if (!streq(i->ifa_name, ifname))
				continue;
			present = true;
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == v->address.s_addr)
				found = true;
		}
		freeifaddrs(list);
		list = NULL;
		if (found || !again(v))
			break;
	}
	status_set(s, "running", present);
	status_set(s, "verified", found);
	if (!found)
		status_error(s, present ? "%s does not have the address %s (networkctl status %s)"
					: "interface %s is not there%s%s",
			     ifname, present ? admin_string(v, "cidr") : "", present ? ifname : "");
	return found;
}

/* NAT as configured: forwarding on or off, and gapbox's nftables table loaded. */
static void verify_nat(struct vctx *v)
{
	_cleanup_free_ char *forward = NULL, *error = NULL;
	char *argv[] = { "nft", "list", "table", "inet", "gapbox", NULL };
	bool want = json_is_true(json_object_get(v->admin, "nat"));
	json_t *s = svc(v, SVC_NAT);
	bool table, forwarding;

	forwarding = read_file("/proc/sys/net/ipv4/ip_forward", 16, &forward, NULL) >= 0 && forward[0] == '1';
	table = fb_run_checker(argv, "nft list table inet gapbox failed", &error) >= 0;
	status_set(s, "running", want ? forwarding && table : table);
	status_set(s, "verified", table && forwarding == want);
	if (!table)
		status_error(s, "the nftables table gapbox is not loaded%s%s", error ? ": " : "", error ? error : "");
	else if (forwarding != want)
		status_error(s, "IPv4 forwarding is %s, expected %s", forwarding ? "on" : "off", want ? "on" : "off");
}

/* Start from what configure found, so running verify again does not pile up old answers. */
static void reset(struct vctx *v)
{
	bool first = !json_is_string(json_object_get(v->st, "phase")) ||
		     !streq(json_string_value(json_object_get(v->st, "phase")), "verify");
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(v->st, "services"), i, s) {
		if (first) {
			json_object_set(s, "configure_error", json_object_get(s, "error"));
			json_object_set(s, "configure_detail", json_object_get(s, "detail"));
		} else {
			json_object_set(s, "error", json_object_get(s, "configure_error"));
			json_object_set(s, "detail", json_object_get(s, "configure_detail"));
		}
		json_object_set_new(s, "running", json_null());
		json_object_set_new(s, "verified", json_null());
		json_object_del(s, "missing_images");
		json_object_del(s, "images");
	}
	json_object_set_new(v->st, "phase", json_string("verify"));
}

/* ---- restarts queued by configure ---- */

static void run_restarts(struct vctx *v)
{
	json_t *queue = json_object_get(v->st, "restart"), *unit;
	size_t i;

	json_array_foreach(queue, i, unit) {
		_cleanup_free_ char *error = NULL;
		const char *name = json_string_value(unit);

		if (!name)
			continue;
		log_info("restarting %s: its configuration changed", name);
		if (fb_unit_restart(name, &error) < 0)
			for (int id = 0; id < N_SVC; id++)
				if (status_svc_unit(id) && streq(status_svc_unit(id), name))
					status_error(svc(v, id), "%s", error ? error : "restart failed");
	}
	json_object_del(v->st, "restart");
}

/* ---- showing the result ---- */

static int write_text(struct vctx *v, const char *path, const char *text)
{
	_cleanup_free_ char *full = fb_rooted(v->root, path), *dir = NULL;
	char *slash;
	int r;

	if (!full)
		return -ENOMEM;
	dir = strdup(full);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = mkdir_p(dir, 0755);
		if (r < 0)
			return r;
	}
	return write_file_atomic(full, text, strlen(text), 0644);
}

static void show(struct vctx *v)
{
	_cleanup_free_ char *text = NULL, *issue = NULL, *html = NULL;
	_cleanup_free_ char *status_path = fb_rooted(v->root, FB_STATUS_PATH);
	int r;

	r = status_save(status_path, v->st);
	if (r < 0)
		log_error_errno(r, "cannot write %s: %m", status_path);
	if (status_render_text(v->st, &text) < 0 || status_render_issue(v->st, &issue) < 0 ||
	    status_render_html(v->st, &html) < 0) {
		log_error("out of memory rendering the status");
		return;
	}
	if ((r = write_text(v, FB_BANNER_PATH, text)) < 0)
		log_warning_errno(r, "cannot write %s: %m", FB_BANNER_PATH);
	if ((r = write_text(v, FB_WWW_DIR "/index.html", html)) < 0)
		log_warning_errno(r, "cannot write the status page: %m");
	if ((r = write_text(v, FB_ISSUE_PATH, issue)) < 0)
		log_warning_errno(r, "cannot write %s: %m", FB_ISSUE_PATH);

	if (v->live) {
		const char *console = v->o->console ? v->o->console : "/dev/console";
		_cleanup_close_ int fd = open(console, O_WRONLY | O_NOCTTY | O_CLOEXEC);

		if (fd < 0 || write_all(fd, "\n", 1) < 0 || write_all(fd, text, strlen(text)) < 0)
			log_warning("cannot write the banner to %s: %s", console, strerror(errno));
	}
	/* Also on stdout: the journal has it, and tests read it. */
	fputs(text, stdout);
	fflush(stdout);
}

int fb_verify(const struct fb_options *o)
{
	_cleanup_free_ char *status_path = fb_rooted(o->root, FB_STATUS_PATH), *error = NULL;
	struct vctx v = { .o = o, .root = o->root ? o->root : "", .live = !o->root };
	const char *address;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &v.start);
	if (!status_path)
		return -ENOMEM;
	r = status_load(status_path, &v.st, &error);
	if (r < 0) {
		/* Say so where the operator looks, instead of failing silently. */
		v.st = status_new();
		if (!v.st)
			return -ENOMEM;
		status_error(svc(&v, SVC_CONFIG), "no status from the configure stage (%s); did gapbox-firstboot.service "
			     "run?", error ? error : strerror(-r));
		show(&v);
		json_decref(v.st);
		return 0;
	}
	v.admin = json_object_get(v.st, "admin");
	v.domain = admin_string(&v, "domain");
	address = admin_string(&v, "address");
	if (!v.domain || !address || ipv4_parse(address, &v.address) < 0) {
		status_error(svc(&v, SVC_CONFIG), "the status has no admin address: nothing to verify");
		show(&v);
		json_decref(v.st);
		return 0;
	}
	v.systemd = v.live && fb_systemd_booted();
	if (ipv4_parse(o->probe ? o->probe : address, &v.probe) < 0) {
		json_decref(v.st);
		return log_error_errno(-EINVAL, "--probe %s: expected an IPv4 address", o->probe);
	}
	ipv4_format(v.probe, v.probe_text);
	v.ports[FB_PORT_DNS] = o->ports[FB_PORT_DNS] ? o->ports[FB_PORT_DNS] : 53;
	v.ports[FB_PORT_NTP] = o->ports[FB_PORT_NTP] ? o->ports[FB_PORT_NTP] : 123;
	v.ports[FB_PORT_HTTP] = o->ports[FB_PORT_HTTP] ? o->ports[FB_PORT_HTTP] : admin_port(&v, "http_port", 80);
	v.ports[FB_PORT_REGISTRY] =
		o->ports[FB_PORT_REGISTRY] ? o->ports[FB_PORT_REGISTRY] : admin_port(&v, "registry_port", 35000);

	reset(&v);
	if (v.systemd)
		run_restarts(&v);
	if (v.live) {
		/* Without the internal address on a NIC, a probe sent to it would leave through the
		 * default route: ask on loopback instead, where all but the registry listen too. */
		if (!verify_network(&v) && !o->probe) {
			v.internal_down = true;
			v.probe.s_addr = htonl(INADDR_LOOPBACK);
			ipv4_format(v.probe, v.probe_text);
			status_error(svc(&v, SVC_REGISTRY), "the internal address %s is on no interface: the registry, "
				     "which listens there only, cannot be reached", address);
		}
		verify_nat(&v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(daemons); i++) {
		json_t *s = svc(&v, daemons[i].id);

		if (!check_running(&v, &daemons[i])) {
			status_set(s, "verified", 0);
			if (daemons[i].id == SVC_HTTP)
				status_set(svc(&v, SVC_NODES), "verified", 0);
			continue;
		}
		switch (daemons[i].id) {
		case SVC_DNS: verify_dns(&v); break;
		case SVC_NTP: verify_ntp(&v); break;
		case SVC_HTTP: verify_http(&v); break;
		case SVC_REGISTRY:
			if (v.internal_down)
				status_set(s, "verified", 0);
			else
				verify_registry(&v);
			break;
		default: break;
		}
	}
	show(&v);
	json_decref(v.st);
	return 0;
}

int fb_print_status(const struct fb_options *o)
{
	_cleanup_free_ char *path = fb_rooted(o->root, FB_STATUS_PATH), *error = NULL, *text = NULL;
	json_t *st = NULL;
	bool healthy;
	int r;

	if (!path)
		return -ENOMEM;
	r = status_load(path, &st, &error);
	if (r < 0) {
		log_error("%s", error ? error : strerror(-r));
		return r;
	}
	healthy = status_healthy(st);
	r = status_render_text(st, &text);
	json_decref(st);
	if (r < 0)
		return r;
	fputs(text, stdout);
	return healthy ? 0 : 1;
}
