// SPDX-License-Identifier: MIT
/*
 * The ioreq dispatch (lib/xen/ioreq_handle.c) on plain memory: requests
 * as the hypervisor hands them over, including the repeated, pointer and
 * buffered forms Arm never sends but x86 does, and hostile field values.
 */
#define __XEN_TOOLS__ 1
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ioreq_handle.h"
#include "xtest.h"

#define WIN_BASE 0x02000000ull
#define WIN_SIZE 0x200ull
#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x10000ull

/* A window of registers that records every access. */
struct regs {
	uint8_t mem[WIN_SIZE];
	unsigned int reads;
	unsigned int writes;
};

static uint64_t regs_read(void *opaque, uint64_t off, unsigned int size)
{
	struct regs *r = opaque;
	uint64_t v = 0;

	XT_ASSERT(off + size <= WIN_SIZE);
	memcpy(&v, r->mem + off, size);
	r->reads++;
	return v;
}

static void regs_write(void *opaque, uint64_t off, unsigned int size,
		       uint64_t val)
{
	struct regs *r = opaque;

	XT_ASSERT(off + size <= WIN_SIZE);
	memcpy(r->mem + off, &val, size);
	r->writes++;
}

struct env {
	struct xenio_windows ws;
	struct regs regs;
	struct gmem *gm;
	uint8_t *ram;
	struct xenio_stats st;
};

static void env_free(void *arg)
{
	struct env *e = arg;

	gmem_destroy(e->gm);
	free(e->ram);
	free(e);
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	char err[128];

	XT_ASSERT(e);
	e->ram = calloc(1, RAM_SIZE);
	e->gm = gmem_plain_new(0);
	XT_ASSERT(e->ram && e->gm);
	XT_EQ(gmem_plain_add(e->gm, RAM_BASE, e->ram, RAM_SIZE), 0);
	XT_EQ(xenio_windows_add(&e->ws, WIN_BASE, WIN_SIZE, regs_read,
				regs_write, &e->regs, err, sizeof(err)), 0);
	xt_defer(env_free, e);
	return e;
}

static ioreq_t req(uint64_t addr, uint32_t size, int dir, uint64_t data)
{
	return (ioreq_t){ .addr = addr, .size = size, .count = 1, .dir = dir,
			  .type = IOREQ_TYPE_COPY, .data = data };
}

static void ioreq_read_write_sizes(void)
{
	struct env *e = env_new();

	for (uint32_t size = 1; size <= 8; size <<= 1) {
		ioreq_t w = req(WIN_BASE + 0x10, size, IOREQ_WRITE, 0x1122334455667788ull);
		ioreq_t r = req(WIN_BASE + 0x10, size, IOREQ_READ, 0);
		uint64_t mask = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;

		xenio_handle(&e->ws, e->gm, &w, &e->st);
		xenio_handle(&e->ws, e->gm, &r, &e->st);
		XT_EQ(r.data, 0x1122334455667788ull & mask);
	}
	XT_EQ(e->st.errors, 0);
}

static void ioreq_bad_size_refused(void)
{
	struct env *e = env_new();
	ioreq_t r = req(WIN_BASE, 3, IOREQ_READ, 0);
	ioreq_t w = req(WIN_BASE, 16, IOREQ_WRITE, 1);

	xenio_handle(&e->ws, e->gm, &r, &e->st);
	xenio_handle(&e->ws, e->gm, &w, &e->st);
	XT_EQ(r.data, ~0ull);
	XT_EQ(e->regs.reads + e->regs.writes, 0);
	XT_EQ(e->st.errors, 2);
}

static void ioreq_outside_window(void)
{
	struct env *e = env_new();
	ioreq_t r = req(WIN_BASE + WIN_SIZE - 2, 4, IOREQ_READ, 0);
	ioreq_t w = req(WIN_BASE - 4, 4, IOREQ_WRITE, 7);

	xenio_handle(&e->ws, e->gm, &r, &e->st);
	xenio_handle(&e->ws, e->gm, &w, &e->st);
	XT_EQ(r.data, ~0ull);
	XT_EQ(e->regs.reads + e->regs.writes, 0);
}

