/* Finding the admin's NICs in sysfs and assigning the internal and external roles. */
#include "nics.h"

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "appliance.h"
#include "fsutil.h"
#include "sbuf.h"
#include "macros.h"

#define NICS_MAX 64

static void lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int by_ifindex(const void *a, const void *b)
{
	const struct fb_nic *x = a, *y = b;

	return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

static int read_small(const char *dir, const char *name, const char *file, char *buf, size_t size)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t n;
	int r;

	if (asprintf(&path, "%s/%s/%s", dir, name, file) < 0)
		return -ENOMEM;
	r = read_file(path, 256, &text, &n);
	if (r < 0)
		return r;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
	snprintf(buf, size, "%s", text);
	return 0;
}

int nics_discover(const char *sysfs_net, struct fb_nic **ret, size_t *ret_n)
{
	const char *dir = sysfs_net ? sysfs_net : "/sys/class/net";
	_cleanup_free_ struct fb_nic *nics = NULL;
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return -errno;
	nics = calloc(NICS_MAX, sizeof(*nics));
	if (!nics) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) && n < NICS_MAX) {
		_cleanup_free_ char *device = NULL;
		char index[32] = "";
		struct fb_nic *nic = &nics[n];

		if (de->d_name[0] == '.' || streq(de->d_name, "lo") || strlen(de->d_name) >= IFNAMSIZ)
			continue;
		/* Bridges, bonds, veths, tunnels have no device: only real NICs get a role. */
		if (asprintf(&device, "%s/%s/device", dir, de->d_name) < 0) {
			closedir(d);
			return -ENOMEM;
		}
		if (!path_exists(device))
			continue;
		snprintf(nic->name, sizeof(nic->name), "%s", de->d_name);
		(void)read_small(dir, de->d_name, "address", nic->mac, sizeof(nic->mac));
		lowercase(nic->mac);
		if (!appliance_is_mac(nic->mac))
			nic->mac[0] = '\0';
		if (read_small(dir, de->d_name, "ifindex", index, sizeof(index)) >= 0)
			nic->ifindex = atoi(index);
		n++;
	}
	closedir(d);
	qsort(nics, n, sizeof(*nics), by_ifindex);
	*ret = TAKE_PTR(nics);
	*ret_n = n;
	return 0;
}

/* The NICs udev's database does not have yet, joined with ", " ("" when none). */
static int nics_pending(const char *sysfs_net, const char *udev_db, char **ret)
{
	_cleanup_free_ struct fb_nic *nics = NULL;
	struct sbuf b = SBUF_INIT;
	size_t n = 0;
	int r;

	r = nics_discover(sysfs_net, &nics, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *entry = NULL;

		if (asprintf(&entry, "%s/n%d", udev_db, nics[i].ifindex) < 0) {
			sbuf_free(&b);
			return -ENOMEM;
		}
		if (!path_exists(entry))
			sbuf_printf(&b, "%s%s", b.len ? ", " : "", nics[i].name);
	}
	return sbuf_finish(&b, ret, NULL);
}

int nics_wait_settled(const char *sysfs_net, const char *udev_db, unsigned timeout_ms, unsigned poll_ms,
		      char **ret_pending)
{
	const char *db = udev_db ? udev_db : "/run/udev/data";
	struct timespec start, now;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		_cleanup_free_ char *pending = NULL;

		r = nics_pending(sysfs_net, db, &pending);
		if (r < 0)
			return r;
		if (!*pending)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= (long)timeout_ms) {
			*ret_pending = TAKE_PTR(pending);
			return -ETIMEDOUT;
		}
		usleep(poll_ms * 1000);
	}
}

int nics_parse(const char *spec, struct fb_nic **ret, size_t *ret_n)
{
	_cleanup_free_ struct fb_nic *nics = calloc(NICS_MAX, sizeof(*nics));
	_cleanup_free_ char *copy = strdup(spec ? spec : "");
	char *save = NULL, *item;
	size_t n = 0;

	if (!nics || !copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (n == NICS_MAX)
			return -E2BIG;
		if (eq)
			*eq = '\0';
		if (!*item || strlen(item) >= IFNAMSIZ)
			return -EINVAL;
		snprintf(nics[n].name, sizeof(nics[n].name), "%s", item);
		if (eq) {
			if (!appliance_is_mac(eq + 1))
				return -EINVAL;
			snprintf(nics[n].mac, sizeof(nics[n].mac), "%s", eq + 1);
			lowercase(nics[n].mac);
		}
		nics[n].ifindex = (int)n + 2;
		n++;
	}
	*ret = TAKE_PTR(nics);
	*ret_n = n;
	return 0;
}

static const struct fb_nic *find(const struct fb_nic *nics, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (streq(nics[i].name, want) || (nics[i].mac[0] && strcasecmp(nics[i].mac, want) == 0))
			return &nics[i];
	return NULL;
}

