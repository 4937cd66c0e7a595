// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio 1.2, 5.2): a raw image file or block device.
 *
 *   blk,file=PATH[,readonly=on|off][,cache=none|writeback][,serial=STR]
 *      [,discard=on|off][,queues=N][,queue-size=N][,poll-us=N]
 *      [,kick-busy=on|off][,stall-ms=N][,bounce-pool=KIB]
 *
 * queues: virtqueues (VIRTIO_BLK_F_MQ), all served by the device's worker;
 * queue-size: entries per queue (power of two, default 256); poll-us: the
 * most the worker busy-polls for more work before it sleeps (adaptive; 0,
 * the default, never polls; see "polling" below); kick-busy=off (default):
 * no kicks asked for on a queue while it has requests in flight, unless
 * none completed for stall-ms (default 1; see arm_queues());
 * bounce-pool: KiB of large bounce buffers kept for reuse (blk_io.c).
 *
 * cache=writeback (default) uses Dom0's page cache; cache=none opens the
 * image with O_DIRECT (see blk_io.c for guest memory direct I/O cannot
 * reach). Either way a FLUSH is an fdatasync(2), so a write completed before
 * a flush completed survives the process being killed; a driver that does not
 * negotiate FLUSH gets write-through (RWF_DSYNC) writes. The image is
 * flock(2)ed (shared when read-only) so two backends cannot write one image.
 *
 * Requests run asynchronously on io_uring (blk_io.c); this file parses
 * options, sets up config space and feeds queues. A chain without any
 * device-writable byte cannot carry a status: it is logged as a guest error
 * and returned with used length 0, and the device goes on serving the rest
 * (failing the whole device would punish every other request for one
 * driver bug).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/virtio_ids.h>

#include "blk.h"
#include "devices.h"
#include "log.h"

#define BLK_QUEUE_SIZE		256
#define BLK_QUEUE_SIZE_MAX	1024
#define BLK_SIZE_MAX		(1u << 20)	/* bytes per segment */
#define BLK_MAX_ZERO_SECTORS	(1u << 22)	/* 2 GiB per range */
#define BLK_PHYS_MAX		65536u
#define BLK_POLL_US		0		/* off: Dom0 CPUs are often few */
#define BLK_POLL_START_NS	4000
#define BLK_STALL_MS		1

struct blk_params {
	const char *path;
	bool readonly;
	bool direct;
	bool discard;
	uint64_t queues;
	uint64_t queue_size;
	uint64_t poll_us;
	bool kick_busy;
	uint64_t stall_ms;
	uint64_t bounce_pool;		/* KiB */
};

struct blk_geometry {
	uint64_t bytes;
	uint32_t logical;
	uint32_t physical;
	uint32_t min_io;		/* bytes, 0: unknown */
	uint32_t opt_io;
};

/* ---- options and image ------------------------------------------------- */

