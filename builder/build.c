/* What the stages of a build share: the work folder, artifacts, helper failures, interruption. */
#include "build.h"

#include <signal.h>
#include <sys/statvfs.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"
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

char *build_work_path(const struct build *b, const char *name)
{
	return path_join(b->workdir, name);
}

char *build_log_path(const struct build *b, const char *stage)
{
	char *p;
	return asprintf(&p, "%s/%s.log", b->logdir, stage) < 0 ? NULL : p;
}

int build_target_binary(const struct build *b, const char *name, char **ret)
{
	char *p;
	if (asprintf(&p, "%s/build/%s/%s", b->datadir, b->profile->arch, name) < 0)
		return -ENOMEM;
	if (access(p, X_OK) < 0) {
		int r = log_error_errno(-errno, "%s is missing (%m): build it with 'make ARCH=%s'", p, b->profile->arch);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int build_add_artifact(struct build *b, const char *medium_path, const char *source)
{
	struct build_artifact *na = realloc(b->artifacts, (b->n_artifacts + 1) * sizeof(*na));
	if (!na)
		return -ENOMEM;
	b->artifacts = na;
	struct build_artifact *a = &b->artifacts[b->n_artifacts];
	*a = (struct build_artifact){ .path = strdup(medium_path), .source = strdup(source) };
	if (!a->path || !a->source) {
		free(a->path);
		free(a->source);
		return -ENOMEM;
	}
	b->n_artifacts++;
	int r = gb_sha256_file(source, a->sha256, &a->size);
	if (r < 0)
		return log_error_errno(r, "cannot hash %s: %m", source);
	return 0;
}

int build_helper_failed(const struct build *b, const char *what, int status, const char *log_path)
{
	_cleanup_free_ char *tail = NULL;

	if (interrupted())
		return -EINTR;
	if (status < 0)
		return log_error_errno(status, "cannot run %s: %m", what);
	if (status == 127)
		return log_error_errno(-ENOENT, "%s is not installed (run make deps)", what);
	tail = log_path ? gb_log_tail(log_path, 2048) : NULL;
	/* apt and mmdebstrap say what went wrong on "E:" lines; those beat a raw tail. */
	if (tail) {
		bool any = false;
		_cleanup_free_ char *copy = strdup(tail);
		for (char *save = NULL, *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
			if (!strncmp(l, "E: ", 3)) {
				if (!any)
					log_error("%s failed (exit status %d):", what, status);
				log_error("  %s", l);
				any = true;
			}
		if (any)
			return -EPROTO;
	}
	log_error("%s failed (exit status %d); the end of its output:\n%s", what, status,
		  tail && *tail ? tail : "(empty)");
	/* A helper killed by a full disk often cannot say so itself. */
	struct statvfs vfs;
	if (statvfs(b->workdir, &vfs) == 0 && (unsigned long long)vfs.f_bavail * vfs.f_frsize < (1ULL << 20))
		log_error("no space left on device: the filesystem of %s has %llu KiB free", b->workdir,
			  (unsigned long long)vfs.f_bavail * vfs.f_frsize / 1024);
	return -EPROTO;
}
