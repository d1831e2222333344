/* nginx for the site: the kubespray-offline payload (/files/ /images/ /pypi/ /rpms/ /debs/),
 * the generated node files (/gapbox/) and the status page (/), on the internal address and
 * loopback, and the registry's port in front of docker-registry (registry.c writes those
 * servers). The whole nginx.conf is ours, so no stock site listens anywhere else. */
#include <stdio.h>
#include <string.h>

#include "dashboard.h"
#include "error.h"
#include "fsutil.h"
#include "render.h"
#include "service.h"
#include "status.h"
#include "tls.h"

/* The payload folders nginx serves, each at /NAME/. */
static const char *const payload_dirs[] = { GB_PAYLOAD_SERVED_DIRS };

static int http_render(const struct fb_site *s, struct fb_files *out)
{
	unsigned port = s->ports[FB_PORT_HTTP];
	struct sbuf b = SBUF_INIT;

	render_header(&b, "#", "nginx for the site %s", s->domain);
	sbuf_printf(&b, "# Serves the payload, the files for the nodes and the status page on %s:%u and\n"
		    "# 127.0.0.1:%u, the registry on port %u of the same two, and nothing anywhere else.\n", s->address,
		    port, port, s->ports[FB_PORT_REGISTRY]);
	sbuf_printf(&b,
		    "user www-data;\n"
		    "worker_processes auto;\n"
		    "pid /run/nginx.pid;\n"
		    "error_log /var/log/nginx/error.log;\n"
		    "\n"
		    "events {\n"
		    "\tworker_connections 768;\n"
		    "}\n"
		    "\n"
		    "http {\n"
		    "\tinclude /etc/nginx/mime.types;\n"
		    "\tdefault_type application/octet-stream;\n"
		    "\taccess_log /var/log/nginx/access.log;\n"
		    "\t# Read back by gapbox-firstboot dashboard: what each node fetched since boot.\n"
		    "\tlog_format gapbox_site " FB_SITE_LOG_FORMAT ";\n"
		    "\taccess_log " FB_SITE_LOG " gapbox_site;\n"
		    "\tsendfile on;\n"
		    "\ttcp_nopush on;\n"
		    "\ttypes_hash_max_size 2048;\n"
		    "\tserver_tokens off;\n"
		    "\n"
		    "\t# One socket for the port, so nginx never depends on the internal address being up yet.\n"
		    "\t# A connection to any address but the two below is closed unanswered (and the firewall\n"
		    "\t# drops it before it gets here).\n"
		    "\tserver {\n"
		    "\t\tlisten %u default_server;\n"
		    "\t\tserver_name _;\n"
		    "\t\treturn 444;\n"
		    "\t}\n"
		    "\n"
		    "\tserver {\n"
		    "\t\tlisten %s:%u;\n"
		    "\t\tlisten 127.0.0.1:%u;\n"
		    "\t\tserver_name admin.%s %s localhost;\n"
		    "\t\troot " GB_RUN_WWW ";\n"
		    "\t\tindex index.html;\n"
		    "\t\tautoindex on;\n"
		    "\t\tcharset utf-8;\n"
		    "\n"
		    "\t\tlocation / {\n"
		    "\t\t\ttry_files $uri $uri/ =404;\n"
		    "\t\t}\n"
		    "\n"
		    "\t\tlocation = /status.json {\n"
		    "\t\t\talias " GB_RUN_STATUS ";\n"
		    "\t\t\tdefault_type application/json;\n"
		    "\t\t}\n"
		    "\n"
		    "\t\t# What the nodes fetch: offline.yml, inventory.ini, pip.conf, node-setup.sh.\n"
		    "\t\tlocation /gapbox/ {\n"
		    "\t\t\ttypes { }\n"
		    "\t\t\tdefault_type text/plain;\n"
		    "\t\t}\n",
		    port, s->address, port, port, s->domain, s->address);
	sbuf_puts(&b, "\n\t\t# The kubespray-offline payload, read-only.\n");
	for (size_t i = 0; i < ARRAY_SIZE(payload_dirs); i++)
		sbuf_printf(&b,
			    "\t\tlocation /%s/ {\n"
			    "\t\t\talias " GB_RUN_PAYLOAD "/%s/;\n"
			    "\t\t}\n",
			    payload_dirs[i], payload_dirs[i]);
	sbuf_puts(&b, "\t}\n");
	fb_registry_nginx(&b, s);
	sbuf_puts(&b, "}\n");
	fb_files_add(out, HTTP_CONF_PATH, &b, 0644, true);
	return out->error;
}

