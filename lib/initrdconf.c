/* initrd.conf: the key table, its writer and its reader side by side. */
#include "initrdconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "macros.h"
#include "persist.h"
#include "sbuf.h"
#include "strv.h"

enum key_type { KEY_STRING, KEY_TIMEOUT, KEY_PERSIST, KEY_VERIFY };

static const struct {
	const char *key;
	enum key_type type;
	size_t offset;
	size_t size; /* KEY_STRING: the field's size */
	unsigned set;
} keys[] = {
	{ "NAME", KEY_STRING, offsetof(struct initrd_conf, name), sizeof(((struct initrd_conf *)0)->name), INITRD_SET_NAME },
	{ "KVER", KEY_STRING, offsetof(struct initrd_conf, kver), sizeof(((struct initrd_conf *)0)->kver), INITRD_SET_KVER },
	{ "MEDIUM_UUID", KEY_STRING, offsetof(struct initrd_conf, medium_uuid),
	  sizeof(((struct initrd_conf *)0)->medium_uuid), INITRD_SET_MEDIUM_UUID },
	{ "MEDIUM_LABEL", KEY_STRING, offsetof(struct initrd_conf, medium_label),
	  sizeof(((struct initrd_conf *)0)->medium_label), INITRD_SET_MEDIUM_LABEL },
	{ "TIMEOUT", KEY_TIMEOUT, offsetof(struct initrd_conf, timeout_sec), 0, INITRD_SET_TIMEOUT },
	{ "BUILD_ID", KEY_STRING, offsetof(struct initrd_conf, build_id), sizeof(((struct initrd_conf *)0)->build_id),
	  INITRD_SET_BUILD_ID },
	{ "PERSIST", KEY_PERSIST, offsetof(struct initrd_conf, persist), sizeof(((struct initrd_conf *)0)->persist),
	  INITRD_SET_PERSIST },
	{ "VERIFY", KEY_VERIFY, offsetof(struct initrd_conf, verify), sizeof(((struct initrd_conf *)0)->verify),
	  INITRD_SET_VERIFY },
};

int gb_verify_parse(const char *s, enum gb_verify *ret)
{
	if (s && streq(s, "off"))
		*ret = GB_VERIFY_OFF;
	else if (s && streq(s, "full"))
		*ret = GB_VERIFY_FULL;
	else if (s && streq(s, "verity"))
		*ret = GB_VERIFY_VERITY;
	else
		return -EINVAL;
	return 0;
}

const char *gb_verify_name(enum gb_verify v)
{
	return v == GB_VERIFY_FULL ? "full" : v == GB_VERIFY_VERITY ? "verity" : "off";
}

void initrd_conf_defaults(struct initrd_conf *c)
{
	*c = (struct initrd_conf){ .timeout_sec = INITRD_DEFAULT_TIMEOUT };
	snprintf(c->medium_label, sizeof(c->medium_label), "%s", GB_MEDIUM_LABEL);
	snprintf(c->persist, sizeof(c->persist), "off");
	snprintf(c->verify, sizeof(c->verify), "off");
}

int initrd_conf_format(const struct initrd_conf *c, char **ret)
{
	struct sbuf b = SBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *field = (const char *)c + keys[i].offset;

		if (keys[i].type == KEY_TIMEOUT)
			sbuf_printf(&b, "%s=%u\n", keys[i].key, *(const unsigned *)(const void *)field);
		else if (strchr(field, '\n')) {
			sbuf_free(&b);
			return -EINVAL;
		} else
			sbuf_printf(&b, "%s=%s\n", keys[i].key, field);
	}
	return sbuf_finish(&b, ret, NULL);
}

int initrd_conf_parse_timeout(const char *s, unsigned *ret)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > INITRD_MAX_TIMEOUT)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

/* Copy VALUE into a fixed field; a value that does not fit is refused whole rather than cut,
 * since a truncated UUID or label would silently match nothing. */
static int assign(struct initrd_conf *c, size_t k, const char *value)
{
	char *field = (char *)c + keys[k].offset;
	size_t n = strlen(value);

	if (keys[k].type == KEY_TIMEOUT)
		return initrd_conf_parse_timeout(value, (unsigned *)(void *)field);
	if (keys[k].type == KEY_PERSIST) {
		struct gb_persist_spec spec;

		if (gb_persist_spec_parse(value, &spec) < 0)
			return -EINVAL;
	}
	if (keys[k].type == KEY_VERIFY) {
		enum gb_verify v;

		if (gb_verify_parse(value, &v) < 0)
			return -EINVAL;
	}
	if (n >= keys[k].size)
		return -ENAMETOOLONG;
	memcpy(field, value, n + 1);
	return 0;
}

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

_printf_(2, 3) static int problem(char ***problems, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? -ENOMEM : strv_consume(problems, s);
}

/* One line (NUL-terminated, newline removed): 0, or -ENOMEM. */
static int parse_line(struct initrd_conf *c, char *line, const char *where, unsigned lineno, char ***problems,
		      unsigned *set)
{
	char *s = strip(line), *eq, *key, *value;
	size_t n;

	if (!*s || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (!eq || eq == s)
		return problem(problems, "%s:%u: ignoring line without KEY=VALUE '%s'", where, lineno, s);
	*eq = '\0';
	key = strip(s);
	value = strip(eq + 1);
	/* Shell-style quoting, so the file may also be sourced by sh. */
	n = strlen(value);
	if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
		value[n - 1] = '\0';
		value++;
	}
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		if (!streq(keys[k].key, key))
			continue;
		if (assign(c, k, value) < 0)
			return problem(problems, "%s:%u: ignoring %s '%s'", where, lineno, key, value);
		*set |= keys[k].set;
		return 0;
	}
	return 0;
}

int initrd_conf_parse(struct initrd_conf *c, const char *text, const char *where, char ***ret_problems,
		      unsigned *ret_set)
{
	_cleanup_strv_free_ char **problems = NULL;
	unsigned lineno = 0, set = 0;
	int r;

	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		char line[INITRD_CONF_LINE_MAX];

		lineno++;
		if (len >= sizeof(line) - 1)
			r = problem(&problems, "%s:%u: ignoring overlong line '...'", where, lineno);
		else {
			memcpy(line, p, len);
			line[len] = '\0';
			r = parse_line(c, line, where, lineno, &problems, &set);
		}
		if (r < 0)
			return r;
		p += len;
		if (*p == '\n')
			p++;
	}
	if (ret_set)
		*ret_set = set;
	*ret_problems = TAKE_PTR(problems);
	return 0;
}
