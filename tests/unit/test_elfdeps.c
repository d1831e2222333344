/* Unit tests for lib/elfdeps: real ELF files of this machine (its own programs and libraries, and
 * the other architecture's libcurl that make deps installs for cross builds), then the same
 * files truncated at every length and with their headers made hostile. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elfdeps.h"
#include "fsutil.h"
#include "strv.h"

#if defined(__x86_64__)
#define HOST_TRIPLET "x86_64-linux-gnu"
#define HOST_MACHINE GB_ELF_MACHINE_X86_64
#define HOST_INTERP "/lib64/ld-linux-x86-64.so.2"
#define FOREIGN_TRIPLET "aarch64-linux-gnu"
#define FOREIGN_MACHINE GB_ELF_MACHINE_AARCH64
#elif defined(__aarch64__)
#define HOST_TRIPLET "aarch64-linux-gnu"
#define HOST_MACHINE GB_ELF_MACHINE_AARCH64
#define HOST_INTERP "/lib/ld-linux-aarch64.so.1"
#define FOREIGN_TRIPLET "x86_64-linux-gnu"
#define FOREIGN_MACHINE GB_ELF_MACHINE_X86_64
#else
#error "gapbox builds on amd64 and arm64 hosts only"
#endif

struct file {
	char *data;
	size_t size;
};

static struct file load(const char *path)
{
	struct file f = { 0 };
	int r = read_file(path, 64 << 20, &f.data, &f.size);

	if (r < 0)
		fail_msg("cannot read %s: %s (make deps installs it)", path, strerror(-r));
	return f;
}

static bool results_equal(const struct elf_deps *a, const struct elf_deps *b)
{
	size_t n = strv_length(a->needed);

	if (a->machine != b->machine || a->type != b->type || !a->interp != !b->interp || !a->soname != !b->soname ||
	    (a->interp && strcmp(a->interp, b->interp)) || (a->soname && strcmp(a->soname, b->soname)) ||
	    n != strv_length(b->needed))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->needed[i], b->needed[i]))
			return false;
	return true;
}

/* ---- real files ---- */

static void test_own_program(void **state)
{
	struct file f = load("/proc/self/exe");
	struct elf_deps d;

	(void)state;
	assert_int_equal(elf_deps_parse(f.data, f.size, &d), 0);
	assert_int_equal(d.machine, HOST_MACHINE);
	assert_string_equal(d.interp, HOST_INTERP);
	assert_null(d.soname);
	assert_true(strv_contains(d.needed, "libcmocka.so.0"));
	assert_true(strv_contains(d.needed, "libc.so.6"));
	assert_string_equal(elf_machine_name(d.machine), HOST_MACHINE == GB_ELF_MACHINE_X86_64 ? "x86-64" : "aarch64");
	elf_deps_done(&d);
	free(f.data);
}

static void test_host_libc(void **state)
{
	struct file f = load("/usr/lib/" HOST_TRIPLET "/libc.so.6");
	const char *ld = strrchr(HOST_INTERP, '/') + 1;
	struct elf_deps d;

	(void)state;
	assert_int_equal(elf_deps_parse(f.data, f.size, &d), 0);
	assert_int_equal(d.type, ET_DYN);
	/* glibc's libc.so.6 is a program too (running it prints its version): it names the loader. */
	assert_string_equal(d.interp, HOST_INTERP);
	assert_string_equal(d.soname, "libc.so.6");
	assert_int_equal(strv_length(d.needed), 1);
	assert_string_equal(d.needed[0], ld);
	elf_deps_done(&d);
	free(f.data);
}

/* libcurl for both architectures: what gapbox-fetch links, read the same way on either. */
static void check_libcurl(const char *path, uint16_t machine)
{
	struct file f = load(path);
	struct elf_deps d;

	assert_int_equal(elf_deps_parse(f.data, f.size, &d), 0);
	assert_int_equal(d.machine, machine);
	assert_null(d.interp);
	assert_string_equal(d.soname, "libcurl.so.4");
	assert_true(strv_contains(d.needed, "libssl.so.3"));
	assert_true(strv_contains(d.needed, "libcrypto.so.3"));
	assert_true(strv_contains(d.needed, "libz.so.1"));
	assert_true(strv_contains(d.needed, "libc.so.6"));
	elf_deps_done(&d);
	free(f.data);
}

static void test_libcurl_both_architectures(void **state)
{
	(void)state;
	check_libcurl("/usr/lib/" HOST_TRIPLET "/libcurl.so.4", HOST_MACHINE);
	check_libcurl("/usr/lib/" FOREIGN_TRIPLET "/libcurl.so.4", FOREIGN_MACHINE);
}

