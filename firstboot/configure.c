/* The configure stage (gapbox-firstboot.service, before the services start): resolve the
 * configuration, render every service's files, vet them with the daemons' own checkers,
 * install what changed, apply kernel state (sysctl, nftables, registry storage), and record
 * the status. Restarts of running services are left to the verify stage. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "adminkey.h"
#include "bootrecord.h"
#include "cmdline.h"
#include "configcheck.h"
#include "firstboot.h"
#include "fsutil.h"
#include "log.h"
#include "nodes.h"
#include "payloadrecord.h"
#include "render.h"
#include "service.h"
#include "spawn.h"
#include "status.h"
#include "storage.h"
#include "strv.h"
#include "tls.h"
#include "units.h"

#define CONFIG_FILE_MAX (1024 * 1024)
/* How long udev may take to name the NICs at boot: minutes under emulation, seconds on metal. */
#define NICS_SETTLE_MS (120 * 1000)

/* The configuration itself, shown with the services: what was loaded, and what was wrong. */
const struct fb_service fb_service_config = {
	.name = "config",
};

struct ctx {
	const struct fb_options *o;
	struct fb_host host;
	json_t *st;
};

static json_t *svc(struct ctx *c, const struct fb_service *s) { return status_service(c->st, s); }

static char *rooted(struct ctx *c, const char *path) { return fb_rooted(c->host.root, path); }

/* ---- configuration ---- */

/* Load PATH (missing: the defaults), apply the kernel parameters, check it whole as gapbox build
 * does (fb_config_check). */
static int load_candidate(const char *path, const char *cmdline, struct appliance **ret,
			  struct appliance_source *ret_source, char **ret_applied, char **ret_cmdline_errors,
			  char **ret_error)
{
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	int r;

	if (path)
		r = appliance_load(path, &a, ret_source, ret_error);
	else
		r = appliance_new_default(&a);
	if (r < 0)
		return r;
	r = appliance_apply_cmdline(a, cmdline, ret_applied, ret_cmdline_errors);
	if (r < 0)
		return r;
	r = fb_config_check(a, ret_error);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(a);
	return 0;
}

/* Keep a copy of a configuration that loaded and validated, for a later bad edit. */
static void remember_good(struct ctx *c, const char *path)
{
	_cleanup_free_ char *text = NULL, *dest = rooted(c, FB_LAST_GOOD_PATH);
	struct fb_file f = { .path = FB_LAST_GOOD_PATH, .mode = 0600 };
	int r;

	if (!dest)
		return;
	r = read_file(path, CONFIG_FILE_MAX, &text, &f.size);
	if (r < 0)
		return;
	f.content = text;
	r = fb_file_install(c->host.root, &f);
	if (r < 0)
		log_warning_errno(r, "cannot keep a copy of %s as %s: %m", path, dest);
}

/* A configuration file that sets a secret (a password hash) is root's alone: PATH, when group
 * or others may read it, becomes 0600, and the status says so. Whether it loaded or not: a
 * plain password where the hash belongs needs hiding most. */
static void keep_secret(json_t *s, const char *path)
{
	_cleanup_free_ char *key = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	r = appliance_secret_key(path, &key);
	if (r <= 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0077))
		return;
	if (fchmod(fd, 0600) < 0)
		status_error(s, "%s sets %s, a secret, and group or others may read it (mode %04o); cannot make it "
			     "0600: %s", path, key, (unsigned)(st.st_mode & 07777), strerror(errno));
	else
		status_detail(s, "made %s 0600: it sets %s, a secret, and group or others could read it (mode %04o)",
			      path, key, (unsigned)(st.st_mode & 07777));
}

/* What loading one candidate configuration said. */
struct attempt {
	char *applied;        /* kernel parameters applied */
	char *cmdline_errors; /* kernel parameters refused */
	char *error;          /* why the candidate cannot be used */
	struct appliance_source source; /* missing: the defaults were used; else the sha256 loaded */
};

static void attempt_done(struct attempt *t)
{
	free(t->applied);
	free(t->cmdline_errors);
	free(t->error);
	*t = (struct attempt){};
}

