/* Parsing and printing sizes in binary units. */
#include "bytesize.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char units[] = "KMGT";

int bytesize_parse(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = s;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p) {
		const char *u = strchr(units, *p);
		if (!u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		p++;
		if (*p && strcmp(p, "iB") != 0)
			return -EINVAL;
	}
	if (shift && v > UINT64_MAX >> shift)
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

const char *bytesize_format(uint64_t size, char buf[static BYTESIZE_MAX])
{
	for (int i = 3; i >= 0; i--) {
		unsigned shift = 10 * (unsigned)(i + 1);
		if (size && !(size & ((1ull << shift) - 1))) {
			snprintf(buf, BYTESIZE_MAX, "%llu %ciB", (unsigned long long)(size >> shift), units[i]);
			return buf;
		}
	}
	snprintf(buf, BYTESIZE_MAX, "%llu bytes", (unsigned long long)size);
	return buf;
}

const char *bytesize_human(uint64_t size, char buf[static BYTESIZE_MAX])
{
	int i = -1;
	double v = (double)size;

	while (i < 3 && v >= 1024) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, BYTESIZE_MAX, "%llu bytes", (unsigned long long)size);
	else
		snprintf(buf, BYTESIZE_MAX, "%.1f %ciB", v, units[i]);
	return buf;
}
