/* Talking to systemd through systemctl and networkctl: is it there, is a unit active,
 * restart one. */
#pragma once

#include <stdbool.h>

/* PID 1 is systemd (sd_booted()'s test). */
bool fb_systemd_booted(void);
/* 1 active, 0 not, negative errno when systemctl could not be run. */
int fb_unit_is_active(const char *unit);
/* systemctl restart UNIT; 0 or negative with *ret_error. */
int fb_unit_restart(const char *unit, char **ret_error);
/* networkctl reload: systemd-networkd rereads its .network files. */
int fb_networkd_reload(char **ret_error);
