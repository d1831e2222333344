/* Stage manifest: build info, the profile's essentials and every artifact's size and sha256. */
#include "manifest.h"

#include <jansson.h>
#include <string.h>

#include "build.h"
#include "fsutil.h"
#include "grubcfg.h"
#include "layout.h"
#include "log.h"
#include "manifestsig.h"
#include "siteconfig.h"
#include "uki.h"

static json_t *strv_json(char **l)
{
	json_t *a = json_array();
	for (; a && l && *l; l++)
		json_array_append_new(a, json_string(*l));
	return a;
}

int manifest_render(const struct build *b, const struct rootfs *rootfs, const struct kernel *kernel,
		    const struct system_image *system, const struct site_config *site, char **ret)
{
	const struct profile *p = b->profile;
	json_t *m = json_object(), *arts = manifest_artifacts_json(b->artifacts, b->n_artifacts);
	_cleanup_free_ char *cmdline = NULL;
	char *text;

	if (!m || !arts || boot_cmdline(p, p->boot.default_entry, &cmdline) < 0) {
		json_decref(m);
		json_decref(arts);
		return -ENOMEM;
	}
	json_object_set_new(m, MANIFEST_KEY_FORMAT, json_integer(MANIFEST_FORMAT));
	json_object_set_new(m, "name", json_string(p->name));
	json_object_set_new(m, "arch", json_string(p->arch));
	json_object_set_new(m, "suite", json_string(p->suite));
	json_object_set_new(m, "kernel", json_string(kernel->kver));
	json_object_set_new(m, "build", json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:s, s:I}}", "id", system->build_id,
						   "gapbox_version", GB_VERSION, "epoch", (json_int_t)b->epoch, "epoch_from",
						   b->epoch_from ? b->epoch_from : "", "rootfs_key", rootfs->key ? rootfs->key : "",
						   "apt_archive", "state", rootfs->archive_state, "date", (json_int_t)rootfs->archive_date));
	json_object_set_new(m, "medium", json_pack("{s:s, s:s}", "label", b->medium_label, "uuid", b->medium_uuid));
	json_t *boot = json_pack("{s:s}", MANIFEST_KEY_CMDLINE, cmdline);
	/* The signer of the kernel image UEFI boots through shim: whose certificate must be enrolled. */
	if (boot && b->uki_key)
		json_object_set_new(boot, "uefi_kernel_image",
				    json_pack("{s:s, s:s, s:s}", "path",
					      streq(p->arch, "arm64") ? GB_MEDIUM_EFI_DIR "/grubaa64.efi" : GB_MEDIUM_EFI_DIR "/grubx64.efi", "signer", b->uki_key->subject,
					      "certificate_sha256", b->uki_key->fingerprint));
	json_object_set_new(m, MANIFEST_KEY_BOOT, boot);
	json_object_set_new(m, "profile",
			    json_pack("{s:s, s:s, s:o, s:o, s:{s:b, s:b, s:b, s:I, s:s, s:o}}", "variant", p->variant, "kernel_package",
				      p->kernel, "packages", strv_json(p->packages), "modules", strv_json(p->modules), "boot",
				      "bios", p->boot.bios, "uefi", p->boot.uefi, "secure_boot", p->boot.secure_boot, "menu_timeout", (json_int_t)p->boot.menu_timeout,
				      "serial_console", p->boot.serial_console ? p->boot.serial_console : "", "kernel_params",
				      strv_json(p->boot.kernel_params)));
	if (b->payload.arch) {
		json_t *v = json_object();
		for (size_t i = 0; v && i < b->payload.n_versions; i++)
			json_object_set_new(v, b->payload.versions[i].component, json_string(b->payload.versions[i].version));
		json_t *payload = json_pack("{s:o}", "versions", v ? v : json_null());
		/* Said only of a sample, so that a site's manifest reads as before. */
		if (payload && b->payload.sample)
			json_object_set_new(payload, "sample", json_true());
		json_object_set_new(m, "payload", payload);
	}
	if (site && site->text) {
		char mode[8];

		snprintf(mode, sizeof(mode), "%04o", (unsigned)site->mode);
		json_object_set_new(m, "site_config", json_pack("{s:s, s:s, s:I, s:s, s:o}", "path", "/" SITE_CONFIG_IMAGE_PATH,
								"sha256", site->sha256, "size", (json_int_t)site->size,
								"mode", mode, "secrets", strv_json(site->secrets)));
	}
	json_object_set_new(m, MANIFEST_KEY_ARTIFACTS, arts);
	if (b->n_verity)
		json_object_set_new(m, MANIFEST_KEY_VERITY, manifest_verity_json(b->verity, b->n_verity));
	text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	if (!text)
		return -ENOMEM;
	*ret = text;
	return 0;
}

/* The signature of the manifest's bytes TEXT beside it on the medium (lib/manifestsig.h). Not an
 * artifact: it vouches for the list of them. */
static int manifest_write_signature(const struct build *b, const char *text)
{
	_cleanup_free_ char *sig = NULL, *path = build_medium_path(b, GB_MEDIUM_MANIFEST_SIG);
	int r;

	if (!path)
		return -ENOMEM;
	r = manifest_sign(b->signing_key, text, strlen(text), &sig);
	if (r < 0)
		return log_error_errno(r, "cannot sign the manifest: %m");
	r = write_file_atomic(path, sig, strlen(sig), 0644);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", path);
	log_info("manifest signed by Ed25519 key %.16s", signing_key_id(b->signing_key));
	return 0;
}

int stage_manifest(struct build *b, const struct rootfs *rootfs, const struct kernel *kernel,
		   const struct system_image *system, const struct site_config *site)
{
	_cleanup_free_ char *json = NULL, *text = NULL, *path = build_medium_path(b, MANIFEST_PATH);
	int r;

	if (!path)
		return -ENOMEM;
	r = manifest_render(b, rootfs, kernel, system, site, &json);
	if (r < 0)
		return log_error_errno(r, "cannot render the manifest: %m");
	if (asprintf(&text, "%s\n", json) < 0)
		return -ENOMEM;
	/* gapbox-init reads no more than this (lib/buildmanifest.h). */
	if (strlen(text) > MANIFEST_FILE_MAX)
		return log_error_errno(-EFBIG, "the manifest would be %zu bytes, more than the %u gapbox-init reads: "
				       "is the profile's package list that long?", strlen(text), MANIFEST_FILE_MAX);
	r = write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", path);
	return b->signing_key ? manifest_write_signature(b, text) : 0;
}
