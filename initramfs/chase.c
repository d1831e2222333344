/* Resolving a path inside a directory fd as if it were "/" (the new root's /sbin/init). */
#include "chase.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macros.h"

/* The kernel's own limit on symlinks followed in one lookup. */
#define CHASE_MAX_SYMLINKS 40

int chase_in_root(int root_fd, const char *path, int open_flags)
{
	struct open_how how = {
		.flags = (unsigned)(open_flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	/* ENOSYS: kernel before 5.6; EPERM: a seccomp filter that does not know it. */
	if (errno == ENOSYS || errno == EPERM)
		return chase_in_root_by_hand(root_fd, path, open_flags);
	return negative_errno();
}

static bool same_inode(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Moves *dir to next, closing the old one unless it is the caller's root_fd. */
static void step_to(int *dir, int next, int root_fd)
{
	if (*dir != root_fd)
		close(*dir);
	*dir = next;
}

int chase_in_root_by_hand(int root_fd, const char *path, int open_flags)
{
	/* todo holds what is left to resolve; a symlink's target is put in front of it. */
	char todo[PATH_MAX], name[NAME_MAX + 1], target[PATH_MAX];
	unsigned symlinks = 0;
	int dir = root_fd;
	int r;

	if (strlen(path) >= sizeof(todo))
		return -ENAMETOOLONG;
	strcpy(todo, path);

	for (;;) {
		char *p = todo;
		size_t n;
		bool last;
		struct stat st;
		int fd;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0) {
			/* Nothing left (path was "/" or ended in "/"): open the directory itself. */
			fd = openat(dir, ".", open_flags | O_CLOEXEC);
			r = fd < 0 ? negative_errno() : fd;
			break;
		}
		if (n > NAME_MAX) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		while (*p == '/')
			p++;
		last = *p == '\0';
		memmove(todo, p, strlen(p) + 1);

		if (streq(name, "."))
			continue;
		if (streq(name, "..")) {
			/* ".." of the root is the root, as for "/.." */
			if (dir == root_fd || same_inode(dir, root_fd))
				continue;
			fd = openat(dir, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0) {
				r = negative_errno();
				break;
			}
			step_to(&dir, fd, root_fd);
			continue;
		}

		if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = negative_errno();
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t k;

			if (++symlinks > CHASE_MAX_SYMLINKS) {
				r = -ELOOP;
				break;
			}
			k = readlinkat(dir, name, target, sizeof(target));
			if (k < 0) {
				r = negative_errno();
				break;
			}
			if (k == 0) {
				r = -ENOENT; /* as the kernel treats an empty symlink */
				break;
			}
			if ((size_t)k >= sizeof(target) || (size_t)k + 1 + strlen(todo) >= sizeof(todo)) {
				r = -ENAMETOOLONG;
				break;
			}
			target[k] = '\0';
			/* target + "/" + rest, built in place. */
			memmove(todo + k + 1, todo, strlen(todo) + 1);
			memcpy(todo, target, (size_t)k);
			todo[k] = '/';
			if (target[0] == '/')
				step_to(&dir, root_fd, root_fd);
			continue;
		}

		if (last) {
			fd = openat(dir, name, open_flags | O_NOFOLLOW | O_CLOEXEC);
			r = fd < 0 ? negative_errno() : fd;
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			r = -ENOTDIR;
			break;
		}
		fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = negative_errno();
			break;
		}
		step_to(&dir, fd, root_fd);
	}

	step_to(&dir, -1, root_fd);
	return r;
}
