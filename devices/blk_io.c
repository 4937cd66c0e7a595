// SPDX-License-Identifier: MIT
/*
 * The virtio-blk I/O engine: one io_uring per device, shared by its queues.
 *
 * A request has at most one operation in the ring at a time and moves
 * through it as a small state machine: a read or write goes straight between
 * the image and the guest's iovecs (read/write for one segment, readv/writev
 * for up to IOV_MAX) and continues after a short transfer; a flush is one
 * fdatasync; a discard or write-zeroes request walks its ranges one by one.
 * The kernel signals completions on an eventfd the worker watches, so the
 * kick path never waits for I/O.
 *
 * The kernel finishes what its I/O worker threads did as task work of the
 * thread that submitted it, and by default interrupts that thread with an
 * inter-processor interrupt to run it. Where the kernel has it the ring is
 * cooperative (IORING_SETUP_COOP_TASKRUN): the work waits for the worker's
 * next system call, or blk_io_reap() enters the kernel when the ring's flag
 * says work waits; a sleeping worker is still woken. In a VM every IPI is a
 * VM exit: bench/README.md has what this saved.
 *
 * cache=none and guest memory O_DIRECT cannot reach. Direct I/O pins the
 * user pages, and that fails with EFAULT for Xen's foreign mappings of guest
 * RAM (privcmd maps them VM_IO | VM_PFNMAP, there is no struct page to pin);
 * it fails with EINVAL for a guest buffer that is not aligned as the file
 * system requires. Such a request is retried through an aligned bounce buffer
 * of the device, still with O_DIRECT, so cache=none keeps its meaning (no
 * copy in Dom0's page cache) at the cost of one memcpy. After the first
 * EFAULT every data request of the device takes the bounce path at once:
 * the guest's memory does not change kind.
 *
 * Discard and write zeroes use fallocate(2), which also works on block
 * devices (the kernel maps it to discard and zero-out, as the BLKDISCARD and
 * BLKZEROOUT ioctls do). What a file system or device cannot do is learnt
 * once (EOPNOTSUPP) and the next method is used: punch a hole, else zero the
 * range, else write zeroes; a discard that cannot be done is a no-op, which
 * the spec allows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/falloc.h>

#include "blk.h"
#include "uring.h"
#include "log.h"

#define BLK_ALIGN	4096u		/* bounce and zero buffers */
#define BLK_BOUNCE_MAX	(1u << 20)	/* bytes per bounced operation */
#define BLK_ZERO_BUF	(64u << 10)
#define BLK_SQ_MAX	4096u
#define BLK_CQ_MAX	65536u

static void step(struct blk_req *r);

static void io_error(struct blk *b, const char *what, int res)
{
	/* A failing disk (or a guest driving one) must not flood the log. */
	vdev_guest_log(b->dev, VLOG_ERR, "%s: %s", what, strerror(-res));
}

