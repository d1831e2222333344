/* The site dashboard (dashboard.h): what the nodes did, read back from nginx's log of this boot
 * and chrony's clients, beside the payload's images and the machine's facts. */
#include "dashboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "adminkey.h"
#include "bytesize.h"
#include "error.h"
#include "files.h"
#include "fsutil.h"
#include "log.h"
#include "payloadrecord.h"
#include "spawn.h"
#include "status.h"
#include "strv.h"

/* A manifest or index read from the store, to size an image. */
#define DASH_MANIFEST_MAX (4u * 1024 * 1024)

static char *xstrdup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---- the payload's images ---- */

static json_t *blob_json(const char *store, const char *digest)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t size = 0;
	json_error_t err;

	if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64)
		return NULL;
	if (asprintf(&path, "%s/blobs/sha256/%.2s/%s/data", store, digest + 7, digest + 7) < 0 ||
	    read_file(path, DASH_MANIFEST_MAX, &text, &size) < 0)
		return NULL;
	return json_loadb(text, size, 0, &err);
}

static uint64_t manifest_bytes(json_t *m)
{
	uint64_t total = (uint64_t)json_integer_value(json_object_get(json_object_get(m, "config"), "size"));
	size_t i;
	json_t *layer;

	json_array_foreach(json_object_get(m, "layers"), i, layer)
		total += (uint64_t)json_integer_value(json_object_get(layer, "size"));
	return total;
}

/* The bytes a node pulls for DIGEST: a manifest's config and layers; for an index, those of
 * the manifest for ARCH (or its only one). 0 when the store does not say. */
static uint64_t image_bytes(const char *store, const char *digest, const char *arch)
{
	json_t *m = blob_json(store, digest), *entry, *pick = NULL;
	uint64_t bytes = 0;
	size_t i;

	if (!m)
		return 0;
	if (json_is_array(json_object_get(m, "layers")))
		bytes = manifest_bytes(m);
	else {
		json_t *list = json_object_get(m, "manifests");

		json_array_foreach(list, i, entry) {
			const char *a = json_string_value(json_object_get(json_object_get(entry, "platform"), "architecture"));

			if ((a && arch && streq(a, arch)) || json_array_size(list) == 1) {
				pick = entry;
				break;
			}
		}
		if (pick) {
			json_t *child = blob_json(store, json_string_value(json_object_get(pick, "digest")));

			if (child && json_is_array(json_object_get(child, "layers")))
				bytes = manifest_bytes(child);
			json_decref(child);
		}
	}
	json_decref(m);
	return bytes;
}

int dashboard_init(struct dashboard *d, const char *admin, const char *payload)
{
	_cleanup_free_ char *record_path = NULL, *store = NULL, *error = NULL;
	struct payload_record rec = {};
	int r;

	*d = (struct dashboard){ .versions = json_object() };
	d->admin = xstrdup0(admin);
	if (!d->versions || (admin && !d->admin))
		return -ENOMEM;
	if (!payload)
		return 0;
	if (asprintf(&record_path, "%s/" GB_PAYLOAD_RECORD, payload) < 0)
		return -ENOMEM;
	r = payload_record_load(record_path, &rec, &error);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		log_warning("the dashboard lists no images: %s", error ? error : strerror(-r));
		return 0;
	}
	if (asprintf(&store, "%s/%s", payload, rec.registry_root ? rec.registry_root : GB_PAYLOAD_REGISTRY_ROOT) < 0)
		goto oom;
	d->payload_arch = xstrdup0(rec.arch);
	d->kubespray = xstrdup0(rec.kubespray.version);
	for (size_t i = 0; i < rec.n_versions; i++)
		json_object_set_new(d->versions, rec.versions[i].component, json_string(rec.versions[i].version));
	d->images = calloc(rec.n_images ? rec.n_images : 1, sizeof(*d->images));
	if (!d->images)
		goto oom;
	for (size_t i = 0; i < rec.n_images; i++) {
		const struct payload_record_image *src = &rec.images[i];
		struct dash_image *img = &d->images[d->n_images++];

		img->ref = xstrdup0(src->ref);
		img->repository = xstrdup0(src->repository);
		img->tag = xstrdup0(src->tag);
		img->digest = xstrdup0(src->digest);
		for (char **a = src->aliases; a && *a; a++)
			if (strv_push(&img->aliases, *a) < 0)
				goto oom;
		if (!img->ref || !img->repository || !img->digest)
			goto oom;
		img->size = image_bytes(store, src->digest, rec.arch);
	}
	payload_record_done(&rec);
	return 0;
