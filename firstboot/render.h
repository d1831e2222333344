/* What the services' renderers share: the header every generated file starts with, running a
 * daemon's own checker on what was rendered, and the paths of the rendered files. */
#pragma once

#include "files.h"
#include "layout.h"
#include "firstboot.h"

/* Run ARGV quietly; 0 when it exits 0, -ENOENT when the program is missing, else -EINVAL with
 * *ret_error = "WHAT: <last lines of its output, on one line>". */
int fb_run_checker(char *const argv[], const char *what, char **ret_error);
/* A daemon's own checker for one rendered file: ARGV followed by the path of a staged copy of
 * the file PATH. WHAT says who rejected the file. */
struct fb_checker {
	const char *path;
	const char *argv[5]; /* NULL-terminated */
	const char *what;
};
/* Run C like fb_run_checker on the staged copy (of STAGED, parallel to FS->v) of C->path; 0 when
 * FS has no such file. */
int fb_check_file(const struct fb_files *fs, char *const *staged, const struct fb_checker *c, char **ret_error);

/* The comment header every generated file starts with: PREFIX ("#", "//", ";"), "gapbox:", what
 * the file is (printf-style), and where it comes from. */
void render_header(struct sbuf *b, const char *prefix, const char *fmt, ...) _printf_(3, 4);

/* Paths of the rendered files, for the services and the tests. */
#define NETWORK_INTERNAL_PATH "/etc/systemd/network/10-gapbox-internal.network"
#define NETWORK_EXTERNAL_PATH "/etc/systemd/network/20-gapbox-external.network"
#define NAT_NFT_PATH "/etc/nftables.conf"
#define NAT_SYSCTL_PATH "/etc/sysctl.d/90-gapbox.conf"
#define DNS_NAMED_CONF_PATH "/etc/bind/named.conf"
#define DNS_RNDC_KEY_PATH "/" GB_SYSTEM_RNDC_KEY
#define DNS_ZONE_DIR "/etc/bind/gapbox"
#define DNS_RESOLV_CONF_PATH "/etc/resolv.conf"
#define NTP_CONF_PATH "/etc/chrony/chrony.conf"
#define HTTP_CONF_PATH "/etc/nginx/nginx.conf"
#define ACCESS_KEYS_PATH "/root/.ssh/authorized_keys"
#define ACCESS_SSHD_CONFIG_PATH "/etc/ssh/sshd_config.d/gapbox.conf"
#define ACCESS_HOST_KEY_DIR "/etc/ssh"
