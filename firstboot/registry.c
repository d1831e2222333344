/* docker-registry (distribution 2.8) for the site: its config.yml. The storage it serves,
 * an overlay of the payload's pre-filled store, is set up by storage.c. */
#include "render.h"

#include <stdio.h>

int registry_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;

	render_header(&b, "#", "docker-registry for the site %s", s->cfg->domain);
	sbuf_printf(&b,
		    "# No authentication, like kubespray-offline's registry: the nodes pull over plain HTTP\n"
		    "# on the internal network. The storage is an overlay: the images the image was built\n"
		    "# with, read-only, under a writable layer that takes pushes.\n"
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
		    s->registry_host);
	fb_files_add(out, FB_REGISTRY_CONFIG, &b, 0644, true);
	return out->error;
}
