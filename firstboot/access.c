/* Operator access: root's authorized_keys and the SSH server's settings, rendered like any other
 * file; root's password hash written into /etc/shadow; and the SSH host keys, which no image
 * carries: made at boot (or taken from the configuration), their fingerprints in the status. */
#include "access.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "render.h"
#include "service.h"
#include "spawn.h"
#include "status.h"
#include "strv.h"

#define SHADOW_MAX (1024 * 1024)
/* ssh-keygen -l's line for one key. */
#define ACCESS_FINGERPRINT_MAX 4096

/* The host key types the SSH server offers: ed25519 and ECDSA, which every current client takes
 * and which are made in an instant even under emulation (RSA is not). */
static const char *const host_key_types[] = { "ed25519", "ecdsa" };

static void sshd_config(struct sbuf *b, const struct fb_site *s)
{
	bool password = s->cfg->root_password_hash != NULL;

	render_header(b, "#", "the SSH server");
	sbuf_puts(b, "# Debian's sshd_config includes this first, and the first value of a setting wins.\n"
		     "# Host keys: made at first boot (no image carries any) or taken from access.ssh_host_keys.\n");
	for (size_t i = 0; i < ARRAY_SIZE(host_key_types); i++)
		sbuf_printf(b, "HostKey " ACCESS_HOST_KEY_DIR "/ssh_host_%s_key\n", host_key_types[i]);
	if (password)
		sbuf_puts(b, "# access.root_password_hash is set: root may log in with that password, or a key.\n"
			     "PermitRootLogin yes\n"
			     "PasswordAuthentication yes\n");
	else
		sbuf_puts(b, "# Keys only: no password login (access.root_password_hash is not set).\n"
			     "PermitRootLogin prohibit-password\n"
			     "PasswordAuthentication no\n");
	sbuf_puts(b, "KbdInteractiveAuthentication no\n"
		     "PermitEmptyPasswords no\n"
		     "X11Forwarding no\n"
		     "# It listens everywhere; the firewall lets SSH in on the internal and the external NIC\n"
		     "# only, the two the configuration names.\n");
}

static int access_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;

	sshd_config(&b, s);
	fb_files_add(out, ACCESS_SSHD_CONFIG_PATH, &b, 0644, false);
	/* Without keys in the configuration, root's authorized_keys is left as it is. */
	if (!s->cfg->ssh_keys[0])
		return out->error;
	render_header(&b, "#", "root's SSH keys");
	for (size_t i = 0; s->cfg->ssh_keys[i]; i++)
		sbuf_printf(&b, "%s\n", s->cfg->ssh_keys[i]);
	fb_files_add(out, ACCESS_KEYS_PATH, &b, 0600, false);
	return out->error;
}

int shadow_set_root_hash(const char *shadow, const char *hash, char **ret)
{
	const char *line = shadow, *field, *rest;
	char *s;

	while (*line && strncmp(line, "root:", 5) != 0) {
		line = strchr(line, '\n');
		if (!line)
			return -ENOENT;
		line++;
	}
	if (!*line)
		return -ENOENT;
	field = line + 5;
	rest = field + strcspn(field, ":\n");
	if (*rest != ':')
		return -EINVAL;
	if (asprintf(&s, "%.*s%s%s", (int)(field - shadow), shadow, hash, rest) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* Set root's hash in ROOT/etc/shadow when it differs. 1 changed, 0 unchanged, negative errno. */
static int apply_password(const char *root, const char *hash)
{
	_cleanup_free_ char *path = fb_rooted(root, "/etc/shadow"), *text = NULL, *updated = NULL;
	struct stat st;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_file(path, SHADOW_MAX, &text, NULL);
	if (r < 0)
		return r;
	r = shadow_set_root_hash(text, hash, &updated);
	if (r < 0)
		return r;
	if (streq(text, updated))
		return 0;
	if (stat(path, &st) < 0)
		return -errno;
	r = write_file_atomic(path, updated, strlen(updated), st.st_mode & 07777);
	if (r < 0)
		return r;
	/* Keep root:shadow, or PAM's helpers can no longer read it. */
	if (chown(path, st.st_uid, st.st_gid) < 0)
		return -errno;
	return 1;
}

/* "ED25519 SHA256:..." for the public key file PUB, from ssh-keygen -l. */
static int fingerprint(const char *pub, char **ret)
{
	static const char out_path[] = GB_RUN_DIR "/ssh-keygen.out";
	_cleanup_free_ char *out = NULL;
	char *argv[] = { "ssh-keygen", "-l", "-f", (char *)pub, NULL };
	char *bits_end, *fp, *type;
	int r;

	(void)unlink(out_path);
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = out_path });
	if (r == 0)
		r = read_file(out_path, ACCESS_FINGERPRINT_MAX, &out, NULL);
	else if (r > 0)
		r = -EINVAL;
	(void)unlink(out_path);
	if (r < 0)
		return r;
	/* "256 SHA256:abc... comment (ED25519)\n" */
	bits_end = strchr(out, ' ');
	type = strrchr(out, '(');
	if (!bits_end || !type || type < bits_end)
		return -EINVAL;
	fp = bits_end + 1;
	fp[strcspn(fp, " ")] = '\0';
	type[strcspn(type, ")")] = '\0';
	return asprintf(ret, "%s %s", type + 1, fp) < 0 ? -ENOMEM : 0;
}

/* ROOT's host key of TYPE: there already (from an earlier boot when /etc/ssh is kept on the data
 * partition, or from an earlier run of configure), or made now. */
