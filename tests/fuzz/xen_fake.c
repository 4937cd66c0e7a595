// SPDX-License-Identifier: MIT
/*
 * The hypervisor side of tests/fuzz/fuzz_xgmem.c (see xen_fake.h): the
 * libxenctrl and libxenforeignmemory functions lib/xen/gmem_xen.c calls,
 * defined against the prototypes of the real headers, for one simulated
 * guest. Misuse that real Xen would not catch either way is an abort()
 * here: a mapping of another domain, an unmap that does not match a map,
 * a handle used after it was closed.
 */
#define _GNU_SOURCE
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#if defined(__aarch64__) || defined(__arm__)
#include <xen/arch-arm.h>
#endif

#include "xen_fake.h"

struct fake_guest fake;
bool fake_pinning;
uint64_t fake_map_budget;

static int ram_fd = -1;
static uint64_t ram_bytes;		/* every window, back to back */
static struct fake_map *maps;
static unsigned int n_maps, cap_maps;
static unsigned int map_calls, failed_maps;
static unsigned int fm_open, xc_open;
/* Handles are only compared, never looked into. */
static char fm_token, xc_token;

unsigned int fake_windows(struct fake_window w[FAKE_MAX_WINDOWS])
{
#if defined(__aarch64__) || defined(__arm__)
	w[0] = (struct fake_window){ GUEST_RAM0_BASE, GUEST_RAM0_SIZE };
	w[1] = (struct fake_window){ GUEST_RAM1_BASE, GUEST_RAM1_SIZE };
#else
	/* HVM/PVH: up to the MMIO hole at 3.75 GiB, then 1 TiB from 4 GiB. */
	w[0] = (struct fake_window){ 0, 0xf0000000ull };
	w[1] = (struct fake_window){ 1ull << 32, 1ull << 40 };
#endif
	return 2;
}

/* libxl fills the windows in order; the first is a bank even when empty. */
unsigned int fake_layout(uint64_t mem, struct fake_window b[FAKE_MAX_WINDOWS])
{
	struct fake_window w[FAKE_MAX_WINDOWS];
	unsigned int nw = fake_windows(w), n = 0;

	for (unsigned int i = 0; i < nw && (i == 0 || mem); i++) {
		uint64_t size = mem < w[i].size ? mem : w[i].size;

		b[n++] = (struct fake_window){ w[i].base, size };
		mem -= size;
	}
	return n;
}

static int window_of(uint64_t gpa, uint64_t *off)
{
	struct fake_window w[FAKE_MAX_WINDOWS];
	unsigned int nw = fake_windows(w);
	uint64_t before = 0;

	for (unsigned int i = 0; i < nw; i++) {
		if (gpa >= w[i].base && gpa - w[i].base < w[i].size) {
			*off = before + (gpa - w[i].base);
			return i;
		}
		before += w[i].size;
	}
	return -1;
}

bool fake_ram_offset(uint64_t gpa, uint64_t *off)
{
	return window_of(gpa, off) >= 0;
}

uint64_t fake_gpa_of(uint64_t off)
{
	struct fake_window w[FAKE_MAX_WINDOWS];
	unsigned int nw = fake_windows(w);

	for (unsigned int i = 0; i < nw; i++) {
		if (off < w[i].size)
			return w[i].base + off;
		off -= w[i].size;
	}
	return w[nw - 1].base + w[nw - 1].size + off;
}

uint64_t fake_ram_left(uint64_t gpa, uint64_t mem)
{
	struct fake_window b[FAKE_MAX_WINDOWS];
	unsigned int n = fake_layout(mem, b);

	for (unsigned int i = 0; i < n; i++)
		if (gpa >= b[i].base && gpa - b[i].base < b[i].size)
			return b[i].size - (gpa - b[i].base);
	return 0;
}

uint64_t fake_usable(uint64_t gpa, uint64_t max, uint64_t mem)
{
	uint64_t left = fake_ram_left(gpa, mem), off, end;

	if (max > left)
		max = left;
	if (!max || !fake_ram_offset(gpa, &off))
		return 0;
	end = off + max;
	for (unsigned int i = 0; i < fake.n_refused; i++) {
		uint64_t s = fake.refused[i].first * FAKE_PAGE;
		uint64_t e = s + fake.refused[i].count * FAKE_PAGE;

		if (s < end && e > off)
			end = s > off ? s : off;
	}
	return end - off;
}

void fake_reset(void)
{
	struct fake_window w[FAKE_MAX_WINDOWS];
	unsigned int nw = fake_windows(w);

	if (n_maps || fm_open || xc_open)
		abort();	/* the harness tears down before the next input */
	if (ram_fd < 0) {
		for (unsigned int i = 0; i < nw; i++)
			ram_bytes += w[i].size;
		ram_fd = memfd_create("xv-fake-guest-ram", MFD_CLOEXEC);
		if (ram_fd < 0)
			abort();
	}
	/* Truncating drops the pages the last input touched. */
	if (ftruncate(ram_fd, 0) || ftruncate(ram_fd, ram_bytes))
		abort();
	map_calls = failed_maps = 0;
}

void fake_ram_read(uint64_t off, void *buf, size_t len)
{
	if (pread(ram_fd, buf, len, off) != (ssize_t)len)
		abort();
}

void fake_ram_write(uint64_t off, const void *buf, size_t len)
{
	if (pwrite(ram_fd, buf, len, off) != (ssize_t)len)
		abort();
}

