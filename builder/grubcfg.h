/* GRUB configuration text: the boot menu on the medium and the config built into the loaders. */
#pragma once

#include "profile.h"

/* The boot menu (/boot/grub/grub.cfg). */
int grub_cfg_render(const struct profile *p, char **ret);
/* The config built into each GRUB image: find the medium by UUID (then label), load the menu. */
int grub_early_cfg_render(const char *uuid, const char *label, char **ret);