/* A static PIE has a dynamic section (for its own relocations) but no interpreter or needs. */
static void test_static_program(void **state)
{
	struct file f = load("/sbin/ldconfig");
	struct elf_deps d;

	(void)state;
	assert_int_equal(elf_deps_parse(f.data, f.size, &d), 0);
	assert_null(d.interp);
	assert_null(d.needed);
	elf_deps_done(&d);
	free(f.data);
}

/* What lies in a library folder and is no shared object: a linker script, an object file. */
static void test_not_loadable(void **state)
{
	struct file script = load("/usr/lib/" HOST_TRIPLET "/libc.so"), object = load("/usr/lib/" HOST_TRIPLET "/crt1.o");
	struct elf_deps d = { .machine = 1 };

	(void)state;
	assert_int_equal(elf_deps_parse(script.data, script.size, &d), -ENOEXEC);
	assert_int_equal(d.machine, 0);
	assert_int_equal(elf_deps_parse(object.data, object.size, &d), -EPROTONOSUPPORT);
	assert_int_equal(elf_deps_parse("", 0, &d), -ENOEXEC);
	assert_int_equal(elf_deps_parse("\177EL", 3, &d), -ENOEXEC);
	assert_int_equal(elf_deps_parse("\177ELF", 4, &d), -EBADMSG);
	assert_string_equal(elf_deps_strerror(-ENOEXEC), "not an ELF file");
	assert_string_equal(elf_deps_strerror(-EBADMSG), "a malformed ELF file");
	free(script.data);
	free(object.data);
}

/* ---- damaged files ---- */

/* Every prefix of a real file either fails as malformed or, when the headers, the dynamic
 * section and its strings all lie within it, reads exactly as the whole file. */
static void check_truncations(const char *path, size_t stride)
{
	struct file f = load(path);
	struct elf_deps whole, d;
	size_t ok = 0;

	assert_int_equal(elf_deps_parse(f.data, f.size, &whole), 0);
	for (size_t len = 0; len < f.size; len += len < 8192 ? 1 : stride) {
		/* A copy of exactly LEN bytes, so that a read past it is caught by the allocator's tools. */
		char *copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, f.data, len);
		int r = elf_deps_parse(copy, len, &d);
		if (r == 0) {
			assert_true(results_equal(&d, &whole));
			ok++;
		} else {
			assert_true(r == -ENOEXEC || r == -EPROTONOSUPPORT || r == -EBADMSG);
			assert_null(d.interp);
			assert_null(d.needed);
		}
		elf_deps_done(&d);
		free(copy);
	}
	/* The dynamic section lies near the end of a library: short prefixes cannot all read. */
	assert_true(ok < f.size);
	elf_deps_done(&whole);
	free(f.data);
}

static void test_truncated(void **state)
{
	(void)state;
	check_truncations("/proc/self/exe", 1);
	check_truncations("/usr/lib/" HOST_TRIPLET "/libcurl.so.4", 61);
	check_truncations("/usr/lib/" FOREIGN_TRIPLET "/libcurl.so.4", 61);
}

/* The headers of the test's own program, to aim damage at. */
struct target {
	struct file f;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph, *interp, *dynamic;
	Elf64_Dyn *strsz, *strtab, *needed;
};

static struct target aim(void)
{
	struct target t = { .f = load("/proc/self/exe") };

	t.eh = (Elf64_Ehdr *)t.f.data;
	t.ph = (Elf64_Phdr *)(t.f.data + t.eh->e_phoff);
	for (unsigned i = 0; i < t.eh->e_phnum; i++) {
		if (t.ph[i].p_type == PT_INTERP)
			t.interp = &t.ph[i];
		if (t.ph[i].p_type == PT_DYNAMIC)
			t.dynamic = &t.ph[i];
	}
	assert_non_null(t.interp);
	assert_non_null(t.dynamic);
	for (Elf64_Dyn *d = (Elf64_Dyn *)(t.f.data + t.dynamic->p_offset); d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_STRSZ)
			t.strsz = d;
		if (d->d_tag == DT_STRTAB)
			t.strtab = d;
		if (d->d_tag == DT_NEEDED && !t.needed)
			t.needed = d;
	}
	assert_non_null(t.strsz);
	assert_non_null(t.strtab);
	assert_non_null(t.needed);
	return t;
}

