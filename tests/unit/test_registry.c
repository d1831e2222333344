/* Unit tests for builder/imagearchive and builder/registry: tiny image archives built here with
 * libarchive (docker-archive, OCI layout, Docker 25 style) imported into a folder, the exact
 * registry store they give, blob sharing, and the errors hostile or broken archives give. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "../../builder/payload/payloadstream.h"
#include "../../builder/payload/registry.h"
#include "fsutil.h"
#include "macros.h"
#include "sha256.h"
#include "strv.h"
#include "sumsfile.h"

/* The repositories of one import. */
#define REPOS(...) ((char *[]){ __VA_ARGS__, NULL })

#define ROOT "registry/docker/registry/v2"

/* ---- small builders ---- */

struct blob {
	char hex[SHA256_HEX_LEN + 1];
	char *data;
	size_t size;
};

static void blob_set(struct blob *b, const void *data, size_t size)
{
	struct gb_sha256 *h = gb_sha256_new();
	assert_non_null(h);
	b->data = malloc(size + 1);
	assert_non_null(b->data);
	memcpy(b->data, data, size);
	b->data[size] = '\0';
	b->size = size;
	gb_sha256_update(h, data, size);
	gb_sha256_final_hex(h, b->hex);
}

static void blob_printf(struct blob *b, const char *fmt, ...) _printf_(2, 3);
static void blob_printf(struct blob *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	blob_set(b, s, strlen(s));
	free(s);
}

static void blob_done(struct blob *b)
{
	free(b->data);
	*b = (struct blob){ 0 };
}

/* A layer: a tar holding one file, optionally gzip-compressed. */
static void make_layer(struct blob *b, const char *file, const char *content, bool gz)
{
	static char buf[1 << 20];
	size_t used = 0;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	archive_write_set_bytes_per_block(a, 512);
	assert_int_equal(archive_write_open_memory(a, buf, sizeof(buf), &used), ARCHIVE_OK);
	archive_entry_set_pathname(e, file);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, strlen(content));
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, content, strlen(content)), (la_ssize_t)strlen(content));
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	blob_set(b, buf, used);
}

/* sha256 of the uncompressed layer: build it again without gzip (same content). */
static void layer_diff_id(const char *file, const char *content, char hex[SHA256_HEX_LEN + 1])
{
	struct blob b = { 0 };
	make_layer(&b, file, content, false);
	memcpy(hex, b.hex, SHA256_HEX_LEN + 1);
	blob_done(&b);
}

enum { T_FILE, T_DIR, T_SYMLINK, T_HARDLINK, T_CHARDEV };

struct tentry {
	const char *name;
	int type;
	const void *data;
	size_t size;
	const char *link;
};

static void write_archive(const char *path, bool gz, const struct tentry *ents, size_t n)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_mtime(e, 1700000000, 0);
		switch (ents[i].type) {
		case T_FILE:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, ents[i].size);
			break;
		case T_DIR:
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case T_SYMLINK:
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, ents[i].link);
			break;
		case T_HARDLINK:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, ents[i].link);
			break;
		case T_CHARDEV:
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_perm(e, 0666);
			archive_entry_set_rdev(e, makedev(1, 3));
			break;
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (ents[i].type == T_FILE && ents[i].size)
			assert_int_equal(archive_write_data(a, ents[i].data, ents[i].size), (la_ssize_t)ents[i].size);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void make_config(struct blob *b, const char *arch, const char *const *diff_ids, size_t n)
{
	char list[4096] = "";
	for (size_t i = 0; i < n; i++) {
		strcat(list, i ? ",\"sha256:" : "\"sha256:");
		strcat(list, diff_ids[i]);
		strcat(list, "\"");
	}
	blob_printf(b, "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/hello\"]},"
		       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
		    arch, list);
}

static void make_oci_manifest(struct blob *b, const struct blob *config, const struct blob *layer)
{
	blob_printf(b,
		    "{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
		    "  \"config\": {\"mediaType\": \"application/vnd.oci.image.config.v1+json\", \"digest\": \"sha256:%s\", \"size\": %zu},\n"
		    "  \"layers\": [{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\", \"digest\": \"sha256:%s\", \"size\": %zu}]\n}\n",
		    config->hex, config->size, layer->hex, layer->size);
}

/* ---- per-test folders ---- */

struct fx {
	char base[64];
	char out[128];  /* the payload folder */
	char arc[128];  /* where test archives go */
	struct payload_stream *ps;
	struct registry_store *rs;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->base, sizeof(f->base), "/tmp/gapbox-test-registry-XXXXXX");
	if (!mkdtemp(f->base))
		return -1;
	snprintf(f->out, sizeof(f->out), "%s/payload", f->base);
	snprintf(f->arc, sizeof(f->arc), "%s/images", f->base);
	if (mkdir(f->arc, 0755) < 0)
		return -1;
	if (payload_stream_open_dir(f->out, 1700000000, NULL, &f->ps) < 0)
		return -1;
	if (registry_store_new(f->ps, ROOT, NULL, &f->rs) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	registry_store_free(f->rs);
	if (f->ps)
		payload_stream_abort(f->ps);
	rm_rf(f->base);
	free(f);
	return 0;
}

static char *arc_path(struct fx *f, const char *name)
{
	static char p[256];
	snprintf(p, sizeof(p), "%s/%s", f->arc, name);
	return p;
}

static void read_whole(const char *path, char **ret, size_t *ret_size)
{
	int k = read_file(path, 64 << 20, ret, ret_size);
	if (k < 0)
		fail_msg("cannot read %s: %s", path, strerror(-k));
}

/* A link file of the store: exactly "sha256:<hex>", 71 bytes, no newline. */
static void assert_link(struct fx *f, const char *rel, const char *hex)
{
	char path[1024], want[80];
	_cleanup_free_ char *data = NULL;
	size_t size;

	snprintf(path, sizeof(path), "%s/" ROOT "/%s", f->out, rel);
	read_whole(path, &data, &size);
	assert_int_equal(size, 71);
	snprintf(want, sizeof(want), "sha256:%s", hex);
	assert_memory_equal(data, want, 71);
}

/* A blob file whose content hashes to the digest its path names. */
static void assert_blob(struct fx *f, const char *hex)
{
	char path[1024], got[SHA256_HEX_LEN + 1];

	snprintf(path, sizeof(path), "%s/" ROOT "/blobs/sha256/%.2s/%s/data", f->out, hex, hex);
	int k = gb_sha256_file(path, got, NULL);
	if (k < 0)
		fail_msg("blob %s missing: %s", hex, strerror(-k));
	assert_string_equal(got, hex);
}