/* PATH (NULL: the defaults) with the kernel parameters CMDLINE (may be NULL). */
static int attempt(const char *path, const char *cmdline, struct appliance **ret, struct attempt *t)
{
	attempt_done(t);
	return load_candidate(path, cmdline, ret, &t->source, &t->applied, &t->cmdline_errors, &t->error);
}

/* The file S's configuration came from (PATH, NULL for the defaults) and its sha256 SHA, in the
 * status: "file" and "sha256", and whether it is the image's own (the file in the system image,
 * under GB_RUN_SYSTEM: the site configuration baked in, or the overlay's default), so an operator
 * tells it from an edited one or the data partition's. "image_own" is null when the image's copy
 * cannot be read (no system image under --root). */
static void record_source(struct ctx *c, json_t *s, const char *path, const char *sha)
{
	_cleanup_free_ char *image_copy = rooted(c, GB_RUN_SYSTEM FB_CONFIG_PATH);
	char image_sha[SHA256_HEX_LEN + 1];

	json_object_set_new(s, "file", path ? json_string(path) : json_null());
	json_object_set_new(s, "sha256", path ? json_string(sha) : json_null());
	if (!path || !image_copy || gb_sha256_file(image_copy, image_sha, NULL) < 0) {
		json_object_set_new(s, "image_own", json_null());
		return;
	}
	json_object_set_new(s, "image_own", json_boolean(streq(sha, image_sha)));
	if (streq(sha, image_sha))
		status_detail(s, "the image's own");
	else
		status_detail(s, "not the image's own (%s has sha256 %s)", GB_RUN_SYSTEM FB_CONFIG_PATH, image_sha);
}

/* The file, else the last good one, else the defaults; the kernel parameters on top of
 * each, unless even the defaults cannot take them. */
static int load_config(struct ctx *c, struct appliance **ret)
{
	_cleanup_free_ char *path = c->o->config_path ? strdup(c->o->config_path) : rooted(c, FB_CONFIG_PATH);
	_cleanup_free_ char *last_good = rooted(c, FB_LAST_GOOD_PATH), *cmdline = NULL;
	const char *cmdline_path = c->o->cmdline_path ? c->o->cmdline_path : c->host.live ? "/proc/cmdline" : NULL;
	_cleanup_(attempt_done) struct attempt t = {};
	json_t *s = svc(c, &fb_service_config);
	int r;

	if (!path || !last_good)
		return -ENOMEM;
	if (cmdline_path && (r = cmdline_read(cmdline_path, &cmdline)) < 0) {
		status_error(s, "cannot read the kernel command line from %s: %s", cmdline_path, strerror(-r));
		cmdline = NULL;
	}

	r = attempt(path, cmdline, ret, &t);
	keep_secret(s, path);
	if (r >= 0) {
		if (t.source.missing) {
			status_detail(s, "defaults (%s does not exist)", path);
			record_source(c, s, NULL, NULL);
		} else {
			status_detail(s, "%s, sha256 %s", path, t.source.sha256);
			record_source(c, s, path, t.source.sha256);
			remember_good(c, path);
		}
	} else if (r != -ENOMEM) {
		status_error(s, "%s", t.error ? t.error : strerror(-r));
		if (path_exists(last_good) && (r = attempt(last_good, cmdline, ret, &t)) >= 0) {
			status_detail(s, "using the last good configuration (%s, sha256 %s)", last_good, t.source.sha256);
			record_source(c, s, last_good, t.source.sha256);
		} else if (r != -ENOMEM && (r = attempt(NULL, cmdline, ret, &t)) >= 0) {
			status_detail(s, "using the defaults");
			record_source(c, s, NULL, NULL);
		} else if (r != -ENOMEM) {
			status_error(s, "%s; kernel parameters ignored", t.error ? t.error : strerror(-r));
			r = attempt(NULL, NULL, ret, &t);
			status_detail(s, "using the defaults");
			record_source(c, s, NULL, NULL);
		}
	}
	if (r < 0)
		return r;
	if (t.cmdline_errors)
		status_error(s, "%s", t.cmdline_errors);
	if (t.applied)
		status_detail(s, "kernel parameters: %s", t.applied);
	status_set(s, "configured", 1);
	return 0;
}

/* ---- NICs ---- */

