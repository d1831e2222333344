/* gapbox-init as systemd's shutdown helper: unmounting the old root and the data partition. */
#pragma once

#include <stdbool.h>

/* Whether this program was started as the shutdown helper (its name is "shutdown"). */
bool shutdown_is_invoked(const char *argv0);
/* Unmounts everything below /oldroot and reboots, powers off or halts per argv[1]; never returns. */
_Noreturn int shutdown_main(int argc, char **argv);
