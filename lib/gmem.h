/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: turns guest-physical ranges into host pointers, with bounds.
 *
 * gmem_map() returns a pointer to the first byte of a range and how many bytes
 * from there are contiguous in host memory (a backend maps guest RAM in chunks,
 * so a buffer may span several). It never returns a pointer for a byte that is
 * not guest RAM: a range that leaves RAM, wraps, or hits a hole fails.
 *
 * Pointers from gmem_map() stay valid only while the caller holds the read
 * side (gmem_read_lock) because gmem_invalidate() may drop cached mappings.
 * Long-lived structures (virtqueue rings) use gmem_pin(), which gives one
 * contiguous mapping that survives invalidation until gmem_unpin().
 *
 * Guest memory is shared with a possibly hostile guest: callers must read each
 * value once into a local before checking it, never twice.
 */
#ifndef XV_GMEM_H
#define XV_GMEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gmem;
struct gmem_pin;

struct gmem_ops {
	/* Host pointer for gpa; *contig = contiguous bytes (1..len). NULL if
	 * gpa is not mapped guest RAM. len > 0 and gpa + len does not wrap. */
	void *(*map)(struct gmem *gm, uint64_t gpa, uint64_t len,
		     uint64_t *contig);
	/* One contiguous mapping of [gpa, gpa + len), or NULL. */
	void *(*pin)(struct gmem *gm, uint64_t gpa, uint64_t len,
		     void **cookie);
	void (*unpin)(struct gmem *gm, void *cookie);
	/* Drop cached (non-pinned) mappings; called with the write lock held. */
	void (*invalidate)(struct gmem *gm);
	void (*destroy)(struct gmem *gm);
};

struct gmem {
	const struct gmem_ops *ops;
	pthread_rwlock_t lock;
	void *priv;
};

struct gmem_pin {
	void *ptr;
	void *cookie;
	uint64_t gpa;
	uint64_t len;
};

void gmem_init(struct gmem *gm, const struct gmem_ops *ops, void *priv);
void gmem_destroy(struct gmem *gm);

void gmem_read_lock(struct gmem *gm);
void gmem_read_unlock(struct gmem *gm);
void gmem_invalidate(struct gmem *gm);

/* True when [gpa, gpa + len) is non-empty and does not wrap around 2^64. */
bool gmem_range_ok(uint64_t gpa, uint64_t len);

void *gmem_map(struct gmem *gm, uint64_t gpa, uint64_t len, uint64_t *contig);
/* The whole range contiguous, or NULL. */
void *gmem_map_all(struct gmem *gm, uint64_t gpa, uint64_t len);
int gmem_pin(struct gmem *gm, uint64_t gpa, uint64_t len, struct gmem_pin *p);
void gmem_unpin(struct gmem *gm, struct gmem_pin *p);

/* Copy between guest memory and a host buffer across chunk boundaries.
 * Return 0, or -EFAULT when any byte is outside guest RAM. */
int gmem_read(struct gmem *gm, uint64_t gpa, void *buf, size_t len);
int gmem_write(struct gmem *gm, uint64_t gpa, const void *buf, size_t len);

/*
 * Plain memory backend: guest RAM is a set of host buffers at given guest
 * addresses (tests, benchmarks, future vhost-user). The caller owns the
 * buffers. chunk_size > 0 splits contiguity artificially so that tests can
 * exercise buffers that cross mapping boundaries; 0 means no splitting.
 */
struct gmem *gmem_plain_new(uint64_t chunk_size);
int gmem_plain_add(struct gmem *gm, uint64_t gpa, void *host, uint64_t size);

#endif