static int choose_nics(struct ctx *c, const struct appliance *a, struct nic_choice *ret)
{
	_cleanup_free_ struct fb_nic *nics = NULL;
	size_t n = 0;
	int r;

	if (c->o->interfaces) {
		r = nics_parse(c->o->interfaces, &nics, &n);
		if (r < 0)
			return log_error_errno(r, "--interfaces %s: expected NAME[=MAC],...: %m", c->o->interfaces);
	} else if (c->host.live) {
		_cleanup_free_ char *pending = NULL, *timeout = NULL;

		/* Coldplug loads the NIC drivers and udev renames the NICs (eth0 -> enp0s1) as it works
		 * through its queue; a name read before that would go stale in every file below. So:
		 * the queue emptied, then every NIC in udev's database. */
		if (asprintf(&timeout, "--timeout=%u", NICS_SETTLE_MS / 1000) < 0)
			return -ENOMEM;
		char *argv[] = { "udevadm", "settle", timeout, NULL };
		(void)gb_run(argv, &(struct gb_spawn_opts){ .log_path = "/dev/null" });
		r = nics_wait_settled(NULL, NULL, NICS_SETTLE_MS, 100, &pending);
		if (r == -ETIMEDOUT)
			status_error(svc(c, &fb_service_network), "udev has not finished with %s after %u s: names may "
				     "still change", pending, NICS_SETTLE_MS / 1000);
		else
			log_info("network: udev is done with every NIC");
		r = nics_discover(NULL, &nics, &n);
		if (r < 0)
			status_error(svc(c, &fb_service_network), "cannot list the network interfaces: %s", strerror(-r));
	}
	return nics_choose(nics, n, a->internal, a->external, !c->host.live && !c->o->interfaces, ret);
}

/* ---- payload ---- */

/* The payload record: the registries the build stripped from image names, the kubespray it
 * carries, and the node OS its package repositories are for. None there (a payload from before the record): an empty one, and images are named by
 * the built-in registries, which every list has anyway. */
static int payload_record(struct ctx *c, const char *payload, struct payload_record *ret)
{
	_cleanup_free_ char *path = path_join(payload, GB_PAYLOAD_RECORD), *error = NULL;
	int r;

	*ret = (struct payload_record){ 0 };
	if (!path)
		return -ENOMEM;
	r = payload_record_load(path, ret, &error);
	if (r == -ENOENT)
		return 0;
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		status_error(svc(c, &fb_service_registry), "%s; images are named by the built-in registries and "
			     "registry.strip_registries only", error ? error : strerror(-r));
	return 0;
}

/* ---- rendering and installing ---- */

/* Vet the rendered files with the daemon's own checker, from copies in the staging area. */
static int check_rendered(struct ctx *c, const struct fb_service *s, const struct fb_files *fs)
{
	_cleanup_free_ char *dir = NULL, *error = NULL, *staging = rooted(c, GB_RUN_STAGING);
	_cleanup_strv_free_ char **staged = NULL;
	int r;

	if ((!s->check && !s->checker.path) || !staging)
		return staging ? 0 : -ENOMEM;
	dir = path_join(staging, s->name);
	if (!dir)
		return -ENOMEM;
	r = fb_files_stage(fs, dir, &staged);
	if (r < 0) {
		status_error(svc(c, s), "cannot stage the rendered files in %s: %s", dir, strerror(-r));
		return r;
	}
	r = s->check ? s->check(fs, staged, &error) : fb_check_file(fs, staged, &s->checker, &error);
	(void)rm_rf(dir);
	if (r == -ENOENT) {
		log_debug("%s: checker not installed, not checked", s->name);
		return 0;
	}
	if (r < 0)
		status_error(svc(c, s), "%s; the previous configuration stays", error ? error : "rejected");
	return r;
}

/* Render, vet and install S's files. *ret_restart: a file whose change needs the daemon
 * restarted was changed. Negative only when out of memory; the rest is in the status. */
