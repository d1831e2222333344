/* Kernel command-line tokenizer, shared by gapbox-init and the first-boot service. */
#include "cmdline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "macros.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int cmdline_parse(const char *line, cmdline_cb_t cb, void *userdata)
{
	_cleanup_free_ char *word = NULL;
	size_t len;

	if (!line)
		return 0;
	len = strnlen(line, CMDLINE_MAX + 1);
	if (len > CMDLINE_MAX)
		return -E2BIG;

	/* A word is never longer than the line, so one buffer serves every word. */
	word = malloc(len + 1);
	if (!word)
		return -ENOMEM;

	for (const char *p = line;;) {
		char *value = NULL;
		bool quoted = false;
		size_t n = 0;
		int r;

		while (is_blank(*p))
			p++;
		if (!*p)
			return 0;

		/* Like the kernel's next_arg(): quotes toggle anywhere and an unterminated
		 * quote runs to the end; the first '=' splits, quoted or not. */
		for (; *p && (quoted || !is_blank(*p)); p++) {
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (*p == '=' && !value) {
				word[n++] = '\0';
				value = word + n;
				continue;
			}
			word[n++] = *p;
		}
		word[n] = '\0';

		if (!word[0])
			continue;
		r = cb(word, value, userdata);
		if (r < 0)
			return r;
	}
}

int cmdline_read(const char *path, char **ret_line)
{
	int r = read_file(path ? path : "/proc/cmdline", CMDLINE_MAX, ret_line, NULL);

	return r == -EFBIG ? -E2BIG : r;
}
