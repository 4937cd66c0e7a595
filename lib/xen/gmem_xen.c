// SPDX-License-Identifier: MIT
/*
 * Foreign-memory guest RAM with a chunked mapping cache (see xengmem.h).
 *
 * The banks span the architecture's whole RAM windows; the chunk table is
 * sparse (groups of chunks allocated on first use), and whether a chunk is
 * RAM is decided when it is first mapped, from the domain's max_pages read
 * at that moment: the daemon may attach before libxl has sized the guest.
 *
 * Each generation (gmem.h) has a chunk table of its own. Lookups are
 * lock-free: group and chunk pointers are published with release semantics.
 * Creation is serialised by a mutex; a table is unmapped when the core says
 * its last hold is gone. A buffer's whole range is checked against the
 * domain's RAM before any of it is mapped, so a hostile length costs one
 * check, not a mapping of every chunk up to the end of RAM.
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
#define GROUP_SHIFT 9			/* 512 chunks: 2 GiB per group */
#define GROUP_CHUNKS (1u << GROUP_SHIFT)
/* Cached mappings per generation before a new one is started (gmem.h). */
#define XGMEM_CACHE_MAX (1ull << 30)
/* Cached mappings of all generations alive (see gmem.h). */
#define XGMEM_MAP_BUDGET (8ull << 30)

struct chunk {
	_Atomic(uint8_t *) ptr;
	uint32_t pages;			/* mapped pages (last chunk may be short) */
	bool failed;			/* the whole chunk could not be mapped */
	uint8_t *bad;			/* per-page: refused by Xen (or NULL) */
	/* Refused pages mapped later, one by one (or NULL). */
	_Atomic(_Atomic(uint8_t *) *) late;
};

struct bank {
	uint64_t base;
	uint64_t size;
	uint64_t n_groups;
	_Atomic uint64_t ram;		/* RAM bytes last seen in the bank */
};

/* One generation's mappings: chunk groups per bank. */
struct xcache {
	atomic_ulong bytes;
	_Atomic(struct chunk *) *groups[XGMEM_MAX_BANKS];
};

struct xgmem {
	struct gmem gm;
	uint32_t domid;
	xc_interface *xch;
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
	mem -= low;
	banks[1] = (struct xgmem_bank){ GUEST_RAM1_BASE,
					mem < GUEST_RAM1_SIZE ? mem : GUEST_RAM1_SIZE };
	return 2;
#else
	/* x86 HVM/PVH: RAM below the MMIO hole, the rest above 4 GiB. */
	const uint64_t hole = 0xf0000000ull, four_g = 1ull << 32;
	const uint64_t high_max = 1ull << 40;
	uint64_t low = mem < hole ? mem : hole;

	banks[0] = (struct xgmem_bank){ 0, low };
	if (mem == low)
		return 1;
	mem -= low;
	banks[1] = (struct xgmem_bank){ four_g, mem < high_max ? mem : high_max };
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

/* Bytes of RAM the domain has in bank b now, from its max_pages. */
static uint64_t bank_ram_now(struct xgmem *x, struct bank *b)
{
	struct xgmem_bank now[XGMEM_MAX_BANKS];
	xc_domaininfo_t info;
	unsigned int n;

	if (!x->xch)			/* sealed: the size is known for good */
		return atomic_load(&b->ram);
	if (xc_domain_getinfolist(x->xch, x->domid, 1, &info) != 1 ||
	    info.domain != x->domid)
		return 0;
	n = xgmem_guest_banks((uint64_t)info.max_pages << PAGE_SHIFT, now);
	for (unsigned int i = 0; i < n; i++) {
		if (now[i].base == b->base) {
			uint64_t ram = now[i].size < b->size ? now[i].size : b->size;

			atomic_store(&b->ram, ram);
			return ram;
		}
	}
	atomic_store(&b->ram, 0);
	return 0;
}

static unsigned int bank_index(struct xgmem *x, const struct bank *b)
{
	return b - x->banks;
}

static struct chunk *get_chunk(struct xgmem *x, struct xcache *xc,
			       struct bank *b, uint64_t idx, bool create)
{
	_Atomic(struct chunk *) *slot =
		&xc->groups[bank_index(x, b)][idx >> GROUP_SHIFT];
	struct chunk *g = atomic_load_explicit(slot, memory_order_acquire);