static int configure_service(struct ctx *c, const struct fb_service *s, const struct fb_site *site,
			     bool *ret_restart)
{
	struct fb_files fs = {};
	json_t *st = svc(c, s);
	int r = 0, failed = 0;

	*ret_restart = false;
	if (s->render)
		r = s->render(site, &fs);
	if (r < 0) {
		status_error(st, "cannot render the configuration: %s", strerror(-r));
		fb_files_free(&fs);
		return r == -ENOMEM ? r : 0;
	}
	if (c->host.live || c->o->check) {
		r = check_rendered(c, s, &fs);
		if (r < 0) {
			fb_files_free(&fs);
			return r == -ENOMEM ? r : 0;
		}
	}
	for (size_t i = 0; i < fs.n; i++) {
		r = fb_file_install(c->host.root, &fs.v[i]);
		if (r < 0) {
			status_error(st, "cannot write %s: %s", fs.v[i].path, strerror(-r));
			failed++;
		} else if (r > 0) {
			log_info("%s: %s %s", s->name, fs.v[i].content ? "wrote" : "removed", fs.v[i].path);
			*ret_restart = *ret_restart || fs.v[i].restart;
		}
	}
	fb_files_free(&fs);
	status_set(st, "configured", failed == 0);
	return 0;
}

/* A daemon already running whose files changed (a run after boot) is reloaded now, or
 * restarted by verify. CHANGED: per service, whether that happened to its files. */
static void queue_restarts(struct ctx *c, const bool *changed)
{
	json_t *queue = json_array();

	for (size_t i = 0; fb_services[i]; i++) {
		const struct fb_service *s = fb_services[i];
		_cleanup_free_ char *error = NULL;

		if (!s->unit || !changed[i] || fb_unit_is_active(s->unit) <= 0)
			continue;
		if (!s->reload)
			json_array_append_new(queue, json_string(s->unit));
		else if (s->reload(&error) < 0)
			status_error(svc(c, s), "%s", error ? error : "reloading after the change failed");
	}
	json_object_set_new(c->st, "restart", queue);
}

/* ---- status ---- */

