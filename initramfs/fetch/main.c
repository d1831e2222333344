/* gapbox-fetch: the initramfs's HTTP client for a netboot (gapbox.fetch=). It fetches one URL into one
 * file with libcurl, hashing while it streams, says its progress on the console, resumes with a Range
 * request after a dropped connection, and checks the size and sha256 the build manifest gives. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../fetchexit.h"
#include "bytesize.h"
#include "layout.h"
#include "log.h"
#include "macros.h"
#include "sha256.h"

#ifndef GB_VERSION
#define GB_VERSION "(unversioned)"
#endif

#define MIB (1024.0 * 1024.0)
/* A progress line this often: enough to see it move, not a flood on a serial console. */
#define PROGRESS_MS 3000
/* A connection that moves less than a byte a second for this long is dropped and resumed. */
#define STALL_SEC 10L
#define CONNECT_SEC 10L
/* Pauses between attempts grow to this. */
#define BACKOFF_MAX_MS 5000u
#define DEFAULT_RETRY_SEC 60u

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct fetch {
	const char *url, *path, *name;
	int fd;
	uint64_t size;          /* expected, 0 when not known */
	bool have_size;
	uint64_t max;           /* refuse more than this, 0: no cap beyond size */
	const char *want_sha256;
	unsigned retry_sec;
	struct gb_sha256 *h;
	uint64_t have;          /* bytes written and hashed */
	uint64_t start_ms, last_progress_ms, last_data_ms;
	int local_error;        /* a negative errno when writing here failed */
	bool too_big;
};

static void restart(struct fetch *f)
{
	gb_sha256_free(f->h);
	f->h = gb_sha256_new();
	f->have = 0;
	if (ftruncate(f->fd, 0) < 0 || lseek(f->fd, 0, SEEK_SET) < 0)
		f->local_error = negative_errno();
}

static void progress(struct fetch *f, bool force)
{
	uint64_t now = now_ms();
	double secs = (double)(now - f->start_ms) / 1000;
	char have[BYTESIZE_MAX], size[BYTESIZE_MAX];

	if (!force && now - f->last_progress_ms < PROGRESS_MS)
		return;
	f->last_progress_ms = now;
	bytesize_human(f->have, have);
	if (f->have_size && f->size)
		log_info("%s: %3.0f%% (%s of %s), %.1f MiB/s", f->name, 100.0 * (double)f->have / (double)f->size, have,
			 bytesize_human(f->size, size), secs > 0 ? (double)f->have / MIB / secs : 0);
	else
		log_info("%s: %s, %.1f MiB/s", f->name, have, secs > 0 ? (double)f->have / MIB / secs : 0);
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct fetch *f = userdata;
	size_t n = size * nmemb;
	uint64_t limit = f->have_size ? f->size : f->max;

	if ((limit && f->have + n > limit) || (f->max && f->have + n > f->max)) {
		f->too_big = true;
		return 0;
	}
	for (size_t done = 0; done < n;) {
		ssize_t w = write(f->fd, data + done, n - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			f->local_error = negative_errno();
			return 0;
		}
		done += (size_t)w;
	}
	gb_sha256_update(f->h, data, n);
	f->have += n;
	f->last_data_ms = now_ms();
	progress(f, false);
	return n;
}

/* Worth another attempt: the network or the server, not the request. */
static bool transient(CURLcode c, long http)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_RANGE_ERROR:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	case CURLE_HTTP_RETURNED_ERROR:
		return http >= 500 || http == 408 || http == 429;
	default:
		return false;
	}
}

