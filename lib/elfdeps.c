/* PT_INTERP and DT_NEEDED of a 64-bit little-endian ELF file, every offset checked against the
 * buffer: the fields are read byte by byte, so the host's own byte order does not matter. */
#include <string.h>

#include "elfdeps.h"
#include "macros.h"
#include "strv.h"

/* ELF64 layout (System V gABI), only what is read here. */
#define EHDR_SIZE 64
#define PHDR_SIZE 56
#define DYN_SIZE 16
#define PN_XNUM 0xffff
#define ET_EXEC 2
#define ET_DYN 3
#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define DT_NULL 0
#define DT_NEEDED 1
#define DT_STRTAB 5
#define DT_STRSZ 10
#define DT_SONAME 14

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Whether [OFF, OFF + LEN) lies within SIZE bytes, without overflowing. */
static bool in_bounds(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

struct phdr {
	uint32_t type;
	uint64_t offset, vaddr, filesz;
};

static struct phdr phdr_at(const uint8_t *p)
{
	return (struct phdr){ .type = rd32(p), .offset = rd64(p + 8), .vaddr = rd64(p + 16), .filesz = rd64(p + 32) };
}

/* A NUL-terminated, non-empty string of at most GB_ELF_NAME_MAX bytes at OFF in TAB. */
static int string_at(const uint8_t *tab, uint64_t tabsize, uint64_t off, char **ret)
{
	if (off >= tabsize)
		return -EBADMSG;
	uint64_t room = tabsize - off;
	size_t len = strnlen((const char *)tab + off, room < GB_ELF_NAME_MAX + 1 ? (size_t)room : GB_ELF_NAME_MAX + 1);
	if (len == 0 || len == room || len > GB_ELF_NAME_MAX)
		return -EBADMSG;
	*ret = strndup((const char *)tab + off, len);
	return *ret ? 0 : -ENOMEM;
}

/* The file offset of the string table at VADDR of STRSZ bytes: within one PT_LOAD's file part. */
static int strtab_offset(const uint8_t *ph, uint16_t phnum, size_t size, uint64_t vaddr, uint64_t strsz,
			 uint64_t *ret)
{
	for (uint16_t i = 0; i < phnum; i++) {
		struct phdr p = phdr_at(ph + (size_t)i * PHDR_SIZE);
		if (p.type != PT_LOAD || vaddr < p.vaddr || vaddr - p.vaddr >= p.filesz)
			continue;
		uint64_t delta = vaddr - p.vaddr;
		if (strsz > p.filesz - delta || p.offset > UINT64_MAX - delta || !in_bounds(size, p.offset + delta, strsz))
			return -EBADMSG;
		*ret = p.offset + delta;
		return 0;
	}
	return -EBADMSG;
}

static int read_dynamic(const uint8_t *d, size_t size, const uint8_t *ph, uint16_t phnum, const struct phdr *dyn,
			struct elf_deps *out)
{
	uint64_t needed[GB_ELF_NEEDED_MAX], soname = 0, strtab = 0, strsz = 0, off;
	size_t n_needed = 0;
	bool have_soname = false, have_strtab = false, have_strsz = false;
	int r;

	if (!in_bounds(size, dyn->offset, dyn->filesz))
		return -EBADMSG;
	for (uint64_t i = 0; i + DYN_SIZE <= dyn->filesz; i += DYN_SIZE) {
		const uint8_t *e = d + dyn->offset + i;
		uint64_t tag = rd64(e), val = rd64(e + 8);

		if (tag == DT_NULL)
			break;
		if (tag == DT_NEEDED) {
			if (n_needed == ARRAY_SIZE(needed))
				return -EBADMSG;
			needed[n_needed++] = val;
		} else if (tag == DT_SONAME) {
			soname = val;
			have_soname = true;
		} else if (tag == DT_STRTAB) {
			strtab = val;
			have_strtab = true;
		} else if (tag == DT_STRSZ) {
			strsz = val;
			have_strsz = true;
		}
	}
	if (!n_needed && !have_soname)
		return 0;
	if (!have_strtab || !have_strsz)
		return -EBADMSG;
	r = strtab_offset(ph, phnum, size, strtab, strsz, &off);
	if (r < 0)
		return r;
	if (have_soname && (r = string_at(d + off, strsz, soname, &out->soname)) < 0)
		return r;
	for (size_t i = 0; i < n_needed; i++) {
		char *name;
		if ((r = string_at(d + off, strsz, needed[i], &name)) < 0 || (r = strv_consume(&out->needed, name)) < 0)
			return r;
	}
	return 0;
}

static int parse(const uint8_t *d, size_t size, struct elf_deps *out)
{
	const struct phdr *interp = NULL, *dyn = NULL;
	struct phdr p, found_interp, found_dyn;

	if (size < 4 || memcmp(d, "\177ELF", 4) != 0)
		return -ENOEXEC;
	if (size < EHDR_SIZE)
		return -EBADMSG;
	if (d[4] != 2 /* ELFCLASS64 */ || d[5] != 1 /* ELFDATA2LSB */)
		return -EPROTONOSUPPORT;
	if (d[6] != 1 /* EV_CURRENT */)
		return -EBADMSG;
	out->type = rd16(d + 16);
	out->machine = rd16(d + 18);
	if (out->type != ET_EXEC && out->type != ET_DYN)
		return -EPROTONOSUPPORT;

	uint64_t phoff = rd64(d + 32);
	uint16_t phentsize = rd16(d + 54), phnum = rd16(d + 56);
	if (phnum == 0)
		return 0;
	if (phnum == PN_XNUM || phentsize != PHDR_SIZE || !in_bounds(size, phoff, (uint64_t)phnum * PHDR_SIZE))
		return -EBADMSG;
	const uint8_t *ph = d + phoff;

	/* The loader takes one of each; two are a malformed (or crafted) file. */
	for (uint16_t i = 0; i < phnum; i++) {
		p = phdr_at(ph + (size_t)i * PHDR_SIZE);
		if (p.type == PT_INTERP) {
			if (interp)
				return -EBADMSG;
			found_interp = p;
			interp = &found_interp;
		} else if (p.type == PT_DYNAMIC) {
			if (dyn)
				return -EBADMSG;
			found_dyn = p;
			dyn = &found_dyn;
		}
	}
	if (interp) {
		if (!in_bounds(size, interp->offset, interp->filesz))
			return -EBADMSG;
		int r = string_at(d + interp->offset, interp->filesz, 0, &out->interp);
		if (r < 0)
			return r;
	}
	return dyn ? read_dynamic(d, size, ph, phnum, dyn, out) : 0;
}

int elf_deps_parse(const void *data, size_t size, struct elf_deps *ret)
{
	struct elf_deps d = { 0 };
	int r = parse(data, size, &d);

	if (r < 0)
		elf_deps_done(&d);
	*ret = d;
	return r;
}

void elf_deps_done(struct elf_deps *d)
{
	free(d->interp);
	free(d->soname);
	strv_free(d->needed);
	*d = (struct elf_deps){ 0 };
}

const char *elf_deps_strerror(int error)
{
	switch (error) {
	case -ENOEXEC:
		return "not an ELF file";
	case -EPROTONOSUPPORT:
		return "not a 64-bit little-endian program or shared object";
	case -EBADMSG:
		return "a malformed ELF file";
	default:
		return strerror(-error);
	}
}

const char *elf_machine_name(uint16_t machine)
{
	switch (machine) {
	case GB_ELF_MACHINE_X86_64:
		return "x86-64";
	case GB_ELF_MACHINE_AARCH64:
		return "aarch64";
	default:
		return NULL;
	}
}