oom:
	payload_record_done(&rec);
	return -ENOMEM;
}

void dashboard_done(struct dashboard *d)
{
	for (size_t i = 0; i < d->n_images; i++) {
		free(d->images[i].ref);
		free(d->images[i].repository);
		free(d->images[i].tag);
		free(d->images[i].digest);
		strv_free(d->images[i].aliases);
	}
	for (size_t i = 0; i < d->n_clients; i++)
		free(d->clients[i].pulled);
	free(d->images);
	free(d->clients);
	free(d->admin);
	free(d->payload_arch);
	free(d->kubespray);
	json_decref(d->versions);
	*d = (struct dashboard){};
}

/* ---- what the nodes did ---- */

static struct dash_client *client(struct dashboard *d, const char *address)
{
	struct dash_client *c;

	for (size_t i = 0; i < d->n_clients; i++)
		if (streq(d->clients[i].address, address))
			return &d->clients[i];
	if (d->n_clients >= DASH_CLIENTS_MAX)
		return NULL;
	if (d->n_clients % 16 == 0) {
		c = realloc(d->clients, (d->n_clients + 16) * sizeof(*c));
		if (!c)
			return NULL;
		d->clients = c;
	}
	c = &d->clients[d->n_clients];
	*c = (struct dash_client){ .ntp_ago = -1 };
	c->pulled = calloc(d->n_images ? d->n_images : 1, 1);
	if (!c->pulled)
		return NULL;
	snprintf(c->address, sizeof(c->address), "%s", address);
	d->n_clients++;
	return c;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

/* A GET of /v2/NAME/manifests/REF that the registry answered: the image it names, if any. */
static void note_pull(struct dashboard *d, struct dash_client *c, const char *uri, time_t when)
{
	const char *name = uri + strlen("/v2/"), *m = NULL, *p;
	size_t name_len;

	for (p = strstr(name, "/manifests/"); p; p = strstr(p + 1, "/manifests/"))
		m = p;
	if (!m || m == name)
		return;
	name_len = (size_t)(m - name);
	m += strlen("/manifests/");
	for (size_t i = 0; i < d->n_images; i++) {
		const struct dash_image *img = &d->images[i];
		bool named = strlen(img->repository) == name_len && strncmp(img->repository, name, name_len) == 0;

		for (char **a = img->aliases; !named && a && *a; a++)
			named = strlen(*a) == name_len && strncmp(*a, name, name_len) == 0;
		if (!named || !((img->tag && streq(img->tag, m)) || streq(img->digest, m)))
			continue;
		if (!c->pulled[i]) {
			c->pulled[i] = 1;
			c->n_pulled++;
		}
		c->registry_at = when;
	}
}

bool dashboard_feed_line(struct dashboard *d, const char *line)
{
	char address[64], method[16];
	double msec;
	int status, used = 0;
	const char *uri;
	struct dash_client *c;
	time_t when;

	if (sscanf(line, "%lf %63s %d %15s %n", &msec, address, &status, method, &used) != 4 || !used)
		return false;
	uri = line + used;
	if (*uri != '/' || !is_ipv4(address) || msec < 0 || status < 100 || status > 599)
		return false;
	if (streq(address, "127.0.0.1") || (d->admin && streq(address, d->admin)))
		return true;
	c = client(d, address);
	if (!c) {
		d->unlisted++;
		return true;
	}
	when = (time_t)msec;
	c->requests++;
	c->last = when;
	if (status >= 400)
		return true;
	if (streq(uri, "/gapbox/node-setup.sh") && status == 200)
		c->setup_at = when;
	else if (startswith(uri, "/debs/") || startswith(uri, "/rpms/"))
		c->repo_at = when;
	else if (startswith(uri, "/v2/")) {
		c->registry_at = when;
		if (status == 200 && streq(method, "GET"))
			note_pull(d, c, uri, when);
	}
	return true;
}

int dashboard_read_log(struct dashboard *d, const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	ssize_t n;
	struct stat st;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fileno(f), &st) < 0)
		return -errno;
	if (st.st_ino != d->log_ino || st.st_size < d->log_offset) {
		/* Another file, or one made anew: what was read of the old one no longer counts. */
		for (size_t i = 0; i < d->n_clients; i++)
			free(d->clients[i].pulled);
		d->n_clients = 0;
		d->unlisted = 0;
		d->log_ino = st.st_ino;
		d->log_offset = 0;
	}
	if (fseeko(f, d->log_offset, SEEK_SET) < 0)
		return -errno;
	while ((n = getline(&line, &size, f)) > 0) {
		if (line[n - 1] != '\n')
			break; /* nginx is still writing it: read it next time */
		d->log_offset += n;
		line[n - 1] = '\0';
		if (n <= DASH_LINE_MAX)
			dashboard_feed_line(d, line);
	}
	return 0;
}

