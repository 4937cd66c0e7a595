// SPDX-License-Identifier: MIT
/*
 * Foreign-memory guest RAM with a chunked mapping cache (see xengmem.h).
 *
 * Lookups are lock-free: a chunk's pointer is published with release
 * semantics once mapped. Creation is serialised by a mutex; invalidation
 * runs with the gmem write lock held, so no reader holds a pointer then.
 */
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#if defined(__aarch64__) || defined(__arm__)
#include <xen/arch-arm.h>
#endif

#include "log.h"
#include "xengmem.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define CHUNK_SHIFT 22			/* 4 MiB */
#define CHUNK_SIZE (1ull << CHUNK_SHIFT)
#define CHUNK_PAGES (CHUNK_SIZE >> PAGE_SHIFT)

struct chunk {
	_Atomic(uint8_t *) ptr;
	uint32_t pages;			/* mapped pages (last chunk may be short) */
	bool failed;			/* the whole chunk could not be mapped */
	uint8_t *bad;			/* per-page: refused by Xen (or NULL) */
};

struct bank {
	uint64_t base;
	uint64_t size;
	uint64_t n_chunks;
	struct chunk *chunks;
};

struct xgmem {
	struct gmem gm;
	uint32_t domid;
	xenforeignmemory_handle *fm;
	pthread_mutex_t map_lock;
	unsigned int n_banks;
	struct bank banks[XGMEM_MAX_BANKS];
};

struct pin {
	void *base;
	uint64_t pages;
};

unsigned int xgmem_guest_banks(uint64_t mem, struct xgmem_bank banks[XGMEM_MAX_BANKS])
{
#if defined(__aarch64__) || defined(__arm__)
	/* libxl fills bank 0 first and puts the rest in bank 1. */
	uint64_t low = mem < GUEST_RAM0_SIZE ? mem : GUEST_RAM0_SIZE;

	banks[0] = (struct xgmem_bank){ GUEST_RAM0_BASE, low };
	if (mem == low)
		return 1;
	banks[1] = (struct xgmem_bank){ GUEST_RAM1_BASE, mem - low };
	return 2;
#else
	/* x86 HVM/PVH: RAM below the MMIO hole, the rest above 4 GiB. */
	const uint64_t hole = 0xf0000000ull, four_g = 1ull << 32;
	uint64_t low = mem < hole ? mem : hole;

	banks[0] = (struct xgmem_bank){ 0, low };
	if (mem == low)
		return 1;
	banks[1] = (struct xgmem_bank){ four_g, mem - low };
	return 2;
#endif
}

static struct xgmem *to_x(struct gmem *gm)
{
	return gm->priv;
}

static struct bank *find_bank(struct xgmem *x, uint64_t gpa)
{
	for (unsigned int i = 0; i < x->n_banks; i++)
		if (gpa >= x->banks[i].base && gpa - x->banks[i].base < x->banks[i].size)
			return &x->banks[i];
	return NULL;
}

static void *map_pages(struct xgmem *x, uint64_t first_pfn, uint64_t n, int *errs)
{
	xen_pfn_t *pfns = malloc(n * sizeof(*pfns));
	void *p;

	if (!pfns)
		return NULL;
	for (uint64_t i = 0; i < n; i++)
		pfns[i] = first_pfn + i;
	p = xenforeignmemory_map(x->fm, x->domid, PROT_READ | PROT_WRITE, n, pfns, errs);
	free(pfns);
	return p;
}

static uint8_t *map_chunk(struct xgmem *x, struct bank *b, uint64_t idx)
{
	struct chunk *c = &b->chunks[idx];
	uint64_t off = idx << CHUNK_SHIFT, len = b->size - off;
	uint8_t *p;
	int *errs;

	pthread_mutex_lock(&x->map_lock);
	p = atomic_load_explicit(&c->ptr, memory_order_acquire);
	if (p || c->failed)
		goto out;
	c->pages = (len < CHUNK_SIZE ? len : CHUNK_SIZE) >> PAGE_SHIFT;
	errs = calloc(c->pages, sizeof(*errs));
	if (errs)
		p = map_pages(x, (b->base + off) >> PAGE_SHIFT, c->pages, errs);
	if (!p) {
		log_warn("domain %u: cannot map guest RAM at 0x%" PRIx64 ": %m",
			 x->domid, b->base + off);
		c->failed = true;
		free(errs);
		goto out;
	}
	for (uint32_t i = 0; i < c->pages; i++) {
		if (!errs[i])
			continue;
		if (!c->bad)
			c->bad = calloc(c->pages, 1);
		if (c->bad)
			c->bad[i] = 1;
	}
	free(errs);
	atomic_store_explicit(&c->ptr, p, memory_order_release);
out:
	pthread_mutex_unlock(&x->map_lock);
	return p;
}