static void collect_files(const char *dir, const char *rel, char ***list)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char sub[1024], subrel[1024];
		struct stat st;
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		snprintf(subrel, sizeof(subrel), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		assert_int_equal(lstat(sub, &st), 0);
		if (S_ISDIR(st.st_mode))
			collect_files(sub, subrel, list);
		else
			assert_int_equal(strv_push(list, subrel), 0);
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file under the store root, sorted, against EXPECTED (sorted here too). */
static void assert_tree(struct fx *f, char **expected)
{
	_cleanup_strv_free_ char **got = NULL;
	char root[256];
	size_t n;

	snprintf(root, sizeof(root), "%s/" ROOT, f->out);
	collect_files(root, "", &got);
	n = strv_length(got);
	if (n)
		qsort(got, n, sizeof(char *), cmp_str);
	qsort(expected, strv_length(expected), sizeof(char *), cmp_str);
	for (size_t i = 0; i < n || expected[i]; i++) {
		if (i >= n)
			fail_msg("missing from the store: %s", expected[i]);
		if (!expected[i])
			fail_msg("unexpected in the store: %s", got[i]);
		if (!streq(got[i], expected[i]))
			fail_msg("store has %s where %s was expected", got[i], expected[i]);
	}
}

static void push_fmt(char ***l, const char *fmt, ...) _printf_(2, 3);
static void push_fmt(char ***l, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	assert_int_equal(strv_consume(l, s), 0);
}

static void push_blob(char ***l, const char *hex)
{
	push_fmt(l, "blobs/sha256/%.2s/%s/data", hex, hex);
}

static void push_layer_link(char ***l, const char *repo, const char *hex)
{
	push_fmt(l, "repositories/%s/_layers/sha256/%s/link", repo, hex);
}

static void push_revision(char ***l, const char *repo, const char *hex)
{
	push_fmt(l, "repositories/%s/_manifests/revisions/sha256/%s/link", repo, hex);
}

static void push_tag(char ***l, const char *repo, const char *tag, const char *hex)
{
	push_fmt(l, "repositories/%s/_manifests/tags/%s/current/link", repo, tag);
	push_fmt(l, "repositories/%s/_manifests/tags/%s/index/sha256/%s/link", repo, tag, hex);
}

static void assert_tag(struct fx *f, const char *repo, const char *tag, const char *hex)
{
	char rel[512];
	snprintf(rel, sizeof(rel), "repositories/%s/_manifests/tags/%s/current/link", repo, tag);
	assert_link(f, rel, hex);
	snprintf(rel, sizeof(rel), "repositories/%s/_manifests/tags/%s/index/sha256/%s/link", repo, tag, hex);
	assert_link(f, rel, hex);
}

static void assert_layer_link(struct fx *f, const char *repo, const char *hex)
{
	char rel[512];
	snprintf(rel, sizeof(rel), "repositories/%s/_layers/sha256/%s/link", repo, hex);
	assert_link(f, rel, hex);
}

static void assert_revision(struct fx *f, const char *repo, const char *hex)
{
	char rel[512];
	snprintf(rel, sizeof(rel), "repositories/%s/_manifests/revisions/sha256/%s/link", repo, hex);
	assert_link(f, rel, hex);
}

static void import_ok(struct fx *f, const char *archive, const char *repo, const char *tag, const char *arch,
		      struct registry_image_info *info)
{
	char *err = NULL;
	int k = registry_import(f->rs, AT_FDCWD, archive, REPOS((char *)repo), tag, arch, info, &err);
	if (k < 0)
		fail_msg("import of %s failed (%d): %s", archive, k, err ? err : "(no message)");
}

/* A podman-style docker-archive (containers/image's writer): <diff_id>.tar layers at the top,
 * <digest>.json config, manifest.json, and legacy <id>/ folders whose layer.tar is a symlink
 * back to the layer. */
struct podman_image {
	struct blob layer, config;
	char path[256];
};

static void make_podman_archive(struct fx *f, struct podman_image *im, const char *name, const char *content,
				const char *arch, bool gz)
{
	char layer_name[80], config_name[80], id_dir[80], id_layer[100], id_json[100], id_version[100], up[90];
	_cleanup_free_ char *manifest = NULL;
	const char *legacy_json = "{\"id\":\"legacy\",\"created\":\"1970-01-01T00:00:00Z\"}";
	const char *repositories = "{\"docker.io/library/hello\":{\"1\":\"legacy\"}}";

	make_layer(&im->layer, "hello.txt", content, false);
	make_config(&im->config, arch, (const char *const[]){ im->layer.hex }, 1);
	snprintf(layer_name, sizeof(layer_name), "%s.tar", im->layer.hex);
	snprintf(config_name, sizeof(config_name), "%s.json", im->config.hex);
	/* Legacy IDs are not layer digests: make one up from the config's. */
	snprintf(id_dir, sizeof(id_dir), "%.60sbeef", im->config.hex);
	snprintf(id_layer, sizeof(id_layer), "%s/layer.tar", id_dir);
	snprintf(id_json, sizeof(id_json), "%s/json", id_dir);
	snprintf(id_version, sizeof(id_version), "%s/VERSION", id_dir);
	snprintf(up, sizeof(up), "../%s", layer_name);
	assert_true(asprintf(&manifest, "[{\"Config\":\"%s\",\"RepoTags\":[\"docker.io/library/hello:1\"],\"Layers\":[\"%s\"]}]",
			     config_name, layer_name) > 0);
	snprintf(im->path, sizeof(im->path), "%s", arc_path(f, name));
	write_archive(im->path, gz,
		      (const struct tentry[]){
			      { layer_name, T_FILE, im->layer.data, im->layer.size, NULL },
			      { config_name, T_FILE, im->config.data, im->config.size, NULL },
			      { id_dir, T_DIR, NULL, 0, NULL },
			      { id_layer, T_SYMLINK, NULL, 0, up },
			      { id_json, T_FILE, legacy_json, strlen(legacy_json), NULL },
			      { id_version, T_FILE, "1.0", 3, NULL },
			      { "manifest.json", T_FILE, manifest, strlen(manifest), NULL },
			      { "repositories", T_FILE, repositories, strlen(repositories), NULL },
		      },
		      8);
}

static void podman_done(struct podman_image *im)
{
	blob_done(&im->layer);
	blob_done(&im->config);
}

/* ---- tests ---- */

static void test_docker_archive_plain(void **state)
{
	struct fx *f = *state;
	struct podman_image im = { 0 };
	struct registry_image_info info = { 0 };
	_cleanup_strv_free_ char **tree = NULL;
	_cleanup_free_ char *want = NULL, *got = NULL;
	char path[1024], mhex[SHA256_HEX_LEN + 1];
	struct gb_sha256 *h;
	size_t size;

	make_podman_archive(f, &im, "docker.io_library_hello-1.tar", "hello from podman\n", "amd64", false);
	import_ok(f, im.path, "library/hello", "1", "amd64", &info);

	/* The synthesized manifest, byte for byte: fixed key order, no whitespace. */
	assert_true(asprintf(&want,
			     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
			     "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":%zu,\"digest\":\"sha256:%s\"},"
			     "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar\",\"size\":%zu,\"digest\":\"sha256:%s\"}]}",
			     im.config.size, im.config.hex, im.layer.size, im.layer.hex) > 0);
	h = gb_sha256_new();
	gb_sha256_update(h, want, strlen(want));
	gb_sha256_final_hex(h, mhex);
	snprintf(path, sizeof(path), "%s/" ROOT "/blobs/sha256/%.2s/%s/data", f->out, mhex, mhex);
	read_whole(path, &got, &size);
	assert_int_equal(size, strlen(want));
	assert_memory_equal(got, want, size);

	assert_string_equal(info.format, "docker-archive");
	assert_string_equal(info.media_type, "application/vnd.docker.distribution.manifest.v2+json");
	assert_memory_equal(info.digest, "sha256:", 7);
	assert_string_equal(info.digest + 7, mhex);
	assert_int_equal(strv_length(info.platforms), 1);
	assert_string_equal(info.platforms[0], "linux/amd64");
	assert_int_equal(info.blobs_written, 3);
	assert_int_equal(info.blobs_shared, 0);
	assert_int_equal(info.bytes_written, im.layer.size + im.config.size + strlen(want));
	assert_null(info.warnings);

	push_blob(&tree, im.layer.hex);
	push_blob(&tree, im.config.hex);
	push_blob(&tree, mhex);
	push_layer_link(&tree, "library/hello", im.layer.hex);
	push_layer_link(&tree, "library/hello", im.config.hex);
	push_revision(&tree, "library/hello", mhex);
	push_tag(&tree, "library/hello", "1", mhex);
	assert_tree(f, tree);
	assert_blob(f, im.layer.hex);
	assert_blob(f, im.config.hex);
	assert_blob(f, mhex);
	assert_layer_link(f, "library/hello", im.layer.hex);
	assert_layer_link(f, "library/hello", im.config.hex);
	assert_revision(f, "library/hello", mhex);
	assert_tag(f, "library/hello", "1", mhex);

	registry_image_info_done(&info);
	podman_done(&im);
}

/* docker save < 25: <id>/layer.tar names that are no digest (second pass), a gzip layer among
 * them, the whole archive gzip-compressed as kubespray-offline does. */
static void test_docker_archive_legacy_gzip(void **state)
{
	struct fx *f = *state;
	struct blob l1 = { 0 }, l2 = { 0 }, cfg = { 0 };
	struct registry_image_info info = { 0 };
	_cleanup_strv_free_ char **tree = NULL;
	_cleanup_free_ char *manifest = NULL, *m = NULL;
	char d2[SHA256_HEX_LEN + 1], cfg_name[80], path[1024], mhex[SHA256_HEX_LEN + 1];
	const char *id1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *id2 = "2222222222222222222222222222222222222222222222222222222222222222";
	size_t size;

	make_layer(&l1, "etc/os-release", "ID=test\n", false);
	make_layer(&l2, "bin/hello", "#!/bin/sh\necho hello\n", true);
	layer_diff_id("bin/hello", "#!/bin/sh\necho hello\n", d2);
	make_config(&cfg, "amd64", (const char *const[]){ l1.hex, d2 }, 2);
	snprintf(cfg_name, sizeof(cfg_name), "%s.json", cfg.hex);
	assert_true(asprintf(&manifest, "[{\"Config\":\"%s\",\"RepoTags\":[\"quay.io/x/y:v1\"],\"Layers\":[\"%s/layer.tar\",\"%s/layer.tar\"]}]",
			     cfg_name, id1, id2) > 0);
	char n1[80], n2[80], j1[80], v1[80];
	snprintf(n1, sizeof(n1), "%s/layer.tar", id1);
	snprintf(n2, sizeof(n2), "%s/layer.tar", id2);
	snprintf(j1, sizeof(j1), "%s/json", id1);
	snprintf(v1, sizeof(v1), "%s/VERSION", id1);
	const char *legacy_json = "{\"id\":\"1111\"}";
	write_archive(arc_path(f, "quay.io_x_y-v1.tar.gz"), true,
		      (const struct tentry[]){
			      { id1, T_DIR, NULL, 0, NULL },
			      { v1, T_FILE, "1.0", 3, NULL },
			      { j1, T_FILE, legacy_json, strlen(legacy_json), NULL },
			      { n1, T_FILE, l1.data, l1.size, NULL },
			      { id2, T_DIR, NULL, 0, NULL },
			      { n2, T_FILE, l2.data, l2.size, NULL },
			      { cfg_name, T_FILE, cfg.data, cfg.size, NULL },
			      { "manifest.json", T_FILE, manifest, strlen(manifest), NULL },
			      { "repositories", T_FILE, "{}", 2, NULL },
		      },
		      9);
	import_ok(f, arc_path(f, "quay.io_x_y-v1.tar.gz"), "x/y", "v1", "amd64", &info);
	assert_string_equal(info.format, "docker-archive");
	assert_int_equal(info.blobs_written, 4);
	memcpy(mhex, info.digest + 7, sizeof(mhex));

	snprintf(path, sizeof(path), "%s/" ROOT "/blobs/sha256/%.2s/%s/data", f->out, mhex, mhex);
	read_whole(path, &m, &size);
	/* The uncompressed layer keeps diff.tar, the gzip one says so. */
	assert_non_null(strstr(m, "\"application/vnd.docker.image.rootfs.diff.tar\",\"size\""));
	assert_non_null(strstr(m, "\"application/vnd.docker.image.rootfs.diff.tar.gzip\""));

	push_blob(&tree, l1.hex);
	push_blob(&tree, l2.hex);
	push_blob(&tree, cfg.hex);
	push_blob(&tree, mhex);
	push_layer_link(&tree, "x/y", l1.hex);
	push_layer_link(&tree, "x/y", l2.hex);
	push_layer_link(&tree, "x/y", cfg.hex);
	push_revision(&tree, "x/y", mhex);
	push_tag(&tree, "x/y", "v1", mhex);
	assert_tree(f, tree);
	assert_blob(f, l1.hex);
	assert_blob(f, l2.hex);
	assert_blob(f, cfg.hex);
	assert_blob(f, mhex);
	assert_tag(f, "x/y", "v1", mhex);
	assert_layer_link(f, "x/y", l2.hex);

	registry_image_info_done(&info);
	blob_done(&l1);
	blob_done(&l2);
	blob_done(&cfg);
}

/* An OCI layout (nerdctl save): one manifest, stored byte for byte. */
struct oci_image {
	struct blob layer, config, manifest;
	char diff[SHA256_HEX_LEN + 1];
};

static void make_oci_image(struct oci_image *im, const char *content, const char *arch)
{
	make_layer(&im->layer, "hello.txt", content, true);
	layer_diff_id("hello.txt", content, im->diff);
	make_config(&im->config, arch, (const char *const[]){ im->diff }, 1);
	make_oci_manifest(&im->manifest, &im->config, &im->layer);
}

static void oci_done(struct oci_image *im)
{
	blob_done(&im->layer);
	blob_done(&im->config);
	blob_done(&im->manifest);
}

static char *blob_name(const struct blob *b)
{
	char *s;
	assert_true(asprintf(&s, "blobs/sha256/%s", b->hex) > 0);
	return s;
}

static void test_oci_single(void **state)
{
	struct fx *f = *state;
	struct oci_image im = { 0 };
	struct registry_image_info info = { 0 };
	_cleanup_strv_free_ char **tree = NULL;
	_cleanup_free_ char *index = NULL, *bl = NULL, *bc = NULL, *bm = NULL, *stored = NULL;
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char path[1024];
	size_t size;

	make_oci_image(&im, "hello from nerdctl\n", "amd64");
	assert_true(asprintf(&index, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
				     "\"digest\":\"sha256:%s\",\"size\":%zu,\"annotations\":{\"io.containerd.image.name\":\"registry.k8s.io/pause:3.10\"}}]}",
			     im.manifest.hex, im.manifest.size) > 0);
	bl = blob_name(&im.layer);
	bc = blob_name(&im.config);
	bm = blob_name(&im.manifest);
	write_archive(arc_path(f, "registry.k8s.io_pause-3.10.tar"), false,
		      (const struct tentry[]){
			      { "blobs", T_DIR, NULL, 0, NULL },
			      { "blobs/sha256", T_DIR, NULL, 0, NULL },
			      { bc, T_FILE, im.config.data, im.config.size, NULL },
			      { bl, T_FILE, im.layer.data, im.layer.size, NULL },
			      { bm, T_FILE, im.manifest.data, im.manifest.size, NULL },
			      { "index.json", T_FILE, index, strlen(index), NULL },
			      { "oci-layout", T_FILE, layout, strlen(layout), NULL },
		      },
		      7);
	import_ok(f, arc_path(f, "registry.k8s.io_pause-3.10.tar"), "pause", "3.10", "amd64", &info);
	assert_string_equal(info.format, "oci-layout");
	assert_string_equal(info.media_type, "application/vnd.oci.image.manifest.v1+json");
	assert_string_equal(info.digest + 7, im.manifest.hex);
	assert_string_equal(info.platforms[0], "linux/amd64");
	assert_int_equal(info.blobs_written, 3);

	/* Byte for byte, whitespace and all. */
	snprintf(path, sizeof(path), "%s/" ROOT "/blobs/sha256/%.2s/%s/data", f->out, im.manifest.hex, im.manifest.hex);
	read_whole(path, &stored, &size);
	assert_int_equal(size, im.manifest.size);
	assert_memory_equal(stored, im.manifest.data, size);

	push_blob(&tree, im.layer.hex);
	push_blob(&tree, im.config.hex);
	push_blob(&tree, im.manifest.hex);
	push_layer_link(&tree, "pause", im.layer.hex);
	push_layer_link(&tree, "pause", im.config.hex);
	push_revision(&tree, "pause", im.manifest.hex);
	push_tag(&tree, "pause", "3.10", im.manifest.hex);
	assert_tree(f, tree);
	assert_blob(f, im.layer.hex);
	assert_tag(f, "pause", "3.10", im.manifest.hex);
	assert_revision(f, "pause", im.manifest.hex);

	registry_image_info_done(&info);
	oci_done(&im);
}

/* A multi-platform index of which only amd64 is in the archive (nerdctl save of a pulled
 * image, Docker 25 with the containerd store). */
static void make_index_archive(struct fx *f, const char *name, struct oci_image *im, struct blob *idx,
			       const char *present_arch)
{
	_cleanup_free_ char *index_json = NULL, *bl = NULL, *bc = NULL, *bm = NULL, *bi = NULL;
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	const char *fake_arm = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	const char *fake_s390x = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	const char *fake_amd = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
	bool amd = streq(present_arch, "amd64");

	make_oci_image(im, "multi-platform\n", present_arch);
	blob_printf(idx,
		    "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n   \"manifests\": [\n"
		    "      {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"sha256:%s\", \"size\": %zu, \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}},\n"
		    "      {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"sha256:%s\", \"size\": %zu, \"platform\": {\"architecture\": \"arm64\", \"os\": \"linux\", \"variant\": \"v8\"}},\n"
		    "      {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"sha256:%s\", \"size\": 1234, \"platform\": {\"architecture\": \"s390x\", \"os\": \"linux\"}}\n"
		    "   ]\n}\n",
		    amd ? im->manifest.hex : fake_amd, amd ? im->manifest.size : 999, amd ? fake_arm : im->manifest.hex,
		    amd ? 999 : im->manifest.size, fake_s390x);
	assert_true(asprintf(&index_json, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
					  "\"digest\":\"sha256:%s\",\"size\":%zu}]}",
			     idx->hex, idx->size) > 0);
	bl = blob_name(&im->layer);
	bc = blob_name(&im->config);
	bm = blob_name(&im->manifest);
	bi = blob_name(idx);
	write_archive(arc_path(f, name), true,
		      (const struct tentry[]){
			      { bi, T_FILE, idx->data, idx->size, NULL },
			      { bc, T_FILE, im->config.data, im->config.size, NULL },
			      { bl, T_FILE, im->layer.data, im->layer.size, NULL },
			      { bm, T_FILE, im->manifest.data, im->manifest.size, NULL },
			      { "index.json", T_FILE, index_json, strlen(index_json), NULL },
			      { "oci-layout", T_FILE, layout, strlen(layout), NULL },
		      },
		      6);
}

static void test_oci_index_missing_platform(void **state)
{
	struct fx *f = *state;
	struct oci_image im = { 0 };
	struct blob idx = { 0 };
	struct registry_image_info info = { 0 };
	_cleanup_strv_free_ char **tree = NULL;
	_cleanup_free_ char *stored = NULL;
	char *err = NULL;
	char path[1024];
	size_t size;

	make_index_archive(f, "quay.io_calico_node-v3.30.5.tar.gz", &im, &idx, "amd64");
	import_ok(f, arc_path(f, "quay.io_calico_node-v3.30.5.tar.gz"), "calico/node", "v3.30.5", "amd64", &info);
	assert_string_equal(info.media_type, "application/vnd.oci.image.index.v1+json");
	assert_string_equal(info.digest + 7, idx.hex);
	assert_int_equal(strv_length(info.platforms), 1);
	assert_string_equal(info.platforms[0], "linux/amd64");
	assert_int_equal(strv_length(info.warnings), 1);
	assert_string_equal(info.warnings[0], "index lists linux/arm64/v8, linux/s390x whose blobs are not in the archive");

	snprintf(path, sizeof(path), "%s/" ROOT "/blobs/sha256/%.2s/%s/data", f->out, idx.hex, idx.hex);
	read_whole(path, &stored, &size);
	assert_int_equal(size, idx.size);
	assert_memory_equal(stored, idx.data, size);

	push_blob(&tree, im.layer.hex);
	push_blob(&tree, im.config.hex);
	push_blob(&tree, im.manifest.hex);
	push_blob(&tree, idx.hex);
	push_layer_link(&tree, "calico/node", im.layer.hex);
	push_layer_link(&tree, "calico/node", im.config.hex);
	push_revision(&tree, "calico/node", im.manifest.hex);
	push_revision(&tree, "calico/node", idx.hex);
	push_tag(&tree, "calico/node", "v3.30.5", idx.hex);
	assert_tree(f, tree);
	assert_tag(f, "calico/node", "v3.30.5", idx.hex);
	assert_revision(f, "calico/node", im.manifest.hex);
	assert_revision(f, "calico/node", idx.hex);

	/* For an arm64 payload the same archive lacks the platform that matters. */
	assert_int_equal(registry_import(f->rs, AT_FDCWD, arc_path(f, "quay.io_calico_node-v3.30.5.tar.gz"), REPOS("calico/node"), "arm",
					 "arm64", NULL, &err),
			 -ENOENT);
	assert_non_null(strstr(err, "quay.io_calico_node-v3.30.5.tar.gz"));
	assert_non_null(strstr(err, "the index lists linux/arm64 but its manifest is not in the archive; the archive has: linux/amd64"));
	free(err);

	registry_image_info_done(&info);
	oci_done(&im);
	blob_done(&idx);
}

/* Another platform's manifest is there but not its config: reported, not linked. */
static void test_oci_index_partial_platform(void **state)
{
	struct fx *f = *state;
	struct oci_image amd = { 0 }, arm = { 0 };
	struct blob idx = { 0 };
	struct registry_image_info info = { 0 };
	_cleanup_strv_free_ char **tree = NULL;
	_cleanup_free_ char *index_json = NULL, *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL, *b5 = NULL, *b6 = NULL;
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";

	make_oci_image(&amd, "amd\n", "amd64");
	make_oci_image(&arm, "arm\n", "arm64");
	blob_printf(&idx,
		    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
		    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
		    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
		    arm.manifest.hex, arm.manifest.size, amd.manifest.hex, amd.manifest.size);
	assert_true(asprintf(&index_json, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu}]}",
			     idx.hex, idx.size) > 0);
	b1 = blob_name(&idx);
	b2 = blob_name(&amd.manifest);
	b3 = blob_name(&amd.config);
	b4 = blob_name(&amd.layer);
	b5 = blob_name(&arm.manifest);
	b6 = blob_name(&arm.layer);
	write_archive(arc_path(f, "partial.tar"), false,
		      (const struct tentry[]){
			      { b1, T_FILE, idx.data, idx.size, NULL },
			      { b2, T_FILE, amd.manifest.data, amd.manifest.size, NULL },
			      { b3, T_FILE, amd.config.data, amd.config.size, NULL },
			      { b4, T_FILE, amd.layer.data, amd.layer.size, NULL },
			      { b5, T_FILE, arm.manifest.data, arm.manifest.size, NULL },
			      { b6, T_FILE, arm.layer.data, arm.layer.size, NULL },
			      { "index.json", T_FILE, index_json, strlen(index_json), NULL },
			      { "oci-layout", T_FILE, layout, strlen(layout), NULL },
		      },
		      8);
	import_ok(f, arc_path(f, "partial.tar"), "x/partial", "1", "amd64", &info);
	assert_int_equal(strv_length(info.platforms), 1);
	assert_int_equal(strv_length(info.warnings), 1);
	assert_non_null(strstr(info.warnings[0], "linux/arm64/v8 is only partly in the archive"));
	assert_non_null(strstr(info.warnings[0], arm.config.hex));
	assert_null(strstr(info.warnings[0], f->arc));
	/* Every blob of the layout is stored; only the whole platform is linked. */
	push_blob(&tree, idx.hex);
	push_blob(&tree, amd.manifest.hex);
	push_blob(&tree, amd.config.hex);
	push_blob(&tree, amd.layer.hex);
	push_blob(&tree, arm.manifest.hex);
	push_blob(&tree, arm.layer.hex);
	push_layer_link(&tree, "x/partial", amd.config.hex);
	push_layer_link(&tree, "x/partial", amd.layer.hex);
	push_revision(&tree, "x/partial", amd.manifest.hex);
	push_revision(&tree, "x/partial", idx.hex);
	push_tag(&tree, "x/partial", "1", idx.hex);
	assert_tree(f, tree);

	registry_image_info_done(&info);
	oci_done(&amd);
	oci_done(&arm);
	blob_done(&idx);
}

