/* Typed, position-aware access to a YAML file loaded with libyaml's document API, for
 * loaders that must say FILE:LINE:COLUMN and what was expected for every bad value. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "macros.h"

/* Files larger than this are refused before parsing: a profile or config is a few KiB. */
#define YN_FILE_MAX (1024 * 1024)

/* A loaded YAML file. The path is kept as given so messages show what the user typed. */
struct yn_doc {
	char *path;
	yaml_document_t doc;
	/* Set while yn_map_walk reads a secret field: messages show no scalar it holds. */
	bool hiding;
};

/* What a message says instead of a secret field's value. */
#define YN_NOT_SHOWN "(not shown)"

/* Read PATH (regular file, at most YN_FILE_MAX bytes) and parse its single document.
 * Errors: -ENOENT etc. when it cannot be read, -EFBIG when too large, -EINVAL on a YAML
 * syntax error or a second document; *ret_error (may be NULL) gets "PATH:L:C: problem". */
int yn_doc_load(const char *path, struct yn_doc **ret, char **ret_error);
/* What yn_doc_load reads: PATH whole (regular file, at most YN_FILE_MAX bytes, NUL-terminated),
 * for a caller that must keep or hash the very bytes it parses (yn_doc_load_data). Errors as
 * yn_doc_load's, "cannot open PATH: reason" and the like in *ret_error (may be NULL). */
int yn_read_file(const char *path, char **ret, size_t *ret_len, char **ret_error);
/* The same for text already in memory (the caller capped its size); NAME stands for the file in
 * messages ("files/kubespray-2.30.0.tar.gz:kubespray-2.30.0/roles/.../download.yml"). */
int yn_doc_load_data(const char *name, const char *buf, size_t len, struct yn_doc **ret, char **ret_error);
void yn_doc_free(struct yn_doc *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct yn_doc *, yn_doc_free)
#define _cleanup_yn_doc_ _cleanup_(yn_doc_freep)

/* Root node, NULL when the file holds no document (empty or only comments). */
yaml_node_t *yn_doc_root(struct yn_doc *d);

/* Format "PATH:LINE:COLUMN: message" at NODE (1-based; the document start when NODE is
 * NULL) into *ret_error if that is not NULL. Returns -EINVAL, or -ENOMEM. */
int yn_error(struct yn_doc *d, const yaml_node_t *node, char **ret_error, const char *fmt, ...)
	_printf_(4, 5);

/* How NODE reads in a message after "got": "a list", "a mapping", "an empty value",
 * "'xyz'" (truncated to 40 bytes, control characters as '?'), or "a value (not shown)" while a
 * secret field is read. Returns BUF or a literal. */
#define YN_DESCRIBE_MAX 48
const char *yn_describe(struct yn_doc *d, const yaml_node_t *node, char buf[static YN_DESCRIBE_MAX]);

/* Scalar text, NULL when NODE is not a scalar. */
const char *yn_scalar(const yaml_node_t *node);
/* A plain (unquoted) scalar that YAML 1.1 reads as null: "", "~", "null". */
bool yn_is_null(const yaml_node_t *node);

/* Mapping pairs; *ret_n gets their count. NULL (and 0) when NODE is not a mapping. */
yaml_node_pair_t *yn_map_pairs(const yaml_node_t *node, size_t *ret_n);
/* Value under scalar key KEY in mapping MAP, NULL when absent. */
yaml_node_t *yn_map_get(struct yn_doc *d, const yaml_node_t *map, const char *key);
/* The key node KEY itself in mapping MAP (where a message about the key points), NULL when absent. */
yaml_node_t *yn_map_get_key(struct yn_doc *d, const yaml_node_t *map, const char *key);
/* Items of a sequence: count and the node at index I (NULL when out of range). */
size_t yn_seq_len(const yaml_node_t *node);
yaml_node_t *yn_seq_item(struct yn_doc *d, const yaml_node_t *node, size_t i);

/* Typed getters for the value NODE of key KEY (KEY names it in messages, e.g.
 * "boot.bios"). On a mismatch they return -EINVAL with "PATH:L:C: KEY: expected ..., got ...". */
/* Any non-null, non-boolean scalar (quote "yes" to get the string). */
int yn_get_string(struct yn_doc *d, const yaml_node_t *node, const char *key, char **ret, char **ret_error);
/* Plain true/false, yes/no, on/off (lower, Capitalized or UPPER case); quoted ones are strings. */
int yn_get_bool(struct yn_doc *d, const yaml_node_t *node, const char *key, bool *ret, char **ret_error);
/* Plain decimal digits without leading zeros (YAML 1.1 would read 010 as octal), 0..MAX. */
int yn_get_uint(struct yn_doc *d, const yaml_node_t *node, const char *key, unsigned max, unsigned *ret,
		char **ret_error);
/* A sequence of strings as a NULL-terminated vector (free with strv_free). */
int yn_get_strlist(struct yn_doc *d, const yaml_node_t *node, const char *key, char ***ret, char **ret_error);

/* Schema walking: one table entry per key a mapping may hold. */
enum yn_type {
	YN_STRING,  /* char * at offset; optional names[] or check() restrict the value */
	YN_BOOL,    /* bool at offset */
	YN_UINT,    /* unsigned at offset, at most max (0 means UINT_MAX) */
	YN_ENUM,    /* int at offset: the index of the value in names[] */
	YN_STRLIST, /* char ** at offset (NULL-terminated); names[]/check() apply to each item */
	YN_MAPPING, /* only checked to be a mapping: the caller walks it through ret_found */
	YN_CUSTOM,  /* handler() parses the value */
};

struct yn_field;
/* TARGET is the walk's target; returns 0 or a negative errno with *ret_error set. */
typedef int (*yn_handler_t)(struct yn_doc *d, const yaml_node_t *value, const char *key, void *target,
			    char **ret_error);
/* NULL when VALUE is acceptable, else what was expected, e.g. "a Debian package name". */
typedef const char *(*yn_check_t)(const char *value);

struct yn_field {
	const char *key;
	enum yn_type type;
	bool required;
	size_t offset;             /* into the walk's target */
	const char *const *names;  /* NULL-terminated allowed values (YN_ENUM, or a restriction) */
	yn_check_t check;
	unsigned max;              /* YN_UINT */
	bool nonempty;             /* YN_STRLIST: at least one item */
	yn_handler_t handler;      /* YN_CUSTOM */
	/* A password, hash or key: no message quotes its value (they say YN_NOT_SHOWN), and a
	 * handler's own messages must describe values with yn_describe. */
	bool secret;
	/* Private key material (secret too): yn_map_walk treats it as secret; a loader may refuse it
	 * where the file would be kept, like a configuration baked into an image. */
	bool private_key;
};

/* Check MAP against FIELDS and store each value present into TARGET; fields that are absent
 * keep what TARGET held, so set defaults before. SECTION names the mapping in messages
 * ("the profile", "boot"); KEY_PREFIX ("" or "boot.") qualifies keys in them. Unknown,
 * duplicate and missing required keys are errors. RET_FOUND (may be NULL) gets, per field,
 * the value node or NULL, so callers can apply defaults that depend on presence and point
 * later errors at the value. */
int yn_map_walk(struct yn_doc *d, const yaml_node_t *map, const char *section, const char *key_prefix,
		const struct yn_field *fields, size_t n_fields, void *target, yaml_node_t **ret_found,
		char **ret_error);
