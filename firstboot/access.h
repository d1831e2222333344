/* Operator access: root's SSH keys and password hash from the configuration. There is never
 * a default password. */
#pragma once

/* SHADOW (the text of /etc/shadow) with root's password field set to HASH. Returns 0, -ENOENT
 * when there is no root entry, -EINVAL for a malformed one. *ret is newly allocated. */
int shadow_set_root_hash(const char *shadow, const char *hash, char **ret);
