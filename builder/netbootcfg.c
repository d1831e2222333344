/* Renders the netboot folder's configs; what each loader passes the kernel is spelled here. */
#include "netbootcfg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grubcfg.h"
#include "layout.h"
#include "macros.h"

/* What no string in a config may hold: the loaders' script languages (GRUB, iPXE, syslinux,
 * dnsmasq) would read them as syntax. */
#define NETBOOT_SPECIAL "\"'\\$`;{}|&<>#?"

static bool printable_plain(const char *s, const char *also_refused)
{
	for (const char *c = s; *c; c++)
		if (*c <= ' ' || *c >= 0x7f || strchr(NETBOOT_SPECIAL, *c) || (also_refused && strchr(also_refused, *c)))
			return false;
	return true;
}

int netboot_url_check(const char *url, char **ret_error)
{
	static const char expected[] = "expected the folder's base URL, http:// and a host, like "
				       "http://192.168.10.1/gapbox/, without spaces, quotes, control characters or any of "
				       "\\ $ ` ; { } | & < > # ?";
	const char *host;

	/* The initramfs fetches over plain HTTP: it has no CA store to check a certificate against, and the
	 * build manifest's hashes check the bytes whichever way they come. */
	if (strncmp(url, "https://", 8) == 0)
		return gb_error(ret_error, -EINVAL, "'%s': https:// is not fetched by the initramfs, which has no CA store "
				"(the build manifest's sha256 checks every image): %s", url, expected);
	if (strncmp(url, "http://", 7) != 0)
		return gb_error(ret_error, -EINVAL, "'%s': not http://: %s", url, expected);
	host = url + 7;
	if (strlen(url) > GB_NETBOOT_URL_MAX)
		return gb_error(ret_error, -EINVAL, "a URL of %zu bytes: at most %d are passed to the kernel", strlen(url),
				GB_NETBOOT_URL_MAX);
	if (!printable_plain(url, NULL))
		return gb_error(ret_error, -EINVAL, "'%s': %s", url, expected);
	if (*host == '\0' || *host == '/' || *host == ':' || *host == '@')
		return gb_error(ret_error, -EINVAL, "'%s': no host: %s", url, expected);
	return 0;
}

/* A profile name, an architecture: letters, digits, '.', '_', '-'. */
static bool word_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._-", *c)))
			return false;
	return true;
}

/* Words as a profile's kernel_params may be, one space between them. */
static bool cmdline_ok(const char *s)
{
	if (!s || !*s || *s == ' ')
		return false;
	for (const char *c = s; *c; c++) {
		if (*c == ' ' && (c[1] == ' ' || c[1] == '\0'))
			return false;
		if (*c != ' ' && (*c < ' ' || *c >= 0x7f || strchr(NETBOOT_SPECIAL, *c)))
			return false;
	}
	return true;
}

int netboot_info_check(const struct netboot_info *n, char **ret_error)
{
	int r = netboot_url_check(n->url, ret_error);

	if (r < 0)
		return r;
	if (!word_ok(n->name))
		return gb_error(ret_error, -EINVAL, "the image's name '%s' is not letters, digits, '.', '_' and '-'",
				n->name ? n->name : "");
	if (!netboot_grub_efi_name(n->arch))
		return gb_error(ret_error, -EINVAL, "the image's architecture '%s' is not amd64 or arm64", n->arch ? n->arch : "");
	if (!cmdline_ok(n->cmdline))
		return gb_error(ret_error, -EINVAL, "the kernel command line '%s' is not words of printable characters without "
				"quotes or any of \\ $ ` ; { } | & < > # ?", n->cmdline ? n->cmdline : "");
	if (n->serial_console && *n->serial_console && !printable_plain(n->serial_console, NULL))
		return gb_error(ret_error, -EINVAL, "the serial console '%s' is not a console name", n->serial_console);
	if (!n->dir || n->dir[0] != '/' || !printable_plain(n->dir, ","))
		return gb_error(ret_error, -EINVAL, "the folder '%s' is not an absolute path of printable characters without "
				"spaces, quotes or any of , \\ $ ` ; { } | & < > # ?", n->dir ? n->dir : "");
	return 0;
}

