/* Status of the appliance as JSON, and the three ways it is shown: console banner (also the
 * --status table), /etc/issue.d text, and the HTML status page. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bootrecord.h"
#include "dashboard.h"
#include "error.h"
#include "fsutil.h"
#include "layout.h"
#include "sbuf.h"
#include "service.h"

#define STATUS_FILE_MAX (16u * 1024 * 1024)

/* A service's entry as configure starts it: not configured, the rest unknown. */
static json_t *entry_new(const struct fb_service *s)
{
	return json_pack("{s:s, s:o, s:b, s:n, s:n, s:n, s:n}", "name", s->name, "unit",
			 s->unit ? json_string(s->unit) : json_null(), "configured", 0, "running", "verified", "detail",
			 "error");
}

json_t *status_new(void)
{
	json_t *st = json_object(), *list = json_array();

	if (!st || !list) {
		json_decref(st);
		json_decref(list);
		return NULL;
	}
	json_object_set_new(st, "version", json_integer(1));
	json_object_set_new(st, "services", list);
	for (const struct fb_service *const *s = fb_services; *s; s++)
		json_array_append_new(list, entry_new(*s));
	return st;
}

/* The entry of the service called NAME, or NULL. */
static json_t *find_service(json_t *st, const char *name)
{
	size_t i;
	json_t *svc;

	json_array_foreach(json_object_get(st, "services"), i, svc) {
		const char *n = json_string_value(json_object_get(svc, "name"));

		if (n && streq(n, name))
			return svc;
	}
	return NULL;
}

json_t *status_service(json_t *st, const struct fb_service *s)
{
	json_t *svc = find_service(st, s->name);

	if (svc)
		return svc;
	svc = entry_new(s);
	json_array_append_new(json_object_get(st, "services"), svc);
	return svc;
}

void status_set(json_t *svc, const char *field, int value)
{
	json_object_set_new(svc, field, value < 0 ? json_null() : json_boolean(value));
}

_printf_(3, 0) static void append(json_t *svc, const char *field, const char *fmt, va_list ap)
{
	const char *old = json_string_value(json_object_get(svc, field));
	_cleanup_free_ char *text = NULL, *joined = NULL;

	if (vasprintf(&text, fmt, ap) < 0)
		return;
	if (old && *old) {
		if (strstr(old, text))
			return; /* said already */
		if (asprintf(&joined, "%s; %s", old, text) < 0)
			return;
	}
	json_object_set_new(svc, field, json_string(joined ? joined : text));
}

void status_error(json_t *svc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	append(svc, "error", fmt, ap);
	va_end(ap);
}

void status_detail(json_t *svc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	append(svc, "detail", fmt, ap);
	va_end(ap);
}

bool status_has_error(json_t *svc)
{
	return json_is_string(json_object_get(svc, "error"));
}

bool status_healthy(json_t *st)
{
	size_t i;
	json_t *svc;

	json_array_foreach(json_object_get(st, "services"), i, svc) {
		if (status_has_error(svc) || json_is_false(json_object_get(svc, "configured")) ||
		    json_is_false(json_object_get(svc, "running")) || json_is_false(json_object_get(svc, "verified")))
			return false;
	}
	return true;
}

int status_load(const char *path, json_t **ret, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	json_error_t e;
	json_t *st;
	int r;

	r = read_file(path, STATUS_FILE_MAX, &text, NULL);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read %s", path);
	st = json_loads(text, 0, &e);
	if (!st || !json_is_object(st) || !json_is_array(json_object_get(st, "services"))) {
		r = gb_error(ret_error, -EINVAL, "%s:%d:%d: not a gapbox status: %s", path, e.line, e.column,
			     st ? "no services" : e.text);
		json_decref(st);
		return r;
	}
	*ret = st;
	return 0;
}

static void timestamp(char buf[static 32])
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int status_save(const char *path, json_t *st)
{
	_cleanup_free_ char *text = NULL;
	char now[32];

	timestamp(now);
	json_object_set_new(st, "generated", json_string(now));
	json_object_set_new(st, "healthy", json_boolean(status_healthy(st)));
	text = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return -ENOMEM;
	text = realloc(text, strlen(text) + 2);
	if (!text)
		return -ENOMEM;
	strcat(text, "\n");
	return write_file_atomic(path, text, strlen(text), 0644);
}

