/* Operator access: root's authorized_keys, rendered like any other file, and root's password
 * hash written into /etc/shadow. */
#include "access.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "render.h"
#include "service.h"
#include "status.h"
#include "strv.h"

#define SHADOW_MAX (1024 * 1024)

static int access_render(const struct fb_site *s, struct fb_files *out)
{
	struct sbuf b = SBUF_INIT;

	/* Without keys in the configuration, root's authorized_keys is left as it is. */
	if (!s->cfg->ssh_keys[0])
		return 0;
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

/* Under --root too: root's .ssh folder and password hash are files like any other. */
static void access_apply(const struct fb_site *s, const struct fb_host *h, json_t *svc)
{
	const struct appliance *a = s->cfg;
	_cleanup_free_ char *ssh_dir = fb_rooted(h->root, "/root/.ssh");
	int r;

	/* sshd refuses keys in a folder others can write to; keep it root's alone. */
	if (a->ssh_keys[0] && ssh_dir && path_is_dir(ssh_dir))
		(void)chmod(ssh_dir, 0700);
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
