/* The first things PID 1 does: a console on fds 0-2 and the API filesystems. */
#pragma once

/* Opens /dev/console on whichever of fds 0, 1, 2 are closed (the kernel leaves them
 * closed when the initramfs has no /dev/console). Returns 0 or a negative errno. */
int early_console(void);

/* Mounts /proc, /sys, devtmpfs on /dev and a tmpfs on /run (creating the dirs);
 * one already mounted is fine. Logs each failure and returns the first. */
int early_mount_api_filesystems(void);