/* Docker 25+ `docker save`: an OCI layout plus manifest.json whose legacy names are symlinks
 * into blobs/. */
static void test_docker25_symlinks(void **state)
{
	struct fx *f = *state;
	struct oci_image im = { 0 };
	struct registry_image_info info = { 0 };
	_cleanup_strv_free_ char **tree = NULL;
	_cleanup_free_ char *index = NULL, *manifest = NULL, *bl = NULL, *bc = NULL, *bm = NULL, *lt = NULL,
			    *ct = NULL;
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char legacy_layer[100], legacy_config[100];

	make_oci_image(&im, "docker 25\n", "amd64");
	assert_true(asprintf(&index, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
				     "\"digest\":\"sha256:%s\",\"size\":%zu,\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/nginx:1.29.2\",\"org.opencontainers.image.ref.name\":\"1.29.2\"}}]}",
			     im.manifest.hex, im.manifest.size) > 0);
	snprintf(legacy_layer, sizeof(legacy_layer), "%s/layer.tar", im.diff);
	snprintf(legacy_config, sizeof(legacy_config), "%s.json", im.config.hex);
	assert_true(asprintf(&manifest, "[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"nginx:1.29.2\"],\"Layers\":[\"blobs/sha256/%s\"]}]",
			     im.config.hex, im.layer.hex) > 0);
	assert_true(asprintf(&lt, "../blobs/sha256/%s", im.layer.hex) > 0);
	assert_true(asprintf(&ct, "blobs/sha256/%s", im.config.hex) > 0);
	bl = blob_name(&im.layer);
	bc = blob_name(&im.config);
	bm = blob_name(&im.manifest);
	write_archive(arc_path(f, "docker.io_library_nginx-1.29.2.tar.gz"), true,
		      (const struct tentry[]){
			      { "blobs", T_DIR, NULL, 0, NULL },
			      { "blobs/sha256", T_DIR, NULL, 0, NULL },
			      { bl, T_FILE, im.layer.data, im.layer.size, NULL },
			      { bc, T_FILE, im.config.data, im.config.size, NULL },
			      { bm, T_FILE, im.manifest.data, im.manifest.size, NULL },
			      { im.diff, T_DIR, NULL, 0, NULL },
			      { legacy_layer, T_SYMLINK, NULL, 0, lt },
			      { legacy_config, T_SYMLINK, NULL, 0, ct },
			      { "index.json", T_FILE, index, strlen(index), NULL },
			      { "manifest.json", T_FILE, manifest, strlen(manifest), NULL },
			      { "oci-layout", T_FILE, layout, strlen(layout), NULL },
			      { "repositories", T_FILE, "{}", 2, NULL },
		      },
		      12);
	import_ok(f, arc_path(f, "docker.io_library_nginx-1.29.2.tar.gz"), "library/nginx", "1.29.2", "amd64", &info);
	assert_string_equal(info.format, "oci-layout");
	assert_string_equal(info.digest + 7, im.manifest.hex);
	assert_null(info.warnings);

	push_blob(&tree, im.layer.hex);
	push_blob(&tree, im.config.hex);
	push_blob(&tree, im.manifest.hex);
	push_layer_link(&tree, "library/nginx", im.layer.hex);
	push_layer_link(&tree, "library/nginx", im.config.hex);
	push_revision(&tree, "library/nginx", im.manifest.hex);
	push_tag(&tree, "library/nginx", "1.29.2", im.manifest.hex);
	assert_tree(f, tree);
	assert_blob(f, im.layer.hex);
	assert_tag(f, "library/nginx", "1.29.2", im.manifest.hex);
	/* The name it carries: read as an OCI layout, index.json's annotation. */
	assert_int_equal(strv_length(info.names), 1);
	assert_string_equal(info.names[0], "docker.io/library/nginx:1.29.2");
	registry_image_info_done(&info);

	/* No name given (an archive no list names): the one it carries. */
	assert_int_equal(registry_import(f->rs, AT_FDCWD, arc_path(f, "docker.io_library_nginx-1.29.2.tar.gz"), NULL, NULL,
					 "amd64", &info, NULL), 0);
	assert_int_equal(strv_length(info.repos), 1);
	assert_string_equal(info.repos[0], "library/nginx");
	assert_string_equal(info.carried_tag, "1.29.2");
	registry_image_info_done(&info);
	/* Several names: each tag leads to the same manifest. */
	import_ok(f, arc_path(f, "docker.io_library_nginx-1.29.2.tar.gz"), "web/nginx", "1.29.2", "amd64", &info);
	registry_image_info_done(&info);
	assert_int_equal(registry_import(f->rs, AT_FDCWD, arc_path(f, "docker.io_library_nginx-1.29.2.tar.gz"),
					 REPOS("busybox", "library/busybox"), "1.36", "amd64", &info, NULL), 0);
	assert_int_equal(strv_length(info.repos), 2);
	assert_tag(f, "busybox", "1.36", im.manifest.hex);
	assert_tag(f, "library/busybox", "1.36", im.manifest.hex);

	registry_image_info_done(&info);
	oci_done(&im);
}

