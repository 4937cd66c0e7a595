// SPDX-License-Identifier: MIT
/*
 * Fuzz the ioreq dispatch (lib/xen/ioreq_handle.c): the input is a series
 * of requests as the hypervisor would hand them over (fields taken raw, so
 * sizes, counts, pointers and directions are anything), then the rest as
 * a buffered ioreq page. Behind the requests: two register windows and a
 * little guest RAM.
 */
#define __XEN_TOOLS__ 1
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ioreq_handle.h"
#include "log.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x4000u
#define REC_SIZE 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t regs[2][0x200];

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

static void one_request(struct xenio_windows *ws, struct gmem *gm,
			const uint8_t *p, struct xenio_stats *st)
{
	ioreq_t req = { .type = IOREQ_TYPE_COPY };
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
	xenio_handle(ws, gm, &req, st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct gmem *gm;
	struct xenio_windows ws = { 0 };
	struct xenio_stats st = { 0 };
	buffered_iopage_t *bp;
	char err[128];
	size_t n = size / REC_SIZE, used;

	if (!gm) {
		vlog_set_level(VLOG_ERR);
		ram = calloc(1, RAM_SIZE);
		gm = gmem_plain_new(0x1000);
		if (!ram || !gm || gmem_plain_add(gm, RAM_BASE, ram, RAM_SIZE))
			abort();
	}
	if (xenio_windows_add(&ws, 0x02000000, 0x200, rd, wr, regs[0], err, sizeof(err)) ||
	    xenio_windows_add(&ws, 0xa0000, 0x200, rd, wr, regs[1], err, sizeof(err)))
		abort();
	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++)
		one_request(&ws, gm, data + i * REC_SIZE, &st);
	used = n * REC_SIZE;
	bp = calloc(1, sizeof(*bp));
	if (!bp)
		abort();
	memcpy(bp, data + used, size - used < sizeof(*bp) ? size - used : sizeof(*bp));
	xenio_drain_buffered(&ws, bp, &st);
	free(bp);
	return 0;
}
