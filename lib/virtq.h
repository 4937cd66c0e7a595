/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, device side (virtio 1.2, 2.7).
 *
 * The rings live in guest memory and are pinned for the queue's lifetime.
 * virtq_pop() walks one descriptor chain into iovecs: device-readable ("out")
 * segments first, then device-writable ("in") ones. Every guest value is
 * checked: an available index that jumps by more than the queue size, a head
 * or next index out of range, a chain longer than the queue (loops), a nested
 * or malformed indirect table, a buffer outside guest RAM or wrapping, a
 * readable descriptor after a writable one, or a chain over 4 GiB. The first
 * such error marks the queue broken: it logs why, calls the fail callback
 * (the device then sets DEVICE_NEEDS_RESET) and the queue does nothing more
 * until it is reset.
 *
 * A queue is used by one thread at a time (the device's worker).
 *
 * Pointer lifetime. A popped element holds the guest-memory mappings its
 * iovecs point into (a gmem hold): they stay valid until the element is
 * pushed with virtq_push_elem(), dropped, popped into again or freed with
 * virtq_elem_free(), whatever invalidations happen meanwhile. A model that
 * keeps pointers beyond the element takes the hold with virtq_elem_take_hold()
 * and releases it (gmem_release) when it is done with them.
 */
#ifndef XV_VIRTQ_H
#define XV_VIRTQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#include "gmem.h"

#define VIRTQ_MAX_SIZE 32768u

struct virtq;

typedef void virtq_fail_fn(struct virtq *vq, const char *why, void *opaque);

/* A queue's counters: read from any thread (relaxed), kept by its owner
 * across re-initialisation (struct virtq points at them). */
struct virtq_stats {
	_Atomic uint64_t popped;	/* chains taken */
	_Atomic uint64_t pushed;	/* used entries published */
	_Atomic uint64_t bytes_out;	/* device-readable bytes of chains taken */
	_Atomic uint64_t bytes_in;	/* bytes the device said it wrote */
	_Atomic uint64_t refused;	/* chains that broke the queue */
};

struct virtq {
	struct gmem *gm;
	struct virtq_stats *stats;	/* or NULL; set after virtq_init() */
	uint16_t size;
	uint16_t index;		/* queue number, for messages */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool broken;

	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct gmem_pin pins[3];

	uint16_t last_avail;	/* next available entry to consume */
	uint16_t used_idx;	/* our copy of used->idx */
	uint16_t signalled_used;/* used_idx at the last interrupt */
	bool signalled_valid;
	unsigned int max_iov;	/* iovecs a chain may expand to */

	virtq_fail_fn *fail;
	void *fail_opaque;
};

struct virtq_elem {
	uint16_t head;
	unsigned int ndesc;	/* buffer descriptors of the chain */
	unsigned int out_num;	/* device-readable iovecs, first */
	unsigned int in_num;	/* device-writable iovecs, after them */
	uint32_t out_len;
	uint32_t in_len;
	unsigned int iov_cap;
	struct gmem_hold *hold;	/* keeps iov's targets mapped */
	struct iovec *iov;
};

struct virtq_config {
	uint16_t size;
	uint16_t index;
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	bool event_idx;
	bool indirect;
};

/*
 * Validate the layout (size a power of two <= VIRTQ_MAX_SIZE, alignment,
 * rings inside guest RAM) and pin the rings. Returns 0 or -errno; on error
 * *why names the reason.
 */
int virtq_init(struct virtq *vq, struct gmem *gm, const struct virtq_config *c,
	       const char **why);
void virtq_fini(struct virtq *vq);
void virtq_set_fail(struct virtq *vq, virtq_fail_fn *fn, void *opaque);

/* An element whose iov array holds vq->max_iov entries. */
struct virtq_elem *virtq_elem_new(const struct virtq *vq);
/* Release what the element holds; then free it (NULL is fine). */
void virtq_elem_free(struct virtq_elem *e);
/* Forget the element's buffers: its pointers are dead from here. */
void virtq_elem_drop(struct virtq_elem *e);
/* The element's hold, now the caller's to gmem_release(). */
struct gmem_hold *virtq_elem_take_hold(struct virtq_elem *e);

/* 1: one chain popped into *elem; 0: queue empty; -1: queue broken. */
int virtq_pop(struct virtq *vq, struct virtq_elem *elem);
/* Give back a popped chain unconsumed (it will be popped again). */
void virtq_unpop(struct virtq *vq);
/* Place a chain in the used ring; len = bytes the device wrote. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* virtq_push() of a popped element, then drop it. */
void virtq_push_elem(struct virtq *vq, struct virtq_elem *e, uint32_t len);
/* True if the driver wants an interrupt for what was pushed since the last. */
bool virtq_need_interrupt(struct virtq *vq);

/*
 * Tell the driver whether kicks are wanted. virtq_enable_kicks() returns
 * true if buffers arrived meanwhile, so the caller must poll again (this
 * closes the race between the last pop and re-enabling).
 */
void virtq_disable_kicks(struct virtq *vq);
bool virtq_enable_kicks(struct virtq *vq);
bool virtq_has_work(struct virtq *vq);

/* Bytes copied between an element's iovecs and a host buffer. */
size_t virtq_iov_to_buf(const struct iovec *iov, unsigned int n, size_t off,
			void *buf, size_t len);
size_t virtq_buf_to_iov(const struct iovec *iov, unsigned int n, size_t off,
			const void *buf, size_t len);

#endif