static const struct fb_checker http_checker = {
	HTTP_CONF_PATH, { "nginx", "-t", "-q", "-c" }, "nginx -t rejected the rendered nginx.conf"
};

/* *TEXT with every FROM replaced by TO. */
static int replace_text(char **text, const char *from, const char *to)
{
	struct sbuf b = SBUF_INIT;
	const char *t = *text;

	for (const char *hit; (hit = strstr(t, from)); t = hit + strlen(from)) {
		sbuf_putn(&b, t, (size_t)(hit - t));
		sbuf_puts(&b, to);
	}
	sbuf_puts(&b, t);
	free(*text);
	*text = NULL;
	return sbuf_finish(&b, text, NULL);
}

/* nginx -t on the staged nginx.conf. Where what it opens is not there (--root --check on
 * another machine), stand-ins in the staging area take its place, so that the rest is checked
 * all the same: with registry.tls, a throwaway pair for the registry's (configure makes that
 * before rendering on the admin); a log file for the dashboard's, when there is no run folder. */
static int http_check(const struct fb_files *fs, char *const *staged, char **ret_error)
{
	_cleanup_free_ char *text = NULL, *dir = NULL, *cert = NULL, *key = NULL, *site_log = NULL;
	const struct fb_file *f = fb_files_find(fs, HTTP_CONF_PATH);
	const char *conf = NULL;
	bool tls, log;
	size_t size;
	int r;

	for (size_t i = 0; i < fs->n; i++)
		if (&fs->v[i] == f && staged[i][0])
			conf = staged[i];
	tls = conf && strstr(f->content, FB_TLS_CERT) && !(path_exists(FB_TLS_CERT) && path_exists(FB_TLS_KEY));
	log = conf && strstr(f->content, FB_SITE_LOG) && !path_is_dir(GB_RUN_DIR);
	if (!tls && !log)
		return fb_check_file(fs, staged, &http_checker, ret_error);
	dir = strdup(conf);
	text = strdup(f->content);
	if (!dir || !text)
		return -ENOMEM;
	*strrchr(dir, '/') = '\0';
	if (tls) {
		r = fb_tls_placeholder(dir, &cert, &key, ret_error);
		if (r < 0)
			return r;
		if ((r = replace_text(&text, FB_TLS_CERT, cert)) < 0 || (r = replace_text(&text, FB_TLS_KEY, key)) < 0)
			return r;
	}
	if (log) {
		site_log = path_join(dir, "site-access.log");
		if (!site_log)
			return -ENOMEM;
		if ((r = replace_text(&text, FB_SITE_LOG, site_log)) < 0)
			return r;
	}
	size = strlen(text);
	r = write_file_atomic(conf, text, size, 0644);
	if (r < 0)
		return gb_error(ret_error, r, "cannot write %s", conf);
	char *argv[] = { "nginx", "-t", "-q", "-c", (char *)conf, NULL };
	return fb_run_checker(argv, http_checker.what, ret_error);
}

/* The status page answers. */
static void http_verify(struct fb_verify *v, json_t *svc)
{
	(void)fb_verify_http(v, svc, FB_PORT_HTTP, "/", "no answer");
}

/* The address it serves at, and what of the payload there is to serve. */
static void http_describe(const struct fb_site *s, json_t *svc)
{
	status_detail(svc, "%s/", s->http_url);
	if (!path_is_dir(s->payload)) {
		status_error(svc, "no payload at %s: /files/, /images/, /pypi/, /rpms/ and /debs/ have nothing to serve",
			     s->payload);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(payload_dirs); i++) {
		_cleanup_free_ char *dir = path_join(s->payload, payload_dirs[i]);

		if (dir && !path_is_dir(dir))
			status_detail(svc, "the payload has no %s/", payload_dirs[i]);
	}
}

const struct fb_service fb_service_http = {
	.name = "http", .unit = "nginx.service", .daemon = "nginx",
	.port = FB_PORT_HTTP, .protocols = FB_TCP,
	.check = http_check,
	.describe = http_describe, .render = http_render, .verify = http_verify,
};
