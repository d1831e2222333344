/* The site dashboard: what each node did since the admin booted (nginx's log of this boot and
 * chrony's clients), the payload's images and whether they were pulled, and the machine's
 * uptime, memory and disks. It is the status's "site" object, shown on the status page;
 * gapbox-dashboard.service refreshes it every few seconds (gapbox-firstboot dashboard). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "firstboot.h"
#include "sbuf.h"

/* nginx's second access log, of this boot only (the run folder is in RAM), in a format made
 * to be read back: "MSEC ADDRESS STATUS METHOD URI", the URI last since it may hold spaces. */
#define FB_SITE_LOG GB_RUN_DIR "/access.log"
#define FB_SITE_LOG_FORMAT "'$msec $remote_addr $status $request_method $uri'"
/* Longer lines are skipped; more distinct addresses than this are counted, not listed. */
#define DASH_LINE_MAX 8192
#define DASH_CLIENTS_MAX 1024

struct dash_image {
	char *ref, *repository, *tag, *digest;
	char **aliases;
	uint64_t size;          /* config and layers of its manifest (the nodes' platform's of an index) */
};

struct dash_client {
	char address[16];
	time_t setup_at;        /* node-setup.sh fetched (0: not since boot) */
	time_t repo_at;         /* the package repository last read */
	time_t registry_at;     /* the registry last answered it */
	time_t last;            /* its last request */
	unsigned long requests;
	unsigned long ntp_packets; /* from chronyc clients */
	long ntp_ago;           /* seconds since its last NTP request, -1: none */
	unsigned n_pulled;
	unsigned char *pulled;  /* one byte per image: pulled since boot */
	time_t ssh_at;          /* the admin logged in to it over SSH (0: not yet) */
	time_t ssh_tried;       /* the last try */
	char ssh_error[160];    /* why the last try failed */
};

struct dashboard {
	char *admin;            /* the admin's own address: its requests are not a node's */
	char *payload_arch;
	char *kubespray;
	json_t *versions;       /* {"component": "version"} */
	struct dash_image *images;
	size_t n_images;
	struct dash_client *clients;
	size_t n_clients;
	unsigned long unlisted; /* requests from addresses beyond DASH_CLIENTS_MAX */
	/* Where the log was read up to: a new inode or a shorter file starts over. */
	ino_t log_ino;
	off_t log_offset;
};

/* The payload's images, versions and image sizes, from its record and registry store under
 * PAYLOAD (NULL or absent: no payload). ADMIN is the admin's internal address. */
int dashboard_init(struct dashboard *d, const char *admin, const char *payload);
void dashboard_done(struct dashboard *d);

/* One line of FB_SITE_LOG; false when it is not one (skipped). */
bool dashboard_feed_line(struct dashboard *d, const char *line);
/* The complete lines added to PATH since the last call. */
int dashboard_read_log(struct dashboard *d, const char *path);
/* The output of "chronyc -n -c clients": the NTP packets and last request of each address. */
void dashboard_feed_chrony(struct dashboard *d, const char *csv);

/* Try the admin's SSH login (KEY, BatchMode) to each node of NODES that fetched node-setup.sh
 * (which installs the admin's key there) and has not let it in yet, at most every
 * DASH_SSH_RETRY seconds; NOW is the time. */
#define DASH_SSH_RETRY 20
void dashboard_probe_ssh(struct dashboard *d, json_t *nodes, const char *key, time_t now);

/* The "site" object: the nodes of NODES (status "nodes": [{name, address, fqdn}]) and each
 * address seen that is not one of them, with a ready verdict and its reason; DNS_OK says the
 * admin's DNS answered its check; the payload's images; and the machine's facts under ROOT
 * (NULL: the live system). */
json_t *dashboard_json(const struct dashboard *d, json_t *nodes, bool dns_ok, const char *root, time_t now);
/* The page's dashboard sections, from a status's "site" object. */
void dashboard_render_html(json_t *site, struct sbuf *b);

/* gapbox-firstboot dashboard: read the log and chrony, merge "site" into the status, write it
 * and the page; every EVERY seconds, or once when EVERY is 0. */
int fb_dashboard(const struct fb_options *o, unsigned every);
