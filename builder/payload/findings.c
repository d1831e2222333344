/* Collected findings of the payload checks. */
#include "findings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int findings_add(struct findings *f, enum finding_level level, const char *file, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (gb_grow(&f->v, &f->alloc, f->n + 1, sizeof(*f->v)) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	f->v[f->n] = (struct finding){ .level = level, .file = strdup(file ? file : ""), .text = text };
	if (!f->v[f->n].file) {
		free(text);
		return -ENOMEM;
	}
	f->n++;
	if (level == FINDING_ERROR)
		f->errors++;
	else if (level == FINDING_WARNING)
		f->warnings++;
	else
		f->notes++;
	return 0;
}

static void finding_done(struct finding *x)
{
	free(x->file);
	free(x->text);
}

void findings_done(struct findings *f)
{
	FREE_ARRAY(f->v, f->n, finding_done);
	*f = (struct findings){ 0 };
}

void findings_print(FILE *out, const struct findings *f, bool strict)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct finding *x = &f->v[i];
		const char *level = x->level == FINDING_ERROR	? "error"
				    : x->level == FINDING_NOTE	? "note"
				    : strict			? "error (strict)"
								: "warning";
		if (x->file[0])
			fprintf(out, "%s: %s: %s\n", level, x->file, x->text);
		else
			fprintf(out, "%s: %s\n", level, x->text);
	}
}

bool findings_failed(const struct findings *f, bool strict)
{
	return f->errors > 0 || (strict && f->warnings > 0);
}
