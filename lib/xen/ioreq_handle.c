// SPDX-License-Identifier: MIT
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_mmio.h>

#include "ioreq_handle.h"
#include "log.h"
#include "privcmd_ev.h"

/* One process serves one guest: what it sends that nobody handles is
 * logged through one limit. */
static struct vlog_limit unhandled_log = VLOG_LIMIT_INIT;

int xenio_windows_add(struct xenio_windows *ws, uint64_t base, uint64_t size,
		      xenio_read_fn *rd, xenio_write_fn *wr, void *opaque,
		      char *err, size_t errlen)
{
	if (!size || base + size - 1 < base) {
		snprintf(err, errlen, "MMIO window 0x%" PRIx64 "+0x%" PRIx64 " wraps",
			 base, size);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < ws->n; i++) {
		const struct xenio_window *w = &ws->w[i];

		if (base < w->base + w->size && w->base < base + size) {
			snprintf(err, errlen, "MMIO window 0x%" PRIx64 " overlaps 0x%" PRIx64,
				 base, w->base);
			return -EEXIST;
		}
	}
	if (ws->n == XENIO_MAX_WINDOWS) {
		snprintf(err, errlen, "too many MMIO windows");
		return -ENOSPC;
	}
	ws->w[ws->n++] = (struct xenio_window){
		.base = base, .size = size, .rd = rd, .wr = wr, .opaque = opaque,
	};
	return 0;
}

static struct xenio_window *find_window(struct xenio_windows *ws,
					 uint64_t addr, uint32_t size)
{
	for (unsigned int i = 0; i < ws->n; i++) {
		struct xenio_window *w = &ws->w[i];

		if (addr >= w->base && addr - w->base < w->size &&
		    size <= w->size - (addr - w->base))
			return w;
	}
	return NULL;
}

/* One access of a (possibly repeated) request; false to stop repeating. */
static bool mmio_one(struct xenio_windows *ws, struct gmem *gm, ioreq_t *req,
		     uint64_t addr, uint64_t *data, uint64_t ptr,
		     struct xenio_stats *st)
{
	struct xenio_window *w = find_window(ws, addr, req->size);
	uint64_t v = 0;

	if (!w)
		return false;
	if (req->dir == IOREQ_READ) {
		v = w->rd(w->opaque, addr - w->base, req->size);
		st->reads++;
		if (!req->data_is_ptr) {
			*data = v;
			return true;
		}
		return !gmem_write(gm, ptr, &v, req->size);
	}
	st->writes++;
	if (req->data_is_ptr && gmem_read(gm, ptr, &v, req->size))
		return false;
	w->wr(w->opaque, addr - w->base, req->size,
	      req->data_is_ptr ? v : *data);
	return true;
}

void xenio_handle(struct xenio_windows *ws, struct gmem *gm, ioreq_t *req,
		  struct xenio_stats *st)
{
	int64_t step = req->df ? -(int64_t)req->size : (int64_t)req->size;
	bool read_imm = req->dir == IOREQ_READ && !req->data_is_ptr;
	uint64_t data = read_imm ? ~0ull : req->data;
	uint32_t count = req->count ? req->count : 1, i;

	if (req->type != IOREQ_TYPE_COPY ||
	    (req->size != 1 && req->size != 2 && req->size != 4 && req->size != 8) ||
	    (req->data_is_ptr && !gm)) {
		st->errors++;
		vlog_limited(&unhandled_log, VLOG_WARN,
			     "ioreq type %u, %u bytes at 0x%" PRIx64 " not handled",
			     req->type, req->size, (uint64_t)req->addr);
		if (read_imm)
			req->data = data;
		return;
	}
	/*
	 * Each repetition must stay inside one window, so a hostile count
	 * ends at the window's edge instead of running for 2^32 rounds.
	 */
	for (i = 0; i < count; i++)
		if (!mmio_one(ws, gm, req, req->addr + i * step, &data,
			      req->data + i * step, st))
			break;
	if (i < count) {
		st->errors++;
		log_debug("ioreq at 0x%" PRIx64 " size %u: stopped at repetition %u of %u",
			  (uint64_t)req->addr, req->size, i, count);
	}
	if (!req->data_is_ptr)
		req->data = data;
}