static void *xg_map(struct gmem *gm, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	struct xgmem *x = to_x(gm);
	struct bank *b = find_bank(x, gpa);
	uint64_t off, idx, in_chunk, avail;
	struct chunk *c;
	uint8_t *p;

	if (!b)
		return NULL;
	off = gpa - b->base;
	idx = off >> CHUNK_SHIFT;
	c = &b->chunks[idx];
	p = atomic_load_explicit(&c->ptr, memory_order_acquire);
	if (!p && !(p = map_chunk(x, b, idx)))
		return NULL;
	in_chunk = off & (CHUNK_SIZE - 1);
	avail = ((uint64_t)c->pages << PAGE_SHIFT) - in_chunk;
	if (c->bad) {
		uint64_t pg = in_chunk >> PAGE_SHIFT, end = pg;

		while (end < c->pages && !c->bad[end])
			end++;
		if (end == pg)
			return NULL;
		avail = (end << PAGE_SHIFT) - in_chunk;
	}
	*contig = len < avail ? len : avail;
	return p + in_chunk;
}

static void *xg_pin(struct gmem *gm, uint64_t gpa, uint64_t len, void **cookie)
{
	struct xgmem *x = to_x(gm);
	uint64_t first = gpa >> PAGE_SHIFT, last = (gpa + len - 1) >> PAGE_SHIFT;
	uint64_t n = last - first + 1;
	struct bank *b = find_bank(x, gpa);
	struct pin *pin;
	int *errs;

	/* The whole range in one bank: a ring in MMIO or a hole is refused. */
	if (!b || gpa + len - 1 - b->base >= b->size || n > (1u << 20))
		return NULL;
	pin = calloc(1, sizeof(*pin));
	errs = calloc(n, sizeof(*errs));
	if (!pin || !errs)
		goto fail;
	pin->base = map_pages(x, first, n, errs);
	if (!pin->base)
		goto fail;
	for (uint64_t i = 0; i < n; i++) {
		if (errs[i]) {
			xenforeignmemory_unmap(x->fm, pin->base, n);
			goto fail;
		}
	}
	free(errs);
	pin->pages = n;
	*cookie = pin;
	return (uint8_t *)pin->base + (gpa & (PAGE_SIZE - 1));
fail:
	free(errs);
	free(pin);
	return NULL;
}

static void xg_unpin(struct gmem *gm, void *cookie)
{
	struct pin *pin = cookie;

	xenforeignmemory_unmap(to_x(gm)->fm, pin->base, pin->pages);
	free(pin);
}

static void drop_chunks(struct xgmem *x)
{
	for (unsigned int i = 0; i < x->n_banks; i++) {
		struct bank *b = &x->banks[i];

		for (uint64_t j = 0; j < b->n_chunks; j++) {
			struct chunk *c = &b->chunks[j];
			uint8_t *p = atomic_load(&c->ptr);

			if (p)
				xenforeignmemory_unmap(x->fm, p, c->pages);
			free(c->bad);
			memset(c, 0, sizeof(*c));
		}
	}
}

static void xg_invalidate(struct gmem *gm)
{
	drop_chunks(to_x(gm));
}

static void xg_destroy(struct gmem *gm)
{
	struct xgmem *x = to_x(gm);

	drop_chunks(x);
	for (unsigned int i = 0; i < x->n_banks; i++)
		free(x->banks[i].chunks);
	xenforeignmemory_close(x->fm);
	pthread_mutex_destroy(&x->map_lock);
	free(x);
}

static const struct gmem_ops xg_ops = {
	.map = xg_map,
	.pin = xg_pin,
	.unpin = xg_unpin,
	.invalidate = xg_invalidate,
	.destroy = xg_destroy,
};

struct gmem *xgmem_new(uint32_t domid, const struct xgmem_bank *banks,
		       unsigned int n_banks)
{
	struct xgmem *x = calloc(1, sizeof(*x));

	if (!x || n_banks > XGMEM_MAX_BANKS)
		goto fail;
	x->domid = domid;
	x->fm = xenforeignmemory_open(NULL, 0);
	if (!x->fm)
		goto fail;
	pthread_mutex_init(&x->map_lock, NULL);
	for (unsigned int i = 0; i < n_banks; i++) {
		struct bank *b = &x->banks[i];

		b->base = banks[i].base;
		b->size = banks[i].size & ~(PAGE_SIZE - 1);
		b->n_chunks = (b->size + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
		b->chunks = calloc(b->n_chunks ? b->n_chunks : 1, sizeof(*b->chunks));
		if (!b->chunks)
			goto fail_banks;
		x->n_banks++;
		log_info("domain %u: guest RAM bank 0x%" PRIx64 "-0x%" PRIx64,
			 domid, b->base, b->base + b->size - 1);
	}
	gmem_init(&x->gm, &xg_ops, x);
	return &x->gm;
fail_banks:
	for (unsigned int i = 0; i < x->n_banks; i++)
		free(x->banks[i].chunks);
	xenforeignmemory_close(x->fm);
fail:
	free(x);
	return NULL;
}
