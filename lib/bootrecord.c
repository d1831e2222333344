/* The boot record in JSON: its writer and its reader. */
#include "bootrecord.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "fsutil.h"
#include "macros.h"

#define KEY_FORMAT "format"
#define KEY_FROM_RAM "from_ram"
#define KEY_RELEASED "medium_released"
#define KEY_MEDIUM "medium"
#define KEY_RAM_BYTES "ram_bytes"
#define KEY_NOTE "note"
#define KEY_URL "url"
#define KEY_NIC "nic"
#define KEY_NIC_MAC "nic_mac"
#define KEY_ADDRESS "address"
#define KEY_CHECKED "checked"

json_t *boot_record_to_json(const struct boot_record *r)
{
	json_t *o = json_pack("{s:i, s:b, s:b, s:s, s:I, s:s}", KEY_FORMAT, BOOT_RECORD_FORMAT, KEY_FROM_RAM, r->from_ram,
			      KEY_RELEASED, r->medium_released, KEY_MEDIUM, r->medium, KEY_RAM_BYTES,
			      (json_int_t)r->ram_bytes, KEY_NOTE, r->note);

	/* The netboot members only when there was one: a medium's record stays as it was. */
	if (o && r->url[0] &&
	    (json_object_set_new(o, KEY_URL, json_string(r->url)) < 0 || json_object_set_new(o, KEY_NIC, json_string(r->nic)) < 0 ||
	     json_object_set_new(o, KEY_NIC_MAC, json_string(r->nic_mac)) < 0 ||
	     json_object_set_new(o, KEY_ADDRESS, json_string(r->address)) < 0)) {
		json_decref(o);
		return NULL;
	}
	if (o && r->checked[0] && json_object_set_new(o, KEY_CHECKED, json_string(r->checked)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int boot_record_format(const struct boot_record *r, char **ret)
{
	json_t *o = boot_record_to_json(r);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL, *line = NULL;

	json_decref(o);
	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	free(text);
	if (!line)
		return -ENOMEM;
	*ret = line;
	return 0;
}

/* The string member KEY of O into FIELD (SIZE bytes): refused whole when it does not fit. */
static int string_member(json_t *o, const char *key, char *field, size_t size)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= size)
		return -EBADMSG;
	memcpy(field, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int boot_record_from_json(json_t *o, const char *where, struct boot_record *ret, char **ret_error)
{
	json_t *from_ram = json_object_get(o, KEY_FROM_RAM), *released = json_object_get(o, KEY_RELEASED),
	       *bytes = json_object_get(o, KEY_RAM_BYTES);
	struct boot_record r = { 0 };

	if (!json_is_object(o) || json_integer_value(json_object_get(o, KEY_FORMAT)) != BOOT_RECORD_FORMAT)
		return gb_error(ret_error, -EBADMSG, "%s: not a boot record of format %d", where, BOOT_RECORD_FORMAT);
	if (!json_is_boolean(from_ram) || !json_is_boolean(released) || !json_is_integer(bytes) ||
	    json_integer_value(bytes) < 0 || string_member(o, KEY_MEDIUM, r.medium, sizeof(r.medium)) < 0 ||
	    string_member(o, KEY_NOTE, r.note, sizeof(r.note)) < 0)
		return gb_error(ret_error, -EBADMSG,
				"%s: expected " KEY_FROM_RAM " and " KEY_RELEASED " true or false, " KEY_RAM_BYTES
				" a number of bytes, " KEY_MEDIUM " and " KEY_NOTE " short strings",
				where);
	if (json_object_get(o, KEY_URL) &&
	    (string_member(o, KEY_URL, r.url, sizeof(r.url)) < 0 || string_member(o, KEY_NIC, r.nic, sizeof(r.nic)) < 0 ||
	     string_member(o, KEY_NIC_MAC, r.nic_mac, sizeof(r.nic_mac)) < 0 ||
	     string_member(o, KEY_ADDRESS, r.address, sizeof(r.address)) < 0))
		return gb_error(ret_error, -EBADMSG, "%s: expected " KEY_URL ", " KEY_NIC ", " KEY_NIC_MAC " and " KEY_ADDRESS
				" short strings", where);
	if (json_object_get(o, KEY_CHECKED) && string_member(o, KEY_CHECKED, r.checked, sizeof(r.checked)) < 0)
		return gb_error(ret_error, -EBADMSG, "%s: expected " KEY_CHECKED " a short string", where);
	r.from_ram = json_is_true(from_ram);
	r.medium_released = json_is_true(released);
	r.ram_bytes = (uint64_t)json_integer_value(bytes);
	*ret = r;
	return 0;
}

int boot_record_load(const char *path, struct boot_record *ret, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	json_error_t e;
	size_t size = 0;
	json_t *o;
	int r;

	r = read_file(path, BOOT_RECORD_FILE_MAX, &text, &size);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return gb_error_errno(ret_error, r, "cannot read %s", path);
	o = json_loadb(text, size, JSON_REJECT_DUPLICATES, &e);
	if (!o)
		return gb_error(ret_error, -EBADMSG, "%s:%d:%d: %s", path, e.line, e.column, e.text);
	r = boot_record_from_json(o, path, ret, ret_error);
	json_decref(o);
	return r;
}

const char *boot_record_describe(const struct boot_record *r, char *buf, size_t size)
{
	const char *medium = r->medium[0] ? r->medium : "(unknown device)";
	size_t n;

	if (r->url[0])
		snprintf(buf, size, "from the network: %s (%.0f MiB fetched into RAM and checked, over %s %s)", r->url,
			 (double)r->ram_bytes / (1024 * 1024), r->nic, r->address);
	else if (r->from_ram && r->medium_released)
		snprintf(buf, size, "from RAM (%.0f MiB copied and checked); the medium %s was released and can be removed",
			 (double)r->ram_bytes / (1024 * 1024), medium);
	else if (r->from_ram)
		snprintf(buf, size, "from RAM (%.0f MiB copied and checked), but the medium %s %s: keep it in",
			 (double)r->ram_bytes / (1024 * 1024), medium, r->note[0] ? r->note : "could not be released");
	else
		snprintf(buf, size, "from the medium %s%s%s%s", medium, r->note[0] ? " (" : "", r->note,
			 r->note[0] ? ")" : "");
	n = strlen(buf);
	if (r->checked[0] && n < size)
		snprintf(buf + n, size - n, "; images %s", r->checked);
	return buf;
}