static void serve(struct xenio_windows *ws, struct gmem *gm, ioreq_t *req,
		  struct xenio_stats *st)
{
	if (req->type == IOREQ_TYPE_INVALIDATE) {
		st->invalidates++;
		gmem_invalidate(gm);
		return;
	}
	xenio_handle(ws, gm, req, st);
}

bool xenio_kernel_claims(const struct xenio_windows *ws, const ioreq_t *req)
{
	uint32_t vq = req->data & XV_PRIVCMD_VQ_MASK;

	if (req->type != IOREQ_TYPE_COPY || req->dir != IOREQ_WRITE ||
	    req->size != 4 || vq >= 64)
		return false;
	for (unsigned int i = 0; i < ws->n; i++) {
		const struct xenio_window *w = &ws->w[i];

		if (w->kernel_vqs && req->addr == w->base + VIRTIO_MMIO_QUEUE_NOTIFY)
			return w->kernel_vqs >> vq & 1;
	}
	return false;
}

/* volatile: the slot is shared with the hypervisor (state is a bitfield) */
bool xenio_serve_slot(struct xenio_windows *ws, struct gmem *gm,
		      volatile ioreq_t *slot, struct xenio_stats *st)
{
	ioreq_t req;

	if (slot->state != STATE_IOREQ_READY)
		return false;
	/* Read the request only after seeing READY. */
	atomic_thread_fence(memory_order_acquire);
	memcpy(&req, (const ioreq_t *)slot, sizeof(req));
	if (xenio_kernel_claims(ws, &req))
		return false;
	slot->state = STATE_IOREQ_INPROCESS;
	serve(ws, gm, &req, st);
	if (req.dir == IOREQ_READ)
		slot->data = req.data;
	/* The result must be visible before the state that announces it. */
	atomic_thread_fence(memory_order_release);
	slot->state = STATE_IORESP_READY;
	return true;
}

int xenio_drain_buffered(struct xenio_windows *ws, buffered_iopage_t *bp,
			 struct xenio_stats *st)
{
	volatile uint32_t *rp = &bp->read_pointer, *wp = &bp->write_pointer;
	int served = 0;

	for (;;) {
		uint32_t rd = *rp, wr = *wp;
		buf_ioreq_t *b;
		ioreq_t req = { 0 };
		bool qw;

		/* Slots were written before the pointer that publishes them. */
		atomic_thread_fence(memory_order_acquire);
		if (rd == wr)
			return served;
		if (wr - rd > IOREQ_BUFFER_SLOT_NUM)
			goto broken;
		b = &bp->buf_ioreq[rd % IOREQ_BUFFER_SLOT_NUM];
		req = (ioreq_t){
			.addr = b->addr, .data = b->data, .count = 1,
			.size = 1u << b->size, .dir = b->dir, .type = b->type,
		};
		qw = req.size == 8;
		if (qw) {	/* the high half is in the next slot */
			if (wr - rd < 2)
				goto broken;
			b = &bp->buf_ioreq[(rd + 1) % IOREQ_BUFFER_SLOT_NUM];
			req.data |= (uint64_t)b->data << 32;
		}
		if (req.dir == IOREQ_WRITE)
			xenio_handle(ws, NULL, &req, st);
		else
			st->errors++;	/* buffered reads cannot be answered */
		served++;
		/* Done with the slots before giving them back to Xen. */
		atomic_thread_fence(memory_order_seq_cst);
		*rp = rd + (qw ? 2 : 1);
	}
broken:
	st->errors++;
	log_err("buffered ioreq page inconsistent (read %u, write %u): skipped",
		*rp, *wp);
	*rp = *wp;
	return -1;
}
