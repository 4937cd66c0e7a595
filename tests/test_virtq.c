// SPDX-License-Identifier: MIT
/*
 * Split virtqueue tests.
 *
 * hostile_*: a guest breaks the ring rules in one way each. The device must
 * end in DEVICE_NEEDS_RESET with a configuration-change interrupt, log why,
 * hand back nothing, keep answering registers, and work again after a
 * reset. The sanitizers catch any out-of-bounds access on the way.
 *
 * ring_*: rules a correct device follows (EVENT_IDX both ways, indirect
 * chains, chunked guest RAM, batches, index wrap-around), through the
 * simulated driver and an rng device.
 *
 * vq_*: lib/virtq.c on its own, over plain memory, without a device.
 */
#define _GNU_SOURCE 1	/* memfd_create */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdrv.h"
#include "xtest.h"

#define WAIT_MS 5000
/* How long an interrupt that should not come is given to show up. */
#define QUIET_MS 50

static void close_drv(void *d)
{
	vdrv_close(d);
}

static struct vdrv *open_rng(const struct vdrv_opts *o)
{
	char err[256];
	struct vdrv *d = vdrv_open("rng", o, err, sizeof(err));

	XT_ASSERT_MSG(d, "vdrv_open: %s", err);
	xt_defer(close_drv, d);
	return d;
}

static struct vdrv *start(uint64_t features, uint16_t num)
{
	struct vdrv *d = open_rng(NULL);

	XT_ASSERT_MSG(!vdrv_init(d, features, 1, num), "init: %s", d->err);
	return d;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Post one writable buffer of len bytes, wait for it and reap it. */
static void roundtrip(struct vdrv *d, uint32_t len)
{
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_seg seg = { .len = len, .writable = true };
	struct vdrv_used u;

	XT_ASSERT_MSG(vdrv_post(vq, &seg, 1, false, NULL) >= 0, "%s", d->err);
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
	XT_ASSERT_MSG(vdrv_reap(vq, &u) == 1, "%s", d->err);
	XT_EQ(u.len, len);
	XT_ASSERT(!all_zero(vdrv_ptr(d, seg.gpa, len), len));
}

/*
 * The device gave up on the guest: status bit 0x40, a config interrupt,
 * the reason in the log, no used entries. Then a reset brings it back.
 */
static void expect_needs_reset(struct vdrv *d, const char *why)
{
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_CONFIG, WAIT_MS), "%s", d->err);
	XT_ASSERT_MSG(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET,
		      "status 0x%x", vdrv_status(d));
	XT_ASSERT_MSG(xt_stderr_has(why), "the log does not say \"%s\"", why);
	if (vq->used)
		XT_EQ(vdrv_used_idx(vq), 0);
	/* Still answering, and usable again after a reset. */
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_MAGIC_VALUE), VMMIO_MAGIC);
	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "re-init: %s", d->err);
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	roundtrip(d, 64);
}

static void set_desc(struct vring_desc *t, uint16_t i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	t[i].addr = htole64(addr);
	t[i].len = htole32(len);
	t[i].flags = htole16(flags);
	t[i].next = htole16(next);
}

/* An indirect table of n entries in guest RAM. */
static struct vring_desc *new_table(struct vdrv *d, unsigned int n,
				    uint64_t *gpa)
{
	*gpa = vdrv_alloc(d, 16ull * n, 16);
	XT_ASSERT(*gpa);
	memset(vdrv_ptr(d, *gpa, 16ull * n), 0, 16ull * n);
	return vdrv_ptr(d, *gpa, 16ull * n);
}

static uint64_t scratch(struct vdrv *d, uint64_t len)
{
	uint64_t gpa = vdrv_alloc(d, len, 64);

	XT_ASSERT(gpa);
	return gpa;
}

/* Publish head 0 of a hand-made chain and notify. */
static void publish0(struct vdrv_vq *vq)
{
	vdrv_publish(vq, 0);
	vdrv_notify(vq);
}

/* ---- hostile rings ------------------------------------------------------ */

static void hostile_avail_idx_jump(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	vdrv_set_avail_idx(vq, vq->num + 1);
	vdrv_notify(vq);
	expect_needs_reset(d, "available index jumped");
}

static void hostile_head_out_of_range(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	vdrv_publish(vq, vq->num);
	vdrv_notify(vq);
	expect_needs_reset(d, "available head");
}

static void hostile_next_out_of_range(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	set_desc(vq->desc, 0, scratch(d, 64), 64,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, vq->num);
	publish0(vq);
	expect_needs_reset(d, "next index");
}

