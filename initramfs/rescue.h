/* The rescue shell of gapbox-init, and reaping children as PID 1. */
#pragma once

#include <sys/types.h>

#define RESCUE_SHELL "/bin/sh"

/*
 * Runs RESCUE_SHELL on /dev/console as a new session with the console as its controlling
 * terminal, after printing why and, as the shell's prompt hint, what exiting does
 * ("exit the shell to retry the boot"). Waits for it, reaping every other child on the
 * way. Returns when the shell exits. If the shell cannot be started, it says so and
 * never returns: it sleeps reaping children, as PID 1 has nothing else left to do.
 */
void rescue_shell(const char *on_exit);

/* Reaps exited children without blocking; PID 1 inherits every orphan. */
void reap_zombies(void);
