/* config.sh as data: each line is an assignment whose value is literal, or something skipped
 * (with a debug line saying why). The grammar is the small part of sh that kubespray-offline's
 * config.sh uses for its settings: words made of unquoted, '…' and "…" parts, backslash escapes,
 * and ${NAME:-default} / ${NAME-default}. */
#include "configsh.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macros.h"
#include "sbuf.h"
#include "strv.h"

/* A value longer than this is not a setting. */
#define VALUE_MAX 4096

static bool is_name_start(char c) { return c == '_' || isalpha((unsigned char)c); }
static bool is_name_char(char c) { return c == '_' || isalnum((unsigned char)c); }
static bool ends_word(char c) { return !c || c == '\n' || c == ' ' || c == '\t' || c == ';'; }

/* Length of the NAME at P (0 when there is none). */
static size_t name_length(const char *p)
{
	size_t n = 0;
	if (!is_name_start(*p))
		return 0;
	while (is_name_char(p[n]))
		n++;
	return n;
}

static const char *parse_word(const char *p, struct sbuf *out, const char *stop, bool *overridable, const char **why);

/* ${NAME:-word} or ${NAME-word} at P: the word is the value when NAME is unset, which is what
 * kubespray-offline's scripts see unless the environment sets it. */
static const char *parse_expansion(const char *p, struct sbuf *out, bool *overridable, const char **why)
{
	size_t n = name_length(p + 2);
	const char *q = p + 2 + n;

	if (n == 0 || (strncmp(q, ":-", 2) != 0 && *q != '-')) {
		*why = "a parameter expansion other than ${NAME:-default}";
		return NULL;
	}
	q += *q == ':' ? 2 : 1;
	q = parse_word(q, out, "}", overridable, why);
	if (!q)
		return NULL;
	if (*q != '}') {
		*why = "an unterminated ${...}";
		return NULL;
	}
	*overridable = true;
	return q + 1;
}

/* One shell word at P up to white space, ';', a newline or a character of STOP (outside
 * quotes): its literal text into OUT. NULL with *why when it is not literal. */
static const char *parse_word(const char *p, struct sbuf *out, const char *stop, bool *overridable, const char **why)
{
	while (!ends_word(*p) && !strchr(stop, *p)) {
		if (out->len > VALUE_MAX) {
			*why = "a value longer than a setting";
			return NULL;
		}
		if (*p == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				*why = "an unterminated '...'";
				return NULL;
			}
			sbuf_printf(out, "%.*s", (int)(end - p - 1), p + 1);
			p = end + 1;
		} else if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (!*p) {
					*why = "an unterminated \"...\"";
					return NULL;
				}
				if (*p == '`' || (*p == '$' && p[1] != '{')) {
					*why = "a command substitution or variable";
					return NULL;
				}
				if (*p == '$') {
					p = parse_expansion(p, out, overridable, why);
					if (!p)
						return NULL;
					p--;
				} else if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					sbuf_putn(out, ++p, 1);
				else
					sbuf_putn(out, p, 1);
			}
			p++;
		} else if (*p == '$' && p[1] == '{') {
			p = parse_expansion(p, out, overridable, why);
			if (!p)
				return NULL;
		} else if (*p == '$' || *p == '`' || *p == '(' || *p == ')' || *p == '|' || *p == '&' || *p == '<' ||
			   *p == '>') {
			*why = "a command substitution, variable or redirection";
			return NULL;
		} else if (*p == '\\' && p[1] && p[1] != '\n') {
			sbuf_putn(out, p + 1, 1);
			p += 2;
		} else if (*p == '#' && out->len == 0) {
			break;
		} else
			sbuf_putn(out, p++, 1);
	}
	return p;
}

/* How the shell keywords of LINE change the nesting of conditionals and loops. */
static int keyword_depth(const char *line)
{
	static const char *const open[] = { "if", "case", "for", "while", "until", NULL };
	static const char *const close[] = { "fi", "esac", "done", NULL };
	int d = 0;

	for (const char *p = line; *p && *p != '#';) {
		size_t n = strcspn(p, " \t;&|()#\n");
		for (const char *const *k = open; *k; k++)
			d += n == strlen(*k) && !strncmp(p, *k, n);
		for (const char *const *k = close; *k; k++)
			d -= n == strlen(*k) && !strncmp(p, *k, n);
		p += n;
		p += strspn(p, " \t;&|()\n");
	}
	return d;
}