/* Two images sharing a layer: the blob is written once, linked in both repositories. */
static void test_shared_layer(void **state)
{
	struct fx *f = *state;
	struct podman_image a = { 0 }, b = { 0 };
	struct registry_image_info ia = { 0 }, ib = { 0 }, ic = { 0 };
	struct registry_store_stats st;
	char *err = NULL;

	make_podman_archive(f, &a, "a.tar.gz", "shared layer\n", "amd64", true);
	/* Same layer, another config (another architecture label would fail: change Cmd). */
	make_layer(&b.layer, "hello.txt", "shared layer\n", false);
	assert_string_equal(a.layer.hex, b.layer.hex);
	blob_printf(&b.config, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/other\"]},"
			       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}",
		    b.layer.hex);
	{
		char ln[80], cn[80];
		_cleanup_free_ char *m = NULL;
		snprintf(ln, sizeof(ln), "%s.tar", b.layer.hex);
		snprintf(cn, sizeof(cn), "%s.json", b.config.hex);
		assert_true(asprintf(&m, "[{\"Config\":\"%s\",\"RepoTags\":null,\"Layers\":[\"%s\"]}]", cn, ln) > 0);
		snprintf(b.path, sizeof(b.path), "%s", arc_path(f, "b.tar"));
		write_archive(b.path, false,
			      (const struct tentry[]){
				      { cn, T_FILE, b.config.data, b.config.size, NULL },
				      { ln, T_FILE, b.layer.data, b.layer.size, NULL },
				      { "manifest.json", T_FILE, m, strlen(m), NULL },
			      },
			      3);
	}
	import_ok(f, a.path, "team/a", "1", "amd64", &ia);
	import_ok(f, b.path, "team/b", "1", "amd64", &ib);
	assert_int_equal(ia.blobs_written, 3);
	assert_int_equal(ia.blobs_shared, 0);
	assert_int_equal(ib.blobs_written, 2);
	assert_int_equal(ib.blobs_shared, 1);
	assert_int_equal(ib.bytes_shared, a.layer.size);
	assert_layer_link(f, "team/a", a.layer.hex);
	assert_layer_link(f, "team/b", a.layer.hex);
	assert_blob(f, a.layer.hex);
	registry_store_get_stats(f->rs, &st);
	assert_int_equal(st.blobs, 5);
	assert_int_equal(st.tags, 2);

	/* The same image under the same tag again: nothing new, a warning. */
	import_ok(f, a.path, "team/a", "1", "amd64", &ic);
	assert_int_equal(ic.blobs_written, 0);
	assert_int_equal(ic.blobs_shared, 3);
	assert_non_null(ic.warnings);
	/* Another image under a taken tag: refused. */
	assert_int_equal(registry_import(f->rs, AT_FDCWD, b.path, REPOS("team/a"), "1", "amd64", NULL, &err), -EEXIST);
	assert_non_null(strstr(err, "team/a:1 is already taken"));
	free(err);

	/* A digest-only reference gets no tag. */
	registry_image_info_done(&ic);
	import_ok(f, b.path, "team/c", NULL, "amd64", &ic);
	char p[512];
	snprintf(p, sizeof(p), "%s/" ROOT "/repositories/team/c/_manifests/tags", f->out);
	assert_false(path_exists(p));
	assert_revision(f, "team/c", ib.digest + 7);

	registry_image_info_done(&ia);
	registry_image_info_done(&ib);
	registry_image_info_done(&ic);
	podman_done(&a);
	podman_done(&b);
}

