// SPDX-License-Identifier: MIT
/*
 * Fuzz the ioreq dispatch (lib/xen/ioreq_handle.c) the way the ioreq
 * server runs it: a shared page with one slot per vCPU, each filled with a
 * state and a request as the hypervisor would (fields taken raw, so sizes,
 * counts, pointers, directions and types are anything), event channels
 * firing for one vCPU or all of them, INVALIDATE requests arriving while
 * requests in flight hold guest memory; then the rest of the input as a
 * buffered ioreq page. Behind the requests: two register windows and a
 * little guest RAM that is a memfd mapped chunk by chunk per generation,
 * so a mapping dropped too early faults.
 *
 * Checked besides the sanitizers: a slot is served only in state READY
 * and then once, ending RESP_READY with nothing changed but the state and
 * a read's data; no other slot is touched; each INVALIDATE starts one new
 * generation, and what a request in flight mapped before it stays mapped
 * and shows the guest's bytes until its hold is released; holds and
 * generations add up.
 *
 * Input layout (missing bytes read as zero):
 *	0	vCPUs: 1 + b % 128 (the most one page holds); bit 7: Dom0's
 *		kernel answers QueueNotify of queues 0, 1 and 3 of the first
 *		window (privcmd ioeventfd), whose slots must be left alone
 *	1	records: b % 65 (as many as there are)
 *	2-	the 28-byte records, then the rest as a buffered page
 * Record:
 *	0-19	addr (le64), data (le64), count (le32)
 *	20	bit 7: addr as it is, else near the windows; bit 6: data as
 *		it is, else near guest RAM
 *	21	size: bit 7 set: the byte, else 1 << (b & 3)
 *	22	count: bit 7 set: as it is, else below 1024; the type when
 *		byte 23 has bit 3
 *	23	1 a read, 2 df, 4 data_is_ptr, 8 type from byte 22
 *	24	vCPU (modulo their number)
 *	25	bit 7: state b & 15, else READY; bit 6: type INVALIDATE
 *	26	then (b & 3): 0 nothing, 1 its event channel fires, 2 every
 *		vCPU's fires, first to last, 3 ... last to first
 *	27	a request in flight: bits 0-1 which; 4 take a hold and map
 *		512 bytes at RAM + (b >> 4) KiB through it; 8 release it
 */
#define _GNU_SOURCE
#define __XEN_TOOLS__ 1
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "ioreq_handle.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x4000u
#define RAM_CHUNK 0x1000u	/* each generation maps it a page at a time */
#define HDR_SIZE 2
#define REC_SIZE 28
#define MAX_RECS 64
#define IOREQ_PAGE 4096u
#define MAX_VCPUS (IOREQ_PAGE / sizeof(ioreq_t))
#define N_FLIGHT 4
#define FLIGHT_LEN 512u

/* A request in flight: its hold and what it mapped through it. */
struct flight {
	struct gmem_hold *h;
	const uint8_t *p;
	uint32_t off;
};

/* The queues whose QueueNotify the kernel takes with byte 0's bit 7. */
#define KERNEL_VQS 0xbull
#define KERNEL_NOTIFY 0x02000050ull

struct run {
	bool kernel;			/* KERNEL_VQS handed to the kernel */
	struct xenio_windows ws;
	struct xenio_stats st;
	ioreq_t *slots;
	unsigned int n;
	struct flight fl[N_FLIGHT];
};

static uint8_t regs[2][0x200];
static struct gmem *gm;
static int ram_fd = -1;

static uint64_t rd(void *opaque, uint64_t off, unsigned int size)
{
	uint8_t *r = opaque;
	uint64_t v = 0;

	if (off + size > 0x200)
		abort();	/* the dispatcher must keep accesses inside */
	memcpy(&v, r + off, size);
	return v;
}

static void wr(void *opaque, uint64_t off, unsigned int size, uint64_t val)
{
	uint8_t *r = opaque;

	if (off + size > 0x200)
		abort();
	memcpy(r + off, &val, size);
}

