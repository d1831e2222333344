/* Running helper programs: argv in, exit status and the tail of their output back. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct gb_spawn_opts {
	const char *log_path;   /* stdout+stderr appended here; NULL: inherit ours */
	bool stdin_pipe;        /* give the child a pipe on stdin (returned in stdin_fd) */
	const char *cwd;
	char *const *env_add;   /* extra "KEY=VALUE" entries, NULL-terminated */
	char *const *env_remove; /* names taken out of the child's environment, NULL-terminated */
};

struct gb_child {
	pid_t pid;
	int stdin_fd;           /* -1 unless stdin_pipe */
	const char *argv0;
	const char *log_path;
};

int gb_spawn(char *const argv[], const struct gb_spawn_opts *opts, struct gb_child *ret);
/* Wait for the child (retrying EINTR, so a killed child is still reaped). Returns 0 when it
 * exited 0, -ECHILD-style negative errno on wait failure, or a positive value: exit status,
 * or 128+signal when killed. Closes stdin_fd if still open. */
int gb_child_wait(struct gb_child *c);
/* Whether the child has ended, without waiting: 0 still running (or a signal came), 1 ended with
 * *ret_status as gb_child_wait returns it, negative errno on wait failure. */
int gb_child_poll(struct gb_child *c, int *ret_status);
/* Spawn and wait. */
int gb_run(char *const argv[], const struct gb_spawn_opts *opts);
/* Send sig to every child still running, and to everything it started (each child leads a
 * process group of its own); async-signal-safe. */
void gb_spawn_kill_all(int sig);
/* Last lines of a log file (at most max_bytes), for error messages; caller frees. */
char *gb_log_tail(const char *path, size_t max_bytes);
/* Render argv as one line for messages; caller frees. */
char *gb_argv_join(char *const argv[]);
