/* Service probes over the network (DNS and NTP by hand over UDP, HTTP with libcurl) and
 * finding a port's owner through /proc. */
#include "probe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "error.h"
#include "fsutil.h"
#include "macros.h"

#define DNS_MAX 512
#define NTP_PACKET 48
#define PROC_NET_MAX (8u * 1024 * 1024)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Send REQ to SERVER:PORT over UDP and wait for a reply that ACCEPT() takes. */
static int udp_exchange(struct in_addr server, unsigned port, const void *req, size_t req_len, void *reply,
			size_t reply_max, int timeout_ms, bool (*accept)(const void *, size_t, const void *),
			size_t *ret_len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = server };
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send(fd, req, req_len, 0) < 0)
		return -errno;
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(fd, reply, reply_max, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno; /* ECONNREFUSED: nothing listens there */
		}
		if (accept((const void *)reply, (size_t)n, req)) {
			*ret_len = (size_t)n;
			return 0;
		}
	}
}

/* ---- DNS ---- */

static bool dns_is_reply(const void *reply, size_t n, const void *req)
{
	const uint8_t *a = reply, *q = req;

	return n >= 12 && a[0] == q[0] && a[1] == q[1] && (a[2] & 0x80);
}

/* Skip a (possibly compressed) name at *pos. */
static bool dns_skip_name(const uint8_t *m, size_t n, size_t *pos)
{
	for (int hops = 0; *pos < n && hops < 128; hops++) {
		uint8_t len = m[*pos];

		if (len == 0) {
			(*pos)++;
			return true;
		}
		if ((len & 0xc0) == 0xc0) {
			*pos += 2;
			return *pos <= n;
		}
		*pos += 1u + len;
	}
	return false;
}

static const char *rcode_name(unsigned rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" };

	return rcode < ARRAY_SIZE(names) ? names[rcode] : "an error";
}

int probe_dns(struct in_addr server, unsigned port, const char *name, struct in_addr expect, int timeout_ms,
	      char **ret_error)
{
	uint8_t q[DNS_MAX] = { 0 }, a[DNS_MAX];
	size_t len = 12, n, pos;
	unsigned ancount, rcode;
	char got[INET_ADDRSTRLEN] = "";
	const char *label = name;
	uint16_t id;
	int r;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)now_ms();
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	while (*label) {
		size_t l = strcspn(label, ".");

		if (l == 0 || l > 63 || len + l + 6 > sizeof(q))
			return gb_error(ret_error, -EINVAL, "cannot ask for '%s'", name);
		q[len++] = (uint8_t)l;
		memcpy(q + len, label, l);
		len += l;
		label += l + (label[l] == '.');
	}
	q[len++] = 0;
	q[len++] = 0, q[len++] = 1; /* A */
	q[len++] = 0, q[len++] = 1; /* IN */

	r = udp_exchange(server, port, q, len, a, sizeof(a), timeout_ms, dns_is_reply, &n);
	if (r == -ETIMEDOUT)
		return gb_error(ret_error, r, "no answer to a query for %s within %d ms", name, timeout_ms);
	if (r < 0)
		return gb_error(ret_error, r, "query for %s failed: %s", name, strerror(-r));
	rcode = a[3] & 0x0f;
	if (rcode != 0)
		return gb_error(ret_error, -EPROTO, "query for %s answered %s", name, rcode_name(rcode));
	ancount = (unsigned)a[6] << 8 | a[7];
	pos = 12;
	if (!dns_skip_name(a, n, &pos))
		return gb_error(ret_error, -EPROTO, "malformed answer for %s", name);
	pos += 4;
	for (unsigned i = 0; i < ancount; i++) {
		unsigned type, rdlen;

		if (!dns_skip_name(a, n, &pos) || pos + 10 > n)
			break;
		type = (unsigned)a[pos] << 8 | a[pos + 1];
		rdlen = (unsigned)a[pos + 8] << 8 | a[pos + 9];
		pos += 10;
		if (pos + rdlen > n)
			break;
		if (type == 1 && rdlen == 4) {
			if (memcmp(a + pos, &expect.s_addr, 4) == 0)
				return 0;
			inet_ntop(AF_INET, a + pos, got, sizeof(got));
		}
		pos += rdlen;
	}
	if (got[0])
		return gb_error(ret_error, -EPROTO, "%s resolves to %s, not the admin's address", name, got);
	return gb_error(ret_error, -EPROTO, "no address for %s in the answer", name);
}

/* ---- NTP ---- */

static bool ntp_is_reply(const void *reply, size_t n, const void *req)
{
	const uint8_t *a = reply, *q = req;

	/* Mode 4 (server) and our transmit timestamp echoed as the origin timestamp. */
	return n >= NTP_PACKET && (a[0] & 0x07) == 4 && memcmp(a + 24, q + 40, 8) == 0;
}