static int parse_params(struct blk *b, struct vopts *o, struct blk_params *p,
			char *err, size_t errlen)
{
	const char *cache = vopts_get(o, "cache"), *serial = vopts_get(o, "serial");
	int rc;

	p->path = vopts_get(o, "file");
	if (!p->path || !*p->path) {
		snprintf(err, errlen, "blk: file=PATH is required");
		return -EINVAL;
	}
	if (cache && strcmp(cache, "none") && strcmp(cache, "writeback")) {
		snprintf(err, errlen, "blk: cache=%s: expected none or writeback", cache);
		return -EINVAL;
	}
	p->direct = cache && !strcmp(cache, "none");
	if (serial && strlen(serial) > VIRTIO_BLK_ID_BYTES) {
		snprintf(err, errlen, "blk: serial=%s: at most %u bytes", serial,
			 VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	if (serial)
		memcpy(b->serial, serial, strlen(serial));
	rc = vopts_get_bool(o, "readonly", false, &p->readonly, err, errlen);
	if (!rc)
		rc = vopts_get_bool(o, "discard", true, &p->discard, err, errlen);
	if (!rc)
		rc = vopts_get_u64(o, "queues", 1, 1, VDEV_MAX_QUEUES, &p->queues,
				   err, errlen);
	if (!rc)
		rc = vopts_get_u64(o, "queue-size", BLK_QUEUE_SIZE, 2,
				   BLK_QUEUE_SIZE_MAX, &p->queue_size, err, errlen);
	if (!rc)
		rc = vopts_get_u64(o, "poll-us", BLK_POLL_US, 0, 1000, &p->poll_us,
				   err, errlen);
	if (!rc)
		rc = vopts_get_bool(o, "kick-busy", false, &p->kick_busy, err, errlen);
	if (!rc)
		rc = vopts_get_u64(o, "stall-ms", BLK_STALL_MS, 1, 60000,
				   &p->stall_ms, err, errlen);
	if (!rc)
		rc = vopts_get_u64(o, "bounce-pool", BLK_POOL_KIB, 0, 65536,
				   &p->bounce_pool, err, errlen);
	if (!rc && (p->queue_size & (p->queue_size - 1))) {
		snprintf(err, errlen, "blk: queue-size=%llu: not a power of two",
			 (unsigned long long)p->queue_size);
		rc = -EINVAL;
	}
	return rc;
}

static bool pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && !(v & (v - 1));
}

static int blockdev_geometry(int fd, struct blk_geometry *g)
{
	int logical = 0;
	unsigned int physical = 0, min_io = 0, opt_io = 0;

	if (ioctl(fd, BLKGETSIZE64, &g->bytes) || ioctl(fd, BLKSSZGET, &logical))
		return -errno;
	g->logical = logical;
	/* Hints only: a device without them gets the logical size. */
	if (!ioctl(fd, BLKPBSZGET, &physical))
		g->physical = physical;
	if (!ioctl(fd, BLKIOMIN, &min_io))
		g->min_io = min_io;
	if (!ioctl(fd, BLKIOOPT, &opt_io))
		g->opt_io = opt_io;
	return 0;
}

static void file_geometry(int fd, const struct stat *st, bool direct,
			  struct blk_geometry *g)
{
	g->bytes = st->st_size;
	g->logical = BLK_SECTOR_SIZE;
	/* The file system block: I/O aligned to it needs no read-modify-write. */
	g->physical = st->st_blksize;
#ifdef STATX_DIOALIGN
	struct statx stx;

	/* O_DIRECT may need more than 512-byte alignment: say so to the guest. */
	if (direct && !statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN) &&
	    pow2_in(stx.stx_dio_offset_align, BLK_SECTOR_SIZE, 4096))
		g->logical = stx.stx_dio_offset_align;
#endif
}

