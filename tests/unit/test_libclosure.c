/* Unit tests of the builder's library closure (builder/libclosure.c): small rootfs tars laid out
 * as Debian's (usrmerge links, an absolute interpreter link, soname links), holding this
 * machine's real loader and libc, with /usr/bin/true as the program; and the failures: a
 * library that is missing, a symlink loop, a program for another machine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../builder/libclosure.h"
#include "archiveutil.h"
#include "elfdeps.h"
#include "fsutil.h"
#include "log.h"
#include "strv.h"

#if defined(__x86_64__)
#define TRIPLET "x86_64-linux-gnu"
#define MACHINE GB_ELF_MACHINE_X86_64
#define FOREIGN_TRIPLET "aarch64-linux-gnu"
#elif defined(__aarch64__)
#define TRIPLET "aarch64-linux-gnu"
#define MACHINE GB_ELF_MACHINE_AARCH64
#define FOREIGN_TRIPLET "x86_64-linux-gnu"
#else
#error "gapbox builds on amd64 and arm64 hosts only"
#endif

#define PROGRAM "/usr/bin/true"
#define LIBDIR "usr/lib/" TRIPLET

static char tmpdir[] = "/tmp/gapbox-test-libclosure-XXXXXX";
static char *tar, *interp, *ld_name, *log_buf;
static size_t log_size;
static FILE *log_stream;

static int setup(void **state)
{
	_cleanup_free_ char *data = NULL;
	struct elf_deps d;
	size_t size;

	(void)state;
	if (!mkdtemp(tmpdir) || !(tar = path_join(tmpdir, "rootfs.tar")))
		return -1;
	/* The loader's path as the program names it: /lib64/ld-linux-x86-64.so.2, /lib/ld-linux-aarch64.so.1. */
	if (read_file(PROGRAM, 16 << 20, &data, &size) < 0 || elf_deps_parse(data, size, &d) < 0 || !d.interp)
		return -1;
	interp = strdup(d.interp);
	ld_name = strdup(strrchr(d.interp, '/') + 1);
	elf_deps_done(&d);
	log_stream = open_memstream(&log_buf, &log_size);
	gb_log_set_stream(log_stream);
	return interp && ld_name && log_stream ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gb_log_set_stream(NULL);
	fclose(log_stream);
	FREE_ALL(tar, interp, ld_name, log_buf);
	return rm_rf(tmpdir);
}

/* One entry of a test rootfs: a symlink (link), a hard link (hard), or a file with the data of
 * the host's file FROM. */
struct node {
	const char *path, *link, *hard, *from;
};

static void write_tar(const struct node *nodes)
{
	_cleanup_archive_write_ struct archive *a = archive_write_new();

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, tar), ARCHIVE_OK);
	for (const struct node *n = nodes; n->path; n++) {
		_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
		_cleanup_free_ char *data = NULL;
		size_t size = 0;

		if (n->from)
			assert_int_equal(read_file(n->from, 64 << 20, &data, &size), 0);
		archive_entry_normalize(e, n->path, n->link ? AE_IFLNK | 0777 : AE_IFREG | 0755, 0);
		if (n->link)
			archive_entry_set_symlink(e, n->link);
		if (n->hard)
			archive_entry_set_hardlink(e, n->hard);
		archive_entry_set_size(e, (la_int64_t)size);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (size)
			assert_int_equal(archive_write_data(a, data, size), (la_ssize_t)size);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
}

/* usrmerge's links and the loader, as in Debian: /lib64 (x86-64) or /lib (aarch64) leads to
 * usr/, where a link names the real file absolutely, through /lib. */
