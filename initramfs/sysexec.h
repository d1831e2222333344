/* Running a program of the mounted system image from the initramfs, through the image's own
 * dynamic loader and libraries, so that the initramfs carries no copy of them. */
#pragma once

/* Runs PROGRAM (a path inside the system image mounted at SYSROOT, such as "/sbin/mke2fs") with
 * ARGS (args[0] is its name) and the extra environment ENV_ADD ("KEY=VALUE", NULL-terminated;
 * paths in it are the caller's business), output appended to LOG_PATH. Returns 0 when it exited
 * 0, a positive exit status (128+signal when killed), or a negative errno when it could not be
 * started (-ENOENT: the image has no such program, -ENOEXEC: not a dynamic ELF program). */
int sysexec_run(const char *sysroot, const char *program, char *const args[], char *const env_add[],
		const char *log_path);