#define SAMPLE_SENTENCE "a SAMPLE made by gapbox's fixture generator (make demo), not a site's kubespray-offline outputs/"

static bool payload_sample(json_t *st)
{
	return json_is_true(json_object_get(json_object_get(st, "admin"), "payload_sample"));
}

static const char *admin_str(json_t *st, const char *key, const char *fallback)
{
	const char *s = json_string_value(json_object_get(json_object_get(st, "admin"), key));

	return s && *s ? s : fallback;
}

/* The fingerprints of the SSH host keys ("ED25519 SHA256:..."), as access found them. */
static json_t *host_keys(json_t *st)
{
	return json_object_get(find_service(st, fb_service_access.name), "ssh_host_keys");
}

/* "kept on /dev/sda4 (LABEL=GAPBOX-DATA, e2fsck: clean): 1.2 of 29.5 GiB used (4%)" or "in RAM,
 * lost at reboot: why"; NULL when the status has no state section. */
static char *state_sentence(json_t *st)
{
	json_t *state = json_object_get(st, "state");
	const char *mode = json_string_value(json_object_get(state, "mode"));
	double size = (double)json_integer_value(json_object_get(state, "size_bytes")) / (1 << 30);
	double used = (double)json_integer_value(json_object_get(state, "used_bytes")) / (1 << 30);
	char *s = NULL;
	int n;

	if (!mode)
		return NULL;
	if (!streq(mode, "data"))
		n = asprintf(&s, "in RAM, lost at reboot (%s)", json_string_value(json_object_get(state, "reason")) ?: "");
	else
		n = asprintf(&s, "kept on %s (LABEL=%s, e2fsck: %s%s): %.1f of %.1f GiB used (%.0f%%)",
			     json_string_value(json_object_get(state, "device")) ?: "?",
			     json_string_value(json_object_get(state, "label")) ?: "?",
			     json_string_value(json_object_get(state, "fsck")) ?: "?",
			     json_is_true(json_object_get(state, "created")) ? "; made at this boot" : "", used, size,
			     size > 0 ? used * 100 / size : 0.0);
	return n < 0 ? NULL : s;
}

/* The build ids whose root layers the data partition keeps beside this image's. */
static char *other_builds(json_t *st)
{
	json_t *l = json_object_get(json_object_get(st, "state"), "other_builds"), *v;
	struct sbuf b = SBUF_INIT;
	char *s = NULL;
	size_t i;

	if (!json_array_size(l))
		return NULL;
	json_array_foreach(l, i, v)
		sbuf_printf(&b, "%s%s", i ? ", " : "", json_string_value(v));
	return sbuf_finish(&b, &s, NULL) < 0 ? NULL : s;
}

/* Where the system runs from, from gapbox-init's boot record; NULL when the status has none. */
static const char *boot_line(json_t *st, char *buf, size_t size)
{
	struct boot_record rec;
	json_t *o = json_object_get(st, "boot");

	if (!o || boot_record_from_json(o, "boot", &rec, NULL) < 0)
		return NULL;
	return boot_record_describe(&rec, buf, size);
}

static const char *yesno(json_t *v)
{
	return json_is_true(v) ? "yes" : json_is_false(v) ? "NO" : "-";
}

