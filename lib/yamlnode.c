/* Load a YAML file with libyaml's document API and read typed values from it, every error
 * carrying the file, 1-based line and column and what was expected. */
#include "yamlnode.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "fsutil.h"
#include "strv.h"

/* Longest scalar text quoted back in a message; the rest becomes "...". */
#define QUOTE_MAX 40
#define DESCRIBE_MAX YN_DESCRIBE_MAX
_Static_assert(YN_DESCRIBE_MAX >= QUOTE_MAX + 6, "room for a quoted scalar, \"...\" and a NUL");

static void parser_deletep(yaml_parser_t *p) { yaml_parser_delete(p); }
static void document_deletep(yaml_document_t *doc) { yaml_document_delete(doc); }

/* "PATH:LINE:COLUMN: what" into *ret_error; -EINVAL. libyaml counts from 0, editors from 1. */
_printf_(5, 0) static int verror_at(const char *path, size_t line0, size_t column0, char **ret_error,
				    const char *fmt, va_list ap)
{
	_cleanup_free_ char *what = NULL;

	if (!ret_error)
		return -EINVAL;
	/* A later, outer complaint replaces an earlier one. */
	free(*ret_error);
	*ret_error = NULL;
	if (vasprintf(&what, fmt, ap) < 0)
		return -ENOMEM;
	return gb_error(ret_error, -EINVAL, "%s:%zu:%zu: %s", path, line0 + 1, column0 + 1, what);
}

_printf_(5, 6) static int error_at(const char *path, size_t line0, size_t column0, char **ret_error,
				   const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = verror_at(path, line0, column0, ret_error, fmt, ap);
	va_end(ap);
	return r;
}

int yn_error(struct yn_doc *d, const yaml_node_t *node, char **ret_error, const char *fmt, ...)
{
	const yaml_mark_t *m = node ? &node->start_mark : &d->doc.start_mark;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = verror_at(d->path, m->line, m->column, ret_error, fmt, ap);
	va_end(ap);
	return r;
}

/* Copy at most QUOTE_MAX bytes of S into BUF, control characters as '?', so a hostile value
 * cannot garble the terminal or bury the message. */
