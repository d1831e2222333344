/* Parses image references the way docker/distribution's reference grammar does and maps them
 * to kubespray-offline's registry names and archive file names. */
#include "imageref.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "macros.h"
#include "strv.h"

/* distribution's NameTotalLengthMax. */
#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

/* The registries kubespray-offline's load-push-all-images.sh strips before pushing, in the
 * order nodes list them as mirrors. */
const char *const image_ref_builtin_strip[] = {
	"docker.io", "quay.io", "registry.k8s.io", "k8s.gcr.io", "ghcr.io", "gcr.io", NULL,
};

/* Where docker.io's pulls really go: containerd asks for this host too. */
#define DOCKER_HUB_ENDPOINT "registry-1.docker.io"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex_lower(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+ joined by ".", "_", "__" or any run of "-". */
static bool path_component_is_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_lower_alnum(s[j]))
			j++;
		size_t run = j - i;
		bool dashes = strspn(s + i, "-") >= run;
		bool ok = dashes || (run == 1 && s[i] == '.') || (run == 1 && s[i] == '_') ||
			  (run == 2 && s[i] == '_' && s[i + 1] == '_');
		if (!ok)
			return false;
		i = j;
	}
	return true;
}

bool image_ref_repository_is_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	for (const char *p = s;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!path_component_is_valid(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

bool image_ref_tag_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TAG_MAX_LEN)
		return false;
	if (!isalnum((unsigned char)s[0]) && s[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static bool digest_is_valid(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s + 7) != 64)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!is_hex_lower(*p))
			return false;
	return true;
}

/* host[:port], host being DNS labels joined by '.' or a bracketed IPv6 address. */
static bool registry_is_valid(const char *s)
{
	const char *port = NULL;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end == s + 1)
			return false;
		for (const char *p = s + 1; p < end; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':')
				return false;
		if (end[1] && end[1] != ':')
			return false;
		port = end[1] ? end + 1 : NULL;
	} else {
		const char *label = s, *p = s;
		for (;; p++) {
			if (*p == '.' || *p == ':' || *p == '\0') {
				size_t n = p - label;
				if (n == 0 || !isalnum((unsigned char)label[0]) || !isalnum((unsigned char)label[n - 1]))
					return false;
				for (size_t i = 0; i < n; i++)
					if (!isalnum((unsigned char)label[i]) && label[i] != '-')
						return false;
				if (*p != '.')
					break;
				label = p + 1;
			} else if (!isalnum((unsigned char)*p) && *p != '-')
				return false;
		}
		port = *p == ':' ? p : NULL;
	}
	if (port) {
		if (!port[1] || strspn(port + 1, "0123456789") != strlen(port + 1))
			return false;
	}
	return true;
}

/* Docker's rule: the first of several components is a registry when it looks like a host. */
static bool component_is_registry(const char *s, size_t n)
{
	if (memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && strncmp(s, "localhost", 9) == 0))
		return true;
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)s[i]))
			return true;
	return false;
}

/* Length of the name part of S: before "@digest" and before a ":tag" that follows the last '/'. */
static size_t name_length(const char *s)
{
	size_t n = strcspn(s, "@");
	for (size_t i = n; i > 0; i--) {
		if (s[i - 1] == '/')
			break;
		if (s[i - 1] == ':')
			return i - 1;
	}
	return n;
}

void image_ref_done(struct image_ref *r)
{
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	*r = (struct image_ref){ 0 };
}

static void image_ref_donep(struct image_ref *r) { image_ref_done(r); }

