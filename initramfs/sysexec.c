/* Running a program of the system image with the image's ELF interpreter: the loader comes from
 * the program's PT_INTERP, resolved inside the image, and the libraries from its multiarch folders. */
#include "sysexec.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chase.h"
#include "macros.h"
#include "spawn.h"
#include "strv.h"

#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#else
#error "gapbox-init knows the multiarch folder of x86_64 and aarch64 only"
#endif

/* The PT_INTERP path of the 64-bit ELF program open on FD, into BUF. */
static int elf_interp(int fd, char *buf, size_t size)
{
	Elf64_Ehdr eh;

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) != (ssize_t)sizeof(ph))
			return -ENOEXEC;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz < 2 || ph.p_filesz > size)
			return -ENOEXEC;
		if (pread(fd, buf, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz || buf[ph.p_filesz - 1])
			return -ENOEXEC;
		return 0;
	}
	return -ENOEXEC;
}

int sysexec_run(const char *sysroot, const char *program, char *const args[], char *const env_add[],
		const char *log_path)
{
	_cleanup_close_ int root_fd = -1, prog_fd = -1, ld_fd = -1;
	_cleanup_free_ char *ld_path = NULL, *prog_path = NULL, *libs = NULL;
	_cleanup_strv_free_ char **argv = NULL;
	char interp[256];
	int r;

	root_fd = open(sysroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return negative_errno();
	prog_fd = chase_in_root(root_fd, program, O_RDONLY);
	if (prog_fd < 0)
		return prog_fd;
	r = elf_interp(prog_fd, interp, sizeof(interp));
	if (r < 0)
		return r;
	ld_fd = chase_in_root(root_fd, interp, O_RDONLY);
	if (ld_fd < 0)
		return ld_fd;
	/* The loader is started by its fd's name; the program is opened by the loader after exec,
	 * so its fd must survive the exec. */
	if (fcntl(prog_fd, F_SETFD, 0) < 0)
		return negative_errno();
	if (asprintf(&ld_path, "/proc/self/fd/%d", ld_fd) < 0 || asprintf(&prog_path, "/proc/self/fd/%d", prog_fd) < 0 ||
	    asprintf(&libs, "%s/usr/lib/" MULTIARCH ":%s/lib/" MULTIARCH, sysroot, sysroot) < 0)
		return -ENOMEM;
	if (strv_push(&argv, ld_path) < 0 || strv_push(&argv, "--library-path") < 0 || strv_push(&argv, libs) < 0 ||
	    strv_push(&argv, "--argv0") < 0 || strv_push(&argv, args[0]) < 0 || strv_push(&argv, prog_path) < 0)
		return -ENOMEM;
	for (size_t i = 1; args[i]; i++)
		if (strv_push(&argv, args[i]) < 0)
			return -ENOMEM;
	return gb_run(argv, &(struct gb_spawn_opts){ .log_path = log_path, .env_add = env_add });
}
