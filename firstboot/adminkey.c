/* The admin's SSH key for Ansible (adminkey.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "adminkey.h"
#include "fsutil.h"
#include "macros.h"
#include "spawn.h"

/* An ed25519 public key line is about 100 bytes; RSA 16384 about 2.8 KiB. */
#define PUB_MAX 8192

const char *fb_admin_key_check(const char *line)
{
	static const char *const types[] = { "ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-nistp256 ", "ecdsa-sha2-nistp384 ",
					     "ecdsa-sha2-nistp521 ", "sk-ssh-ed25519@openssh.com ", NULL };
	bool known = false;

	for (const char *const *t = types; *t; t++)
		known = known || strncmp(line, *t, strlen(*t)) == 0;
	if (!known)
		return "expected an OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*, then the key)";
	for (const char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || strchr("\"'`$\\", *c))
			return "it holds a control character, a quote, a backquote, a dollar sign or a backslash";
	return NULL;
}

/* ssh-keygen makes the pair: its private-key format is OpenSSH's own, which ssh and Ansible read. */
static int make_key(const char *priv, const char *comment, char **ret_error)
{
	_cleanup_free_ char *dir = strdup(priv), *log = NULL;
	char *const argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", (char *)comment, "-f", (char *)priv, NULL };
	char *slash;
	int r;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return asprintf(ret_error, "cannot make %s: %s", dir, strerror(-r)) < 0 ? -ENOMEM : r;
	if (asprintf(&log, "%s.log", priv) < 0)
		return -ENOMEM;
	(void)unlink(log);
	r = gb_run(argv, &(struct gb_spawn_opts){ .log_path = log });
	if (r != 0) {
		_cleanup_free_ char *tail = gb_log_tail(log, 300);

		(void)asprintf(ret_error, "ssh-keygen -t ed25519 -f %s failed (%s): %s", priv,
			       r < 0 ? strerror(-r) : "exit status", tail ? tail : "");
		return r < 0 ? r : -EIO;
	}
	(void)unlink(log);
	return 0;
}

int fb_admin_key(const char *priv, bool make, const char *comment, char **ret_pub, char **ret_error)
{
	_cleanup_free_ char *pub = NULL, *text = NULL;
	const char *bad;
	size_t len;
	int r;

	*ret_pub = NULL;
	*ret_error = NULL;
	if (asprintf(&pub, "%s.pub", priv) < 0)
		return -ENOMEM;
	if (make && !path_exists(priv) && !path_exists(pub)) {
		r = make_key(priv, comment, ret_error);
		if (r < 0)
			return r;
	}
	r = read_file(pub, PUB_MAX, &text, &len);
	if (r == -ENOENT && !make)
		return 0;
	if (r < 0)
		return asprintf(ret_error, "cannot read %s: %s", pub, strerror(-r)) < 0 ? -ENOMEM : r;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (memchr(text, '\0', len) || strchr(text, '\n'))
		return asprintf(ret_error, "%s: expected one line, a public key", pub) < 0 ? -ENOMEM : -EINVAL;
	bad = fb_admin_key_check(text);
	if (bad)
		return asprintf(ret_error, "%s: %s", pub, bad) < 0 ? -ENOMEM : -EINVAL;
	*ret_pub = TAKE_PTR(text);
	return 0;
}
