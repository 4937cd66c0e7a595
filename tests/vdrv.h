/* SPDX-License-Identifier: MIT */
/*
 * A simulated guest virtio driver for the tests. It reaches the device only
 * through the virtio-mmio register file (vmmio_read/vmmio_write) and through
 * split rings in simulated guest RAM, in the order Linux's virtio_mmio.c and
 * virtio_ring.c use: probe, reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK,
 * queue setup, DRIVER_OK; post chains, kick, take interrupts, reap.
 *
 * Guest RAM is one host buffer registered with the plain gmem backend at
 * mem_base. Guest buffers come from a small allocator over that RAM.
 *
 * The device answers on its own worker thread; everything here is called
 * from the test's thread. Hostile tests may write the rings directly through
 * struct vdrv_vq's ring pointers and vdrv_ptr().
 */
#ifndef XV_TESTS_VDRV_H
#define XV_TESTS_VDRV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "gmem.h"
#include "mmio.h"
#include "vdev.h"

#define VDRV_MEM_BASE 0x40000000ull
#define VDRV_MEM_SIZE (16ull << 20)
/* Granule of the guest-memory allocator. */
#define VDRV_ALLOC_UNIT 64u

/* Driver features a test usually wants. */
#define VDRV_F(bit) (1ull << (bit))
#define VDRV_F_DEFAULT (VDRV_F(VIRTIO_F_VERSION_1) | \
			VDRV_F(VIRTIO_RING_F_EVENT_IDX) | \
			VDRV_F(VIRTIO_RING_F_INDIRECT_DESC))

struct vdrv_opts {
	uint64_t mem_base;	/* 0: VDRV_MEM_BASE */
	uint64_t mem_size;	/* 0: VDRV_MEM_SIZE */
	uint64_t chunk_size;	/* gmem_plain_new() chunk; 0: none */
	/* Guest RAM is a buffer the device reaches directly, not a memfd it
	 * maps per generation (tests that change the driver's mapping). */
	bool buffer_ram;
	int worker_nice;	/* the device's worker_nice (vdev.h) */
};

/* One segment of a chain to post. */
struct vdrv_seg {
	/*
	 * Guest address of the buffer. 0: vdrv_post() allocates len bytes,
	 * fills them from data (zeros if data is NULL), stores the address
	 * here, and frees them when the chain is reaped (the bytes stay
	 * readable until the next allocation).
	 */
	uint64_t gpa;
	const void *data;
	uint32_t len;
	bool writable;
};

struct vdrv_used {
	uint16_t id;		/* head of the chain */
	uint32_t len;		/* bytes the device wrote */
	void *token;		/* as given to vdrv_post() */
};

struct vdrv_chain;

/* Driver side of one split virtqueue. */
struct vdrv_vq {
	struct vdrv *d;
	unsigned int index;
	uint16_t num;		/* size written to QueueNum */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Host pointers to the rings (NULL if outside guest RAM). */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	uint16_t avail_idx;	/* our shadow of avail->idx */
	uint16_t kick_old;	/* avail_idx at the last kick decision */
	uint16_t last_used;	/* next used entry to reap */
	uint16_t num_free;
	uint16_t *free_stack;	/* free descriptor indices */
	struct vdrv_chain *chains;	/* by head */
	unsigned int in_flight;

	/* Write used_event = last_used after each reap, as Linux does. */
	bool auto_used_event;
	bool no_interrupt;	/* VRING_AVAIL_F_NO_INTERRUPT set by us */
	uint64_t ring_gpa;	/* rings allocated by vdrv_setup_queue() */
	uint64_t ring_len;
	unsigned int kicks_sent;
	unsigned int kicks_suppressed;
};

struct vdrv {
	struct vdev *dev;
	struct vmmio mmio;
	struct gmem *gm;
	struct vopts vopts;
	bool vopts_valid;

	uint8_t *mem;
	int mem_fd;		/* guest RAM as a memfd, or -1 */
	uint64_t mem_base;
	uint64_t mem_size;
	uint8_t *alloc_map;	/* one byte per VDRV_ALLOC_UNIT */
	uint64_t alloc_units;

	uint64_t device_features;
	uint64_t features;	/* accepted by the driver */

	pthread_mutex_t irq_lock;
	pthread_cond_t irq_cond;
	unsigned int irqs_raised;	/* interrupt callbacks from the device */
	unsigned int irqs_handled;
	uint32_t isr_seen;	/* InterruptStatus bits read so far */

	struct vdrv_vq vqs[VDEV_MAX_QUEUES];
	char err[256];		/* why the last call failed */
};

/* ---- life cycle --------------------------------------------------------- */

/*
 * Guest RAM, a device made from spec ("rng", "blk,file=..."), its worker
 * started with our interrupt callback, and the MMIO register file. NULL on
 * error with the reason in err. o may be NULL.
 */
struct vdrv *vdrv_open(const char *spec, const struct vdrv_opts *o,
		       char *err, size_t errlen);
/* Same with a device made by the caller (not started yet); on success the
 * vdrv owns it. */
struct vdrv *vdrv_open_dev(struct vdev *dev, const struct vdrv_opts *o,
			   char *err, size_t errlen);
void vdrv_close(struct vdrv *d);

/* ---- raw register and memory access ------------------------------------ */

uint32_t vdrv_read32(struct vdrv *d, uint64_t off);
void vdrv_write32(struct vdrv *d, uint64_t off, uint32_t val);
uint8_t vdrv_status(struct vdrv *d);
/* Host pointer for [gpa, gpa + len) or NULL if it is not all guest RAM. */
void *vdrv_ptr(struct vdrv *d, uint64_t gpa, uint64_t len);

