/* Unit tests of the site dashboard (firstboot/dashboard.c): the payload's images and their
 * sizes from a record and a registry store made here, nginx's site log read line by line (a
 * pull is a GET of a manifest by tag or digest, under the repository or an alias; a HEAD is
 * not; the admin's own requests do not count; a line still being written waits), chronyc's
 * clients, the admin's SSH try, the ready verdict of each node with its reason, the cap on addresses, and the
 * page's sections. The log lines are of the shape the admin's nginx writes with
 * FB_SITE_LOG_FORMAT; the chronyc lines are chrony 4.3's "-c clients". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../firstboot/dashboard.h"
#include "../../firstboot/status.h"
#include "fsutil.h"
#include "layout.h"
#include "payloadrecord.h"
#include "sbuf.h"
#include "strv.h"

#define NGINX_DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define PAUSE_INDEX "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define PAUSE_ARM "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define PAUSE_AMD "sha256:4444444444444444444444444444444444444444444444444444444444444444"

static char payload[PATH_MAX];

static void put_blob(const char *digest, const char *text)
{
	char dir[PATH_MAX + 200], path[PATH_MAX + 300];

	snprintf(dir, sizeof(dir), "%s/%s/blobs/sha256/%.2s/%s", payload, GB_PAYLOAD_REGISTRY_ROOT, digest + 7, digest + 7);
	assert_int_equal(mkdir_p(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/data", dir);
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* A payload of two images: nginx (a manifest, also known as "nginx") and pause (an index). */
static int setup(void **state)
{
	struct payload_record rec = { .arch = strdup("amd64"), .registry_root = strdup(GB_PAYLOAD_REGISTRY_ROOT) };
	char *aliases[] = { "nginx", NULL };
	struct payload_record_image nginx = { .ref = "docker.io/library/nginx:1.29.2", .repository = "library/nginx",
					      .tag = "1.29.2", .digest = NGINX_DIGEST, .media_type = "m",
					      .archive = "images/nginx.tar.gz", .aliases = aliases };
	struct payload_record_image pause = { .ref = "registry.k8s.io/pause:3.10", .repository = "pause", .tag = "3.10",
					      .digest = PAUSE_INDEX, .media_type = "i", .archive = "images/pause.tar.gz" };
	char *text = NULL, path[PATH_MAX + 64];

	(void)state;
	snprintf(payload, sizeof(payload), "/tmp/gapbox-test-dashboard.XXXXXX");
	assert_non_null(mkdtemp(payload));
	rec.kubespray.version = strdup("2.30.0");
	assert_int_equal(payload_record_add_version(&rec, "kube", "v1.33.7"), 0);
	assert_int_equal(payload_record_add_image(&rec, &nginx), 0);
	assert_int_equal(payload_record_add_image(&rec, &pause), 0);
	assert_int_equal(payload_record_format(&rec, &text), 0);
	snprintf(path, sizeof(path), "%s/" GB_PAYLOAD_RECORD, payload);
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
	free(text);
	payload_record_done(&rec);
	put_blob(NGINX_DIGEST, "{\"schemaVersion\":2,\"config\":{\"size\":1000},\"layers\":[{\"size\":20000},{\"size\":300}]}");
	put_blob(PAUSE_INDEX, "{\"schemaVersion\":2,\"manifests\":["
			      "{\"digest\":\"" PAUSE_ARM "\",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
			      "{\"digest\":\"" PAUSE_AMD "\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}");
	put_blob(PAUSE_ARM, "{\"config\":{\"size\":1},\"layers\":[{\"size\":1}]}");
	put_blob(PAUSE_AMD, "{\"config\":{\"size\":500},\"layers\":[{\"size\":4000}]}");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf(payload);
}

static json_t *row(json_t *site, const char *address)
{
	size_t i;
	json_t *n;

	json_array_foreach(json_object_get(site, "nodes"), i, n)
		if (streq(json_string_value(json_object_get(n, "address")), address))
			return n;
	return NULL;
}

static json_t *nodes(void)
{
	return json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "name", "node1", "address", "192.168.10.21", "fqdn",
			 "node1.gapbox.lan", "name", "node2", "address", "192.168.10.22", "fqdn", "node2.gapbox.lan");
}

