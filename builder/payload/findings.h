/* What a check of the payload found: errors, warnings and notes, each naming the file it is
 * about. A note says what gapbox read differently from what a file claims (a version overridden
 * at download time, an archive no list names) and never fails a check, strict or not. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macros.h"

enum finding_level { FINDING_ERROR, FINDING_WARNING, FINDING_NOTE };

struct finding {
	enum finding_level level;
	char *file; /* relative to the outputs folder, optionally ":LINE" */
	char *text;
};

struct findings {
	struct finding *v;
	size_t n, alloc;
	size_t errors, warnings, notes;
};

/* Returns 0 or -ENOMEM. */
int findings_add(struct findings *f, enum finding_level level, const char *file, const char *fmt, ...) _printf_(4, 5);
void findings_done(struct findings *f);
/* "error: FILE: TEXT" lines (warnings as errors under strict; notes as "note:"). */
void findings_print(FILE *out, const struct findings *f, bool strict);
/* Whether the check failed: any error, or any warning when strict. */
bool findings_failed(const struct findings *f, bool strict);
