/* SPDX-License-Identifier: MIT */
/*
 * The privcmd device's eventfd ioctls (Linux 6.7+, CONFIG_XEN_PRIVCMD_EVENTFD)
 * and its domain restriction, spelled out here: Debian 12's uapi headers
 * predate them, and Linux's xen/privcmd.h cannot be included next to Xen's
 * own public headers. The layouts are the kernel's ABI.
 *
 * ioeventfd: Dom0's kernel binds the ioreq server's per-vCPU event channels
 * (shared with the process's own handler) and answers a guest write of vq
 * to QueueNotify of the virtio-mmio window at addr itself, signalling
 * event_fd. irqfd: every signal of fd makes the kernel issue the dm_op.
 */
#ifndef XV_XEN_PRIVCMD_EV_H
#define XV_XEN_PRIVCMD_EV_H

#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>

struct xv_privcmd_irqfd {
	uint64_t dm_op;			/* user address of a struct xen_dm_op */
	uint32_t size;
	uint32_t fd;
	uint32_t flags;
	uint16_t dom;
	uint8_t pad[2];
};

struct xv_privcmd_ioeventfd {
	uint64_t ioreq;			/* user address of the mapped ioreq page */
	uint64_t ports;			/* user address of vcpus local ports */
	uint64_t addr;			/* base of the virtio-mmio window */
	uint32_t addr_len;		/* of the QueueNotify write: 4 */
	uint32_t event_fd;
	uint32_t vcpus;
	uint32_t vq;
	uint32_t flags;
	uint16_t dom;
	uint8_t pad[2];
};

#define XV_PRIVCMD_FLAG_DEASSIGN	(1u << 0)
#define XV_IOCTL_PRIVCMD_RESTRICT	_IOC(_IOC_NONE, 'P', 6, sizeof(uint16_t))
#define XV_IOCTL_PRIVCMD_IRQFD		_IOW('P', 8, struct xv_privcmd_irqfd)
#define XV_IOCTL_PRIVCMD_IOEVENTFD	_IOW('P', 9, struct xv_privcmd_ioeventfd)

/* The kernel matches (data & this) against vq. */
#define XV_PRIVCMD_VQ_MASK		0xffffu

/*
 * /dev/xen/privcmd restricted to domid (close-on-exec), or -errno. What an
 * fd restricted this way can do to another domain, the kernel refuses.
 */
int xv_privcmd_open(uint16_t domid);
/* Why an eventfd ioctl (or the open) failed, for the one log line that says
 * this process does the work itself: a kernel without them, or strerror. */
const char *xv_privcmd_why(int err);
/* Whether err (-errno of one of the ioctls) says the kernel has none. */
static inline int xv_privcmd_unsupported(int err)
{
	return err == -ENOTTY || err == -EOPNOTSUPP;
}

#endif
