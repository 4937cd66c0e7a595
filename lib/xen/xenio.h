/* SPDX-License-Identifier: MIT */
/*
 * A Xen ioreq server for one guest: registers with the hypervisor, claims
 * MMIO windows, and turns the guest's trapped accesses into calls of the
 * window's read/write handlers, on the thread that calls xenio_dispatch().
 *
 * Every request is completed before dispatch returns, so a vCPU never waits
 * for device work (QueueNotify only kicks a worker). Requests with count > 1
 * or data_is_ptr are served through guest memory; INVALIDATE drops the
 * guest-memory mapping cache; other types are logged and completed.
 */
#ifndef XV_XENIO_H
#define XV_XENIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

struct xenio;

typedef uint64_t xenio_read_fn(void *opaque, uint64_t off, unsigned int size);
typedef void xenio_write_fn(void *opaque, uint64_t off, unsigned int size,
			    uint64_t val);

/*
 * Create the server and map its ioreq page. gm serves data_is_ptr
 * requests and is invalidated on INVALIDATE. 0, or -errno with a message.
 */
int xenio_open(struct xenio **out, uint32_t domid, struct gmem *gm,
	       char *err, size_t errlen);
/* Claim [base, base + size); may be called before or after enabling. */
int xenio_add_mmio(struct xenio *x, uint64_t base, uint64_t size,
		   xenio_read_fn *rd, xenio_write_fn *wr, void *opaque,
		   char *err, size_t errlen);
/* Enable the server and bind every vCPU's event channel. */
int xenio_enable(struct xenio *x, char *err, size_t errlen);
/*
 * Let Dom0's kernel answer the guest's writes of vq to QueueNotify of the
 * window at base (privcmd ioeventfd, Linux 6.7+): each becomes a count on
 * the eventfd fd (duplicated, so the caller may close its own), and the
 * vCPU resumes without waiting for this process. After xenio_enable.
 * 0; -EOPNOTSUPP where Dom0's kernel or the ioreq page layout cannot
 * (logged once; this process keeps answering); -errno.
 *
 * Linux does not undo this when the process dies: xenio_close() must run,
 * or the ioreq server must be destroyed by someone else (the monitor).
 */
int xenio_kernel_notify(struct xenio *x, uint64_t base, unsigned int vq,
			int fd);
/* The ioreq server's id (for a monitor that may have to destroy it). */
unsigned int xenio_server_id(const struct xenio *x);
/* The fd to poll for requests (readable when an event channel fired). */
int xenio_fd(const struct xenio *x);
/* Serve every pending request. */
void xenio_dispatch(struct xenio *x);
/* Whether a request waits (a look at the slots; nothing is consumed). */
bool xenio_pending(const struct xenio *x);
/*
 * For tests of a sandbox: what this server's handles may do to domain
 * `other`: map its first page, create an ioreq server for it (both undone
 * at once). The errno of each, 0 where it worked.
 */
void xenio_probe(struct xenio *x, uint32_t other, int *map_err, int *ioreq_err);
/* Disable and destroy the server, release ports and mappings. */
void xenio_close(struct xenio *x);

struct xenio_stats {
	unsigned long reads;
	unsigned long writes;
	unsigned long invalidates;
	unsigned long errors;
};
void xenio_get_stats(const struct xenio *x, struct xenio_stats *s);

#endif
