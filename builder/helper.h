/* The helper programs a build runs (mmdebstrap, mksquashfs, grub-mkimage, mtools, xorriso):
 * reporting one that failed, and stopping them all when the user interrupts the build. */
#pragma once

#include <stdbool.h>

/* SIGINT, SIGTERM and SIGHUP set a flag and stop the running helpers, so a stage unwinds and the
 * build removes its temporaries. */
void interrupt_setup(void);
bool interrupted(void);

/* Report the helper WHAT that ended with STATUS (gb_run()'s: negative errno, or an exit
 * status): its "E:" lines (apt, mmdebstrap) or the end of LOG_PATH (may be NULL), and a full
 * disk under OUT_DIR (may be NULL), which a helper killed by it often cannot say itself.
 * Returns the negative errno to fail with: -EINTR when interrupted, -ENOENT when the program
 * is missing, else -EPROTO. */
int helper_failed(const char *what, int status, const char *log_path, const char *out_dir);
