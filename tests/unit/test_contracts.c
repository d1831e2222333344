/* Unit tests for the agreements in lib/ between the builder, gapbox-init and gapbox-firstboot
 * (initrd.conf, image lists, registry strip and mirror rules, the payload record) and the shared
 * helpers under them (capped buffer and reader, hash set, error messages). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "hashset.h"
#include "imagelist.h"
#include "imageref.h"
#include "buildmanifest.h"
#include "initrdconf.h"
#include "layout.h"
#include "manifestsig.h"
#include "payloadrecord.h"
#include "persist.h"
#include "sbuf.h"
#include "strv.h"

static char tmpdir[] = "/tmp/gapbox-test-contracts-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf(tmpdir);
}

static char *write_tmp(const char *name, const char *text)
{
	char *path = path_join(tmpdir, name);

	assert_non_null(path);
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
	return path;
}

/* ---- initrd.conf: what the builder writes is what gapbox-init reads ---- */

static void test_initrd_conf_round_trip(void **state)
{
	struct initrd_conf c, back;
	char *text = NULL, **problems = NULL;
	unsigned set = 0;

	(void)state;
	initrd_conf_defaults(&c);
	assert_string_equal(c.medium_label, GB_MEDIUM_LABEL);
	assert_int_equal(c.timeout_sec, INITRD_DEFAULT_TIMEOUT);
	snprintf(c.name, sizeof(c.name), "debian12-amd64");
	snprintf(c.kver, sizeof(c.kver), "6.1.0-57-amd64");
	snprintf(c.medium_uuid, sizeof(c.medium_uuid), "2025-11-24-16-00-00-00");
	c.timeout_sec = 45;
	assert_string_equal(c.persist, "off");
	snprintf(c.build_id, sizeof(c.build_id), "0123456789abcdef");
	snprintf(c.persist, sizeof(c.persist), "LABEL=SITE-DATA");
	assert_string_equal(c.verify, "off");
	snprintf(c.verify, sizeof(c.verify), "verity");
	assert_int_equal(initrd_conf_format(&c, &text), 0);
	assert_string_equal(text, "NAME=debian12-amd64\nKVER=6.1.0-57-amd64\nMEDIUM_UUID=2025-11-24-16-00-00-00\n"
				  "MEDIUM_LABEL=GAPBOX\nTIMEOUT=45\nBUILD_ID=0123456789abcdef\nPERSIST=LABEL=SITE-DATA\n"
				  "VERIFY=verity\n");

	initrd_conf_defaults(&back);
	assert_int_equal(initrd_conf_parse(&back, text, "initrd.conf", &problems, &set), 0);
	assert_null(problems);
	assert_memory_equal(&back, &c, sizeof(c));
	assert_int_equal(set, INITRD_SET_NAME | INITRD_SET_KVER | INITRD_SET_MEDIUM_UUID | INITRD_SET_MEDIUM_LABEL |
				      INITRD_SET_TIMEOUT | INITRD_SET_BUILD_ID | INITRD_SET_PERSIST | INITRD_SET_VERIFY);
	free(text);

	/* A value with a newline cannot be written as one line. */
	snprintf(c.name, sizeof(c.name), "two\nlines");
	assert_int_equal(initrd_conf_format(&c, &text), -EINVAL);
}

static void test_initrd_conf_problems(void **state)
{
	struct initrd_conf c;
	char **problems = NULL;
	unsigned set = 0;

	(void)state;
	initrd_conf_defaults(&c);
	assert_int_equal(initrd_conf_parse(&c, "TIMEOUT=86401\nNAME\nNEWER_KEY=1\nKVER='6.1'\nPERSIST=sometimes\nVERIFY=lazy\n",
					   "x", &problems, &set), 0);
	assert_int_equal(strv_length(problems), 4);
	assert_string_equal(problems[3], "x:6: ignoring VERIFY 'lazy'");
	assert_string_equal(c.verify, "off");
	assert_string_equal(problems[0], "x:1: ignoring TIMEOUT '86401'");
	assert_string_equal(problems[1], "x:2: ignoring line without KEY=VALUE 'NAME'");
	assert_string_equal(problems[2], "x:5: ignoring PERSIST 'sometimes'");
	assert_string_equal(c.persist, "off");
	assert_int_equal(c.timeout_sec, INITRD_DEFAULT_TIMEOUT);
	assert_string_equal(c.kver, "6.1");
	assert_int_equal(set, INITRD_SET_KVER);
	strv_free(problems);
}

