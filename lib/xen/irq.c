// SPDX-License-Identifier: MIT
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xen/hvm/dm_op.h>

#include "irq.h"
#include "log.h"
#include "privcmd_ev.h"

#define XIRQ_MAX_FDS 64

/*
 * A line the kernel raises: fd is published (release) after the kernel
 * took it, and read (acquire) by xirq_edge on any thread.
 */
struct xirq_fd {
	unsigned int irq;
	_Atomic int fd;
	struct xen_dm_op op;		/* the kernel copies it at assign */
};

struct xirq {
	uint32_t domid;
	xendevicemodel_handle *dm;
	_Atomic unsigned long failures;
	int privcmd;			/* -1 until a line is given to the kernel */
	bool kernel_refused;
	_Atomic unsigned int n_fds;
	struct xirq_fd fds[XIRQ_MAX_FDS];
};

struct xirq *xirq_open(uint32_t domid)
{
	struct xirq *xi = calloc(1, sizeof(*xi));

	if (!xi)
		return NULL;
	xi->domid = domid;
	xi->privcmd = -1;
	xi->dm = xendevicemodel_open(NULL, 0);
	if (!xi->dm) {
		free(xi);
		return NULL;
	}
	return xi;
}

static int irqfd(struct xirq *xi, struct xirq_fd *f, int fd, uint32_t flags)
{
	struct xv_privcmd_irqfd a = {
		.dm_op = (uintptr_t)&f->op, .size = sizeof(f->op), .fd = fd,
		.flags = flags, .dom = xi->domid,
	};

	return ioctl(xi->privcmd, XV_IOCTL_PRIVCMD_IRQFD, &a) ? -errno : 0;
}

void xirq_close(struct xirq *xi)
{
	if (!xi)
		return;
	for (unsigned int i = 0; i < atomic_load(&xi->n_fds); i++) {
		struct xirq_fd *f = &xi->fds[i];
		int fd = atomic_load(&f->fd);

		if (fd < 0)
			continue;
		/* Closing the eventfd alone would do; this also waits for
		 * an injection in flight. */
		irqfd(xi, f, fd, XV_PRIVCMD_FLAG_DEASSIGN);
		close(fd);
	}
	if (xi->privcmd >= 0)
		close(xi->privcmd);
	xendevicemodel_close(xi->dm);
	free(xi);
}

static int kernel_refuses(struct xirq *xi, int err)
{
	xi->kernel_refused = true;
	log_info("domain %u: interrupts are raised by this process: %s",
		 xi->domid, xv_privcmd_why(err));
	return -EOPNOTSUPP;
}

int xirq_use_kernel(struct xirq *xi, unsigned int irq)
{
	unsigned int n = atomic_load(&xi->n_fds);
	struct xirq_fd *f;
	int fd, rc;

	for (unsigned int i = 0; i < n; i++)
		if (xi->fds[i].irq == irq && atomic_load(&xi->fds[i].fd) >= 0)
			return 0;
	if (xi->kernel_refused)
		return -EOPNOTSUPP;
	if (n == XIRQ_MAX_FDS)
		return -ENOSPC;
	if (xi->privcmd < 0) {
		xi->privcmd = xv_privcmd_open(xi->domid);
		if (xi->privcmd < 0)
			return kernel_refuses(xi, xi->privcmd);
	}
	f = &xi->fds[n];
	memset(&f->op, 0, sizeof(f->op));
	f->op.op = XEN_DMOP_set_irq_level;
	f->op.u.set_irq_level.irq = irq;
	f->op.u.set_irq_level.level = 1;
	f->irq = irq;
	atomic_store(&f->fd, -1);
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	rc = irqfd(xi, f, fd, 0);
	if (rc) {
		close(fd);
		return xv_privcmd_unsupported(rc) ? kernel_refuses(xi, rc) : rc;
	}
	atomic_store_explicit(&f->fd, fd, memory_order_release);
	atomic_store(&xi->n_fds, n + 1);
	return 0;
}

static int kernel_fd(struct xirq *xi, unsigned int irq)
{
	unsigned int n = atomic_load_explicit(&xi->n_fds, memory_order_acquire);

	for (unsigned int i = 0; i < n; i++)
		if (xi->fds[i].irq == irq)
			return atomic_load_explicit(&xi->fds[i].fd,
						    memory_order_acquire);
	return -1;
}

int xirq_edge(struct xirq *xi, unsigned int irq)
{
	uint64_t one = 1;
	int fd = kernel_fd(xi, irq);

	/* The kernel issues the dm_op in the write and resets the count. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) == sizeof(one))
		return 0;
	if (!xendevicemodel_set_irq_level(xi->dm, xi->domid, irq, 1))
		return 0;
	/* Log the first failures only: this runs per interrupt. */
	if (atomic_fetch_add(&xi->failures, 1) < 5)
		log_err("domain %u: cannot raise SPI %u: %m", xi->domid, irq);
	return -errno;
}
