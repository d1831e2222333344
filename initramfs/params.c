/* gapbox-init's parameters: defaults, initrd.conf and gapbox.* kernel parameters, parsed without side effects. */
#include "params.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmdline.h"
#include "fsutil.h"
#include "log.h"
#include "macros.h"
#include "strv.h"

/* initrd.conf is a few lines; a larger file is not one the builder wrote. */
#define CONF_FILE_MAX (64 * 1024)

void init_params_defaults(struct init_params *p)
{
	struct initrd_conf c;

	initrd_conf_defaults(&c);
	*p = (struct init_params){
		.medium_source = PARAM_DEFAULT,
		.timeout_sec = c.timeout_sec,
	};
	memcpy(p->medium_label, c.medium_label, sizeof(p->medium_label));
	(void)gb_persist_spec_parse(c.persist, &p->persist);
	(void)gb_verify_parse(c.verify, &p->verify);
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

/* gapbox.toram: auto, or a flag (bare or yes/no, 1/0, on/off as before auto). */
static int parse_toram(const char *s, enum init_toram *ret)
{
	bool yes;

	if (s && strcasecmp(s, "auto") == 0) {
		*ret = TORAM_AUTO;
		return 0;
	}
	if (parse_flag(s, &yes) < 0)
		return -EINVAL;
	*ret = yes ? TORAM_YES : TORAM_NO;
	return 0;
}

const char *init_toram_name(enum init_toram t)
{
	return t == TORAM_AUTO ? "auto" : t == TORAM_YES ? "yes" : "no";
}

static int on_cmdline_word(const char *key, const char *value, void *userdata)
{
	struct init_params *p = userdata;
	const char *expect = NULL;
	bool *flag = NULL;
	int r;

	/* The boot loader's words for the network (pxelinux IPAPPEND, iPXE, GRUB). */
	if (streq(key, "ip")) {
		r = net_ipconf_parse(value, &p->ip);
		expect = "dhcp, or client:server:gateway:netmask:hostname:device:autoconf";
	} else if (streq(key, "BOOTIF")) {
		r = net_bootif_parse(value, p->bootif);
		if (r >= 0)
			p->have_bootif = true;
		expect = "01-aa-bb-cc-dd-ee-ff or aa:bb:cc:dd:ee:ff";
	} else if (strncmp(key, "gapbox.", 7) != 0)
		return 0;
	else if (streq(key, "gapbox.fetch")) {
		r = net_fetch_url_check(value);
		if (r >= 0)
			r = SET_FIELD(p->fetch_url, value);
		expect = "an http:// URL of a netboot folder (the initramfs has no CA store for https)";
	} else if (streq(key, "gapbox.toram")) {
		r = parse_toram(value, &p->toram);
		expect = "no value (yes), yes, no or auto";
	} else if (streq(key, "gapbox.verify")) {
		r = gb_verify_parse(value, &p->verify);
		expect = GB_VERIFY_EXPECTED;
	} else if (streq(key, "gapbox.medium")) {
		r = parse_medium(p, value);
		expect = "UUID=..., LABEL=... or a /dev path";
	} else if (streq(key, "gapbox.persist")) {
		r = gb_persist_spec_parse(value, &p->persist);
		expect = GB_PERSIST_SPEC_EXPECTED;
	} else if (streq(key, "gapbox.timeout")) {
		r = initrd_conf_parse_timeout(value, &p->timeout_sec);
		expect = "whole seconds, at most 86400";
	} else {
		if (streq(key, "gapbox.shell"))
			flag = &p->shell;
		else if (streq(key, "gapbox.debug"))
			flag = &p->debug;
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

/* The fields initrd.conf and the parameters share. */
static void conf_from_params(const struct init_params *p, struct initrd_conf *c)
{
	initrd_conf_defaults(c);
	memcpy(c->name, p->name, sizeof(c->name));
	memcpy(c->kver, p->kver, sizeof(c->kver));
	memcpy(c->medium_uuid, p->medium_uuid, sizeof(c->medium_uuid));
	memcpy(c->medium_label, p->medium_label, sizeof(c->medium_label));
	c->timeout_sec = p->timeout_sec;
	memcpy(c->build_id, p->build_id, sizeof(c->build_id));
	gb_persist_spec_format(&p->persist, c->persist, sizeof(c->persist));
	snprintf(c->verify, sizeof(c->verify), "%s", gb_verify_name(p->verify));
}

void init_params_parse_conf(struct init_params *p, const char *text, const char *where)
{
	_cleanup_strv_free_ char **problems = NULL;
	struct initrd_conf c;
	unsigned set = 0;
	int r;

	conf_from_params(p, &c);
	r = initrd_conf_parse(&c, text, where, &problems, &set);
	if (r < 0) {
		log_warning_errno(r, "cannot parse %s: %m", where);
		return;
	}
	for (char **m = problems; m && *m; m++) {
		p->n_invalid++;
		log_warning("%s", *m);
	}
	memcpy(p->name, c.name, sizeof(p->name));
	memcpy(p->kver, c.kver, sizeof(p->kver));
	memcpy(p->medium_uuid, c.medium_uuid, sizeof(p->medium_uuid));
	memcpy(p->medium_label, c.medium_label, sizeof(p->medium_label));
	p->timeout_sec = c.timeout_sec;
	memcpy(p->build_id, c.build_id, sizeof(p->build_id));
	(void)gb_persist_spec_parse(c.persist, &p->persist);
	(void)gb_verify_parse(c.verify, &p->verify);
	if (set & (INITRD_SET_MEDIUM_UUID | INITRD_SET_MEDIUM_LABEL))
		p->medium_source = PARAM_CONF;

	/* Something must name the medium; an emptied spec means the default label. */
	if (!p->medium_uuid[0] && !p->medium_label[0] && !p->medium_path[0])
		snprintf(p->medium_label, sizeof(p->medium_label), "%s", GB_MEDIUM_LABEL);
}

int init_params_load_conf(struct init_params *p, const char *path)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path, CONF_FILE_MAX, &text, NULL);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	init_params_parse_conf(p, text, path);
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
