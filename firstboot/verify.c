/* The verify stage (gapbox-firstboot-verify.service, after the services): restart what the
 * configure stage changed under a running daemon, then ask every service whether it runs and
 * answers, check every listed image through the registry API, and show the result: status.json,
 * the status page, the console banner and /etc/issue.d. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "firstboot.h"
#include "fsutil.h"
#include "log.h"
#include "probe.h"
#include "service.h"
#include "state.h"
#include "status.h"
#include "units.h"

/* Services may still be starting when verify begins: keep asking this long. */
#define SETTLE_MS 20000

static long elapsed_ms(struct fb_verify *v)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - v->start.tv_sec) * 1000 + (now.tv_nsec - v->start.tv_nsec) / 1000000;
}

bool fb_verify_again(struct fb_verify *v)
{
	if (elapsed_ms(v) >= SETTLE_MS)
		return false;
	usleep(500 * 1000);
	return true;
}

bool fb_verify_until(struct fb_verify *v, json_t *svc, fb_probe_t probe, void *userdata, const char *fallback)
{
	_cleanup_free_ char *error = NULL;
	int r;

	do {
		free(error);
		error = NULL;
		r = probe(v, userdata, &error);
	} while (r < 0 && fb_verify_again(v));
	status_set(svc, "verified", r >= 0);
	if (r < 0)
		status_error(svc, "%s", error ? error : fallback);
	return r >= 0;
}

/* What get_ok asks for. */
struct http_request {
	const char *host;
	unsigned port;
	const char *path;
	const char *ca_file; /* NULL: http://, else https:// with this CA */
};

/* GET http://HOST:PORT/PATH answers 200. */
static int get_ok(struct fb_verify *v, void *userdata, char **ret_error)
{
	const struct http_request *q = userdata;
	_cleanup_free_ char *url = NULL;
	long status;
	int r;

	(void)v;
	if (asprintf(&url, "%s://%s:%u%s", q->ca_file ? "https" : "http", q->host, q->port, q->path) < 0)
		return -ENOMEM;
	r = probe_http(url, false, NULL, q->ca_file, FB_PROBE_TIMEOUT_MS * 2, &status, ret_error);
	if (r >= 0 && status != 200)
		return gb_error(ret_error, -EPROTO, "GET %s answered %ld", url, status);
	return r;
}

bool fb_verify_http_at(struct fb_verify *v, json_t *svc, const char *host, unsigned port, const char *path,
		       const char *fallback)
{
	return fb_verify_until(v, svc, get_ok, &(struct http_request){ host, port, path, NULL }, fallback);
}

bool fb_verify_https_at(struct fb_verify *v, json_t *svc, const char *host, unsigned port, const char *path,
			const char *ca_file, const char *fallback)
{
	return fb_verify_until(v, svc, get_ok, &(struct http_request){ host, port, path, ca_file }, fallback);
}

bool fb_verify_http(struct fb_verify *v, json_t *svc, enum fb_port port, const char *path, const char *fallback)
{
	return fb_verify_http_at(v, svc, v->probe_text, v->ports[port], path, fallback);
}

/* ---- running ---- */

/* S's daemon (or its front) holds its port: COMM is it. */
static bool is_daemon(const struct fb_service *s, int owned, const char *comm)
{
	return owned > 0 && comm && streq(comm, fb_service_port_holder(s));
}

/* Running: the unit is active under systemd; without systemd (tests), the port is held by the
 * daemon. When it is not running and someone else holds the port, say who. */
static bool check_running(struct fb_verify *v, const struct fb_service *s, bool systemd, json_t *svc)
{
	/* A service answering over UDP and TCP has its daemon found on the UDP socket. */
	bool tcp = !(s->protocols & FB_UDP);
	const char *proto = tcp ? "tcp" : "udp";
	unsigned port = v->ports[s->port];
	_cleanup_free_ char *comm = NULL;
	int pid = 0, owned, active = -1;

	for (;;) {
		free(comm);
		comm = NULL;
		owned = probe_port_owner(tcp, v->probe, port, &pid, &comm);
		if (systemd)
			active = fb_unit_is_active(s->unit);
		if (systemd ? active > 0 : is_daemon(s, owned, comm))
			break;
		/* Another program on the port will not go away by waiting. */
		if (owned > 0 && comm && !streq(comm, fb_service_port_holder(s)))
			break;
		if (!fb_verify_again(v))
			break;
	}
	if (systemd ? active > 0 : is_daemon(s, owned, comm)) {
		status_set(svc, "running", 1);
		return true;
	}
	status_set(svc, "running", 0);
	if (owned > 0 && comm && !streq(comm, fb_service_port_holder(s)))
		status_error(svc, "port %u/%s on %s is taken by %s (pid %d), not %s", port, proto, v->probe_text, comm,
			     pid, fb_service_port_holder(s));
	else if (owned > 0 && !comm)
		status_error(svc, "port %u/%s on %s is taken by a process that is not %s", port, proto, v->probe_text,
			     fb_service_port_holder(s));
	else if (systemd)
		status_error(svc, "%s is not running (journalctl -u %s)", s->unit, s->unit);
	else
		status_error(svc, "%s is not running: nothing listens on %s port %u/%s", fb_service_port_holder(s), v->probe_text,
			     port, proto);
	return false;
}

/* Whether S runs and answers, in SVC. */
static void verify_service(struct fb_verify *v, const struct fb_service *s, bool systemd, json_t *svc)
{
	if (s->daemon && !check_running(v, s, systemd, svc)) {
		status_set(svc, "verified", 0);
		return;
	}
	if (s->verify)
		s->verify(v, svc);
}

