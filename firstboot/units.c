/* systemctl and networkctl, run as programs: the service needs nothing more than that. */
#include "units.h"

#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "render.h"
#include "spawn.h"

bool fb_systemd_booted(void)
{
	return path_is_dir("/run/systemd/system");
}

int fb_unit_is_active(const char *unit)
{
	char *argv[] = { "systemctl", "is-active", "--quiet", (char *)unit, NULL };
	int r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = "/dev/null" });

	if (r < 0)
		return r;
	if (r == 127)
		return -ENOENT;
	return r == 0;
}

int fb_unit_restart(const char *unit, char **ret_error)
{
	char *argv[] = { "systemctl", "restart", (char *)unit, NULL };

	return fb_run_checker(argv, "systemctl restart failed", ret_error);
}

int fb_networkd_reload(char **ret_error)
{
	char *argv[] = { "networkctl", "reload", NULL };

	return fb_run_checker(argv, "networkctl reload failed", ret_error);
}