int status_render_text(json_t *st, char **ret)
{
	_cleanup_free_ char *state = NULL, *others = NULL;
	struct sbuf b = SBUF_INIT;
	char boot[1536];
	size_t i;
	json_t *svc;

	sbuf_printf(&b, "gapbox admin server %s (admin.%s): %s\n", admin_str(st, "cidr", "(address unknown)"),
		    admin_str(st, "domain", "?"), status_healthy(st) ? "healthy" : "NOT HEALTHY");
	sbuf_printf(&b, "  %-9s %-10s %-7s %-8s %s\n", "SERVICE", "CONFIGURED", "RUNNING", "VERIFIED", "DETAILS");
	json_array_foreach(json_object_get(st, "services"), i, svc) {
		const char *error = json_string_value(json_object_get(svc, "error"));
		const char *detail = json_string_value(json_object_get(svc, "detail"));

		sbuf_printf(&b, "  %-9s %-10s %-7s %-8s %s%s\n", json_string_value(json_object_get(svc, "name")),
			    yesno(json_object_get(svc, "configured")), yesno(json_object_get(svc, "running")),
			    yesno(json_object_get(svc, "verified")), error ? "ERROR: " : "",
			    error ? error : detail ? detail : "");
	}
	if (admin_str(st, "node_setup_sha256", NULL))
		sbuf_printf(&b, "Nodes:  node-setup.sh has sha256 %s; on each node, download it, check it, run it:\n"
			    "        %s\n", admin_str(st, "node_setup_sha256", ""), admin_str(st, "node_command", ""));
	else
		sbuf_printf(&b, "Nodes:  %s\n", admin_str(st, "node_command", "(unknown)"));
	json_array_foreach(json_object_get(json_object_get(st, "site"), "nodes"), i, svc) {
		const char *name = json_string_value(json_object_get(svc, "name"));

		sbuf_printf(&b, "%s%s %s: %s: %s\n", i ? "        " : "Ready:  ", name ? name : "(not a node)",
			    json_string_value(json_object_get(svc, "address")),
			    json_is_true(json_object_get(svc, "ready")) ? "ready" : "NOT READY",
			    json_string_value(json_object_get(svc, "reason")));
	}
	sbuf_printf(&b, "Status: %s/ (or gapbox-firstboot --status)\n", admin_str(st, "http_url", "http://?"));
	if (payload_sample(st))
		sbuf_printf(&b, "Payload: %s\n", SAMPLE_SENTENCE);
	if (boot_line(st, boot, sizeof(boot)))
		sbuf_printf(&b, "Runs:   %s\n", boot);
	json_array_foreach(host_keys(st), i, svc)
		sbuf_printf(&b, "%s%s\n", i ? "        " : "SSH:    ", json_string_value(svc));
	if ((state = state_sentence(st)))
		sbuf_printf(&b, "State:  %s\n", state);
	if ((others = other_builds(st)))
		sbuf_printf(&b, "        the data partition also keeps the root layers of other builds, unused by this "
			    "one: %s\n", others);
	if (json_is_false(json_object_get(json_object_get(st, "admin"), "access")))
		sbuf_puts(&b, "Login:  no SSH key and no root password are configured, so nobody can log in. Put your\n"
			      "        key in access.ssh_authorized_keys of the appliance configuration the image is\n"
			      "        built with (gapbox build --config FILE; see /usr/share/doc/gapbox/appliance.md),\n"
			      "        and rebuild.\n");
	return sbuf_finish(&b, ret, NULL);
}

int status_render_issue(json_t *st, char **ret)
{
	_cleanup_free_ char *text = NULL;
	struct sbuf b = SBUF_INIT;
	int r;

	r = status_render_text(st, &text);
	if (r < 0)
		return r;
	sbuf_puts(&b, "\n");
	for (const char *c = text; *c; c++)
		sbuf_puts(&b, *c == '\\' ? "\\\\" : (char[]){ *c, '\0' });
	sbuf_puts(&b, "\n");
	return sbuf_finish(&b, ret, NULL);
}

