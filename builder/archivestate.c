/* The apt archive's state (archivestate.h): what mmdebstrap will install is decided by the
 * Release files the archive serves now, so they key the rootfs cache and date the build. */
#include "archivestate.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macros.h"
#include "sbuf.h"
#include "strv.h"

int apt_source_release_urls(const char *line, char **ret_inrelease, char **ret_release)
{
	_cleanup_free_ char *copy = strdup(line);
	char *save = NULL, *w, *uri, *suite, *base = NULL;
	const char *dists;

	if (!copy)
		return -ENOMEM;
	w = strtok_r(copy, " \t", &save);
	if (!w || !streq(w, "deb"))
		return -EINVAL;
	uri = strtok_r(NULL, " \t", &save);
	if (uri && uri[0] == '[') { /* options: "[a=b c=d]", the closing bracket on any word */
		while (uri && !strchr(uri, ']'))
			uri = strtok_r(NULL, " \t", &save);
		uri = uri ? strtok_r(NULL, " \t", &save) : NULL;
	}
	suite = strtok_r(NULL, " \t", &save);
	if (!uri || !suite)
		return -EINVAL;
	if (!startswith(uri, "http://") && !startswith(uri, "https://") && !startswith(uri, "file:"))
		return -EPROTONOSUPPORT;
	/* apt writes file:/srv/x; curl wants file:///srv/x. */
	if (startswith(uri, "file:") && !startswith(uri, "file://") && asprintf(&base, "file://%s", uri + 5) < 0)
		return -ENOMEM;
	if (!base && !(base = strdup(uri)))
		return -ENOMEM;
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		base[--n] = '\0';
	dists = suite[strlen(suite) - 1] == '/' ? "" : "dists/";
	const char *sep = suite[strlen(suite) - 1] == '/' ? "" : "/";
	int r = asprintf(ret_inrelease, "%s/%s%s%sInRelease", base, dists, suite, sep);
	if (r >= 0 && asprintf(ret_release, "%s/%s%s%sRelease", base, dists, suite, sep) < 0) {
		free(*ret_inrelease);
		r = -1;
	}
	free(base);
	return r < 0 ? -ENOMEM : 0;
}

int release_date(const char *text, time_t *ret)
{
	const char *p = text;
	struct tm tm = { 0 };
	char *end;

	/* The field is in the signed part, before any blank line of the PGP armour's end. */
	while (p && !startswith(p, "Date:")) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return -ENOENT;
	p += strlen("Date:");
	p += strspn(p, " \t");
	end = strptime(p, "%a, %d %b %Y %H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	end += strspn(end, " \t");
	/* Debian writes "UTC"; the RFC allows +0000 and GMT, the same instant. */
	if (!startswith(end, "UTC") && !startswith(end, "GMT") && !startswith(end, "+0000") && !startswith(end, "Z"))
		return -EINVAL;
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || t < 0)
		return -EINVAL;
	*ret = t;
	return 0;
}

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
	struct sbuf *b = userdata;
	sbuf_putn(b, data, size * n);
	return b->error ? 0 : size * n; /* 0 stops the transfer at the cap */
}

/* GET URL into *ret. 1: the server has no such file (404, or no file: for file://). */
static int release_fetch(const char *url, char **ret, char *error, size_t error_size)
{
	struct sbuf b = SBUF_INIT_MAX(RELEASE_FILE_MAX);
	char errbuf[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURL *c = curl_easy_init();
	CURLcode cr;

	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* Slower than 1 KiB/s for a minute is a dead mirror, not a slow one. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "gapbox/" GB_VERSION);
	cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (b.error == -E2BIG || b.error == -EFBIG) {
		sbuf_free(&b);
		snprintf(error, error_size, "larger than %u bytes", RELEASE_FILE_MAX);
		return -EFBIG;
	}
	if (cr == CURLE_FILE_COULDNT_READ_FILE || (cr == CURLE_OK && code == 404)) {
		sbuf_free(&b);
		return 1;
	}
	if (cr != CURLE_OK || (code != 0 && code != 200)) {
		sbuf_free(&b);
		if (cr != CURLE_OK)
			snprintf(error, error_size, "%s", *errbuf ? errbuf : curl_easy_strerror(cr));
		else
			snprintf(error, error_size, "HTTP status %ld", code);
		return -EIO;
	}
	return sbuf_finish(&b, ret, NULL);
}

int archive_state_read(char *const *sources, struct archive_state *ret)
{
	struct gb_sha256 *h = gb_sha256_new();
	time_t newest = 0;
	int r = 0;

	if (!h)
		return -ENOMEM;
	for (char *const *s = sources; s && *s && r >= 0; s++) {
		_cleanup_free_ char *inrelease = NULL, *release = NULL, *text = NULL;
		const char *url;
		char error[CURL_ERROR_SIZE + 64] = "";
		time_t date;

		r = apt_source_release_urls(*s, &inrelease, &release);
		if (r == -EPROTONOSUPPORT) {
			r = log_error_errno(r, "apt source '%s': gapbox reads the archive's Release file to key the rootfs "
					       "cache, and takes http, https and file URIs only", *s);
			break;
		}
		if (r < 0) {
			r = r == -ENOMEM ? r : log_error_errno(r, "apt source '%s': expected 'deb [options] URI SUITE COMPONENT...'", *s);
			break;
		}
		url = inrelease;
		r = release_fetch(url, &text, error, sizeof(error));
		if (r == 1) {
			url = release;
			r = release_fetch(url, &text, error, sizeof(error));
		}
		if (r == 1)
			r = log_error_errno(-ENOENT, "apt source '%s': the archive has neither %s nor %s", *s, inrelease, release);
		else if (r < 0 && r != -ENOMEM)
			r = log_error_errno(r, "apt source '%s': cannot read %s: %s", *s, url, error);
		if (r < 0)
			break;
		r = release_date(text, &date);
		if (r < 0) {
			r = log_error_errno(r, "%s: expected a 'Date: Sat, 11 Jul 2026 10:16:37 UTC' field", url);
			break;
		}
		newest = date > newest ? date : newest;
		gb_sha256_update(h, url, strlen(url) + 1);
		gb_sha256_update(h, text, strlen(text) + 1);
		log_debug("rootfs: %s dated %lld", url, (long long)date);
	}
	if (r >= 0) {
		gb_sha256_final_hex(h, ret->hex);
		ret->date = newest;
	} else
		gb_sha256_free(h);
	return r < 0 ? r : 0;
}
