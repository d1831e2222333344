/* nginx for the site: the kubespray-offline payload (/files/ /images/ /pypi/ /rpms/ /debs/),
 * the generated node files (/gapbox/) and the status page (/), on the internal address and
 * loopback. The whole nginx.conf is ours, so no stock site listens anywhere else. */
#include "render.h"

#include <stdio.h>
#include <string.h>

/* The payload folders nginx serves, each at /NAME/. */
static const char *const payload_dirs[] = { "files", "images", "pypi", "rpms", "debs" };

int http_render(const struct fb_site *s, struct fb_files *out)
{
	const struct appliance *c = s->cfg;
	struct sbuf b = SBUF_INIT;

	render_header(&b, "#", "nginx for the site %s", c->domain);
	sbuf_printf(&b,
		    "# Serves the payload, the files for the nodes and the status page on %s:%u and\n"
		    "# 127.0.0.1:%u, and nothing anywhere else.\n"
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
		    "\t\troot " FB_WWW_DIR ";\n"
		    "\t\tindex index.html;\n"
		    "\t\tautoindex on;\n"
		    "\t\tcharset utf-8;\n"
		    "\n"
		    "\t\tlocation / {\n"
		    "\t\t\ttry_files $uri $uri/ =404;\n"
		    "\t\t}\n"
		    "\n"
		    "\t\tlocation = /status.json {\n"
		    "\t\t\talias " FB_STATUS_PATH ";\n"
		    "\t\t\tdefault_type application/json;\n"
		    "\t\t}\n"
		    "\n"
		    "\t\t# What the nodes fetch: offline.yml, inventory.ini, pip.conf, node-setup.sh.\n"
		    "\t\tlocation /gapbox/ {\n"
		    "\t\t\ttypes { }\n"
		    "\t\t\tdefault_type text/plain;\n"
		    "\t\t}\n",
		    s->address, c->http_port, c->http_port, c->http_port, s->address, c->http_port, c->http_port,
		    c->domain, s->address);
	sbuf_puts(&b, "\n\t\t# The kubespray-offline payload, read-only.\n");
	for (size_t i = 0; i < ARRAY_SIZE(payload_dirs); i++)
		sbuf_printf(&b,
			    "\t\tlocation /%s/ {\n"
			    "\t\t\talias " FB_PAYLOAD_DIR "/%s/;\n"
			    "\t\t}\n",
			    payload_dirs[i], payload_dirs[i]);
	sbuf_puts(&b, "\t}\n}\n");
	fb_files_add(out, HTTP_CONF_PATH, &b, 0644, true);
	return out->error;
}

int http_check(const struct fb_files *fs, char *const *staged, char **ret_error)
{
	for (size_t i = 0; i < fs->n; i++)
		if (streq(fs->v[i].path, HTTP_CONF_PATH)) {
			char *argv[] = { "nginx", "-t", "-q", "-c", staged[i], NULL };

			return fb_run_checker(argv, "nginx -t rejected the rendered nginx.conf", ret_error);
		}
	return 0;
}