/* Guest RAM allocator: gpa aligned to align (power of two), or 0. */
uint64_t vdrv_alloc(struct vdrv *d, uint64_t len, uint64_t align);
void vdrv_free(struct vdrv *d, uint64_t gpa, uint64_t len);
/* Guest RAM not allocated, in bytes. */
uint64_t vdrv_mem_free(struct vdrv *d);

/* ---- initialisation steps (each 0, or -1 with d->err set) -------------- */

/* Magic, version 2, device id (returned, > 0) and vendor. */
int vdrv_probe(struct vdrv *d);
/* Write status 0 and wait for it to read back 0. */
int vdrv_reset(struct vdrv *d);
/* Status |= bits (read-modify-write, as Linux does). */
void vdrv_add_status(struct vdrv *d, uint8_t bits);
uint64_t vdrv_read_device_features(struct vdrv *d);
void vdrv_write_driver_features(struct vdrv *d, uint64_t f);
/* Accept want & offered, set FEATURES_OK and check it stuck. */
int vdrv_negotiate(struct vdrv *d, uint64_t want);
/*
 * Set up queue q with num entries (0: QueueNumMax) in freshly allocated,
 * page-aligned guest RAM and write QueueReady = 1. Fails if the queue does
 * not exist or QueueReady does not read back 1.
 */
int vdrv_setup_queue(struct vdrv *d, unsigned int q, uint16_t num);
/* Same with the rings where the caller says (hostile tests); the
 * driver-side pointers are set when the rings lie in guest RAM. */
int vdrv_setup_queue_at(struct vdrv *d, unsigned int q, uint32_t num,
			uint64_t desc, uint64_t avail, uint64_t used);
int vdrv_driver_ok(struct vdrv *d);
/* The whole sequence: reset .. DRIVER_OK with nq queues of num entries. */
int vdrv_init(struct vdrv *d, uint64_t want, unsigned int nq, uint16_t num);

/* Device config space, read as Linux does it: retried until
 * ConfigGeneration is stable; 8-byte fields as two 32-bit reads. */
void vdrv_config_read(struct vdrv *d, uint32_t off, void *buf, uint32_t len);
uint64_t vdrv_config_get(struct vdrv *d, uint32_t off, unsigned int size);

/* ---- queues --------------------------------------------------------------- */

struct vdrv_vq *vdrv_vq(struct vdrv *d, unsigned int q);
bool vdrv_has(struct vdrv *d, unsigned int bit);

/*
 * Post a chain of n segments (readable ones first, as the spec requires;
 * the driver does not enforce it so tests can break the rule). indirect:
 * through one indirect table instead of ring descriptors. Returns the head
 * (>= 0), or -1 (no descriptors or guest RAM left).
 */
int vdrv_post(struct vdrv_vq *vq, struct vdrv_seg *segs, unsigned int n,
	      bool indirect, void *token);
/* Publish a head in the avail ring without any bookkeeping (raw). */
void vdrv_publish(struct vdrv_vq *vq, uint16_t head);
/* Write avail->idx directly (raw). */
void vdrv_set_avail_idx(struct vdrv_vq *vq, uint16_t idx);

/*
 * Notify the device if it wants it (VRING_USED_F_NO_NOTIFY, or avail_event
 * with EVENT_IDX). true if QueueNotify was written.
 */
bool vdrv_kick(struct vdrv_vq *vq);
/* Write QueueNotify unconditionally. */
void vdrv_notify(struct vdrv_vq *vq);

/*
 * Take the next used entry. 1: *u filled; 0: none; -1: the device returned
 * an id that is not an outstanding head or a length beyond the chain's
 * writable bytes (d->err says which).
 */
int vdrv_reap(struct vdrv_vq *vq, struct vdrv_used *u);
/* Used entries published by the device and not reaped yet. */
uint16_t vdrv_used_pending(struct vdrv_vq *vq);
/* Poll until at least n entries are pending (interrupts or not).
 * 0, or -1 on timeout. */
int vdrv_wait_used(struct vdrv_vq *vq, uint16_t n, int timeout_ms);

/* used_event (EVENT_IDX) and VRING_AVAIL_F_NO_INTERRUPT. */
void vdrv_set_used_event(struct vdrv_vq *vq, uint16_t idx);
void vdrv_set_no_interrupt(struct vdrv_vq *vq, bool on);
uint16_t vdrv_used_idx(struct vdrv_vq *vq);
uint16_t vdrv_avail_event(struct vdrv_vq *vq);

/* ---- interrupts --------------------------------------------------------- */

/*
 * Wait up to timeout_ms for an interrupt, then handle it as vm_interrupt
 * does: read InterruptStatus, write it to InterruptACK. Returns the bits
 * read (0 for a spurious one), or -1 on timeout.
 */
int vdrv_wait_irq(struct vdrv *d, int timeout_ms);
/* Handle interrupts until the bits in mask were seen (isr_seen). The seen
 * bits are then cleared. 0, or -1 on timeout. */
int vdrv_wait_isr(struct vdrv *d, uint32_t mask, int timeout_ms);
/* Interrupts raised and not handled yet. */
unsigned int vdrv_irqs_pending(struct vdrv *d);
/* Forget pending interrupts and seen bits (without touching the device). */
void vdrv_irq_clear(struct vdrv *d);
/* Poll until status has all bits of mask. 0, or -1 on timeout. */
int vdrv_wait_status(struct vdrv *d, uint8_t mask, int timeout_ms);

/* Sleep for ms milliseconds (to let the worker run). */
void vdrv_msleep(unsigned int ms);
/*
 * Poll until the device holds no guest memory and only the current
 * generation of mappings is alive (gmem.h). 0, or -1 on timeout with
 * d->err saying what was left.
 */
int vdrv_wait_gmem_idle(struct vdrv *d, int timeout_ms);

#endif