static void sanitize(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, n = len < QUOTE_MAX ? len : QUOTE_MAX;

	if (n > size - 4)
		n = size - 4;
	/* Cut before a UTF-8 continuation byte, so the message stays valid UTF-8. */
	while (n > 0 && n < len && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (n < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

static const char *describe(struct yn_doc *d, const yaml_node_t *node, char buf[static DESCRIBE_MAX])
{
	char text[QUOTE_MAX + 4];

	if (!node)
		return "nothing";
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		if (node->data.scalar.length == 0 && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return "an empty value";
		if (d->hiding)
			return "a value " YN_NOT_SHOWN;
		sanitize((const char *)node->data.scalar.value, node->data.scalar.length, text, sizeof(text));
		snprintf(buf, DESCRIBE_MAX, "'%s'", text);
		return buf;
	default:
		return "nothing";
	}
}

const char *yn_describe(struct yn_doc *d, const yaml_node_t *node, char buf[static YN_DESCRIBE_MAX])
{
	return describe(d, node, buf);
}

const char *yn_scalar(const yaml_node_t *node)
{
	return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

static bool is_plain(const yaml_node_t *node)
{
	return node && node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool word_in(const char *s, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(s, words[i]))
			return true;
	return false;
}

static const char *const null_words[] = { "", "~", "null", "Null", "NULL" };
/* YAML 1.1 booleans minus the single letters y/n, which PyYAML and most users read as text. */
static const char *const true_words[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
static const char *const false_words[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };

bool yn_is_null(const yaml_node_t *node)
{
	return is_plain(node) && word_in((const char *)node->data.scalar.value, null_words, ARRAY_SIZE(null_words));
}

static bool text_is_bool(const char *s)
{
	return word_in(s, true_words, ARRAY_SIZE(true_words)) || word_in(s, false_words, ARRAY_SIZE(false_words));
}

yaml_node_t *yn_doc_root(struct yn_doc *d)
{
	return yaml_document_get_root_node(&d->doc);
}

yaml_node_pair_t *yn_map_pairs(const yaml_node_t *node, size_t *ret_n)
{
	if (!node || node->type != YAML_MAPPING_NODE) {
		*ret_n = 0;
		return NULL;
	}
	*ret_n = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
	return node->data.mapping.pairs.start;
}

/* Key text of a scalar key, NULL for a non-scalar key or one with a NUL inside it. */
static const char *key_text(const yaml_node_t *key)
{
	if (!key || key->type != YAML_SCALAR_NODE ||
	    strlen((const char *)key->data.scalar.value) != key->data.scalar.length)
		return NULL;
	return (const char *)key->data.scalar.value;
}

/* The pair of scalar key KEY in mapping MAP, NULL when absent. */
static yaml_node_pair_t *map_pair(struct yn_doc *d, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pairs;
	size_t n;

	pairs = yn_map_pairs(map, &n);
	for (size_t i = 0; i < n; i++) {
		const char *k = key_text(yaml_document_get_node(&d->doc, pairs[i].key));

		if (k && streq(k, key))
			return &pairs[i];
	}
	return NULL;
}

yaml_node_t *yn_map_get(struct yn_doc *d, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair = map_pair(d, map, key);

	return pair ? yaml_document_get_node(&d->doc, pair->value) : NULL;
}

yaml_node_t *yn_map_get_key(struct yn_doc *d, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair = map_pair(d, map, key);

	return pair ? yaml_document_get_node(&d->doc, pair->key) : NULL;
}

size_t yn_seq_len(const yaml_node_t *node)
{
	if (!node || node->type != YAML_SEQUENCE_NODE)
		return 0;
	return node->data.sequence.items.top - node->data.sequence.items.start;
}

yaml_node_t *yn_seq_item(struct yn_doc *d, const yaml_node_t *node, size_t i)
{
	if (i >= yn_seq_len(node))
		return NULL;
	return yaml_document_get_node(&d->doc, node->data.sequence.items.start[i]);
}

int yn_get_string(struct yn_doc *d, const yaml_node_t *node, const char *key, char **ret, char **ret_error)
{
	char buf[DESCRIBE_MAX];
	const char *s;
	char *copy;

	if (!node || node->type != YAML_SCALAR_NODE)
		return yn_error(d, node, ret_error, "%s: expected a string, got %s", key, describe(d, node, buf));
	s = (const char *)node->data.scalar.value;
	if (yn_is_null(node))
		return yn_error(d, node, ret_error, "%s: expected a string, got %s%s", key, describe(d, node, buf),
				*s ? " (null in YAML; quote it to use it as a string)" : "");
	if (is_plain(node) && text_is_bool(s))
		return yn_error(d, node, ret_error,
				"%s: expected a string, got %s (a boolean in YAML; quote it to use it as a string)",
				key, describe(d, node, buf));
	if (strlen(s) != node->data.scalar.length)
		return yn_error(d, node, ret_error, "%s: expected a string without NUL characters, got %s", key,
				describe(d, node, buf));
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

int yn_get_bool(struct yn_doc *d, const yaml_node_t *node, const char *key, bool *ret, char **ret_error)
{
	char buf[DESCRIBE_MAX];
	const char *s = yn_scalar(node);

	if (s && is_plain(node)) {
		if (word_in(s, true_words, ARRAY_SIZE(true_words))) {
			*ret = true;
			return 0;
		}
		if (word_in(s, false_words, ARRAY_SIZE(false_words))) {
			*ret = false;
			return 0;
		}
	}
	return yn_error(d, node, ret_error, "%s: expected a boolean, got %s%s", key, describe(d, node, buf),
			s && !is_plain(node) && text_is_bool(s) ? " (quoted, so a string: remove the quotes)" : "");
}

/* Plain decimal digits only: no sign, no 0x/0o, no YAML 1.1 octal "010" or "1_000". */
static bool parse_decimal(const char *s, unsigned long long *ret)
{
	unsigned long long v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (ULLONG_MAX - (unsigned)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*ret = v;
	return true;
}

int yn_get_uint(struct yn_doc *d, const yaml_node_t *node, const char *key, unsigned max, unsigned *ret,
		char **ret_error)
{
	char buf[DESCRIBE_MAX];
	const char *s = yn_scalar(node);
	unsigned long long v;
	char range[48] = "";

	if (s && is_plain(node) && parse_decimal(s, &v) && v <= max) {
		*ret = (unsigned)v;
		return 0;
	}
	if (max != UINT_MAX)
		snprintf(range, sizeof(range), " from 0 to %u", max);
	return yn_error(d, node, ret_error, "%s: expected an unsigned integer%s, got %s%s", key, range,
			describe(d, node, buf),
			s && !is_plain(node) && parse_decimal(s, &v) ? " (quoted, so a string: remove the quotes)"
								       : "");
}

int yn_get_strlist(struct yn_doc *d, const yaml_node_t *node, const char *key, char ***ret, char **ret_error)
{
	_cleanup_strv_free_ char **v = NULL;
	char buf[DESCRIBE_MAX];
	size_t n;
	int r;

	if (!node || node->type != YAML_SEQUENCE_NODE)
		return yn_error(d, node, ret_error, "%s: expected a list of strings, got %s%s", key,
				describe(d, node, buf),
				yn_is_null(node) ? " (write [] for an empty list)"
				: node && node->type == YAML_SCALAR_NODE ? " (write it as [item, ...] or as '- item' lines)"
									 : "");
	n = yn_seq_len(node);
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = yn_get_string(d, yn_seq_item(d, node, i), key, &v[i], ret_error);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(v);
	return 0;
}

/* Byte offset to 0-based line and column, for reader errors, which libyaml reports by offset. */
static void offset_to_mark(const unsigned char *buf, size_t len, size_t offset, size_t *line, size_t *col)
{
	*line = *col = 0;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 0;
		} else {
			(*col)++;
		}
	}
}

static int parser_error(const char *path, const yaml_parser_t *p, const unsigned char *buf, size_t len,
			char **ret_error)
{
	const char *problem = p->problem ? p->problem : "unknown YAML error";
	size_t line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return -ENOMEM;
	case YAML_READER_ERROR:
		offset_to_mark(buf, len, p->problem_offset, &line, &col);
		if (p->problem_value >= 0)
			return error_at(path, line, col, ret_error, "%s (byte 0x%02x)", problem, p->problem_value);
		return error_at(path, line, col, ret_error, "%s", problem);
	default:
		if (p->context)
			return error_at(path, p->problem_mark.line, p->problem_mark.column, ret_error,
					"%s (%s at line %zu, column %zu)", problem, p->context,
					p->context_mark.line + 1, p->context_mark.column + 1);
		return error_at(path, p->problem_mark.line, p->problem_mark.column, ret_error, "%s", problem);
	}
}

int yn_read_file(const char *path, char **ret, size_t *ret_len, char **ret_error)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return gb_error_errno(ret_error, negative_errno(), "cannot open %s", path);
	if (fstat(fd, &st) < 0)
		return gb_error_errno(ret_error, negative_errno(), "cannot stat %s", path);
	if (S_ISDIR(st.st_mode))
		return gb_error(ret_error, -EISDIR, "%s is a directory, expected a YAML file", path);
	if (!S_ISREG(st.st_mode))
		return gb_error(ret_error, -EINVAL, "%s is not a regular file, expected a YAML file", path);
	if (st.st_size > YN_FILE_MAX)
		return gb_error(ret_error, -EFBIG, "%s is %lld bytes, more than the %d accepted for a YAML file", path,
				(long long)st.st_size, YN_FILE_MAX);
	r = read_fd(fd, YN_FILE_MAX, ret, ret_len);
	if (r == -EFBIG)
		return gb_error(ret_error, r, "%s is more than the %d bytes accepted for a YAML file", path, YN_FILE_MAX);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read %s", path);
	return 0;
}

void yn_doc_free(struct yn_doc *d)
{
	if (!d)
		return;
	yaml_document_delete(&d->doc);
	free(d->path);
	free(d);
}

int yn_doc_load_data(const char *name, const char *buf, size_t len, struct yn_doc **ret, char **ret_error)
{
	_cleanup_(parser_deletep) yaml_parser_t parser = {};
	_cleanup_(document_deletep) yaml_document_t extra = {};
	_cleanup_yn_doc_ struct yn_doc *d = NULL;
	yaml_node_t *root;

	if (ret_error)
		*ret_error = NULL;
	/* Zeroed, so yaml_document_delete is harmless if loading never starts. */
	d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strdup(name)))
		return -ENOMEM;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &d->doc))
		return parser_error(name, &parser, (const unsigned char *)buf, len, ret_error);

	/* A second document would be silently ignored by a loader that reads only the first. */
	if (yaml_document_get_root_node(&d->doc)) {
		if (!yaml_parser_load(&parser, &extra))
			return parser_error(name, &parser, (const unsigned char *)buf, len, ret_error);
		root = yaml_document_get_root_node(&extra);
		if (root)
			return error_at(name, extra.start_mark.line, extra.start_mark.column, ret_error,
					"expected a single YAML document, found a second one");
	}

	*ret = TAKE_PTR(d);
	return 0;
}