void dashboard_feed_chrony(struct dashboard *d, const char *csv)
{
	const char *line = csv;

	for (size_t i = 0; i < d->n_clients; i++) {
		d->clients[i].ntp_packets = 0;
		d->clients[i].ntp_ago = -1;
	}
	while (line && *line) {
		const char *end = strchr(line, '\n');
		char address[64];
		unsigned long packets, drop;
		char interval[32], interval_limit[32];
		long ago;
		struct dash_client *c;
		_cleanup_free_ char *copy = strndup(line, end ? (size_t)(end - line) : strlen(line));

		line = end ? end + 1 : NULL;
		/* Hostname,NTP,Drop,Int,IntL,Last,Cmd,Drop,Int,Last: chrony's -c clients columns. */
		if (!copy || sscanf(copy, "%63[^,],%lu,%lu,%31[^,],%31[^,],%ld,", address, &packets, &drop, interval,
				    interval_limit, &ago) != 6 || !is_ipv4(address) || packets == 0)
			continue;
		if (streq(address, "127.0.0.1") || (d->admin && streq(address, d->admin)))
			continue;
		if (!(c = client(d, address)))
			continue;
		c->ntp_packets = packets;
		/* chrony prints 4294967295 for "never". */
		c->ntp_ago = ago >= 0 && ago < 4294967295L ? ago : -1;
	}
}

/* ---- the site object ---- */

