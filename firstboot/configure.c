/* The configure stage (gapbox-firstboot.service, before the services start): resolve the
 * configuration, render every service's files, vet them with the daemons' own checkers,
 * install what changed, apply kernel state (sysctl, nftables, registry storage), and record
 * the status. Restarts of running services are left to the verify stage. */
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "cmdline.h"
#include "firstboot.h"
#include "fsutil.h"
#include "log.h"
#include "render.h"
#include "spawn.h"
#include "status.h"
#include "storage.h"
#include "strv.h"
#include "units.h"

#define CONFIG_FILE_MAX (1024 * 1024)

struct service_def {
	enum fb_svc id;
	int (*render)(const struct fb_site *s, struct fb_files *out);
	int (*check)(const struct fb_files *fs, char *const *staged, char **ret_error);
};

static const struct service_def service_defs[] = {
	{ SVC_NETWORK, network_render, NULL },
	{ SVC_NAT, nat_render, nat_check },
	{ SVC_DNS, dns_render, dns_check },
	{ SVC_NTP, ntp_render, ntp_check },
	{ SVC_HTTP, http_render, http_check },
	{ SVC_REGISTRY, registry_render, NULL },
	{ SVC_NODES, nodes_render, NULL },
	{ SVC_ACCESS, access_render, NULL },
};

struct ctx {
	const struct fb_options *o;
	const char *root;  /* "" when live */
	bool live;
	json_t *st;
	bool changed[N_SVC];          /* files changed */
	bool restart_changed[N_SVC];  /* files whose change needs the daemon restarted */
};

static json_t *svc(struct ctx *c, enum fb_svc id) { return status_service(c->st, id); }

static char *rooted(struct ctx *c, const char *path) { return fb_rooted(c->root, path); }

/* ---- configuration ---- */

/* Load PATH (missing: the defaults), apply the kernel parameters, validate. */
static int load_candidate(const char *path, const char *cmdline, struct appliance **ret, bool *ret_missing,
			  char **ret_applied, char **ret_cmdline_errors, char **ret_error)
{
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	int r;

	if (path)
		r = appliance_load(path, &a, ret_missing, ret_error);
	else
		r = appliance_new_default(&a);
	if (r < 0)
		return r;
	r = appliance_apply_cmdline(a, cmdline, ret_applied, ret_cmdline_errors);
	if (r < 0)
		return r;
	r = appliance_validate(a, ret_error);
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
	r = fb_file_install(c->root, &f);
	if (r < 0)
		log_warning_errno(r, "cannot keep a copy of %s as %s: %m", path, dest);
}

/* What loading one candidate configuration said. */
struct attempt {
	char *applied;        /* kernel parameters applied */
	char *cmdline_errors; /* kernel parameters refused */
	char *error;          /* why the candidate cannot be used */
	bool missing;         /* the file does not exist: the defaults were used */
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
	return load_candidate(path, cmdline, ret, &t->missing, &t->applied, &t->cmdline_errors, &t->error);
}

/* The file, else the last good one, else the defaults; the kernel parameters on top of
 * each, unless even the defaults cannot take them. */