static void hostile_chain_loop(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t buf = scratch(d, 64);

	set_desc(vq->desc, 0, buf, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(vq->desc, 1, buf, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(vq->desc, 2, buf, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	publish0(vq);
	expect_needs_reset(d, "loops");
}

static void hostile_chain_self_loop(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	set_desc(vq->desc, 0, scratch(d, 64), 64,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	publish0(vq);
	expect_needs_reset(d, "loops");
}

static void hostile_indirect_loop(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t table, buf = scratch(d, 64);
	struct vring_desc *t = new_table(d, 4, &table);

	set_desc(t, 0, buf, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(t, 1, buf, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(t, 2, buf, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(vq->desc, 0, table, 64, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "loops");
}

static void hostile_indirect_next_out_of_range(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t table;
	struct vring_desc *t = new_table(d, 2, &table);

	/* In range for the ring, out of range for the 2-entry table. */
	set_desc(t, 0, scratch(d, 64), 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(vq->desc, 0, table, 32, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "next index");
}

static void hostile_indirect_without_feature(void)
{
	struct vdrv *d = start(VDRV_F(VIRTIO_F_VERSION_1) |
			       VDRV_F(VIRTIO_RING_F_EVENT_IDX), 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_seg seg = { .len = 64, .writable = true };

	XT_ASSERT(!vdrv_has(d, VIRTIO_RING_F_INDIRECT_DESC));
	XT_ASSERT(vdrv_post(vq, &seg, 1, true, NULL) >= 0);
	vdrv_notify(vq);
	expect_needs_reset(d, "without VIRTIO_RING_F_INDIRECT_DESC");
}

static void hostile_nested_indirect(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t t1, t2;
	struct vring_desc *a = new_table(d, 1, &t1);
	struct vring_desc *b = new_table(d, 1, &t2);

	set_desc(b, 0, scratch(d, 64), 64, VRING_DESC_F_WRITE, 0);
	set_desc(a, 0, t2, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(vq->desc, 0, t1, 16, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "nested indirect");
}

static void hostile_indirect_with_next(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t table;
	struct vring_desc *t = new_table(d, 1, &table);

	set_desc(t, 0, scratch(d, 64), 64, VRING_DESC_F_WRITE, 0);
	set_desc(vq->desc, 0, table, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	set_desc(vq->desc, 1, scratch(d, 64), 64, VRING_DESC_F_WRITE, 0);
	publish0(vq);
	expect_needs_reset(d, "indirect descriptor with NEXT");
}

static void indirect_len_case(uint32_t len)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t table;
	struct vring_desc *t = new_table(d, 4, &table);

	for (int i = 0; i < 4; i++)
		set_desc(t, i, scratch(d, 64), 64, VRING_DESC_F_WRITE, 0);
	set_desc(vq->desc, 0, table, len, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "indirect table length");
}

static void hostile_indirect_len_zero(void)
{
	indirect_len_case(0);
}

static void hostile_indirect_len_not_multiple(void)
{
	indirect_len_case(24);
}

static void hostile_indirect_len_huge(void)
{
	indirect_len_case(0xfffffff0u);
}

static void hostile_indirect_table_outside_ram(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	set_desc(vq->desc, 0, 0x1000, 64, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "outside guest RAM");
}

/* Address 0 is an address like any other, not "no table". */
static void hostile_indirect_table_at_zero(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	set_desc(vq->desc, 0, 0, 64, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "outside guest RAM");
}

static void hostile_indirect_table_past_end(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t end = d->mem_base + d->mem_size;
	struct vring_desc *t = vdrv_ptr(d, end - 16, 16);

	/* First entry inside RAM and chained on: the second is past the end. */
	set_desc(t, 0, scratch(d, 64), 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(vq->desc, 0, end - 16, 32, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "outside guest RAM");
}

static void hostile_indirect_table_wraps(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	set_desc(vq->desc, 0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "wraps");
}

static void bad_buffer_case(uint64_t gpa, uint32_t len, const char *why)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_seg segs[2] = {
		{ .len = 16, .writable = true },
		{ .gpa = gpa, .len = len, .writable = true },
	};

	XT_ASSERT(vdrv_post(vq, segs, 2, false, NULL) >= 0);
	vdrv_kick(vq);
	expect_needs_reset(d, why);
}

static void hostile_buffer_below_ram(void)
{
	bad_buffer_case(0x1000, 64, "outside guest RAM");
}

static void hostile_buffer_past_end(void)
{
	bad_buffer_case(VDRV_MEM_BASE + VDRV_MEM_SIZE - 32, 64, "outside guest RAM");
}

static void hostile_buffer_above_ram(void)
{
	bad_buffer_case(0x8000000000ull, 4096, "outside guest RAM");
}

static void hostile_buffer_wraps(void)
{
	bad_buffer_case(UINT64_MAX - 0xf, 0x20, "wraps");
}

static void hostile_buffer_indirect_outside(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_seg segs[2] = {
		{ .len = 16, .writable = true },
		{ .gpa = 0x2000, .len = 16, .writable = true },
	};

	XT_ASSERT(vdrv_post(vq, segs, 2, true, NULL) >= 0);
	vdrv_kick(vq);
	expect_needs_reset(d, "outside guest RAM");
}

static void hostile_readable_after_writable(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_seg segs[3] = {
		{ .len = 16 },
		{ .len = 16, .writable = true },
		{ .len = 16 },
	};

	XT_ASSERT(vdrv_post(vq, segs, 3, false, NULL) >= 0);
	vdrv_kick(vq);
	expect_needs_reset(d, "device-readable descriptor after a writable one");
}

static void hostile_readable_after_writable_indirect(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_seg segs[2] = {
		{ .len = 16, .writable = true },
		{ .len = 16 },
	};

	XT_ASSERT(vdrv_post(vq, segs, 2, true, NULL) >= 0);
	vdrv_kick(vq);
	expect_needs_reset(d, "device-readable descriptor after a writable one");
}

/* 256 views of all guest RAM through one indirect table: 4 GiB. */
static void hostile_chain_over_4g_indirect(void)
{
	/* Unchunked RAM: each view of all of it is one segment. */
	struct vdrv_opts o = { .buffer_ram = true };
	struct vdrv *d = open_rng(&o);
	struct vdrv_vq *vq;
	unsigned int n = (1ull << 32) / d->mem_size + 1;
	uint64_t table;
	struct vring_desc *t;

	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "%s", d->err);
	vq = vdrv_vq(d, 0);
	t = new_table(d, n, &table);

	for (unsigned int i = 0; i < n; i++)
		set_desc(t, i, d->mem_base, d->mem_size,
			 VRING_DESC_F_WRITE | (i + 1 < n ? VRING_DESC_F_NEXT : 0), i + 1);
	set_desc(vq->desc, 0, table, 16 * n, VRING_DESC_F_INDIRECT, 0);
	publish0(vq);
	expect_needs_reset(d, "longer than 4 GiB");
}

/* The same through ring descriptors, with 128 MiB of guest RAM. */
static void hostile_chain_over_4g_direct(void)
{
	struct vdrv_opts o = { .mem_size = 128ull << 20, .buffer_ram = true };
	struct vdrv *d = open_rng(&o);
	struct vdrv_vq *vq;
	unsigned int n;

	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "%s", d->err);
	vq = vdrv_vq(d, 0);
	n = (1ull << 32) / d->mem_size + 1;
	XT_ASSERT(n <= vq->num);
	for (unsigned int i = 0; i < n; i++)
		set_desc(vq->desc, i, d->mem_base, d->mem_size,
			 VRING_DESC_F_WRITE | (i + 1 < n ? VRING_DESC_F_NEXT : 0), i + 1);
	publish0(vq);
	expect_needs_reset(d, "longer than 4 GiB");
}

/* Chunked guest RAM: one long buffer needs more iovecs than an element has. */
static void hostile_too_many_segments(void)
{
	struct vdrv_opts o = { .chunk_size = 64 };
	struct vdrv *d = open_rng(&o);
	struct vdrv_vq *vq;
	uint64_t len = 64ull * 1024;	/* 1024 chunks, max_iov is 512 */

	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "%s", d->err);
	vq = vdrv_vq(d, 0);
	set_desc(vq->desc, 0, scratch(d, len), len, VRING_DESC_F_WRITE, 0);
	publish0(vq);
	expect_needs_reset(d, "segments");
}

/* ---- hostile queue setup ------------------------------------------------ */

/* Up to FEATURES_OK, as a driver would go before setting up queues. */
static struct vdrv *negotiated(void)
{
	struct vdrv *d = open_rng(NULL);

	XT_ASSERT(vdrv_probe(d) > 0);
	XT_ASSERT(!vdrv_reset(d));
	vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	XT_ASSERT_MSG(!vdrv_negotiate(d, VDRV_F_DEFAULT), "%s", d->err);
	return d;
}

static void bad_queue_case(uint32_t num, uint64_t desc, uint64_t avail,
			   uint64_t used, const char *why)
{
	struct vdrv *d = negotiated();

	XT_ASSERT(vdrv_setup_queue_at(d, 0, num, desc, avail, used) < 0);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_READY), 0);
	expect_needs_reset(d, why);
}

#define RAM(off) (VDRV_MEM_BASE + (off))

static void hostile_queue_size_not_pow2(void)
{
	bad_queue_case(48, RAM(0), RAM(0x1000), RAM(0x2000), "power of two");
}

static void hostile_queue_size_over_max(void)
{
	bad_queue_case(128, RAM(0), RAM(0x1000), RAM(0x2000), "size 128");
}

static void hostile_queue_size_zero(void)
{
	bad_queue_case(0, RAM(0), RAM(0x1000), RAM(0x2000), "size 0");
}

static void hostile_queue_size_over_16bit(void)
{
	/* QueueNum is 16 bits of a 32-bit register: 0x10040 is not 64. */
	bad_queue_case(0x10040, RAM(0), RAM(0x1000), RAM(0x2000), "size 0");
}

static void hostile_desc_misaligned(void)
{
	bad_queue_case(64, RAM(8), RAM(0x1000), RAM(0x2000), "misaligned");
}

static void hostile_avail_misaligned(void)
{
	bad_queue_case(64, RAM(0), RAM(0x1001), RAM(0x2000), "misaligned");
}

static void hostile_used_misaligned(void)
{
	bad_queue_case(64, RAM(0), RAM(0x1000), RAM(0x2002), "misaligned");
}

static void hostile_desc_outside_ram(void)
{
	bad_queue_case(64, 0x1000, RAM(0x1000), RAM(0x2000), "outside guest RAM");
}

static void hostile_used_past_end(void)
{
	/* The used ring of 64 entries needs 518 bytes; 512 are left. */
	bad_queue_case(64, RAM(0), RAM(0x1000), RAM(VDRV_MEM_SIZE - 512),
		       "outside guest RAM");
}

static void hostile_avail_wraps(void)
{
	bad_queue_case(64, RAM(0), UINT64_MAX - 63, RAM(0x2000), "outside guest RAM");
}

static void hostile_queue_before_features_ok(void)
{
	struct vdrv *d = open_rng(NULL);

	XT_ASSERT(vdrv_probe(d) > 0);
	XT_ASSERT(!vdrv_reset(d));
	vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vdrv_write_driver_features(d, VDRV_F_DEFAULT);
	XT_ASSERT(vdrv_setup_queue(d, 0, 0) < 0);
	expect_needs_reset(d, "before FEATURES_OK");
}

/* ---- correct rings -------------------------------------------------------- */

/*
 * used_event holds interrupts back until the used index passes it. (The
 * first interrupt after setup always goes out: there is no earlier one to
 * compare with, as in vhost and QEMU.)
 */
static void ring_used_event_suppresses_interrupts(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_used u;

	roundtrip(d, 8);
	/* Take that first interrupt before counting. */
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS), "%s", d->err);
	vq->auto_used_event = false;
	vdrv_set_used_event(vq, 3);	/* interrupt when entry 4 is used */
	for (int i = 2; i <= 4; i++) {
		struct vdrv_seg seg = { .len = 8, .writable = true };

		vdrv_irq_clear(d);
		XT_ASSERT(vdrv_post(vq, &seg, 1, false, NULL) >= 0);
		vdrv_kick(vq);
		XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
		XT_EQ(vdrv_reap(vq, &u), 1);
		if (i < 4) {
			vdrv_msleep(QUIET_MS);
			XT_ASSERT_MSG(!vdrv_irqs_pending(d),
				      "interrupt for used index %d with used_event 3", i);
		} else {
			XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS),
				      "no interrupt when passing used_event: %s", d->err);
		}
	}
}

/* Without EVENT_IDX the flag does the same job. */
static void ring_no_interrupt_flag(void)
{
	struct vdrv *d = start(VDRV_F(VIRTIO_F_VERSION_1), 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	vdrv_set_no_interrupt(vq, true);
	vdrv_irq_clear(d);
	roundtrip(d, 32);
	vdrv_msleep(QUIET_MS);
	XT_EQ(vdrv_irqs_pending(d), 0);
	vdrv_set_no_interrupt(vq, false);
	roundtrip(d, 32);
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS), "%s", d->err);
}

