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

void grub_cfg_put_terminal(FILE *f, const char *serial_console)
{
	int unit;
	long speed;

	if (serial_unit(serial_console, &unit, &speed)) {
		fprintf(f, "serial --unit=%d --speed=%ld\n", unit, speed);
		fprintf(f, "terminal_input console serial\nterminal_output console serial\n");
	}
}

int boot_cmdline(const struct profile *p, enum profile_menu_entry entry, char **ret)
{
	const char *serial = p->boot.serial_console && *p->boot.serial_console ? p->boot.serial_console : NULL;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return -ENOMEM;
	/* The last console= becomes /dev/console (systemd's status and the login prompt);
	 * kernel messages go to every one listed. The serial entry puts the serial port last, and
	 * so does the rescue entry when the serial entry is the default. */
	if (!serial)
		fputs("console=tty0", f);
	else if (entry == PROFILE_MENU_SERIAL || (entry == PROFILE_MENU_RESCUE && p->boot.default_entry == PROFILE_MENU_SERIAL))
		fprintf(f, "console=tty0 console=%s", serial);
	else
		fprintf(f, "console=%s console=tty0", serial);
	for (char **k = p->boot.kernel_params; k && *k; k++)
		fprintf(f, " %s", *k);
	if (entry == PROFILE_MENU_RESCUE)
		fputs(" gapbox.shell", f);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

/* Menu entry ids, which set default= names. */
static const char *const entry_ids[] = { [PROFILE_MENU_DEFAULT] = "default", [PROFILE_MENU_SERIAL] = "serial",
					 [PROFILE_MENU_RESCUE] = "rescue" };

static int put_entry(FILE *f, const struct profile *p, enum profile_menu_entry entry, const char *title)
{
	_cleanup_free_ char *cmdline = NULL;
	int r = boot_cmdline(p, entry, &cmdline);

	if (r < 0)
		return r;
	fprintf(f, "\nmenuentry '%s' --id %s {\n", title, entry_ids[entry]);
	fprintf(f, "\techo 'Loading %s ...'\n", p->name);
	fprintf(f, "\tlinux /" GB_MEDIUM_KERNEL " %s\n", cmdline);
	fprintf(f, "\tinitrd /" GB_MEDIUM_INITRD "\n}\n");
	return 0;
}

int grub_cfg_render(const struct profile *p, char **ret)
{
	const char *serial = p->boot.serial_console && *p->boot.serial_console ? p->boot.serial_console : NULL;
	_cleanup_free_ char *serial_title = NULL, *rescue_title = NULL;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	/* asprintf leaves its pointer undefined when it fails. */
	if (serial && asprintf(&serial_title, "%s (serial console %s)", p->name, serial) < 0)
		return serial_title = NULL, -ENOMEM;
	if (asprintf(&rescue_title, "%s (rescue shell)", p->name) < 0)
		return rescue_title = NULL, -ENOMEM;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# Boot menu of the gapbox image %s (%s), written by gapbox build.\n", p->name, p->arch);
	fprintf(f, "set default=%s\nset timeout=%u\n", entry_ids[p->boot.default_entry], p->boot.menu_timeout);
	grub_cfg_put_terminal(f, serial);
	r = put_entry(f, p, PROFILE_MENU_DEFAULT, p->name);
	if (r >= 0 && serial)
		r = put_entry(f, p, PROFILE_MENU_SERIAL, serial_title);
	if (r >= 0)
		r = put_entry(f, p, PROFILE_MENU_RESCUE, rescue_title);
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return r;
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
