/* The admin's SSH key for Ansible: made at first boot as root's default key, so that Ansible and
 * ssh on the admin use it with no option, and carried in node-setup.sh, which installs its public
 * half on every node (node-setup.sh's sha256, shown on the admin's console, vouches for it). */
#pragma once

#include <stdbool.h>

#define FB_ADMIN_KEY "/root/.ssh/id_ed25519"
#define FB_ADMIN_KEY_PUB FB_ADMIN_KEY ".pub"

/* The public key line of the private key PRIV (its public half is PRIV.pub). MAKE: made with
 * ssh-keygen first when there is no key (a key already there, the operator's own, is used as it is). 0 with *ret_pub
 * the line without its newline, NULL when there is none and MAKE is false; negative errno with
 * *ret_error saying why (a key pair that cannot be made or read, a public key that is not one
 * OpenSSH line). */
int fb_admin_key(const char *priv, bool make, const char *comment, char **ret_pub, char **ret_error);

/* NULL when LINE can go into node-setup.sh's settings and authorized_keys as it is: one OpenSSH
 * public key line (type, base64, optional comment) with no character the shell or sshd would read
 * otherwise; else what is wrong with it. */
const char *fb_admin_key_check(const char *line);
