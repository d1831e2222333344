/* /proc/self/mountinfo parsed: which device is mounted where, as what, from what source. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct mountinfo_entry {
	dev_t devno;          /* major:minor, the st_dev of what is below the mount point */
	char *mount_point;    /* unescaped */
	char *fstype;
	char *source;         /* unescaped: a device node, "overlay", "tmpfs" ... */
	char *super_options;  /* overlay's lowerdir=, upperdir=, workdir= are here */
};

struct mountinfo {
	struct mountinfo_entry *entries; /* in the kernel's order: a mount comes after what it covers */
	size_t n;
};

/* Undo the octal escapes (\040 for ' ', \011, \012, \134) the kernel writes in paths in
 * /proc/self/mountinfo and /proc/swaps, in place. */
void mountinfo_unescape(char *s);
/* Lines that do not parse are skipped. 0 or -ENOMEM. */
int mountinfo_parse(const char *text, struct mountinfo *ret);
/* PATH NULL: /proc/self/mountinfo. */
int mountinfo_read(const char *path, struct mountinfo *ret);
void mountinfo_done(struct mountinfo *m);
/* The mount PATH (absolute, symlinks resolved) lies on: the longest mount point that contains
 * it, the last listed of equal ones (the mount on top). NULL when none does. */
const struct mountinfo_entry *mountinfo_find(const struct mountinfo *m, const char *path);