static json_t *time_or_null(time_t t)
{
	char buf[32];
	struct tm tm;

	if (!t || !gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_null();
	return json_string(buf);
}

static const struct dash_client *find_client(const struct dashboard *d, const char *address)
{
	for (size_t i = 0; address && i < d->n_clients; i++)
		if (streq(d->clients[i].address, address))
			return &d->clients[i];
	return NULL;
}

/* A node's row: what the admin saw of it, and whether kubespray can go on with it. */
static json_t *node_json(const struct dashboard *d, const char *name, const char *address, const char *fqdn,
			 bool configured, bool dns_ok)
{
	const struct dash_client *c = find_client(d, address);
	const char *reason;
	char why[256];
	bool ready = false;
	json_t *n;

	if (!configured)
		reason = "not in the configuration's nodes: it has no DNS name and no place in the inventory";
	else if (!dns_ok)
		reason = "the admin's DNS does not answer its check (see the services above)";
	else if (!c || !c->setup_at)
		reason = "it has not fetched node-setup.sh since the admin booted";
	else if (!c->ntp_packets)
		reason = "it has not asked the admin's NTP server for the time";
	else if (!c->repo_at)
		reason = "it has not read the admin's package repository";
	else if (!c->ssh_at) {
		snprintf(why, sizeof(why), "the admin cannot log in to it over SSH%s%s", c->ssh_error[0] ? ": " : " yet",
			 c->ssh_error);
		reason = why;
	} else {
		ready = true;
		reason = c->n_pulled ? "set up; time and packages from the admin; the admin logs in over SSH; pulls from its registry"
				     : "set up; time and packages from the admin; the admin logs in over SSH";
	}
	n = json_pack("{s:s?, s:s, s:s?, s:b, s:b, s:o, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:b, s:s}", "name", name,
		      "address", address, "fqdn", fqdn, "configured", configured, "dns", configured && dns_ok,
		      "setup_fetched", time_or_null(c ? c->setup_at : 0), "ntp_packets",
		      (json_int_t)(c ? c->ntp_packets : 0), "ntp_last_seconds",
		      c && c->ntp_ago >= 0 ? json_integer(c->ntp_ago) : json_null(), "repo_used",
		      time_or_null(c ? c->repo_at : 0), "ssh_login", time_or_null(c ? c->ssh_at : 0), "last_request", time_or_null(c ? c->last : 0), "requests",
		      (json_int_t)(c ? c->requests : 0), "images_pulled", (json_int_t)(c ? c->n_pulled : 0), "ready",
		      ready, "reason", reason);
	return n;
}

static json_t *images_json(const struct dashboard *d, uint64_t *total)
{
	json_t *list = json_array();

	*total = 0;
	for (size_t i = 0; list && i < d->n_images; i++) {
		const struct dash_image *img = &d->images[i];
		json_t *by = json_array();

		for (size_t k = 0; by && k < d->n_clients; k++)
			if (d->clients[k].pulled[i])
				json_array_append_new(by, json_string(d->clients[k].address));
		json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:s, s:I, s:o}", "ref", img->ref, "repository",
						      img->repository, "tag", img->tag, "digest", img->digest, "size",
						      (json_int_t)img->size, "pulled_by", by ?: json_array()));
		*total += img->size;
	}
	return list;
}

static void add_disk(json_t *disks, const char *root, const char *path, const char *what, dev_t *seen, size_t *n_seen)
{
	_cleanup_free_ char *full = fb_rooted(root, path);
	struct statvfs v;
	struct stat st;

	if (!full || stat(full, &st) < 0 || statvfs(full, &v) < 0)
		return;
	for (size_t i = 0; i < *n_seen; i++)
		if (seen[i] == st.st_dev)
			return;
	seen[(*n_seen)++] = st.st_dev;
	json_array_append_new(disks, json_pack("{s:s, s:s, s:I, s:I}", "path", path, "what", what, "total",
					       (json_int_t)((uint64_t)v.f_blocks * v.f_frsize), "used",
					       (json_int_t)((uint64_t)(v.f_blocks - v.f_bfree) * v.f_frsize)));
}

/* KEY's value in kB from meminfo text, in bytes; -1 when absent. */
static json_int_t meminfo(const char *text, const char *key)
{
	const char *p = text;
	size_t len = strlen(key);

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, len) == 0 && p[len] == ':')
			return (json_int_t)strtoll(p + len + 1, NULL, 10) * 1024;
	return -1;
}

static json_t *machine_json(const char *root)
{
	_cleanup_free_ char *uptime_path = fb_rooted(root, "/proc/uptime"), *mem_path = fb_rooted(root, "/proc/meminfo");
	_cleanup_free_ char *uptime = NULL, *mem = NULL;
	json_t *m = json_object(), *disks = json_array();
	dev_t seen[8];
	size_t n_seen = 0;

	if (!m || !disks) {
		json_decref(m);
		json_decref(disks);
		return NULL;
	}
	if (uptime_path && read_file(uptime_path, 4096, &uptime, NULL) >= 0)
		json_object_set_new(m, "uptime_seconds", json_integer((json_int_t)strtod(uptime, NULL)));
	if (mem_path && read_file(mem_path, 64 * 1024, &mem, NULL) >= 0) {
		json_object_set_new(m, "memory_total", json_integer(meminfo(mem, "MemTotal")));
		json_object_set_new(m, "memory_available", json_integer(meminfo(mem, "MemAvailable")));
	}
	add_disk(disks, root, "/", "the root file system: the system image under what changed since boot", seen, &n_seen);
	add_disk(disks, root, GB_RUN_DATA, "the data partition: what is kept across reboots", seen, &n_seen);
	add_disk(disks, root, FB_REGISTRY_RW, "the registry's writable layer: pushed images", seen, &n_seen);
	add_disk(disks, root, "/run", "/run: RAM", seen, &n_seen);
	json_object_set_new(m, "disks", disks);
	return m;
}