int status_render_html(json_t *st, char **ret)
{
	/* The payload's folders and the node files. */
	static const char *const links[] = { GB_PAYLOAD_SERVED_DIRS, "gapbox" };
	_cleanup_free_ char *state = NULL, *others = NULL;
	struct sbuf b = SBUF_INIT;
	char boot[1536];
	size_t i;
	json_t *svc;

	/* It refreshes itself: gapbox-dashboard.service rewrites it every few seconds. */
	sbuf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		      "<meta http-equiv=\"refresh\" content=\"10\">\n<title>gapbox admin ");
	sbuf_puts_escaped(&b, admin_str(st, "cidr", ""));
	sbuf_puts(&b, "</title>\n<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}"
		      ".bad{color:#b00}.good{color:#070}code{background:#eee;padding:.2em}</style>\n</head>\n<body>\n"
		      "<h1>gapbox admin server ");
	sbuf_puts_escaped(&b, admin_str(st, "cidr", ""));
	sbuf_puts(&b, "</h1>\n<p>");
	sbuf_puts(&b, status_healthy(st) ? "<span class=\"good\">healthy</span>" : "<span class=\"bad\">not healthy</span>");
	sbuf_puts(&b, " &middot; generated ");
	sbuf_puts_escaped(&b, json_string_value(json_object_get(st, "generated")));
	sbuf_puts(&b, " &middot; <a href=\"/status.json\">status.json</a></p>\n");
	if (payload_sample(st))
		sbuf_puts(&b, "<p class=\"bad\">Payload: " SAMPLE_SENTENCE "</p>\n");
	if (boot_line(st, boot, sizeof(boot))) {
		sbuf_puts(&b, "<p>Runs ");
		sbuf_puts_escaped(&b, boot);
		sbuf_puts(&b, "</p>\n");
	}
	sbuf_puts(&b, "<table>\n"
		      "<tr><th>service</th><th>configured</th><th>running</th><th>verified</th><th>details</th></tr>\n");
	json_array_foreach(json_object_get(st, "services"), i, svc) {
		const char *error = json_string_value(json_object_get(svc, "error"));

		sbuf_puts(&b, "<tr><td>");
		sbuf_puts_escaped(&b, json_string_value(json_object_get(svc, "name")));
		sbuf_printf(&b, "</td><td>%s</td><td>%s</td><td>%s</td><td%s>", yesno(json_object_get(svc, "configured")),
			    yesno(json_object_get(svc, "running")), yesno(json_object_get(svc, "verified")),
			    error ? " class=\"bad\"" : "");
		sbuf_puts_escaped(&b, error ? error : json_string_value(json_object_get(svc, "detail")));
		sbuf_puts(&b, "</td></tr>\n");
	}
	sbuf_puts(&b, "</table>\n");
	dashboard_render_html(json_object_get(st, "site"), &b);
	sbuf_puts(&b, "<h2>Setting up a node</h2>\n");
	if (admin_str(st, "node_setup_sha256", NULL)) {
		sbuf_puts(&b, "<p><a href=\"/gapbox/node-setup.sh\">node-setup.sh</a> has sha256 <code>");
		sbuf_puts_escaped(&b, admin_str(st, "node_setup_sha256", ""));
		sbuf_puts(&b, "</code>. On each node, download it, check it and run it:</p>\n<p><code>");
	} else
		sbuf_puts(&b, "<p>On each node:</p>\n<p><code>");
	sbuf_puts_escaped(&b, admin_str(st, "node_command", ""));
	sbuf_puts(&b, "</code></p>\n");
	if (json_array_size(host_keys(st)))
		sbuf_puts(&b, "<h2>SSH host keys</h2>\n<ul>\n");
	json_array_foreach(host_keys(st), i, svc) {
		sbuf_puts(&b, "<li><code>");
		sbuf_puts_escaped(&b, json_string_value(svc));
		sbuf_puts(&b, "</code></li>\n");
	}
	if (json_array_size(host_keys(st)))
		sbuf_puts(&b, "</ul>\n");
	if ((state = state_sentence(st))) {
		sbuf_puts(&b, "<h2>State</h2>\n<p>");
		sbuf_puts_escaped(&b, state);
		if ((others = other_builds(st))) {
			sbuf_puts(&b, "; the root layers of other builds are kept too, unused: ");
			sbuf_puts_escaped(&b, others);
		}
		sbuf_puts(&b, "</p>\n");
	}
	sbuf_puts(&b, "<h2>Repositories</h2>\n<ul>\n");
	for (size_t k = 0; k < ARRAY_SIZE(links); k++)
		sbuf_printf(&b, "<li><a href=\"/%s/\">/%s/</a></li>\n", links[k], links[k]);
	sbuf_puts(&b, "</ul>\n</body>\n</html>\n");
	return sbuf_finish(&b, ret, NULL);
}