const char *netboot_grub_efi_name(const char *arch)
{
	if (arch && streq(arch, "amd64"))
		return GB_NETBOOT_GRUB_EFI_AMD64;
	if (arch && streq(arch, "arm64"))
		return GB_NETBOOT_GRUB_EFI_ARM64;
	return NULL;
}

/* BUF is open_memstream's: only fclose makes it final. */
static int memstream_done(FILE *f, char **buf, char **ret)
{
	if (fclose(f) != 0) {
		free(*buf);
		return -ENOMEM;
	}
	*ret = *buf;
	return 0;
}

#define MEMSTREAM_OPEN(f, buf, size)                   \
	do {                                           \
		(f) = open_memstream(&(buf), &(size)); \
		if (!(f))                              \
			return -ENOMEM;                \
	} while (0)

int netboot_ipxe_render(const struct netboot_info *n, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	MEMSTREAM_OPEN(f, buf, size);
	fprintf(f, "#!ipxe\n");
	fprintf(f, "# Network boot of the gapbox image %s (%s), written by gapbox.\n", n->name, n->arch);
	fprintf(f, "# Kernel and initrd come from beside this script (over TFTP when it came over TFTP); the\n"
		   "# initramfs fetches the images from " GB_NETBOOT_PARAM_FETCH "=. iPXE passes it the boot NIC\n"
		   "# (BOOTIF=) and the address it got (ip=), so the initramfs need not ask DHCP again.\n");
	fprintf(f, "echo Loading %s ...\n", n->name);
	/* initrd= names the initrd for the kernel's EFI stub under iPXE for UEFI. */
	fprintf(f, "kernel " GB_MEDIUM_KERNEL " initrd=%s %s " GB_NETBOOT_PARAM_FETCH "=%s BOOTIF=01-${netX/mac:hexhyp} "
		   "ip=${netX/ip}:${next-server}:${netX/gateway}:${netX/netmask}\n",
		strrchr(GB_MEDIUM_INITRD, '/') + 1, n->cmdline, n->url);
	fprintf(f, "initrd " GB_MEDIUM_INITRD "\n");
	fprintf(f, "boot\n");
	return memstream_done(f, &buf, ret);
}

int netboot_pxelinux_render(const struct netboot_info *n, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	MEMSTREAM_OPEN(f, buf, size);
	fprintf(f, "# Network boot of the gapbox image %s (%s) from BIOS, written by gapbox. Paths are\n"
		   "# relative to " GB_NETBOOT_PXELINUX "'s folder on the TFTP server; IPAPPEND 3 passes the address\n"
		   "# pxelinux got (ip=) and the boot NIC (BOOTIF=); the initramfs fetches the images from\n"
		   "# " GB_NETBOOT_PARAM_FETCH "=.\n", n->name, n->arch);
	fprintf(f, "DEFAULT gapbox\nPROMPT 0\n\nLABEL gapbox\n");
	fprintf(f, "  LINUX " GB_MEDIUM_KERNEL "\n");
	fprintf(f, "  INITRD " GB_MEDIUM_INITRD "\n");
	fprintf(f, "  APPEND %s " GB_NETBOOT_PARAM_FETCH "=%s\n", n->cmdline, n->url);
	fprintf(f, "  IPAPPEND 3\n");
	return memstream_done(f, &buf, ret);
}

int netboot_grub_cfg_render(const struct netboot_info *n, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	MEMSTREAM_OPEN(f, buf, size);
	fprintf(f, "# Network boot of the gapbox image %s (%s) from UEFI, written by gapbox.\n"
		   "# %s reads this from " GB_NETBOOT_GRUB_DIR "/ on the TFTP server it came from, and the\n"
		   "# kernel and initrd from there; the initramfs asks DHCP for an address on the boot NIC\n"
		   "# (BOOTIF=) and fetches the images from " GB_NETBOOT_PARAM_FETCH "=.\n",
		n->name, n->arch, netboot_grub_efi_name(n->arch));
	fprintf(f, "set default=default\nset timeout=0\n");
	grub_cfg_put_terminal(f, n->serial_console && *n->serial_console ? n->serial_console : NULL);
	fprintf(f, "\nmenuentry '%s (network boot)' --id default {\n", n->name);
	fprintf(f, "\techo 'Loading %s ...'\n", n->name);
	fprintf(f, "\tlinux /" GB_MEDIUM_KERNEL " %s " GB_NETBOOT_PARAM_FETCH "=%s BOOTIF=${net_default_mac}\n", n->cmdline,
		n->url);
	fprintf(f, "\tinitrd /" GB_MEDIUM_INITRD "\n}\n");
	return memstream_done(f, &buf, ret);
}