int yn_doc_load(const char *path, struct yn_doc **ret, char **ret_error)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (ret_error)
		*ret_error = NULL;
	r = yn_read_file(path, &buf, &len, ret_error);
	if (r < 0)
		return r;
	return yn_doc_load_data(path, buf, len, ret, ret_error);
}

/* Levenshtein distance, for "did you mean" on misspelt keys; long keys are not worth it. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

static int unknown_key(struct yn_doc *d, const yaml_node_t *key, const char *section,
		       const struct yn_field *fields, size_t n_fields, char **ret_error)
{
	_cleanup_free_ char *list = NULL;
	size_t size = 0, best = SIZE_MAX, best_i = 0;
	char text[QUOTE_MAX + 4], hint[96] = "";
	FILE *f;

	sanitize((const char *)key->data.scalar.value, key->data.scalar.length, text, sizeof(text));
	f = open_memstream(&list, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n_fields; i++) {
		size_t dist = edit_distance(text, fields[i].key);

		fprintf(f, "%s%s", i ? ", " : "", fields[i].key);
		if (dist < best) {
			best = dist;
			best_i = i;
		}
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	/* Close enough to be a typo, not so loose that every short key matches. */
	if (best > 0 && best <= (strlen(text) >= 5 ? 2u : 1u))
		snprintf(hint, sizeof(hint), ", did you mean '%s'?", fields[best_i].key);
	return yn_error(d, key, ret_error, "unknown key '%s' in %s%s (expected one of: %s)", text, section, hint,
			list);
}

