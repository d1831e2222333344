/* A netboot: the images come over HTTP into RAM, each checked against the build manifest. */
#include "netboot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootrecord.h"
#include "buildmanifest.h"
#include "clock.h"
#include "fetchexit.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "mounts.h"
#include "spawn.h"
#include "toram.h"
#include "verify.h"

#define NETBOOT_DIR GB_RUN_DIR "/netboot"
#define NETBOOT_MANIFEST NETBOOT_DIR "/manifest.json"
#define NETBOOT_MANIFEST_SIG NETBOOT_MANIFEST ".sig"
#define FETCH_PROGRAM "/" GB_INITRD_FETCH
/* /proc/meminfo is about 1.5 KiB. */
#define MEMINFO_MAX (64u * 1024)

static const char *const image_names[] = { GB_MEDIUM_IMAGES };

/* BASE and PATH with one slash between them. */
static char *url_join(const char *base, const char *path)
{
	size_t n = strlen(base);
	char *s;

	while (n > 0 && base[n - 1] == '/')
		n--;
	return asprintf(&s, "%.*s/%s", (int)n, base, path) < 0 ? NULL : s;
}

static const char *fetch_failure(int status)
{
	switch (status) {
	case FETCH_MISMATCH:
		return "it is not what the build manifest says";
	case FETCH_UNREACHABLE:
		return "the server cannot be reached or stopped sending";
	case FETCH_HTTP:
		return "the server refused it";
	case FETCH_TOO_BIG:
		return "it is larger than a build manifest can be";
	default:
		return "it cannot be written here";
	}
}

/* gapbox-fetch URL into FILE; EXPECT (may be NULL) gives the size and sha256. Returns 0 or -EIO after
 * saying what failed (gapbox-fetch has said why on the console already). */
static int fetch(const char *url, const char *file, const char *name, const struct manifest_artifact *expect,
		 unsigned retry_sec)
{
	char size[32], retry[16], max[32];
	const char *argv[18];
	size_t n = 0;
	int r;

	snprintf(retry, sizeof(retry), "%u", retry_sec ? retry_sec : 1);
	argv[n++] = FETCH_PROGRAM;
	argv[n++] = "--consoles";
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--retry-for";
	argv[n++] = retry;
	if (expect) {
		snprintf(size, sizeof(size), "%" PRIu64, expect->size);
		argv[n++] = "--size";
		argv[n++] = size;
		argv[n++] = "--sha256";
		argv[n++] = expect->sha256;
	} else {
		snprintf(max, sizeof(max), "%u", MANIFEST_FILE_MAX);
		argv[n++] = "--max";
		argv[n++] = max;
	}
	argv[n++] = url;
	argv[n++] = file;
	argv[n] = NULL;

	(void)unlink(file);
	r = gb_run((char *const *)argv, NULL);
	if (r == 0)
		return 0;
	(void)unlink(file);
	if (r < 0)
		return log_error_errno(r, "netboot: cannot run %s: %m", FETCH_PROGRAM);
	log_error("netboot: %s from %s failed: %s; nothing is mounted from it", name, url, fetch_failure(r));
	return -EIO;
}

static int mem_available(uint64_t *ret)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file("/proc/meminfo", MEMINFO_MAX, &text, NULL);

	return r < 0 ? r : toram_parse_meminfo(text, ret);
}

static unsigned long long mib(uint64_t bytes)
{
	return (unsigned long long)((bytes + TORAM_MIB - 1) / TORAM_MIB);
}

static void undo(void)
{
	if (path_is_mount_point(GB_RUN_TORAM) > 0 && umount2(GB_RUN_TORAM, MNT_DETACH) < 0)
		log_warning_errno(negative_errno(), "netboot: cannot unmount %s: %m", GB_RUN_TORAM);
}

