// SPDX-License-Identifier: MIT
/*
 * Guest memory that is plain host memory: regions registered by the caller
 * (see gmem.h). Buffer regions are used as they are; file regions are
 * mapped chunk by chunk into each generation's cache, as a hypervisor
 * backend maps guest RAM, so that the tests see mappings come and go.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gmem.h"

#define PLAIN_MAX_REGIONS 8
#define PLAIN_FD_CHUNK (64u << 10)	/* file regions without a chunk size */

struct plain_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;			/* buffer region, or NULL */
	int fd;				/* file region */
	uint64_t chunks;
};

struct gmem_plain {
	struct gmem gm;
	uint64_t chunk;
	unsigned int n;
	pthread_mutex_t map_lock;
	struct plain_region r[PLAIN_MAX_REGIONS];
};

/* One generation's views of the file regions, by region and chunk. */
struct plain_cache {
	atomic_ulong bytes;
	_Atomic(uint8_t *) *views[PLAIN_MAX_REGIONS];
};

struct plain_pin {
	uint8_t *base;
	uint64_t len;
};

static struct gmem_plain *to_plain(struct gmem *gm)
{
	return gm->priv;
}

static uint64_t fd_chunk(const struct gmem_plain *p)
{
	return p->chunk ? p->chunk : PLAIN_FD_CHUNK;
}

static int find(struct gmem_plain *p, uint64_t gpa)
{
	for (unsigned int i = 0; i < p->n; i++)
		if (gpa >= p->r[i].gpa && gpa - p->r[i].gpa < p->r[i].size)
			return i;
	return -1;
}

static void *cache_new(struct gmem *gm)
{
	struct gmem_plain *p = to_plain(gm);
	struct plain_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	for (unsigned int i = 0; i < p->n; i++) {
		if (p->r[i].host)
			continue;
		c->views[i] = calloc(p->r[i].chunks, sizeof(*c->views[i]));
		if (!c->views[i])
			goto fail;
	}
	return c;
fail:
	for (unsigned int i = 0; i < PLAIN_MAX_REGIONS; i++)
		free(c->views[i]);
	free(c);
	return NULL;
}

static void cache_free(struct gmem *gm, void *cache)
{
	struct gmem_plain *p = to_plain(gm);
	struct plain_cache *c = cache;

	for (unsigned int i = 0; i < PLAIN_MAX_REGIONS; i++) {
		for (uint64_t j = 0; c->views[i] && j < p->r[i].chunks; j++) {
			uint8_t *v = atomic_load(&c->views[i][j]);

			if (v) {
				munmap(v, fd_chunk(p));
				gmem_uncharge(gm, fd_chunk(p));
			}
		}
		free(c->views[i]);
	}
	free(c);
}

static uint64_t cache_bytes(struct gmem *gm, void *cache)
{
	return atomic_load(&((struct plain_cache *)cache)->bytes);
}

/* The view of chunk j of file region i in cache c, mapped on first use. */
static uint8_t *view(struct gmem_plain *p, struct plain_cache *c,
		     unsigned int i, uint64_t j)
{
	const struct plain_region *r = &p->r[i];
	uint8_t *v = atomic_load_explicit(&c->views[i][j], memory_order_acquire);

	if (v || !c->views[i])
		return v;
	pthread_mutex_lock(&p->map_lock);
	v = atomic_load(&c->views[i][j]);
	if (!v && gmem_charge(&p->gm, fd_chunk(p))) {
		v = mmap(NULL, fd_chunk(p), PROT_READ | PROT_WRITE, MAP_SHARED,
			 r->fd, j * fd_chunk(p));
		if (v == MAP_FAILED) {
			gmem_uncharge(&p->gm, fd_chunk(p));
			v = NULL;
		} else {
			atomic_fetch_add(&c->bytes, fd_chunk(p));
			atomic_store_explicit(&c->views[i][j], v,
					      memory_order_release);
		}
	}
	pthread_mutex_unlock(&p->map_lock);
	return v;
}

