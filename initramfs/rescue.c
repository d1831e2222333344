/* The rescue shell (busybox sh on the console) and PID 1's reaping of children. */
#include "rescue.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macros.h"

void reap_zombies(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static _noreturn_ void reap_forever(void)
{
	for (;;) {
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			pause(); /* no handlers are installed, so this is "sleep forever" */
	}
}

/* In the child: console as stdin/out/err and controlling terminal, then exec. Reports a
 * failure as an errno on err_fd, which exec closes on success. */
static _noreturn_ void run_shell(int err_fd)
{
	static char *const argv[] = { (char *)RESCUE_SHELL, NULL };
	int fd, e;

	/* PID 1 changed no signal dispositions, but be explicit for the shell. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);

	if (setsid() < 0)
		goto fail;
	fd = open("/dev/console", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	/* Without a controlling terminal the shell has no job control and Ctrl-C. */
	(void)ioctl(fd, TIOCSCTTY, 1);
	for (int i = 0; i < 3; i++)
		if (dup2(fd, i) < 0)
			goto fail;
	if (fd > 2)
		close(fd);
	else
		(void)fcntl(fd, F_SETFD, 0); /* dup2 onto itself keeps O_CLOEXEC */

	setenv("PS1", "(gapbox rescue) # ", 1);
	if (!getenv("PATH"))
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	execv(RESCUE_SHELL, argv);
fail:
	e = errno;
	(void)!write(err_fd, &e, sizeof(e));
	_exit(127);
}

void rescue_shell(const char *on_exit)
{
	int pipefd[2], e = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_error_errno(negative_errno(), "cannot start a rescue shell: %m");
		reap_forever();
	}

	log_notice("starting a rescue shell (%s); %s", RESCUE_SHELL, on_exit);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error_errno(negative_errno(), "cannot start a rescue shell: %m");
		reap_forever();
	}
	if (pid == 0) {
		close(pipefd[0]);
		run_shell(pipefd[1]);
	}
	close(pipefd[1]);
	/* Empty read: exec succeeded and closed the pipe. */
	while (read(pipefd[0], &e, sizeof(e)) < 0 && errno == EINTR)
		;
	close(pipefd[0]);

	for (;;) {
		pid_t p = waitpid(-1, NULL, 0);

		if (p == pid)
			break;
		if (p < 0 && errno != EINTR)
			break;
	}
	reap_zombies();

	if (e) {
		log_error_errno(-e, "cannot run the rescue shell %s: %m; nothing more can be done, "
				    "reboot the machine", RESCUE_SHELL);
		reap_forever();
	}
	log_notice("rescue shell exited");
}