json_t *dashboard_json(const struct dashboard *d, json_t *nodes, bool dns_ok, const char *root, time_t now)
{
	json_t *site = json_object(), *rows = json_array(), *node, *payload;
	uint64_t total = 0;
	size_t i;

	if (!site || !rows) {
		json_decref(site);
		json_decref(rows);
		return NULL;
	}
	json_object_set_new(site, "updated", time_or_null(now));
	json_object_set_new(site, "machine", machine_json(root) ?: json_null());
	payload = json_pack("{s:s?, s:s?, s:O}", "arch", d->payload_arch, "kubespray", d->kubespray, "versions",
			    d->versions);
	if (payload) {
		json_object_set_new(payload, "images", images_json(d, &total));
		json_object_set_new(payload, "image_count", json_integer((json_int_t)d->n_images));
		json_object_set_new(payload, "image_bytes", json_integer((json_int_t)total));
	}
	json_object_set_new(site, "payload", payload ?: json_null());
	json_array_foreach(nodes, i, node) {
		const char *address = json_string_value(json_object_get(node, "address"));

		if (address)
			json_array_append_new(rows, node_json(d, json_string_value(json_object_get(node, "name")), address,
							      json_string_value(json_object_get(node, "fqdn")), true, dns_ok));
	}
	/* Addresses seen that no node has. */
	for (size_t k = 0; k < d->n_clients; k++) {
		bool listed = false;

		json_array_foreach(nodes, i, node)
			listed |= json_is_string(json_object_get(node, "address")) &&
				  streq(json_string_value(json_object_get(node, "address")), d->clients[k].address);
		if (!listed)
			json_array_append_new(rows, node_json(d, NULL, d->clients[k].address, NULL, false, dns_ok));
	}
	json_object_set_new(site, "nodes", rows);
	json_object_set_new(site, "unlisted_requests", json_integer((json_int_t)d->unlisted));
	return site;
}

/* ---- the page ---- */

static void put_bytes(struct sbuf *b, json_int_t bytes)
{
	char buf[BYTESIZE_MAX];

	sbuf_puts(b, bytesize_human(bytes > 0 ? (uint64_t)bytes : 0, buf));
}

static void put_text(struct sbuf *b, json_t *v, const char *none)
{
	sbuf_puts_escaped(b, json_is_string(v) ? json_string_value(v) : none);
}

static void render_machine(json_t *m, struct sbuf *b)
{
	json_int_t up = json_integer_value(json_object_get(m, "uptime_seconds"));
	json_t *disk;
	size_t i;

	sbuf_puts(b, "<h2>Machine</h2>\n<p id=\"machine\">up ");
	if (up >= 86400)
		sbuf_printf(b, "%lld d ", (long long)(up / 86400));
	if (up >= 3600)
		sbuf_printf(b, "%lld h ", (long long)(up / 3600 % 24));
	sbuf_printf(b, "%lld min &middot; memory ", (long long)(up / 60 % 60));
	put_bytes(b, json_integer_value(json_object_get(m, "memory_total")) -
			     json_integer_value(json_object_get(m, "memory_available")));
	sbuf_puts(b, " used of ");
	put_bytes(b, json_integer_value(json_object_get(m, "memory_total")));
	sbuf_puts(b, "</p>\n<table>\n<tr><th>file system</th><th>used</th><th>of</th><th>what it holds</th></tr>\n");
	json_array_foreach(json_object_get(m, "disks"), i, disk) {
		json_int_t total = json_integer_value(json_object_get(disk, "total")),
			   used = json_integer_value(json_object_get(disk, "used"));

		sbuf_puts(b, "<tr><td><code>");
		put_text(b, json_object_get(disk, "path"), "");
		sbuf_printf(b, "</code></td><td%s>", total && used * 10 >= total * 9 ? " class=\"bad\"" : "");
		put_bytes(b, used);
		sbuf_printf(b, " (%lld%%)</td><td>", (long long)(total ? used * 100 / total : 0));
		put_bytes(b, total);
		sbuf_puts(b, "</td><td>");
		put_text(b, json_object_get(disk, "what"), "");
		sbuf_puts(b, "</td></tr>\n");
	}
	sbuf_puts(b, "</table>\n");
}

