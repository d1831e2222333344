/* Progress bars and lines (progress.h). */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { PROGRESS_OFF, PROGRESS_LINES, PROGRESS_BAR };
#define BAR_WIDTH 24
#define REDRAW_EVERY 0.1 /* seconds */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int progress_mode(void)
{
	const char *env = getenv("GAPBOX_PROGRESS");

	if (env && !strcmp(env, "bar"))
		return PROGRESS_BAR;
	if (env && !strcmp(env, "lines"))
		return PROGRESS_LINES;
	if (env && !strcmp(env, "off"))
		return PROGRESS_OFF;
	return isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_LINES;
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

void progress_begin(struct progress *p, const char *what, uint64_t total)
{
	*p = (struct progress){ .total = total, .start = now(), .mode = progress_mode(), .active = true, .out = stderr };
	snprintf(p->what, sizeof(p->what), "%s", what);
}

/* Percent done, below 100 until the end: the expected total is an estimate. */
static unsigned percent(const struct progress *p, bool end)
{
	if (end)
		return 100;
	if (!p->total)
		return 0;
	uint64_t pct = p->done >= p->total ? 99 : p->done * 100 / p->total;
	return pct > 99 ? 99 : (unsigned)pct;
}

static void draw_bar(struct progress *p, double t, bool end)
{
	double elapsed = t - p->start, rate = elapsed > 0 ? mib(p->done) / elapsed : 0;
	unsigned pct = percent(p, end);
	char bar[BAR_WIDTH + 1];

	if (p->total || end) {
		unsigned filled = pct * BAR_WIDTH / 100;
		memset(bar, '#', filled);
		memset(bar + filled, '.', BAR_WIDTH - filled);
		bar[BAR_WIDTH] = '\0';
		fprintf(p->out, "\r\033[K%s [%s] %3u%%  %.1f MiB  %.1f MiB/s%s", p->what, bar, pct, mib(p->done), rate,
			end ? "\n" : "");
	} else
		fprintf(p->out, "\r\033[K%s  %.1f MiB  %.1f MiB/s", p->what, mib(p->done), rate);
	fflush(p->out);
	p->drawn = t;
}

void progress_add(struct progress *p, uint64_t n)
{
	if (!p || !p->active)
		return;
	p->done += n;
	if (p->mode == PROGRESS_BAR) {
		double t = now();

		if (t - p->drawn >= REDRAW_EVERY)
			draw_bar(p, t, false);
	} else if (p->mode == PROGRESS_LINES && p->total) {
		unsigned quarter = percent(p, false) / 25;

		if (quarter > p->quarter && quarter < 4) {
			double elapsed = now() - p->start;
			fprintf(p->out, "gapbox: %s: %u%% (%.1f of about %.1f MiB, %.1f MiB/s)\n", p->what, quarter * 25,
				mib(p->done), mib(p->total), elapsed > 0 ? mib(p->done) / elapsed : 0);
			p->quarter = quarter;
		}
	}
}

void progress_end(struct progress *p)
{
	if (!p || !p->active)
		return;
	p->active = false;
	double t = now(), elapsed = t - p->start;
	if (p->mode == PROGRESS_BAR)
		draw_bar(p, t, true);
	else if (p->mode == PROGRESS_LINES)
		fprintf(p->out, "gapbox: %s: 100%%, %.1f MiB in %.1f s (%.1f MiB/s)\n", p->what, mib(p->done), elapsed,
			elapsed > 0 ? mib(p->done) / elapsed : 0);
}

void progress_stop(struct progress *p)
{
	if (!p || !p->active)
		return;
	p->active = false;
	if (p->mode == PROGRESS_BAR)
		fputc('\n', p->out);
}
