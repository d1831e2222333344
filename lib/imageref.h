/* Container image references as kubespray-offline's lists write them: parsing, the name
 * kubespray-offline pushes an image under, and the archive file names its download scripts write. */
#pragma once

#include <stdbool.h>

/* A parsed reference. "nginx:1.29.2" is {docker.io, library/nginx, 1.29.2, NULL}. */
struct image_ref {
	char *registry;   /* "docker.io", "registry.k8s.io", "reg.local:5000" */
	char *repository; /* path below the registry: "library/nginx", "calico/node" */
	char *tag;        /* "latest" when the reference has neither tag nor digest; NULL for name@digest */
	char *digest;     /* "sha256:<64 lowercase hex>" or NULL */
};

/* Parse S (no surrounding whitespace). On error returns -EINVAL and, when ret_error is not
 * NULL, a reason without the reference itself ("repository name must be lowercase"), which
 * the caller frees and prefixes with where the reference came from. */
int image_ref_parse(const char *s, struct image_ref *ret, char **ret_error);
/* Free the members (not r itself); accepts a zeroed struct. */
void image_ref_done(struct image_ref *r);
/* "registry/repository[:tag][@digest]"; NULL on allocation failure. */
char *image_ref_format(const struct image_ref *r);

/* The registries kubespray-offline's load-push-all-images.sh strips from every name:
 * docker.io, quay.io, registry.k8s.io, k8s.gcr.io, ghcr.io, gcr.io; NULL-terminated. */
extern const char *const image_ref_builtin_strip[];
/* Every registry stripped from image names: the built-in ones, then those of EXTRA (NULL-
 * terminated, may be NULL) not among them, trailing '/' dropped. What a payload records. */
int image_ref_strip_list(char *const *extra, char ***ret);
/* The registries a node sends to the admin's registry (containerd certs.d mirrors): the
 * built-in and STRIP ones, by host (harbor.local for harbor.local/proj: containerd picks a
 * mirror by host and asks it for the whole path), with docker.io's endpoint
 * registry-1.docker.io after docker.io. */
int image_ref_mirror_hosts(char *const *strip, char ***ret);

/* The repository kubespray-offline's load-push-all-images.sh pushes list line LINE under, by its
 * rule on the text: "docker.io/library/" before a name without '/', then registry.k8s.io,
 * k8s.gcr.io, gcr.io, ghcr.io, docker.io, quay.io and each of EXTRA_REGISTRIES (NULL-terminated,
 * may be NULL; a prefix that may carry a path, "harbor.local/proj") removed from the front in
 * that order. docker.io/library/nginx -> "library/nginx", nginx -> "library/nginx",
 * docker.io/busybox -> "busybox", registry.k8s.io/pause -> "pause", harbor.local/proj/a/b ->
 * "a/b" (with harbor.local/proj extra), my.reg/x/y -> "my.reg/x/y". -EINVAL with a reason
 * when LINE is no reference or what is left cannot be a repository name (a kept registry with
 * a port or upper case letters). */
int image_ref_push_repository(const char *line, char *const *extra_registries, char **ret, char **ret_error);

/* Every repository the image of LINE must be found under in the admin's registry: the push
 * name above, then, when it differs, the name a node's containerd asks the mirror for (the
 * path below the registry host, "library/busybox" for docker.io/busybox, "proj/a/b" for
 * harbor.local/proj/a/b) when that host is mirrored. */
int image_ref_names(const char *line, char *const *extra_registries, char ***ret, char **ret_error);

/* The file names (no folder) under outputs/images/ that may hold the image of list line LINE,
 * best first, NULL-terminated: LINE with every '/' -> '_' and ':' -> '-' plus ".tar.gz"
 * (registry.k8s.io_kube-apiserver-v1.33.7.tar.gz); for short names also the
 * docker.io-expanded forms kubespray-offline's download-additional-containers.sh saves under
 * (docker.io_library_nginx-1.29.2.tar.gz); then the same names ending in ".tar" (uncompressed). */
int image_ref_archive_names(const char *line, char ***ret);

/* Whether S is a valid repository path ("library/nginx") for a distribution registry. */
bool image_ref_repository_is_valid(const char *s);
/* Whether S is a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool image_ref_tag_is_valid(const char *s);
