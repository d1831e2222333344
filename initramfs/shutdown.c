/* gapbox-init as systemd's shutdown helper (/run/initramfs/shutdown, bootup(7)): systemd-shutdown
 * has killed every process, pivoted into /run/initramfs with the old root on /oldroot, and runs
 * this as PID 1; it unmounts all of /oldroot, the root overlay last, so that the data partition
 * under it is unmounted cleanly, then halts, powers off or reboots as asked. */
#include "shutdown.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "persist.h"
#include "strv.h"

#define OLDROOT "/oldroot"
#define MOUNTINFO_MAX (1024 * 1024)
/* Mounts can hold each other (an overlay its layers' loop devices): a few rounds settle it. */
#define UNMOUNT_ROUNDS 8

/* The mount points below OLDROOT, in the order mountinfo lists them (parents first). */
static int list_mounts(char ***ret)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_strv_free_ char **l = NULL;
	int r = read_file("/proc/self/mountinfo", MOUNTINFO_MAX, &text, NULL);

	if (r < 0)
		return r;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char mp[4096], out[4096];
		size_t o = 0;

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ...; the mount point has \ooo escapes. */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		for (size_t i = 0; mp[i] && o < sizeof(out) - 1; i++) {
			if (mp[i] == '\\' && mp[i + 1] >= '0' && mp[i + 1] <= '3' && mp[i + 2] && mp[i + 3]) {
				out[o++] = (char)(((mp[i + 1] - '0') << 6) | ((mp[i + 2] - '0') << 3) | (mp[i + 3] - '0'));
				i += 3;
			} else
				out[o++] = mp[i];
		}
		out[o] = '\0';
		if (strncmp(out, OLDROOT, strlen(OLDROOT)) == 0 && (out[strlen(OLDROOT)] == '/' || !out[strlen(OLDROOT)]))
			if ((r = strv_push(&l, out)) < 0)
				return r;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

/* Unmounts every mount below OLDROOT, deepest (latest) first, round after round while that
 * makes progress; what is still busy after that is detached. Returns how many were left busy. */
static unsigned unmount_oldroot(void)
{
	unsigned busy = 0;

	for (unsigned round = 0; round < UNMOUNT_ROUNDS; round++) {
		_cleanup_strv_free_ char **l = NULL;
		size_t n, done = 0;

		if (list_mounts(&l) < 0 || !(n = strv_length(l)))
			return 0;
		for (size_t i = n; i-- > 0;)
			if (umount2(l[i], 0) == 0)
				done++;
		if (done == 0) {
			for (size_t i = n; i-- > 0;)
				if (umount2(l[i], MNT_DETACH) == 0)
					log_warning("%s was busy: detached", l[i]);
			busy = (unsigned)n;
			break;
		}
	}
	return busy;
}

/* Whether anything still holds the data partition: an exclusive open fails while it is mounted. */
static void report_data(const struct gb_state_record *rec)
{
	int fd;

	if (!streq(rec->mode, "data") || !rec->device[0])
		return;
	fd = open(rec->device, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		log_info("data partition %s unmounted cleanly", rec->device);
		return;
	}
	log_warning_errno(negative_errno(), "data partition %s is still in use (%m): its journal will be replayed at the "
					    "next boot", rec->device);
}

static int reboot_command(const char *verb)
{
	if (verb && streq(verb, "poweroff"))
		return RB_POWER_OFF;
	if (verb && streq(verb, "halt"))
		return RB_HALT_SYSTEM;
	if (verb && streq(verb, "kexec"))
		return RB_KEXEC;
	return RB_AUTOBOOT;
}

bool shutdown_is_invoked(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	return streq(base ? base + 1 : argv0, "shutdown");
}

_Noreturn int shutdown_main(int argc, char **argv)
{
	_cleanup_free_ char *text = NULL;
	struct gb_state_record rec = { 0 };
	const char *verb = argc > 1 ? argv[1] : "reboot";

	gb_log_set_ident("gapbox-shutdown");
	if (access("/proc/self/mountinfo", R_OK) < 0)
		(void)mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	/* /run is moved in by systemd; the old root's copy is the fallback. */
	if (read_file(GB_RUN_STATE, 64 * 1024, &text, NULL) >= 0 ||
	    read_file(OLDROOT GB_RUN_STATE, 64 * 1024, &text, NULL) >= 0)
		gb_state_record_parse(text, &rec);

	sync();
	if (unmount_oldroot())
		log_warning("some mounts under %s stayed busy", OLDROOT);
	sync();
	report_data(&rec);
	log_info("%s", streq(verb, "poweroff") ? "powering off" : streq(verb, "halt") ? "halting" : "rebooting");
	fflush(NULL);
	(void)reboot(reboot_command(verb));
	/* reboot() returned: nothing more can be done; PID 1 must not exit. */
	log_error_errno(negative_errno(), "reboot(%s) failed: %m", verb);
	for (;;)
		pause();
}