static int check_names(struct yn_doc *d, const yaml_node_t *node, const char *key, const char *value,
		       const char *const *names, int *ret_index, char **ret_error)
{
	_cleanup_free_ char *list = NULL;
	size_t size = 0, n = 0;
	char buf[DESCRIBE_MAX];
	FILE *f;

	for (; names[n]; n++)
		if (streq(value, names[n])) {
			if (ret_index)
				*ret_index = (int)n;
			return 0;
		}
	if (n == 1)
		return yn_error(d, node, ret_error, "%s: unsupported value %s (only '%s' is supported)", key,
				describe(d, node, buf), names[0]);
	f = open_memstream(&list, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "", names[i]);
	if (fclose(f) != 0)
		return -ENOMEM;
	return yn_error(d, node, ret_error, "%s: unsupported value %s (expected one of: %s)", key,
			describe(d, node, buf), list);
}

/* names[] and check() for one string value. */
static int check_value(struct yn_doc *d, const yaml_node_t *node, const struct yn_field *f, const char *key,
		       const char *value, char **ret_error)
{
	char buf[DESCRIBE_MAX];
	const char *expected;
	int r;

	if (f->names) {
		r = check_names(d, node, key, value, f->names, NULL, ret_error);
		if (r < 0)
			return r;
	}
	if (f->check) {
		expected = f->check(value);
		if (expected)
			return yn_error(d, node, ret_error, "%s: expected %s, got %s", key, expected,
					describe(d, node, buf));
	}
	return 0;
}

