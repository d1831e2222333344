/* SHA256SUMS lines in GNU sha256sum's own format, escapes included. */
#include "sumsfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool sums_name_needs_escape(const char *name)
{
	return name[strcspn(name, "\\\n\r")] != '\0';
}

int sums_line_write(FILE *f, const char *hex, const char *name)
{
	bool escape = sums_name_needs_escape(name);

	if (fprintf(f, "%s%s  ", escape ? "\\" : "", hex) < 0)
		return -EIO;
	for (const char *p = name; *p; p++) {
		const char *s = !escape ? NULL : *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : NULL;
		if (s ? fputs(s, f) < 0 : putc(*p, f) == EOF)
			return -EIO;
	}
	return putc('\n', f) == EOF ? -EIO : 0;
}

int sums_line_parse(const char *line, char hex[SHA256_HEX_LEN + 1], char **ret_name)
{
	bool escaped = line[0] == '\\';
	const char *p = line + escaped;
	char *name, *o;

	for (size_t i = 0; i < SHA256_HEX_LEN; i++)
		if (!p[i] || !strchr("0123456789abcdefABCDEF", p[i]))
			return -EINVAL;
	/* "  " for text mode, " *" for binary mode. */
	if (p[SHA256_HEX_LEN] != ' ' || (p[SHA256_HEX_LEN + 1] != ' ' && p[SHA256_HEX_LEN + 1] != '*') ||
	    !p[SHA256_HEX_LEN + 2])
		return -EINVAL;
	memcpy(hex, p, SHA256_HEX_LEN);
	hex[SHA256_HEX_LEN] = '\0';
	p += SHA256_HEX_LEN + 2;
	if (!(name = o = malloc(strlen(p) + 1)))
		return -ENOMEM;
	for (; *p; p++) {
		if (!escaped || *p != '\\') {
			*o++ = *p;
			continue;
		}
		p++;
		if (*p == '\\' || *p == 'n' || *p == 'r')
			*o++ = *p == 'n' ? '\n' : *p == 'r' ? '\r' : '\\';
		else {
			free(name);
			return -EINVAL;
		}
	}
	*o = '\0';
	*ret_name = name;
	return 0;
}