static void test_images(void **state)
{
	struct dashboard d;
	json_t *list = nodes(), *site, *p;

	(void)state;
	assert_int_equal(dashboard_init(&d, "192.168.10.10", payload), 0);
	assert_int_equal(d.n_images, 2);
	assert_int_equal(d.images[0].size, 21300);   /* config and layers */
	assert_int_equal(d.images[1].size, 4500);    /* the index's amd64 manifest */
	site = dashboard_json(&d, list, true, payload, 1796466000);
	p = json_object_get(site, "payload");
	assert_string_equal(json_string_value(json_object_get(p, "kubespray")), "2.30.0");
	assert_string_equal(json_string_value(json_object_get(json_object_get(p, "versions"), "kube")), "v1.33.7");
	assert_int_equal(json_integer_value(json_object_get(p, "image_count")), 2);
	assert_int_equal(json_integer_value(json_object_get(p, "image_bytes")), 25800);
	assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(p, "images"), 0), "pulled_by")), 0);
	json_decref(site);
	json_decref(list);
	dashboard_done(&d);

	/* No payload: no images, and still a site object. */
	assert_int_equal(dashboard_init(&d, "192.168.10.10", NULL), 0);
	assert_int_equal(d.n_images, 0);
	dashboard_done(&d);
}

static void test_lines_and_verdicts(void **state)
{
	struct dashboard d;
	json_t *list = nodes(), *site, *n, *img;

	(void)state;
	assert_int_equal(dashboard_init(&d, "192.168.10.10", payload), 0);
	/* Not lines of the site log. */
	assert_false(dashboard_feed_line(&d, ""));
	assert_false(dashboard_feed_line(&d, "192.168.10.21 - - [05/Dec/2026:10:18:42 +0000] \"GET / HTTP/1.1\" 200 1"));
	assert_false(dashboard_feed_line(&d, "1796466000.100 node1 200 GET /gapbox/node-setup.sh"));
	assert_false(dashboard_feed_line(&d, "1796466000.100 192.168.10.21 200 GET relative"));
	assert_false(dashboard_feed_line(&d, "1796466000.100 192.168.10.21 999 GET /x"));
	/* The admin's own checks, on both of its addresses. */
	assert_true(dashboard_feed_line(&d, "1796466000.000 127.0.0.1 200 GET /v2/library/nginx/manifests/1.29.2"));
	assert_true(dashboard_feed_line(&d, "1796466000.000 192.168.10.10 200 GET /gapbox/node-setup.sh"));
	assert_int_equal(d.n_clients, 0);

	/* node1: set up, a failed fetch, the repository, a HEAD (no pull), pulls by digest and by
	 * tag under an alias. */
	assert_true(dashboard_feed_line(&d, "1796466042.120 192.168.10.21 200 GET /gapbox/node-setup.sh"));
	assert_true(dashboard_feed_line(&d, "1796466044.000 192.168.10.21 404 GET /debs/local/./InRelease"));
	assert_true(dashboard_feed_line(&d, "1796466044.100 192.168.10.21 304 GET /debs/local/./Release"));
	assert_true(dashboard_feed_line(&d, "1796466055.000 192.168.10.21 200 HEAD /v2/pause/manifests/3.10"));
	site = dashboard_json(&d, list, true, NULL, 1796466060);
	n = row(site, "192.168.10.21");
	assert_string_equal(json_string_value(json_object_get(n, "setup_fetched")), "2026-12-05T10:20:42Z");
	assert_int_equal(json_integer_value(json_object_get(n, "images_pulled")), 0);
	/* No NTP yet. */
	assert_false(json_is_true(json_object_get(n, "ready")));
	assert_non_null(strstr(json_string_value(json_object_get(n, "reason")), "NTP"));
	json_decref(site);

	dashboard_feed_chrony(&d, "192.168.10.10,1,0,127,127,51,0,0,127,4294967295\n"
				  "192.168.10.21,4,0,1,127,49,0,0,127,4294967295\n"
				  "not,a,line\n");
	assert_true(dashboard_feed_line(&d, "1796466056.000 192.168.10.21 200 GET /v2/pause/manifests/" PAUSE_INDEX));
	assert_true(dashboard_feed_line(&d, "1796466057.000 192.168.10.21 200 GET /v2/nginx/manifests/1.29.2"));
	/* A pull of something the payload does not have, and a blob: not images of the list. */
	assert_true(dashboard_feed_line(&d, "1796466058.000 192.168.10.21 200 GET /v2/other/manifests/1.0"));
	assert_true(dashboard_feed_line(&d, "1796466058.000 192.168.10.21 200 GET /v2/pause/blobs/" PAUSE_AMD));
	/* An address no node has, with a space in its URI. */
	assert_true(dashboard_feed_line(&d, "1796466059.000 192.168.10.99 200 GET /files/a b.tar.gz"));
	site = dashboard_json(&d, list, true, NULL, 1796466060);

	/* Everything but the admin's SSH login, which comes last. */
	n = row(site, "192.168.10.21");
	assert_false(json_is_true(json_object_get(n, "ready")));
	assert_non_null(strstr(json_string_value(json_object_get(n, "reason")), "cannot log in to it over SSH yet"));
	json_decref(site);
	d.clients[0].ssh_at = 1796466059;
	site = dashboard_json(&d, list, true, NULL, 1796466060);
	n = row(site, "192.168.10.21");
	assert_true(json_is_true(json_object_get(n, "ready")));
	assert_string_equal(json_string_value(json_object_get(n, "ssh_login")), "2026-12-05T10:20:59Z");
	assert_string_equal(json_string_value(json_object_get(n, "name")), "node1");
	assert_string_equal(json_string_value(json_object_get(n, "fqdn")), "node1.gapbox.lan");
	assert_int_equal(json_integer_value(json_object_get(n, "ntp_packets")), 4);
	assert_int_equal(json_integer_value(json_object_get(n, "ntp_last_seconds")), 49);
	assert_int_equal(json_integer_value(json_object_get(n, "images_pulled")), 2);
	assert_string_equal(json_string_value(json_object_get(n, "repo_used")), "2026-12-05T10:20:44Z");

	n = row(site, "192.168.10.22");
	assert_false(json_is_true(json_object_get(n, "ready")));
	assert_non_null(strstr(json_string_value(json_object_get(n, "reason")), "node-setup.sh"));
	assert_true(json_is_null(json_object_get(n, "setup_fetched")));

	n = row(site, "192.168.10.99");
	assert_false(json_is_true(json_object_get(n, "configured")));
	assert_false(json_is_true(json_object_get(n, "ready")));
	assert_non_null(strstr(json_string_value(json_object_get(n, "reason")), "not in the configuration"));
	assert_null(row(site, "192.168.10.10"));

	img = json_array_get(json_object_get(json_object_get(site, "payload"), "images"), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(img, "pulled_by"), 0)), "192.168.10.21");
	json_decref(site);

	/* The DNS check failing makes every node not ready, whatever it did. */
	site = dashboard_json(&d, list, false, NULL, 1796466060);
	n = row(site, "192.168.10.21");
	assert_false(json_is_true(json_object_get(n, "ready")));
	assert_non_null(strstr(json_string_value(json_object_get(n, "reason")), "DNS"));
	json_decref(site);
	json_decref(list);
	dashboard_done(&d);
}

