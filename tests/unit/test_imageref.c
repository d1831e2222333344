/* Unit tests for builder/imageref: parsing references, kubespray-offline's push names and the
 * archive file names its download scripts write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "imagelist.h"
#include "imageref.h"
#include "macros.h"
#include "strv.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct parse_case {
	const char *in;
	const char *registry, *repository, *tag, *digest;
};

static const struct parse_case good[] = {
	{ "registry.k8s.io/kube-apiserver:v1.33.7", "registry.k8s.io", "kube-apiserver", "v1.33.7", NULL },
	{ "quay.io/calico/node:v3.30.5", "quay.io", "calico/node", "v3.30.5", NULL },
	{ "nginx:1.29.2", "docker.io", "library/nginx", "1.29.2", NULL },
	{ "nginx", "docker.io", "library/nginx", "latest", NULL },
	{ "rook/ceph:v1.3.2", "docker.io", "rook/ceph", "v1.3.2", NULL },
	{ "docker.io/library/nginx:1.25", "docker.io", "library/nginx", "1.25", NULL },
	{ "docker.io/nginx:1.25", "docker.io", "library/nginx", "1.25", NULL },
	{ "index.docker.io/library/nginx:1.25", "docker.io", "library/nginx", "1.25", NULL },
	{ "reg.local:5000/a/b:1", "reg.local:5000", "a/b", "1", NULL },
	{ "reg.local:5000/a/b", "reg.local:5000", "a/b", "latest", NULL },
	{ "localhost/foo", "localhost", "foo", "latest", NULL },
	{ "localhost:35000/pause:3.10", "localhost:35000", "pause", "3.10", NULL },
	{ "registry.k8s.io/pause:3.10", "registry.k8s.io", "pause", "3.10", NULL },
	{ "ghcr.io/kube-vip/kube-vip:v0.8.9", "ghcr.io", "kube-vip/kube-vip", "v0.8.9", NULL },
	{ "registry.k8s.io/coredns/coredns:v1.12.0", "registry.k8s.io", "coredns/coredns", "v1.12.0", NULL },
	{ "nginx@sha256:" D64, "docker.io", "library/nginx", NULL, "sha256:" D64 },
	{ "quay.io/a/b:v1@sha256:" D64, "quay.io", "a/b", "v1", "sha256:" D64 },
	{ "reg.local:5000/a@sha256:" D64, "reg.local:5000", "a", NULL, "sha256:" D64 },
	{ "a__b/c-d--e/f.g_h:TAG_1.x-y", "docker.io", "a__b/c-d--e/f.g_h", "TAG_1.x-y", NULL },
	{ "[::1]:5000/x:1", "[::1]:5000", "x", "1", NULL },
	{ "My.Registry/x:1", "My.Registry", "x", "1", NULL },
	{ "reg.local:5000", "docker.io", "library/reg.local", "5000", NULL },
};

static void test_parse_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		const struct parse_case *c = &good[i];
		struct image_ref r = { 0 };
		char *err = NULL;
		int k = image_ref_parse(c->in, &r, &err);
		if (k < 0)
			fail_msg("%s: %s", c->in, err);
		assert_string_equal(r.registry, c->registry);
		assert_string_equal(r.repository, c->repository);
		if (c->tag)
			assert_string_equal(r.tag, c->tag);
		else
			assert_null(r.tag);
		if (c->digest)
			assert_string_equal(r.digest, c->digest);
		else
			assert_null(r.digest);
		image_ref_done(&r);
	}
}

struct bad_case {
	const char *in, *reason;
};

static const struct bad_case bad[] = {
	{ "", "empty reference" },
	{ "nginx 1", "whitespace" },
	{ "nginx\t", "whitespace" },
	{ "Nginx:1", "lowercase" },
	{ "quay.io/Calico/node:v1", "lowercase" },
	{ "nginx:", "invalid tag" },
	{ "nginx:-x", "invalid tag" },
	{ "nginx:a/b", "invalid registry" }, /* a ':' before a '/' makes "nginx:a" a registry */
	{ "nginx@sha256:abc", "sha256:<64" },
	{ "nginx@sha512:" D64, "sha256:<64" },
	{ "nginx@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "sha256:<64" },
	{ "nginx@", "sha256:<64" },
	{ ":1", "no repository" },
	{ "@sha256:" D64, "no repository" },
	{ "a//b:1", "empty path component" },
	{ "a/:1", "empty path component" },
	{ "quay.io/:1", "empty path component" },
	{ "a/b-/c", "invalid path component" },
	{ "a/.b", "invalid path component" },
	{ "a/b..c", "invalid path component" },
	{ "a/b___c", "invalid path component" },
	{ "-reg.io/a", "invalid registry" },
	{ "reg.io:/a", "invalid registry" },
	{ "reg.io:50x/a", "invalid registry" },
	{ "reg..io/a", "invalid registry" },
	{ "_/x:_tag", "invalid path component" },
};

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct image_ref r = { 0 };
		char *err = NULL;
		int k = image_ref_parse(bad[i].in, &r, &err);
		if (k != -EINVAL)
			fail_msg("\"%s\" parsed (%d)", bad[i].in, k);
		assert_non_null(err);
		if (!strstr(err, bad[i].reason))
			fail_msg("\"%s\": reason \"%s\" does not say \"%s\"", bad[i].in, err, bad[i].reason);
		assert_null(r.registry);
		free(err);
	}
	/* Longest name accepted, one more refused. */
	char name[300];
	memset(name, 'a', sizeof(name));
	name[255] = '\0';
	struct image_ref r = { 0 };
	assert_int_equal(image_ref_parse(name, &r, NULL), 0);
	image_ref_done(&r);
	name[255] = 'a';
	name[256] = '\0';
	assert_int_equal(image_ref_parse(name, &r, NULL), -EINVAL);
}

