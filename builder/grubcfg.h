/* GRUB configuration text: the boot menu on the medium and the config built into the loaders,
 * and the kernel command line of each menu entry, which the netboot configs share. */
#pragma once

#include <stdio.h>

#include "profile.h"

/* The kernel command line of the menu entry ENTRY, without the kernel's path: its console=
 * parameters, the profile's kernel_params and, for the rescue entry, gapbox.shell. The build
 * manifest carries the default entry's (boot.cmdline), which the netboot configs use. */
int boot_cmdline(const struct profile *p, enum profile_menu_entry entry, char **ret);
/* The boot menu (/boot/grub/grub.cfg). */
int grub_cfg_render(const struct profile *p, char **ret);
/* GRUB's serial terminal on SERIAL_CONSOLE (NULL or "": none) when GRUB has a driver for it
 * (ttyS*), as lines of a grub.cfg. */
void grub_cfg_put_terminal(FILE *f, const char *serial_console);
/* The config built into each GRUB image: find the medium by UUID (then label), load the menu. */
int grub_early_cfg_render(const char *uuid, const char *label, char **ret);