/*
 * avail_event: while the device is busy (here: stalled on its lock) it
 * does not ask for kicks, so the driver sends one for several buffers; the
 * device then takes all of them and asks for the next kick.
 */
static void ring_avail_event_suppresses_kicks(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_used u;

	roundtrip(d, 16);
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS), "%s", d->err);
	XT_EQ(vdrv_avail_event(vq), 1);
	vq->kicks_sent = vq->kicks_suppressed = 0;
	vdev_lock(d->dev);
	for (int i = 0; i < 4; i++) {
		struct vdrv_seg seg = { .len = 16, .writable = true };

		if (vdrv_post(vq, &seg, 1, false, NULL) < 0) {
			vdev_unlock(d->dev);
			XT_FAIL("post: %s", d->err);
		}
		vdrv_kick(vq);
	}
	vdrv_irq_clear(d);
	vdev_unlock(d->dev);
	XT_EQ(vq->kicks_sent, 1);
	XT_EQ(vq->kicks_suppressed, 3);
	/* The interrupt comes after the device re-armed avail_event. */
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS), "%s", d->err);
	XT_EQ(vdrv_used_pending(vq), 4);
	for (int i = 0; i < 4; i++)
		XT_EQ(vdrv_reap(vq, &u), 1);
	XT_EQ(vdrv_avail_event(vq), 5);
	/* Drained: the next buffer must be kicked again. */
	roundtrip(d, 16);
	XT_EQ(vq->kicks_sent, 2);
}

