/* Component versions from the file names kubespray-offline's downloads give them. */
#include "versions.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "macros.h"
#include "sbuf.h"
#include "strv.h"

/* Where a component's file is, relative to outputs/: "%V" is its version, "%A" the nodes'
 * architecture. The first pattern is the one config.sh's pin names in its error. */
struct component {
	const char *name;
	const char *config_key; /* config.sh's pin, or NULL */
	const char *patterns[2];
};

static const struct component components[] = {
	{ "kubespray", "KUBESPRAY_VERSION", { "files/kubespray-%V.tar.gz" } },
	{ "kube", NULL, { "files/kubernetes/v%V/kubeadm" } },
	{ "etcd", NULL, { "files/kubernetes/etcd/etcd-v%V-linux-%A.tar.gz" } },
	{ "containerd", "CONTAINERD_VERSION",
	  { "files/containerd-%V-linux-%A.tar.gz", "files/containerd-static-%V-linux-%A.tar.gz" } },
	{ "runc", "RUNC_VERSION", { "files/runc/v%V/runc.%A" } },
	{ "nerdctl", "NERDCTL_VERSION", { "files/nerdctl-%V-linux-%A.tar.gz" } },
	{ "cni", "CNI_VERSION", { "files/kubernetes/cni/cni-plugins-linux-%A-v%V.tgz" } },
	{ "crictl", NULL, { "files/kubernetes/cri-tools/crictl-v%V-linux-%A.tar.gz" } },
	{ "calico", NULL, { "files/kubernetes/calico/v%V/calicoctl-linux-%A" } },
	{ "helm", NULL, { "files/helm-v%V-linux-%A.tar.gz" } },
};

/* A version as release file names carry it: a digit, then digits, letters, '.', '-', '+'. */
static bool version_is_valid(const char *s, size_t n)
{
	if (n == 0 || n > 64 || !isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-+", s[i]))
			return false;
	return true;
}

/* PATTERN with %A replaced by ARCH and %V by VERSION. */
static char *expand(const char *pattern, const char *arch, const char *version)
{
	_cleanup_free_ char *a = NULL;
	char *s, *v;

	if (!(a = strdup(pattern)))
		return NULL;
	while ((v = strstr(a, "%A"))) {
		if (asprintf(&s, "%.*s%s%s", (int)(v - a), a, arch, v + 2) < 0)
			return NULL;
		free(a);
		a = s;
	}
	v = strstr(a, "%V");
	if (!v || asprintf(&s, "%.*s%s%s", (int)(v - a), a, version, v + 2) < 0)
		return NULL;
	return s;
}

struct found {
	char *version, *file;
};

static int cmp_found(const void *a, const void *b)
{
	return strverscmp(((const struct found *)a)->version, ((const struct found *)b)->version);
}

static void found_free(struct found *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].version);
		free(v[i].file);
	}
	free(v);
}