static void render_nodes(json_t *nodes, struct sbuf *b)
{
	json_t *n;
	size_t i;

	sbuf_puts(b, "<h2>Nodes</h2>\n");
	if (!json_array_size(nodes)) {
		sbuf_puts(b, "<p>No node is configured (<code>nodes:</code> in the appliance configuration), and none has "
			     "asked the admin for anything since it booted.</p>\n");
		return;
	}
	sbuf_puts(b, "<table id=\"nodes\">\n<tr><th>node</th><th>address</th><th>DNS</th><th>node-setup.sh</th>"
		     "<th>NTP</th><th>repository</th><th>SSH from the admin</th><th>images pulled</th><th>verdict</th></tr>\n");
	json_array_foreach(nodes, i, n) {
		bool ready = json_is_true(json_object_get(n, "ready"));
		json_int_t packets = json_integer_value(json_object_get(n, "ntp_packets"));

		sbuf_puts(b, "<tr class=\"node\" data-address=\"");
		put_text(b, json_object_get(n, "address"), "");
		sbuf_puts(b, "\"><td>");
		put_text(b, json_object_get(n, "name"), "(unknown)");
		sbuf_puts(b, "</td><td>");
		put_text(b, json_object_get(n, "address"), "");
		sbuf_puts(b, "</td><td>");
		put_text(b, json_object_get(n, "fqdn"), "-");
		sbuf_puts(b, "</td><td>");
		put_text(b, json_object_get(n, "setup_fetched"), "not fetched");
		sbuf_puts(b, "</td><td>");
		if (packets)
			sbuf_printf(b, "%lld requests", (long long)packets);
		else
			sbuf_puts(b, "none");
		sbuf_puts(b, "</td><td>");
		put_text(b, json_object_get(n, "repo_used"), "not used");
		sbuf_puts(b, "</td><td>");
		put_text(b, json_object_get(n, "ssh_login"), "no");
		sbuf_printf(b, "</td><td>%lld</td><td class=\"verdict %s\"><strong>%s</strong>: ",
			    (long long)json_integer_value(json_object_get(n, "images_pulled")), ready ? "good" : "bad",
			    ready ? "ready" : "not ready");
		put_text(b, json_object_get(n, "reason"), "");
		sbuf_puts(b, "</td></tr>\n");
	}
	sbuf_puts(b, "</table>\n<p>Since the admin booted, from its web server's log and chrony's clients.</p>\n");
}

