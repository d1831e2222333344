/* The appliance configuration checked whole: the loader's value checks, the checks across keys
 * and the ports against the services' (which needs the service table, hence not in config.c). */
#include "configcheck.h"

#include "service.h"

int fb_config_check(const struct appliance *a, char **ret_error)
{
	int r = appliance_validate(a, ret_error);

	return r < 0 ? r : fb_check_ports(a, ret_error);
}

int fb_config_check_data(const char *name, const char *buf, size_t len, enum appliance_use use,
			 struct appliance **ret, char **ret_error)
{
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	int r;

	r = appliance_load_data(name, buf, len, use, &a, ret_error);
	if (r < 0)
		return r;
	r = fb_config_check(a, ret_error);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(a);
	return 0;
}