/* Without EVENT_IDX, kicks are wanted again once the device is idle. */
static void ring_no_notify_flag_clear_when_idle(void)
{
	struct vdrv *d = start(VDRV_F(VIRTIO_F_VERSION_1), 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	for (int i = 0; i < 3; i++) {
		struct vdrv_seg seg = { .len = 16, .writable = true };
		struct vdrv_used u;

		XT_ASSERT(vdrv_post(vq, &seg, 1, false, NULL) >= 0);
		XT_ASSERT_MSG(vdrv_kick(vq), "kick %d suppressed", i);
		/* The interrupt follows the re-enabling of kicks. */
		XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS),
			      "%s", d->err);
		XT_EQ(vdrv_reap(vq, &u), 1);
		XT_EQ(le16toh(vq->used->flags) & VRING_USED_F_NO_NOTIFY, 0);
	}
	XT_EQ(vq->kicks_sent, 3);
}

static void ring_indirect_chains(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint8_t pattern[100];
	struct vdrv_used u;

	memset(pattern, 0xa5, sizeof(pattern));
	for (unsigned int n = 1; n <= 40; n += 13) {
		struct vdrv_seg segs[40];
		uint32_t want = 0;

		for (unsigned int i = 0; i < n; i++) {
			bool w = i >= n / 2;

			segs[i] = (struct vdrv_seg){ .data = w ? NULL : pattern,
						     .len = 50 + i, .writable = w };
			want += w ? 50 + i : 0;
		}
		XT_ASSERT_MSG(vdrv_post(vq, segs, n, true, NULL) >= 0, "%s", d->err);
		vdrv_kick(vq);
		XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
		XT_ASSERT_MSG(vdrv_reap(vq, &u) == 1, "%s", d->err);
		XT_EQ(u.len, want);
		for (unsigned int i = 0; i < n / 2; i++)
			XT_ASSERT(!memcmp(vdrv_ptr(d, segs[i].gpa, segs[i].len),
					  pattern, segs[i].len));
	}
}

/* Direct and indirect chains mixed in one batch. */
static void ring_mixed_batch(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	unsigned long got = 0;
	struct vdrv_used u;
	int posted = 0;

	for (;;) {
		struct vdrv_seg segs[3] = {
			{ .len = 10 }, { .len = 20, .writable = true },
			{ .len = 30, .writable = true },
		};

		if (vdrv_post(vq, segs, 3, posted % 3 == 0, NULL) < 0)
			break;
		posted++;
	}
	XT_ASSERT(posted >= 20);
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, posted, WAIT_MS), "%s", d->err);
	while (vdrv_reap(vq, &u) == 1) {
		XT_EQ(u.len, 50);
		got++;
	}
	XT_EQ(got, posted);
}

/* Buffers across the gmem mapping chunks arrive whole. */
static void ring_chunk_crossing(void)
{
	struct vdrv_opts o = { .chunk_size = 512 };
	struct vdrv *d = open_rng(&o);
	struct vdrv_vq *vq;
	struct vdrv_used u;
	uint64_t buf;
	uint8_t *p;

	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "%s", d->err);
	vq = vdrv_vq(d, 0);
	buf = scratch(d, 8192);
	for (unsigned int off = 1; off < 1024; off += 255) {
		struct vdrv_seg segs[2] = {
			{ .gpa = buf + off, .len = 3000, .writable = true },
			{ .gpa = buf + 4096 + off, .len = 511, .writable = true },
		};

		memset(vdrv_ptr(d, buf, 8192), 0, 8192);
		XT_ASSERT(vdrv_post(vq, segs, 2, off & 2, NULL) >= 0);
		vdrv_kick(vq);
		XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
		XT_ASSERT_MSG(vdrv_reap(vq, &u) == 1, "%s", d->err);
		XT_EQ(u.len, 3511);
		p = vdrv_ptr(d, buf, 8192);
		/* Every 64-byte piece got random bytes (all zero: 2^-512). */
		for (unsigned int i = off; i + 64 <= off + 3000; i += 64)
			XT_ASSERT_MSG(!all_zero(p + i, 64), "hole at +%u", i);
		XT_ASSERT(all_zero(p, off));
		XT_ASSERT(all_zero(p + off + 3000, 4096 - 3000));
	}
}

/* Many buffers, one kick: all come back. */
static void ring_many_per_kick(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 0);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_used u;
	bool seen[64] = { false };

	for (int i = 0; i < vq->num; i++) {
		struct vdrv_seg seg = { .len = 4 + i, .writable = true };

		XT_ASSERT(vdrv_post(vq, &seg, 1, false, (void *)(uintptr_t)(i + 1)) >= 0);
	}
	XT_EQ(vq->num_free, 0);
	XT_ASSERT(vdrv_kick(vq));
	XT_ASSERT_MSG(!vdrv_wait_used(vq, vq->num, WAIT_MS), "%s", d->err);
	for (int i = 0; i < vq->num; i++) {
		unsigned int tok;

		XT_ASSERT_MSG(vdrv_reap(vq, &u) == 1, "%s", d->err);
		tok = (uintptr_t)u.token - 1;
		XT_ASSERT(tok < 64 && !seen[tok]);
		seen[tok] = true;
		XT_EQ(u.len, 4 + tok);
	}
	XT_EQ(vq->kicks_sent, 1);
}

