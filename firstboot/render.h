/* What the services' renderers share: the header every generated file starts with, running a
 * daemon's own checker on what was rendered, and the paths of the rendered files. */
#pragma once

#include "files.h"
#include "firstboot.h"

/* Run ARGV quietly; 0 when it exits 0, -ENOENT when the program is missing, else -EINVAL with
 * *ret_error = "WHAT: <last lines of its output, on one line>". */
int fb_run_checker(char *const argv[], const char *what, char **ret_error);
/* When FS holds PATH, run ARGV (NULL-terminated, at most 6 words) with its staged copy (of
 * STAGED, parallel to FS->v) as the last argument, like fb_run_checker. 0 when FS has no PATH. */
int fb_check_file(const struct fb_files *fs, char *const *staged, const char *path, const char *const *argv,
		  const char *what, char **ret_error);

/* The comment header every generated file starts with: PREFIX ("#", "//", ";"), "gapbox:", what
 * the file is (printf-style), and where it comes from. */
void render_header(struct sbuf *b, const char *prefix, const char *fmt, ...) _printf_(3, 4);

/* Paths of the rendered files, for the services and the tests. */
#define NETWORK_INTERNAL_PATH "/etc/systemd/network/10-gapbox-internal.network"
#define NETWORK_EXTERNAL_PATH "/etc/systemd/network/20-gapbox-external.network"
#define NAT_NFT_PATH "/etc/nftables.conf"
#define NAT_SYSCTL_PATH "/etc/sysctl.d/90-gapbox.conf"
#define DNS_NAMED_CONF_PATH "/etc/bind/named.conf"
#define DNS_ZONE_DIR "/etc/bind/gapbox"
#define DNS_RESOLV_CONF_PATH "/etc/resolv.conf"
#define NTP_CONF_PATH "/etc/chrony/chrony.conf"
#define HTTP_CONF_PATH "/etc/nginx/nginx.conf"
#define ACCESS_KEYS_PATH "/root/.ssh/authorized_keys"
