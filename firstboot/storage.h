/* The registry's storage: an overlay of the payload's pre-filled store (read-only) under a
 * writable tmpfs layer, so the images the image was built with are there at boot and pushes
 * after deploy work. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Is PATH a mount point (per /proc/self/mountinfo)? *ret_fstype (may be NULL) gets its type. */
int fb_mount_point_type(const char *path, char **ret_fstype);

/* Mount overlayfs at TARGET: lower LOWER, upper and work dirs under RW, which gets a tmpfs of
 * SIZE (tmpfs's size=) unless it already is a mount point. Everything in the merged tree ends
 * up owned by UID:GID so the registry, which does not run as root, can write anywhere (with
 * metacopy=on a chown copies up only metadata, never the layers' data), except the pre-filled
 * tags (.../_manifests/tags/TAG/), which stay root's and read-only to it. Already mounted:
 * nothing to do. *ret_note (may be NULL) says what was done. Returns 0 or negative errno with
 * *ret_error. */
int fb_registry_storage_mount(const char *lower, const char *rw, const char *target, const char *size, uid_t uid,
			      gid_t gid, char **ret_note, char **ret_error);
/* No payload: an empty directory at TARGET owned by UID:GID (on the root filesystem). */
int fb_registry_storage_plain(const char *target, uid_t uid, gid_t gid);

/* A name has at most this many components, and a store at most this many tags: more is not a
 * store the build wrote. */
#define FB_REGISTRY_NAME_DEPTH_MAX 64
#define FB_REGISTRY_TAGS_MAX 100000
/* Every tag in the payload's registry store as "name:tag", sorted; NULL when there is none.
 * -E2BIG past FB_REGISTRY_TAGS_MAX. */
int fb_registry_store_tags(const char *payload, char ***ret);