	if (!g && create) {
		g = calloc(GROUP_CHUNKS, sizeof(*g));
		if (g)
			atomic_store_explicit(slot, g, memory_order_release);
	}
	return g ? &g[idx & (GROUP_CHUNKS - 1)] : NULL;
}

static uint8_t *map_chunk(struct xgmem *x, struct xcache *xc, struct bank *b,
			  uint64_t idx)
{
	uint64_t off = idx << CHUNK_SHIFT, ram;
	struct chunk *c;
	uint8_t *p = NULL;
	int *errs;

	pthread_mutex_lock(&x->map_lock);
	c = get_chunk(x, xc, b, idx, true);
	if (!c)
		goto out;
	p = atomic_load_explicit(&c->ptr, memory_order_acquire);
	if (p || c->failed)
		goto out;
	ram = bank_ram_now(x, b);
	if (off >= ram) {
		c->failed = true;	/* not RAM (until the next invalidation) */
		goto out;
	}
	c->pages = ((ram - off) < CHUNK_SIZE ? (ram - off) : CHUNK_SIZE) >> PAGE_SHIFT;
	/* Over the budget: refused now, not remembered (holds will end). */
	if (!gmem_charge(&x->gm, (uint64_t)c->pages << PAGE_SHIFT))
		goto out;
	errs = c->pages ? calloc(c->pages, sizeof(*errs)) : NULL;
	if (errs)
		p = map_pages(x, (b->base + off) >> PAGE_SHIFT, c->pages, errs);
	if (!p) {
		log_warn("domain %u: cannot map guest RAM at 0x%" PRIx64 ": %m",
			 x->domid, b->base + off);
		gmem_uncharge(&x->gm, (uint64_t)c->pages << PAGE_SHIFT);
		c->failed = true;
		free(errs);
		goto out;
	}
	for (uint32_t i = 0; i < c->pages; i++) {
		if (!errs[i])
			continue;
		if (!c->bad)
			c->bad = calloc(c->pages, 1);
		if (!c->bad) {
			/* Not knowing which pages are refused: none is used. */
			xenforeignmemory_unmap(x->fm, p, c->pages);
			gmem_uncharge(&x->gm, (uint64_t)c->pages << PAGE_SHIFT);
			c->failed = true;
			free(errs);
			p = NULL;
			goto out;
		}
		c->bad[i] = 1;
	}
	free(errs);
	atomic_fetch_add(&xc->bytes, (uint64_t)c->pages << PAGE_SHIFT);
	atomic_store_explicit(&c->ptr, p, memory_order_release);
out:
	pthread_mutex_unlock(&x->map_lock);
	return p;
}

/*
 * A page Xen refused when its chunk was mapped may be RAM now: a guest that
 * gave a page back (ballooning) and took it again causes no invalidation.
 * Each use of a refused page asks Xen once more; a page it maps is kept in
 * the generation as a mapping of its own. NULL if it is still refused.
 */
static uint8_t *map_late(struct xgmem *x, struct xcache *xc, struct bank *b,
			 struct chunk *c, uint64_t idx, uint64_t pg)
{
	_Atomic(uint8_t *) *late = atomic_load_explicit(&c->late, memory_order_acquire);
	uint8_t *p = late ? atomic_load_explicit(&late[pg], memory_order_acquire) : NULL;
	int err = 0;