/* Every version of C present in DIR, oldest first. */
static int find_versions(const char *dir, const char *arch, const struct component *c, struct found **ret, size_t *ret_n)
{
	struct found *v = NULL;
	size_t n = 0;
	int r = 0;

	for (size_t p = 0; p < ARRAY_SIZE(c->patterns) && c->patterns[p] && r >= 0; p++) {
		_cleanup_free_ char *rel = expand(c->patterns[p], arch, "*"), *full = NULL;
		glob_t g = { 0 };

		if (!rel || !(full = path_join(dir, rel)))
			return found_free(v, n), -ENOMEM;
		const char *star = strchr(rel, '*');
		size_t prefix = star - rel, suffix = strlen(star + 1), base = strlen(full) - strlen(rel);
		if (glob(full, GLOB_NOSORT | GLOB_NOESCAPE, NULL, &g) != 0) {
			globfree(&g);
			continue;
		}
		for (size_t i = 0; i < g.gl_pathc && r >= 0; i++) {
			const char *m = g.gl_pathv[i] + base;
			size_t len = strlen(m);
			if (len < prefix + suffix || !version_is_valid(m + prefix, len - prefix - suffix))
				continue; /* containerd-static-2.2.1-… under containerd-%V-… */
			struct found *grown = realloc(v, (n + 1) * sizeof(*v));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			v = grown;
			v[n] = (struct found){ .version = strndup(m + prefix, len - prefix - suffix), .file = strdup(m) };
			n++;
			if (!v[n - 1].version || !v[n - 1].file)
				r = -ENOMEM;
		}
		globfree(&g);
	}
	if (r < 0)
		return found_free(v, n), r;
	if (n)
		qsort(v, n, sizeof(*v), cmp_found);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The files of FOUND (N), ", "-separated. */
static char *join_versions(const struct found *v, size_t n)
{
	struct sbuf b = SBUF_INIT;
	char *s;

	for (size_t i = 0; i < n; i++)
		sbuf_printf(&b, "%s%s", i ? ", " : "", v[i].file);
	return sbuf_finish(&b, &s, NULL) < 0 ? NULL : s;
}

/* Which of FOUND (N, oldest first) is C's version, the findings saying why; -1 for none. */
static ssize_t choose(const struct component *c, const char *arch, const struct config_sh *cfg, struct found *found,
		      size_t n, struct findings *f)
{
	const struct config_sh_var *pin = cfg && c->config_key ? config_sh_get(cfg, c->config_key) : NULL;
	char where[64];
	_cleanup_free_ char *list = NULL, *expected = NULL;

	if (pin) {
		for (size_t i = 0; i < n; i++)
			if (streq(found[i].version, pin->value))
				return i;
		snprintf(where, sizeof(where), "config.sh:%u", pin->line);
		if (!(expected = expand(c->patterns[0], arch, pin->value)))
			return -1;
		if (n == 0) {
			_cleanup_free_ char *any = expand(c->patterns[0], arch, "*");
			findings_add(f, FINDING_ERROR, where, "%s=%s but %s is missing, and no other version is there (%s)",
				     c->config_key, pin->value, expected, any ? any : "");
			return -1;
		}
		if (n == 1) {
			findings_add(f, FINDING_NOTE, where, "%s=%s, but the payload holds %s: overridden at download time; %s %s is used",
				     c->config_key, pin->value, found[0].file, c->name, found[0].version);
			return 0;
		}
		list = join_versions(found, n);
		findings_add(f, FINDING_WARNING, where, "%s=%s, but the payload holds %s instead; the newest, %s, is used",
			     c->config_key, pin->value, list ? list : "other versions", found[n - 1].version);
		return n - 1;
	}
	if (n > 1) {
		list = join_versions(found, n);
		findings_add(f, FINDING_WARNING, found[n - 1].file, "several versions of %s: %s; the newest, %s, is used",
			     c->name, list ? list : "", found[n - 1].version);
	}
	return (ssize_t)n - 1;
}

int payload_versions_derive(const char *dir, const char *arch, const struct config_sh *cfg, struct findings *f,
			    struct payload_versions *ret)
{
	struct payload_versions out = { 0 };
	int r = 0;

	if (!(out.v = calloc(ARRAY_SIZE(components), sizeof(*out.v))))
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(components) && r >= 0; i++) {
		struct found *found = NULL;
		size_t n = 0;

		r = find_versions(dir, arch, &components[i], &found, &n);
		if (r < 0)
			break;
		ssize_t k = choose(&components[i], arch, cfg, found, n, f);
		if (k >= 0) {
			out.v[out.n++] = (struct payload_version){ .component = components[i].name,
								   .version = TAKE_PTR(found[k].version),
								   .file = TAKE_PTR(found[k].file) };
		}
		found_free(found, n);
	}
	if (r < 0) {
		payload_versions_done(&out);
		return r;
	}
	*ret = out;
	return 0;
}

void payload_versions_done(struct payload_versions *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->v[i].version);
		free(v->v[i].file);
	}
	free(v->v);
	*v = (struct payload_versions){ 0 };
}

const char *payload_versions_get(const struct payload_versions *v, const char *component)
{
	for (size_t i = 0; i < v->n; i++)
		if (streq(v->v[i].component, component))
			return v->v[i].version;
	return NULL;
}