static int host_key(const char *root, const char *type, const char *domain, char **ret_fingerprint)
{
	_cleanup_free_ char *key = NULL, *pub = NULL, *comment = NULL;
	int r;

	if (asprintf(&key, "%s" ACCESS_HOST_KEY_DIR "/ssh_host_%s_key", root, type) < 0 ||
	    asprintf(&pub, "%s.pub", key) < 0 || asprintf(&comment, "root@admin.%s", domain) < 0)
		return -ENOMEM;
	if (!path_exists(key) || !path_exists(pub)) {
		char *argv[] = { "ssh-keygen", "-q", "-t", (char *)type, "-N", "", "-C", comment, "-f", key, NULL };

		(void)unlink(key);
		(void)unlink(pub);
		r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = "/dev/null" });
		if (r < 0)
			return r;
		if (r != 0)
			return -EIO;
	}
	return fingerprint(pub, ret_fingerprint);
}

/* Install the private host key KEY from the configuration as ROOT's key of its type. */
static int supplied_host_key(const char *root, const char *key, char **ret_error)
{
	_cleanup_free_ char *tmp = NULL, *pub = NULL, *text = NULL, *target = NULL, *target_pub = NULL;
	const char *type;
	int r;

	if (asprintf(&tmp, "%s" ACCESS_HOST_KEY_DIR "/.gapbox-host-key", root) < 0 || asprintf(&pub, "%s.pub", tmp) < 0)
		return -ENOMEM;
	r = write_file_atomic(tmp, key, strlen(key), 0600);
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot write %s", tmp);
	(void)unlink(pub);
	{
		char *argv[] = { "ssh-keygen", "-y", "-f", tmp, NULL };

		r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = pub });
	}
	if (r == 0)
		r = read_file(pub, ACCESS_FINGERPRINT_MAX, &text, NULL);
	else if (r > 0)
		r = gb_error(ret_error, -EINVAL, "ssh-keygen cannot read one of access.ssh_host_keys (value not shown)");
	if (r < 0)
		goto out;
	type = strncmp(text, "ssh-ed25519 ", 12) == 0 ? "ed25519" : strncmp(text, "ecdsa-sha2-", 11) == 0 ? "ecdsa" : NULL;
	if (!type) {
		r = gb_error(ret_error, -EINVAL, "one of access.ssh_host_keys is a %.*s key: the SSH server takes ed25519 and "
			     "ECDSA host keys", (int)strcspn(text, " \n"), text);
		goto out;
	}
	if (asprintf(&target, "%s" ACCESS_HOST_KEY_DIR "/ssh_host_%s_key", root, type) < 0 ||
	    asprintf(&target_pub, "%s.pub", target) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if (rename(tmp, target) < 0 || rename(pub, target_pub) < 0)
		r = gb_error_errno(ret_error, -errno, "cannot install %s", target);
out:
	(void)unlink(tmp);
	(void)unlink(pub);
	return r;
}

/* Live: every host key type the server offers, the configuration's or made here, with its
 * fingerprint in the status. */
static void host_keys(const struct fb_site *s, const struct fb_host *h, json_t *svc)
{
	json_t *list = json_array();

	if (!list)
		return;
	for (size_t i = 0; s->cfg->ssh_host_keys[i]; i++) {
		_cleanup_free_ char *error = NULL;
		int r = supplied_host_key(h->root, s->cfg->ssh_host_keys[i], &error);

		if (r < 0)
			status_error(svc, "%s", error ? error : strerror(-r));
	}
	for (size_t i = 0; i < ARRAY_SIZE(host_key_types); i++) {
		_cleanup_free_ char *fp = NULL;
		int r = host_key(h->root, host_key_types[i], s->domain, &fp);

		if (r < 0) {
			status_error(svc, "cannot make the SSH host key %s" ACCESS_HOST_KEY_DIR "/ssh_host_%s_key: %s "
				     "(is ssh-keygen installed?)", h->root, host_key_types[i], strerror(-r));
			continue;
		}
		json_array_append_new(list, json_string(fp));
		status_detail(svc, "SSH host key %s", fp);
	}
	json_object_set_new(svc, "ssh_host_keys", list);
}

/* Under --root too: root's .ssh folder and password hash are files like any other. */
static void access_apply(const struct fb_site *s, const struct fb_host *h, json_t *svc)
{
	const struct appliance *a = s->cfg;
	_cleanup_free_ char *ssh_dir = fb_rooted(h->root, "/root/.ssh");
	int r;

	/* sshd refuses keys in a folder others can write to; keep it root's alone. */
	if (a->ssh_keys[0] && ssh_dir && path_is_dir(ssh_dir))
		(void)chmod(ssh_dir, 0700);
	if (h->live)
		host_keys(s, h, svc);
	if (!a->root_password_hash)
		return;
	r = apply_password(h->root, a->root_password_hash);
	if (r == -ENOENT && !h->live)
		return; /* rendering without an /etc/shadow */
	if (r < 0)
		status_error(svc, "cannot set root's password hash in /etc/shadow: %s", strerror(-r));
}

static void access_describe(const struct fb_site *s, json_t *svc)
{
	const struct appliance *a = s->cfg;
	size_t keys = strv_length(a->ssh_keys);

	if (s->access)
		status_detail(svc, "%zu SSH key%s for root%s", keys, keys == 1 ? "" : "s",
			      a->root_password_hash ? ", root password set" : "");
	else
		status_detail(svc, "no SSH key or password configured: login is locked");
}

const struct fb_service fb_service_access = {
	.name = "access",
	.describe = access_describe, .render = access_render, .apply = access_apply,
};
