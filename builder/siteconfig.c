/* Read a site configuration once, check it with the first-boot service's own loader and checks,
 * and note what the image must carry it with (its hash, its mode) and what the machine alone
 * can check. */
#include "siteconfig.h"

#include <string.h>

#include "../firstboot/configcheck.h"
#include "strv.h"
#include "yamlnode.h"

void site_config_done(struct site_config *s)
{
	free(s->path);
	free(s->text);
	strv_free(s->secrets);
	strv_free(s->machine_checks);
	*s = (struct site_config){ 0 };
}

int site_config_load(const char *path, enum appliance_use use, struct site_config *ret, char **ret_error)
{
	_cleanup_(site_config_done) struct site_config s = { 0 };
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	struct gb_sha256 *h;
	int r;

	if (ret_error)
		*ret_error = NULL;
	s.path = strdup(path);
	if (!s.path)
		return -ENOMEM;
	/* Read once: what is checked is what is baked, whatever happens to the file meanwhile. */
	r = yn_read_file(path, &s.text, &s.size, ret_error);
	if (r < 0)
		return r;
	r = fb_config_check_data(path, s.text, s.size, use, &a, ret_error);
	if (r < 0)
		return r;
	r = appliance_machine_checks(a, &s.machine_checks);
	if (r < 0)
		return r;
	r = appliance_secret_keys_data(s.text, s.size, &s.secrets);
	if (r < 0)
		return r;
	/* As gapbox-firstboot keeps such a file (configure.c, keep_secret): root's alone. */
	s.mode = s.secrets[0] ? 0600 : 0644;
	h = gb_sha256_new();
	if (!h)
		return -ENOMEM;
	gb_sha256_update(h, s.text, s.size);
	gb_sha256_final_hex(h, s.sha256);
	*ret = s;
	s = (struct site_config){ 0 };
	return 0;
}
