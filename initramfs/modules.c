/* Loading the kernel modules the builder listed for the initramfs, with finit_module(). */
#include "modules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "macros.h"

static int load_one(int moddir_fd, const char *path)
{
	_cleanup_close_ int fd = -1;

	/* Paths come from the builder; still, nothing outside the module tree. */
	if (path[0] == '/' || strstr(path, "..") )
		return -EINVAL;
	fd = openat(moddir_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (syscall(SYS_finit_module, fd, "", 0) < 0)
		return negative_errno();
	return 0;
}

static void note_failure(struct modules_result *res, const char *path, int error)
{
	if (res->n_failed < MODULES_FAILED_MAX) {
		snprintf(res->failed[res->n_failed].path, sizeof(res->failed[0].path), "%s", path);
		res->failed[res->n_failed].error = error;
	}
	res->n_failed++;
}

static char *strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

int modules_load_list(const char *moddir, const char *list_path, struct modules_result *ret)
{
	_cleanup_fclose_ FILE *list = NULL;
	_cleanup_close_ int moddir_fd = -1;
	char line[512];
	bool skipping = false;

	*ret = (struct modules_result){ 0 };

	list = fopen(list_path, "re");
	if (!list)
		return negative_errno();
	moddir_fd = open(moddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (moddir_fd < 0)
		return negative_errno();

	while (fgets(line, sizeof(line), list)) {
		bool complete = strchr(line, '\n') || feof(list);
		char *path;
		int r;

		if (skipping) {
			skipping = !complete;
			continue;
		}
		if (!complete) {
			skipping = true;
			note_failure(ret, "(overlong line)", -ENAMETOOLONG);
			continue;
		}
		path = strip(line);
		if (!*path || *path == '#')
			continue;

		r = load_one(moddir_fd, path);
		if (r == -EEXIST) {
			ret->n_present++;
			continue;
		}
		if (r < 0) {
			log_debug_errno(r, "module %s: %m", path);
			note_failure(ret, path, r);
			continue;
		}
		log_debug("module %s loaded", path);
		ret->n_loaded++;
	}
	return 0;
}

void modules_result_describe(const struct modules_result *res, char *buf, size_t size)
{
	size_t used = 0;
	unsigned shown = res->n_failed < MODULES_FAILED_MAX ? res->n_failed : MODULES_FAILED_MAX;

	snprintf(buf, size, "none");
	for (unsigned i = 0; i < shown && used < size; i++) {
		const char *base = strrchr(res->failed[i].path, '/');
		int k = snprintf(buf + used, size - used, "%s%s (%s)", i ? ", " : "", base ? base + 1 : res->failed[i].path,
				 strerror(-res->failed[i].error));

		if (k < 0)
			break;
		used += (size_t)k;
	}
	if (res->n_failed > shown && used < size)
		snprintf(buf + used, size - used, " and %u more", res->n_failed - shown);
}
