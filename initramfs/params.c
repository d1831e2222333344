/* gapbox-init's parameters: defaults, initrd.conf and gapbox.* kernel parameters, parsed without side effects. */
#include "params.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmdline.h"
#include "log.h"
#include "macros.h"

/* Longer initrd.conf lines are not something the builder writes. */
#define CONF_LINE_MAX 1024

void init_params_defaults(struct init_params *p)
{
	*p = (struct init_params){
		.medium_source = PARAM_DEFAULT,
		.timeout_sec = INIT_DEFAULT_TIMEOUT,
	};
	strcpy(p->medium_label, INIT_DEFAULT_LABEL);
}

/* Copies value into a fixed field; a value that does not fit is refused whole rather
 * than cut, since a truncated UUID or label would silently match nothing. */
static int set_field(char *field, size_t size, const char *value)
{
	size_t n = strlen(value);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(field, value, n + 1);
	return 0;
}
#define SET_FIELD(field, value) set_field((field), sizeof(field), (value))

static int parse_timeout(const char *s, unsigned *ret)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > INIT_MAX_TIMEOUT)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

/* A flag given bare ("gapbox.shell") means yes; explicit values are accepted too. */
static int parse_flag(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "y", "true", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "off" };

	if (!s) {
		*ret = true;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	return -EINVAL;
}

/* UUID=..., LABEL=... or /path; the result replaces the whole medium spec. */
static int parse_medium(struct init_params *p, const char *s)
{
	struct init_params n = *p;

	if (!s)
		return -EINVAL;
	n.medium_uuid[0] = n.medium_label[0] = n.medium_path[0] = '\0';
	if (strncasecmp(s, "UUID=", 5) == 0 && s[5]) {
		if (SET_FIELD(n.medium_uuid, s + 5) < 0)
			return -ENAMETOOLONG;
	} else if (strncasecmp(s, "LABEL=", 6) == 0 && s[6]) {
		if (SET_FIELD(n.medium_label, s + 6) < 0)
			return -ENAMETOOLONG;
	} else if (s[0] == '/') {
		if (SET_FIELD(n.medium_path, s) < 0)
			return -ENAMETOOLONG;
	} else
		return -EINVAL;

	memcpy(p->medium_uuid, n.medium_uuid, sizeof(p->medium_uuid));
	memcpy(p->medium_label, n.medium_label, sizeof(p->medium_label));
	memcpy(p->medium_path, n.medium_path, sizeof(p->medium_path));
	p->medium_source = PARAM_CMDLINE;
	return 0;
}

static int on_cmdline_word(const char *key, const char *value, void *userdata)
{
	struct init_params *p = userdata;
	const char *expect = NULL;
	bool *flag = NULL;
	int r;

	if (strncmp(key, "gapbox.", 7) != 0)
		return 0;

	if (streq(key, "gapbox.medium")) {
		r = parse_medium(p, value);
		expect = "UUID=..., LABEL=... or a /dev path";
	} else if (streq(key, "gapbox.timeout")) {
		r = parse_timeout(value, &p->timeout_sec);
		expect = "whole seconds, at most 86400";
	} else {
		if (streq(key, "gapbox.shell"))
			flag = &p->shell;
		else if (streq(key, "gapbox.debug"))
			flag = &p->debug;
		else if (streq(key, "gapbox.toram"))
			flag = &p->toram;
		else if (streq(key, "gapbox.break"))
			flag = &p->brk;
		else {
			/* Parameters of later stages (gapbox-firstboot) share the prefix. */
			log_debug("ignoring kernel parameter %s", key);
			return 0;
		}
		r = parse_flag(value, flag);
		expect = "no value, or 1/0, yes/no, on/off";
	}

	if (r < 0) {
		p->n_invalid++;
		log_warning("ignoring %s=%s: expected %s", key, value ? value : "(no value)", expect);
	}
	return 0;
}

int init_params_parse_cmdline(struct init_params *p, const char *line)
{
	return cmdline_parse(line, on_cmdline_word, p);
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

static void conf_invalid(struct init_params *p, const char *where, unsigned line, const char *what, const char *value)
{
	p->n_invalid++;
	log_warning("%s:%u: ignoring %s '%s'", where, line, what, value);
}

static void conf_assign(struct init_params *p, const char *where, unsigned line, const char *key, const char *value)
{
	int r = 0;

	if (streq(key, "KVER"))
		r = SET_FIELD(p->kver, value);
	else if (streq(key, "NAME"))
		r = SET_FIELD(p->name, value);
	else if (streq(key, "MEDIUM_UUID")) {
		r = SET_FIELD(p->medium_uuid, value);
		if (r >= 0)
			p->medium_source = PARAM_CONF;
	} else if (streq(key, "MEDIUM_LABEL")) {
		r = SET_FIELD(p->medium_label, value);
		if (r >= 0)
			p->medium_source = PARAM_CONF;
	} else if (streq(key, "TIMEOUT")) {
		unsigned t;

		r = parse_timeout(value, &t);
		if (r >= 0)
			p->timeout_sec = t;
	} else
		log_debug("%s:%u: ignoring unknown key %s", where, line, key);

	if (r < 0)
		conf_invalid(p, where, line, key, value);
}

void init_params_parse_conf(struct init_params *p, FILE *f, const char *where)
{
	char buf[CONF_LINE_MAX];
	unsigned line = 0;
	bool skipping = false;

	while (fgets(buf, sizeof(buf), f)) {
		size_t n = strlen(buf);
		bool complete = n > 0 && buf[n - 1] == '\n';
		char *s, *eq, *value;

		/* The tail of an overlong line is not a line of its own. */
		if (skipping) {
			skipping = !complete;
			continue;
		}
		line++;
		if (!complete && !feof(f)) {
			skipping = true;
			conf_invalid(p, where, line, "overlong line", "...");
			continue;
		}

		s = strip(buf);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq || eq == s) {
			conf_invalid(p, where, line, "line without KEY=VALUE", s);
			continue;
		}
		*eq = '\0';
		value = strip(eq + 1);
		/* Tolerate shell-style quoting, so the file may also be sourced by sh. */
		n = strlen(value);
		if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
			value[n - 1] = '\0';
			value++;
		}
		conf_assign(p, where, line, strip(s), value);
	}

	/* Something must name the medium; an emptied spec means the default label. */
	if (!p->medium_uuid[0] && !p->medium_label[0] && !p->medium_path[0])
		strcpy(p->medium_label, INIT_DEFAULT_LABEL);
}

int init_params_load_conf(struct init_params *p, const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f)
		return errno == ENOENT ? 0 : negative_errno();
	init_params_parse_conf(p, f, path);
	if (ferror(f))
		return -EIO;
	return 0;
}

const char *init_params_medium_describe(const struct init_params *p, char *buf, size_t size)
{
	if (p->medium_path[0])
		snprintf(buf, size, "%s", p->medium_path);
	else if (p->medium_uuid[0] && p->medium_label[0] && p->medium_source != PARAM_CMDLINE)
		snprintf(buf, size, "UUID=%s (or LABEL=%s)", p->medium_uuid, p->medium_label);
	else if (p->medium_uuid[0])
		snprintf(buf, size, "UUID=%s", p->medium_uuid);
	else
		snprintf(buf, size, "LABEL=%s", p->medium_label);
	return buf;
}