int image_ref_parse(const char *s, struct image_ref *ret, char **ret_error)
{
	_cleanup_(image_ref_donep) struct image_ref r = { 0 };
	const char *at, *path;
	size_t nlen;

	if (!*s)
		return gb_error(ret_error, -EINVAL, "empty reference");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return gb_error(ret_error, -EINVAL, "contains whitespace or a control character");

	at = strchr(s, '@');
	if (at) {
		if (!digest_is_valid(at + 1))
			return gb_error(ret_error, -EINVAL, "digest \"%s\" is not sha256:<64 lowercase hex digits>", at + 1);
		if (!(r.digest = strdup(at + 1)))
			return -ENOMEM;
	}
	nlen = name_length(s);
	if (s[nlen] == ':') {
		size_t tlen = (at ? (size_t)(at - s) : strlen(s)) - nlen - 1;
		if (!(r.tag = strndup(s + nlen + 1, tlen)))
			return -ENOMEM;
		if (!image_ref_tag_is_valid(r.tag))
			return gb_error(ret_error, -EINVAL, "invalid tag \"%s\"", r.tag);
	}
	if (nlen == 0)
		return gb_error(ret_error, -EINVAL, "no repository name");
	if (nlen > NAME_MAX_LEN)
		return gb_error(ret_error, -EINVAL, "name is longer than %d characters", NAME_MAX_LEN);

	const char *slash = memchr(s, '/', nlen);
	if (slash && component_is_registry(s, slash - s)) {
		if (!(r.registry = strndup(s, slash - s)))
			return -ENOMEM;
		if (!registry_is_valid(r.registry))
			return gb_error(ret_error, -EINVAL, "invalid registry \"%s\"", r.registry);
		path = slash + 1;
	} else {
		if (!(r.registry = strdup("docker.io")))
			return -ENOMEM;
		path = s;
	}
	if (streq(r.registry, "index.docker.io")) {
		free(r.registry);
		if (!(r.registry = strdup("docker.io")))
			return -ENOMEM;
	}

	size_t plen = s + nlen - path;
	bool bare = !memchr(path, '/', plen);
	if (asprintf(&r.repository, "%s%.*s", bare && streq(r.registry, "docker.io") ? "library/" : "", (int)plen, path) < 0) {
		r.repository = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < plen; i++)
		if (isupper((unsigned char)path[i]))
			return gb_error(ret_error, -EINVAL, "repository name must be lowercase");
	for (const char *p = path; p <= s + nlen;) {
		const char *end = memchr(p, '/', s + nlen - p);
		size_t n = end ? (size_t)(end - p) : (size_t)(s + nlen - p);
		if (n == 0)
			return gb_error(ret_error, -EINVAL, "empty path component");
		if (!path_component_is_valid(p, n))
			return gb_error(ret_error, -EINVAL, "invalid path component \"%.*s\"", (int)n, p);
		if (!end)
			break;
		p = end + 1;
	}
	if (!r.tag && !r.digest && !(r.tag = strdup("latest")))
		return -ENOMEM;

	*ret = r;
	r = (struct image_ref){ 0 };
	return 0;
}

char *image_ref_format(const struct image_ref *r)
{
	char *s;

	if (asprintf(&s, "%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "", r->tag ? r->tag : "",
		     r->digest ? "@" : "", r->digest ? r->digest : "") < 0)
		return NULL;
	return s;
}

/* load-push-all-images.sh's loop, in its order: each prefix is tried once, on what the ones
 * before it left. */
static const char *const push_strip_order[] = {
	"registry.k8s.io", "k8s.gcr.io", "gcr.io", "ghcr.io", "docker.io", "quay.io", NULL,
};

/* Drop PREFIX + "/" from the front of NAME (in place); PREFIX as a config writes it ("my.reg/"
 * is "my.reg"). */
static void strip_prefix(char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 0 && prefix[n - 1] == '/')
		n--;
	if (n > 0 && strncmp(name, prefix, n) == 0 && name[n] == '/')
		memmove(name, name + n + 1, strlen(name + n + 1) + 1);
}

int image_ref_push_repository(const char *line, char *const *extra_registries, char **ret, char **ret_error)
{
	struct image_ref parsed = { 0 };
	_cleanup_free_ char *name = NULL;
	size_t nlen;
	int k;

	k = image_ref_parse(line, &parsed, ret_error);
	image_ref_done(&parsed);
	if (k < 0)
		return k;
	nlen = name_length(line);
	if (memchr(line, '/', nlen))
		name = strndup(line, nlen);
	else if (asprintf(&name, "docker.io/library/%.*s", (int)nlen, line) < 0)
		name = NULL;
	if (!name)
		return -ENOMEM;
	for (const char *const *b = push_strip_order; *b; b++)
		strip_prefix(name, *b);
	for (char *const *e = extra_registries; e && *e; e++)
		strip_prefix(name, *e);

	if (!image_ref_repository_is_valid(name)) {
		size_t first = strcspn(name, "/");
		if (strlen(name) > NAME_MAX_LEN)
			return gb_error(ret_error, -EINVAL, "repository name \"%s\" is longer than %d characters", name,
					NAME_MAX_LEN);
		return gb_error(ret_error, -EINVAL,
				"registry \"%.*s\" cannot be kept as a repository path component (a port or upper case); "
				"list it among the extra registries to strip it",
				(int)first, name);
	}
	*ret = TAKE_PTR(name);
	return 0;
}