/* ---- errors: each names the archive, the entry and what was expected ---- */

static void expect_error(struct fx *f, const char *archive, const char *arch, int err_code, const char *const *parts)
{
	char *err = NULL;
	int k = registry_import(f->rs, AT_FDCWD, archive, REPOS("bad/image"), "1", arch, NULL, &err);

	if (k != err_code)
		fail_msg("%s: got %d (%s), expected %d", archive, k, err ? err : "", err_code);
	assert_non_null(err);
	if (getenv("TEST_VERBOSE"))
		print_message("    %s\n", err);
	if (!strstr(err, archive))
		fail_msg("error does not name the archive: %s", err);
	for (; *parts; parts++)
		if (!strstr(err, *parts))
			fail_msg("error \"%s\" does not say \"%s\"", err, *parts);
	free(err);
}

static void test_bad_entries(void **state)
{
	struct fx *f = *state;

	write_archive(arc_path(f, "dotdot.tar"), false,
		      (const struct tentry[]){ { "../../x", T_FILE, "x", 1, NULL } }, 1);
	expect_error(f, arc_path(f, "dotdot.tar"), "amd64", -EPERM, (const char *const[]){ "../../x", "\"..\"", NULL });

	write_archive(arc_path(f, "inner-dotdot.tar"), false,
		      (const struct tentry[]){ { "blobs/../../x", T_FILE, "x", 1, NULL } }, 1);
	expect_error(f, arc_path(f, "inner-dotdot.tar"), "amd64", -EPERM, (const char *const[]){ "blobs/../../x", NULL });

	write_archive(arc_path(f, "absolute.tar"), false,
		      (const struct tentry[]){ { "/etc/passwd", T_FILE, "x", 1, NULL } }, 1);
	expect_error(f, arc_path(f, "absolute.tar"), "amd64", -EPERM,
		     (const char *const[]){ "/etc/passwd", "absolute", NULL });

	write_archive(arc_path(f, "symlink.tar.gz"), true,
		      (const struct tentry[]){ { "blobs", T_DIR, NULL, 0, NULL },
					       { "blobs/evil", T_SYMLINK, NULL, 0, "../../../etc/shadow" } },
		      2);
	expect_error(f, arc_path(f, "symlink.tar.gz"), "amd64", -EPERM,
		     (const char *const[]){ "blobs/evil", "../../../etc/shadow", "outside", NULL });

	write_archive(arc_path(f, "symlink-abs.tar"), false,
		      (const struct tentry[]){ { "abs", T_SYMLINK, NULL, 0, "/etc/shadow" } }, 1);
	expect_error(f, arc_path(f, "symlink-abs.tar"), "amd64", -EPERM, (const char *const[]){ "abs", "/etc/shadow", NULL });

	write_archive(arc_path(f, "hardlink.tar"), false,
		      (const struct tentry[]){ { "h", T_HARDLINK, NULL, 0, "../outside" } }, 1);
	expect_error(f, arc_path(f, "hardlink.tar"), "amd64", -EPERM,
		     (const char *const[]){ "h: hard link to ../outside", NULL });

	write_archive(arc_path(f, "device.tar"), false,
		      (const struct tentry[]){ { "dev/null", T_CHARDEV, NULL, 0, NULL } }, 1);
	expect_error(f, arc_path(f, "device.tar"), "amd64", -EPERM, (const char *const[]){ "dev/null", "device", NULL });

	write_archive(arc_path(f, "nothing.tar"), false,
		      (const struct tentry[]){ { "hello.txt", T_FILE, "hi\n", 3, NULL } }, 1);
	expect_error(f, arc_path(f, "nothing.tar"), "amd64", -EINVAL, (const char *const[]){ "index.json", "manifest.json", NULL });
}