static void render_payload(json_t *p, struct sbuf *b)
{
	const char *component;
	json_t *v, *img;
	size_t i;

	sbuf_puts(b, "<h2>Payload</h2>\n<p id=\"payload\">");
	if (json_is_string(json_object_get(p, "kubespray"))) {
		sbuf_puts(b, "kubespray ");
		put_text(b, json_object_get(p, "kubespray"), "");
		sbuf_puts(b, " &middot; ");
	}
	json_object_foreach(json_object_get(p, "versions"), component, v) {
		if (streq(component, "kubespray"))
			continue;
		sbuf_puts_escaped(b, component);
		sbuf_puts(b, " ");
		put_text(b, v, "?");
		sbuf_puts(b, " &middot; ");
	}
	sbuf_printf(b, "%lld images, ", (long long)json_integer_value(json_object_get(p, "image_count")));
	put_bytes(b, json_integer_value(json_object_get(p, "image_bytes")));
	sbuf_puts(b, "</p>\n");
	if (!json_array_size(json_object_get(p, "images")))
		return;
	/* Without JavaScript the list is all there; with it, the box filters the rows. */
	sbuf_puts(b, "<p id=\"image-search\" hidden><label>Search the images: <input type=\"search\" id=\"image-filter\">"
		     "</label></p>\n<table id=\"images\">\n<tr><th>image</th><th>digest</th><th>size</th>"
		     "<th>pulled since boot</th></tr>\n");
	json_array_foreach(json_object_get(p, "images"), i, img) {
		json_t *by = json_object_get(img, "pulled_by"), *a;
		size_t k;

		sbuf_puts(b, "<tr class=\"image\"><td>");
		put_text(b, json_object_get(img, "ref"), "");
		sbuf_puts(b, "</td><td><code>");
		put_text(b, json_object_get(img, "digest"), "");
		sbuf_puts(b, "</code></td><td>");
		put_bytes(b, json_integer_value(json_object_get(img, "size")));
		sbuf_printf(b, "</td><td class=\"pulled\">%s", json_array_size(by) ? "pulled by " : "no");
		json_array_foreach(by, k, a) {
			sbuf_puts(b, k ? ", " : "");
			put_text(b, a, "");
		}
		sbuf_puts(b, "</td></tr>\n");
	}
	sbuf_puts(b, "</table>\n<script>\n"
		     "(function () {\n"
		     "  var box = document.getElementById('image-filter'), rows = document.querySelectorAll('#images tr.image');\n"
		     "  document.getElementById('image-search').hidden = false;\n"
		     "  function apply() {\n"
		     "    var q = box.value.toLowerCase();\n"
		     "    try { sessionStorage.setItem('gapbox-image-filter', box.value); } catch (e) {}\n"
		     "    rows.forEach(function (r) { r.hidden = q !== '' && r.textContent.toLowerCase().indexOf(q) < 0; });\n"
		     "  }\n"
		     "  try { box.value = sessionStorage.getItem('gapbox-image-filter') || ''; } catch (e) {}\n"
		     "  box.addEventListener('input', apply);\n"
		     "  apply();\n"
		     "})();\n</script>\n");
}

void dashboard_render_html(json_t *site, struct sbuf *b)
{
	if (!json_is_object(site))
		return;
	render_nodes(json_object_get(site, "nodes"), b);
	if (json_is_object(json_object_get(site, "payload")))
		render_payload(json_object_get(site, "payload"), b);
	if (json_is_object(json_object_get(site, "machine")))
		render_machine(json_object_get(site, "machine"), b);
}

void dashboard_probe_ssh(struct dashboard *d, json_t *nodes, const char *key, time_t now)
{
	size_t i;
	json_t *node;

	json_array_foreach(nodes, i, node) {
		const char *address = json_string_value(json_object_get(node, "address"));
		const char *user = json_string_value(json_object_get(node, "ssh_user"));
		struct dash_client *c = (struct dash_client *)find_client(d, address);
		_cleanup_free_ char *target = NULL, *log = NULL, *tail = NULL;
		int r;

		if (!c || !c->setup_at || c->ssh_at || (c->ssh_tried && now - c->ssh_tried < DASH_SSH_RETRY))
			continue;
		c->ssh_tried = now;
		_cleanup_close_ int fd = -1;

		if (asprintf(&target, "%s@%s", user ? user : "root", address) < 0 ||
		    !(log = strdup("/tmp/gapbox-dashboard-ssh.XXXXXX")) || (fd = mkstemp(log)) < 0)
			return;
		/* Only whether the key opens it: no command but true, and nothing learnt of its host key. */
		char *argv[] = { "timeout", "20", "ssh", "-i", (char *)key, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
				 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
				 "LogLevel=ERROR", target, "true", NULL };
		r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log });
		if (r == 0) {
			unlink(log);
			c->ssh_at = now;
			c->ssh_error[0] = '\0';
			continue;
		}
		tail = gb_log_tail(log, 512);
		unlink(log);
		/* ssh's last line says why. */
		char *last = tail;
		for (size_t n = tail ? strlen(tail) : 0; n && (tail[n - 1] == '\n' || tail[n - 1] == '\r'); n--)
			tail[n - 1] = '\0';
		if (tail && strrchr(tail, '\n'))
			last = strrchr(tail, '\n') + 1;
		snprintf(c->ssh_error, sizeof(c->ssh_error), "%s", last && *last ? last : r == 124 ? "no answer in 20 s" : "refused");
	}
}

