/* gapbox-init, PID 1 of the initramfs: runs the boot steps in order and opens a rescue shell when one fails. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "early.h"
#include "log.h"
#include "net.h"
#include "rescue.h"
#include "shutdown.h"
#include "switchroot.h"

static struct boot boot;
static char **init_argv;

static int step_mounts(void)
{
	int r = early_mount_api_filesystems();

	/* Now /dev is devtmpfs: a console is there even if the cpio had none. */
	(void)early_console();
	/* Messages go to every console= (a serial line and the screen), not only the last one. */
	(void)gb_log_to_consoles(GB_CONSOLES_ACTIVE);
	return r;
}

static int step_params(void) { return boot_read_params(&boot); }
static int step_modules(void) { return boot_load_modules(&boot); }
static int step_medium(void) { return boot_mount_medium(&boot); }
static int step_images(void) { return boot_mount_images(&boot); }
static int step_state(void) { return boot_mount_state(&boot); }
static int step_root(void) { return boot_mount_root(&boot); }
static int step_keep(void) { return boot_keep_state(&boot); }

static int step_break(void)
{
	if (boot.params.brk)
		rescue_shell("gapbox.break: exit the shell to continue the boot (medium search next)");
	return 0;
}

static int step_shell(void)
{
	if (boot.params.shell)
		rescue_shell("gapbox.shell: the new root is on " GB_INITRD_SYSROOT "; exit the shell to continue the boot");
	return 0;
}

static int step_switch_root(void)
{
	log_info("switching root to %s", GB_INITRD_SYSROOT);
	return switch_root(GB_INITRD_SYSROOT, GB_SYSTEM_INIT);
}

static int step_exec_init(void)
{
	/* The kernel's arguments for init (e.g. "single") go on to the real one. */
	init_argv[0] = (char *)GB_SYSTEM_INIT;
	fflush(NULL);
	execv(GB_SYSTEM_INIT, init_argv);
	return log_error_errno(negative_errno(), "cannot execute %s: %m", GB_SYSTEM_INIT);
}

static const struct {
	const char *name;
	int (*run)(void);
} steps[] = {
	{ "mounting /proc, /sys, /dev and /run", step_mounts },
	{ "reading parameters", step_params },
	{ "loading modules", step_modules },
	{ "gapbox.break", step_break },
	{ "finding and mounting the medium, or fetching the images (gapbox.fetch=)", step_medium },
	{ "mounting the system and payload images", step_images },
	{ "finding and mounting the data partition", step_state },
	{ "mounting the root overlay", step_root },
	{ "keeping state on the data partition", step_keep },
	{ "gapbox.shell", step_shell },
	{ "switch_root", step_switch_root },
	{ "starting " GB_SYSTEM_INIT, step_exec_init },
};

int main(int argc, char **argv)
{
	(void)argc;
	gb_log_set_ident("gapbox-init");
	if (getpid() == 1 && shutdown_is_invoked(argv[0]))
		shutdown_main(argc, argv);
	if (net_dhcp_event_invoked())
		return net_dhcp_event_main(argc, argv);
	if (getpid() != 1) {
		log_error("must run as PID 1, the initramfs's /init");
		return 1;
	}

	/*
	 * No signal handlers: the kernel delivers to PID 1 only signals it handles, so
	 * stray SIGTERM/SIGINT cannot kill it, and children start with the defaults.
	 * SIGCHLD needs none either: rescue_shell() reaps with waitpid(-1).
	 */
	umask(022);
	(void)early_console();
	init_argv = argv;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]);) {
		int r = steps[i].run();

		reap_zombies();
		if (r >= 0) {
			i++;
			continue;
		}
		log_error("boot step failed: %s", steps[i].name);
		boot_report_failure(&boot);
		rescue_shell("exit the shell to retry the boot");
		/* Retry the step that failed; the shell may have fixed what it needed. */
	}
	/* Not reached: the last step either execs init or fails and is retried. */
	for (;;)
		rescue_shell("exit the shell to retry the boot");
}