static int parse_target(struct target *t)
{
	struct elf_deps d;
	int r = elf_deps_parse(t->f.data, t->f.size, &d);

	elf_deps_done(&d);
	free(t->f.data);
	return r;
}

static void test_hostile_headers(void **state)
{
	struct target t;

	(void)state;
	t = aim(), t.f.data[4] = ELFCLASS32;
	assert_int_equal(parse_target(&t), -EPROTONOSUPPORT);
	t = aim(), t.f.data[5] = ELFDATA2MSB;
	assert_int_equal(parse_target(&t), -EPROTONOSUPPORT);
	t = aim(), t.eh->e_phoff = UINT64_MAX - 8;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.eh->e_phnum = PN_XNUM;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.eh->e_phnum = 0xfffe;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.eh->e_phentsize = 32;
	assert_int_equal(parse_target(&t), -EBADMSG);
	/* The interpreter's path without its NUL, or reaching past the end of the file. */
	t = aim(), t.interp->p_filesz = strlen(t.f.data + t.interp->p_offset);
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.interp->p_filesz = UINT64_MAX;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.interp->p_offset = t.f.size;
	assert_int_equal(parse_target(&t), -EBADMSG);
	/* A second interpreter or dynamic section. */
	t = aim(), t.ph[0].p_type = PT_INTERP, t.ph[1].p_type = PT_INTERP;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.ph[0].p_type = PT_DYNAMIC, t.ph[1].p_type = PT_DYNAMIC;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.dynamic->p_offset = UINT64_MAX - 4;
	assert_int_equal(parse_target(&t), -EBADMSG);
	/* The string table: huge, at an address no segment loads, a name past its end. */
	t = aim(), t.strsz->d_un.d_val = UINT64_MAX;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.strtab->d_un.d_ptr = UINT64_MAX - 2;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.needed->d_un.d_val = t.strsz->d_un.d_val;
	assert_int_equal(parse_target(&t), -EBADMSG);
	t = aim(), t.needed->d_un.d_val = UINT64_MAX;
	assert_int_equal(parse_target(&t), -EBADMSG);
	/* No string table at all for the names. */
	t = aim(), t.strtab->d_tag = DT_DEBUG;
	assert_int_equal(parse_target(&t), -EBADMSG);
	/* An empty name: the byte at offset 0 of a string table is its NUL. */
	t = aim(), t.needed->d_un.d_val = 0;
	assert_int_equal(parse_target(&t), -EBADMSG);
	/* A dynamic section with no DT_NULL ends with the segment, not past it. */
	t = aim();
	Elf64_Dyn *last = t.needed > t.strsz ? t.needed : t.strsz;
	last = last > t.strtab ? last : t.strtab;
	t.dynamic->p_filesz = (char *)(last + 1) - (t.f.data + t.dynamic->p_offset);
	assert_int_equal(parse_target(&t), 0);
}

/* Random damage to the headers, the dynamic section and the strings (a fixed seed: the same
 * cases every run): a clean error or a clean result, never a read out of bounds. */
static void test_random_damage(void **state)
{
	struct target t = aim();
	size_t span = t.dynamic->p_offset + t.dynamic->p_filesz;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned outcomes[2] = { 0 };

	(void)state;
	if (span > t.f.size)
		span = t.f.size;
	for (int i = 0; i < 20000; i++) {
		char *copy = malloc(t.f.size);
		struct elf_deps d;

		assert_non_null(copy);
		memcpy(copy, t.f.data, t.f.size);
		for (int k = 0; k < 1 + i % 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* Half of the hits in the ELF and program headers, where every byte matters. */
			size_t at = (x >> 32) % (k % 2 ? span : 64 + t.eh->e_phnum * sizeof(Elf64_Phdr));
			copy[at] = (char)x;
		}
		int r = elf_deps_parse(copy, t.f.size, &d);
		assert_true(r == 0 || r == -ENOEXEC || r == -EPROTONOSUPPORT || r == -EBADMSG);
		for (char **n = d.needed; n && *n; n++)
			assert_true(strlen(*n) >= 1 && strlen(*n) <= GB_ELF_NAME_MAX);
		outcomes[r == 0]++;
		elf_deps_done(&d);
		free(copy);
	}
	/* Both outcomes happen: the damage is neither always fatal nor always harmless. */
	assert_true(outcomes[0] > 0 && outcomes[1] > 0);
	free(t.f.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_program),
		cmocka_unit_test(test_host_libc),
		cmocka_unit_test(test_libcurl_both_architectures),
		cmocka_unit_test(test_static_program),
		cmocka_unit_test(test_not_loadable),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_random_damage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
