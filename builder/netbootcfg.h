/* The netboot folder's configuration text (iPXE script, pxelinux and GRUB configs, dnsmasq
 * example) and the rules for what goes into it; kept free of I/O so golden files pin it. */
#pragma once

/* What the configs say, from an image's build manifest and the command line. Every string is
 * checked (netboot_info_check) before it is rendered: the configs never escape anything. */
struct netboot_info {
	const char *name;           /* the image's profile name */
	const char *arch;           /* amd64 or arm64 */
	const char *cmdline;        /* the manifest's boot.cmdline: console= and the profile's kernel_params */
	const char *serial_console; /* the profile's serial console; NULL or "": none */
	const char *url;            /* the folder's base URL: gapbox.fetch= */
	const char *dir;            /* the folder's absolute path: dnsmasq's tftp-root */
};

/* An http:// URL with a host, at most GB_NETBOOT_URL_MAX bytes, of printable ASCII
 * without spaces, quotes or any of \ $ ` ; { } | & < > # ? (the loaders' script languages would
 * read them, and a base URL has no query or fragment). -EINVAL with the reason in *ret_error. */
int netboot_url_check(const char *url, char **ret_error);
/* All of N's strings as the configs need them (URL as above; a name of letters, digits, '.', '_'
 * and '-'; a command line of such words as a profile's kernel_params may hold; an absolute
 * folder without those characters). -EINVAL with the reason in *ret_error. */
int netboot_info_check(const struct netboot_info *n, char **ret_error);

/* The GRUB netboot image's file name in the folder for ARCH, or NULL. */
const char *netboot_grub_efi_name(const char *arch);

int netboot_ipxe_render(const struct netboot_info *n, char **ret);
int netboot_pxelinux_render(const struct netboot_info *n, char **ret);
int netboot_grub_cfg_render(const struct netboot_info *n, char **ret);
int netboot_dnsmasq_render(const struct netboot_info *n, char **ret);
