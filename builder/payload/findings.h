/* What a check of the payload found: errors and warnings, each naming the file it is about. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macros.h"

enum finding_level { FINDING_ERROR, FINDING_WARNING };

struct finding {
	enum finding_level level;
	char *file; /* relative to the outputs folder, optionally ":LINE" */
	char *text;
};

struct findings {
	struct finding *v;
	size_t n, alloc;
	size_t errors, warnings;
};

/* Returns 0 or -ENOMEM. */
int findings_add(struct findings *f, enum finding_level level, const char *file, const char *fmt, ...) _printf_(4, 5);
void findings_done(struct findings *f);
/* "error: FILE: TEXT" lines (warnings as errors under strict) and a summary line. */
void findings_print(FILE *out, const struct findings *f, bool strict);
/* Whether the check failed: any error, or any warning when strict. */
bool findings_failed(const struct findings *f, bool strict);