static int load_config(struct ctx *c, struct appliance **ret)
{
	_cleanup_free_ char *path = c->o->config_path ? strdup(c->o->config_path) : rooted(c, FB_CONFIG_PATH);
	_cleanup_free_ char *last_good = rooted(c, FB_LAST_GOOD_PATH), *cmdline = NULL;
	const char *cmdline_path = c->o->cmdline_path ? c->o->cmdline_path : c->live ? "/proc/cmdline" : NULL;
	_cleanup_(attempt_done) struct attempt t = {};
	json_t *s = svc(c, SVC_CONFIG);
	int r;

	if (!path || !last_good)
		return -ENOMEM;
	if (cmdline_path && (r = cmdline_read(cmdline_path, &cmdline)) < 0) {
		status_error(s, "cannot read the kernel command line from %s: %s", cmdline_path, strerror(-r));
		cmdline = NULL;
	}

	r = attempt(path, cmdline, ret, &t);
	if (r >= 0) {
		if (t.missing)
			status_detail(s, "defaults (%s does not exist)", path);
		else {
			status_detail(s, "%s", path);
			remember_good(c, path);
		}
	} else if (r != -ENOMEM) {
		status_error(s, "%s", t.error ? t.error : strerror(-r));
		if (path_exists(last_good) && (r = attempt(last_good, cmdline, ret, &t)) >= 0)
			status_detail(s, "using the last good configuration (%s)", last_good);
		else if (r != -ENOMEM && (r = attempt(NULL, cmdline, ret, &t)) >= 0)
			status_detail(s, "using the defaults");
		else if (r != -ENOMEM) {
			status_error(s, "%s; kernel parameters ignored", t.error ? t.error : strerror(-r));
			r = attempt(NULL, NULL, ret, &t);
			status_detail(s, "using the defaults");
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
	} else if (c->live) {
		/* udev renames NICs (eth0 -> ens3) while it works through its queue: wait for it. */
		char *argv[] = { "udevadm", "settle", "--timeout=15", NULL };

		(void)gb_run(argv, &(struct gb_spawn_opts){ .log_path = "/dev/null" });
		r = nics_discover(NULL, &nics, &n);
		if (r < 0)
			status_error(svc(c, SVC_NETWORK), "cannot list the network interfaces: %s", strerror(-r));
	}
	return nics_choose(nics, n, a->internal, a->external, !c->live && !c->o->interfaces, ret);
}

static void describe_site(struct ctx *c, const struct fb_site *s, const char *payload)
{
	const struct appliance *a = s->cfg;
	_cleanup_free_ char *node_command = NULL;
	json_t *admin;

	if (asprintf(&node_command, "curl -fsSL %s/gapbox/node-setup.sh | sudo sh", s->http_url) < 0)
		node_command = NULL;
	admin = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s?, s:s?, s:b, s:i, s:i, s:s, s:s, s:s, s:s?, s:b}", "address",
			  s->address, "prefix", (int)a->prefix, "cidr", s->cidr, "subnet", s->subnet, "domain", a->domain,
			  "internal", s->internal.name[0] ? s->internal.name : NULL, "external",
			  s->external.name[0] ? s->external.name : NULL, "nat", s->nat, "http_port", (int)a->http_port,
			  "registry_port", (int)a->registry_port, "http_url", s->http_url, "registry", s->registry_host,
			  "payload", payload, "node_command", node_command, "access",
			  a->ssh_keys[0] || a->root_password_hash);
	if (admin) {
		json_t *strip = json_array();

		for (size_t i = 0; a->registry_strip[i]; i++)
			json_array_append_new(strip, json_string(a->registry_strip[i]));
		json_object_set_new(admin, "strip_registries", strip);
	}
	json_object_set_new(c->st, "admin", admin ? admin : json_null());

	if (s->internal.name[0])
		status_detail(svc(c, SVC_NETWORK), "internal %s %s", s->internal.name, s->cidr);
	else
		status_detail(svc(c, SVC_NETWORK), "no internal interface");
	status_detail(svc(c, SVC_NETWORK), s->external.name[0] ? "external %s (DHCP)" : "no external interface%s",
		      s->external.name);
	if (s->nat)
		status_detail(svc(c, SVC_NAT), "on: %s masqueraded out of %s", s->subnet, s->external.name);
	else
		status_detail(svc(c, SVC_NAT), "off: nothing is forwarded%s",
			      a->nat == 0 ? " (nat: false)" : !s->external.name[0] ? " (no external interface)" : "");
	status_detail(svc(c, SVC_DNS), "bind9 on %s:53, zone %s with %zu node%s, %s", s->address, a->domain,
		      a->n_nodes, a->n_nodes == 1 ? "" : "s",
		      a->dns_forwarders[0] ? "forwarding the rest" : "no forwarders");
	status_detail(svc(c, SVC_NTP), "chrony on %s:123 for %s, %s", s->address, s->subnet,
		      a->ntp_servers[0] ? "from upstream servers" : "own clock at stratum 10");
	status_detail(svc(c, SVC_HTTP), "%s/", s->http_url);
	status_detail(svc(c, SVC_REGISTRY), "%s", s->registry_host);
	status_detail(svc(c, SVC_NODES), "%s/gapbox/", s->http_url);
	if (a->ssh_keys[0] || a->root_password_hash)
		status_detail(svc(c, SVC_ACCESS), "%zu SSH key%s for root%s", strv_length(a->ssh_keys),
			      strv_length(a->ssh_keys) == 1 ? "" : "s", a->root_password_hash ? ", root password set" : "");
	else
		status_detail(svc(c, SVC_ACCESS), "no SSH key or password configured: login is locked");
}

/* ---- payload ---- */