static void ioreq_rep_immediate_write(void)
{
	struct env *e = env_new();
	ioreq_t w = req(WIN_BASE, 4, IOREQ_WRITE, 0xabcdef01);

	w.count = 4;
	xenio_handle(&e->ws, e->gm, &w, &e->st);
	XT_EQ(e->regs.writes, 4);
	for (int i = 0; i < 4; i++) {
		uint32_t v;

		memcpy(&v, e->regs.mem + 4 * i, 4);
		XT_EQ(v, 0xabcdef01u);
	}
}

static void ioreq_data_is_ptr_both_ways(void)
{
	struct env *e = env_new();
	ioreq_t w = req(WIN_BASE + 0x20, 4, IOREQ_WRITE, RAM_BASE + 0x100);
	ioreq_t r = req(WIN_BASE + 0x20, 4, IOREQ_READ, RAM_BASE + 0x200);

	for (int i = 0; i < 16; i++)
		e->ram[0x100 + i] = 0x10 + i;
	w.count = r.count = 4;
	w.data_is_ptr = r.data_is_ptr = 1;
	xenio_handle(&e->ws, e->gm, &w, &e->st);
	XT_EQ(memcmp(e->regs.mem + 0x20, e->ram + 0x100, 16), 0);
	xenio_handle(&e->ws, e->gm, &r, &e->st);
	XT_EQ(memcmp(e->ram + 0x200, e->ram + 0x100, 16), 0);
	XT_EQ(r.data, RAM_BASE + 0x200);	/* a pointer stays a pointer */
	XT_EQ(e->st.errors, 0);
}

static void ioreq_direction_flag(void)
{
	struct env *e = env_new();
	ioreq_t w = req(WIN_BASE + 0x40, 2, IOREQ_WRITE, RAM_BASE + 0x306);

	/* df: addresses and the buffer both go down */
	for (int i = 0; i < 8; i++)
		e->ram[0x300 + i] = 0xa0 + i;
	w.count = 4;
	w.df = 1;
	w.data_is_ptr = 1;
	xenio_handle(&e->ws, e->gm, &w, &e->st);
	XT_EQ(e->regs.writes, 4);
	XT_EQ(e->regs.mem[0x40], 0xa6);
	XT_EQ(e->regs.mem[0x3e], 0xa4);
	XT_EQ(e->regs.mem[0x3a], 0xa0);
}

static void ioreq_hostile_count_stops_at_edge(void)
{
	struct env *e = env_new();
	ioreq_t w = req(WIN_BASE, 8, IOREQ_WRITE, 1);

	w.count = 0xffffffffu;
	xenio_handle(&e->ws, e->gm, &w, &e->st);
	XT_EQ(e->regs.writes, WIN_SIZE / 8);
	XT_EQ(e->st.errors, 1);
}

static void ioreq_pointer_outside_ram(void)
{
	struct env *e = env_new();
	ioreq_t r = req(WIN_BASE, 4, IOREQ_READ, RAM_BASE + RAM_SIZE - 8);
	ioreq_t w = req(WIN_BASE, 4, IOREQ_WRITE, 0x1000);

	r.count = 4;	/* the third element leaves RAM */
	r.data_is_ptr = w.data_is_ptr = 1;
	xenio_handle(&e->ws, e->gm, &r, &e->st);
	XT_EQ(e->regs.reads, 3);
	xenio_handle(&e->ws, e->gm, &w, &e->st);
	XT_EQ(e->regs.writes, 0);
	XT_EQ(e->st.errors, 2);
}

static void ioreq_pointer_without_memory(void)
{
	struct env *e = env_new();
	ioreq_t w = req(WIN_BASE, 4, IOREQ_WRITE, RAM_BASE);

	w.data_is_ptr = 1;
	xenio_handle(&e->ws, NULL, &w, &e->st);
	XT_EQ(e->regs.writes, 0);
	XT_EQ(e->st.errors, 1);
}

