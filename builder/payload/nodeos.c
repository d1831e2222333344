/* The node OS families of the payload's package repositories (see nodeos.h). */
#include "nodeos.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "macros.h"
#include "strv.h"

#define DEB_REPO "debs/local"
#define RPM_REPO "rpms/local"
/* A Packages index of a few thousand packages is a few MB. */
#define PACKAGES_MAX (256u * 1024 * 1024)

static bool starts_line(const char *text, const char *p)
{
	return p == text || p[-1] == '\n';
}

/* debs/local/Packages lists at least one package (apt-ftparchive also writes Packages.gz, which
 * apt reads just as well). */
static int deb_repo_has_packages(const char *dir, bool *ret)
{
	_cleanup_free_ char *packages = NULL, *gz = NULL, *text = NULL;
	int r;

	*ret = false;
	if (!(packages = path_join(dir, DEB_REPO "/Packages")) || !(gz = path_join(dir, DEB_REPO "/Packages.gz")))
		return -ENOMEM;
	r = read_file(packages, PACKAGES_MAX, &text, NULL);
	if (r == -ENOENT) {
		*ret = path_exists(gz);
		return 0;
	}
	if (r < 0)
		return r;
	for (const char *p = strstr(text, "Package:"); p && !*ret; p = strstr(p + 1, "Package:"))
		*ret = starts_line(text, p);
	return 0;
}

/* N of the "el<N>" tag in the release of an rpm file name ("containerd.io-1.7.28-1.el9.x86_64.rpm"
 * is 9, "glibc-2.34-100.el9_4.2.x86_64.rpm" and "...-3.module+el9.4.0+21.x86_64.rpm" too); 0 when
 * it has none. */
static unsigned rpm_el_release(const char *name)
{
	const char *end = strrchr(name, '.'), *arch, *rel;

	if (!end || strcmp(end, ".rpm") != 0)
		return 0;
	arch = memrchr(name, '.', (size_t)(end - name));
	rel = arch ? memrchr(name, '-', (size_t)(arch - name)) : NULL;
	for (const char *p = rel ? rel + 1 : arch; p && p + 2 < arch; p++) {
		unsigned n = 0;
		const char *d;

		if ((p[-1] != '.' && p[-1] != '+') || p[0] != 'e' || p[1] != 'l')
			continue;
		for (d = p + 2; d < arch && isdigit((unsigned char)*d) && n < 1000; d++)
			n = n * 10 + (unsigned)(*d - '0');
		if (d > p + 2 && n > 0 && (d == arch || *d == '.' || *d == '_' || *d == '+'))
			return n;
	}
	return 0;
}

/* rpms/local with its repodata: "rhel<N>" for every N its rpms are tagged with, else "rhel". */
static int rpm_repo_families(const char *dir, char ***l)
{
	_cleanup_free_ char *repo = path_join(dir, RPM_REPO), *repomd = path_join(dir, RPM_REPO "/repodata/repomd.xml");
	bool found = false;
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (!repo || !repomd)
		return -ENOMEM;
	if (!path_exists(repomd))
		return 0;
	d = opendir(repo);
	if (!d)
		return -errno;
	while (r >= 0 && (e = readdir(d))) {
		unsigned n = rpm_el_release(e->d_name);
		char family[16];

		if (n == 0)
			continue;
		snprintf(family, sizeof(family), "rhel%u", n);
		found = true;
		if (!strv_contains(*l, family))
			r = strv_push(l, family);
	}
	closedir(d);
	if (r >= 0 && !found)
		r = strv_push(l, "rhel");
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int payload_node_os(const char *dir, char ***ret)
{
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	bool debs;
	int r;

	if (!l)
		return -ENOMEM;
	r = deb_repo_has_packages(dir, &debs);
	if (r >= 0 && debs)
		r = strv_push(&l, "debian");
	if (r >= 0)
		r = rpm_repo_families(dir, &l);
	if (r < 0)
		return r;
	qsort(l, strv_length(l), sizeof(*l), by_name);
	*ret = TAKE_PTR(l);
	return 0;
}