static void test_bad_digests(void **state)
{
	struct fx *f = *state;
	struct oci_image im = { 0 }, other = { 0 };
	_cleanup_free_ char *index = NULL, *bc = NULL, *bm = NULL, *bl = NULL, *want = NULL;
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";

	make_oci_image(&im, "real\n", "amd64");
	make_oci_image(&other, "impostor\n", "amd64");
	assert_true(asprintf(&index, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu}]}",
			     im.manifest.hex, im.manifest.size) > 0);
	bc = blob_name(&im.config);
	bm = blob_name(&im.manifest);
	bl = blob_name(&im.layer);
	/* The layer's name claims one digest, its bytes are another image's. */
	write_archive(arc_path(f, "mismatch.tar"), false,
		      (const struct tentry[]){
			      { bc, T_FILE, im.config.data, im.config.size, NULL },
			      { bl, T_FILE, other.layer.data, other.layer.size, NULL },
			      { bm, T_FILE, im.manifest.data, im.manifest.size, NULL },
			      { "index.json", T_FILE, index, strlen(index), NULL },
			      { "oci-layout", T_FILE, layout, strlen(layout), NULL },
		      },
		      5);
	assert_true(asprintf(&want, "%s: content hashes to sha256:%s, expected sha256:%s", bl, other.layer.hex, im.layer.hex) > 0);
	expect_error(f, arc_path(f, "mismatch.tar"), "amd64", -EBADMSG, (const char *const[]){ want, NULL });

	/* A config (kept in memory) that is not what its name says. */
	write_archive(arc_path(f, "mismatch-config.tar"), false,
		      (const struct tentry[]){
			      { bc, T_FILE, other.config.data, other.config.size, NULL },
		      },
		      1);
	expect_error(f, arc_path(f, "mismatch-config.tar"), "amd64", -EBADMSG,
		     (const char *const[]){ bc, "content hashes to", NULL });

	/* The manifest's layer is not in the archive. */
	write_archive(arc_path(f, "missing-layer.tar"), false,
		      (const struct tentry[]){
			      { bc, T_FILE, im.config.data, im.config.size, NULL },
			      { bm, T_FILE, im.manifest.data, im.manifest.size, NULL },
			      { "index.json", T_FILE, index, strlen(index), NULL },
			      { "oci-layout", T_FILE, layout, strlen(layout), NULL },
		      },
		      4);
	expect_error(f, arc_path(f, "missing-layer.tar"), "amd64", -ENOENT,
		     (const char *const[]){ "layers[0]", im.layer.hex, "not in the archive", NULL });

	oci_done(&im);
	oci_done(&other);
}