static void test_format(void **state)
{
	struct image_ref r = { 0 };
	(void)state;
	assert_int_equal(image_ref_parse("nginx:1.29.2", &r, NULL), 0);
	_cleanup_free_ char *a = image_ref_format(&r);
	assert_string_equal(a, "docker.io/library/nginx:1.29.2");
	image_ref_done(&r);
	assert_int_equal(image_ref_parse("quay.io/a/b:v1@sha256:" D64, &r, NULL), 0);
	_cleanup_free_ char *b = image_ref_format(&r);
	assert_string_equal(b, "quay.io/a/b:v1@sha256:" D64);
	image_ref_done(&r);
}

struct push_case {
	const char *in, *repository;
};

static void test_push_repository(void **state)
{
	static const struct push_case cases[] = {
		{ "docker.io/library/nginx:1.25", "library/nginx" },
		{ "nginx:1.29.2", "library/nginx" },
		{ "rook/ceph:v1.3.2", "rook/ceph" },
		{ "registry.k8s.io/pause:3.10", "pause" },
		{ "registry.k8s.io/coredns/coredns:v1.12.0", "coredns/coredns" },
		{ "k8s.gcr.io/pause:3.2", "pause" },
		{ "gcr.io/distroless/static:nonroot", "distroless/static" },
		{ "ghcr.io/kube-vip/kube-vip:v0.8.9", "kube-vip/kube-vip" },
		{ "quay.io/calico/node:v3.30.5", "calico/node" },
		{ "quay.io/jetstack/cert-manager-controller:v1.15.3", "jetstack/cert-manager-controller" },
		{ "my.registry.example/team/app:1", "my.registry.example/team/app" },
		{ "public.ecr.aws/docker/library/nginx:1", "public.ecr.aws/docker/library/nginx" },
		{ "mirror.gcr.io/library/busybox:1", "mirror.gcr.io/library/busybox" },
		{ "extra.example.com/x/y:1", "x/y" },
		{ "reg.local:5000/a/b:1", "a/b" },
		/* load-push-all-images.sh works on the text: docker.io/library/ only before a name
		 * without '/', and the prefixes in its order, each on what the ones before left. */
		{ "docker.io/busybox:1.36", "busybox" },
		{ "busybox:1.36", "library/busybox" },
		{ "harbor.local/proj/tools/probe:1.0", "tools/probe" },
		{ "registry.k8s.io/docker.io/x:1", "x" },
		{ "quay.io/registry.k8s.io/x:1", "registry.k8s.io/x" },
	};
	char *extra[] = { "extra.example.com", "reg.local:5000/", "harbor.local/proj", NULL };
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *repo = NULL, *err = NULL;
		int k = image_ref_push_repository(cases[i].in, extra, &repo, &err);
		if (k < 0)
			fail_msg("%s: %s", cases[i].in, err);
		if (!streq(repo, cases[i].repository))
			fail_msg("%s: pushed as %s, expected %s", cases[i].in, repo, cases[i].repository);
		free(repo);
	}

	/* Without the extra list, a registry with a port cannot become a path component. */
	char *repo = NULL, *err = NULL;
	assert_int_equal(image_ref_push_repository("reg.local:5000/a/b:1", NULL, &repo, &err), -EINVAL);
	assert_null(repo);
	assert_non_null(strstr(err, "reg.local:5000"));
	free(err);
	assert_int_equal(image_ref_push_repository("My.Registry/x:1", NULL, &repo, NULL), -EINVAL);
	assert_int_equal(image_ref_push_repository("not a reference", NULL, &repo, NULL), -EINVAL);
}