/* ---- the manifest's signature: what gapbox build --sign writes, inspect and gapbox-init check ---- */

static char *ed25519_pem(const char *name, bool private)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *path = path_join(tmpdir, name);
	FILE *f;

	assert_non_null(k);
	assert_non_null(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, k), 1);
	fclose(f);
	EVP_PKEY_free(k);
	return path;
}

/* ---- the manifest's hash trees: what stage verity writes, gapbox-init's verity mode reads ---- */
static void test_manifest_verity(void **state)
{
	struct manifest_artifact arts[] = {
		{ .path = "gapbox/system.sfs", .size = 8192 * 4096ull },
		{ .path = "gapbox/system.sfs.verity", .size = 266240 },
	};
	struct manifest_verity v = { .image = "gapbox/system.sfs", .hash_tree = "gapbox/system.sfs.verity", .data_blocks = 8192 };
	struct manifest m = { 0 };
	char *text, *error = NULL;
	json_t *root;
	static const char *const bad[][2] = {
		{ "\"data_blocks\": 8192", "\"data_blocks\": 8191" },
		{ "\"hash_tree\": \"gapbox/system.sfs.verity\"", "\"hash_tree\": \"gapbox/other\"" },
		{ "\"algorithm\": \"sha256\"", "\"algorithm\": \"md5\"" },
		{ "\"hash_block_size\": 4096", "\"hash_block_size\": 512" },
		{ "\"root_hash\": \"b", "\"root_hash\": \"B" },
	};
	static const char *const why[] = { "data_blocks is not the gapbox/system.sfs's 33554432 bytes",
					   "hash_tree is not one of the artifacts", "algorithm is not sha256",
					   "hash_block_size is not 4096", "salt and root_hash must be 64 lowercase hex" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(arts); i++)
		memset(arts[i].sha256, 'a', SHA256_HEX_LEN);
	memset(v.salt, 'a', VERITY_HEX_LEN);
	memset(v.root_hash, 'b', VERITY_HEX_LEN);
	root = json_pack("{s:i, s:o, s:o}", "format", GB_MEDIUM_MANIFEST_FORMAT, "artifacts", manifest_artifacts_json(arts, 2),
			 "verity", manifest_verity_json(&v, 1));
	text = json_dumps(root, JSON_PRESERVE_ORDER);
	json_decref(root);
	assert_int_equal(manifest_parse(text, strlen(text), "m.json", &m, &error), 0);
	assert_int_equal(m.n_verity, 1);
	assert_string_equal(manifest_find_verity(&m, "gapbox/system.sfs")->root_hash, v.root_hash);
	assert_string_equal(manifest_find_verity(&m, "gapbox/system.sfs")->hash_tree, "gapbox/system.sfs.verity");
	assert_int_equal(manifest_find_verity(&m, "gapbox/system.sfs")->data_blocks, 8192);
	assert_null(manifest_find_verity(&m, "gapbox/payload.sfs"));
	manifest_done(&m);

	/* Each thing the reader insists on, broken one at a time. */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *p = strstr(text, bad[i][0]), *t;

		assert_non_null(p);
		assert_int_not_equal(asprintf(&t, "%.*s%s%s", (int)(p - text), text, bad[i][1], p + strlen(bad[i][0])), -1);
		assert_int_equal(manifest_parse(t, strlen(t), "m.json", &m, &error), -EBADMSG);
		assert_non_null(strstr(error, why[i]));
		assert_non_null(strstr(error, "m.json: verity[0]"));
		free(error);
		error = NULL;
		free(t);
	}
	free(text);
}