/* 16-bit ring indices wrap past 65535 on both rings. */
static void ring_index_wrap(void)
{
	struct vdrv *d = start(VDRV_F_DEFAULT, 16);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t buf = scratch(d, 64);
	unsigned int total = 0, seed = 1;
	struct vdrv_used u;

	XT_EQ(vq->num, 16);
	while (total < 70000) {
		unsigned int batch = 1 + (seed = seed * 1103515245 + 12345) % 16;

		for (unsigned int i = 0; i < batch; i++) {
			struct vdrv_seg seg = { .gpa = buf, .len = 8, .writable = true };

			XT_ASSERT_MSG(vdrv_post(vq, &seg, 1, i & 1, NULL) >= 0,
				      "%s", d->err);
		}
		vdrv_kick(vq);
		XT_ASSERT_MSG(!vdrv_wait_used(vq, batch, WAIT_MS), "after %u: %s",
			      total, d->err);
		for (unsigned int i = 0; i < batch; i++) {
			XT_ASSERT_MSG(vdrv_reap(vq, &u) == 1, "after %u: %s", total, d->err);
			XT_EQ(u.len, 8);
		}
		total += batch;
	}
	XT_EQ(vq->avail_idx, (uint16_t)total);
	XT_EQ(vdrv_used_idx(vq), (uint16_t)total);
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* ---- virtq on its own ---------------------------------------------------- */

#define VQ_RAM_BASE 0x100000ull
#define VQ_RAM_SIZE 0x10000ull
#define VQ_DESC (VQ_RAM_BASE)
#define VQ_AVAIL (VQ_RAM_BASE + 0x1000)
#define VQ_USED (VQ_RAM_BASE + 0x2000)
#define VQ_BUF (VQ_RAM_BASE + 0x4000)

struct vq_env {
	struct gmem *gm;
	uint8_t *ram;
	struct virtq vq;
	struct virtq_elem *e;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	unsigned int fails;
	char why[256];
};

static void vq_env_free(void *p)
{
	struct vq_env *v = p;

	virtq_fini(&v->vq);
	virtq_elem_free(v->e);
	gmem_destroy(v->gm);
	free(v->ram);
	free(v);
}

static void vq_failed(struct virtq *vq, const char *why, void *opaque)
{
	struct vq_env *v = opaque;

	v->fails++;
	snprintf(v->why, sizeof(v->why), "%s", why);
}

static struct vq_env *vq_env(uint16_t size, bool event_idx)
{
	struct vq_env *v = calloc(1, sizeof(*v));
	struct virtq_config c = {
		.size = size, .desc = VQ_DESC, .avail = VQ_AVAIL, .used = VQ_USED,
		.event_idx = event_idx, .indirect = true,
	};
	const char *why = NULL;

	XT_ASSERT(v);
	v->ram = calloc(1, VQ_RAM_SIZE);
	v->gm = gmem_plain_new(0);
	if (!v->ram || !v->gm) {
		free(v->ram);
		free(v);
		XT_FAIL("out of memory");
	}
	xt_defer(vq_env_free, v);
	XT_ASSERT(!gmem_plain_add(v->gm, VQ_RAM_BASE, v->ram, VQ_RAM_SIZE));
	XT_ASSERT_MSG(!virtq_init(&v->vq, v->gm, &c, &why), "%s", why);
	virtq_set_fail(&v->vq, vq_failed, v);
	v->e = virtq_elem_new(&v->vq);
	XT_ASSERT(v->e);
	v->desc = (void *)(v->ram + (VQ_DESC - VQ_RAM_BASE));
	v->avail = (void *)(v->ram + (VQ_AVAIL - VQ_RAM_BASE));
	v->used = (void *)(v->ram + (VQ_USED - VQ_RAM_BASE));
	return v;
}

static void vq_add(struct vq_env *v, uint16_t head)
{
	uint16_t idx = le16toh(v->avail->idx);

	v->avail->ring[idx % v->vq.size] = htole16(head);
	v->avail->idx = htole16(idx + 1);
}

static void vq_init_checks(void)
{
	static const struct {
		uint32_t size;
		uint64_t desc, avail, used;
		int rc;
	} cases[] = {
		{ 8, VQ_DESC, VQ_AVAIL, VQ_USED, 0 },
		{ 1, VQ_DESC, VQ_AVAIL, VQ_USED, 0 },
		{ 0, VQ_DESC, VQ_AVAIL, VQ_USED, -EINVAL },
		{ 6, VQ_DESC, VQ_AVAIL, VQ_USED, -EINVAL },
		{ 8, VQ_DESC + 4, VQ_AVAIL, VQ_USED, -EINVAL },
		{ 8, VQ_DESC, VQ_AVAIL + 1, VQ_USED, -EINVAL },
		{ 8, VQ_DESC, VQ_AVAIL, VQ_USED + 2, -EINVAL },
		{ 8, 0, VQ_AVAIL, VQ_USED, -EFAULT },
		{ 8, VQ_DESC, VQ_RAM_BASE + VQ_RAM_SIZE - 20, VQ_USED, -EFAULT },
		{ 8, VQ_DESC, VQ_AVAIL, VQ_RAM_BASE + VQ_RAM_SIZE - 68, -EFAULT },
		{ 8, VQ_DESC, VQ_AVAIL, VQ_RAM_BASE + VQ_RAM_SIZE - 72, 0 },
		{ 8, UINT64_MAX - 15, VQ_AVAIL, VQ_USED, -EFAULT },
		{ 8192, VQ_DESC, VQ_AVAIL, VQ_USED, -EFAULT },
		{ 65536, VQ_DESC, VQ_AVAIL, VQ_USED, -EINVAL },
	};
	struct vq_env *v = vq_env(8, false);

	for (size_t i = 0; i < XT_COUNT(cases); i++) {
		struct virtq_config c = {
			.size = cases[i].size, .desc = cases[i].desc,
			.avail = cases[i].avail, .used = cases[i].used,
		};
		const char *why = "";
		struct virtq q;
		int rc = virtq_init(&q, v->gm, &c, &why);

		XT_ASSERT_MSG(rc == cases[i].rc, "case %zu: %d (%s)", i, rc, why);
		virtq_fini(&q);
	}
	/* 2^16 does not fit the 16-bit size field; 32768 is the limit. */
	XT_EQ(VIRTQ_MAX_SIZE, 32768);
}

static void vq_pop_push(void)
{
	struct vq_env *v = vq_env(8, false);
	uint8_t *buf = v->ram + (VQ_BUF - VQ_RAM_BASE);

	set_desc(v->desc, 3, VQ_BUF, 100, VRING_DESC_F_NEXT, 5);
	set_desc(v->desc, 5, VQ_BUF + 100, 0, VRING_DESC_F_NEXT, 6);
	set_desc(v->desc, 6, VQ_BUF + 200, 300, VRING_DESC_F_WRITE, 0);
	vq_add(v, 3);
	XT_ASSERT(virtq_has_work(&v->vq));
	XT_EQ(virtq_pop(&v->vq, v->e), 1);
	XT_EQ(v->e->head, 3);
	XT_EQ(v->e->out_num, 1);	/* the empty descriptor adds no iovec */
	XT_EQ(v->e->in_num, 1);
	XT_EQ(v->e->out_len, 100);
	XT_EQ(v->e->in_len, 300);
	XT_ASSERT(v->e->iov[0].iov_base == buf);
	XT_ASSERT(v->e->iov[1].iov_base == buf + 200);
	XT_EQ(virtq_pop(&v->vq, v->e), 0);
	XT_ASSERT(!virtq_has_work(&v->vq));
	virtq_push(&v->vq, 3, 300);
	XT_EQ(le16toh(v->used->idx), 1);
	XT_EQ(le32toh(v->used->ring[0].id), 3);
	XT_EQ(le32toh(v->used->ring[0].len), 300);
	XT_EQ(v->fails, 0);
}

static void vq_unpop(void)
{
	struct vq_env *v = vq_env(8, false);

	set_desc(v->desc, 2, VQ_BUF, 8, VRING_DESC_F_WRITE, 0);
	vq_add(v, 2);
	XT_EQ(virtq_pop(&v->vq, v->e), 1);
	virtq_unpop(&v->vq);
	XT_ASSERT(virtq_has_work(&v->vq));
	XT_EQ(virtq_pop(&v->vq, v->e), 1);
	XT_EQ(v->e->head, 2);
	XT_EQ(virtq_pop(&v->vq, v->e), 0);
}

static void vq_broken_stays_broken(void)
{
	struct vq_env *v = vq_env(8, false);

	vq_add(v, 8);
	XT_EQ(virtq_pop(&v->vq, v->e), -1);
	XT_EQ(v->fails, 1);
	XT_ASSERT(strstr(v->why, "out of range"));
	/* Fixing the ring does not help until the queue is reset. */
	set_desc(v->desc, 0, VQ_BUF, 8, VRING_DESC_F_WRITE, 0);
	v->avail->ring[0] = 0;
	XT_EQ(virtq_pop(&v->vq, v->e), -1);
	virtq_push(&v->vq, 0, 8);
	XT_EQ(le16toh(v->used->idx), 0);
	XT_ASSERT(!virtq_need_interrupt(&v->vq));
	XT_ASSERT(!virtq_has_work(&v->vq));
	XT_EQ(v->fails, 1);
}

static void vq_interrupt_flags(void)
{
	struct vq_env *v = vq_env(8, false);

	XT_ASSERT(!virtq_need_interrupt(&v->vq));	/* nothing pushed */
	virtq_push(&v->vq, 0, 0);
	XT_ASSERT(virtq_need_interrupt(&v->vq));
	XT_ASSERT(!virtq_need_interrupt(&v->vq));	/* nothing new */
	v->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&v->vq, 1, 0);
	XT_ASSERT(!virtq_need_interrupt(&v->vq));
	v->avail->flags = 0;
	virtq_push(&v->vq, 2, 0);
	XT_ASSERT(virtq_need_interrupt(&v->vq));
}

