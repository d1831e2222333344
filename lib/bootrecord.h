/* The boot record (GB_RUN_BOOT_RECORD): where gapbox-init mounted the system and payload images
 * from (RAM or the medium) and whether it released the medium. gapbox-init writes it before
 * switch_root, gapbox-firstboot shows it in the status; writer and reader are in bootrecord.c. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOOT_RECORD_FORMAT 1
/* A few hundred bytes are written; anything much larger is not a record. */
#define BOOT_RECORD_FILE_MAX (64u * 1024)

struct boot_record {
	bool from_ram;        /* gapbox.toram copied the images, and they are mounted from RAM */
	bool medium_released; /* the medium is unmounted and no loop device refers to it */
	char medium[64];      /* the medium's block device ("sr0", "sda"); "" when not known */
	uint64_t ram_bytes;   /* what was copied to RAM */
	char note[256];       /* why gapbox.toram did not copy, when it was asked to, or why the medium it
			       * copied is still needed (the data partition is on it); else "" */
	/* A netboot (gapbox.fetch=): the folder the images came from, and the NIC and address they came
	 * over; all "" when the images came from a medium. from_ram is true and medium "" then. */
	char url[1100];
	char nic[32];         /* the kernel's name of the boot NIC ("ens3") */
	char nic_mac[18];     /* "52:54:00:12:34:56" */
	char address[64];     /* "10.0.2.15/24 from DHCP" */
	/* How the images were checked: "checked by dm-verity as they are read (gapbox.verify=verity);
	 * the manifest signed by key 7a07a78815d936aa"; "" when not known (an older initramfs). */
	char checked[160];
};

/* The record as JSON (the file's text is boot_record_format's). NULL when out of memory. */
json_t *boot_record_to_json(const struct boot_record *r);
/* The file's text: the JSON object, one line. 0 or -ENOMEM. */
int boot_record_format(const struct boot_record *r, char **ret);

/* The record from the JSON object O (WHERE names it in messages). -EBADMSG with *ret_error when
 * it is not one this gapbox wrote. */
int boot_record_from_json(json_t *o, const char *where, struct boot_record *ret, char **ret_error);
/* Read the record at PATH: -ENOENT when there is none (an initramfs that writes none). */
int boot_record_load(const char *path, struct boot_record *ret, char **ret_error);

/* One line for people: "from RAM (812 MiB copied and checked); the medium sr0 was released and
 * can be removed", or "from the medium sr0 (gapbox.toram: ...)", then "; images checked ..."
 * ("; images not checked ...") when the record says how. */
const char *boot_record_describe(const struct boot_record *r, char *buf, size_t size);