static int write_status(struct ctx *c)
{
	_cleanup_free_ char *status = rooted(c, GB_RUN_STATUS), *www = rooted(c, GB_RUN_WWW), *index = NULL,
			    *html = NULL;
	int r;

	if (!status || !www)
		return -ENOMEM;
	r = mkdir_p(www, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create %s: %m", www);
	json_object_set_new(c->st, "phase", json_string("configure"));
	r = status_save(status, c->st);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", status);
	index = path_join(www, "index.html");
	if (!index || status_render_html(c->st, &html) < 0)
		return -ENOMEM;
	r = write_file_atomic(index, html, strlen(html), 0644);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", index);
	return 0;
}

/* With registry.tls: the site CA and the registry's certificate, made (live) before anything is
 * rendered, so that nginx -t checks the real pair and node-setup.sh carries the CA's hash. Under
 * --root nothing is made: a CA already there (tls-init) is read. */
static int site_tls(struct ctx *c, const struct appliance *a, struct fb_site *site)
{
	_cleanup_free_ char *pem = NULL, *error = NULL;
	int r;

	if (!a->registry_tls)
		return 0;
	if (c->host.live)
		r = fb_tls_init("", a, site->address, &pem, &error);
	else
		r = fb_tls_ca_read(c->host.root, &pem);
	if (r == -ENOMEM)
		return r;
	/* Live, a registry without its pair would keep nginx from starting at all: plain HTTP
	 * until the pair can be made, and the status says so. */
	if (r < 0 && c->host.live) {
		status_error(svc(c, &fb_service_registry), "%s; the registry is served over plain HTTP until the site CA "
			     "and its certificate can be made", error ? error : strerror(-r));
		site->registry_tls = false;
	}
	fb_site_set_tls_ca(site, r < 0 ? NULL : TAKE_PTR(pem));
	return 0;
}

/* The admin's SSH key for Ansible, made live when there is none; under --root one already there is
 * read. Without it node-setup.sh installs no key, and the status says why. */
static int site_admin_key(struct ctx *c, struct fb_site *site)
{
	_cleanup_free_ char *comment = NULL, *error = NULL, *priv = rooted(c, FB_ADMIN_KEY);
	int r;

	if (!priv || asprintf(&comment, "root@admin.%s (gapbox, for Ansible)", site->domain) < 0)
		return -ENOMEM;
	r = fb_admin_key(priv, c->host.live, comment, &site->admin_key, &error);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		status_error(svc(c, &fb_service_nodes), "%s; node-setup.sh installs no SSH key for Ansible",
			     error ? error : strerror(-r));
	return 0;
}

/* When the netboot came over the internal NIC, the site's address goes beside the boot address
 * rather than in its place: the boot network (its DHCP and boot server) keeps reaching the admin. */
static void netboot_nic(struct ctx *c, struct fb_site *s)
{
	_cleanup_free_ char *path = rooted(c, GB_RUN_BOOT_RECORD), *error = NULL;
	struct boot_record rec;

	if (!path || boot_record_load(path, &rec, &error) < 0 || !rec.url[0] || !s->internal.mac[0] ||
	    strcasecmp(rec.nic_mac, s->internal.mac) != 0)
		return;
	snprintf(s->internal_boot_address, sizeof(s->internal_boot_address), "%s", rec.address);
}

/* The site: the configuration, this machine's NICs and what the payload says. */
static int resolve_site(struct ctx *c, const struct appliance *a, const char *payload, struct fb_site *ret)
{
	_cleanup_(payload_record_done) struct payload_record rec = {};
	struct nic_choice nics = {};
	const char *nat_error = NULL;
	int r;

	r = choose_nics(c, a, &nics);
	if (r >= 0 && nics.error)
		status_error(svc(c, &fb_service_network), "%s", nics.error);
	if (r >= 0)
		r = payload_record(c, payload, &rec);
	if (r >= 0)
		r = fb_site_init(ret, a, &nics, payload, rec.strip_registries, &nat_error);
	if (r >= 0)
		netboot_nic(c, ret);
	if (r >= 0) {
		ret->kubespray = rec.kubespray;
		rec.kubespray = (struct payload_record_kubespray){ 0 };
		ret->node_os = TAKE_PTR(rec.node_os);
		ret->payload_sample = rec.sample;
		r = payload ? fb_registry_store_tags(payload, &ret->registry_tags) : 0;
		if (r == -E2BIG)
			status_error(svc(c, &fb_service_registry), "%s/" GB_PAYLOAD_REGISTRY_ROOT " holds more than %d tags: "
				     "none of them is refused to pushes by nginx", payload, FB_REGISTRY_TAGS_MAX);
		else if (r < 0)
			status_error(svc(c, &fb_service_registry), "cannot list the tags in %s/" GB_PAYLOAD_REGISTRY_ROOT
				     ": %s; none of them is refused to pushes by nginx", payload, strerror(-r));
		r = site_tls(c, a, ret);
		if (r >= 0)
			r = site_admin_key(c, ret);
	}
	if (r >= 0) {
		char sha[SHA256_HEX_LEN + 1];

		/* The site complete, node-setup.sh is what nodes_render will write: its hash goes into
		 * the node command that the status shows. */
		r = nodes_setup_sha256(ret, sha);
		if (r >= 0)
			fb_site_set_node_setup(ret, sha);
		else if (r != -ENOMEM) {
			status_error(svc(c, &fb_service_nodes), "cannot render node-setup.sh: %s", strerror(-r));
			r = 0;
		}
	}
	if (nat_error)
		status_error(svc(c, &fb_service_nat), "%s", nat_error);
	nic_choice_done(&nics);
	return r;
}

/* Every service's files, then every service's state: rendered, vetted and installed first, so
 * that applying (nftables, the registry's mounts) works on a complete set. */
static int configure_services(struct ctx *c, const struct fb_site *site)
{
	_cleanup_free_ bool *changed = NULL;
	size_t n = 0;
	int r;

	while (fb_services[n])
		n++;
	changed = calloc(n, sizeof(*changed));
	if (!changed)
		return -ENOMEM;

	if (c->host.live)
		for (const struct fb_service *const *s = fb_services; *s; s++)
			if ((*s)->prepare)
				(*s)->prepare(svc(c, *s));
	for (size_t i = 0; fb_services[i]; i++)
		if ((r = configure_service(c, fb_services[i], site, &changed[i])) < 0)
			return r;
	for (const struct fb_service *const *s = fb_services; *s; s++)
		if ((*s)->apply)
			(*s)->apply(site, &c->host, svc(c, *s));
	if (c->host.live && fb_systemd_booted())
		queue_restarts(c, changed);
	return 0;
}

/* Where gapbox-init mounted the images from (its boot record), for the status: "boot". */
static void boot_record_status(struct ctx *c)
{
	_cleanup_free_ char *path = rooted(c, GB_RUN_BOOT_RECORD), *error = NULL;
	struct boot_record rec;
	int r;

	r = path ? boot_record_load(path, &rec, &error) : -ENOMEM;
	if (r == -ENOENT)
		return; /* an initramfs that writes none */
	if (r < 0)
		log_warning("the status will not say where the system runs from: %s", error ? error : strerror(-r));
	else
		json_object_set_new(c->st, "boot", boot_record_to_json(&rec));
}

/* The configured nodes, for the dashboard: name, address, DNS name, and the user the admin logs
 * in to it as. */
static json_t *nodes_status(const struct appliance *a, const char *domain)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < a->n_nodes; i++) {
		char address[INET_ADDRSTRLEN], fqdn[512];

		inet_ntop(AF_INET, &a->nodes[i].address, address, sizeof(address));
		snprintf(fqdn, sizeof(fqdn), "%s.%s", a->nodes[i].name, domain);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "name", a->nodes[i].name, "address", address,
						      "fqdn", fqdn, "ssh_user", a->node_ssh_user ? a->node_ssh_user : "root"));
	}
	return list;
}