/* Guest RAM is a file, so that each generation maps it afresh. */
static void setup_once(void)
{
	if (gm)
		return;
	fuzz_quiet_logs();
	ram_fd = memfd_create("xv-fuzz-ioreq-ram", MFD_CLOEXEC);
	gm = gmem_plain_new(RAM_CHUNK);
	if (ram_fd < 0 || ftruncate(ram_fd, RAM_SIZE) || !gm ||
	    gmem_plain_add_fd(gm, RAM_BASE, ram_fd, RAM_SIZE))
		abort();
}

static ioreq_t make_request(const uint8_t *p)
{
	ioreq_t req = { .type = IOREQ_TYPE_COPY, .state = STATE_IOREQ_READY };
	uint64_t addr, val;
	uint32_t count;

	memcpy(&addr, p, 8);
	memcpy(&val, p + 8, 8);
	memcpy(&count, p + 16, 4);
	/* Aim most addresses near the windows and RAM, some anywhere. */
	req.addr = p[20] & 0x80 ? addr : 0x02000000ull + (addr % 0x500) - 0x80;
	req.data = p[20] & 0x40 ? val : RAM_BASE + (val % (RAM_SIZE + 0x40)) - 0x20;
	req.size = p[21] & 0x80 ? p[21] : 1u << (p[21] & 3);
	req.count = p[22] & 0x80 ? count : count & 0x3ff;
	req.dir = p[23] & 1;
	req.df = (p[23] >> 1) & 1;
	req.data_is_ptr = (p[23] >> 2) & 1;
	if ((p[23] >> 3) & 1)
		req.type = p[22];
	if (p[25] & 0x40)
		req.type = IOREQ_TYPE_INVALIDATE;
	if (p[25] & 0x80)
		req.state = p[25] & 0xf;
	return req;
}

/* Holds and generations as the core counts them. */
static void check_holds(const struct run *r)
{
	unsigned int live = 0, old = 0;
	struct gmem_stats gs;

	gmem_get_stats(gm, &gs);
	for (unsigned int i = 0; i < N_FLIGHT; i++) {
		struct gmem_hold *h = r->fl[i].h;
		bool seen = false;

		if (!h)
			continue;
		live++;
		for (unsigned int j = 0; j < i; j++)
			seen |= r->fl[j].h == h;
		old += h != gm->cur && !seen;
	}
	if (gs.holds != live || gs.generations != 1 + old)
		abort();
}

/* What a request in flight mapped is still the guest's RAM. */
static void check_flights(const struct run *r)
{
	uint8_t ram[FLIGHT_LEN];

	for (unsigned int i = 0; i < N_FLIGHT; i++) {
		const struct flight *f = &r->fl[i];

		if (!f->h)
			continue;
		if (pread(ram_fd, ram, FLIGHT_LEN, f->off) != FLIGHT_LEN ||
		    memcmp(f->p, ram, FLIGHT_LEN))
			abort();
	}
}

static void land(struct flight *f)
{
	gmem_release(f->h);
	*f = (struct flight){ 0 };
}

static void fly(struct run *r, uint8_t b)
{
	struct flight *f = &r->fl[b & 3];

	if (b & 8)
		land(f);
	if (!(b & 4))
		return;
	land(f);
	/* In 1 KiB steps: a buffer never crosses a chunk, one mapping holds it. */
	f->off = (b >> 4) * 1024u;
	f->h = gmem_hold(gm);
	f->p = gmem_map_all(f->h, RAM_BASE + f->off, FLIGHT_LEN);
	if (!f->p)
		abort();
}

/* The kernel's match, restated: a 4-byte write of a handed-over queue. */
static bool kernel_takes(const struct run *r, const ioreq_t *q)
{
	uint32_t vq = q->data & 0xffff;

	return r->kernel && q->type == IOREQ_TYPE_COPY && q->dir == IOREQ_WRITE &&
	       q->size == 4 && q->addr == KERNEL_NOTIFY && vq < 64 &&
	       (KERNEL_VQS >> vq & 1);
}

