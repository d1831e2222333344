/* Stage closure: what the dynamic loader needs from the rootfs to run a dynamically linked target
 * program (gapbox-fetch in the initramfs): its ELF interpreter and every shared library it needs,
 * recursively, found as the loader finds them, with the symlinks on the way. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct build;
struct rootfs;

/* A path the initramfs must hold for the loader, at the same place as in the rootfs. */
struct closure_entry {
	char *path;     /* relative to the root; its parent folders are real folders in the rootfs */
	char *symlink;  /* a symlink's target, as the rootfs has it; NULL: a regular file */
	char *source;   /* a regular file: the tar entry with its data (the path itself, or what a hard
			   link names) */
	uint64_t size;  /* a regular file's size */
};

struct lib_closure {
	char *program;                 /* the program on the build host */
	char *interp;                  /* its PT_INTERP, as written in it */
	char **sonames;                /* every library it needs, directly or not, in the order found */
	struct closure_entry *entries; /* each path once, in the order found */
	size_t n_entries, alloc;
};
void lib_closure_done(struct lib_closure *c);

/* The closure of PROGRAM (a path on the build host) in the rootfs tar TAR, for a program and
 * libraries of ELF machine MACHINE (lib/elfdeps.h) and the Debian multiarch TRIPLET. Reads the
 * tar once to index it (and every shared object in the library folders), and again only for a
 * library found outside them. A library that cannot be found fails, naming it and what needs it.
 * 0 or a negative errno, reported. */
int lib_closure_resolve(const char *tar, const char *program, uint16_t machine, const char *triplet,
			struct lib_closure *ret);

/* The closure of the build's gapbox-fetch in its rootfs. */
int stage_closure(struct build *b, const struct rootfs *rootfs, struct lib_closure *ret);