static void *plain_map(struct gmem *gm, void *cache, uint64_t gpa,
		       uint64_t len, uint64_t *contig)
{
	struct gmem_plain *p = to_plain(gm);
	int i = find(p, gpa);
	const struct plain_region *r;
	uint64_t off, avail, in_chunk;
	uint8_t *v;

	if (i < 0)
		return NULL;
	r = &p->r[i];
	off = gpa - r->gpa;
	avail = r->size - off;
	if (r->host) {
		if (p->chunk && p->chunk - (gpa % p->chunk) < avail)
			avail = p->chunk - (gpa % p->chunk);
		*contig = len < avail ? len : avail;
		return r->host + off;
	}
	v = view(p, cache, i, off / fd_chunk(p));
	if (!v)
		return NULL;
	in_chunk = off % fd_chunk(p);
	if (fd_chunk(p) - in_chunk < avail)
		avail = fd_chunk(p) - in_chunk;
	*contig = len < avail ? len : avail;
	return v + in_chunk;
}

static bool plain_range_ok(struct gmem *gm, uint64_t gpa, uint64_t len)
{
	struct gmem_plain *p = to_plain(gm);
	int i = find(p, gpa);

	return i >= 0 && len <= p->r[i].size - (gpa - p->r[i].gpa);
}

static void *plain_pin(struct gmem *gm, uint64_t gpa, uint64_t len,
		       void **cookie)
{
	struct gmem_plain *p = to_plain(gm);
	int i = find(p, gpa);
	const struct plain_region *r;
	struct plain_pin *pin;
	uint64_t first, end;
	uint8_t *v;

	*cookie = NULL;
	if (i < 0 || len > p->r[i].size - (gpa - p->r[i].gpa))
		return NULL;
	r = &p->r[i];
	if (r->host)
		return r->host + (gpa - r->gpa);
	/* A mapping of its own, page-aligned, that outlives generations. */
	first = (gpa - r->gpa) & ~(uint64_t)(getpagesize() - 1);
	end = gpa - r->gpa + len;
	pin = malloc(sizeof(*pin));
	if (!pin)
		return NULL;
	v = mmap(NULL, end - first, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		 first);
	if (v == MAP_FAILED) {
		free(pin);
		return NULL;
	}
	*pin = (struct plain_pin){ v, end - first };
	*cookie = pin;
	return v + (gpa - r->gpa - first);
}

static void plain_unpin(struct gmem *gm, void *cookie)
{
	struct plain_pin *pin = cookie;

	(void)gm;
	if (!pin)
		return;
	munmap(pin->base, pin->len);
	free(pin);
}

static void plain_destroy(struct gmem *gm)
{
	struct gmem_plain *p = to_plain(gm);

	pthread_mutex_destroy(&p->map_lock);
	free(p);
}

static const struct gmem_ops plain_ops = {
	.cache_new = cache_new,
	.cache_free = cache_free,
	.cache_bytes = cache_bytes,
	.map = plain_map,
	.range_ok = plain_range_ok,
	.pin = plain_pin,
	.unpin = plain_unpin,
	.destroy = plain_destroy,
};

struct gmem *gmem_plain_new(uint64_t chunk_size)
{
	struct gmem_plain *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->chunk = chunk_size;
	pthread_mutex_init(&p->map_lock, NULL);
	if (gmem_init(&p->gm, &plain_ops, p)) {
		pthread_mutex_destroy(&p->map_lock);
		free(p);
		return NULL;
	}
	return &p->gm;
}

static int add_region(struct gmem *gm, const struct plain_region *nr)
{
	struct gmem_plain *p = to_plain(gm);

	if (p->n == PLAIN_MAX_REGIONS)
		return -ENOSPC;
	if (!gmem_range_ok(nr->gpa, nr->size))
		return -EINVAL;
	p->r[p->n++] = *nr;
	/* The current cache was made without this region: start another. */
	gmem_invalidate(gm);
	return 0;
}

int gmem_plain_add(struct gmem *gm, uint64_t gpa, void *host, uint64_t size)
{
	return add_region(gm, &(struct plain_region){
		.gpa = gpa, .size = size, .host = host, .fd = -1 });
}

int gmem_plain_add_fd(struct gmem *gm, uint64_t gpa, int fd, uint64_t size)
{
	struct gmem_plain *p = to_plain(gm);
	uint64_t c = fd_chunk(p);

	if (c % getpagesize() || gpa % getpagesize())
		return -EINVAL;
	return add_region(gm, &(struct plain_region){
		.gpa = gpa, .size = size, .fd = fd, .chunks = (size + c - 1) / c });
}