static void test_manifest_signature(void **state)
{
	_cleanup_free_ char *key_path = ed25519_pem("site.pem", true), *other_path = ed25519_pem("other.pem", true);
	_cleanup_free_ char *sig = NULL, *sig2 = NULL, *pem = NULL, *error = NULL, *pub_only = ed25519_pem("pub.pem", false);
	struct signing_key *key = NULL, *pub = NULL, *other = NULL, *only = NULL;
	const char *manifest = "{\"format\": 1, \"artifacts\": []}\n";
	char *tampered;

	(void)state;
	assert_int_equal(signing_key_load_private(key_path, &key, &error), 0);
	assert_int_equal(signing_key_load_private(other_path, &other, &error), 0);
	assert_int_equal(strlen(signing_key_id(key)), SHA256_HEX_LEN);
	assert_string_not_equal(signing_key_id(key), signing_key_id(other));
	/* The public half, as the initramfs carries it, is the same key. */
	assert_int_equal(signing_key_public_pem(key, &pem), 0);
	assert_true(strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);
	assert_int_equal(signing_key_parse_public(pem, strlen(pem), "signing.pub", &pub, &error), 0);
	assert_string_equal(signing_key_id(pub), signing_key_id(key));
	/* A public key is no private key. */
	assert_int_equal(signing_key_load_private(pub_only, &only, &error), -EINVAL);
	assert_non_null(strstr(error, "expected an Ed25519 private key in PEM"));
	free(error), error = NULL;

	assert_int_equal(manifest_sign(key, manifest, strlen(manifest), &sig), 0);
	assert_int_equal(manifest_sign(key, manifest, strlen(manifest), &sig2), 0);
	assert_string_equal(sig, sig2); /* Ed25519 is deterministic: signed builds reproduce */
	assert_int_equal(manifest_sig_verify(pub, manifest, strlen(manifest), sig, strlen(sig), &error), 0);

	/* One changed byte of the manifest. */
	tampered = strdup(manifest);
	assert_non_null(tampered);
	tampered[12] ^= 1;
	assert_int_equal(manifest_sig_verify(pub, tampered, strlen(tampered), sig, strlen(sig), &error), -EBADE);
	assert_non_null(strstr(error, "the manifest was changed after it was signed"));
	free(error), error = NULL;
	free(tampered);
	/* Another key. */
	assert_int_equal(manifest_sig_verify(other, manifest, strlen(manifest), sig, strlen(sig), &error), -EKEYREJECTED);
	assert_non_null(strstr(error, "not by the given key"));
	free(error), error = NULL;
	/* Not a signature file, or one with a mangled signature. */
	assert_int_equal(manifest_sig_verify(pub, manifest, strlen(manifest), "{}", 2, &error), -EBADMSG);
	free(error), error = NULL;
	char *b64 = strstr(sig, "\"signature\": \"");
	assert_non_null(b64);
	b64[15] = b64[15] == 'A' ? 'B' : 'A';
	assert_int_equal(manifest_sig_verify(pub, manifest, strlen(manifest), sig, strlen(sig), &error), -EBADE);
	free(error), error = NULL;

	signing_key_free(key);
	signing_key_free(pub);
	signing_key_free(other);
}

/* ---- persistence: the spec every part reads, the record gapbox-init writes for gapbox-firstboot ---- */

static void test_persist_spec(void **state)
{
	struct gb_persist_spec spec = { 0 };
	char buf[160];

	(void)state;
	assert_int_equal(gb_persist_spec_parse("auto", &spec), 0);
	assert_int_equal(spec.mode, GB_PERSIST_AUTO);
	assert_int_equal(gb_persist_spec_parse("OFF", &spec), 0);
	assert_int_equal(spec.mode, GB_PERSIST_OFF);
	assert_int_equal(gb_persist_spec_parse("label=SITE-DATA", &spec), 0);
	assert_int_equal(spec.mode, GB_PERSIST_LABEL);
	assert_string_equal(gb_persist_spec_format(&spec, buf, sizeof(buf)), "LABEL=SITE-DATA");
	assert_int_equal(gb_persist_spec_parse("UUID=2f0e6c3a-1b1c-4c55-a3a0-6f0f2d3e4b5c", &spec), 0);
	assert_string_equal(gb_persist_spec_format(&spec, buf, sizeof(buf)), "UUID=2f0e6c3a-1b1c-4c55-a3a0-6f0f2d3e4b5c");
	/* Refused whole, and the spec keeps what it held. */
	assert_int_equal(gb_persist_spec_parse("LABEL=", &spec), -EINVAL);
	assert_int_equal(gb_persist_spec_parse("yes", &spec), -EINVAL);
	assert_int_equal(gb_persist_spec_parse("LABEL=two words", &spec), -EINVAL);
	assert_int_equal(gb_persist_spec_parse(NULL, &spec), -EINVAL);
	memset(buf, 'x', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "LABEL=", 6);
	assert_int_equal(gb_persist_spec_parse(buf, &spec), -ENAMETOOLONG);
	assert_int_equal(spec.mode, GB_PERSIST_UUID);
}