static int open_image(struct blk *b, const struct blk_params *p,
		      struct blk_geometry *g, char *err, size_t errlen)
{
	int flags = (p->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		    (p->direct ? O_DIRECT : 0);
	struct stat st;

	b->fd = open(p->path, flags);
	if (b->fd < 0) {
		int e = errno;

		snprintf(err, errlen, "blk: %s: %s%s", p->path, strerror(e),
			 e == EINVAL && p->direct ? " (no O_DIRECT here: use cache=writeback)" :
			 e == EROFS || e == EACCES ? " (readonly=on?)" : "");
		return -e;
	}
	if (flock(b->fd, (p->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		int e = errno;

		snprintf(err, errlen, "blk: %s: %s", p->path, e == EWOULDBLOCK ?
			 "in use by another process" : strerror(e));
		return -e;
	}
	if (fstat(b->fd, &st)) {
		snprintf(err, errlen, "blk: %s: %m", p->path);
		return -errno;
	}
	memset(g, 0, sizeof(*g));
	if (S_ISBLK(st.st_mode)) {
		int rc = blockdev_geometry(b->fd, g);

		if (rc) {
			snprintf(err, errlen, "blk: %s: %s", p->path, strerror(-rc));
			return rc;
		}
		b->blockdev = true;
	} else if (S_ISREG(st.st_mode)) {
		file_geometry(b->fd, &st, p->direct, g);
	} else {
		snprintf(err, errlen, "blk: %s: not a regular file or block device",
			 p->path);
		return -EINVAL;
	}
	if (!pow2_in(g->logical, BLK_SECTOR_SIZE, BLK_PHYS_MAX)) {
		snprintf(err, errlen, "blk: %s: unusable block size %u", p->path,
			 g->logical);
		return -EINVAL;
	}
	if (!pow2_in(g->physical, g->logical, BLK_PHYS_MAX))
		g->physical = g->logical;
	return 0;
}

/* ---- config space ------------------------------------------------------ */

static unsigned int log2u(uint32_t v)
{
	unsigned int n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static void fill_config(struct blk *b, const struct blk_params *p,
			const struct blk_geometry *g)
{
	struct virtio_blk_config c;
	uint32_t align = g->physical >> BLK_SECTOR_SHIFT;

	memset(&c, 0, sizeof(c));
	/* Whole logical blocks only: a tail the guest cannot address is cut. */
	b->sectors = (g->bytes / g->logical) * (g->logical >> BLK_SECTOR_SHIFT);
	b->blk_size = g->logical;
	b->max_discard_sectors = BLK_MAX_ZERO_SECTORS;
	b->max_zeroes_sectors = BLK_MAX_ZERO_SECTORS;
	c.capacity = htole64(b->sectors);
	c.size_max = htole32(BLK_SIZE_MAX);
	c.seg_max = htole32(BLK_SEG_MAX);
	c.blk_size = htole32(g->logical);
	c.physical_block_exp = log2u(g->physical / g->logical);
	c.min_io_size = htole16(g->min_io / g->logical ? g->min_io / g->logical :
				g->physical / g->logical);
	c.opt_io_size = htole32(g->opt_io / g->logical);
	c.num_queues = htole16(p->queues);
	c.max_discard_sectors = htole32(b->max_discard_sectors);
	c.max_discard_seg = htole32(BLK_MAX_SEGS);
	c.discard_sector_alignment = htole32(align);
	c.max_write_zeroes_sectors = htole32(b->max_zeroes_sectors);
	c.max_write_zeroes_seg = htole32(BLK_MAX_SEGS);
	c.write_zeroes_may_unmap = p->discard;
	/* Secure erase is not offered: its fields stay outside config space. */
	b->dev->config_len = offsetof(struct virtio_blk_config,
				      max_secure_erase_sectors);
	memcpy(b->dev->config, &c, b->dev->config_len);
}

static uint64_t host_features(const struct blk_params *p)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_TOPOLOGY |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_MQ;

	if (p->readonly)
		return f | 1ull << VIRTIO_BLK_F_RO;
	f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	if (p->discard)
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
	return f;
}

/* ---- life cycle -------------------------------------------------------- */

static int setup_queues(struct blk *b, unsigned int nq, unsigned int size)
{
	b->queues = calloc(nq, sizeof(*b->queues));
	if (!b->queues)
		return -ENOMEM;
	b->nq = nq;
	b->dev->num_queues = nq;
	for (unsigned int q = 0; q < nq; q++) {
		struct blk_queue *bq = &b->queues[q];

		bq->b = b;
		bq->index = q;
		bq->reqs = calloc(size, sizeof(*bq->reqs));
		if (!bq->reqs)
			return -ENOMEM;
		for (unsigned int i = 0; i < size; i++) {
			bq->reqs[i].bq = bq;
			bq->reqs[i].next_free = i + 1 < size ? &bq->reqs[i + 1] : NULL;
		}
		bq->free = bq->reqs;
		b->dev->queues[q].num_max = size;
	}
	return 0;
}

static void free_queue(struct blk_queue *bq, unsigned int size)
{
	for (unsigned int i = 0; bq->reqs && i < size; i++) {
		free(bq->reqs[i].iov);
		free(bq->reqs[i].ranges);
		free(bq->reqs[i].bounce_buf);
		gmem_release(bq->reqs[i].hold);
	}
	free(bq->reqs);
	virtq_elem_free(bq->elem);
}

static void blk_destroy(struct vdev *dev)
{
	struct blk *b = dev->priv;

	if (!b)
		return;
	if (b->efd_watched)
		vdev_del_fd(dev, b->efd);
	/*
	 * The ring's registered file keeps the open file, and with it the
	 * lock, until the kernel has torn the ring down, later: unlock now, or
	 * a backend started again at once for this image would be refused.
	 */
	if (b->fd >= 0)
		flock(b->fd, LOCK_UN);
	blk_io_fini(b);
	if (b->fd >= 0)
		close(b->fd);
	for (unsigned int q = 0; q < b->nq; q++)
		free_queue(&b->queues[q], dev->queues[q].num_max);
	free(b->queues);
	free(b);
	dev->priv = NULL;
}

static int blk_create(struct vdev *dev, struct vopts *o, char *err,
		      size_t errlen)
{
	struct blk *b = calloc(1, sizeof(*b));
	struct blk_geometry g;
	struct blk_params p;
	int rc;

	if (!b)
		return -ENOMEM;
	b->dev = dev;
	b->fd = -1;
	b->efd = -1;
	dev->priv = b;
	rc = parse_params(b, o, &p, err, errlen);
	if (!rc)
		rc = open_image(b, &p, &g, err, errlen);
	if (!rc && (rc = setup_queues(b, p.queues, p.queue_size)))
		snprintf(err, errlen, "blk: out of memory");
	if (!rc)
		rc = blk_io_init(b, p.queues * p.queue_size, err, errlen);
	if (rc) {
		blk_destroy(dev);
		return rc;
	}
	b->readonly = p.readonly;
	b->direct = p.direct;
	b->discard = p.discard;
	b->poll_max_ns = p.poll_us * 1000;
	b->kick_busy = p.kick_busy;
	b->stall_ns = p.stall_ms * 1000000;
	b->pool_max = p.bounce_pool << 10;
	fill_config(b, &p, &g);
	dev->host_features = host_features(&p);
	log_info("%s: %s: %llu sectors, %u-byte blocks%s%s, %llu queue(s)",
		 dev->name, p.path, (unsigned long long)b->sectors, b->blk_size,
		 p.readonly ? ", read-only" : "", p.direct ? ", cache=none" : "",
		 (unsigned long long)p.queues);
	return 0;
}

static int blk_start(struct vdev *dev)
{
	struct blk *b = dev->priv;

	b->writethrough = !vdev_has_feature(dev, VIRTIO_BLK_F_FLUSH);
	return 0;
}

/* ---- requests ---------------------------------------------------------- */

/* Write the status, return the chain to the driver, free the slot. */
static void answer(struct blk_req *r, uint8_t status)
{
	struct blk_queue *bq = r->bq;

	/* Its bytes are in guest memory: the buffer is free before the push. */
	blk_io_put_bounce(r);
	*r->status = status;
	virtq_push(&bq->b->dev->queues[bq->index].vq, r->head, r->written + 1);
	bq->completed = true;
	gmem_release(r->hold);
	r->hold = NULL;
	r->next_free = bq->free;
	bq->free = r;
}

void blk_req_complete(struct blk_req *r, uint8_t status)
{
	struct blk_queue *bq = r->bq;

	answer(r, status);
	bq->outstanding--;
}

static void handle_chain(struct blk_queue *bq, struct virtq_elem *e)
{
	struct blk *b = bq->b;
	const struct iovec *last;
	struct blk_req *r;
	int st;

	if (!e->in_len) {
		vdev_guest_error(b->dev, "queue %u: request without a status byte",
				 bq->index);
		virtq_push(&b->dev->queues[bq->index].vq, e->head, 0);
		bq->completed = true;
		return;
	}
	r = bq->free;
	bq->free = r->next_free;
	r->head = e->head;
	last = &e->iov[e->out_num + e->in_num - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	st = blk_req_parse(b, e, r);
	if (st >= 0) {
		answer(r, st);
		return;
	}
	bq->outstanding++;
	r->hold = virtq_elem_take_hold(e);
	blk_io_start(r);
}

static bool queue_live(struct blk_queue *bq)
{
	struct vdev *dev = bq->b->dev;
	struct vdev_queue *qs = &dev->queues[bq->index];

	return vdev_running(dev) && atomic_load(&qs->ready) && !qs->vq.broken;
}

/*
 * Pop every available chain, as long as the queue has free slots (only a
 * driver with more chains outstanding than the queue size runs out). With
 * no slot left kicks stay off and completions resume the queue. Kicks stay
 * off here: blk_run() asks for them again only when it is about to sleep.
 */
static void process_queue(struct blk_queue *bq)
{
	struct virtq *vq = &bq->b->dev->queues[bq->index].vq;
	int rc = 0;

	bq->pending = false;
	if (!queue_live(bq))
		return;
	if (!bq->elem || bq->elem->iov_cap < vq->max_iov) {
		virtq_elem_free(bq->elem);
		bq->elem = virtq_elem_new(vq);
		if (!bq->elem) {
			bq->pending = true;
			return;
		}
	}
	virtq_disable_kicks(vq);
	while (bq->outstanding < vq->size && (rc = virtq_pop(vq, bq->elem)) > 0)
		handle_chain(bq, bq->elem);
	if (rc >= 0 && bq->outstanding >= vq->size)
		bq->pending = true;
}

static void send_interrupts(struct blk *b)
{
	for (unsigned int q = 0; q < b->nq; q++) {
		if (b->queues[q].completed) {
			b->queues[q].completed = false;
			vdev_queue_interrupt(b->dev, q);
		}
	}
}

/* ---- polling ----------------------------------------------------------- */

/*
 * Adaptive polling, as QEMU's iothreads do it (poll-max-ns). After a run with
 * I/O still in flight the worker keeps looking at the completion ring and the
 * available rings for up to poll_ns before it sleeps, with kicks left off:
 * under load requests are picked up without a kick (no QueueNotify exit for
 * the guest) and completions without an eventfd wakeup. The window grows
 * while work comes back within poll-us and shrinks to nothing when the device
 * is idle, so an idle device burns no CPU. While polling the worker holds
 * dev->lock, so a register access that needs it may wait up to poll-us;
 * QueueNotify and InterruptStatus do not. It is off unless asked for
 * (poll-us=32 is QEMU's default): the spinning CPU is one Dom0 may not have
 * to spare, and buffered I/O runs on kernel threads that need it too.
 */
static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Grow or shrink the window from how long the worker slept last time. */
static void adapt_poll(struct blk *b, uint64_t now)
{
	uint64_t idle;

	if (!b->poll_max_ns || !b->idle_since)
		return;
	idle = now - b->idle_since + b->poll_ns;
	if (idle > b->poll_max_ns)
		b->poll_ns = b->poll_ns / 2 < 1000 ? 0 : b->poll_ns / 2;
	else if (b->poll_ns < b->poll_max_ns)
		b->poll_ns = b->poll_ns ? 2 * b->poll_ns : BLK_POLL_START_NS;
	if (b->poll_ns > b->poll_max_ns)
		b->poll_ns = b->poll_max_ns;
}

/* Work without a notification: a completion, or a chain in a ring that
 * has a free slot for it. */
static bool work_arrived(struct blk *b)
{
	bool found = blk_io_ready(b);

	for (unsigned int q = 0; q < b->nq; q++) {
		struct virtq *vq = &b->dev->queues[q].vq;

		if (queue_live(&b->queues[q]) &&
		    b->queues[q].outstanding < vq->size && virtq_has_work(vq)) {
			b->queues[q].pending = true;
			found = true;
		}
	}
	return found;
}

static bool poll_work(struct blk *b)
{
	uint64_t end = vloop_now_ns() + b->poll_ns;

	do {
		if (work_arrived(b))
			return true;
		cpu_relax();
	} while (vloop_now_ns() < end);
	return false;
}

/*
 * Ask for kicks on every queue; true if chains arrived meanwhile.
 *
 * With kick-busy=off a queue with requests in flight is left without: its
 * next completion wakes the worker, which then takes whatever the driver
 * posted meanwhile (unarmed_work()). Under load the guest's QueueNotify
 * writes, each a trap through the hypervisor to this process, mostly go
 * away. A request posted while the others are slow (a flush, a stuck
 * network disk) would wait for them: watch_stall() bounds that wait.
 */
static bool arm_queues(struct blk *b)
{
	bool found = false;

	for (unsigned int q = 0; q < b->nq; q++) {
		struct blk_queue *bq = &b->queues[q];

		if (!queue_live(bq) || bq->pending)
			continue;
		if (!b->kick_busy && !b->stalled && bq->outstanding)
			continue;
		if (virtq_enable_kicks(&b->dev->queues[q].vq)) {
			bq->pending = true;
			found = true;
		}
	}
	return found;
}

/* With kick-busy=off: chains posted without a kick. Every queue's avail
 * index is looked at: cheap, and no state to keep in step with arm_queues(). */
static void unarmed_work(struct blk *b)
{
	if (b->kick_busy)
		return;
	for (unsigned int q = 0; q < b->nq; q++) {
		struct blk_queue *bq = &b->queues[q];

		if (!bq->pending && queue_live(bq) &&
		    virtq_has_work(&b->dev->queues[q].vq))
			bq->pending = true;
	}
}

static bool unarmed_busy(struct blk *b)
{
	if (b->kick_busy || b->stalled)
		return false;
	for (unsigned int q = 0; q < b->nq; q++)
		if (queue_live(&b->queues[q]) && b->queues[q].outstanding)
			return true;
	return false;
}

static void blk_run(struct blk *b);

/* stall_ns went by without a completion: take what was posted, and ask
 * for kicks until something completes. */
static void stall_timer(void *opaque)
{
	struct blk *b = opaque;

	if (!unarmed_busy(b))
		return;
	b->stalled = true;
	unarmed_work(b);
	blk_run(b);
}

/*
 * The worker is about to sleep with queues that ask for no kicks: wake it
 * stall_ns after the last completion. Its loop's timer costs no system
 * call; under steady load completions come first and it never fires.
 */
static void watch_stall(struct blk *b)
{
	if (unarmed_busy(b)) {
		if (!b->watching) {
			b->watching = true;
			b->last_done_ns = vloop_now_ns();
		}
		vdev_set_timer(b->dev, b->last_done_ns + b->stall_ns,
			       stall_timer, b);
	} else if (b->watching) {
		b->watching = false;
		vdev_set_timer(b->dev, 0, NULL, NULL);
	}
}

/* Completions: any at all means the queues are moving again. The clock is
 * read only while a stall is watched for (watch_stall() starts from now). */
static bool reap(struct blk *b)
{
	if (!blk_io_reap(b))
		return false;
	b->stalled = false;
	if (b->watching)
		b->last_done_ns = vloop_now_ns();
	return true;
}

/* ---- running ------------------------------------------------------------ */

/*
 * Feed queues, submit, complete; until nothing more finishes at once. Kicks
 * are asked for again only after the interrupts went out: a driver that
 * answers its interrupt with new requests at once (while the worker is still
 * here, or has been preempted by it) then needs no kick for them, which
 * under Xen is a trap less for the guest, and a wakeup less for the worker.
 */
static void blk_run(struct blk *b)
{
	bool poll;

	if (b->poll_max_ns)
		adapt_poll(b, vloop_now_ns());
	poll = b->poll_ns > 0;
	do {
		do {
			unarmed_work(b);
			for (unsigned int q = 0; q < b->nq; q++)
				if (b->queues[q].pending)
					process_queue(&b->queues[q]);
			blk_io_submit(b);
		} while (reap(b));
		send_interrupts(b);
		/* Poll only while I/O is in flight: then the CPU is ours anyway. */
	} while ((poll && b->sqes_inflight && poll_work(b)) || arm_queues(b));
	watch_stall(b);
	if (b->poll_max_ns)
		b->idle_since = vloop_now_ns();
}

/*
 * Edge-triggered: every completion the kernel signals is a new edge, so the
 * counter need not be read (one syscall less per wakeup); blk_run() reaps
 * all there is, including completions that arrive while it runs.
 */
static void completion_handler(int fd, uint32_t events, void *opaque)
{
	blk_run(opaque);
}

static void blk_kick(struct vdev *dev, unsigned int q)
{
	struct blk *b = dev->priv;

	/* The worker's loop exists only once the device runs: watch it now. */
	if (!b->efd_watched) {
		int rc = vdev_add_fd(dev, b->efd, EPOLLIN | EPOLLET,
				     completion_handler, b);

		if (rc) {
			vdev_fail(dev, "cannot watch I/O completions: %s", strerror(-rc));
			return;
		}
		b->efd_watched = true;
	}
	b->queues[q].pending = true;
	blk_run(b);
}

static void blk_reset(struct vdev *dev)
{
	struct blk *b = dev->priv;

	/* No completion writes guest memory or a ring after this. */
	blk_io_drain(b);
	b->stalled = false;
	b->watching = false;
	vdev_set_timer(dev, 0, NULL, NULL);
	for (unsigned int q = 0; q < b->nq; q++) {
		struct blk_queue *bq = &b->queues[q];
		unsigned int size = dev->queues[q].num_max;

		for (unsigned int i = 0; i < size; i++) {
			struct blk_req *r = &bq->reqs[i];

			/* Forgotten requests let go of guest memory. */
			gmem_release(r->hold);
			r->hold = NULL;
			r->next_free = i + 1 < size ? &bq->reqs[i + 1] : NULL;
		}
		virtq_elem_drop(bq->elem);
		bq->free = bq->reqs;
		bq->outstanding = 0;
		bq->pending = false;
		bq->completed = false;
	}
}

const struct vdev_model vdev_blk_model = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.summary = "block device backed by a raw image file or a host block device",
	.options = "file=PATH,readonly=on|off,cache=none|writeback,serial=STR,"
		   "discard=on|off,queues=N,queue-size=N,poll-us=N,kick-busy=on|off,stall-ms=N,"
		   "bounce-pool=KIB",
	.create = blk_create,
	.destroy = blk_destroy,
	.start = blk_start,
	.queue_kick = blk_kick,
	.reset = blk_reset,
};
