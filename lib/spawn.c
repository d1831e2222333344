/* Spawning helper programs with their output captured to a log file. */
#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "macros.h"

/* Children still running, for gb_spawn_kill_all() from a signal handler. */
static volatile pid_t running[16];

static void running_add(pid_t pid)
{
	for (size_t i = 0; i < ARRAY_SIZE(running); i++)
		if (running[i] == 0) {
			running[i] = pid;
			return;
		}
}

static void running_remove(pid_t pid)
{
	for (size_t i = 0; i < ARRAY_SIZE(running); i++)
		if (running[i] == pid)
			running[i] = 0;
}

void gb_spawn_kill_all(int sig)
{
	for (size_t i = 0; i < ARRAY_SIZE(running); i++)
		if (running[i] > 0)
			kill(-running[i], sig);
}

int gb_spawn(char *const argv[], const struct gb_spawn_opts *opts, struct gb_child *ret)
{
	static const struct gb_spawn_opts none;
	int in[2] = { -1, -1 }, logfd = -1;
	pid_t pid;

	if (!opts)
		opts = &none;
	if (opts->log_path) {
		logfd = open(opts->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (logfd < 0)
			return -errno;
	}
	if (opts->stdin_pipe && pipe2(in, O_CLOEXEC) < 0) {
		int r = -errno;
		if (logfd >= 0)
			close(logfd);
		return r;
	}

	pid = fork();
	if (pid < 0) {
		int r = -errno;
		if (logfd >= 0)
			close(logfd);
		if (in[0] >= 0) {
			close(in[0]);
			close(in[1]);
		}
		return r;
	}
	if (pid == 0) {
		/* A process group of its own, which gb_spawn_kill_all() signals whole: mmdebstrap
		 * ignores signals while apt runs and relies on them reaching apt and dpkg too, as a
		 * terminal's Ctrl-C would. */
		setpgid(0, 0);
		int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
		signal(SIGPIPE, SIG_DFL);
		/* No terminal input reaches helpers: the builder must work with no stdin at all. */
		dup2(in[0] >= 0 ? in[0] : nullfd, 0);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		if (opts->cwd && chdir(opts->cwd) < 0)
			_exit(127);
		for (char *const *e = opts->env_remove; e && *e; e++)
			unsetenv(*e);
		for (char *const *e = opts->env_add; e && *e; e++)
			putenv(*e);
		execvp(argv[0], argv);
		dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (logfd >= 0)
		close(logfd);
	if (in[0] >= 0)
		close(in[0]);
	setpgid(pid, pid); /* also here, so it holds before anyone signals the group */
	running_add(pid);
	*ret = (struct gb_child){ .pid = pid, .stdin_fd = in[1], .argv0 = argv[0], .log_path = opts->log_path };
	return 0;
}

/* A reaped child's status as gb_child_wait returns it. */
static int child_reaped(struct gb_child *c, int status)
{
	running_remove(c->pid);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

int gb_child_wait(struct gb_child *c)
{
	int status;

	if (c->stdin_fd >= 0) {
		close(c->stdin_fd);
		c->stdin_fd = -1;
	}
	for (;;) {
		if (waitpid(c->pid, &status, 0) >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	return child_reaped(c, status);
}

int gb_child_poll(struct gb_child *c, int *ret_status)
{
	int status;
	pid_t r = waitpid(c->pid, &status, WNOHANG);

	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return 0;
	*ret_status = child_reaped(c, status);
	return 1;
}

int gb_run(char *const argv[], const struct gb_spawn_opts *opts)
{
	struct gb_child c;
	int r = gb_spawn(argv, opts, &c);
	if (r < 0)
		return r;
	return gb_child_wait(&c);
}

char *gb_log_tail(const char *path, size_t max_bytes)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	off_t start = st.st_size > (off_t)max_bytes ? st.st_size - (off_t)max_bytes : 0;
	buf = calloc(1, max_bytes + 1);
	if (!buf)
		return NULL;
	ssize_t n = pread(fd, buf, max_bytes, start);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	/* Start at a line boundary when we cut into the middle of one. */
	if (start > 0) {
		char *nl = strchr(buf, '\n');
		if (nl)
			memmove(buf, nl + 1, strlen(nl + 1) + 1);
	}
	return buf;
}

char *gb_argv_join(char *const argv[])
{
	size_t len = 1;
	for (char *const *a = argv; *a; a++)
		len += strlen(*a) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	for (char *const *a = argv; *a; a++) {
		if (a != argv)
			*p++ = ' ';
		p = stpcpy(p, *a);
	}
	*p = '\0';
	return s;
}