static void write_rootfs(const struct node *more)
{
	char top[64], top_link[80], usr_interp[128], abs_ld[128], real_ld[128], host_ld[128];
	struct node nodes[32] = {
		{ .path = "lib", .link = "usr/lib" },
		{ .path = "bin", .link = "usr/bin" },
	};
	size_t n = 2;

	snprintf(top, sizeof(top), "%.*s", (int)strcspn(interp + 1, "/"), interp + 1);
	snprintf(top_link, sizeof(top_link), "usr/%s", top);
	if (strcmp(top, "lib"))
		nodes[n++] = (struct node){ .path = top, .link = top_link };
	snprintf(usr_interp, sizeof(usr_interp), "usr%s", interp);
	snprintf(abs_ld, sizeof(abs_ld), "/lib/" TRIPLET "/%s", ld_name);
	snprintf(real_ld, sizeof(real_ld), LIBDIR "/%s", ld_name);
	snprintf(host_ld, sizeof(host_ld), "/usr/lib/" TRIPLET "/%s", ld_name);
	nodes[n++] = (struct node){ .path = usr_interp, .link = abs_ld };
	nodes[n++] = (struct node){ .path = real_ld, .from = host_ld };
	nodes[n++] = (struct node){ .path = "usr/bin/true", .from = PROGRAM };
	for (; more && more->path; more++)
		nodes[n++] = *more;
	write_tar(nodes);
}

static const struct closure_entry *entry(const struct lib_closure *c, const char *path)
{
	for (size_t i = 0; i < c->n_entries; i++)
		if (!strcmp(c->entries[i].path, path))
			return &c->entries[i];
	return NULL;
}

static void log_reset(void)
{
	fflush(log_stream);
	rewind(log_stream);
	if (log_buf)
		log_buf[0] = '\0';
}

static void test_debian_layout(void **state)
{
	const struct node libc[] = {
		{ .path = LIBDIR "/libc.so.6", .from = "/usr/lib/" TRIPLET "/libc.so.6" },
		{ 0 },
	};
	struct lib_closure c = { 0 };
	const struct closure_entry *e;
	char ld_path[128];

	(void)state;
	write_rootfs(libc);
	assert_int_equal(lib_closure_resolve(tar, PROGRAM, MACHINE, TRIPLET, &c), 0);
	assert_string_equal(c.interp, interp);
	/* libc, and the loader again by soname (libc needs it): found once, the same file. */
	assert_int_equal(strv_length(c.sonames), 2);
	assert_string_equal(c.sonames[0], "libc.so.6");
	assert_string_equal(c.sonames[1], ld_name);
	snprintf(ld_path, sizeof(ld_path), LIBDIR "/%s", ld_name);
	assert_non_null(e = entry(&c, ld_path));
	assert_null(e->symlink);
	assert_string_equal(e->source, ld_path);
	assert_non_null(e = entry(&c, LIBDIR "/libc.so.6"));
	assert_string_equal(e->source, LIBDIR "/libc.so.6");
	assert_true(e->size > 100000);
	/* The links the loader crosses, with the rootfs's own targets. */
	assert_non_null(e = entry(&c, "lib"));
	assert_string_equal(e->symlink, "usr/lib");
	if (strcmp(interp, "/lib64/ld-linux-x86-64.so.2") == 0) {
		assert_non_null(e = entry(&c, "lib64"));
		assert_string_equal(e->symlink, "usr/lib64");
		assert_non_null(e = entry(&c, "usr/lib64/ld-linux-x86-64.so.2"));
		assert_string_equal(e->symlink, "/lib/" TRIPLET "/ld-linux-x86-64.so.2");
		assert_int_equal(c.n_entries, 5);
	} else
		assert_int_equal(c.n_entries, 4);
	assert_null(entry(&c, "bin"));
	lib_closure_done(&c);
}

/* A soname link to a file outside the library folders, itself a hard link: found in a second
 * pass, put in at the link's path with the data of the file it names. */
