/* Persistent state: the spec's parser, the kept paths and the state record's writer and reader. */
#include "persist.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macros.h"
#include "sbuf.h"

const struct gb_kept_path gb_kept_paths[] = {
	{ "/etc/gapbox", "etc/gapbox", GB_KEPT_OVERLAY, "the appliance configuration" },
	/* The host keys: nodes keep trusting the admin across reboots and upgrades. */
	{ "/etc/ssh", "etc/ssh", GB_KEPT_OVERLAY, "SSH host keys" },
	{ "/root", "root", GB_KEPT_OVERLAY, "root's home" },
	{ "/var/lib/gapbox/registry-rw", "registry", GB_KEPT_BIND, "images pushed to the registry" },
	/* The site CA the nodes trust (registry.tls). */
	{ "/var/lib/gapbox/tls", "tls", GB_KEPT_BIND, "the registry's site CA" },
	{ "/var/lib/gapbox/kubespray", "kubespray", GB_KEPT_BIND, "the kubespray workspace" },
};
const size_t gb_n_kept_paths = ARRAY_SIZE(gb_kept_paths);

int gb_persist_spec_parse(const char *s, struct gb_persist_spec *ret)
{
	struct gb_persist_spec n = { 0 };
	const char *value = NULL;

	if (!s)
		return -EINVAL;
	if (strcasecmp(s, "off") == 0 || strcasecmp(s, "no") == 0 || strcmp(s, "0") == 0)
		n.mode = GB_PERSIST_OFF;
	else if (strcasecmp(s, "auto") == 0)
		n.mode = GB_PERSIST_AUTO;
	else if (strncasecmp(s, "LABEL=", 6) == 0 && s[6])
		n.mode = GB_PERSIST_LABEL, value = s + 6;
	else if (strncasecmp(s, "UUID=", 5) == 0 && s[5])
		n.mode = GB_PERSIST_UUID, value = s + 5;
	else
		return -EINVAL;
	if (value) {
		if (strlen(value) >= sizeof(n.value))
			return -ENAMETOOLONG;
		/* A space or quote would not survive the kernel command line or initrd.conf. */
		if (value[strcspn(value, " \t\n\"'\\")])
			return -EINVAL;
		strcpy(n.value, value);
	}
	*ret = n;
	return 0;
}

const char *gb_persist_spec_format(const struct gb_persist_spec *s, char *buf, size_t size)
{
	switch (s->mode) {
	case GB_PERSIST_OFF:
		snprintf(buf, size, "off");
		break;
	case GB_PERSIST_AUTO:
		snprintf(buf, size, "auto");
		break;
	case GB_PERSIST_LABEL:
		snprintf(buf, size, "LABEL=%s", s->value);
		break;
	case GB_PERSIST_UUID:
		snprintf(buf, size, "UUID=%s", s->value);
		break;
	}
	return buf;
}

#define FIELD(name, key) { key, offsetof(struct gb_state_record, name), sizeof(((struct gb_state_record *)0)->name) }
static const struct {
	const char *key;
	size_t offset, size;
} record_keys[] = {
	FIELD(mode, "MODE"),       FIELD(reason, "REASON"), FIELD(spec, "SPEC"),
	FIELD(device, "DEVICE"),   FIELD(uuid, "UUID"),     FIELD(label, "LABEL"),
	FIELD(build_id, "BUILD_ID"), FIELD(fsck, "FSCK"),   FIELD(other_builds, "OTHER_BUILDS"),
};

int gb_state_record_format(const struct gb_state_record *s, char **ret)
{
	struct sbuf b = SBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(record_keys); i++) {
		const char *v = (const char *)s + record_keys[i].offset;

		if (strchr(v, '\n')) {
			sbuf_free(&b);
			return -EINVAL;
		}
		sbuf_printf(&b, "%s=%s\n", record_keys[i].key, v);
	}
	sbuf_printf(&b, "CREATED=%d\n", s->created ? 1 : 0);
	return sbuf_finish(&b, ret, NULL);
}

void gb_state_record_parse(const char *text, struct gb_state_record *ret)
{
	*ret = (struct gb_state_record){ 0 };
	for (const char *p = text; p && *p;) {
		size_t len = strcspn(p, "\n"), klen;
		const char *eq = memchr(p, '=', len);

		if (eq) {
			klen = (size_t)(eq - p);
			if (klen == 7 && strncmp(p, "CREATED", 7) == 0)
				ret->created = eq[1] == '1';
			for (size_t i = 0; i < ARRAY_SIZE(record_keys); i++) {
				size_t vlen = len - klen - 1;

				if (strlen(record_keys[i].key) != klen || strncmp(p, record_keys[i].key, klen) != 0)
					continue;
				if (vlen < record_keys[i].size) {
					memcpy((char *)ret + record_keys[i].offset, eq + 1, vlen);
					((char *)ret + record_keys[i].offset)[vlen] = '\0';
				}
			}
		}
		p += len;
		if (*p == '\n')
			p++;
	}
}
