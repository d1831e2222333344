/* The appliance's status: status.json in the run folder (each service configured, running,
 * verified, error), and the same as a console banner, a table and the status page. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "macros.h"

struct fb_service;

/* A fresh status: every service present, not configured, running/verified unknown (null). */
json_t *status_new(void);
/* The entry of service S (added when a status written by another version lacks it). */
json_t *status_service(json_t *st, const struct fb_service *s);
/* FIELD ("configured", "running", "verified") to true, false, or null for a negative value. */
void status_set(json_t *svc, const char *field, int value);
/* Add to the service's error (several are joined with "; "). */
void status_error(json_t *svc, const char *fmt, ...) _printf_(2, 3);
void status_detail(json_t *svc, const char *fmt, ...) _printf_(2, 3);
bool status_has_error(json_t *svc);

/* Healthy: no errors, and every service that applies is running and verified. */
bool status_healthy(json_t *st);

/* Load and save (atomically; "generated" and "healthy" are refreshed; SOURCE_DATE_EPOCH, when
 * set, is the time, for reproducible output). */
int status_load(const char *path, json_t **ret, char **ret_error);
int status_save(const char *path, json_t *st);

/* The banner: headline with the admin's address, one line per service, how nodes start. The
 * same text is the --status table. */
int status_render_text(json_t *st, char **ret);
/* The status page served at /. */
int status_render_html(json_t *st, char **ret);
/* For /etc/issue.d: agetty reads backslashes as escapes, so they are doubled. */
int status_render_issue(json_t *st, char **ret);
