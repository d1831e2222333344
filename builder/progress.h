/* Progress of the build's long steps (each mksquashfs run, the payload import): on a terminal a
 * bar redrawn in place with bytes, percentage and rate; otherwise (a log, CI) plain lines at each
 * quarter and at the end. GAPBOX_PROGRESS=bar|lines|off overrides what stderr being a terminal
 * decides. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct progress {
	char what[80];
	uint64_t total;   /* bytes expected; 0: unknown (the bar then shows bytes and rate only) */
	uint64_t done;
	double start, drawn; /* when it began and when the bar was last drawn */
	unsigned quarter; /* lines: the last quarter reported */
	int mode;         /* PROGRESS_BAR, PROGRESS_LINES or PROGRESS_OFF */
	bool active;      /* begun and not ended */
	FILE *out;        /* stderr */
};

/* Begin showing WHAT, TOTAL bytes expected (0: unknown). */
void progress_begin(struct progress *p, const char *what, uint64_t total);
/* N more bytes done. Does nothing on a progress never begun (NULL included). */
void progress_add(struct progress *p, uint64_t n);
/* The step is done: the bar at 100% and a newline, or the last line. Ends it once. */
void progress_end(struct progress *p);
/* The step failed: the bar's line is closed where it stands (a newline, so that the error
 * that follows starts a line of its own); lines and off print nothing. Ends it once. */
void progress_stop(struct progress *p);