static void vq_interrupt_event_idx(void)
{
	struct vq_env *v = vq_env(8, true);
	uint16_t *used_event = &v->avail->ring[8];

	/* The first interrupt is always sent: no earlier one to compare. */
	*used_event = htole16(5);
	virtq_push(&v->vq, 0, 0);
	XT_ASSERT(virtq_need_interrupt(&v->vq));
	/* The flag is ignored with EVENT_IDX. */
	v->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	*used_event = htole16(1);
	virtq_push(&v->vq, 1, 0);	/* used 1 -> 2 passes 1 */
	XT_ASSERT(virtq_need_interrupt(&v->vq));
	*used_event = htole16(3);
	virtq_push(&v->vq, 2, 0);	/* 2 -> 3: not past 3 */
	XT_ASSERT(!virtq_need_interrupt(&v->vq));
	virtq_push(&v->vq, 3, 0);
	virtq_push(&v->vq, 4, 0);	/* 3 -> 5 passes 3 */
	XT_ASSERT(virtq_need_interrupt(&v->vq));
	/* An event index behind the last signalled one stays quiet. */
	*used_event = htole16(2);
	virtq_push(&v->vq, 5, 0);
	XT_ASSERT(!virtq_need_interrupt(&v->vq));
}

static void vq_kick_suppression(void)
{
	struct vq_env *v = vq_env(8, true);
	struct vq_env *w = vq_env(8, false);
	uint16_t *avail_event = (uint16_t *)&v->used->ring[8];

	set_desc(v->desc, 0, VQ_BUF, 8, VRING_DESC_F_WRITE, 0);
	vq_add(v, 0);
	vq_add(v, 0);
	XT_EQ(virtq_pop(&v->vq, v->e), 1);
	/* Work is left: enabling reports it so the caller polls again. */
	XT_ASSERT(virtq_enable_kicks(&v->vq));
	XT_EQ(le16toh(*avail_event), 1);
	XT_EQ(virtq_pop(&v->vq, v->e), 1);
	XT_ASSERT(!virtq_enable_kicks(&v->vq));
	XT_EQ(le16toh(*avail_event), 2);

	/* Without EVENT_IDX the used flags carry the wish. */
	virtq_disable_kicks(&w->vq);
	XT_EQ(le16toh(w->used->flags), VRING_USED_F_NO_NOTIFY);
	XT_ASSERT(!virtq_enable_kicks(&w->vq));
	XT_EQ(le16toh(w->used->flags), 0);
}

static void vq_iov_copy(void)
{
	uint8_t a[5], b[7], c[3], out[15], in[15];
	struct iovec iov[3] = { { a, 5 }, { b, 7 }, { c, 3 } };

	for (int i = 0; i < 15; i++)
		in[i] = i + 1;
	XT_EQ(virtq_buf_to_iov(iov, 3, 0, in, 15), 15);
	XT_EQ(a[0], 1);
	XT_EQ(b[0], 6);
	XT_EQ(c[2], 15);
	memset(out, 0, sizeof(out));
	XT_EQ(virtq_iov_to_buf(iov, 3, 4, out, 15), 11);
	XT_EQ(out[0], 5);
	XT_EQ(out[10], 15);
	XT_EQ(virtq_iov_to_buf(iov, 3, 15, out, 1), 0);
	XT_EQ(virtq_buf_to_iov(iov, 3, 11, in, 2), 2);
	XT_EQ(b[6], 1);
	XT_EQ(c[0], 2);
}

static void vq_zero_length_chain(void)
{
	struct vq_env *v = vq_env(8, false);

	set_desc(v->desc, 0, VQ_BUF, 0, VRING_DESC_F_WRITE, 0);
	vq_add(v, 0);
	XT_EQ(virtq_pop(&v->vq, v->e), 1);
	XT_EQ(v->e->in_num + v->e->out_num, 0);
	XT_EQ(v->fails, 0);
}

