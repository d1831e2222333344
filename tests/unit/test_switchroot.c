/* Unit tests for switch_root's safety checks, resolving init inside the new root, and emptying the old root. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "../../initramfs/chase.h"
#include "../../initramfs/switchroot.h"

/* Per test: base/ holds root/ (the new root) and outside/ (what must stay unreachable). */
struct fixture {
	char base[64];
	char root[96];
	char outside[96];
	int root_fd;
};

static void write_file(const char *dir, const char *name, mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void make_dir(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void make_link(const char *dir, const char *name, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(symlink(target, path), 0);
}

static bool exists(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->base, sizeof(f->base), "/tmp/test_switchroot.XXXXXX");
	if (!mkdtemp(f->base))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/root", f->base);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
	if (mkdir(f->root, 0755) < 0 || mkdir(f->outside, 0755) < 0)
		return -1;
	f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->root_fd < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	close(f->root_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Debian 12's merged /usr: /sbin -> usr/sbin, /lib -> usr/lib, and the absolute
 * /usr/sbin/init -> /lib/systemd/systemd. */
static void make_merged_usr(const struct fixture *f, mode_t systemd_mode)
{
	make_dir(f->root, "usr");
	make_dir(f->root, "usr/sbin");
	make_dir(f->root, "usr/lib");
	make_dir(f->root, "usr/lib/systemd");
	write_file(f->root, "usr/lib/systemd/systemd", systemd_mode);
	make_link(f->root, "sbin", "usr/sbin");
	make_link(f->root, "lib", "usr/lib");
	make_link(f->root, "usr/sbin/init", "/lib/systemd/systemd");
}

static void test_check_initramfs(void **state)
{
	unsigned long fstype = 0;
	struct statfs sfs;
	int fd;

	(void)state;
	fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(switchroot_check_initramfs(fd, &fstype), -EINVAL);
	assert_int_equal(fstype, PROC_SUPER_MAGIC);
	close(fd);

	/* A tmpfs passes, as the initramfs root does. */
	if (statfs("/dev/shm", &sfs) < 0 || sfs.f_type != TMPFS_MAGIC)
		skip();
	fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(switchroot_check_initramfs(fd, &fstype), 0);
	assert_int_equal(fstype, TMPFS_MAGIC);
	close(fd);
}

static void test_check_other_fs(void **state)
{
	struct fixture *f = *state;
	int parent, proc;

	/* Nothing mounted on the new root: same filesystem as its parent, refused. */
	parent = open(f->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(parent >= 0);
	assert_int_equal(switchroot_check_other_fs(parent, f->root_fd), -EBUSY);
	assert_int_equal(switchroot_check_other_fs(f->root_fd, f->root_fd), -EBUSY);
	close(parent);

	proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(proc >= 0);
	assert_int_equal(switchroot_check_other_fs(proc, f->root_fd), 0);
	close(proc);
}

static void test_check_init_merged_usr(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(switchroot_check_init(f->root_fd, "/sbin/init"), -ENOENT);
	make_merged_usr(f, 0755);
	assert_int_equal(switchroot_check_init(f->root_fd, "/sbin/init"), 0);
}

static void test_check_init_not_executable(void **state)
{
	struct fixture *f = *state;

	make_merged_usr(f, 0644);
	assert_int_equal(switchroot_check_init(f->root_fd, "/sbin/init"), -EACCES);

	/* A directory is not an init either. */
	make_dir(f->root, "usr/lib/systemd/dir-init");
	assert_int_equal(switchroot_check_init(f->root_fd, "/usr/lib/systemd/dir-init"), -EACCES);
}

static void test_check_init_escaping_symlinks(void **state)
{
	struct fixture *f = *state;
	char target[256];
	struct stat st;

	/* An executable init outside the new root, reachable from the host by both links. */
	write_file(f->outside, "init", 0755);
	snprintf(target, sizeof(target), "%s/init", f->outside);
	assert_int_equal(stat(target, &st), 0);

	make_dir(f->root, "sbin");
	make_link(f->root, "sbin/init", target);
	assert_int_equal(switchroot_check_init(f->root_fd, "/sbin/init"), -ENOENT);

	assert_int_equal(unlink(strcat(strcpy(target, f->root), "/sbin/init")), 0);
	make_link(f->root, "sbin/init", "../../outside/init");
	assert_int_equal(switchroot_check_init(f->root_fd, "/sbin/init"), -ENOENT);

	/* The same links are fine once the target exists inside the root. */
	make_dir(f->root, "outside");
	write_file(f->root, "outside/init", 0755);
	assert_int_equal(switchroot_check_init(f->root_fd, "/sbin/init"), 0);
}

/* Both resolvers: openat2(RESOLVE_IN_ROOT) and the by-hand walk for old kernels. */
static void check_resolvers(const struct fixture *f, const char *path, const char *expect_inside, int expect_error)
{
	int (*resolvers[])(int, const char *, int) = { chase_in_root, chase_in_root_by_hand };

	for (size_t i = 0; i < 2; i++) {
		int fd = resolvers[i](f->root_fd, path, O_PATH);

		if (expect_error) {
			assert_int_equal(fd, expect_error);
			continue;
		}
		assert_true(fd >= 0);
		{
			char p[512];
			struct stat got, want;

			snprintf(p, sizeof(p), "%s/%s", f->root, expect_inside);
			assert_int_equal(fstat(fd, &got), 0);
			assert_int_equal(stat(p, &want), 0);
			assert_int_equal(got.st_ino, want.st_ino);
			assert_int_equal(got.st_dev, want.st_dev);
		}
		close(fd);
	}
}

static void test_chase(void **state)
{
	struct fixture *f = *state;
	char outside_abs[256];

	make_merged_usr(f, 0755);
	write_file(f->outside, "secret", 0600);
	snprintf(outside_abs, sizeof(outside_abs), "%s/secret", f->outside);
	make_link(f->root, "abs-escape", outside_abs);
	make_link(f->root, "rel-escape", "../outside/secret");
	make_link(f->root, "loop-a", "loop-b");
	make_link(f->root, "loop-b", "loop-a");
	make_link(f->root, "dangling", "/nowhere");
	make_link(f->root, "empty-ish", "usr/lib/systemd/../systemd/./systemd");

	check_resolvers(f, "/sbin/init", "usr/lib/systemd/systemd", 0);
	check_resolvers(f, "sbin/init", "usr/lib/systemd/systemd", 0);
	check_resolvers(f, "/../../../lib/systemd/systemd", "usr/lib/systemd/systemd", 0);
	check_resolvers(f, "/usr/sbin/../lib//systemd/systemd", "usr/lib/systemd/systemd", 0);
	check_resolvers(f, "/empty-ish", "usr/lib/systemd/systemd", 0);
	check_resolvers(f, "/", ".", 0);
	check_resolvers(f, "/abs-escape", NULL, -ENOENT);
	check_resolvers(f, "/rel-escape", NULL, -ENOENT);
	check_resolvers(f, "/dangling", NULL, -ENOENT);
	check_resolvers(f, "/loop-a", NULL, -ELOOP);
	check_resolvers(f, "/usr/lib/systemd/systemd/x", NULL, -ENOTDIR);
}

static void make_tree(const char *dir)
{
	make_dir(dir, "bin");
	write_file(dir, "bin/busybox", 0755);
	make_link(dir, "bin/sh", "busybox");
	write_file(dir, "init", 0755);
	make_dir(dir, "lib");
	make_dir(dir, "lib/modules");
	make_dir(dir, "lib/modules/6.1.0");
	make_dir(dir, "lib/modules/6.1.0/kernel");
	write_file(dir, "lib/modules/6.1.0/kernel/loop.ko", 0644);
	make_dir(dir, "etc");
	make_dir(dir, "etc/gapbox");
	write_file(dir, "etc/gapbox/initrd.conf", 0644);
	make_dir(dir, "empty");
	/* Read-only entries go too (root may delete them anyway; so may their owner). */
	make_dir(dir, "ro");
	write_file(dir, "ro/file", 0400);
}

static void test_delete_tree(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char link_target[256];
	DIR *d;
	struct dirent *de;
	int n = 0;

	make_tree(f->root);
	/* A symlink to a directory outside is removed as a link, never followed. */
	write_file(f->outside, "keep", 0644);
	snprintf(link_target, sizeof(link_target), "%s", f->outside);
	make_link(f->root, "to-outside", link_target);
	assert_int_equal(mkfifo(strcat(strcpy(link_target, f->root), "/fifo"), 0600), 0);

	assert_int_equal(fstat(f->root_fd, &st), 0);
	/* Move the fd's position first: the delete must not depend on it. */
	d = fdopendir(fcntl(f->root_fd, F_DUPFD_CLOEXEC, 3));
	assert_non_null(d);
	while (readdir(d))
		;
	closedir(d);

	assert_int_equal(switchroot_delete_tree(f->root_fd, st.st_dev), 0);

	/* The root itself stays, empty; what the symlink pointed at is untouched. */
	assert_int_equal(stat(f->root, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	d = opendir(f->root);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	assert_int_equal(n, 0);
	assert_true(exists(f->outside, "keep"));
}

static void test_delete_tree_refuses_other_fs(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	make_tree(f->root);
	assert_int_equal(fstat(f->root_fd, &st), 0);
	/* The fd is not on the filesystem the caller means: nothing is touched. */
	assert_int_equal(switchroot_delete_tree(f->root_fd, st.st_dev + 1), -EXDEV);
	assert_true(exists(f->root, "init"));
	assert_true(exists(f->root, "lib/modules/6.1.0/kernel/loop.ko"));
}

/* In a private mount namespace: a tmpfs and a bind mount inside the tree must survive. */
static int delete_across_mounts_child(const struct fixture *f)
{
	char path[512], bsrc[512];
	struct stat st;
	int root_fd;

	if (unshare(geteuid() == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return 77;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;

	make_tree(f->root);
	make_dir(f->root, "mnt");
	snprintf(path, sizeof(path), "%s/mnt", f->root);
	if (mount("tmpfs", path, "tmpfs", 0, "mode=0755") < 0)
		return 77;
	write_file(f->root, "mnt/on-tmpfs", 0644);

	/* A bind mount of the same filesystem: same st_dev, still a mount point. */
	make_dir(f->outside, "bsrc");
	write_file(f->outside, "bsrc/on-bind", 0644);
	make_dir(f->root, "bind");
	snprintf(bsrc, sizeof(bsrc), "%s/bsrc", f->outside);
	snprintf(path, sizeof(path), "%s/bind", f->root);
	if (mount(bsrc, path, NULL, MS_BIND, NULL) < 0)
		return 77;

	/* An fd opened before unshare() would see the old namespace, without these mounts. */
	root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 || fstat(root_fd, &st) < 0)
		return 2;
	switchroot_delete_tree(root_fd, st.st_dev);

	if (!exists(f->root, "mnt/on-tmpfs"))
		return 3;
	if (!exists(f->outside, "bsrc/on-bind"))
		return 4;
	if (exists(f->root, "init") || exists(f->root, "lib") || exists(f->root, "bin"))
		return 5;
	return 0;
}

static void test_delete_tree_skips_mounts(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(delete_across_mounts_child(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no mount namespace here (not root, user namespaces off) */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_initramfs),
		cmocka_unit_test_setup_teardown(test_check_other_fs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_init_merged_usr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_init_not_executable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_init_escaping_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_tree_refuses_other_fs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_tree_skips_mounts, setup, teardown),
	};

	return cmocka_run_group_tests_name("switchroot", tests, NULL, NULL);
}