static int walk_value(struct yn_doc *d, const yaml_node_t *value, const struct yn_field *f, const char *key,
		      void *target, char **ret_error)
{
	void *slot = (char *)target + f->offset;
	char buf[DESCRIBE_MAX];
	int r;

	switch (f->type) {
	case YN_STRING: {
		_cleanup_free_ char *s = NULL;

		r = yn_get_string(d, value, key, &s, ret_error);
		if (r < 0)
			return r;
		r = check_value(d, value, f, key, s, ret_error);
		if (r < 0)
			return r;
		free(*(char **)slot);
		*(char **)slot = TAKE_PTR(s);
		return 0;
	}
	case YN_BOOL:
		return yn_get_bool(d, value, key, (bool *)slot, ret_error);
	case YN_UINT:
		return yn_get_uint(d, value, key, f->max ? f->max : UINT_MAX, (unsigned *)slot, ret_error);
	case YN_ENUM: {
		_cleanup_free_ char *s = NULL;

		r = yn_get_string(d, value, key, &s, ret_error);
		if (r < 0)
			return r;
		return check_names(d, value, key, s, f->names, (int *)slot, ret_error);
	}
	case YN_STRLIST: {
		_cleanup_strv_free_ char **v = NULL;

		r = yn_get_strlist(d, value, key, &v, ret_error);
		if (r < 0)
			return r;
		if (f->nonempty && !v[0])
			return yn_error(d, value, ret_error, "%s: expected at least one item, got an empty list",
					key);
		for (size_t i = 0; v[i]; i++) {
			r = check_value(d, yn_seq_item(d, value, i), f, key, v[i], ret_error);
			if (r < 0)
				return r;
		}
		strv_free(*(char ***)slot);
		*(char ***)slot = TAKE_PTR(v);
		return 0;
	}
	case YN_MAPPING:
		if (value->type != YAML_MAPPING_NODE)
			return yn_error(d, value, ret_error, "%s: expected a mapping, got %s", key,
					describe(d, value, buf));
		return 0;
	case YN_CUSTOM:
		return f->handler(d, value, key, target, ret_error);
	}
	return -EINVAL;
}

int yn_map_walk(struct yn_doc *d, const yaml_node_t *map, const char *section, const char *key_prefix,
		const struct yn_field *fields, size_t n_fields, void *target, yaml_node_t **ret_found,
		char **ret_error)
{
	_cleanup_free_ yaml_node_t **keys = NULL;
	_cleanup_free_ yaml_node_t **values = NULL;
	yaml_node_pair_t *pairs;
	char buf[DESCRIBE_MAX];
	bool hiding;
	size_t n;
	int r;

	if (!map || map->type != YAML_MAPPING_NODE)
		return yn_error(d, map, ret_error, "expected %s to be a mapping of keys, got %s", section,
				describe(d, map, buf));

	keys = calloc(n_fields, sizeof(*keys));
	values = calloc(n_fields, sizeof(*values));
	if (!keys || !values)
		return -ENOMEM;

	pairs = yn_map_pairs(map, &n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *key = yaml_document_get_node(&d->doc, pairs[i].key);
		yaml_node_t *value = yaml_document_get_node(&d->doc, pairs[i].value);
		_cleanup_free_ char *full = NULL;
		const char *k = key_text(key);
		size_t f;

		if (!key || key->type != YAML_SCALAR_NODE)
			return yn_error(d, key, ret_error, "expected a key name in %s, got %s", section,
					describe(d, key, buf));
		for (f = 0; f < n_fields; f++)
			if (k && streq(k, fields[f].key))
				break;
		if (f == n_fields)
			return unknown_key(d, key, section, fields, n_fields, ret_error);
		if (keys[f])
			return yn_error(d, key, ret_error, "duplicate key '%s%s' (first given at line %zu, column %zu)",
					key_prefix, k, keys[f]->start_mark.line + 1,
					keys[f]->start_mark.column + 1);
		keys[f] = key;
		values[f] = value;

		if (asprintf(&full, "%s%s", key_prefix, k) < 0)
			return -ENOMEM;
		hiding = d->hiding;
		d->hiding = hiding || fields[f].secret || fields[f].private_key;
		r = walk_value(d, value, &fields[f], full, target, ret_error);
		d->hiding = hiding;
		if (r < 0)
			return r;
	}

	for (size_t f = 0; f < n_fields; f++)
		if (fields[f].required && !keys[f])
			return yn_error(d, map, ret_error, "missing required key '%s%s'", key_prefix, fields[f].key);

	if (ret_found)
		memcpy(ret_found, values, n_fields * sizeof(*values));
	return 0;
}
