/* SPDX-License-Identifier: MIT */
/*
 * Interrupt injection into a Xen guest for a device model.
 *
 * On Arm a virtio-mmio device has an SPI that libxl declares edge-triggered
 * (rising). Both of Xen's vGICs treat XEN_DMOP_set_irq_level with level 1
 * on an edge interrupt as one edge (the interrupt becomes pending, or pending
 * again while active) and ignore level 0 ("falling edge"), so one hypercall
 * with level 1 per interrupt is exactly right, and lowering the line would
 * only cost a second hypercall. The SPI must not be one Xen allocated for
 * the guest itself, or the hypercall fails with EINVAL.
 */
#ifndef XV_XEN_IRQ_H
#define XV_XEN_IRQ_H

#include <stdint.h>

struct xirq;

struct xirq *xirq_open(uint32_t domid);
void xirq_close(struct xirq *xi);
/*
 * From now on let Dom0's kernel raise irq (privcmd irqfd, Linux 6.7+): an
 * edge is then a write to an eventfd, on which the kernel issues the same
 * dm_op, instead of a dm_op through the library. Call before the line is
 * in use, from one thread. 0; -EOPNOTSUPP where the kernel cannot (logged
 * once: this process goes on raising it); -errno.
 */
int xirq_use_kernel(struct xirq *xi, unsigned int irq);
/* Send one edge on the guest's interrupt line irq. 0 or -errno. */
int xirq_edge(struct xirq *xi, unsigned int irq);

#endif
