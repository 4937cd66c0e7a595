// SPDX-License-Identifier: MIT
/*
 * Guest memory generations and holds (see gmem.h).
 *
 * A generation's reference count is its holds plus one while it is the
 * current generation. Holds are taken under gm->lock from the current
 * generation only, which itself holds a reference, so a count never rises
 * from zero: whoever drops it to zero frees the generation's mappings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gmem.h"
#include "log.h"

struct gmem_hold {
	struct gmem *gm;
	void *cache;
	atomic_ulong refs;
};

static struct vlog_limit gen_log = VLOG_LIMIT_INIT;

static struct gmem_hold *gen_new(struct gmem *gm)
{
	struct gmem_hold *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->gm = gm;
	g->cache = gm->ops->cache_new(gm);
	if (!g->cache) {
		free(g);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	return g;
}

static void gen_put(struct gmem_hold *g)
{
	struct gmem *gm = g->gm;

	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
		return;
	gm->ops->cache_free(gm, g->cache);
	free(g);
	atomic_fetch_sub(&gm->generations, 1);
}

int gmem_init(struct gmem *gm, const struct gmem_ops *ops, void *priv)
{
	memset(gm, 0, sizeof(*gm));
	gm->ops = ops;
	gm->priv = priv;
	gm->cur = gen_new(gm);
	if (!gm->cur)
		return -ENOMEM;
	atomic_init(&gm->generations, 1);
	atomic_init(&gm->holds, 0);
	atomic_init(&gm->mapped_total, 0);
	atomic_init(&gm->over_budget, 0);
	atomic_init(&gm->maps, 0);
	pthread_mutex_init(&gm->lock, NULL);
	return 0;
}

void gmem_destroy(struct gmem *gm)
{
	struct gmem_stats st;

	if (!gm)
		return;
	gmem_get_stats(gm, &st);
	if (st.holds)
		log_err("guest memory: %llu hold(s) outstanding at teardown",
			(unsigned long long)st.holds);
	gen_put(gm->cur);
	pthread_mutex_destroy(&gm->lock);
	gm->ops->destroy(gm);
}

/* Make next the current generation; the old one goes with its last hold. */
static struct gmem_hold *swap_gen(struct gmem *gm, struct gmem_hold *next)
{
	struct gmem_hold *old = gm->cur;

	gm->cur = next;
	atomic_fetch_add(&gm->generations, 1);
	return old;
}

struct gmem_hold *gmem_hold(struct gmem *gm)
{
	struct gmem_hold *g, *old = NULL;

	pthread_mutex_lock(&gm->lock);
	g = gm->cur;
	if (gm->cache_max && atomic_load(&gm->generations) < GMEM_MAX_GENERATIONS &&
	    gm->ops->cache_bytes(gm, g->cache) > gm->cache_max) {
		struct gmem_hold *next = gen_new(gm);

		if (next) {
			old = swap_gen(gm, next);
			gm->rotations++;
			g = next;
		}
	}
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&gm->holds, 1, memory_order_relaxed);
	pthread_mutex_unlock(&gm->lock);
	if (old)
		gen_put(old);
	return g;
}

void gmem_release(struct gmem_hold *h)
{
	struct gmem *gm;

	if (!h)
		return;
	gm = h->gm;
	atomic_fetch_sub_explicit(&gm->holds, 1, memory_order_relaxed);
	gen_put(h);
}

void gmem_invalidate(struct gmem *gm)
{
	struct gmem_hold *next = gen_new(gm), *old;

	if (!next) {
		/* Keeping the mappings is safe; only the memory is not freed. */
		vlog_limited(&gen_log, VLOG_ERR,
			     "guest memory: no memory to drop cached mappings");
		return;
	}
	pthread_mutex_lock(&gm->lock);
	old = swap_gen(gm, next);
	gm->invalidations++;
	pthread_mutex_unlock(&gm->lock);
	gen_put(old);
}

void gmem_set_cache_max(struct gmem *gm, uint64_t bytes)
{
	pthread_mutex_lock(&gm->lock);
	gm->cache_max = bytes;
	pthread_mutex_unlock(&gm->lock);
}

void gmem_set_map_budget(struct gmem *gm, uint64_t bytes)
{
	__atomic_store_n(&gm->map_budget, bytes, __ATOMIC_RELAXED);
}

