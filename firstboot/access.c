/* Operator access: root's authorized_keys, rendered like any other file, and root's password
 * hash written into /etc/shadow. */
#include "access.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "render.h"

#define SHADOW_MAX (1024 * 1024)

int access_render(const struct fb_site *s, struct fb_files *out)
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

int access_apply_password(const char *root, const char *hash)
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
