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
	/* The site's port it answers on (FB_PORT_NONE: none), and over FB_UDP, FB_TCP or both.
	 * The firewall closes these to all but the internal NIC and loopback; verify looks for the
	 * daemon's socket on the first of them (UDP before TCP). */
	enum fb_port port;
	unsigned protocols;
	/* It listens on the internal address only, so it cannot be reached over loopback when that
	 * address is on no NIC. */
	bool internal_only;

	/* configure, in this order for every service before the next step. */

	/* Details for the status (and problems the site already shows), at configure time. */
	void (*describe)(const struct fb_site *s, json_t *svc);
	/* Live only, before anything is rendered: kernel state that the checkers need. */
	void (*prepare)(json_t *svc);
	/* The files the service needs, as a pure function of the site. Negative errno. */
	int (*render)(const struct fb_site *s, struct fb_files *out);
	/* Vet the rendered files with the daemon's own checker: STAGED are copies parallel to
	 * FS->v ("" for absent files). 0 accepted, -ENOENT checker not installed, else rejected with
	 * *ret_error naming the checker and quoting its complaint. */
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

/* The service called NAME, or NULL. */
const struct fb_service *fb_service_find(const char *name);

/* What verify hands each service's verify. */
struct fb_verify {
	const struct fb_options *o;
	json_t *st;                 /* the status being written */
	struct fb_site site;        /* read back from the status */
	bool live;                  /* the live system, not --root */
	struct in_addr probe;       /* where probes go */
	char probe_text[INET_ADDRSTRLEN];
	unsigned ports[N_FB_PORTS]; /* the site's, or --port's */
	bool internal_down;         /* the internal address is on no NIC: probes go to loopback */
	struct timespec start;
};

/* Services may still be starting when verify begins: true after a short wait while the settle
 * time lasts, false once it is over (ask no more). */
bool fb_verify_again(struct fb_verify *v);
/* GET http://PROBE:PORT/PATH until it answers 200 or the settle time is over. 0, or negative
 * with *ret_error. */
int fb_verify_http_get(struct fb_verify *v, enum fb_port port, const char *path, char **ret_error);
/* How long a single probe may take. */
#define FB_PROBE_TIMEOUT_MS 2000