int fb_configure(const struct fb_options *o)
{
	struct ctx c = { .o = o, .host = { .root = o->root ? o->root : "", .live = !o->root } };
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	_cleanup_free_ char *payload = NULL;
	struct fb_site site = {};
	int r;

	payload = o->payload ? strdup(o->payload) : rooted(&c, GB_RUN_PAYLOAD);
	c.st = status_new();
	if (!payload || !c.st) {
		json_decref(c.st);
		return log_error_errno(-ENOMEM, "out of memory");
	}
	r = load_config(&c, &a);
	if (r >= 0)
		r = resolve_site(&c, a, payload, &site);
	if (r >= 0) {
		json_object_set_new(c.st, "admin", fb_site_to_json(&site) ?: json_null());
		json_object_set_new(c.st, "nodes", nodes_status(a, site.domain) ?: json_null());
		boot_record_status(&c);
		for (const struct fb_service *const *s = fb_services; *s; s++)
			if ((*s)->describe)
				(*s)->describe(&site, svc(&c, *s));
		r = configure_services(&c, &site);
	}
	if (r >= 0)
		r = write_status(&c);
	if (r >= 0)
		for (const struct fb_service *const *s = fb_services; *s; s++) {
			const char *error = json_string_value(json_object_get(svc(&c, *s), "error"));

			if (error)
				log_error("%s: %s", (*s)->name, error);
		}
	if (r < 0)
		log_error_errno(r, "configure stopped: %m");
	fb_site_done(&site);
	json_decref(c.st);
	return r;
}

int fb_tls_setup(const struct fb_options *o)
{
	struct ctx c = { .o = o, .host = { .root = o->root ? o->root : "", .live = !o->root } };
	_cleanup_free_ char *path = o->config_path ? strdup(o->config_path) : rooted(&c, FB_CONFIG_PATH), *pem = NULL;
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	_cleanup_(attempt_done) struct attempt t = {};
	char address[INET_ADDRSTRLEN], sha[SHA256_HEX_LEN + 1];
	int r;

	if (!path)
		return log_error_errno(-ENOMEM, "out of memory");
	r = attempt(path, NULL, &a, &t);
	if (r < 0)
		return log_error_errno(r, "%s", t.error ? t.error : strerror(-r));
	ipv4_format(a->address, address);
	free(t.error);
	t.error = NULL;
	r = fb_tls_init(c.host.root, a, address, &pem, &t.error);
	if (r < 0)
		return log_error_errno(r, "%s", t.error ? t.error : strerror(-r));
	fb_tls_sha256(pem, sha);
	log_info("site CA %s%s (sha256 %s) and the registry's certificate for registry.%s, admin.%s, %s, 127.0.0.1",
		 c.host.root, FB_TLS_CA_CERT, sha, a->domain, a->domain, address);
	return 0;
}