/* ---- the refresh loop ---- */

/* chronyc's clients, as CSV; NULL when it cannot tell (chronyd down, no access). */
static char *chrony_clients(void)
{
	FILE *p = popen("chronyc -n -c clients 2>/dev/null", "re");
	char *text = NULL;

	if (!p)
		return NULL;
	if (read_fd(fileno(p), 1024 * 1024, &text, NULL) < 0)
		text = NULL;
	pclose(p);
	return text;
}

static bool dns_verified(json_t *st)
{
	size_t i;
	json_t *svc;

	json_array_foreach(json_object_get(st, "services"), i, svc)
		if (json_is_string(json_object_get(svc, "name")) && streq(json_string_value(json_object_get(svc, "name")), "dns"))
			return json_is_true(json_object_get(svc, "verified"));
	return false;
}

static int refresh(const struct fb_options *o, struct dashboard *d)
{
	_cleanup_free_ char *status_path = fb_rooted(o->root, GB_RUN_STATUS), *log_path = fb_rooted(o->root, FB_SITE_LOG);
	_cleanup_free_ char *www = fb_rooted(o->root, GB_RUN_WWW "/index.html"), *chrony = NULL, *html = NULL, *error = NULL;
	json_t *st = NULL;
	int r;

	if (!status_path || !log_path || !www)
		return -ENOMEM;
	r = dashboard_read_log(d, log_path);
	if (r < 0)
		log_warning_errno(r, "cannot read %s: %m", log_path);
	if (!o->root && (chrony = chrony_clients()))
		dashboard_feed_chrony(d, chrony);
	r = status_load(status_path, &st, &error);
	if (r < 0) {
		log_warning("no status to add the dashboard to: %s", error ? error : strerror(-r));
		return r;
	}
	if (!o->root && path_exists(FB_ADMIN_KEY))
		dashboard_probe_ssh(d, json_object_get(st, "nodes"), FB_ADMIN_KEY, time(NULL));
	json_object_set_new(st, "site", dashboard_json(d, json_object_get(st, "nodes"), dns_verified(st), o->root,
						       time(NULL)) ?: json_null());
	r = status_save(status_path, st);
	if (r >= 0)
		r = status_render_html(st, &html);
	if (r >= 0)
		r = write_file_atomic(www, html, strlen(html), 0644);
	json_decref(st);
	if (r < 0)
		log_warning_errno(r, "cannot write the dashboard: %m");
	return r;
}

int fb_dashboard(const struct fb_options *o, unsigned every)
{
	_cleanup_free_ char *status_path = fb_rooted(o->root, GB_RUN_STATUS), *error = NULL;
	_cleanup_free_ char *payload = NULL;
	struct dashboard d;
	json_t *st = NULL;
	const char *admin = NULL;
	int r;

	if (!status_path)
		return -ENOMEM;
	r = status_load(status_path, &st, &error);
	if (r < 0)
		return log_error_errno(r, "no status to add the dashboard to: %s", error ? error : strerror(-r));
	admin = json_string_value(json_object_get(json_object_get(st, "admin"), "address"));
	if (o->payload)
		payload = strdup(o->payload);
	else if (json_is_string(json_object_get(json_object_get(st, "admin"), "payload")))
		payload = fb_rooted(o->root, json_string_value(json_object_get(json_object_get(st, "admin"), "payload")));
	r = dashboard_init(&d, admin, payload);
	json_decref(st);
	if (r < 0)
		return log_error_errno(r, "out of memory");
	do {
		r = refresh(o, &d);
		if (every)
			sleep(every);
	} while (every);
	dashboard_done(&d);
	return r;
}