int probe_ntp(struct in_addr server, unsigned port, int timeout_ms, unsigned *ret_stratum, char **ret_error)
{
	uint8_t q[NTP_PACKET] = { 0 }, a[NTP_PACKET * 4];
	size_t n;
	int r;

	q[0] = (0 << 6) | (4 << 3) | 3; /* no leap warning, version 4, client */
	if (getrandom(q + 40, 8, 0) != 8)
		memset(q + 40, 0x5a, 8);
	r = udp_exchange(server, port, q, sizeof(q), a, sizeof(a), timeout_ms, ntp_is_reply, &n);
	if (r == -ETIMEDOUT)
		return gb_error(ret_error, r, "no NTP answer within %d ms", timeout_ms);
	if (r < 0)
		return gb_error(ret_error, r, "NTP query failed: %s", strerror(-r));
	if (a[1] == 0 || a[1] > 15)
		return gb_error(ret_error, -EPROTO, "NTP server answered with stratum %u (unsynchronised)", a[1]);
	if (ret_stratum)
		*ret_stratum = a[1];
	return 0;
}

/* ---- HTTP ---- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

static void curl_cleanupp(CURL **c)
{
	if (*c)
		curl_easy_cleanup(*c);
}

int probe_http(const char *url, bool head, const char *accept, const char *ca_file, int timeout_ms, long *ret_status, char **ret_error)
{
	_cleanup_(curl_cleanupp) CURL *c = curl_easy_init();
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	_cleanup_free_ char *accept_header = NULL;
	CURLcode cr;

	*ret_status = 0;
	if (!c)
		return -ENOMEM;
	if (accept) {
		if (asprintf(&accept_header, "Accept: %s", accept) < 0)
			return -ENOMEM;
		headers = curl_slist_append(NULL, accept_header);
		if (!headers)
			return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	/* The admin talks to itself: an http_proxy from the environment must not get in between. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, ca_file ? "http,https" : "http");
	if (ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	cr = curl_easy_perform(c);
	curl_slist_free_all(headers);
	if (cr != CURLE_OK)
		return gb_error(ret_error, -EIO, "GET %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cr));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
	return 0;
}

/* ---- port owners ---- */

/* The socket inode listening on PORT in one /proc/net table, 0 when none. */
static unsigned long find_inode(const char *table, bool tcp, bool v6, struct in_addr addr, unsigned port)
{
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;
	unsigned long found = 0;

	if (read_file(table, PROC_NET_MAX, &text, NULL) < 0)
		return 0;
	line = strtok_r(text, "\n", &save); /* header */
	for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char local[64], remote[64];
		unsigned state, lport;
		unsigned long inode;
		char *colon;
		bool match;

		if (sscanf(line, " %*u: %63s %63s %x %*s %*s %*s %*u %*u %lu", local, remote, &state, &inode) != 4)
			continue;
		colon = strchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &lport) != 1 || lport != port)
			continue;
		*colon = '\0';
		/* TCP: listening (0A). UDP: unconnected (07). */
		if (state != (tcp ? 0x0au : 0x07u))
			continue;
		if (v6) {
			/* Only the wildcard [::] (32 zeros) and v4-mapped forms matter here. */
			match = strspn(local, "0") == 32;
		} else {
			unsigned long hex = strtoul(local, NULL, 16);

			/* The kernel prints the address's 32 bits as a host-order number, like s_addr. */
			match = hex == 0 || hex == addr.s_addr;
		}
		if (match && inode) {
			found = inode;
			break;
		}
	}
	return found;
}

static int owner_of_inode(unsigned long inode, int *ret_pid, char **ret_comm)
{
	char want[64];
	DIR *proc = opendir("/proc");
	struct dirent *de;

	if (!proc)
		return -errno;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while ((de = readdir(proc))) {
		char fddir[300];
		struct dirent *fe;
		DIR *fds;
		int pid = atoi(de->d_name);

		if (pid <= 0)
			continue;
		snprintf(fddir, sizeof(fddir), "/proc/%d/fd", pid);
		fds = opendir(fddir);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char link[600], target[64];
			ssize_t n;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(link, sizeof(link), "%s/%s", fddir, fe->d_name);
			n = readlink(link, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (streq(target, want)) {
				char comm_path[64], *comm = NULL;

				closedir(fds);
				closedir(proc);
				snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", pid);
				if (read_file(comm_path, 256, &comm, NULL) >= 0)
					comm[strcspn(comm, "\n")] = '\0';
				*ret_pid = pid;
				*ret_comm = comm;
				return 1;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return 0;
}

int probe_port_owner(bool tcp, struct in_addr addr, unsigned port, int *ret_pid, char **ret_comm)
{
	unsigned long inode;

	*ret_pid = 0;
	*ret_comm = NULL;
	inode = find_inode(tcp ? "/proc/net/tcp" : "/proc/net/udp", tcp, false, addr, port);
	if (!inode)
		inode = find_inode(tcp ? "/proc/net/tcp6" : "/proc/net/udp6", tcp, true, addr, port);
	if (!inode)
		return 0;
	if (owner_of_inode(inode, ret_pid, ret_comm) <= 0) {
		*ret_pid = 0;
		return 1; /* bound, by someone we cannot see */
	}
	return 1;
}