static unsigned int pow2_at_least(unsigned int n)
{
	unsigned int p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* What a disk request may submit: nothing that opens or connects. */
static const uint8_t blk_ring_ops[] = {
	IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV, IORING_OP_WRITEV,
	IORING_OP_FSYNC, IORING_OP_FALLOCATE, IORING_OP_ASYNC_CANCEL,
};

/* Newer setup flags first, then without what older kernels lack. */
static int ring_init(struct blk *b, unsigned int sq, struct io_uring_params *p)
{
	static const unsigned int drop[] = {
		0, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_R_DISABLED,	/* before Linux 5.10 */
	};
	int rc = -EINVAL;

	p->flags |= IORING_SETUP_R_DISABLED;
	for (unsigned int i = 0; i < 3 && rc == -EINVAL; i++) {
		p->flags &= ~drop[i];
		rc = io_uring_queue_init_params(sq, &b->ring, p);
	}
	return rc;
}

int blk_io_init(struct blk *b, unsigned int depth, char *err, size_t errlen)
{
	struct io_uring_params p = { 0 };
	unsigned int sq = pow2_at_least(depth), cq;
	int rc;

	if (sq > BLK_SQ_MAX)
		sq = BLK_SQ_MAX;
	/* One operation per request plus a cancel: the CQ never overflows. */
	cq = pow2_at_least(depth + 1);
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP |
		  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	p.cq_entries = cq > 2 * sq ? (cq < BLK_CQ_MAX ? cq : BLK_CQ_MAX) : 2 * sq;
	rc = ring_init(b, sq, &p);
	if (rc) {
		snprintf(err, errlen, "%s: io_uring: %s", b->dev->name, strerror(-rc));
		return rc;
	}
	b->ring_ready = true;
	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->efd < 0 || (rc = io_uring_register_eventfd(&b->ring, b->efd))) {
		rc = b->efd < 0 ? -errno : rc;
		snprintf(err, errlen, "%s: completion eventfd: %s", b->dev->name,
			 strerror(-rc));
		return rc;
	}
	if (posix_memalign(&b->zeroes, BLK_ALIGN, BLK_ZERO_BUF)) {
		snprintf(err, errlen, "%s: out of memory", b->dev->name);
		return -ENOMEM;
	}
	memset(b->zeroes, 0, BLK_ZERO_BUF);
	/* A registered file saves a file lookup per operation. */
	b->fixed_file = !io_uring_register_files(&b->ring, &b->fd, 1);
	if (p.flags & IORING_SETUP_R_DISABLED) {
		rc = vuring_restrict(&b->ring, blk_ring_ops, sizeof(blk_ring_ops),
				     IOSQE_FIXED_FILE);
		if (rc) {
			snprintf(err, errlen, "%s: io_uring restrictions: %s",
				 b->dev->name, strerror(-rc));
			return rc;
		}
	}
	for (unsigned int i = 0; i < BLK_ZERO_IOVS; i++)
		b->zero_iov[i] = (struct iovec){ b->zeroes, BLK_ZERO_BUF };
	return 0;
}

void blk_io_fini(struct blk *b)
{
	if (b->ring_ready)
		io_uring_queue_exit(&b->ring);
	b->ring_ready = false;
	if (b->efd >= 0)
		close(b->efd);
	b->efd = -1;
	free(b->zeroes);
	b->zeroes = NULL;
	for (unsigned int i = 0; i < BLK_POOL_BUFS; i++) {
		free(b->pool[i]);
		b->pool[i] = NULL;
	}
	b->pool_bytes = 0;
}

/* The image as operations name it: registered with the ring if possible. */
static int ring_fd(const struct blk *b)
{
	return b->fixed_file ? 0 : b->fd;
}

/* After io_uring_prep_*() (which clears the flags): whose, which file. */
static void sqe_owner(struct io_uring_sqe *sqe, struct blk_req *r)
{
	if (r->bq->b->fixed_file)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, r);
}

static void submit(struct blk *b)
{
	int rc;

	if (!b->sqes_queued)
		return;
	rc = io_uring_submit(&b->ring);
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
		io_error(b, "io_uring_submit", rc);
	else if (rc > 0)
		b->sqes_queued -= (unsigned int)rc < b->sqes_queued ?
				  (unsigned int)rc : b->sqes_queued;
}

/* An SQE for r, or NULL when the ring cannot take one now. */
static struct io_uring_sqe *get_sqe(struct blk_req *r)
{
	struct blk *b = r->bq->b;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe) {
		submit(b);
		sqe = io_uring_get_sqe(&b->ring);
	}
	if (!sqe)
		return NULL;
	b->sqes_inflight++;
	b->sqes_queued++;
	return sqe;
}

static void retry_waiting(struct blk *b);

void blk_io_submit(struct blk *b)
{
	if (b->waiting)
		retry_waiting(b);
	submit(b);
}

/* Move the iovec cursor n bytes on. */
static void iov_advance(struct blk_req *r, size_t n)
{
	while (n && r->iov_idx < r->niov) {
		struct iovec *v = &r->iov[r->iov_idx];
		size_t step = n < v->iov_len ? n : v->iov_len;

		v->iov_base = (uint8_t *)v->iov_base + step;
		v->iov_len -= step;
		n -= step;
		if (!v->iov_len)
			r->iov_idx++;
	}
}

/*
 * A fresh buffer costs a page fault per page when the kernel first fills
 * it (a 1 MiB read into a new buffer spent about half its CPU there in the
 * lab), so large buffers are pooled rather than freed, within a bound.
 */
