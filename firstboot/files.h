/* Rendered files and how they reach the disk: compared byte for byte with what is there,
 * written atomically only when different, or removed when a file must no longer exist. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sbuf.h"

struct fb_file {
	char *path;     /* absolute path on the admin server */
	char *content;  /* NULL: the file must not exist */
	size_t size;
	mode_t mode;
	bool restart;   /* a change needs the service's daemon restarted */
};

struct fb_files {
	struct fb_file *v;
	size_t n;
	int error;      /* sticky, like struct sbuf's */
};

/* Take TEXT's content (the buffer is emptied) as the file PATH. Errors stick in FS->error. */
void fb_files_add(struct fb_files *fs, const char *path, struct sbuf *text, mode_t mode, bool restart);
/* PATH must not exist. */
void fb_files_add_absent(struct fb_files *fs, const char *path, bool restart);
const struct fb_file *fb_files_find(const struct fb_files *fs, const char *path);
void fb_files_free(struct fb_files *fs);

/* Bring ROOT + F->path in line with F. Returns 1 when it changed something, 0 when it was
 * already right, negative errno on failure (nothing half-written: writes are atomic). */
int fb_file_install(const char *root, const struct fb_file *f);
/* Write every file with content into DIR (flat, '/' in paths become '_'), for checking before
 * installing. *ret_paths gets the staged path of each file ("" for absent ones). */
int fb_files_stage(const struct fb_files *fs, const char *dir, char ***ret_paths);
/* "ROOT/PATH", or PATH when ROOT is NULL or "". */
char *fb_rooted(const char *root, const char *path);
