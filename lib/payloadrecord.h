/* The payload record (GB_PAYLOAD_RECORD at the payload's root): what gapbox build put into the
 * payload and by which rules, written by the builder and read by the appliance and the tests.
 * Writer and reader are side by side in payloadrecord.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PAYLOAD_RECORD_FORMAT 1

/* One image in the registry store. */
struct payload_record_image {
	char *ref;         /* the list line: "quay.io/calico/node:v3.30.5" */
	char *repository;  /* its name in the registry: "calico/node" */
	char *tag;
	char *digest;      /* "sha256:<hex>" of what the tag points at */
	char *media_type;
	char *archive;     /* the archive it came from, relative to outputs/ */
	char **aliases;    /* further repositories it is under: the name a node's containerd asks
			      the mirror for when it differs ("library/busybox" beside "busybox") */
	bool unlisted;     /* no images/NAME.list names it: REF is the name the archive carries */
};

/* The version of one component of what the nodes run, as files/ holds it. */
struct payload_record_version {
	char *component;   /* "kubespray", "containerd", ... */
	char *version;
};

/* One *_download_url of the kubespray the payload carries (its download.yml), as offline.yml
 * should set it. */
struct payload_record_download {
	char *variable;    /* "runc_download_url" */
	char *path;        /* the file under files/: "runc/v1.3.4/runc.amd64"; NULL when absent */
	char *absent;      /* why it is left out of offline.yml, when it is: "files/... is not in the payload" */
};

/* The kubespray of files/kubespray-<v>.tar.gz and where its downloads are in the payload. */
struct payload_record_kubespray {
	char *version;     /* "2.30.0"; NULL when the payload carries no kubespray */
	char *tarball;     /* "files/kubespray-2.30.0.tar.gz" */
	struct payload_record_download *downloads; /* in download.yml's order */
	size_t n_downloads;
};

struct payload_record {
	char *arch;                /* the nodes' architecture */
	char *registry_root;       /* the store inside the payload (GB_PAYLOAD_REGISTRY_ROOT) */
	char **strip_registries;   /* every registry stripped from image names, built-in ones too */
	/* The node OS families the payload's package repositories are for: "debian" (debs/local),
	 * "rhel" or "rhel<N>" (rpms/local, N from its rpms' el<N> release tags); an empty list when it
	 * has none, NULL when the record does not say (one written before the field). */
	char **node_os;
	struct payload_record_image *images;
	size_t n_images;
	struct payload_record_version *versions;
	size_t n_versions;
	struct payload_record_kubespray kubespray;
	bool sample;               /* made by gapbox's fixture generator, not by kubespray-offline */
};

/* Append a copy of COMPONENT's VERSION. */
int payload_record_add_version(struct payload_record *rec, const char *component, const char *version);

/* Append a copy of IMAGE. */
int payload_record_add_image(struct payload_record *rec, const struct payload_record_image *image);
/* Append a copy of DOWNLOAD to K. */
int payload_record_add_download(struct payload_record_kubespray *k, const struct payload_record_download *download);
void payload_record_kubespray_done(struct payload_record_kubespray *k);
void payload_record_done(struct payload_record *rec);

/* The record as JSON text (keys in a fixed order, indented). */
int payload_record_format(const struct payload_record *rec, char **ret);
/* Read the record at PATH. -ENOENT when there is none; other errors with *ret_error
 * ("PATH:LINE:COLUMN: ..." or what is missing). */
int payload_record_load(const char *path, struct payload_record *ret, char **ret_error);
