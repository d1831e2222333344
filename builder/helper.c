/* Helper programs of a build: failure reports and interruption. */
#include "helper.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "log.h"
#include "macros.h"
#include "spawn.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
	gb_spawn_kill_all(SIGTERM);
}

void interrupt_setup(void)
{
	/* No SA_RESTART: a blocking read or wait must return so the stage can unwind. */
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool interrupted(void)
{
	return got_signal != 0;
}

/* apt and mmdebstrap say what went wrong on "E:" lines; those beat a raw tail. */
static bool report_apt_errors(const char *what, int status, const char *tail)
{
	_cleanup_free_ char *copy = strdup(tail);
	bool any = false;

	for (char *save = NULL, *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "E: ", 3)) {
			if (!any)
				log_error("%s failed (exit status %d):", what, status);
			log_error("  %s", l);
			any = true;
		}
	return any;
}

int helper_failed(const char *what, int status, const char *log_path, const char *out_dir)
{
	_cleanup_free_ char *tail = NULL;
	struct statvfs vfs;

	if (interrupted())
		return -EINTR;
	if (status < 0)
		return log_error_errno(status, "cannot run %s: %m", what);
	if (status == 127)
		return log_error_errno(-ENOENT, "%s is not installed (run make deps)", what);
	tail = log_path ? gb_log_tail(log_path, 2048) : NULL;
	if (tail && report_apt_errors(what, status, tail))
		return -EPROTO;
	log_error("%s failed (exit status %d); the end of its output:\n%s", what, status, tail && *tail ? tail : "(empty)");
	if (out_dir && statvfs(out_dir, &vfs) == 0 && (unsigned long long)vfs.f_bavail * vfs.f_frsize < (1ULL << 20))
		log_error("no space left on device: the filesystem of %s has %llu KiB free", out_dir,
			  (unsigned long long)vfs.f_bavail * vfs.f_frsize / 1024);
	return -EPROTO;
}