/* The SSH try: only to a node that fetched node-setup.sh, not again before DASH_SSH_RETRY, and
 * the reason kept when it fails (here: 127.0.0.2, where no key of the test's opens anything). */
static void test_ssh(void **state)
{
	json_t *list = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "name", "a", "address", "127.0.0.2", "ssh_user",
				 "gapbox-test", "name", "b", "address", "127.0.0.3", "ssh_user", "root");
	char key[PATH_MAX + 32];
	struct dashboard d;

	(void)state;
	snprintf(key, sizeof(key), "%s/no-such-key", payload);
	assert_int_equal(dashboard_init(&d, "192.168.10.10", NULL), 0);
	assert_true(dashboard_feed_line(&d, "1796466042.120 127.0.0.2 200 GET /gapbox/node-setup.sh"));
	dashboard_probe_ssh(&d, list, key, 1000);
	assert_int_equal(d.n_clients, 1); /* b never asked for anything: not tried */
	assert_int_equal(d.clients[0].ssh_at, 0);
	assert_int_equal(d.clients[0].ssh_tried, 1000);
	assert_true(d.clients[0].ssh_error[0] != '\0');
	print_message("the SSH try's reason: %s\n", d.clients[0].ssh_error);
	d.clients[0].ssh_error[0] = '\0';
	dashboard_probe_ssh(&d, list, key, 1000 + DASH_SSH_RETRY - 1);
	assert_int_equal(d.clients[0].ssh_tried, 1000); /* too soon */
	assert_true(d.clients[0].ssh_error[0] == '\0');
	dashboard_probe_ssh(&d, list, key, 1000 + DASH_SSH_RETRY);
	assert_int_equal(d.clients[0].ssh_tried, 1000 + DASH_SSH_RETRY);
	assert_true(d.clients[0].ssh_error[0] != '\0');
	json_decref(list);
	dashboard_done(&d);
}

