/* Secure Boot with the operator's own key (gapbox build --secure-boot-key KEY --secure-boot-cert
 * CERT): the kernel, the initramfs and the default command line in one unified kernel image
 * (systemd's EFI stub with the three as sections), signed with sbsign, which shim starts in place
 * of GRUB. shim checks what it starts against the firmware's db and its MOK list, so once the
 * certificate is enrolled in either, the firmware's chain of trust covers the initramfs too. */
#pragma once

#include "sha256.h"

struct build;

/* The key pair, checked before anything slow: an unencrypted RSA private key (PEM, 2048 bits
 * or more) and the X.509 certificate (PEM) of its public key. Errors name the file. */
struct uki_key {
	const char *key_path;  /* read by sbsign; never copied */
	const char *cert_path;
	unsigned char *cert_der; /* the certificate as MokManager and the firmware's db take it */
	int cert_der_len;
	char fingerprint[SHA256_HEX_LEN + 1]; /* sha256 of cert_der */
	char subject[256];
};
int uki_key_load(const char *key_path, const char *cert_path, struct uki_key **ret);
void uki_key_free(struct uki_key *k);

/* The signed unified kernel image at OUT, from systemd's EFI stub STUB (taken out of the rootfs
 * with shim) and the kernel and initramfs already on the medium, with the profile's default command line; and the certificate (DER) at
 * CERT_OUT. The result is the same for the same inputs and epoch. */
int uki_make(struct build *b, const char *stub, const char *out, const char *cert_out);
