/* What the dynamic loader needs of a 64-bit little-endian ELF file (x86-64, aarch64): its
 * interpreter (PT_INTERP) and the shared libraries it names (DT_NEEDED), read from a buffer and
 * checked against the buffer's bounds, for input that may be truncated or hostile. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* e_machine values of the architectures gapbox builds for (elf.h names them EM_*). */
#define GB_ELF_MACHINE_X86_64 62
#define GB_ELF_MACHINE_AARCH64 183

/* The most DT_NEEDED entries read, and the longest name taken (a soname or an interpreter path):
 * far above real files (libcurl names 15), low enough that a crafted file cannot eat memory. */
#define GB_ELF_NEEDED_MAX 1024
#define GB_ELF_NAME_MAX 4095

struct elf_deps {
	uint16_t machine;   /* e_machine */
	uint16_t type;      /* e_type: 2 executable, 3 shared object (or PIE) */
	char *interp;       /* PT_INTERP, NULL when there is none (a static program, a library) */
	char *soname;       /* DT_SONAME, NULL when there is none */
	char **needed;      /* DT_NEEDED in file order, NULL-terminated; NULL when there are none */
};

/* Read DATA (SIZE bytes, the whole file). 0, or: -ENOEXEC not ELF; -EPROTONOSUPPORT not 64-bit
 * little-endian, or not a program or shared object; -EBADMSG something points outside the file,
 * a string is not terminated, a count is past the caps above; -ENOMEM. On failure *RET is empty. */
int elf_deps_parse(const void *data, size_t size, struct elf_deps *ret);
void elf_deps_done(struct elf_deps *d);
/* What an error of elf_deps_parse means, for messages: "not an ELF file", ... */
const char *elf_deps_strerror(int error);
/* "x86-64", "aarch64" or NULL: for messages. */
const char *elf_machine_name(uint16_t machine);