static void append(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_read_log(void **state)
{
	char path[PATH_MAX + 32];
	struct dashboard d;

	(void)state;
	snprintf(path, sizeof(path), "%s/access.log", payload);
	unlink(path);
	assert_int_equal(dashboard_init(&d, "192.168.10.10", payload), 0);
	assert_int_equal(dashboard_read_log(&d, path), 0); /* none yet */
	append(path, "1796466042.120 192.168.10.21 200 GET /gapbox/node-setup.sh\n"
		     "1796466043.000 192.168.10.21 200 GET /v2/nginx/man");
	assert_int_equal(dashboard_read_log(&d, path), 0);
	assert_int_equal(d.n_clients, 1);
	assert_int_equal(d.clients[0].requests, 1);
	assert_int_equal(d.clients[0].n_pulled, 0); /* the second line is not complete */
	append(path, "ifests/1.29.2\n");
	assert_int_equal(dashboard_read_log(&d, path), 0);
	assert_int_equal(d.clients[0].requests, 2);
	assert_int_equal(d.clients[0].n_pulled, 1);
	assert_int_equal(dashboard_read_log(&d, path), 0);
	assert_int_equal(d.clients[0].requests, 2); /* nothing read twice */

	/* A new log (the admin's nginx reopened a fresh one): counted from its start. */
	unlink(path);
	append(path, "1796466050.000 192.168.10.22 200 GET /gapbox/node-setup.sh\n");
	assert_int_equal(dashboard_read_log(&d, path), 0);
	assert_int_equal(d.n_clients, 1);
	assert_string_equal(d.clients[0].address, "192.168.10.22");
	dashboard_done(&d);
	unlink(path);
}

static void test_bounds(void **state)
{
	struct dashboard d;
	char line[128];

	(void)state;
	assert_int_equal(dashboard_init(&d, "192.168.10.10", NULL), 0);
	for (unsigned i = 0; i < DASH_CLIENTS_MAX + 10; i++) {
		snprintf(line, sizeof(line), "1796466000.000 10.%u.%u.%u 200 GET /", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		assert_true(dashboard_feed_line(&d, line));
	}
	assert_int_equal(d.n_clients, DASH_CLIENTS_MAX);
	assert_int_equal(d.unlisted, 10);
	dashboard_done(&d);
}

static void test_page(void **state)
{
	struct dashboard d;
	json_t *list = nodes(), *site, *st;
	struct sbuf b = SBUF_INIT;
	char *html = NULL;

	(void)state;
	assert_int_equal(dashboard_init(&d, "192.168.10.10", payload), 0);
	assert_true(dashboard_feed_line(&d, "1796466056.000 192.168.10.21 200 GET /v2/library/nginx/manifests/" NGINX_DIGEST));
	assert_true(dashboard_feed_line(&d, "1796466056.000 192.168.10.77 200 GET /<script>"));
	site = dashboard_json(&d, list, true, payload, 1796466060);
	dashboard_render_html(site, &b);
	assert_int_equal(sbuf_finish(&b, &html, NULL), 0);
	assert_non_null(strstr(html, "<table id=\"nodes\">"));
	assert_non_null(strstr(html, "<td class=\"verdict bad\"><strong>not ready</strong>: it has not fetched node-setup.sh"));
	assert_non_null(strstr(html, "<td class=\"pulled\">pulled by 192.168.10.21</td>"));
	assert_non_null(strstr(html, "<td class=\"pulled\">no</td>"));
	assert_non_null(strstr(html, "kubespray 2.30.0"));
	assert_non_null(strstr(html, "2 images, 25.2 KiB"));
	assert_non_null(strstr(html, "<h2>Machine</h2>")); /* the test's folder stands in for the root */
	assert_null(strstr(html, "<script>\"")); /* nothing from the log comes through unescaped */
	free(html);

	/* The whole page: the dashboard between the services and the node setup, reloading itself. */
	st = status_new();
	json_object_set_new(st, "site", site);
	assert_int_equal(status_render_html(st, &html), 0);
	assert_non_null(strstr(html, "<meta http-equiv=\"refresh\" content=\"10\">"));
	assert_true(strstr(html, "<table id=\"nodes\">") < strstr(html, "<h2>Setting up a node</h2>"));
	assert_null(strstr(html, "src=")); /* no outside scripts, fonts or images */
	free(html);
	/* The table (--status) has a line per node. */
	assert_int_equal(status_render_text(st, &html), 0);
	assert_non_null(strstr(html, "Ready:  node1 192.168.10.21: NOT READY: it has not fetched node-setup.sh"));
	assert_non_null(strstr(html, "        (not a node) 192.168.10.77: NOT READY: not in the configuration's nodes"));
	free(html);
	json_decref(st);
	json_decref(list);
	dashboard_done(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_lines_and_verdicts),
		cmocka_unit_test(test_read_log),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_ssh),
		cmocka_unit_test(test_page),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