void blk_io_put_bounce(struct blk_req *r)
{
	struct blk *b = r->bq->b;

	if (r->bounce_cap <= BLK_BOUNCE_KEEP)
		return;		/* small: the request keeps it */
	for (unsigned int i = 0; i < BLK_POOL_BUFS; i++) {
		if (b->pool[i] || b->pool_bytes + r->bounce_cap > b->pool_max)
			continue;
		b->pool[i] = r->bounce_buf;
		b->pool_cap[i] = r->bounce_cap;
		b->pool_bytes += r->bounce_cap;
		r->bounce_buf = NULL;
		r->bounce_cap = 0;
		return;
	}
	free(r->bounce_buf);
	r->bounce_buf = NULL;
	r->bounce_cap = 0;
}

/* The smallest pooled buffer of at least n bytes, or -1. */
static int pool_find(const struct blk *b, size_t n)
{
	int best = -1;

	for (unsigned int i = 0; i < BLK_POOL_BUFS; i++)
		if (b->pool[i] && b->pool_cap[i] >= n &&
		    (best < 0 || b->pool_cap[i] < b->pool_cap[best]))
			best = i;
	return best;
}

static int reserve_bounce(struct blk_req *r, size_t n)
{
	struct blk *b = r->bq->b;
	int i;
	void *p;

	if (n <= r->bounce_cap)
		return 0;
	n = (n + BLK_ALIGN - 1) & ~(size_t)(BLK_ALIGN - 1);
	i = pool_find(b, n);
	if (i >= 0) {
		free(r->bounce_buf);
		r->bounce_buf = b->pool[i];
		r->bounce_cap = b->pool_cap[i];
		b->pool_bytes -= b->pool_cap[i];
		b->pool[i] = NULL;
		return 0;
	}
	if (posix_memalign(&p, BLK_ALIGN, n))
		return -ENOMEM;
	free(r->bounce_buf);
	r->bounce_buf = p;
	r->bounce_cap = n;
	return 0;
}

/* Issue the next piece of a read or write. false: the ring is full. */
static bool issue_rw(struct blk_req *r)
{
	struct blk *b = r->bq->b;
	bool write = r->op == BLK_OP_WRITE;
	uint64_t left = r->len - r->done, off = r->offset + r->done;
	struct io_uring_sqe *sqe;
	size_t n;

	if (r->bounce) {
		n = left < BLK_BOUNCE_MAX ? left : BLK_BOUNCE_MAX;
		if (reserve_bounce(r, n)) {
			blk_req_complete(r, VIRTIO_BLK_S_IOERR);
			return true;
		}
		if (!(sqe = get_sqe(r)))
			return false;
		if (write) {
			virtq_iov_to_buf(r->iov + r->iov_idx, r->niov - r->iov_idx, 0,
					 r->bounce_buf, n);
			io_uring_prep_write(sqe, ring_fd(b), r->bounce_buf, n, off);
		} else {
			io_uring_prep_read(sqe, ring_fd(b), r->bounce_buf, n, off);
		}
	} else {
		const struct iovec *v = r->iov + r->iov_idx;
		unsigned int cnt = r->niov - r->iov_idx;

		if (cnt > IOV_MAX)
			cnt = IOV_MAX;
		if (!(sqe = get_sqe(r)))
			return false;
		/* One segment (the common 4 KiB case): no iovec to import. */
		if (cnt == 1 && write)
			io_uring_prep_write(sqe, ring_fd(b), v->iov_base, v->iov_len, off);
		else if (cnt == 1)
			io_uring_prep_read(sqe, ring_fd(b), v->iov_base, v->iov_len, off);
		else if (write)
			io_uring_prep_writev(sqe, ring_fd(b), v, cnt, off);
		else
			io_uring_prep_readv(sqe, ring_fd(b), v, cnt, off);
	}
	sqe_owner(sqe, r);
	/* A driver that did not negotiate FLUSH expects write-through. */
	if (write && b->writethrough)
		sqe->rw_flags = RWF_DSYNC;
	return true;
}