int image_ref_names(const char *line, char *const *extra_registries, char ***ret, char **ret_error)
{
	_cleanup_strv_free_ char **names = NULL, **hosts = NULL;
	struct image_ref parsed = { 0 };
	char *push = NULL;
	int k;

	k = image_ref_push_repository(line, extra_registries, &push, ret_error);
	if (k < 0)
		return k;
	if ((k = strv_consume(&names, push)) < 0)
		return k;
	if ((k = image_ref_parse(line, &parsed, NULL)) < 0 || (k = image_ref_mirror_hosts(extra_registries, &hosts)) < 0) {
		image_ref_done(&parsed);
		return k;
	}
	if (strv_contains(hosts, parsed.registry) && !strv_contains(names, parsed.repository))
		k = strv_push(&names, parsed.repository);
	image_ref_done(&parsed);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(names);
	return 0;
}

/* kubespray-offline's file name: every '/' -> '_', every ':' -> '-'. */
static char *archive_stem(const char *ref)
{
	char *s = strdup(ref);
	if (!s)
		return NULL;
	for (char *p = s; *p; p++) {
		if (*p == '/')
			*p = '_';
		else if (*p == ':')
			*p = '-';
	}
	return s;
}

/* download-additional-containers.sh's expand_image_repo, regexes and all. */
static char *script_expansion(const char *line)
{
	size_t n = 0;
	char *s;

	while (isalnum((unsigned char)line[n]))
		n++;
	if (n == 0)
		return NULL;
	if (line[n] == ':')
		return asprintf(&s, "docker.io/library/%s", line) < 0 ? NULL : s;
	if (line[n] == '/')
		return asprintf(&s, "docker.io/%s", line) < 0 ? NULL : s;
	return NULL;
}

int image_ref_archive_names(const char *line, char ***ret)
{
	_cleanup_strv_free_ char **forms = NULL, **names = NULL;
	struct image_ref r = { 0 };
	char *canonical = NULL, *expanded;
	static const char *const exts[] = { ".tar.gz", ".tar" };
	int k;

	if ((k = strv_push(&forms, line)) < 0)
		return k;
	expanded = script_expansion(line);
	if (expanded && !strv_contains(forms, expanded)) {
		if ((k = strv_consume(&forms, expanded)) < 0)
			return k;
	} else
		free(expanded);
	if (image_ref_parse(line, &r, NULL) == 0) {
		/* The reference with its registry written out, tag and digest as the line has them. */
		int n = asprintf(&canonical, "%s/%s%s", r.registry, r.repository, line + name_length(line));
		image_ref_done(&r);
		if (n < 0)
			return -ENOMEM;
		if (!strv_contains(forms, canonical)) {
			if ((k = strv_consume(&forms, canonical)) < 0)
				return k;
		} else
			free(canonical);
	}

	for (size_t e = 0; e < ARRAY_SIZE(exts); e++)
		for (char **f = forms; *f; f++) {
			_cleanup_free_ char *stem = archive_stem(*f);
			char *name;
			if (!stem || asprintf(&name, "%s%s", stem, exts[e]) < 0)
				return -ENOMEM;
			if ((k = strv_consume(&names, name)) < 0)
				return k;
		}
	*ret = TAKE_PTR(names);
	return 0;
}

/* A registry as written in a config: "my.reg/" means "my.reg". */
static int push_registry(char ***l, const char *registry)
{
	size_t n = strlen(registry);

	while (n > 0 && registry[n - 1] == '/')
		n--;
	_cleanup_free_ char *s = strndup(registry, n);
	if (!s)
		return -ENOMEM;
	if (!*s || strv_contains(*l, s))
		return 0;
	return strv_consume(l, TAKE_PTR(s));
}

int image_ref_strip_list(char *const *extra, char ***ret)
{
	_cleanup_strv_free_ char **l = NULL;
	int k;

	for (const char *const *b = image_ref_builtin_strip; *b; b++)
		if ((k = push_registry(&l, *b)) < 0)
			return k;
	for (char *const *e = extra; e && *e; e++)
		if ((k = push_registry(&l, *e)) < 0)
			return k;
	*ret = TAKE_PTR(l);
	return 0;
}

int image_ref_mirror_hosts(char *const *strip, char ***ret)
{
	_cleanup_strv_free_ char **all = NULL, **l = NULL;
	int k;

	k = image_ref_strip_list(strip, &all);
	if (k < 0)
		return k;
	for (char **r = all; *r; r++) {
		/* A registry with a path (harbor.local/proj) is mirrored by its host: containerd
		 * chooses mirrors by host and asks them for the whole path. */
		_cleanup_free_ char *host = strndup(*r, strcspn(*r, "/"));
		if (!host)
			return -ENOMEM;
		if (strv_contains(l, host))
			continue;
		if ((k = strv_push(&l, host)) < 0)
			return k;
		if (streq(*r, "docker.io") && (k = strv_push(&l, DOCKER_HUB_ENDPOINT)) < 0)
			return k;
	}
	*ret = TAKE_PTR(l);
	return 0;
}
