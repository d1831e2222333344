/* Renders GRUB's configuration; kept free of I/O so golden files can pin it byte for byte. */
#include "grubcfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "macros.h"

/* "ttyS1,115200" → unit 1, speed 115200. Only 8250-style ports have a GRUB serial driver
 * on every platform we boot; other consoles (ttyAMA0) rely on the firmware console. */
static int serial_unit(const char *console, int *unit, long *speed)
{
	char *end;
	if (!console || strncmp(console, "ttyS", 4) != 0)
		return 0;
	*unit = (int)strtol(console + 4, &end, 10);
	*speed = *end == ',' ? strtol(end + 1, NULL, 10) : 115200;
	return 1;
}

static void put_entry(FILE *f, const struct profile *p, const char *id, const char *title, const char *consoles,
		      const char *extra)
{
	fprintf(f, "\nmenuentry '%s' --id %s {\n", title, id);
	fprintf(f, "\techo 'Loading %s ...'\n", p->name);
	fprintf(f, "\tlinux /" GB_MEDIUM_KERNEL " %s", consoles);
	for (char **k = p->boot.kernel_params; k && *k; k++)
		fprintf(f, " %s", *k);
	if (extra)
		fprintf(f, " %s", extra);
	fprintf(f, "\n\tinitrd /" GB_MEDIUM_INITRD "\n}\n");
}

int grub_cfg_render(const struct profile *p, char **ret)
{
	static const char *const ids[] = { [PROFILE_MENU_DEFAULT] = "default", [PROFILE_MENU_SERIAL] = "serial",
					   [PROFILE_MENU_RESCUE] = "rescue" };
	const char *serial = p->boot.serial_console && *p->boot.serial_console ? p->boot.serial_console : NULL;
	_cleanup_free_ char *graphical = NULL, *serial_first = NULL, *title = NULL;
	char *buf = NULL;
	size_t size = 0;
	int unit;
	long speed;
	FILE *f;

	/* The last console= becomes /dev/console (systemd's status and the login prompt);
	 * kernel messages go to every one listed. */
	if (serial) {
		if (asprintf(&graphical, "console=%s console=tty0", serial) < 0 ||
		    asprintf(&serial_first, "console=tty0 console=%s", serial) < 0)
			return -ENOMEM;
	} else if (!(graphical = strdup("console=tty0")))
		return -ENOMEM;

	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# Boot menu of the gapbox image %s (%s), written by gapbox build.\n", p->name, p->arch);
	fprintf(f, "set default=%s\nset timeout=%u\n", ids[p->boot.default_entry], p->boot.menu_timeout);
	if (serial_unit(serial, &unit, &speed)) {
		fprintf(f, "serial --unit=%d --speed=%ld\n", unit, speed);
		fprintf(f, "terminal_input console serial\nterminal_output console serial\n");
	}
	put_entry(f, p, "default", p->name, graphical, NULL);
	if (serial) {
		if (asprintf(&title, "%s (serial console %s)", p->name, serial) < 0) {
			fclose(f);
			free(buf);
			return -ENOMEM;
		}
		put_entry(f, p, "serial", title, serial_first, NULL);
	}
	free(title);
	if (asprintf(&title, "%s (rescue shell)", p->name) < 0) {
		title = NULL;
		fclose(f);
		free(buf);
		return -ENOMEM;
	}
	put_entry(f, p, "rescue", title, p->boot.default_entry == PROFILE_MENU_SERIAL && serial ? serial_first : graphical,
		  "gapbox.shell");
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

int grub_early_cfg_render(const char *uuid, const char *label, char **ret)
{
	/* This runs before GRUB's normal mode, whose script engine is what knows "if": keep it
	 * to plain commands. When the UUID is not found, root stays the boot device, which is
	 * the medium itself on a CD; the label is the second try. */
	return asprintf(ret,
			"search --no-floppy --set=root --label %s\n"
			"search --no-floppy --set=root --fs-uuid %s\n"
			"set prefix=($root)/" GB_MEDIUM_GRUB_DIR "\n"
			"configfile ($root)/" GB_MEDIUM_GRUB_CFG "\n",
			label, uuid) < 0
		       ? -ENOMEM
		       : 0;
}
