/* SPDX-License-Identifier: MIT */
/*
 * Guest memory of a Xen guest through foreign mappings (privcmd).
 *
 * Guest RAM is mapped lazily in 4 MiB chunks cached per generation (gmem.h:
 * until an invalidation, or past 1 GiB cached, once nothing holds them), so
 * a buffer costs a table lookup, not a hypercall. What is RAM comes from
 * the domain's max_pages when a chunk is first mapped (the guest may still
 * be being built when the daemon attaches). Pages the hypervisor refuses
 * (holes, ballooned-out pages) are never handed out; a buffer that uses
 * one asks Xen for that page again, since a guest that takes a page back
 * causes no invalidation. Pins (virtqueue rings) get mappings of their own
 * that survive invalidation.
 */
#ifndef XV_XENGMEM_H
#define XV_XENGMEM_H

#include <stdint.h>

#include "gmem.h"

struct xgmem_bank {
	uint64_t base;
	uint64_t size;
};

#define XGMEM_MAX_BANKS 4

/* The RAM banks of a guest of mem_bytes on this architecture (libxl's
 * layout); UINT64_MAX gives the architecture's whole RAM windows. */
unsigned int xgmem_guest_banks(uint64_t mem_bytes,
			       struct xgmem_bank banks[XGMEM_MAX_BANKS]);
/* NULL with errno set on failure. */
struct gmem *xgmem_new(uint32_t domid);
/*
 * Stop asking Xen for the domain's size and close the control interface
 * (a process restricted to its guest has none): the RAM seen now is the
 * guest's RAM from then on. An Arm guest's RAM banks are fixed in its
 * device tree at build time, so nothing is lost once it runs.
 */
void xgmem_seal(struct gmem *gm);

#endif