/* An indirect chain expands to the table's buffers. */
static void vq_indirect_pop(void)
{
	struct vq_env *v = vq_env(8, false);
	struct vring_desc *t = (void *)(v->ram + 0x3000);
	uint8_t *buf = v->ram + (VQ_BUF - VQ_RAM_BASE);

	set_desc(t, 0, VQ_BUF, 16, VRING_DESC_F_NEXT, 1);
	set_desc(t, 1, VQ_BUF + 16, 32, VRING_DESC_F_WRITE, 0);
	set_desc(v->desc, 0, VQ_RAM_BASE + 0x3000, 32, VRING_DESC_F_INDIRECT, 0);
	vq_add(v, 0);
	XT_EQ(virtq_pop(&v->vq, v->e), 1);
	XT_EQ(v->e->out_len, 16);
	XT_EQ(v->e->in_len, 32);
	XT_ASSERT(v->e->iov[1].iov_base == buf + 16);
}

/* Guest RAM at address 0 holding an indirect table there. */
static void vq_indirect_table_at_zero(void)
{
	struct vq_env *v = vq_env(8, false);
	uint8_t *low = calloc(1, 4096);
	struct vring_desc *t = (struct vring_desc *)low;

	XT_ASSERT(low);
	xt_defer(free, low);
	XT_ASSERT(!gmem_plain_add(v->gm, 0, low, 4096));
	set_desc(t, 0, 0x100, 8, VRING_DESC_F_NEXT, 1);
	set_desc(t, 1, 0x200, 16, VRING_DESC_F_WRITE, 0);
	set_desc(v->desc, 0, 0, 32, VRING_DESC_F_INDIRECT, 0);
	vq_add(v, 0);
	XT_EQ(virtq_pop(&v->vq, v->e), 1);
	XT_EQ(v->e->out_len, 8);
	XT_EQ(v->e->in_len, 16);
	XT_ASSERT(v->e->iov[1].iov_base == low + 0x200);
	/* A table at 0 pointing at itself as a nested table is refused. */
	set_desc(t, 0, 0, 16, VRING_DESC_F_INDIRECT, 0);
	vq_add(v, 0);
	XT_EQ(virtq_pop(&v->vq, v->e), -1);
	XT_ASSERT_MSG(strstr(v->why, "nested"), "%s", v->why);
}

/* ---- guest-memory generations ------------------------------------------ */

#define FD_RAM_BASE 0x10000000ull
#define FD_RAM_SIZE (1ull << 20)
#define FD_CHUNK (64ull << 10)

struct fd_env {
	struct gmem *gm;
	int fd;
	uint8_t *view;		/* the "guest's" own mapping */
};

static void fd_env_free(void *p)
{
	struct fd_env *f = p;

	gmem_destroy(f->gm);
	munmap(f->view, FD_RAM_SIZE);
	close(f->fd);
	free(f);
}

static struct fd_env *fd_env(void)
{
	struct fd_env *f = calloc(1, sizeof(*f));

	XT_ASSERT(f);
	f->fd = memfd_create("gmem-test", MFD_CLOEXEC);
	XT_ASSERT(f->fd >= 0 && !ftruncate(f->fd, FD_RAM_SIZE));
	f->view = mmap(NULL, FD_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       f->fd, 0);
	XT_ASSERT(f->view != MAP_FAILED);
	f->gm = gmem_plain_new(FD_CHUNK);
	XT_ASSERT(f->gm);
	xt_defer(fd_env_free, f);
	XT_EQ(gmem_plain_add_fd(f->gm, FD_RAM_BASE, f->fd, FD_RAM_SIZE), 0);
	return f;
}

/* True when the page at p is mapped in this process. */
static bool mapped(const void *p)
{
	unsigned char vec;
	uintptr_t page = (uintptr_t)p & ~(uintptr_t)4095;

	return !mincore((void *)page, 4096, &vec);
}

/*
 * A hold keeps its pointers valid across an invalidation that does not wait
 * for it (one thread: a lock-based scheme would deadlock here); the old
 * mappings go exactly when the last hold is released.
 */
static void gmem_hold_outlives_invalidate(void)
{
	struct fd_env *f = fd_env();
	struct gmem_hold *h = gmem_hold(f->gm), *h2;
	struct gmem_stats st, st0;
	uint64_t contig;
	uint8_t *p = gmem_map(h, FD_RAM_BASE + 0x1234, 100, &contig);

	gmem_get_stats(f->gm, &st0);

	XT_ASSERT(p);
	XT_EQ(contig, 100);
	f->view[0x1234] = 0x5a;
	XT_EQ(*p, 0x5a);
	gmem_invalidate(f->gm);
	gmem_invalidate(f->gm);
	gmem_get_stats(f->gm, &st);
	XT_EQ(st.generations, 2);	/* the current one and the held one */
	XT_EQ(st.holds, 1);
	XT_EQ(st.mapped, 0);
	XT_ASSERT(mapped(p));
	*p = 0xa5;			/* still the guest's byte */
	XT_EQ(f->view[0x1234], 0xa5);
	h2 = gmem_hold(f->gm);
	XT_ASSERT(gmem_map(h2, FD_RAM_BASE + 0x1234, 1, &contig) != p ||
		  mapped(p));
	gmem_release(h);
	gmem_get_stats(f->gm, &st);
	XT_EQ(st.generations, 1);
	XT_EQ(st.holds, 1);
	gmem_release(h2);
	gmem_get_stats(f->gm, &st);
	XT_EQ(st.holds, 0);
	XT_EQ(st.invalidations, st0.invalidations + 2);
}

/* Past the cache bound the next hold starts a new generation. */
static void gmem_cache_bound(void)
{
	struct fd_env *f = fd_env();
	struct gmem_hold *h;
	struct gmem_stats st;
	uint64_t contig;

	gmem_set_cache_max(f->gm, 2 * FD_CHUNK);
	h = gmem_hold(f->gm);
	for (uint64_t off = 0; off < 4 * FD_CHUNK; off += FD_CHUNK)
		XT_ASSERT(gmem_map(h, FD_RAM_BASE + off, 1, &contig));
	gmem_get_stats(f->gm, &st);
	XT_EQ(st.mapped, 4 * FD_CHUNK);
	gmem_release(h);
	h = gmem_hold(f->gm);
	gmem_get_stats(f->gm, &st);
	XT_EQ(st.rotations, 1);
	XT_EQ(st.mapped, 0);
	XT_EQ(st.generations, 1);
	gmem_release(h);
}

