/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: turns guest-physical ranges into host pointers, with bounds.
 *
 * gmem_map() returns a pointer to the first byte of a range and how many bytes
 * from there are contiguous in host memory (a backend maps guest RAM in chunks,
 * so a buffer may span several). It never returns a pointer for a byte that is
 * not guest RAM: a range that leaves RAM, wraps, or hits a hole fails.
 *
 * Pointer lifetime. Cached mappings belong to a generation; a hold
 * (gmem_hold) keeps the current generation alive and every pointer mapped
 * through the hold stays valid until gmem_release(). gmem_invalidate() never
 * waits: it starts a new generation, and the old one's mappings are dropped
 * when its last hold is released. So an invalidation costs what is really in
 * use, and a guest that keeps a request in flight cannot stall it. The cache
 * of one generation is bounded (cache_max): past it, the next hold starts a
 * new generation and the old mappings go once their holders are done.
 * What all generations together may map is bounded too (map_budget): old
 * generations live as long as the requests that hold them, and a guest
 * could otherwise pin one per request. Past the budget a mapping fails (the
 * request's queue breaks), which hurts only the guest that caused it.
 * Long-lived structures (virtqueue rings) use gmem_pin(), which gives one
 * contiguous mapping of its own until gmem_unpin().
 *
 * Guest memory is shared with a possibly hostile guest: callers must read each
 * value once into a local before checking it, never twice.
 */
#ifndef XV_GMEM_H
#define XV_GMEM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gmem;
struct gmem_hold;

struct gmem_ops {
	/* A new, empty set of cached mappings; NULL on failure. */
	void *(*cache_new)(struct gmem *gm);
	/* Unmap and free a set: no pointer into it is in use any more. */
	void (*cache_free)(struct gmem *gm, void *cache);
	/* Bytes mapped in a set (for the bound). */
	uint64_t (*cache_bytes)(struct gmem *gm, void *cache);
	/* Host pointer for gpa, cached in cache; *contig = contiguous bytes
	 * (1..len). NULL if gpa is not mapped guest RAM. len > 0 and
	 * gpa + len does not wrap. */
	void *(*map)(struct gmem *gm, void *cache, uint64_t gpa, uint64_t len,
		     uint64_t *contig);
	/* Optional: every byte of the range is guest RAM (maps nothing). */
	bool (*range_ok)(struct gmem *gm, uint64_t gpa, uint64_t len);
	/* One contiguous mapping of [gpa, gpa + len), or NULL. */
	void *(*pin)(struct gmem *gm, uint64_t gpa, uint64_t len,
		     void **cookie);
	void (*unpin)(struct gmem *gm, void *cookie);
	void (*destroy)(struct gmem *gm);
};

struct gmem_stats {
	uint64_t holds;		/* outstanding */
	uint64_t generations;	/* alive: the current one and held old ones */
	uint64_t invalidations;
	uint64_t rotations;	/* generations started by the cache bound */
	uint64_t mapped;	/* bytes cached by the current generation */
	uint64_t mapped_total;	/* ... by all generations alive */
	uint64_t over_budget;	/* mappings refused by the budget */
	uint64_t maps;		/* mappings made (gmem_charge calls granted) */
};

struct gmem {
	const struct gmem_ops *ops;
	pthread_mutex_t lock;		/* cur and the counters below */
	struct gmem_hold *cur;
	uint64_t cache_max;		/* bytes per generation; 0: no bound */
	uint64_t map_budget;		/* bytes over all generations; 0: none */
	uint64_t invalidations, rotations;
	atomic_ulong holds, generations;
	atomic_ullong mapped_total, over_budget, maps;
	void *priv;
};

struct gmem_pin {
	void *ptr;
	void *cookie;
	uint64_t gpa;
	uint64_t len;
};

/* Old generations kept alive by holds beyond which the bound waits. */
#define GMEM_MAX_GENERATIONS 8

/* 0, or -ENOMEM (then the backend frees what it allocated). */
int gmem_init(struct gmem *gm, const struct gmem_ops *ops, void *priv);
void gmem_destroy(struct gmem *gm);

struct gmem_hold *gmem_hold(struct gmem *gm);
void gmem_release(struct gmem_hold *h);
/* Start a new generation (Xen's IOREQ_TYPE_INVALIDATE). Never waits. */
void gmem_invalidate(struct gmem *gm);
void gmem_set_cache_max(struct gmem *gm, uint64_t bytes);
void gmem_set_map_budget(struct gmem *gm, uint64_t bytes);
/* Backends: bytes about to be cached (false: over the budget, do not map
 * them) and bytes unmapped when a cache is freed. */
bool gmem_charge(struct gmem *gm, uint64_t bytes);
void gmem_uncharge(struct gmem *gm, uint64_t bytes);
void gmem_get_stats(struct gmem *gm, struct gmem_stats *st);

/* True when [gpa, gpa + len) is non-empty and does not wrap around 2^64. */
bool gmem_range_ok(uint64_t gpa, uint64_t len);
/* The whole range is guest RAM, checked without mapping any of it. */
bool gmem_is_ram(struct gmem *gm, uint64_t gpa, uint64_t len);

void *gmem_map(struct gmem_hold *h, uint64_t gpa, uint64_t len,
	       uint64_t *contig);
/* The whole range contiguous, or NULL. */
void *gmem_map_all(struct gmem_hold *h, uint64_t gpa, uint64_t len);
int gmem_pin(struct gmem *gm, uint64_t gpa, uint64_t len, struct gmem_pin *p);
void gmem_unpin(struct gmem *gm, struct gmem_pin *p);

/* Copy between guest memory and a host buffer across chunk boundaries.
 * Return 0, or -EFAULT when any byte is outside guest RAM or refused by
 * the hypervisor; the bytes before such a one may have been copied (a
 * write is then partly done, as a device's DMA would be). The _held forms
 * map through a hold the caller has; the others take one for the copy. */
int gmem_read_held(struct gmem_hold *h, uint64_t gpa, void *buf, size_t len);
int gmem_write_held(struct gmem_hold *h, uint64_t gpa, const void *buf,
		    size_t len);
int gmem_read(struct gmem *gm, uint64_t gpa, void *buf, size_t len);
int gmem_write(struct gmem *gm, uint64_t gpa, const void *buf, size_t len);

/*
 * Plain memory backend: guest RAM is a set of host buffers at given guest
 * addresses (tests, benchmarks). The caller owns the buffers. chunk_size > 0
 * splits contiguity artificially so that tests can exercise buffers that
 * cross mapping boundaries; 0 means no splitting.
 *
 * A region added with gmem_plain_add_fd() is a file (a memfd) mapped the way
 * a hypervisor backend maps guest RAM: chunk by chunk (chunk_size, a page
 * multiple), cached per generation and unmapped when the generation goes, so
 * a pointer used past its hold faults as it would under Xen.
 */
struct gmem *gmem_plain_new(uint64_t chunk_size);
int gmem_plain_add(struct gmem *gm, uint64_t gpa, void *host, uint64_t size);
int gmem_plain_add_fd(struct gmem *gm, uint64_t gpa, int fd, uint64_t size);

#endif