bool gmem_charge(struct gmem *gm, uint64_t bytes)
{
	uint64_t total = atomic_fetch_add(&gm->mapped_total, bytes) + bytes;
	uint64_t budget = __atomic_load_n(&gm->map_budget, __ATOMIC_RELAXED);

	if (!budget || total <= budget) {
		atomic_fetch_add_explicit(&gm->maps, 1, memory_order_relaxed);
		return true;
	}
	atomic_fetch_sub(&gm->mapped_total, bytes);
	atomic_fetch_add(&gm->over_budget, 1);
	vlog_limited(&gen_log, VLOG_WARN,
		     "guest memory: %llu MiB mapped by requests still in flight; mapping budget of %llu MiB reached",
		     (unsigned long long)(total >> 20),
		     (unsigned long long)(budget >> 20));
	return false;
}

void gmem_uncharge(struct gmem *gm, uint64_t bytes)
{
	atomic_fetch_sub(&gm->mapped_total, bytes);
}

void gmem_get_stats(struct gmem *gm, struct gmem_stats *st)
{
	pthread_mutex_lock(&gm->lock);
	st->invalidations = gm->invalidations;
	st->rotations = gm->rotations;
	st->mapped = gm->ops->cache_bytes(gm, gm->cur->cache);
	pthread_mutex_unlock(&gm->lock);
	st->holds = atomic_load(&gm->holds);
	st->mapped_total = atomic_load(&gm->mapped_total);
	st->over_budget = atomic_load(&gm->over_budget);
	st->maps = atomic_load(&gm->maps);
	st->generations = atomic_load(&gm->generations);
}

bool gmem_range_ok(uint64_t gpa, uint64_t len)
{
	return len && gpa + len - 1 >= gpa;
}

bool gmem_is_ram(struct gmem *gm, uint64_t gpa, uint64_t len)
{
	if (!gmem_range_ok(gpa, len))
		return false;
	return !gm->ops->range_ok || gm->ops->range_ok(gm, gpa, len);
}

void *gmem_map(struct gmem_hold *h, uint64_t gpa, uint64_t len,
	       uint64_t *contig)
{
	if (!gmem_range_ok(gpa, len))
		return NULL;
	return h->gm->ops->map(h->gm, h->cache, gpa, len, contig);
}

void *gmem_map_all(struct gmem_hold *h, uint64_t gpa, uint64_t len)
{
	uint64_t contig;
	void *p = gmem_map(h, gpa, len, &contig);

	return p && contig == len ? p : NULL;
}

int gmem_pin(struct gmem *gm, uint64_t gpa, uint64_t len, struct gmem_pin *p)
{
	memset(p, 0, sizeof(*p));
	if (!gmem_is_ram(gm, gpa, len))
		return -EFAULT;
	p->ptr = gm->ops->pin(gm, gpa, len, &p->cookie);
	if (!p->ptr)
		return -EFAULT;
	p->gpa = gpa;
	p->len = len;
	return 0;
}

void gmem_unpin(struct gmem *gm, struct gmem_pin *p)
{
	if (p->ptr)
		gm->ops->unpin(gm, p->cookie);
	memset(p, 0, sizeof(*p));
}

static int gmem_copy(struct gmem_hold *h, uint64_t gpa, void *buf, size_t len,
		     bool to_guest)
{
	uint8_t *b = buf;

	if (!len)
		return 0;
	if (!gmem_is_ram(h->gm, gpa, len))
		return -EFAULT;
	while (len) {
		uint64_t contig;
		uint8_t *p = gmem_map(h, gpa, len, &contig);

		if (!p)
			return -EFAULT;
		if (to_guest)
			memcpy(p, b, contig);
		else
			memcpy(b, p, contig);
		b += contig;
		gpa += contig;
		len -= contig;
	}
	return 0;
}

int gmem_read_held(struct gmem_hold *h, uint64_t gpa, void *buf, size_t len)
{
	return gmem_copy(h, gpa, buf, len, false);
}

int gmem_write_held(struct gmem_hold *h, uint64_t gpa, const void *buf,
		    size_t len)
{
	return gmem_copy(h, gpa, (void *)buf, len, true);
}

int gmem_read(struct gmem *gm, uint64_t gpa, void *buf, size_t len)
{
	struct gmem_hold *h = gmem_hold(gm);
	int rc = gmem_copy(h, gpa, buf, len, false);

	gmem_release(h);
	return rc;
}

int gmem_write(struct gmem *gm, uint64_t gpa, const void *buf, size_t len)
{
	struct gmem_hold *h = gmem_hold(gm);
	int rc = gmem_copy(h, gpa, (void *)buf, len, true);

	gmem_release(h);
	return rc;
}
