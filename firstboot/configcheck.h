/* The appliance configuration checked whole, the one way: by gapbox-firstboot on the machine
 * before it uses a file, and by gapbox on the build host (gapbox build --config, gapbox
 * check-config) before it bakes one into an image. */
#pragma once

#include "appliance.h"

/* A loaded configuration (with the kernel parameters applied, on the machine) checked as a
 * whole: appliance_validate, then its ports against every service's and the admin's fixed
 * listeners (fb_check_ports). 0, or -EINVAL with *ret_error = "PATH:LINE:COLUMN: ...". */
int fb_config_check(const struct appliance *a, char **ret_error);

/* The LEN bytes at BUF (NAME stands for the file in messages) loaded for USE and checked whole,
 * without kernel parameters: all that first boot checks before it uses a file, except what only
 * the machine can tell (appliance_machine_checks lists those). 0 with *ret, or a negative errno
 * with *ret_error (-EINVAL: "PATH:LINE:COLUMN: KEY: expected ..., got ..."). */
int fb_config_check_data(const char *name, const char *buf, size_t len, enum appliance_use use,
			 struct appliance **ret, char **ret_error);
