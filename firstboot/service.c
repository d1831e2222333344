/* The one list of the first-boot services; each record lives in its service's own file. */
#include "service.h"

#include <string.h>

const struct fb_service *const fb_services[] = {
	&fb_service_config,
	&fb_service_network,
	&fb_service_nat,
	&fb_service_dns,
	&fb_service_ntp,
	&fb_service_http,
	&fb_service_registry,
	&fb_service_nodes,
	&fb_service_access,
	NULL,
};

const struct fb_service *fb_service_find(const char *name)
{
	for (const struct fb_service *const *s = fb_services; *s; s++)
		if (streq((*s)->name, name))
			return *s;
	return NULL;
}