int netboot_dnsmasq_render(const struct netboot_info *n, char **ret)
{
	bool amd64 = streq(n->arch, "amd64");
	const char *grub = netboot_grub_efi_name(n->arch);
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	MEMSTREAM_OPEN(f, buf, size);
	fprintf(f, "# dnsmasq as proxy-DHCP and TFTP server for network boots of the gapbox image %s (%s),\n"
		   "# written by gapbox. The network's own DHCP server keeps handing out addresses; dnsmasq only\n"
		   "# tells the machines' PXE firmware which loader to fetch, and serves the loaders, the kernel\n"
		   "# and the initrd from this folder over TFTP. The images (" GB_MEDIUM_DIR "/*.sfs) are fetched from\n"
		   "# %s: serve this folder there with any web server\n"
		   "# (python3 -m http.server --directory %s PORT serves it at http://HOST:PORT/).\n"
		   "# Set dhcp-range to the network the machines boot on, then run:\n"
		   "#   dnsmasq --no-daemon --conf-file=%s/" GB_NETBOOT_DNSMASQ "\n",
		n->name, n->arch, n->url, n->dir, n->dir);
	fprintf(f, "\n# No DNS service; proxy-DHCP on this network (no addresses handed out).\n");
	fprintf(f, "port=0\ndhcp-range=192.168.10.0,proxy\nlog-dhcp\n");
	fprintf(f, "\n# TFTP from this folder.\nenable-tftp\ntftp-root=%s\n", n->dir);
	fprintf(f, "\n# iPXE (it sends option 175) gets " GB_NETBOOT_IPXE "; other firmware gets its loader.\n");
	fprintf(f, "dhcp-match=set:ipxe,175\n");
	if (amd64) {
		fprintf(f, "# BIOS: pxelinux, which reads " GB_NETBOOT_PXELINUX_CFG ".\n");
		fprintf(f, "pxe-service=tag:!ipxe,x86PC,\"gapbox %s\"," GB_NETBOOT_PXELINUX "\n", n->name);
		fprintf(f, "pxe-service=tag:ipxe,x86PC,\"gapbox %s (iPXE)\"," GB_NETBOOT_IPXE "\n", n->name);
		fprintf(f, "# UEFI x86-64 (client architectures 7 and 9): GRUB, which reads " GB_NETBOOT_GRUB_CFG ".\n");
		fprintf(f, "pxe-service=tag:!ipxe,x86-64_EFI,\"gapbox %s\",%s\n", n->name, grub);
		fprintf(f, "pxe-service=tag:ipxe,x86-64_EFI,\"gapbox %s (iPXE)\"," GB_NETBOOT_IPXE "\n", n->name);
		fprintf(f, "pxe-service=tag:!ipxe,BC_EFI,\"gapbox %s\",%s\n", n->name, grub);
		fprintf(f, "pxe-service=tag:ipxe,BC_EFI,\"gapbox %s (iPXE)\"," GB_NETBOOT_IPXE "\n", n->name);
	} else {
		fprintf(f, "# UEFI arm64 (client architecture 11): GRUB, which reads " GB_NETBOOT_GRUB_CFG ".\n");
		fprintf(f, "pxe-service=tag:!ipxe,ARM64_EFI,\"gapbox %s\",%s\n", n->name, grub);
		fprintf(f, "pxe-service=tag:ipxe,ARM64_EFI,\"gapbox %s (iPXE)\"," GB_NETBOOT_IPXE "\n", n->name);
	}
	return memstream_done(f, &buf, ret);
}