/* Every name an image must be found under: the push name, and the mirror's when it differs. */
static void test_names(void **state)
{
	static const struct {
		const char *in, *names[3];
	} cases[] = {
		{ "docker.io/busybox:1.36", { "busybox", "library/busybox" } },
		{ "busybox:1.36", { "library/busybox" } },
		{ "registry.k8s.io/pause:3.10", { "pause" } },
		{ "harbor.local/proj/tools/probe:1.0", { "tools/probe", "proj/tools/probe" } },
		{ "myregistry.io/team/app:1.0", { "team/app" } },
		/* Not stripped, not mirrored: a node asks for it by the kept name. */
		{ "my.registry.example/team/app:1", { "my.registry.example/team/app" } },
	};
	char *extra[] = { "harbor.local/proj", "myregistry.io", NULL };
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_strv_free_ char **names = NULL;
		assert_int_equal(image_ref_names(cases[i].in, extra, &names, NULL), 0);
		size_t n = strv_length(names);
		for (size_t k = 0; k < 3; k++) {
			const char *got = k < n ? names[k] : "(end)", *want = cases[i].names[k] ? cases[i].names[k] : "(end)";
			if (!streq(got, want))
				fail_msg("%s: name %zu is %s, expected %s", cases[i].in, k, got, want);
		}
	}
}

static void assert_names(const char *line, const char *const *expected)
{
	_cleanup_strv_free_ char **names = NULL;
	size_t n = 0;

	assert_int_equal(image_ref_archive_names(line, &names), 0);
	for (; expected[n]; n++) {
		if (!names[n])
			fail_msg("%s: only %zu names, expected %s next", line, n, expected[n]);
		if (!streq(names[n], expected[n]))
			fail_msg("%s: name %zu is %s, expected %s", line, n, names[n], expected[n]);
	}
	if (names[n])
		fail_msg("%s: unexpected extra name %s", line, names[n]);
}

static void test_archive_names(void **state)
{
	(void)state;
	assert_names("registry.k8s.io/kube-apiserver:v1.33.7",
		     (const char *const[]){ "registry.k8s.io_kube-apiserver-v1.33.7.tar.gz",
					    "registry.k8s.io_kube-apiserver-v1.33.7.tar", NULL });
	assert_names("quay.io/calico/node:v3.30.5",
		     (const char *const[]){ "quay.io_calico_node-v3.30.5.tar.gz", "quay.io_calico_node-v3.30.5.tar", NULL });
	assert_names("nginx:1.29.2", (const char *const[]){ "nginx-1.29.2.tar.gz", "docker.io_library_nginx-1.29.2.tar.gz",
							     "nginx-1.29.2.tar", "docker.io_library_nginx-1.29.2.tar", NULL });
	assert_names("rook/ceph:v1.3.2", (const char *const[]){ "rook_ceph-v1.3.2.tar.gz", "docker.io_rook_ceph-v1.3.2.tar.gz",
								 "rook_ceph-v1.3.2.tar", "docker.io_rook_ceph-v1.3.2.tar", NULL });
	/* The script's regex leaves "nginx" and "my-org/x" alone; the canonical form is offered too. */
	assert_names("nginx", (const char *const[]){ "nginx.tar.gz", "docker.io_library_nginx.tar.gz", "nginx.tar",
						      "docker.io_library_nginx.tar", NULL });
	assert_names("my-org/x:1", (const char *const[]){ "my-org_x-1.tar.gz", "docker.io_my-org_x-1.tar.gz", "my-org_x-1.tar",
							   "docker.io_my-org_x-1.tar", NULL });
	assert_names("reg.local:5000/a/b:1",
		     (const char *const[]){ "reg.local-5000_a_b-1.tar.gz", "reg.local-5000_a_b-1.tar", NULL });
	assert_names("quay.io/a/b:v1@sha256:" D64,
		     (const char *const[]){ "quay.io_a_b-v1@sha256-" D64 ".tar.gz", "quay.io_a_b-v1@sha256-" D64 ".tar", NULL });
	/* Not a valid reference: still mapped literally, so the caller can say which file it looked for. */
	assert_names("Bad Ref", (const char *const[]){ "Bad Ref.tar.gz", "Bad Ref.tar", NULL });
}

