/* The renderers: one per service, each a pure function from the resolved site to the files
 * that service needs, plus the checker that vets those files before they are installed. */
#pragma once

#include "files.h"
#include "firstboot.h"

/* systemd-networkd units for the internal (static) and external (DHCP) interfaces. */
int network_render(const struct fb_site *s, struct fb_files *out);
/* nftables ruleset (input filter, forward, masquerade) and the sysctl file. */
int nat_render(const struct fb_site *s, struct fb_files *out);
/* bind9: named.conf, the site's zone and its reverse zone; the admin's resolv.conf. */
int dns_render(const struct fb_site *s, struct fb_files *out);
/* chrony: the server configuration. */
int ntp_render(const struct fb_site *s, struct fb_files *out);
/* nginx: the whole nginx.conf serving the payload, the node files and the status page. */
int http_render(const struct fb_site *s, struct fb_files *out);
/* docker-registry: its config.yml. */
int registry_render(const struct fb_site *s, struct fb_files *out);
/* For the nodes: offline.yml, inventory.ini, pip.conf and node-setup.sh. */
int nodes_render(const struct fb_site *s, struct fb_files *out);
/* Operator access: root's authorized_keys. */
int access_render(const struct fb_site *s, struct fb_files *out);

/* Checkers: run the daemon's own config check on STAGED (paths parallel to FS->v, "" for absent
 * files). 0 when accepted, -ENOENT when the checker is not installed, other negative values
 * when rejected, with *ret_error naming the checker and quoting its complaint. */
int nat_check(const struct fb_files *fs, char *const *staged, char **ret_error);
int dns_check(const struct fb_files *fs, char *const *staged, char **ret_error);
int ntp_check(const struct fb_files *fs, char *const *staged, char **ret_error);
int http_check(const struct fb_files *fs, char *const *staged, char **ret_error);

/* Run ARGV quietly; 0 when it exits 0, -ENOENT when the program is missing, else -EINVAL with
 * *ret_error = "WHAT: <last lines of its output, on one line>". */
int fb_run_checker(char *const argv[], const char *what, char **ret_error);

/* Shared by renderers: the comment header every generated file starts with: PREFIX ("#", "//",
 * ";"), "gapbox:", what the file is (printf-style), and where it comes from. */
void render_header(struct sbuf *b, const char *prefix, const char *fmt, ...) _printf_(3, 4);

/* Paths of the rendered files, for the stages and tests. */
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