static void test_outside_and_hard_link(void **state)
{
	const struct node libc[] = {
		{ .path = "opt/glibc/data/libc.bin", .from = "/usr/lib/" TRIPLET "/libc.so.6" },
		{ .path = "usr/lib/glibc/libc-2.36.so", .hard = "./opt/glibc/data/libc.bin" },
		{ .path = LIBDIR "/libc.so.6", .link = "../glibc/libc-2.36.so" },
		{ 0 },
	};
	struct lib_closure c = { 0 };
	const struct closure_entry *e;

	(void)state;
	write_rootfs(libc);
	assert_int_equal(lib_closure_resolve(tar, PROGRAM, MACHINE, TRIPLET, &c), 0);
	assert_non_null(e = entry(&c, LIBDIR "/libc.so.6"));
	assert_string_equal(e->symlink, "../glibc/libc-2.36.so");
	assert_non_null(e = entry(&c, "usr/lib/glibc/libc-2.36.so"));
	assert_null(e->symlink);
	assert_string_equal(e->source, "opt/glibc/data/libc.bin");
	lib_closure_done(&c);
}

/* Another machine's library under the soname in the first folder is passed over, as the loader
 * does; the next folder's is taken. */
static void test_other_machine_passed_over(void **state)
{
	const struct node libc[] = {
		{ .path = LIBDIR "/libc.so.6", .from = "/usr/lib/" FOREIGN_TRIPLET "/libcurl.so.4" },
		{ .path = "usr/lib/libc.so.6", .from = "/usr/lib/" TRIPLET "/libc.so.6" },
		{ 0 },
	};
	struct lib_closure c = { 0 };

	(void)state;
	write_rootfs(libc);
	assert_int_equal(lib_closure_resolve(tar, PROGRAM, MACHINE, TRIPLET, &c), 0);
	assert_non_null(entry(&c, "usr/lib/libc.so.6"));
	assert_null(entry(&c, LIBDIR "/libc.so.6"));
	lib_closure_done(&c);
}

static void test_missing_library(void **state)
{
	const struct node none[] = {
		{ .path = LIBDIR "/libc.so.6", .from = "/usr/lib/" FOREIGN_TRIPLET "/libcurl.so.4" },
		{ 0 },
	};
	struct lib_closure c = { 0 };

	(void)state;
	write_rootfs(none);
	log_reset();
	assert_int_equal(lib_closure_resolve(tar, PROGRAM, MACHINE, TRIPLET, &c), -ENOENT);
	fflush(log_stream);
	assert_non_null(strstr(log_buf, "library libc.so.6, needed by " PROGRAM ", is not in rootfs "));
	assert_non_null(strstr(log_buf, "(looked in /lib/" TRIPLET ", /usr/lib/" TRIPLET ", /lib, /usr/lib; "
					"passed over " LIBDIR "/libc.so.6: built for another machine)"));
	assert_null(c.entries);
}

static void test_symlink_loop(void **state)
{
	const struct node loop[] = {
		{ .path = LIBDIR "/libc.so.6", .link = "libc.so.7" },
		{ .path = LIBDIR "/libc.so.7", .link = "/lib/" TRIPLET "/libc.so.6" },
		{ 0 },
	};
	struct lib_closure c = { 0 };

	(void)state;
	write_rootfs(loop);
	log_reset();
	assert_int_equal(lib_closure_resolve(tar, PROGRAM, MACHINE, TRIPLET, &c), -ELOOP);
	fflush(log_stream);
	assert_non_null(strstr(log_buf, "library libc.so.6 (needed by " PROGRAM "): cannot follow lib/" TRIPLET
					"/libc.so.6 in rootfs "));
}

static void test_wrong_program(void **state)
{
	struct lib_closure c = { 0 };

	(void)state;
	write_rootfs(NULL);
	log_reset();
	assert_int_equal(lib_closure_resolve(tar, "/usr/lib/" FOREIGN_TRIPLET "/libcurl.so.4", MACHINE, TRIPLET, &c),
			 -ENOEXEC);
	assert_int_equal(lib_closure_resolve(tar, "/sbin/ldconfig", MACHINE, TRIPLET, &c), -ENOEXEC);
	fflush(log_stream);
	assert_non_null(strstr(log_buf, "is a program for machine "));
	assert_non_null(strstr(log_buf, "/sbin/ldconfig is statically linked, expected a dynamically linked program"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debian_layout),
		cmocka_unit_test(test_outside_and_hard_link),
		cmocka_unit_test(test_other_machine_passed_over),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_symlink_loop),
		cmocka_unit_test(test_wrong_program),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