static void test_bad_diff_id(void **state)
{
	struct fx *f = *state;
	struct blob layer = { 0 }, cfg = { 0 };
	_cleanup_free_ char *m = NULL;
	char ln[80], cn[80];
	const char *wrong = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

	make_layer(&layer, "x", "x\n", false);
	make_config(&cfg, "amd64", (const char *const[]){ wrong }, 1);
	snprintf(ln, sizeof(ln), "%s.tar", layer.hex);
	snprintf(cn, sizeof(cn), "%s.json", cfg.hex);
	assert_true(asprintf(&m, "[{\"Config\":\"%s\",\"Layers\":[\"%s\"]}]", cn, ln) > 0);
	write_archive(arc_path(f, "diffid.tar"), false,
		      (const struct tentry[]){
			      { ln, T_FILE, layer.data, layer.size, NULL },
			      { cn, T_FILE, cfg.data, cfg.size, NULL },
			      { "manifest.json", T_FILE, m, strlen(m), NULL },
		      },
		      3);
	expect_error(f, arc_path(f, "diffid.tar"), "amd64", -EBADMSG,
		     (const char *const[]){ ln, "rootfs.diff_ids[0]", wrong, NULL });
	blob_done(&layer);
	blob_done(&cfg);
}

static void test_truncated_gzip(void **state)
{
	struct fx *f = *state;
	struct podman_image im = { 0 };
	struct stat st;
	char big[200000];

	/* Random-looking content so gzip cannot shrink it to nothing. */
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = 'a' + (char)((i * 2654435761u >> 13) % 26);
	big[sizeof(big) - 1] = '\0';
	make_podman_archive(f, &im, "truncated.tar.gz", big, "amd64", true);
	assert_int_equal(stat(im.path, &st), 0);
	assert_int_equal(truncate(im.path, st.st_size / 2), 0);
	expect_error(f, im.path, "amd64", -EIO, (const char *const[]){ "truncated or corrupt", NULL });

	/* Garbage in the middle of the gzip stream. */
	podman_done(&im);
	make_podman_archive(f, &im, "corrupt.tar.gz", big, "amd64", true);
	int fd = open(im.path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xde\xad\xbe\xef\xde\xad\xbe\xef", 8, 200), 8);
	close(fd);
	char *err = NULL;
	assert_true(registry_import(f->rs, AT_FDCWD, im.path, REPOS("bad/image"), "1", "amd64", NULL, &err) < 0);
	assert_non_null(strstr(err, im.path));
	free(err);
	podman_done(&im);
}

static void test_wrong_architecture(void **state)
{
	struct fx *f = *state;
	struct podman_image im = { 0 };
	struct oci_image oi = { 0 };
	struct blob idx = { 0 };
	_cleanup_free_ char *want = NULL;

	make_podman_archive(f, &im, "arm.tar.gz", "arm\n", "arm64", true);
	assert_true(asprintf(&want, "architecture mismatch: %s is linux/arm64, the payload is amd64", im.path) > 0);
	expect_error(f, im.path, "amd64", -ENOEXEC, (const char *const[]){ want, NULL });
	/* And the right payload takes it. */
	struct registry_image_info info = { 0 };
	import_ok(f, im.path, "arm/image", "1", "arm64", &info);
	assert_string_equal(info.platforms[0], "linux/arm64");
	registry_image_info_done(&info);

	/* An index of which only arm64 is present, imported for amd64. */
	make_index_archive(f, "arm-index.tar.gz", &oi, &idx, "arm64");
	expect_error(f, arc_path(f, "arm-index.tar.gz"), "amd64", -ENOENT,
		     (const char *const[]){ "the index lists linux/amd64 but its manifest is not in the archive",
					    "the archive has: linux/arm64/v8", NULL });
	podman_done(&im);
	oci_done(&oi);
	blob_done(&idx);
}

/* After failures, the store goes on (check-outputs reports every bad archive). */
static void test_goes_on_after_errors(void **state)
{
	struct fx *f = *state;
	struct podman_image im = { 0 };
	struct oci_image a = { 0 }, b = { 0 };
	_cleanup_free_ char *index = NULL, *bc = NULL, *bm = NULL, *bl = NULL;
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	struct registry_image_info info = { 0 };
	struct payload_stream *discard = NULL;
	struct registry_store *rs = NULL;
	char *err = NULL;

	assert_int_equal(payload_stream_open_discard(&discard), 0);
	assert_int_equal(registry_store_new(discard, ROOT, NULL, &rs), 0);
	make_oci_image(&a, "good\n", "amd64");
	make_oci_image(&b, "evil\n", "amd64");
	assert_true(asprintf(&index, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu}]}",
			     a.manifest.hex, a.manifest.size) > 0);
	bc = blob_name(&a.config);
	bm = blob_name(&a.manifest);
	bl = blob_name(&a.layer);
	/* The bad layer fails when its write is complete, the good image then imports fully. */
	write_archive(arc_path(f, "bad.tar"), false,
		      (const struct tentry[]){ { bl, T_FILE, b.layer.data, b.layer.size, NULL } }, 1);
	assert_int_equal(registry_import(rs, AT_FDCWD, arc_path(f, "bad.tar"), REPOS("x"), "1", "amd64", NULL, &err), -EBADMSG);
	free(err);
	/* A truncated one fails halfway through a blob. */
	make_podman_archive(f, &im, "cut.tar", "some layer content that is long enough\n", "amd64", false);
	assert_int_equal(truncate(im.path, 700), 0);
	err = NULL;
	assert_true(registry_import(rs, AT_FDCWD, im.path, REPOS("y"), "1", "amd64", NULL, &err) < 0);
	free(err);
	write_archive(arc_path(f, "good.tar"), false,
		      (const struct tentry[]){
			      { bc, T_FILE, a.config.data, a.config.size, NULL },
			      { bl, T_FILE, a.layer.data, a.layer.size, NULL },
			      { bm, T_FILE, a.manifest.data, a.manifest.size, NULL },
			      { "index.json", T_FILE, index, strlen(index), NULL },
			      { "oci-layout", T_FILE, layout, strlen(layout), NULL },
		      },
		      5);
	assert_int_equal(registry_import(rs, AT_FDCWD, arc_path(f, "good.tar"), REPOS("x"), "1", "amd64", &info, NULL), 0);
	assert_int_equal(info.blobs_written, 3);
	registry_image_info_done(&info);
	registry_store_free(rs);
	payload_stream_abort(discard);
	podman_done(&im);
	oci_done(&a);
	oci_done(&b);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	char *err = NULL;

	assert_int_equal(registry_import(f->rs, AT_FDCWD, "x.tar", REPOS("../etc"), "1", "amd64", NULL, &err), -EINVAL);
	assert_non_null(strstr(err, "../etc"));
	free(err);
	assert_int_equal(registry_import(f->rs, AT_FDCWD, "x.tar", REPOS("a"), "bad/tag", "amd64", NULL, &err), -EINVAL);
	free(err);
	assert_int_equal(registry_import(f->rs, AT_FDCWD, "x.tar", REPOS("a"), "1", "../x", NULL, &err), -EINVAL);
	free(err);
	assert_int_equal(registry_import(f->rs, AT_FDCWD, arc_path(f, "does-not-exist.tar"), REPOS("a"), "1", "amd64", NULL, &err), -ENOENT);
	assert_non_null(strstr(err, "does-not-exist.tar"));
	free(err);
}