static void test_validators(void **state)
{
	(void)state;
	assert_true(image_ref_repository_is_valid("library/nginx"));
	assert_true(image_ref_repository_is_valid("my.registry.example/team/app"));
	assert_false(image_ref_repository_is_valid(""));
	assert_false(image_ref_repository_is_valid("../x"));
	assert_false(image_ref_repository_is_valid("a/../b"));
	assert_false(image_ref_repository_is_valid("/a"));
	assert_false(image_ref_repository_is_valid("a/"));
	assert_false(image_ref_repository_is_valid("reg:5000/a"));
	assert_false(image_ref_repository_is_valid("A/b"));
	assert_true(image_ref_tag_is_valid("v1.33.7"));
	assert_true(image_ref_tag_is_valid("_x"));
	assert_false(image_ref_tag_is_valid(".x"));
	assert_false(image_ref_tag_is_valid("a/b"));
	assert_false(image_ref_tag_is_valid(""));
	char tag[130];
	memset(tag, 'a', sizeof(tag));
	tag[128] = '\0';
	assert_true(image_ref_tag_is_valid(tag));
	tag[128] = 'a';
	tag[129] = '\0';
	assert_false(image_ref_tag_is_valid(tag));
}

/* Write a list of LINES references, each padded to about WIDTH bytes, one in REPEAT_EVERY a
 * repeat of the first; return its size. */
static size_t write_list(const char *path, size_t lines, size_t width, size_t repeat_every)
{
	FILE *f = fopen(path, "we");
	size_t size = 0;

	assert_non_null(f);
	for (size_t i = 0; i < lines; i++) {
		int n = repeat_every && i % repeat_every == 1
				? fprintf(f, "registry.example.org/team/img%06zu-%0*d:v1.%zu\n", (size_t)0, (int)width - 48, 0, (size_t)0)
				: fprintf(f, "registry.example.org/team/img%06zu-%0*d:v1.%zu\n", i, (int)width - 48, 0, i);
		assert_true(n > 0);
		size += n;
	}
	assert_int_equal(fclose(f), 0);
	return size;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A 16 MiB list: as many lines as a list may hold is read and mapped in linear time (well
 * within 2 s), more lines than that are refused at once. */
static void test_list_16mib(void **state)
{
	char path[] = "/tmp/gapbox-test-imagelist-XXXXXX";
	struct image_list_item *items = NULL;
	struct imageref *refs = NULL;
	struct timespec t0;
	size_t n = 0, m = 0, bad = 0, size;
	int fd = mkstemp(path);
	double read_s, map_s;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	size = write_list(path, IMAGE_LIST_MAX, IMAGE_LIST_FILE_MAX / IMAGE_LIST_MAX - 2, 100);
	assert_true(size > IMAGE_LIST_FILE_MAX - (1u << 20) && size <= IMAGE_LIST_FILE_MAX);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(image_list_read(path, &items, &n), 0);
	read_s = seconds_since(&t0);
	assert_int_equal(n, IMAGE_LIST_MAX);
	image_list_free(items, n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(imageref_read_list(path, NULL, &refs, &m, &bad), 0);
	map_s = seconds_since(&t0);
	assert_int_equal(m, IMAGE_LIST_MAX);
	assert_int_equal(bad, 0);
	assert_non_null(strstr(refs[m - 1].ref, "img099999-"));
	imageref_free_all(refs, m);
	printf("# a %zu-byte list of %u references: read in %.3f s, read and mapped in %.3f s\n", size, IMAGE_LIST_MAX,
	       read_s, map_s);
	assert_true(read_s < 2.0 && map_s < 2.0);

	/* Short lines: more references than a list may hold. */
	size = write_list(path, IMAGE_LIST_FILE_MAX / 64, 60, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(image_list_read(path, &items, &n), -E2BIG);
	printf("# a %zu-byte list of %u references: refused (more than %u) in %.3f s\n", size, IMAGE_LIST_FILE_MAX / 64,
	       IMAGE_LIST_MAX, seconds_since(&t0));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),  cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_format),      cmocka_unit_test(test_push_repository), cmocka_unit_test(test_names),
		cmocka_unit_test(test_archive_names), cmocka_unit_test(test_validators),
		cmocka_unit_test(test_list_16mib),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
