/* What gapbox-fetch's exit status means, for gapbox-init, which runs it for a netboot. */
#pragma once

enum fetch_exit {
	FETCH_OK = 0,
	FETCH_LOCAL = 1,        /* usage, or the file could not be written here */
	FETCH_MISMATCH = 2,     /* the server sent something other than the manifest's size or sha256 */
	FETCH_UNREACHABLE = 3,  /* the server did not answer, or stopped, for the whole retry window */
	FETCH_HTTP = 4,         /* the server answered with an error that retrying does not mend (404, 403) */
	FETCH_TOO_BIG = 5,      /* more bytes than --max (a manifest) or --size allow */
};
