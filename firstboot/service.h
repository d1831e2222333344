/* What a first-boot service consists of: one record per service, defined in the service's own
 * file (dns.c, ntp.c, ...), which configure, verify and the status iterate (like systemd's
 * UnitVTable). A member a service has no use for is NULL, 0 or false. */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <time.h>

#include "files.h"
#include "firstboot.h"
#include "render.h"
#include "site.h"

/* What a service answers on its port. */
enum fb_proto {
	FB_UDP = 1 << 0,
	FB_TCP = 1 << 1,
};

/* Where configure works: the live system, or a folder (--root) where nothing is started,
 * mounted or applied to the kernel. */
struct fb_host {
	const char *root; /* "" when live */
	bool live;
};

struct fb_verify;

struct fb_service {
	/* Its name in status.json, the banner, the log and `--port NAME=PORT`: "dns". */
	const char *name;
	/* The systemd unit that runs it ("named.service"), NULL when none. A unit whose files
	 * changed while it ran is restarted by verify. */
	const char *unit;
	/* The daemon's process name ("named"). Without systemd (the tests) a service runs when this
	 * process holds its port. NULL: no daemon of its own, and no running check. */
	const char *daemon;
	/* The process that holds the port in front of the daemon ("nginx" for the registry, which
	 * listens on a unix socket behind it); NULL: the daemon itself. */
	const char *front;
	/* The site's port it answers on (FB_PORT_NONE: none), and over FB_UDP, FB_TCP or both.
	 * verify looks for the daemon's (or the front's) socket on the first of them (UDP before TCP). */
	enum fb_port port;
	unsigned protocols;

	/* configure calls these in this order, each for every service before the next one (render
	 * and the check go together, service by service). */

	/* Details for the status (and problems the site already shows), at configure time. */
	void (*describe)(const struct fb_site *s, json_t *svc);
	/* Live only, before anything is rendered: kernel state that the checkers need. */
	void (*prepare)(json_t *svc);
	/* The files the service needs, as a pure function of the site. Negative errno. */
	int (*render)(const struct fb_site *s, struct fb_files *out);
	/* The daemon's own checker, run on a copy of the rendered file it names before anything is
	 * installed, live or with --check (path NULL: none). */
	struct fb_checker checker;
	/* Instead of CHECKER, when one command line is not enough (a zone file each): vet the files,
	 * STAGED being copies parallel to FS->v ("" for absent files). 0 accepted, -ENOENT checker
	 * not installed, else rejected with *ret_error naming the checker and quoting it. */
	int (*check)(const struct fb_files *fs, char *const *staged, char **ret_error);
	/* After every service's files are installed: bring the system in line (nftables, mounts,
	 * /etc/shadow). H says whether that is the live system. Problems go into SVC. */
	void (*apply)(const struct fb_site *s, const struct fb_host *h, json_t *svc);
	/* Its files changed while the unit was active: do this now instead of queueing a restart
	 * for verify (networkd rereads its files without dropping addresses). 0 or negative errno
	 * with *ret_error. */
	int (*reload)(char **ret_error);

	/* verify: after the running check (for a service with a daemon that runs): ask whether it
	 * answers, and set "verified" (and "running" when there is no daemon) in SVC. */
	void (*verify)(struct fb_verify *v, json_t *svc);
};

/* Every service, in the order they are configured, verified and shown; NULL-terminated. */
extern const struct fb_service *const fb_services[];
extern const struct fb_service fb_service_config, fb_service_network, fb_service_nat, fb_service_dns,
	fb_service_ntp, fb_service_http, fb_service_registry, fb_service_nodes, fb_service_access;

/* The registry's part of nginx.conf, inside its http block: the listeners on the registry port. */
void fb_registry_nginx(struct sbuf *b, const struct fb_site *s);

/* The process that holds S's port: its front, else its daemon (NULL: neither). */
const char *fb_service_port_holder(const struct fb_service *s);

/* The service called NAME, or NULL. */
const struct fb_service *fb_service_find(const char *name);

/* The ports the configuration CFG sets, against the services' (the table above) and the other
 * listeners on the admin (SSH ...): each distinct from every other, and one its daemon's user
 * can bind. Returns 0, or -EINVAL with *ret_error = "PATH:LINE:COLUMN: KEY: expected ...". */
int fb_check_ports(const struct appliance *cfg, char **ret_error);

/* What verify hands each service's verify. */
struct fb_verify {
	const struct fb_options *o;
	json_t *st;                 /* the status being written */
	struct fb_site site;        /* read back from the status */
	bool live;                  /* the live system, not --root */
	struct in_addr probe;       /* where probes go */
	char probe_text[INET_ADDRSTRLEN];
	unsigned ports[N_FB_PORTS]; /* the site's, or --port's */
	struct timespec start;
};

/* Services may still be starting when verify begins: true after a short wait while the settle
 * time lasts, false once it is over (ask no more). */
bool fb_verify_again(struct fb_verify *v);
/* One question to a service: 0 when it answered right, else negative with *ret_error. */
typedef int (*fb_probe_t)(struct fb_verify *v, void *userdata, char **ret_error);
/* Ask PROBE until it answers right or the settle time is over, and set SVC's "verified" to the
 * outcome, with its error (or FALLBACK) when it never did. Returns whether it answered. */
bool fb_verify_until(struct fb_verify *v, json_t *svc, fb_probe_t probe, void *userdata, const char *fallback);
/* The same for GET http://PROBE:PORT/PATH answering 200. */
bool fb_verify_http(struct fb_verify *v, json_t *svc, enum fb_port port, const char *path, const char *fallback);
/* The same for GET http://HOST:PORT/PATH. */
bool fb_verify_http_at(struct fb_verify *v, json_t *svc, const char *host, unsigned port, const char *path,
		       const char *fallback);
/* The same over https://, trusting CA_FILE alone. */
bool fb_verify_https_at(struct fb_verify *v, json_t *svc, const char *host, unsigned port, const char *path,
			const char *ca_file, const char *fallback);
/* How long a single probe may take. */
#define FB_PROBE_TIMEOUT_MS 2000