/* Start from what configure found, so running verify again does not pile up old answers. */
static void reset(json_t *st)
{
	bool first = !json_is_string(json_object_get(st, "phase")) ||
		     !streq(json_string_value(json_object_get(st, "phase")), "verify");
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(st, "services"), i, s) {
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
	json_object_set_new(st, "phase", json_string("verify"));
}

/* ---- restarts queued by configure ---- */

static void run_restarts(json_t *st)
{
	json_t *queue = json_object_get(st, "restart"), *unit;
	size_t i;

	json_array_foreach(queue, i, unit) {
		_cleanup_free_ char *error = NULL;
		const char *name = json_string_value(unit);

		if (!name)
			continue;
		log_info("restarting %s: its configuration changed", name);
		if (fb_unit_restart(name, &error) < 0)
			for (const struct fb_service *const *s = fb_services; *s; s++)
				if ((*s)->unit && streq((*s)->unit, name))
					status_error(status_service(st, *s), "%s", error ? error : "restart failed");
	}
	json_object_del(st, "restart");
}

/* ---- showing the result ---- */

static int write_text(const char *root, const char *path, const char *text)
{
	_cleanup_free_ char *full = fb_rooted(root, path), *dir = NULL;
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

static void show(const struct fb_options *o, json_t *st)
{
	_cleanup_free_ char *text = NULL, *issue = NULL, *html = NULL;
	_cleanup_free_ char *status_path = fb_rooted(o->root, GB_RUN_STATUS);
	int r;

	json_object_set_new(st, "state", fb_state_json(o->root));
	r = status_save(status_path, st);
	if (r < 0)
		log_error_errno(r, "cannot write %s: %m", status_path);
	if (status_render_text(st, &text) < 0 || status_render_issue(st, &issue) < 0 ||
	    status_render_html(st, &html) < 0) {
		log_error("out of memory rendering the status");
		return;
	}
	if ((r = write_text(o->root, GB_RUN_BANNER, text)) < 0)
		log_warning_errno(r, "cannot write %s: %m", GB_RUN_BANNER);
	if ((r = write_text(o->root, GB_RUN_WWW "/index.html", html)) < 0)
		log_warning_errno(r, "cannot write the status page: %m");
	if ((r = write_text(o->root, FB_ISSUE_PATH, issue)) < 0)
		log_warning_errno(r, "cannot write %s: %m", FB_ISSUE_PATH);

	if (!o->root) {
		const char *console = o->console ? o->console : "/dev/console";
		_cleanup_close_ int fd = open(console, O_WRONLY | O_NOCTTY | O_CLOEXEC);

		if (fd < 0 || write_all(fd, "\n", 1) < 0 || write_all(fd, text, strlen(text)) < 0)
			log_warning("cannot write the banner to %s: %s", console, strerror(errno));
	}
	/* Also on stdout: the journal has it, and tests read it. */
	fputs(text, stdout);
	fflush(stdout);
}

/* The status configure wrote, and the site in it; when there is none, say so where the
 * operator looks instead of failing silently. */
static int load_status(struct fb_verify *v, const char *path)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = status_load(path, &v->st, &error);
	if (r < 0) {
		v->st = status_new();
		if (!v->st)
			return -ENOMEM;
		status_error(status_service(v->st, &fb_service_config),
			     "no status from the configure stage (%s); did gapbox-firstboot.service run?",
			     error ? error : strerror(-r));
		return r;
	}
	r = fb_site_from_json(json_object_get(v->st, "admin"), &v->site, &error);
	if (r < 0)
		status_error(status_service(v->st, &fb_service_config), "%s: nothing to verify",
			     error ? error : strerror(-r));
	return r;
}

int fb_verify(const struct fb_options *o)
{
	_cleanup_free_ char *status_path = fb_rooted(o->root, GB_RUN_STATUS);
	struct fb_verify v = { .o = o, .live = !o->root };
	bool systemd = v.live && fb_systemd_booted();
	int r;

	clock_gettime(CLOCK_MONOTONIC, &v.start);
	if (!status_path)
		return -ENOMEM;
	r = load_status(&v, status_path);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		goto show;
	if (ipv4_parse(o->probe ? o->probe : v.site.address, &v.probe) < 0) {
		r = log_error_errno(-EINVAL, "--probe %s: expected an IPv4 address", o->probe);
		goto out;
	}
	ipv4_format(v.probe, v.probe_text);
	for (int p = FB_PORT_NONE + 1; p < N_FB_PORTS; p++)
		v.ports[p] = o->ports[p] ? o->ports[p] : v.site.ports[p];

	reset(v.st);
	if (systemd)
		run_restarts(v.st);
	for (const struct fb_service *const *s = fb_services; *s; s++)
		verify_service(&v, *s, systemd, status_service(v.st, *s));
show:
	show(o, v.st);
	r = 0;
out:
	fb_site_done(&v.site);
	json_decref(v.st);
	return r;
}

int fb_print_status(const struct fb_options *o)
{
	_cleanup_free_ char *path = fb_rooted(o->root, GB_RUN_STATUS), *error = NULL, *text = NULL;
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
	/* How full the data partition is now, not when the status was written. */
	json_object_set_new(st, "state", fb_state_json(o->root));
	r = status_render_text(st, &text);
	json_decref(st);
	if (r < 0)
		return r;
	fputs(text, stdout);
	return healthy ? 0 : 1;
}
