/* SPDX-License-Identifier: MIT */
/*
 * Serving one ioreq against a set of MMIO windows, and a vCPU's slot of the
 * shared ioreq page, apart from the Xen handles so that they can be tested
 * on plain memory. Requests come from the hypervisor but describe the
 * guest's access, so every field is checked: sizes other than 1/2/4/8 are
 * refused, repeated (count > 1) accesses stop at a window's edge, and
 * data_is_ptr buffers go through guest memory.
 */
#ifndef XV_XEN_IOREQ_HANDLE_H
#define XV_XEN_IOREQ_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/hvm/ioreq.h>

#include "gmem.h"
#include "xenio.h"

#define XENIO_MAX_WINDOWS 64

struct xenio_window {
	uint64_t base;
	uint64_t size;
	xenio_read_fn *rd;
	xenio_write_fn *wr;
	void *opaque;
	uint64_t kernel_vqs;	/* queues whose QueueNotify Dom0's kernel
				 * answers (privcmd ioeventfd) */
};

struct xenio_windows {
	unsigned int n;
	struct xenio_window w[XENIO_MAX_WINDOWS];
};

/* 0, or -errno with a message (overlap, wrap, too many). */
int xenio_windows_add(struct xenio_windows *ws, uint64_t base, uint64_t size,
		      xenio_read_fn *rd, xenio_write_fn *wr, void *opaque,
		      char *err, size_t errlen);
/* Serve a request in place (req->data holds a read's result). gm may be
 * NULL only if no request has data_is_ptr. INVALIDATE is the caller's. */
void xenio_handle(struct xenio_windows *ws, struct gmem *gm, ioreq_t *req,
		  struct xenio_stats *st);
/*
 * Whether Dom0's kernel answers req (a QueueNotify write of a queue in some
 * window's kernel_vqs): the kernel's own match, exactly. Its handler runs
 * for every event of the slot's channel, so such a slot is left to it.
 */
bool xenio_kernel_claims(const struct xenio_windows *ws, const ioreq_t *req);
/*
 * Serve the request in one vCPU's slot of the shared page, if there is one
 * (state IOREQ_READY): read it once, mark it INPROCESS, serve it
 * (INVALIDATE starts a new generation of gm), store a read's result and
 * set IORESP_READY after it. True when the vCPU is to be notified; a slot
 * in any other state, or one the kernel claims, is left as it is.
 */
bool xenio_serve_slot(struct xenio_windows *ws, struct gmem *gm,
		      volatile ioreq_t *slot, struct xenio_stats *st);
/*
 * Drain a buffered ioreq page (x86: writes Xen chose not to wait for).
 * Returns the requests served, or -1 if the page is inconsistent (the
 * read pointer is then resynchronised to the write pointer).
 */
int xenio_drain_buffered(struct xenio_windows *ws, buffered_iopage_t *bp,
			 struct xenio_stats *st);

#endif