static void check_payload(struct ctx *c, const char *payload)
{
	static const char *const dirs[] = { "files", "images", "pypi", "rpms", "debs" };
	_cleanup_free_ char *store = path_join(payload, "registry");

	if (!path_is_dir(payload)) {
		status_error(svc(c, SVC_HTTP), "no payload at %s: /files/, /images/, /pypi/, /rpms/ and /debs/ have "
			     "nothing to serve", payload);
		status_error(svc(c, SVC_REGISTRY), "no payload at %s: the registry starts with empty storage and "
			     "none of the listed images", payload);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *dir = path_join(payload, dirs[i]);

		if (dir && !path_is_dir(dir))
			status_detail(svc(c, SVC_HTTP), "the payload has no %s/", dirs[i]);
	}
	if (store && !path_is_dir(store))
		status_error(svc(c, SVC_REGISTRY), "the payload has no registry store (%s): the registry starts empty",
			     store);
}

/* ---- rendering and installing ---- */

/* Vet the rendered files with the daemon's own checker, from copies in the staging area. */
static int check_rendered(struct ctx *c, const struct service_def *d, const struct fb_files *fs)
{
	_cleanup_free_ char *dir = NULL, *error = NULL, *staging = rooted(c, FB_STAGING_DIR);
	_cleanup_strv_free_ char **staged = NULL;
	int r;

	if (!d->check || !staging)
		return staging ? 0 : -ENOMEM;
	if (asprintf(&dir, "%s/%s", staging, status_svc_name(d->id)) < 0)
		return -ENOMEM;
	r = fb_files_stage(fs, dir, &staged);
	if (r < 0) {
		status_error(svc(c, d->id), "cannot stage the rendered files in %s: %s", dir, strerror(-r));
		return r;
	}
	r = d->check(fs, staged, &error);
	(void)rm_rf(dir);
	if (r == -ENOENT) {
		log_debug("%s: checker not installed, not checked", status_svc_name(d->id));
		return 0;
	}
	if (r < 0)
		status_error(svc(c, d->id), "%s; the previous configuration stays", error ? error : "rejected");
	return r;
}

static int configure_service(struct ctx *c, const struct service_def *d, const struct fb_site *site)
{
	struct fb_files fs = {};
	json_t *s = svc(c, d->id);
	int r, failed = 0;

	r = d->render(site, &fs);
	if (r < 0) {
		status_error(s, "cannot render the configuration: %s", strerror(-r));
		fb_files_free(&fs);
		return r == -ENOMEM ? r : 0;
	}
	if (c->live || c->o->check) {
		r = check_rendered(c, d, &fs);
		if (r < 0) {
			fb_files_free(&fs);
			return r == -ENOMEM ? r : 0;
		}
	}
	for (size_t i = 0; i < fs.n; i++) {
		r = fb_file_install(c->root, &fs.v[i]);
		if (r < 0) {
			status_error(s, "cannot write %s: %s", fs.v[i].path, strerror(-r));
			failed++;
		} else if (r > 0) {
			log_info("%s: %s %s", status_svc_name(d->id), fs.v[i].content ? "wrote" : "removed", fs.v[i].path);
			c->changed[d->id] = true;
			if (fs.v[i].restart)
				c->restart_changed[d->id] = true;
		}
	}
	fb_files_free(&fs);
	status_set(s, "configured", failed == 0);
	return 0;
}

/* ---- live system only ---- */

static int write_sysctl(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return write_all(fd, value, strlen(value));
}