	if (p)
		return p;
	pthread_mutex_lock(&x->map_lock);
	late = atomic_load(&c->late);
	if (!late) {
		late = calloc(c->pages, sizeof(*late));
		if (late)
			atomic_store_explicit(&c->late, late, memory_order_release);
	}
	p = late ? atomic_load(&late[pg]) : NULL;
	if (!late || p || !gmem_charge(&x->gm, PAGE_SIZE))
		goto out;
	p = map_pages(x, ((b->base + (idx << CHUNK_SHIFT)) >> PAGE_SHIFT) + pg, 1, &err);
	if (p && err) {
		xenforeignmemory_unmap(x->fm, p, 1);
		p = NULL;
	}
	if (!p) {
		gmem_uncharge(&x->gm, PAGE_SIZE);
		goto out;
	}
	atomic_fetch_add(&xc->bytes, PAGE_SIZE);
	atomic_store_explicit(&late[pg], p, memory_order_release);
out:
	pthread_mutex_unlock(&x->map_lock);
	return p;
}

static void *xg_map(struct gmem *gm, void *cache, uint64_t gpa, uint64_t len,
		    uint64_t *contig)
{
	struct xgmem *x = to_x(gm);
	struct xcache *xc = cache;
	struct bank *b = find_bank(x, gpa);
	uint64_t off, idx, in_chunk, avail;
	struct chunk *c;
	uint8_t *p;

	if (!b)
		return NULL;
	off = gpa - b->base;
	idx = off >> CHUNK_SHIFT;
	c = get_chunk(x, xc, b, idx, false);
	p = c ? atomic_load_explicit(&c->ptr, memory_order_acquire) : NULL;
	if (!p) {
		p = map_chunk(x, xc, b, idx);
		if (!p)
			return NULL;
		c = get_chunk(x, xc, b, idx, false);
	}
	in_chunk = off & (CHUNK_SIZE - 1);
	if (in_chunk >= ((uint64_t)c->pages << PAGE_SHIFT))
		return NULL;
	avail = ((uint64_t)c->pages << PAGE_SHIFT) - in_chunk;
	if (c->bad) {
		uint64_t pg = in_chunk >> PAGE_SHIFT, end = pg;

		if (c->bad[pg]) {
			uint64_t in_page = in_chunk & (PAGE_SIZE - 1);

			p = map_late(x, xc, b, c, idx, pg);
			if (!p)
				return NULL;
			avail = PAGE_SIZE - in_page;
			*contig = len < avail ? len : avail;
			return p + in_page;
		}
		while (end < c->pages && !c->bad[end])
			end++;
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

static void *xg_cache_new(struct gmem *gm)
{
	struct xgmem *x = to_x(gm);
	struct xcache *xc = calloc(1, sizeof(*xc));

	if (!xc)
		return NULL;
	for (unsigned int i = 0; i < x->n_banks; i++) {
		xc->groups[i] = calloc(x->banks[i].n_groups, sizeof(*xc->groups[i]));
		if (!xc->groups[i])
			goto fail;
	}
	return xc;
fail:
	for (unsigned int i = 0; i < x->n_banks; i++)
		free(xc->groups[i]);
	free(xc);
	return NULL;
}

static void free_late(struct gmem *gm, struct chunk *c)
{
	_Atomic(uint8_t *) *late = atomic_load(&c->late);

	for (uint32_t i = 0; late && i < c->pages; i++) {
		uint8_t *p = atomic_load(&late[i]);

		if (p) {
			xenforeignmemory_unmap(to_x(gm)->fm, p, 1);
			gmem_uncharge(gm, PAGE_SIZE);
		}
	}
	free(late);
}

static void xg_cache_free(struct gmem *gm, void *cache)
{
	struct xgmem *x = to_x(gm);
	struct xcache *xc = cache;

	for (unsigned int i = 0; i < x->n_banks; i++) {
		for (uint64_t g = 0; g < x->banks[i].n_groups; g++) {
			struct chunk *grp = atomic_load(&xc->groups[i][g]);

			for (unsigned int j = 0; grp && j < GROUP_CHUNKS; j++) {
				uint8_t *p = atomic_load(&grp[j].ptr);

				free_late(gm, &grp[j]);
				free(grp[j].bad);
				if (!p)
					continue;
				xenforeignmemory_unmap(x->fm, p, grp[j].pages);
				gmem_uncharge(gm, (uint64_t)grp[j].pages << PAGE_SHIFT);
			}
			free(grp);
		}
		free(xc->groups[i]);
	}
	free(xc);
}

static uint64_t xg_cache_bytes(struct gmem *gm, void *cache)
{
	(void)gm;
	return atomic_load(&((struct xcache *)cache)->bytes);
}

/* The range lies in one bank, below the RAM the domain has there now. */
static bool xg_range_ok(struct gmem *gm, uint64_t gpa, uint64_t len)
{
	struct xgmem *x = to_x(gm);
	struct bank *b = find_bank(x, gpa);
	uint64_t end;
	bool ok;

	if (!b || len > b->size - (gpa - b->base))
		return false;
	end = gpa - b->base + len;
	if (end <= atomic_load(&b->ram))
		return true;
	/* The guest may have grown since: ask Xen once more. */
	pthread_mutex_lock(&x->map_lock);
	ok = end <= bank_ram_now(x, b);
	pthread_mutex_unlock(&x->map_lock);
	return ok;
}

static void xg_destroy(struct gmem *gm)
{
	struct xgmem *x = to_x(gm);

	xenforeignmemory_close(x->fm);
	if (x->xch)
		xc_interface_close(x->xch);
	pthread_mutex_destroy(&x->map_lock);
	free(x);
}

static const struct gmem_ops xg_ops = {
	.cache_new = xg_cache_new,
	.cache_free = xg_cache_free,
	.cache_bytes = xg_cache_bytes,
	.map = xg_map,
	.range_ok = xg_range_ok,
	.pin = xg_pin,
	.unpin = xg_unpin,
	.destroy = xg_destroy,
};

void xgmem_seal(struct gmem *gm)
{
	struct xgmem *x = to_x(gm);

	pthread_mutex_lock(&x->map_lock);
	for (unsigned int i = 0; i < x->n_banks; i++)
		bank_ram_now(x, &x->banks[i]);
	if (x->xch)
		xc_interface_close(x->xch);
	x->xch = NULL;
	pthread_mutex_unlock(&x->map_lock);
}

struct gmem *xgmem_new(uint32_t domid)
{
	struct xgmem_bank banks[XGMEM_MAX_BANKS];
	struct xgmem *x = calloc(1, sizeof(*x));
	unsigned int n = xgmem_guest_banks(UINT64_MAX, banks);

	if (!x)
		return NULL;
	x->domid = domid;
	x->fm = xenforeignmemory_open(NULL, 0);
	x->xch = xc_interface_open(NULL, NULL, 0);
	if (!x->fm || !x->xch)
		goto fail;
	pthread_mutex_init(&x->map_lock, NULL);
	for (unsigned int i = 0; i < n; i++) {
		struct bank *b = &x->banks[i];
		uint64_t chunks;

		b->base = banks[i].base;
		b->size = banks[i].size & ~(PAGE_SIZE - 1);
		chunks = (b->size + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
		b->n_groups = (chunks + GROUP_CHUNKS - 1) >> GROUP_SHIFT;
		x->n_banks++;
	}
	if (gmem_init(&x->gm, &xg_ops, x)) {
		pthread_mutex_destroy(&x->map_lock);
		goto fail;
	}
	gmem_set_cache_max(&x->gm, XGMEM_CACHE_MAX);
	gmem_set_map_budget(&x->gm, XGMEM_MAP_BUDGET);
	return &x->gm;
fail:
	if (x->fm)
		xenforeignmemory_close(x->fm);
	if (x->xch)
		xc_interface_close(x->xch);
	free(x);
	return NULL;
}