/*
 * Old generations live while requests hold them; what they all map is
 * bounded: past the budget a mapping fails, and works again once the holds
 * that kept the old mappings end.
 */
static void gmem_map_budget(void)
{
	struct fd_env *f = fd_env();
	struct gmem_hold *a, *b;
	struct gmem_stats st;
	uint64_t contig;

	gmem_set_map_budget(f->gm, 2 * FD_CHUNK);
	a = gmem_hold(f->gm);
	XT_ASSERT(gmem_map(a, FD_RAM_BASE, 1, &contig));
	XT_ASSERT(gmem_map(a, FD_RAM_BASE + FD_CHUNK, 1, &contig));
	XT_ASSERT(!gmem_map(a, FD_RAM_BASE + 2 * FD_CHUNK, 1, &contig));
	gmem_invalidate(f->gm);
	b = gmem_hold(f->gm);
	XT_ASSERT(!gmem_map(b, FD_RAM_BASE, 1, &contig));
	gmem_get_stats(f->gm, &st);
	XT_EQ(st.mapped_total, 2 * FD_CHUNK);
	XT_EQ(st.over_budget, 2);
	gmem_release(a);
	XT_ASSERT(gmem_map(b, FD_RAM_BASE, 1, &contig));
	gmem_release(b);
	gmem_get_stats(f->gm, &st);
	XT_EQ(st.mapped_total, FD_CHUNK);
}

/*
 * A descriptor far longer than guest RAM at a valid address is refused
 * before anything is mapped (under Xen, mapping every chunk up to the end of
 * RAM first made the domain's destruction crawl).
 */
static void vq_huge_buffer_maps_nothing(void)
{
	struct fd_env *f = fd_env();
	struct virtq_config c = {
		.size = 8, .desc = FD_RAM_BASE, .avail = FD_RAM_BASE + 0x1000,
		.used = FD_RAM_BASE + 0x2000,
	};
	struct vring_desc *desc = (void *)f->view;
	struct vring_avail *avail = (void *)(f->view + 0x1000);
	const char *why = NULL;
	struct virtq vq;
	struct virtq_elem *e;
	struct gmem_stats st;

	XT_ASSERT_MSG(!virtq_init(&vq, f->gm, &c, &why), "%s", why);
	e = virtq_elem_new(&vq);
	XT_ASSERT(e);
	set_desc(desc, 0, FD_RAM_BASE + 0x4000, 0xffffffffu, VRING_DESC_F_WRITE, 0);
	avail->ring[0] = htole16(0);
	__atomic_store_n(&avail->idx, htole16(1), __ATOMIC_RELEASE);
	XT_EQ(virtq_pop(&vq, e), -1);
	gmem_get_stats(f->gm, &st);
	XT_EQ(st.mapped, 0);
	XT_EQ(st.holds, 0);
	virtq_elem_free(e);
	virtq_fini(&vq);
}

static const struct xt_case cases[] = {
	XT_CASE(hostile_avail_idx_jump),
	XT_CASE(hostile_head_out_of_range),
	XT_CASE(hostile_next_out_of_range),
	XT_CASE(hostile_chain_loop),
	XT_CASE(hostile_chain_self_loop),
	XT_CASE(hostile_indirect_loop),
	XT_CASE(hostile_indirect_next_out_of_range),
	XT_CASE(hostile_indirect_without_feature),
	XT_CASE(hostile_nested_indirect),
	XT_CASE(hostile_indirect_with_next),
	XT_CASE(hostile_indirect_len_zero),
	XT_CASE(hostile_indirect_len_not_multiple),
	XT_CASE(hostile_indirect_len_huge),
	XT_CASE(hostile_indirect_table_outside_ram),
	XT_CASE(hostile_indirect_table_at_zero),
	XT_CASE(hostile_indirect_table_past_end),
	XT_CASE(hostile_indirect_table_wraps),
	XT_CASE(hostile_buffer_below_ram),
	XT_CASE(hostile_buffer_past_end),
	XT_CASE(hostile_buffer_above_ram),
	XT_CASE(hostile_buffer_wraps),
	XT_CASE(hostile_buffer_indirect_outside),
	XT_CASE(hostile_readable_after_writable),
	XT_CASE(hostile_readable_after_writable_indirect),
	XT_CASE(hostile_chain_over_4g_indirect),
	XT_CASE(hostile_chain_over_4g_direct),
	XT_CASE(hostile_too_many_segments),
	XT_CASE(hostile_queue_size_not_pow2),
	XT_CASE(hostile_queue_size_over_max),
	XT_CASE(hostile_queue_size_zero),
	XT_CASE(hostile_queue_size_over_16bit),
	XT_CASE(hostile_desc_misaligned),
	XT_CASE(hostile_avail_misaligned),
	XT_CASE(hostile_used_misaligned),
	XT_CASE(hostile_desc_outside_ram),
	XT_CASE(hostile_used_past_end),
	XT_CASE(hostile_avail_wraps),
	XT_CASE(hostile_queue_before_features_ok),
	XT_CASE(ring_used_event_suppresses_interrupts),
	XT_CASE(ring_no_interrupt_flag),
	XT_CASE(ring_avail_event_suppresses_kicks),
	XT_CASE(ring_no_notify_flag_clear_when_idle),
	XT_CASE(ring_indirect_chains),
	XT_CASE(ring_mixed_batch),
	XT_CASE(ring_chunk_crossing),
	XT_CASE(ring_many_per_kick),
	XT_CASE(ring_index_wrap),
	XT_CASE(vq_init_checks),
	XT_CASE(vq_pop_push),
	XT_CASE(vq_unpop),
	XT_CASE(vq_broken_stays_broken),
	XT_CASE(vq_interrupt_flags),
	XT_CASE(vq_interrupt_event_idx),
	XT_CASE(vq_kick_suppression),
	XT_CASE(vq_iov_copy),
	XT_CASE(vq_zero_length_chain),
	XT_CASE(vq_indirect_pop),
	XT_CASE(vq_indirect_table_at_zero),
	XT_CASE(gmem_hold_outlives_invalidate),
	XT_CASE(gmem_cache_bound),
	XT_CASE(gmem_map_budget),
	XT_CASE(vq_huge_buffer_maps_nothing),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