static void ioreq_windows_refuse_overlap(void)
{
	struct env *e = env_new();
	char err[128];

	XT_NE(xenio_windows_add(&e->ws, WIN_BASE + 0x100, 0x200, regs_read,
				regs_write, NULL, err, sizeof(err)), 0);
	XT_NE(xenio_windows_add(&e->ws, ~0ull - 0x10, 0x200, regs_read,
				regs_write, NULL, err, sizeof(err)), 0);
	XT_EQ(xenio_windows_add(&e->ws, WIN_BASE + 0x200, 0x200, regs_read,
				regs_write, NULL, err, sizeof(err)), 0);
}

static void buf_put(buffered_iopage_t *bp, uint32_t slot, unsigned int size_log,
		    uint32_t addr, uint32_t data, int dir)
{
	buf_ioreq_t *b = &bp->buf_ioreq[slot % IOREQ_BUFFER_SLOT_NUM];

	b->type = IOREQ_TYPE_COPY;
	b->dir = dir;
	b->size = size_log;
	b->addr = addr;
	b->data = data;
}

static void buffered_writes_in_order(void)
{
	struct env *e = env_new();
	buffered_iopage_t *bp = calloc(1, sizeof(*bp));
	char err[128];

	XT_ASSERT(bp);
	/* Buffered addresses have 20 bits: a window in the low MiB. */
	XT_EQ(xenio_windows_add(&e->ws, 0xa0000, WIN_SIZE, regs_read, regs_write,
				&e->regs, err, sizeof(err)), 0);
	bp->read_pointer = bp->write_pointer = IOREQ_BUFFER_SLOT_NUM - 1;
	buf_put(bp, bp->write_pointer++, 2, 0xa0000, 0x11111111, IOREQ_WRITE);
	buf_put(bp, bp->write_pointer++, 3, 0xa0008, 0x55667788, IOREQ_WRITE);
	buf_put(bp, bp->write_pointer++, 0, 0, 0x11223344, IOREQ_WRITE);
	XT_EQ(xenio_drain_buffered(&e->ws, bp, &e->st), 2);
	XT_EQ(bp->read_pointer, bp->write_pointer);
	uint64_t q;

	memcpy(&q, e->regs.mem + 8, 8);
	XT_EQ(q, 0x1122334455667788ull);
	XT_EQ(e->regs.mem[0], 0x11);
	free(bp);
}

static void buffered_inconsistent_pointers(void)
{
	struct env *e = env_new();
	buffered_iopage_t *bp = calloc(1, sizeof(*bp));

	XT_ASSERT(bp);
	bp->read_pointer = 5;
	bp->write_pointer = 5 + IOREQ_BUFFER_SLOT_NUM + 1;
	XT_EQ(xenio_drain_buffered(&e->ws, bp, &e->st), -1);
	XT_EQ(bp->read_pointer, bp->write_pointer);
	/* a quad word cut in half */
	buf_put(bp, bp->write_pointer++, 3, 0, 1, IOREQ_WRITE);
	XT_EQ(xenio_drain_buffered(&e->ws, bp, &e->st), -1);
	XT_EQ(e->regs.writes, 0);
	free(bp);
}

/* A vCPU's slot: a READY request is served once and answered; INVALIDATE
 * starts a new generation while a hold keeps the old one. */
static void slot_served_once(void)
{
	struct env *e = env_new();
	ioreq_t slot[3] = {
		req(WIN_BASE + 8, 4, IOREQ_READ, 0),
		req(WIN_BASE + 8, 4, IOREQ_WRITE, 0x1234),
		{ .type = IOREQ_TYPE_INVALIDATE },
	};
	struct gmem_hold *h = gmem_hold(e->gm);
	struct gmem_stats gs0, gs;

	gmem_get_stats(e->gm, &gs0);
	memcpy(e->regs.mem + 8, "\x78\x56\x34\x12", 4);
	slot[0].state = STATE_IOREQ_READY;
	slot[1].state = STATE_IOREQ_INPROCESS;	/* not one to serve */
	slot[2].state = STATE_IOREQ_READY;
	XT_ASSERT(xenio_serve_slot(&e->ws, e->gm, &slot[0], &e->st));
	XT_EQ(slot[0].state, STATE_IORESP_READY);
	XT_EQ(slot[0].data, 0x12345678);
	XT_ASSERT(!xenio_serve_slot(&e->ws, e->gm, &slot[0], &e->st));
	XT_ASSERT(!xenio_serve_slot(&e->ws, e->gm, &slot[1], &e->st));
	XT_EQ(slot[1].state, STATE_IOREQ_INPROCESS);
	XT_EQ(e->regs.writes, 0);
	XT_ASSERT(xenio_serve_slot(&e->ws, e->gm, &slot[2], &e->st));
	XT_EQ(slot[2].state, STATE_IORESP_READY);
	XT_EQ(e->st.invalidates, 1);
	gmem_get_stats(e->gm, &gs);
	gmem_release(h);
	XT_EQ(gs.invalidations, gs0.invalidations + 1);
	XT_EQ(gs.generations, 2);
	gmem_get_stats(e->gm, &gs);
	XT_EQ(gs.generations, 1);
}

