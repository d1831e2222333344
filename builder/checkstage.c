/* Stage check: what a build can check before anything slow starts, the cheapest first: the site
 * configuration it bakes in, then the outputs/ folder it carries. */
#include "build.h"
#include "log.h"
#include "siteconfig.h"

/* The site configuration, checked as gapbox-firstboot would check it on the machine, and as an
 * image may carry it (no private key). */
static int check_site_config(struct build *b, struct site_config *ret)
{
	_cleanup_free_ char *err = NULL;
	int r;

	if (!b->site_config) {
		if (b->profile->appliance)
			log_info("check: no site configuration given (--config or site_config): the image carries the "
				 "overlays' /etc/gapbox/appliance.yaml");
		return 0;
	}
	if (!b->profile->appliance)
		return log_error_errno(-EINVAL, "%s: the profile %s builds no admin server (appliance: false), so "
				       "nothing in the image would read a site configuration", b->site_config,
				       b->profile->name);
	r = site_config_load(b->site_config, APPLIANCE_IN_IMAGE, ret, &err);
	if (r < 0) {
		if (err)
			log_error("%s", err);
		else
			log_error_errno(r, "cannot check the site configuration %s: %m", b->site_config);
		return r;
	}
	log_info("check: site configuration %s: valid, sha256 %s; baked in as /%s, mode %04o", ret->path,
		 ret->sha256, SITE_CONFIG_IMAGE_PATH, (unsigned)ret->mode);
	for (char **k = ret->secrets; *k; k++)
		log_info("check: %s sets %s, a hash and not a key, so it may be baked in: root alone reads it on the "
			 "machine, but whoever holds the image can read it", ret->path, *k);
	for (char **m = ret->machine_checks; *m; m++)
		log_info("check: %s", *m);
	return 0;
}

int stage_check(struct build *b, struct site_config *ret_site)
{
	int r = check_site_config(b, ret_site);

	return r < 0 ? r : stage_check_payload(b);
}