static void test_state_record_round_trip(void **state)
{
	struct gb_state_record rec = { .created = true }, back;
	char *text = NULL;

	(void)state;
	snprintf(rec.mode, sizeof(rec.mode), "data");
	snprintf(rec.device, sizeof(rec.device), "/dev/sda4");
	snprintf(rec.label, sizeof(rec.label), "%s", GB_DATA_LABEL);
	snprintf(rec.fsck, sizeof(rec.fsck), "journal replayed (e2fsck exit 1)");
	snprintf(rec.other_builds, sizeof(rec.other_builds), "0123456789abcdef fedcba9876543210");
	assert_int_equal(gb_state_record_format(&rec, &text), 0);
	gb_state_record_parse(text, &back);
	assert_memory_equal(&back, &rec, sizeof(rec));
	free(text);
	/* A record from another gapbox-init: unknown keys and overlong values are skipped. */
	gb_state_record_parse("MODE=ram\nNEWER=1\nnot a line\nDEVICE=" "/dev/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", &back);
	assert_string_equal(back.mode, "ram");
	assert_string_equal(back.device, "");
	assert_false(back.created);
	snprintf(rec.reason, sizeof(rec.reason), "two\nlines");
	assert_int_equal(gb_state_record_format(&rec, &text), -EINVAL);
}

/* ---- image lists: one reading of a line at build time and at boot ---- */