/* The firewall goes in before forwarding is switched on, and forwarding off before it goes. */
static void apply_nat(struct ctx *c, const struct fb_site *s)
{
	_cleanup_free_ char *error = NULL;
	char *argv[] = { "nft", "-f", NAT_NFT_PATH, NULL };
	json_t *n = svc(c, SVC_NAT);
	int r;

	if (!s->nat && (r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "0\n")) < 0)
		status_error(n, "cannot switch IPv4 forwarding off: %s", strerror(-r));
	r = fb_run_checker(argv, "nft -f " NAT_NFT_PATH " failed", &error);
	if (r < 0) {
		status_error(n, "%s", error ? error : "cannot load the nftables ruleset");
		return; /* no forwarding without the firewall */
	}
	if (s->nat && (r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1\n")) < 0)
		status_error(n, "cannot switch IPv4 forwarding on: %s", strerror(-r));
}

static void setup_registry_storage(struct ctx *c, const char *payload)
{
	_cleanup_free_ char *store = path_join(payload, "registry"), *note = NULL, *error = NULL;
	struct passwd *pw = getpwnam(FB_REGISTRY_USER);
	json_t *s = svc(c, SVC_REGISTRY);
	int r;

	if (!pw) {
		status_error(s, "there is no user %s: is the docker-registry package installed?", FB_REGISTRY_USER);
		return;
	}
	if (store && path_is_dir(store)) {
		r = fb_registry_storage_mount(store, FB_REGISTRY_RW, FB_REGISTRY_ROOT, pw->pw_uid, pw->pw_gid, &note, &error);
		if (r >= 0) {
			status_detail(s, "storage: %s", note ? note : "overlay");
			return;
		}
		status_error(s, "%s; the registry starts with empty storage", error ? error : strerror(-r));
	}
	r = fb_registry_storage_plain(FB_REGISTRY_ROOT, pw->pw_uid, pw->pw_gid);
	if (r < 0)
		status_error(s, "cannot prepare %s: %s", FB_REGISTRY_ROOT, strerror(-r));
}

/* A daemon already running whose files changed (a run after boot) is restarted by verify. */
static void queue_restarts(struct ctx *c)
{
	json_t *queue = json_array();

	for (int id = 0; id < N_SVC; id++) {
		const char *unit = status_svc_unit(id);

		if (!unit || !c->restart_changed[id])
			continue;
		if (id == SVC_NETWORK) {
			_cleanup_free_ char *error = NULL;

			if (fb_unit_is_active(unit) > 0 && fb_networkd_reload(&error) < 0)
				status_error(svc(c, SVC_NETWORK), "%s", error ? error : "networkctl reload failed");
			continue;
		}
		if (fb_unit_is_active(unit) > 0)
			json_array_append_new(queue, json_string(unit));
	}
	json_object_set_new(c->st, "restart", queue);
}

static void apply_access(struct ctx *c, const struct appliance *a)
{
	_cleanup_free_ char *ssh_dir = rooted(c, "/root/.ssh");
	int r;

	/* sshd refuses keys in a folder others can write to; keep it root's alone. */
	if (a->ssh_keys[0] && ssh_dir && path_is_dir(ssh_dir))
		(void)chmod(ssh_dir, 0700);
	if (!a->root_password_hash)
		return;
	r = access_apply_password(c->root, a->root_password_hash);
	if (r == -ENOENT && !c->live)
		return; /* rendering without an /etc/shadow */
	if (r < 0)
		status_error(svc(c, SVC_ACCESS), "cannot set root's password hash in /etc/shadow: %s", strerror(-r));
}

/* ---- status ---- */

static int write_status(struct ctx *c)
{
	_cleanup_free_ char *status = rooted(c, FB_STATUS_PATH), *www = rooted(c, FB_WWW_DIR), *index = NULL,
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

int fb_configure(const struct fb_options *o)
{
	struct ctx c = { .o = o, .root = o->root ? o->root : "", .live = !o->root };
	_cleanup_(appliance_freep) struct appliance *a = NULL;
	_cleanup_free_ char *payload = NULL;
	struct nic_choice nics = {};
	const char *nat_error = NULL;
	struct fb_site site;
	int r;

	payload = o->payload ? strdup(o->payload) : rooted(&c, FB_PAYLOAD_DIR);
	c.st = status_new();
	if (!payload || !c.st) {
		json_decref(c.st);
		return log_error_errno(-ENOMEM, "out of memory");
	}
	r = load_config(&c, &a);
	if (r < 0)
		goto out;
	r = choose_nics(&c, a, &nics);
	if (r < 0)
		goto out;
	if (nics.error)
		status_error(svc(&c, SVC_NETWORK), "%s", nics.error);
	fb_site_init(&site, a, &nics, &nat_error);
	if (nat_error)
		status_error(svc(&c, SVC_NAT), "%s", nat_error);
	describe_site(&c, &site, payload);
	check_payload(&c, payload);

	/* Before the checks: nginx -t binds the internal address, which may not be up yet. */
	if (c.live && (r = write_sysctl("/proc/sys/net/ipv4/ip_nonlocal_bind", "1\n")) < 0)
		status_error(svc(&c, SVC_NAT), "cannot set net.ipv4.ip_nonlocal_bind: %s", strerror(-r));
	for (size_t i = 0; i < ARRAY_SIZE(service_defs); i++) {
		r = configure_service(&c, &service_defs[i], &site);
		if (r < 0)
			goto out;
	}
	if (c.live) {
		apply_nat(&c, &site);
		setup_registry_storage(&c, payload);
		if (fb_systemd_booted())
			queue_restarts(&c);
	}
	apply_access(&c, a);

	r = write_status(&c);
	for (int id = 0; id < N_SVC; id++) {
		const char *error = json_string_value(json_object_get(svc(&c, id), "error"));

		if (error)
			log_error("%s: %s", status_svc_name(id), error);
	}
out:
	if (r < 0)
		log_error_errno(r, "configure stopped: %m");
	nic_choice_done(&nics);
	json_decref(c.st);
	return r;
}