static void rw_done(struct blk_req *r, int res)
{
	struct blk *b = r->bq->b;
	bool write = r->op == BLK_OP_WRITE;

	if ((res == -EFAULT || res == -EINVAL) && b->direct && !r->bounce) {
		if (res == -EFAULT && !b->dio_faults) {
			b->dio_faults = true;
			log_info("%s: guest memory cannot take direct I/O; cache=none goes through a bounce buffer",
				 b->dev->name);
		}
		r->bounce = true;
		res = -EAGAIN;
	}
	if (res == -EAGAIN || res == -EINTR)
		goto again;
	if (res <= 0) {
		/* 0: the image shrank under us. */
		io_error(b, write ? "write" : "read", res ? res : -EIO);
		blk_req_complete(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (r->bounce && !write)
		virtq_buf_to_iov(r->iov + r->iov_idx, r->niov - r->iov_idx, 0,
				 r->bounce_buf, res);
	iov_advance(r, res);
	r->done += res;
	if (!write)
		r->written = r->done;
	if (r->done == r->len) {
		blk_req_complete(r, VIRTIO_BLK_S_OK);
		return;
	}
again:
	step(r);
}

/*
 * Pick how the current range is done, from what is known to work. A block
 * device's discard is fallocate(PUNCH_HOLE | NO_HIDE_STALE); where the
 * kernel lacks it, a zero-out that may unmap (PUNCH_HOLE) comes closest.
 * false: nothing can be done for it (a discard is then a no-op).
 */
static bool pick_zstage(struct blk_req *r)
{
	struct blk *b = r->bq->b;
	const struct blk_range *rg = &r->ranges[r->range_idx];

	if (r->op == BLK_OP_DISCARD) {
		r->zstage = !b->no_discard ? BLK_Z_DISCARD : BLK_Z_PUNCH;
		return !b->no_discard || (b->blockdev && !b->no_punch);
	}
	if (rg->unmap && b->discard && !b->no_punch)
		r->zstage = BLK_Z_PUNCH;
	else if (!b->no_zero_range)
		r->zstage = BLK_Z_ZERO_RANGE;
	else
		r->zstage = BLK_Z_WRITE;
	return true;
}

/* Move past finished or impossible ranges; false when none is left. */
static bool settle_range(struct blk_req *r)
{
	for (; r->range_idx < r->nranges; r->range_idx++, r->done = 0)
		if (r->done < r->ranges[r->range_idx].len && pick_zstage(r))
			return true;
	return false;
}

static bool issue_zero(struct blk_req *r)
{
	struct blk *b = r->bq->b;
	const struct blk_range *rg = &r->ranges[r->range_idx];
	uint64_t off = rg->offset + r->done, len = rg->len - r->done;
	struct io_uring_sqe *sqe = get_sqe(r);
	int mode = FALLOC_FL_KEEP_SIZE;

	if (!sqe)
		return false;
	switch (r->zstage) {
	case BLK_Z_DISCARD:
		/* On a block device plain PUNCH_HOLE means zero-out. */
		mode |= FALLOC_FL_PUNCH_HOLE |
			(b->blockdev ? FALLOC_FL_NO_HIDE_STALE : 0);
		break;
	case BLK_Z_PUNCH:
		mode |= FALLOC_FL_PUNCH_HOLE;
		break;
	case BLK_Z_ZERO_RANGE:
		mode |= FALLOC_FL_ZERO_RANGE;
		break;
	default:
		if (len >= BLK_ZERO_BUF) {
			unsigned int cnt = len / BLK_ZERO_BUF;

			io_uring_prep_writev(sqe, ring_fd(b), b->zero_iov,
					     cnt < BLK_ZERO_IOVS ? cnt : BLK_ZERO_IOVS, off);
		} else {
			io_uring_prep_write(sqe, ring_fd(b), b->zeroes, len, off);
		}
		sqe_owner(sqe, r);
		return true;
	}
	io_uring_prep_fallocate(sqe, ring_fd(b), mode, off, len);
	sqe_owner(sqe, r);
	return true;
}

/* The method failed with EOPNOTSUPP: note it, false if none is left. */
static bool zero_unsupported(struct blk_req *r)
{
	struct blk *b = r->bq->b;

	switch (r->zstage) {
	case BLK_Z_DISCARD:
		b->no_discard = true;
		break;
	case BLK_Z_PUNCH:
		b->no_punch = true;
		break;
	case BLK_Z_ZERO_RANGE:
		b->no_zero_range = true;
		break;
	default:
		return false;
	}
	return pick_zstage(r);
}

static void zero_done(struct blk_req *r, int res)
{
	struct blk *b = r->bq->b;
	uint64_t len = r->ranges[r->range_idx].len;

	if (res == -EOPNOTSUPP && !zero_unsupported(r))
		res = 0;		/* a discard nobody can do */
	else if (res == -EOPNOTSUPP || res == -EAGAIN || res == -EINTR)
		goto again;
	if (res < 0 || (r->zstage == BLK_Z_WRITE && !res)) {
		io_error(b, r->op == BLK_OP_DISCARD ? "discard" : "write zeroes",
			 res ? res : -EIO);
		blk_req_complete(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	/* fallocate does the whole range; a write may be short. */
	r->done += r->zstage == BLK_Z_WRITE ? (uint64_t)res : len - r->done;
again:
	step(r);
}

static void flush_done(struct blk_req *r, int res)
{
	if (res == -EAGAIN || res == -EINTR) {
		step(r);
		return;
	}
	if (res < 0)
		io_error(r->bq->b, "fdatasync", res);
	blk_req_complete(r, res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

/* Issue r's next operation, or queue it until the ring has room. */
static void step(struct blk_req *r)
{
	struct blk *b = r->bq->b;
	struct io_uring_sqe *sqe;
	bool queued;

	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		queued = issue_rw(r);
		break;
	case BLK_OP_FLUSH:
		sqe = get_sqe(r);
		if (sqe) {
			io_uring_prep_fsync(sqe, ring_fd(b), IORING_FSYNC_DATASYNC);
			sqe_owner(sqe, r);
		}
		queued = sqe;
		break;
	default:
		if (!settle_range(r)) {
			blk_req_complete(r, VIRTIO_BLK_S_OK);
			return;
		}
		queued = issue_zero(r);
		break;
	}
	if (!queued) {
		struct blk_req **pp = &b->waiting;

		while (*pp)
			pp = &(*pp)->next_free;
		r->next_free = NULL;
		*pp = r;
		b->nwaiting++;
	}
}

/* Give requests that found the ring full another try, each once. */
static void retry_waiting(struct blk *b)
{
	for (unsigned int n = b->nwaiting; n && b->waiting; n--) {
		struct blk_req *r = b->waiting;

		b->waiting = r->next_free;
		b->nwaiting--;
		step(r);
	}
}

void blk_io_start(struct blk_req *r)
{
	struct blk *b = r->bq->b;

	r->done = 0;
	r->bounce = b->direct && b->dio_faults;
	r->range_idx = 0;
	step(r);
}

static void dispatch(struct blk_req *r, int res)
{
	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		rw_done(r, res);
		break;
	case BLK_OP_FLUSH:
		flush_done(r, res);
		break;
	default:
		zero_done(r, res);
		break;
	}
}

/* Completions the kernel holds back until this thread enters it. */
static bool kernel_holds_events(struct blk *b)
{
	return IO_URING_READ_ONCE(*b->ring.sq.kflags) &
	       (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN);
}

bool blk_io_ready(struct blk *b)
{
	return io_uring_cq_ready(&b->ring) || kernel_holds_events(b);
}

unsigned int blk_io_reap(struct blk *b)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	if (b->sqes_inflight == b->sqes_queued && !b->waiting)
		return 0;
	if (kernel_holds_events(b))
		io_uring_get_events(&b->ring);
	/* New completions may land while we go: the loop re-reads the tail. */
	io_uring_for_each_cqe(&b->ring, head, cqe) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		n++;
		b->sqes_inflight--;
		/* Mark it seen before dispatching, which may need ring room. */
		io_uring_cq_advance(&b->ring, 1);
		if (r)
			dispatch(r, res);
	}
	if (n)
		retry_waiting(b);
	return n;
}

void blk_io_drain(struct blk *b)
{
	struct io_uring_sqe *sqe;

	b->waiting = NULL;
	b->nwaiting = 0;
	if (!b->sqes_inflight)
		return;
	/* Best effort: I/O already running on a file cannot be stopped. */
	sqe = io_uring_get_sqe(&b->ring);
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data(sqe, NULL);
		b->sqes_inflight++;
	}
	io_uring_submit(&b->ring);
	b->sqes_queued = 0;
	while (b->sqes_inflight) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe(&b->ring, &cqe);

		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			/* Cannot happen with a live ring; do not spin on it. */
			io_error(b, "waiting for I/O to drain", rc);
			break;
		}
		io_uring_cqe_seen(&b->ring, cqe);
		b->sqes_inflight--;
	}
}