/* Each path goes into the payload once: a second file, symlink, or a file where a folder is, is
 * refused, and the first copy stays as it was. */
static void test_stream_paths_once(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *text = NULL, *sums = NULL, *dir = NULL;
	struct payload_stream *s = NULL;

	assert_true(asprintf(&sums, "%s/sums", f->base) > 0);
	assert_true(asprintf(&dir, "%s/once", f->base) > 0);
	assert_int_equal(payload_stream_open_dir(dir, 1700000000, sums, &s), 0);
	assert_int_equal(payload_stream_file(s, "a/SHA256SUMS", "first\n", 6, 0644), 0);
	assert_int_equal(payload_stream_file(s, "a/SHA256SUMS", "forged\n", 7, 0644), -EEXIST);
	assert_int_equal(payload_stream_symlink(s, "a/SHA256SUMS", "elsewhere"), -EEXIST);
	assert_int_equal(payload_stream_file(s, "a", "x", 1, 0644), -EEXIST);
	assert_int_equal(payload_stream_file(s, "a/SHA256SUMS/below", "x", 1, 0644), -EEXIST);
	/* A blob that failed its digest is given back: the true one may follow. */
	assert_int_equal(payload_stream_file(s, "b/data", "bad", 3, 0644), 0);
	payload_stream_forget(s, "b/data");
	assert_int_equal(payload_stream_file(s, "b/data", "good", 4, 0644), 0);
	payload_stream_abort(s);
	free(sums);
	assert_true(asprintf(&sums, "%s/a/SHA256SUMS", dir) > 0);
	read_whole(sums, &text, NULL);
	assert_string_equal(text, "first\n");
}

/* SHA256SUMS names as GNU sha256sum writes them: a backslash, newline or CR escapes the line,
 * and sha256sum -c accepts what the stream wrote. */
static void test_stream_sums_escaped(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "plain.txt", "back\\slash.txt", "new\nline", "cr\rname", "both\\\n" };
	_cleanup_free_ char *sums = NULL, *dir = NULL, *text = NULL, *cmd = NULL;
	struct payload_stream *s = NULL;
	char hex[SHA256_HEX_LEN + 1];
	size_t i = 0;

	assert_true(asprintf(&sums, "%s/sums", f->base) > 0);
	assert_true(asprintf(&dir, "%s/escaped", f->base) > 0);
	assert_int_equal(payload_stream_open_dir(dir, 1700000000, sums, &s), 0);
	for (size_t k = 0; k < ARRAY_SIZE(names); k++)
		assert_int_equal(payload_stream_file(s, names[k], names[k], strlen(names[k]), 0644), 0);
	assert_int_equal(payload_stream_close(s), 0);
	read_whole(sums, &text, NULL);
	for (char *line = text, *next; *line; line = next, i++) {
		_cleanup_free_ char *name = NULL;
		next = strchr(line, '\n');
		assert_non_null(next);
		*next++ = '\0';
		assert_int_equal(sums_line_parse(line, hex, &name), 0);
		assert_string_equal(name, names[i]);
		assert_int_equal(line[0] == '\\', sums_name_needs_escape(names[i]));
	}
	assert_int_equal(i, ARRAY_SIZE(names));
	assert_true(asprintf(&cmd, "cd %s && sha256sum --quiet --strict -c %s", dir, sums) > 0);
	assert_int_equal(system(cmd), 0);
	free(text);
	text = NULL;
	assert_int_equal(sums_line_parse("\\0123", hex, &text), -EINVAL);
	assert_null(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_docker_archive_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_archive_legacy_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_index_missing_platform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_index_partial_platform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker25_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_layer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_digests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_diff_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_architecture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_goes_on_after_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_paths_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_sums_escaped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