static int count_char(const char *line, char c)
{
	int n = 0;
	for (const char *p = line; *p && *p != '#'; p++)
		n += *p == c && !(c == '{' && p > line && p[-1] == '$');
	return n;
}

/* NAME() or "function NAME": the start of a function definition. */
static bool starts_function(const char *line)
{
	size_t n;

	if (!strncmp(line, "function ", 9))
		return true;
	n = name_length(line);
	if (!n)
		return false;
	line += n;
	line += strspn(line, " \t");
	return line[0] == '(' && line[1] == ')';
}

static int set_var(struct config_sh *c, const char *name, size_t n, const char *value, unsigned line, bool overridable)
{
	struct config_sh_var *v = NULL;

	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->vars[i].name) == n && !strncmp(c->vars[i].name, name, n))
			v = &c->vars[i];
	if (!v) {
		struct config_sh_var *grown = realloc(c->vars, (c->n + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->vars = grown;
		v = &c->vars[c->n];
		*v = (struct config_sh_var){ .name = strndup(name, n) };
		if (!v->name)
			return -ENOMEM;
		c->n++;
	}
	free(v->value);
	v->value = strdup(value);
	v->line = line;
	v->overridable = overridable;
	return v->value ? 0 : -ENOMEM;
}

/* One line outside functions and conditionals: an assignment is kept, anything else skipped. */
static int parse_line(struct config_sh *c, const char *l, const char *where, unsigned lineno)
{
	_cleanup_(sbuf_free) struct sbuf value = SBUF_INIT_MAX(VALUE_MAX + 16);
	_cleanup_free_ char *text = NULL;
	const char *why = NULL, *p;
	bool overridable = false;
	size_t n;

	if (!strncmp(l, "export ", 7))
		l += 7 + strspn(l + 7, " \t");
	n = name_length(l);
	if (!n || l[n] != '=') {
		log_debug("%s:%u: not an assignment: skipped", where, lineno);
		return 0;
	}
	p = parse_word(l + n + 1, &value, "", &overridable, &why);
	if (p) {
		p += strspn(p, " \t");
		if (*p && *p != '\n' && *p != '#' && *p != ';')
			why = "more than one word (a command run with this variable set)";
	}
	if (!p || why) {
		log_debug("%s:%u: %.*s: %s: skipped", where, lineno, (int)n, l, why ? why : "not literal");
		return 0;
	}
	if (sbuf_finish(&value, &text, NULL) < 0)
		return -ENOMEM;
	return set_var(c, l, n, text, lineno, overridable);
}

int config_sh_parse(const char *text, const char *where, struct config_sh *ret)
{
	struct config_sh c = { 0 };
	int depth = 0, braces = 0, r = 0;
	unsigned lineno = 0;

	for (const char *l = text; l && *l && r >= 0; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		lineno++;
		l += strspn(l, " \t");
		if (*l == '#' || *l == '\n' || !*l)
			continue;
		if (braces > 0 || starts_function(l)) {
			if (braces == 0)
				log_debug("%s:%u: a function definition: skipped", where, lineno);
			braces += count_char(l, '{') - count_char(l, '}');
			if (braces < 0)
				braces = 0;
			continue;
		}
		int d = keyword_depth(l);
		if (depth > 0 || d != 0) {
			log_debug("%s:%u: inside a conditional or loop: skipped", where, lineno);
			depth += d;
			if (depth < 0)
				depth = 0;
			continue;
		}
		r = parse_line(&c, l, where, lineno);
	}
	if (r < 0) {
		config_sh_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

void config_sh_done(struct config_sh *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->vars[i].name);
		free(c->vars[i].value);
	}
	free(c->vars);
	*c = (struct config_sh){ 0 };
}

const struct config_sh_var *config_sh_get(const struct config_sh *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (streq(c->vars[i].name, name))
			return &c->vars[i];
	return NULL;
}

int config_sh_words(const struct config_sh *c, const char *name, char ***ret)
{
	const struct config_sh_var *v = config_sh_get(c, name);
	_cleanup_strv_free_ char **l = NULL;
	int r;

	for (const char *p = v ? v->value : ""; *p;) {
		p += strspn(p, " \t\n");
		size_t n = strcspn(p, " \t\n");
		if (!n)
			break;
		_cleanup_free_ char *w = strndup(p, n);
		if (!w)
			return -ENOMEM;
		if ((r = strv_consume(&l, TAKE_PTR(w))) < 0)
			return r;
		p += n;
	}
	if (!l && !(l = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret = TAKE_PTR(l);
	return 0;
}