static int run(struct fetch *f)
{
	CURL *c = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE];
	unsigned backoff = 500, attempts = 0;
	char got[SHA256_HEX_LEN + 1];
	int status = FETCH_UNREACHABLE;

	if (!c) {
		log_error("cannot start libcurl");
		return FETCH_LOCAL;
	}
	f->start_ms = f->last_progress_ms = f->last_data_ms = now_ms();
	for (;;) {
		CURLcode rc;
		long http = 0;

		errbuf[0] = '\0';
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, f->url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_SEC);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_SEC);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		/* Redirects stay on http; the manifest's hashes, not the URL, vouch for the bytes. */
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http");
		curl_easy_setopt(c, CURLOPT_USERAGENT, "gapbox-fetch");
		if (f->have)
			curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)f->have);
		attempts++;
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
		if (rc == CURLE_OK)
			break;
		if (f->local_error) {
			log_error_errno(f->local_error, "cannot write %s: %m", f->path);
			status = FETCH_LOCAL;
			goto out;
		}
		if (f->too_big) {
			log_error("%s: the server sends more than %" PRIu64 " bytes%s", f->url, f->have_size ? f->size : f->max,
				  f->have_size ? ", the size the build manifest gives" : "");
			status = f->have_size ? FETCH_MISMATCH : FETCH_TOO_BIG;
			goto out;
		}
		if (!transient(rc, http)) {
			log_error("%s: %s", f->url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
			status = rc == CURLE_HTTP_RETURNED_ERROR ? FETCH_HTTP : FETCH_UNREACHABLE;
			goto out;
		}
		/* A server that ignores Range sends the whole file again: start over. */
		if (rc == CURLE_RANGE_ERROR)
			restart(f);
		if (now_ms() - f->last_data_ms >= (uint64_t)f->retry_sec * 1000) {
			char of[48] = "";

			if (f->have_size)
				snprintf(of, sizeof(of), " of %" PRIu64, f->size);
			log_error("%s: %s; no data for %u s over %u attempts, %" PRIu64 "%s bytes received: giving up",
				  f->url, errbuf[0] ? errbuf : curl_easy_strerror(rc), f->retry_sec, attempts, f->have, of);
			goto out;
		}
		log_warning("%s: %s; %s in %.1f s (%" PRIu64 " bytes received so far)", f->url,
			    errbuf[0] ? errbuf : curl_easy_strerror(rc), f->have ? "resuming" : "retrying",
			    (double)backoff / 1000, f->have);
		sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}

	if (f->have_size && f->have != f->size) {
		log_error("%s: %" PRIu64 " bytes received, but the build manifest says %" PRIu64, f->url, f->have, f->size);
		status = FETCH_MISMATCH;
		goto out;
	}
	gb_sha256_final_hex(f->h, got);
	f->h = NULL;
	if (f->want_sha256 && !streq(got, f->want_sha256)) {
		log_error("%s: sha256 %s, but the build manifest says %s: the file on the server is damaged or is not the one "
			  "this manifest was made with", f->url, got, f->want_sha256);
		status = FETCH_MISMATCH;
		goto out;
	}
	if (fsync(f->fd) < 0 && errno != EINVAL) {
		log_error_errno(negative_errno(), "cannot write %s: %m", f->path);
		status = FETCH_LOCAL;
		goto out;
	}
	{
		double secs = (double)(now_ms() - f->start_ms) / 1000;
		char have[BYTESIZE_MAX];

		log_info("%s: %s in %.1f s (%.1f MiB/s)%s", f->name, bytesize_human(f->have, have), secs,
			 secs > 0 ? (double)f->have / MIB / secs : 0, f->want_sha256 ? ", sha256 as the manifest says" : "");
	}
	status = FETCH_OK;
out:
	curl_easy_cleanup(c);
	return status;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: gapbox-fetch [--version] [--consoles] [--size BYTES] [--sha256 HEX] [--max BYTES] [--retry-for SEC] [--name NAME] URL FILE\n"
		     "Fetches URL into FILE (created; it must not exist), resuming after dropped connections for up to\n"
		     "--retry-for seconds without data (default %u), and checks the size and sha256 when given.\n",
		DEFAULT_RETRY_SEC);
}

static int parse_u64(const char *s, uint64_t *ret)
{
	return bytesize_parse(s, ret);
}

static bool is_sha256_hex(const char *s)
{
	if (strlen(s) != SHA256_HEX_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },     { "sha256", required_argument, NULL, 'h' },
		{ "max", required_argument, NULL, 'm' },      { "retry-for", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },     { "help", no_argument, NULL, 'H' },
		{ "version", no_argument, NULL, 'V' },       { "consoles", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct fetch f = { .fd = -1, .retry_sec = DEFAULT_RETRY_SEC };
	uint64_t v;
	int c, status;

	gb_log_set_ident("gapbox-fetch");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_u64(optarg, &f.size) < 0)
				goto bad;
			f.have_size = true;
			break;
		case 'h':
			if (!is_sha256_hex(optarg))
				goto bad;
			f.want_sha256 = optarg;
			break;
		case 'm':
			if (parse_u64(optarg, &f.max) < 0)
				goto bad;
			break;
		case 'r':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > 86400)
				goto bad;
			f.retry_sec = (unsigned)v;
			break;
		case 'n':
			f.name = optarg;
			break;
		case 'H':
			usage(stdout);
			return 0;
		case 'C':
			(void)gb_log_to_consoles(GB_CONSOLES_ACTIVE);
			break;
		case 'V':
			printf("gapbox-fetch %s, libcurl %s\n", GB_VERSION, curl_version_info(CURLVERSION_NOW)->version);
			return 0;
		default:
			goto bad;
		}
	}
	if (argc - optind != 2)
		goto bad;
	f.url = argv[optind];
	f.path = argv[optind + 1];
	if (!f.name)
		f.name = strrchr(f.url, '/') && strrchr(f.url, '/')[1] ? strrchr(f.url, '/') + 1 : f.url;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_error("cannot start libcurl");
		return FETCH_LOCAL;
	}
	f.fd = open(f.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f.fd < 0) {
		log_error_errno(negative_errno(), "cannot create %s: %m", f.path);
		return FETCH_LOCAL;
	}
	f.h = gb_sha256_new();
	if (!f.h) {
		log_error("out of memory");
		return FETCH_LOCAL;
	}
	status = run(&f);
	gb_sha256_free(f.h);
	if (status == FETCH_OK && fchmod(f.fd, 0400) < 0)
		status = FETCH_LOCAL;
	close(f.fd);
	curl_global_cleanup();
	return status;
bad:
	usage(stderr);
	return FETCH_LOCAL;
}