static int fetch_images(const char *base, const struct manifest *m, unsigned retry_sec, uint64_t *ret_bytes)
{
	const struct manifest_artifact *imgs[ARRAY_SIZE(image_names)];
	uint64_t need = 0, available = 0, start;
	char opts[64];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(image_names); i++) {
		_cleanup_free_ char *path = path_join(GB_MEDIUM_DIR, image_names[i]);

		if (!path)
			return log_error_errno(-ENOMEM, "out of memory");
		imgs[i] = manifest_find(m, path);
		if (imgs[i])
			need += imgs[i]->size;
	}
	if (!imgs[0])
		return log_error_errno(-EBADMSG, "netboot: the build manifest at %s lists no %s", base, GB_MEDIUM_SYSTEM);

	r = mem_available(&available);
	if (r < 0)
		return log_error_errno(r, "netboot: cannot read MemAvailable in /proc/meminfo: %m");
	if (toram_decide(TORAM_YES, true, need + TORAM_SLACK, available, TORAM_RESERVE) != TORAM_COPY)
		return log_error_errno(-ENOMEM,
				       "netboot: too little memory: the images need %llu MiB and the running system %llu MiB "
				       "more, but only %llu MiB is available; give the machine at least %llu MiB more, or boot "
				       "it from a medium",
				       mib(need + TORAM_SLACK), mib(TORAM_RESERVE), mib(available),
				       mib(need + TORAM_SLACK + TORAM_RESERVE - available));
	log_info("netboot: fetching %llu MiB of images from %s into RAM (%llu MiB available)", mib(need), base,
		 mib(available));

	snprintf(opts, sizeof(opts), "mode=0700,size=%llu", (unsigned long long)(need + TORAM_SLACK));
	r = mount_at("tmpfs", GB_RUN_TORAM, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts);
	if (r < 0)
		return log_error_errno(r, "netboot: cannot mount a tmpfs on %s: %m", GB_RUN_TORAM);

	start = clock_now_ms();
	for (size_t i = 0; i < ARRAY_SIZE(image_names); i++) {
		_cleanup_free_ char *url = NULL, *file = NULL;

		if (!imgs[i])
			continue;
		url = url_join(base, imgs[i]->path);
		file = path_join(GB_RUN_TORAM, image_names[i]);
		if (!url || !file) {
			undo();
			return log_error_errno(-ENOMEM, "out of memory");
		}
		r = fetch(url, file, image_names[i], imgs[i], retry_sec);
		if (r < 0) {
			undo();
			return r;
		}
	}
	if (mount(NULL, GB_RUN_TORAM, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		log_warning_errno(negative_errno(), "netboot: cannot make %s read-only: %m", GB_RUN_TORAM);
	{
		uint64_t ms = clock_now_ms() - start;

		log_info("netboot: %llu MiB fetched and checked in %.1f s (%.1f MiB/s)", mib(need), (double)ms / 1000,
			 ms ? (double)need / TORAM_MIB / ((double)ms / 1000) : 0);
	}
	*ret_bytes = need;
	return 0;
}

/* The manifest names the system image whose sha256 starts with this initramfs's build id: a folder
 * of another build would boot a system that does not match this kernel's modules. */
static int check_build(const struct init_params *p, const struct manifest *m, const char *url)
{
	const struct manifest_artifact *sys = manifest_find(m, GB_MEDIUM_SYSTEM);
	size_t n = strlen(p->build_id);

	if (!n || !sys)
		return 0;
	if (strncmp(sys->sha256, p->build_id, n) != 0)
		return log_error_errno(-ESTALE,
				       "netboot: %s is of another build (its %s has sha256 %.16s..., this initramfs is of build "
				       "%s): serve the folder that was written with this kernel and initrd",
				       url, GB_MEDIUM_SYSTEM, sys->sha256, p->build_id);
	return 0;
}

int netboot_fetch(const struct init_params *p, struct netboot_result *ret)
{
	_cleanup_(manifest_done) struct manifest m = { 0 };
	_cleanup_free_ char *manifest_url = NULL, *error = NULL;
	char link[256];
	int r;

	*ret = (struct netboot_result){ 0 };
	r = net_up(p, p->timeout_sec, &ret->link);
	if (r < 0)
		return r;
	log_info("netboot: %s", net_link_describe(&ret->link, link, sizeof(link)));

	if (path_is_mount_point(GB_RUN_TORAM) > 0) {
		log_info("netboot: using the images already in %s", GB_RUN_TORAM);
		return 0;
	}

	r = mkdir_p(NETBOOT_DIR, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create %s: %m", NETBOOT_DIR);
	manifest_url = url_join(p->fetch_url, GB_MEDIUM_MANIFEST);
	if (!manifest_url)
		return log_error_errno(-ENOMEM, "out of memory");
	log_info("netboot: fetching the build manifest %s", manifest_url);
	r = fetch(manifest_url, NETBOOT_MANIFEST, "manifest.json", NULL, p->timeout_sec);
	if (r < 0)
		return r;
	/* A signed build believes a manifest from the network only with the build's signature. */
	if (verify_signed_build()) {
		_cleanup_free_ char *sig_url = url_join(p->fetch_url, GB_MEDIUM_MANIFEST_SIG);

		if (!sig_url)
			return log_error_errno(-ENOMEM, "out of memory");
		r = fetch(sig_url, NETBOOT_MANIFEST_SIG, "manifest.json.sig", NULL, p->timeout_sec);
		if (r < 0)
			return log_error_errno(r, "netboot: this is a signed build, and %s serves no signature of its manifest "
					       "(%s)", p->fetch_url, sig_url);
		r = verify_manifest_signature(NETBOOT_MANIFEST, NETBOOT_MANIFEST_SIG, "the netboot folder", ret->key_id, NULL);
		if (r < 0)
			return r;
	}
	r = manifest_load(NETBOOT_MANIFEST, &m, &error);
	if (r < 0)
		return log_error_errno(r, "netboot: the build manifest from %s is not one: %s", manifest_url,
				       error ? error : strerror(-r));
	r = check_build(p, &m, p->fetch_url);
	if (r < 0)
		return r;
	r = fetch_images(p->fetch_url, &m, p->timeout_sec, &ret->bytes);
	if (r >= 0)
		net_release(&ret->link);
	return r;
}

void netboot_write_record(const struct init_params *p, const struct netboot_result *res, const char *record_path)
{
	struct boot_record rec = { .from_ram = true, .medium_released = true, .ram_bytes = res->bytes };
	_cleanup_free_ char *text = NULL;
	char a[INET_ADDRSTRLEN];
	int prefix = net_netmask_prefix(res->link.netmask), r;

	snprintf(rec.checked, sizeof(rec.checked), "checked whole as they were fetched%s%s",
		 res->key_id[0] ? "; the manifest signed by key " : "", res->key_id);
	snprintf(rec.url, sizeof(rec.url), "%s", p->fetch_url);
	snprintf(rec.nic, sizeof(rec.nic), "%s", res->link.ifname);
	net_mac_text(res->link.mac, rec.nic_mac);
	snprintf(rec.address, sizeof(rec.address), "%s/%d from %s", inet_ntop(AF_INET, &res->link.addr, a, sizeof(a)),
		 prefix < 0 ? 32 : prefix, res->link.dhcp ? "DHCP" : "ip=");
	r = boot_record_format(&rec, &text);
	if (r >= 0)
		r = write_file_atomic(record_path, text, strlen(text), 0644);
	if (r < 0)
		log_warning_errno(r, "cannot write %s, the status will not say where the system came from: %m", record_path);
}