static bool taken(const struct fb_nic *nic, const struct fb_nic *other)
{
	return other->name[0] && streq(nic->name, other->name);
}

/* "ens3 (52:54:00:00:00:01), ens4 (...)" or "none". */
static char *describe_nics(const struct fb_nic *nics, size_t n)
{
	char *s = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&s, &size);

	if (!f)
		return NULL;
	if (n == 0)
		fputs("none", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s%s%s%s", i ? ", " : "", nics[i].name, nics[i].mac[0] ? " (" : "", nics[i].mac,
			nics[i].mac[0] ? ")" : "");
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

_printf_(2, 3) static void add_error(FILE *f, const char *fmt, ...)
{
	va_list ap;

	if (ftell(f) > 0)
		fputs("; ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
}

/* Resolve an explicit wish: found, trusted as given, or not there. */
static bool resolve(const struct fb_nic *nics, size_t n, const char *want, bool trust, struct fb_nic *ret)
{
	const struct fb_nic *hit = find(nics, n, want);

	if (hit) {
		*ret = *hit;
		return true;
	}
	if (!trust)
		return false;
	memset(ret, 0, sizeof(*ret));
	if (appliance_is_mac(want)) {
		snprintf(ret->mac, sizeof(ret->mac), "%s", want);
		lowercase(ret->mac);
		/* Only the MAC is known; networkd matches on it, and the name is for messages. */
		snprintf(ret->name, sizeof(ret->name), "mac-%.2s%.2s%.2s", want + 9, want + 12, want + 15);
	} else
		snprintf(ret->name, sizeof(ret->name), "%s", want);
	return true;
}

/* The first NIC not already holding the other role. */
static const struct fb_nic *first_free(const struct fb_nic *nics, size_t n, const struct fb_nic *other, size_t skip)
{
	for (size_t i = 0; i < n; i++) {
		if (taken(&nics[i], other))
			continue;
		if (skip-- == 0)
			return &nics[i];
	}
	return NULL;
}

int nics_choose(const struct fb_nic *nics, size_t n, const char *want_internal, const char *want_external,
		bool trust_names, struct nic_choice *ret)
{
	_cleanup_free_ char *present = describe_nics(nics, n);
	char *errors = NULL;
	size_t errors_size = 0;
	bool int_auto = streq(want_internal, "auto"), ext_auto = streq(want_external, "auto");
	bool ext_none = streq(want_external, "none");
	const struct fb_nic *hit;
	FILE *f;

	memset(ret, 0, sizeof(*ret));
	if (!present)
		return -ENOMEM;
	f = open_memstream(&errors, &errors_size);
	if (!f)
		return -ENOMEM;

	if (!int_auto && !resolve(nics, n, want_internal, trust_names, &ret->internal))
		add_error(f, "internal interface '%s' does not exist (interfaces found: %s); the internal address is "
			  "not configured on any interface", want_internal, present);
	if (!ext_auto && !ext_none && !resolve(nics, n, want_external, trust_names, &ret->external))
		add_error(f, "external interface '%s' does not exist (interfaces found: %s); no external network, "
			  "NAT off", want_external, present);
	if (ret->internal.name[0] && taken(&ret->internal, &ret->external)) {
		add_error(f, "'%s' is configured as both the internal and the external interface; it stays internal",
			  ret->internal.name);
		memset(&ret->external, 0, sizeof(ret->external));
		ext_none = true;
	}

	if (int_auto && ext_auto) {
		if (n >= 2) {
			ret->external = nics[0];
			ret->internal = nics[1];
		} else if (n == 1)
			ret->internal = nics[0];
	} else if (int_auto) {
		/* With only one NIC left after the external one, it is internal. */
		hit = first_free(nics, n, &ret->external, 0);
		if (hit)
			ret->internal = *hit;
	} else if (ext_auto) {
		/* Named internal NIC: the external is the first other one. If the named one is missing,
		 * only take an external NIC when automatic selection would have had two. */
		hit = first_free(nics, n, &ret->internal, 0);
		if (hit && (ret->internal.name[0] || n >= 2))
			ret->external = *hit;
	}
	if (!ret->internal.name[0] && int_auto) {
		if (n == 0 && !trust_names)
			add_error(f, "no network interface found; the internal address is not configured on any "
				  "interface");
		else
			add_error(f, "no interface left for the internal network (interfaces found: %s)", present);
	}

	if (fclose(f) != 0) {
		free(errors);
		return -ENOMEM;
	}
	ret->error = errors_size ? errors : (free(errors), NULL);
	return 0;
}

void nic_choice_done(struct nic_choice *c)
{
	free(c->error);
	c->error = NULL;
}
