/* SHA256SUMS lines, written and read the way GNU sha256sum does: "HEX  NAME", and when NAME
 * holds a backslash, a newline or a carriage return, a line that starts with a backslash and
 * spells them \\, \n and \r. The builder writes the payload's SHA256SUMS with this; every
 * reader (sha256sum -c, the tests) must undo it. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "sha256.h"

/* Whether NAME needs the escaped form. */
bool sums_name_needs_escape(const char *name);
/* Write one line for the file NAME whose sha256 is HEX to F. 0 or -EIO. */
int sums_line_write(FILE *f, const char *hex, const char *name);
/* Read one LINE (without its newline) into HEX and a new NAME (caller frees), undoing the
 * escapes. -EINVAL when it is no sha256sum line (or an escaped one holds an unknown escape),
 * -ENOMEM. */
int sums_line_parse(const char *line, char hex[SHA256_HEX_LEN + 1], char **ret_name);