/* Serve the vCPUs in order (or reverse) as their event channels fire. */
static void fire(struct run *r, unsigned int first, unsigned int n, bool rev)
{
	ioreq_t *before = malloc(r->n * sizeof(*before));
	struct xenio_stats st0 = r->st;
	unsigned long invalidates = 0;
	struct gmem_stats gs0, gs1;

	if (!before)
		abort();
	memcpy(before, r->slots, r->n * sizeof(*before));
	gmem_get_stats(gm, &gs0);
	for (unsigned int k = 0; k < n; k++) {
		unsigned int v = first + (rev ? n - 1 - k : k);
		bool ready = before[v].state == STATE_IOREQ_READY &&
			     !kernel_takes(r, &before[v]);

		if (xenio_serve_slot(&r->ws, gm, &r->slots[v], &r->st) != ready)
			abort();
		invalidates += ready && before[v].type == IOREQ_TYPE_INVALIDATE;
	}
	/* Served slots answered, with nothing else changed; others as they were. */
	for (unsigned int v = 0; v < r->n; v++) {
		ioreq_t want = before[v];

		if (v >= first && v < first + n && want.state == STATE_IOREQ_READY &&
		    !kernel_takes(r, &want)) {
			want.state = STATE_IORESP_READY;
			if (want.dir == IOREQ_READ)
				want.data = r->slots[v].data;
			if (want.type == IOREQ_TYPE_INVALIDATE &&
			    r->slots[v].data != before[v].data)
				abort();
		}
		if (memcmp(&want, &r->slots[v], sizeof(want)))
			abort();
	}
	gmem_get_stats(gm, &gs1);
	if (r->st.invalidates != st0.invalidates + invalidates ||
	    gs1.invalidations != gs0.invalidations + invalidates)
		abort();
	free(before);
}

static void one_record(struct run *r, const uint8_t *p)
{
	unsigned int v = p[24] % r->n;

	fly(r, p[27]);
	r->slots[v] = make_request(p);
	switch (p[26] & 3) {
	case 1:
		fire(r, v, 1, false);
		break;
	case 2:
	case 3:
		fire(r, 0, r->n, (p[26] & 3) == 3);
		break;
	}
	check_holds(r);
	check_flights(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { .n = 1 + (size ? data[0] : 0) % MAX_VCPUS };
	buffered_iopage_t *bp;
	char err[128];
	size_t n = size > HDR_SIZE ? (size - HDR_SIZE) / REC_SIZE : 0, used;

	setup_once();
	if (xenio_windows_add(&r.ws, 0x02000000, 0x200, rd, wr, regs[0], err, sizeof(err)) ||
	    xenio_windows_add(&r.ws, 0xa0000, 0x200, rd, wr, regs[1], err, sizeof(err)))
		abort();
	r.kernel = size && data[0] & 0x80;
	if (r.kernel)
		r.ws.w[0].kernel_vqs = KERNEL_VQS;
	r.slots = calloc(1, IOREQ_PAGE);
	bp = calloc(1, sizeof(*bp));
	if (!r.slots || !bp)
		abort();
	if (size > 1 && n > data[1] % (MAX_RECS + 1))
		n = data[1] % (MAX_RECS + 1);
	for (size_t i = 0; i < n; i++)
		one_record(&r, data + HDR_SIZE + i * REC_SIZE);
	for (unsigned int i = 0; i < N_FLIGHT; i++)
		land(&r.fl[i]);
	check_holds(&r);
	used = HDR_SIZE + n * REC_SIZE < size ? HDR_SIZE + n * REC_SIZE : size;
	memcpy(bp, data + used, size - used < sizeof(*bp) ? size - used : sizeof(*bp));
	xenio_drain_buffered(&r.ws, bp, &r.st);
	free(bp);
	free(r.slots);
	return 0;
}