/*
 * Queues whose QueueNotify Dom0's kernel answers: exactly the writes the
 * kernel's handler matches are left READY for it (it runs for every event
 * of the slot's channel); every other access is served here as before.
 */
static void slot_left_to_kernel(void)
{
	struct env *e = env_new();
	const uint64_t notify = WIN_BASE + 0x50;
	struct {
		ioreq_t r;
		bool claimed;
	} t[] = {
		{ req(notify, 4, IOREQ_WRITE, 0), true },
		{ req(notify, 4, IOREQ_WRITE, 2), true },
		/* the kernel masks the value with 0xffff */
		{ req(notify, 4, IOREQ_WRITE, 0x10002), true },
		{ req(notify, 4, IOREQ_WRITE, 1), false },	/* not handed over */
		{ req(notify, 4, IOREQ_WRITE, 63), false },
		{ req(notify, 4, IOREQ_WRITE, 64), false },
		{ req(notify, 2, IOREQ_WRITE, 0), false },	/* other size */
		{ req(notify, 8, IOREQ_WRITE, 0), false },
		{ req(notify, 4, IOREQ_READ, 0), false },
		{ req(notify + 4, 4, IOREQ_WRITE, 0), false },	/* other register */
		{ req(notify - WIN_SIZE, 4, IOREQ_WRITE, 0), false },
	};
	unsigned int writes = 0;

	e->ws.w[0].kernel_vqs = 1ull << 0 | 1ull << 2;
	for (unsigned int i = 0; i < XT_COUNT(t); i++) {
		ioreq_t slot = t[i].r;
		bool notified;

		slot.state = STATE_IOREQ_READY;
		XT_EQ(xenio_kernel_claims(&e->ws, &t[i].r), t[i].claimed);
		notified = xenio_serve_slot(&e->ws, e->gm, &slot, &e->st);
		XT_EQ(notified, !t[i].claimed);
		XT_EQ(slot.state, t[i].claimed ? STATE_IOREQ_READY :
					       STATE_IORESP_READY);
		writes += !t[i].claimed && t[i].r.dir == IOREQ_WRITE &&
			  t[i].r.addr >= WIN_BASE;
	}
	XT_EQ(e->regs.writes, writes);
	/* INVALIDATE is never the kernel's */
	ioreq_t inv = { .type = IOREQ_TYPE_INVALIDATE, .addr = notify,
			.size = 4, .state = STATE_IOREQ_READY };
	XT_ASSERT(!xenio_kernel_claims(&e->ws, &inv));
	XT_ASSERT(xenio_serve_slot(&e->ws, e->gm, &inv, &e->st));
}

static const struct xt_case cases[] = {
	XT_CASE(ioreq_read_write_sizes),
	XT_CASE(ioreq_bad_size_refused),
	XT_CASE(ioreq_outside_window),
	XT_CASE(ioreq_rep_immediate_write),
	XT_CASE(ioreq_data_is_ptr_both_ways),
	XT_CASE(ioreq_direction_flag),
	XT_CASE(ioreq_hostile_count_stops_at_edge),
	XT_CASE(ioreq_pointer_outside_ram),
	XT_CASE(ioreq_pointer_without_memory),
	XT_CASE(ioreq_windows_refuse_overlap),
	XT_CASE(buffered_writes_in_order),
	XT_CASE(buffered_inconsistent_pointers),
	XT_CASE(slot_served_once),
	XT_CASE(slot_left_to_kernel),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
