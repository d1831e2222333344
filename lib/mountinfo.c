/* Reading /proc/self/mountinfo into entries. */
#include "mountinfo.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "fsutil.h"
#include "macros.h"

/* A system with many containers has many mounts; none has this many bytes of them. */
#define MOUNTINFO_MAX (16u * 1024 * 1024)

void mountinfo_unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else
			*w++ = *r;
	}
	*w = '\0';
}

static void entry_done(struct mountinfo_entry *e)
{
	FREE_ALL(e->mount_point, e->fstype, e->source, e->super_options);
}

void mountinfo_done(struct mountinfo *m)
{
	FREE_ARRAY(m->entries, m->n, entry_done);
	*m = (struct mountinfo){ 0 };
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue": the
 * fields before " - " are ID, parent, major:minor, root, mount point, options and optional
 * tags; after it fstype, source and super options. */
static int parse_line(char *line, struct mountinfo_entry *ret)
{
	char *fields[5], *p = line, *sep, *after[3];
	unsigned maj, min;
	int i;

	for (i = 0; i < 5 && p; i++) {
		fields[i] = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = '\0';
	}
	if (i < 5 || !p || sscanf(fields[2], "%u:%u", &maj, &min) != 2)
		return 0;
	sep = strstr(p, " - ");
	if (!sep)
		return 0;
	p = sep + 3;
	for (i = 0; i < 3 && p; i++) {
		after[i] = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = '\0';
	}
	if (i < 3)
		return 0;
	mountinfo_unescape(fields[4]);
	mountinfo_unescape(after[1]);
	mountinfo_unescape(after[2]);
	*ret = (struct mountinfo_entry){ .devno = makedev(maj, min), .mount_point = strdup(fields[4]),
					 .fstype = strdup(after[0]), .source = strdup(after[1]),
					 .super_options = strdup(after[2]) };
	if (!ret->mount_point || !ret->fstype || !ret->source || !ret->super_options) {
		entry_done(ret);
		return -ENOMEM;
	}
	return 1;
}

int mountinfo_parse(const char *text, struct mountinfo *ret)
{
	_cleanup_free_ char *copy = strdup(text);
	struct mountinfo m = { 0 };
	size_t alloc = 0;
	char *line, *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct mountinfo_entry e;
		int r = parse_line(line, &e);

		if (r == 0)
			continue;
		if (r < 0 || gb_grow(&m.entries, &alloc, m.n + 1, sizeof(*m.entries)) < 0) {
			if (r > 0)
				entry_done(&e);
			mountinfo_done(&m);
			return -ENOMEM;
		}
		m.entries[m.n++] = e;
	}
	*ret = m;
	return 0;
}

int mountinfo_read(const char *path, struct mountinfo *ret)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path ? path : "/proc/self/mountinfo", MOUNTINFO_MAX, &text, NULL);

	return r < 0 ? r : mountinfo_parse(text, ret);
}

/* PREFIX is PATH or a folder above it. */
static bool path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (streq(prefix, "/"))
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

const struct mountinfo_entry *mountinfo_find(const struct mountinfo *m, const char *path)
{
	const struct mountinfo_entry *best = NULL;

	for (size_t i = 0; i < m->n; i++)
		if (path_under(path, m->entries[i].mount_point) &&
		    (!best || strlen(m->entries[i].mount_point) >= strlen(best->mount_point)))
			best = &m->entries[i];
	return best;
}