static void test_image_list_lines(void **state)
{
	char *path = write_tmp("images.list", "# a comment line\n"
					      "registry.k8s.io/pause:3.10   # the pause image\n"
					      "\n"
					      "  quay.io/calico/node:v3.30.5\r\n"
					      "nginx:1.29.2#no space before the comment\n"
					      "   \t\n"
					      "Not/A/Reference:\n");
	struct image_list_item *items = NULL;
	struct imageref *refs = NULL;
	size_t n = 0, n_refs = 0, bad = 0;

	(void)state;
	assert_int_equal(image_list_read(path, &items, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(items[0].ref, "registry.k8s.io/pause:3.10");
	assert_int_equal(items[0].line, 2);
	assert_string_equal(items[1].ref, "quay.io/calico/node:v3.30.5");
	assert_int_equal(items[1].line, 4);
	assert_string_equal(items[2].ref, "nginx:1.29.2");
	assert_int_equal(items[2].line, 5);
	assert_int_equal(items[3].line, 7);

	/* The boot-time reader takes the same lines: the commented one is an image, not a bad line. */
	assert_int_equal(imageref_read_list(path, NULL, &refs, &n_refs, &bad), 0);
	assert_int_equal(n_refs, 3);
	assert_int_equal(bad, 1);
	assert_string_equal(refs[0].name, "pause");
	assert_string_equal(refs[0].reference, "3.10");
	assert_string_equal(refs[2].name, "library/nginx");
	imageref_free_all(refs, n_refs);
	image_list_free(items, n);
	assert_int_equal(image_list_read("/nonexistent/images.list", &items, &n), -ENOENT);
	free(path);
}

/* ---- registry names: what the builder stripped, the nodes mirror ---- */

static void test_strip_and_mirrors(void **state)
{
	char *extra[] = { "harbor.local/proj", "myregistry.io/", "quay.io", NULL };
	char **strip = NULL, **mirrors = NULL;
	struct imageref ref;

	(void)state;
	assert_int_equal(image_ref_strip_list(extra, &strip), 0);
	assert_int_equal(strv_length(strip), 8);
	assert_string_equal(strip[3], "k8s.gcr.io");
	assert_string_equal(strip[6], "harbor.local/proj");
	assert_string_equal(strip[7], "myregistry.io");

	assert_int_equal(image_ref_mirror_hosts(strip, &mirrors), 0);
	assert_int_equal(strv_length(mirrors), 9);
	assert_string_equal(mirrors[0], "docker.io");
	assert_string_equal(mirrors[1], "registry-1.docker.io");
	assert_true(strv_contains(mirrors, "k8s.gcr.io"));
	assert_true(strv_contains(mirrors, "myregistry.io"));
	/* A registry with a path is mirrored by its host: containerd picks mirrors by host. */
	assert_true(strv_contains(mirrors, "harbor.local"));
	assert_false(strv_contains(mirrors, "harbor.local/proj"));

	/* harbor.local/proj/x is pushed as x (load-push-all-images.sh) and asked for by a node's
	 * mirror as proj/x: both names. */
	assert_int_equal(imageref_map("harbor.local/proj/tools/probe:1.0", strip, &ref), 0);
	assert_string_equal(ref.name, "tools/probe");
	imageref_done(&ref);

	/* The record's list gives at boot the name the build pushed under. */
	assert_int_equal(imageref_map("k8s.gcr.io/pause:3.2", strip, &ref), 0);
	assert_string_equal(ref.name, "pause");
	imageref_done(&ref);
	assert_int_equal(imageref_map("myregistry.io/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				      strip, &ref), 0);
	assert_string_equal(ref.name, "team/app");
	assert_string_equal(ref.reference, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	imageref_done(&ref);
	strv_free(strip);
	strv_free(mirrors);
}

/* ---- the payload record ---- */

/* A record NAME holding TEXT is refused with an error that says WHY. */
static void record_refused(const char *name, const char *text, const char *why)
{
	char *path = write_tmp(name, text), *err = NULL;
	struct payload_record back;

	assert_int_equal(payload_record_load(path, &back, &err), -EINVAL);
	assert_non_null(strstr(err, why));
	free(err);
	free(path);
}

static void test_payload_record(void **state)
{
	struct payload_record rec = { .arch = strdup("arm64"), .registry_root = strdup(GB_PAYLOAD_REGISTRY_ROOT) }, back;
	struct payload_record_image image = { .ref = "quay.io/calico/node:v3.30.5", .repository = "calico/node",
					      .tag = "v3.30.5", .digest = "sha256:00", .media_type = "x", .archive = "images/a" };
	char *text = NULL, *path, *err = NULL;

	(void)state;
	assert_int_equal(image_ref_strip_list(NULL, &rec.strip_registries), 0);
	assert_int_equal(strv_push(&rec.node_os, "debian"), 0);
	assert_int_equal(strv_push(&rec.node_os, "rhel9"), 0);
	assert_int_equal(payload_record_add_image(&rec, &image), 0);
	assert_int_equal(payload_record_format(&rec, &text), 0);
	path = write_tmp(GB_PAYLOAD_RECORD, text);
	assert_int_equal(payload_record_load(path, &back, &err), 0);
	assert_string_equal(back.arch, "arm64");
	assert_string_equal(back.registry_root, GB_PAYLOAD_REGISTRY_ROOT);
	assert_int_equal(strv_length(back.strip_registries), strv_length(rec.strip_registries));
	assert_int_equal(strv_length(back.node_os), 2);
	assert_string_equal(back.node_os[0], "debian");
	assert_string_equal(back.node_os[1], "rhel9");
	assert_int_equal(back.n_images, 1);
	assert_string_equal(back.images[0].repository, "calico/node");
	assert_string_equal(back.images[0].archive, "images/a");
	assert_null(back.kubespray.version); /* none written: "kubespray": null */
	assert_false(back.sample);
	assert_null(strstr(text, "\"sample\"")); /* said only of a sample */
	payload_record_done(&back);
	free(text);
	free(path);

	/* A sample payload (gen-outputs --sample) says so, and reads back so. */
	rec.sample = true;
	assert_int_equal(payload_record_format(&rec, &text), 0);
	path = write_tmp(GB_PAYLOAD_RECORD, text);
	assert_int_equal(payload_record_load(path, &back, &err), 0);
	assert_true(back.sample);
	payload_record_done(&back);
	free(text);
	free(path);
	rec.sample = false;

	/* The kubespray and its downloads, a present one and an absent one, in their order. */
	rec.kubespray.version = strdup("2.31.0");
	rec.kubespray.tarball = strdup("files/kubespray-2.31.0.tar.gz");
	assert_int_equal(payload_record_add_download(&rec.kubespray, &(struct payload_record_download){
		.variable = "calico_crds_download_url", .path = "kubernetes/calico/crds.yaml" }), 0);
	assert_int_equal(payload_record_add_download(&rec.kubespray, &(struct payload_record_download){
		.variable = "kata_containers_download_url", .absent = "files/kata.tar.xz is not in the payload" }), 0);
	assert_int_equal(payload_record_format(&rec, &text), 0);
	path = write_tmp(GB_PAYLOAD_RECORD, text);
	assert_int_equal(payload_record_load(path, &back, &err), 0);
	assert_string_equal(back.kubespray.version, "2.31.0");
	assert_string_equal(back.kubespray.tarball, "files/kubespray-2.31.0.tar.gz");
	assert_int_equal(back.kubespray.n_downloads, 2);
	assert_string_equal(back.kubespray.downloads[0].variable, "calico_crds_download_url");
	assert_string_equal(back.kubespray.downloads[0].path, "kubernetes/calico/crds.yaml");
	assert_null(back.kubespray.downloads[0].absent);
	assert_null(back.kubespray.downloads[1].path);
	assert_string_equal(back.kubespray.downloads[1].absent, "files/kata.tar.xz is not in the payload");
	assert_int_equal(back.n_images, 1);
	payload_record_done(&back);
	payload_record_done(&rec);
	free(text);
	free(path);

	/* node_os: absent (a record from before it) is "does not say", empty is "no repository". */
	path = write_tmp("old.json", "{\"format\": 1, \"arch\": \"amd64\"}\n");
	assert_int_equal(payload_record_load(path, &back, &err), 0);
	assert_null(back.node_os);
	payload_record_done(&back);
	free(path);
	path = write_tmp("none.json", "{\"format\": 1, \"node_os\": []}\n");
	assert_int_equal(payload_record_load(path, &back, &err), 0);
	assert_non_null(back.node_os);
	assert_null(back.node_os[0]);
	payload_record_done(&back);
	free(path);
	record_refused("bad-os.json", "{\"format\": 1, \"node_os\": [\"debian\", 9]}\n", "node_os[1] is not a string");
	record_refused("bad-kubespray.json",
		       "{\"format\": 1, \"kubespray\": {\"version\": \"2.31.0\", "
		       "\"downloads\": [{\"variable\": \"x_download_url\", \"path\": 7}]}}\n",
		       "kubespray.downloads[0].path is not a string");

	record_refused("bad.json", "{\"format\": 1,\n \"arch\": }\n", "bad.json:2:");
	record_refused("future.json", "{\"format\": 2}\n", "format is not 1");
	assert_int_equal(payload_record_load("/nonexistent/record.json", &back, &err), -ENOENT);
}

/* ---- helpers ---- */

static void test_capped_reader(void **state)
{
	char *path = write_tmp("ten", "0123456789"), *text = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(read_file(path, 10, &text, &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal(text, "0123456789");
	free(text);
	assert_int_equal(read_file(path, 9, &text, &n), -EFBIG);
	free(path);
	path = write_tmp("empty", "");
	assert_int_equal(read_file(path, 0, &text, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(text, "");
	free(text);
	free(path);
}

static void test_hashset(void **state)
{
	struct hashset s = { .max = 3000 };
	char key[32];

	(void)state;
	assert_int_equal(hashset_add(&s, "a", "1", 7), 1);
	assert_int_equal(hashset_add(&s, "a", "2", 8), 0);
	assert_string_equal(hashset_get(&s, "a")->value, "1");
	assert_int_equal(hashset_get(&s, "a")->num, 7);
	assert_null(hashset_get(&s, "b"));
	for (int i = 1; i < 3000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(hashset_add(&s, key, NULL, i), 1);
	}
	assert_int_equal(hashset_add(&s, "one too many", NULL, 0), -E2BIG);
	assert_int_equal(hashset_get(&s, "key-2999")->num, 2999);
	hashset_done(&s);
	assert_null(hashset_get(&s, "a"));
}

static void test_error_messages(void **state)
{
	char *err = (char *)"not read: an out-parameter is only written";

	(void)state;
	assert_int_equal(gb_error(&err, -EINVAL, "%s:%d: expected %s", "f", 3, "x"), -EINVAL);
	assert_string_equal(err, "f:3: expected x");
	assert_int_equal(gb_error_prefix(&err, "outer %d", 1), 0);
	assert_string_equal(err, "outer 1: f:3: expected x");
	free(err);
	assert_int_equal(gb_error_errno(&err, -ENOENT, "cannot open %s", "/x"), -ENOENT);
	assert_string_equal(err, "cannot open /x: No such file or directory");
	free(err);
	assert_int_equal(gb_error(NULL, -EIO, "nobody asked"), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initrd_conf_round_trip), cmocka_unit_test(test_initrd_conf_problems),
		cmocka_unit_test(test_manifest_verity),
		cmocka_unit_test(test_manifest_signature),
		cmocka_unit_test(test_image_list_lines),       cmocka_unit_test(test_strip_and_mirrors),
		cmocka_unit_test(test_payload_record),         cmocka_unit_test(test_capped_reader),
		cmocka_unit_test(test_hashset),                cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_persist_spec),           cmocka_unit_test(test_state_record_round_trip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