const struct fake_map *fake_find(const void *p)
{
	const uint8_t *b = p;

	for (unsigned int i = 0; i < n_maps; i++)
		if (b >= maps[i].addr &&
		    (uint64_t)(b - maps[i].addr) < maps[i].pages * FAKE_PAGE)
			return &maps[i];
	return NULL;
}

uint64_t fake_mapped_bytes(bool pins)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < n_maps; i++)
		if (maps[i].pin == pins)
			n += maps[i].pages * FAKE_PAGE;
	return n;
}

unsigned int fake_live_maps(void)
{
	return n_maps;
}

unsigned int fake_open_handles(void)
{
	return fm_open + xc_open;
}

unsigned int fake_failed_maps(void)
{
	return failed_maps;
}

static void *map_failed(int err)
{
	failed_maps++;
	errno = err;
	return NULL;
}

static struct fake_map *new_map(uint8_t *addr, uint64_t pages, uint64_t pfn)
{
	struct fake_map *m;

	if (n_maps == cap_maps) {
		unsigned int cap = cap_maps ? 2 * cap_maps : 64;

		m = realloc(maps, cap * sizeof(*m));
		if (!m)
			return NULL;
		maps = m;
		cap_maps = cap;
	}
	m = &maps[n_maps];
	*m = (struct fake_map){ addr, pages, pfn, calloc(pages, 1), fake_pinning };
	if (!m->ok)
		return NULL;
	n_maps++;
	return m;
}

/* Map the frames Xen gives, in runs that are contiguous in the RAM file
 * (the frames are consecutive, checked by the caller). */
static void fill_map(struct fake_map *m, const xen_pfn_t arr[], int err[])
{
	uint64_t i = 0, run, off, gpa;

	while (i < m->pages) {
		run = 0;
		gpa = (arr[0] + i) * FAKE_PAGE;
		if (arr[0] + i <= UINT64_MAX / FAKE_PAGE && fake_ram_offset(gpa, &off))
			run = fake_usable(gpa, (m->pages - i) * FAKE_PAGE,
					  fake.max_pages * FAKE_PAGE) / FAKE_PAGE;
		if (!run) {
			err[i++] = fake.enoent ? -ENOENT : -EINVAL;
			continue;
		}
		if (mmap(m->addr + i * FAKE_PAGE, run * FAKE_PAGE,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram_fd,
			 off) == MAP_FAILED)
			abort();
		memset(m->ok + i, 1, run);
		memset(err + i, 0, run * sizeof(*err));
		i += run;
	}
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
			   int prot, size_t pages, const xen_pfn_t arr[],
			   int err[])
{
	struct fake_map *m;
	uint8_t *addr;

	if (fmem != (xenforeignmemory_handle *)&fm_token || !fm_open ||
	    dom != fake.domid || !pages)
		abort();
	/* gmem_xen.c finds a page by its offset from the mapping's start. */
	for (size_t i = 1; i < pages; i++)
		if (arr[i] != arr[0] + i)
			abort();
	/* The core charges a chunk before it is mapped. */
	if (!fake_pinning && fake_map_budget &&
	    fake_mapped_bytes(false) + pages * FAKE_PAGE > fake_map_budget)
		abort();
	if (fake.fail_map && ++map_calls == fake.fail_map)
		return map_failed(ENOMEM);
	if (fake.gone)
		return map_failed(ESRCH);
	addr = mmap(NULL, pages * FAKE_PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (addr == MAP_FAILED)
		return map_failed(ENOMEM);
	m = new_map(addr, pages, arr[0]);
	if (!m) {
		munmap(addr, pages * FAKE_PAGE);
		return map_failed(ENOMEM);
	}
	fill_map(m, arr, err);
	return addr;
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
			   size_t pages)
{
	unsigned int i;

	if (fmem != (xenforeignmemory_handle *)&fm_token || !fm_open)
		abort();
	for (i = 0; i < n_maps && maps[i].addr != addr; i++)
		;
	if (i == n_maps || maps[i].pages != pages)
		abort();	/* not what was mapped */
	munmap(addr, pages * FAKE_PAGE);
	free(maps[i].ok);
	maps[i] = maps[--n_maps];
	return 0;
}

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
					       unsigned int open_flags)
{
	if (fake.no_fm) {
		errno = EACCES;
		return NULL;
	}
	fm_open++;
	return (xenforeignmemory_handle *)&fm_token;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
	if (fmem != (xenforeignmemory_handle *)&fm_token || !fm_open--)
		abort();
	return 0;
}

xc_interface *xc_interface_open(xentoollog_logger *logger,
				xentoollog_logger *dombuild_logger,
				unsigned int open_flags)
{
	if (fake.no_xc) {
		errno = EACCES;
		return NULL;
	}
	xc_open++;
	return (xc_interface *)&xc_token;
}

int xc_interface_close(xc_interface *xch)
{
	if (xch != (xc_interface *)&xc_token || !xc_open--)
		abort();
	return 0;
}

/* Domains from first_domain on, as Xen lists them. */
int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
			  unsigned int max_domains, xc_domaininfo_t *info)
{
	if (xch != (xc_interface *)&xc_token || !xc_open || !max_domains ||
	    first_domain != fake.domid)
		abort();
	if (fake.gone && !fake.gone_next)
		return 0;
	memset(info, 0, sizeof(*info));
	info->domain = fake.gone ? first_domain + 1 : first_domain;
	info->max_pages = fake.gone ? 1ull << 20 : fake.max_pages;
	return 1;
}
