/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk internals shared by devices/blk*.c (not an interface for
 * anything else): the device, its queues, and one in-flight request.
 *
 * blk.c      the model: options, image file, config space, queue processing
 * blk_req.c  turns a popped descriptor chain into a checked request
 * blk_io.c   the io_uring engine: submission, completion, fallbacks, drain
 *
 * Everything here runs with dev->lock held: in the device's worker, or in
 * the transport's thread for reset (which is why the ring is never set up
 * with IORING_SETUP_SINGLE_ISSUER).
 *
 * Guest memory. A request keeps host pointers into guest RAM (its data
 * iovecs and its status byte) from virtq_pop() until it completes, across
 * worker callbacks: it takes its element's guest-memory hold (r->hold) and
 * releases it when it is answered or forgotten by a reset. An invalidation
 * never waits for the I/O; the mappings it replaces stay until the last
 * request using them ends.
 */
#ifndef XV_BLK_H
#define XV_BLK_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "vdev.h"

#define BLK_SECTOR_SHIFT	9
#define BLK_SECTOR_SIZE		(1u << BLK_SECTOR_SHIFT)
#define BLK_HDR_SIZE		sizeof(struct virtio_blk_outhdr)
#define BLK_SEG_SIZE		sizeof(struct virtio_blk_discard_write_zeroes)
#define BLK_MAX_SEGS		32	/* discard / write-zeroes ranges per request */
/* Data segments per request (seg_max): with SIZE_MAX under the 4 MiB chunks
 * of guest-RAM mappings each fits in two iovecs, and a chain stays within
 * virtq's 512. A chain may have two more descriptors: header and status. */
#define BLK_SEG_MAX		254
#define BLK_ZERO_IOVS		16	/* zero-buffer segments per write */
/*
 * Bounce buffers (blk_io.c): a request keeps one of up to BLK_BOUNCE_KEEP
 * bytes for its next use; larger ones go to a pool of at most
 * BLK_POOL_BUFS buffers and bounce-pool KiB (default BLK_POOL_KIB) per
 * device, so that large requests reuse memory that is already faulted in.
 */
#define BLK_BOUNCE_KEEP		(64u << 10)
#define BLK_POOL_BUFS		8
#define BLK_POOL_KIB		1024

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
};

/* How the current discard / write-zeroes range is being carried out. */
enum blk_zstage {
	BLK_Z_DISCARD,		/* fallocate: deallocate, contents undefined */
	BLK_Z_PUNCH,		/* fallocate: deallocate, reads give zeroes */
	BLK_Z_ZERO_RANGE,	/* fallocate: zeroes, stays allocated */
	BLK_Z_WRITE,		/* writev from a zero buffer */
};

struct blk_range {
	uint64_t offset;	/* bytes */
	uint64_t len;
	bool unmap;
};

struct blk_queue;

struct blk_req {
	struct blk_queue *bq;
	struct blk_req *next_free;
	uint16_t head;
	uint8_t op;			/* enum blk_op */
	uint8_t zstage;			/* enum blk_zstage */
	bool bounce;			/* data goes through bounce_buf */
	uint8_t *status;		/* the chain's last writable byte */
	struct gmem_hold *hold;		/* keeps status and iov mapped */
	uint64_t offset;		/* bytes into the image */
	uint64_t len;			/* data bytes (current range for zeroes) */
	uint64_t done;			/* of len */
	uint32_t written;		/* data bytes written into the guest */

	/* Data iovecs from iov[iov_idx]; the head is trimmed as bytes move. */
	struct iovec *iov;
	unsigned int niov;
	unsigned int iov_idx;
	unsigned int iov_cap;

	struct blk_range *ranges;	/* BLK_MAX_SEGS entries once needed */
	unsigned int nranges;
	unsigned int range_idx;

	void *bounce_buf;
	size_t bounce_cap;
};

struct blk_queue {
	struct blk *b;
	unsigned int index;
	struct blk_req *reqs;		/* num_max slots */
	struct blk_req *free;
	unsigned int outstanding;	/* popped, not yet pushed */
	struct virtq_elem *elem;	/* scratch for virtq_pop */
	bool pending;			/* may hold buffers not popped yet */
	bool completed;			/* pushed since the last interrupt */
};

struct blk {
	struct vdev *dev;
	int fd;
	bool readonly;
	bool direct;			/* cache=none: fd has O_DIRECT */
	bool discard;
	bool blockdev;
	bool writethrough;		/* driver did not negotiate FLUSH */
	uint64_t sectors;		/* capacity in 512-byte sectors */
	uint32_t blk_size;		/* logical block size */
	char serial[VIRTIO_BLK_ID_BYTES];
	uint32_t max_discard_sectors;
	uint32_t max_zeroes_sectors;

	/* Sticky findings about the backing file and guest memory. */
	bool dio_faults;		/* O_DIRECT cannot reach guest RAM */
	bool no_discard;
	bool no_punch;
	bool no_zero_range;

	struct io_uring ring;
	bool ring_ready;
	bool fixed_file;		/* b->fd is file 0 of the ring */
	int efd;			/* completion eventfd */
	bool efd_watched;
	unsigned int sqes_inflight;	/* submitted (or queued), not reaped */
	unsigned int sqes_queued;	/* prepared, not yet submitted */
	struct blk_req *waiting;	/* found the ring full */
	unsigned int nwaiting;
	/* Large bounce buffers kept for reuse between requests (blk_io.c). */
	void *pool[BLK_POOL_BUFS];
	size_t pool_cap[BLK_POOL_BUFS];
	size_t pool_bytes;
	size_t pool_max;		/* bounce-pool */
	void *zeroes;			/* aligned zero buffer ... */
	struct iovec zero_iov[BLK_ZERO_IOVS];	/* ... seen as segments */

	uint64_t poll_max_ns;		/* poll-us */
	bool kick_busy;			/* kick-busy=on: kicks even while busy */
	uint64_t stall_ns;		/* stall-ms */
	bool stalled;			/* nothing completed for stall_ns */
	bool watching;			/* the worker's timer is for stalls */
	uint64_t last_done_ns;		/* a completion, or busy since */
	uint64_t poll_ns;		/* current adaptive window */
	uint64_t idle_since;		/* when the worker last went to sleep */

	unsigned int nq;
	struct blk_queue *queues;
};

/* blk.c: a request ended; write status, push, interrupt later. */
void blk_req_complete(struct blk_req *r, uint8_t status);

/*
 * blk_req.c: check a popped chain that has a status byte. -1: r describes
 * I/O for blk_io_start(); else the VIRTIO_BLK_S_* status to answer at once
 * (GET_ID is served here; r->written counts data bytes given to the guest).
 */
int blk_req_parse(struct blk *b, const struct virtq_elem *e,
		  struct blk_req *r);

/* blk_io.c */
int blk_io_init(struct blk *b, unsigned int depth, char *err, size_t errlen);
void blk_io_fini(struct blk *b);
/* Start a parsed request; it ends through blk_req_complete(). */
void blk_io_start(struct blk_req *r);
/* Hand prepared requests to the kernel. */
void blk_io_submit(struct blk *b);
/* Complete what the kernel finished; the number of completions seen. */
unsigned int blk_io_reap(struct blk *b);
/* Completions are waiting to be reaped (for polling). */
bool blk_io_ready(struct blk *b);
/* Cancel and wait for everything in flight; requests are forgotten. */
void blk_io_drain(struct blk *b);
/* A request ended: keep its bounce buffer, pool it or free it. */
void blk_io_put_bounce(struct blk_req *r);

#endif
