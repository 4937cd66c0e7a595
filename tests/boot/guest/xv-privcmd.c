// SPDX-License-Identifier: MIT
/*
 * xv-privcmd: does this Dom0 kernel's /dev/xen/privcmd take the irqfd and
 * ioeventfd ioctls (Linux 6.7+, CONFIG_XEN_PRIVCMD_EVENTFD)? A backend
 * uses them to have the kernel inject a guest's interrupt when an eventfd
 * is written, and to turn a guest's queue notification into an eventfd
 * write, without a trip through its own process.
 *
 *   xv-privcmd
 *
 * registers an irqfd (a XEN_DMOP_set_irq_level for a domain that does not
 * exist: it is only issued when the eventfd is written, which this tool
 * never does), checks that the same eventfd is refused a second time,
 * removes it, registers and removes it again, and checks that both ioctls
 * refuse unknown flags. Prints one line; exits 0 when every step answered
 * as a kernel with the interface does.
 *
 * The structures are the kernel's uapi as the daemon spells them out
 * (lib/xen/privcmd_ev.h: the cross toolchain's headers predate them), so a
 * layout the daemon got wrong fails here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "privcmd_ev.h"

/* XEN_DMOP_set_irq_level (xen/include/public/hvm/dm_op.h): op, pad, then
 * the operation's own fields. */
struct xv_dm_op_irq {
	uint32_t op;
	uint32_t pad;
	uint32_t irq;
	uint32_t level;
};
#define XV_DMOP_SET_IRQ_LEVEL 19

/* The unused domain id the registered operation would target. */
#define XV_NO_DOMAIN 0x7fef

static const char *outcome(int rc)
{
	return rc == 0 ? "ok" : strerror(errno);
}

static int irqfd(int priv, int efd, uint32_t flags, const struct xv_dm_op_irq *op)
{
	struct xv_privcmd_irqfd a = {
		.dm_op = (uintptr_t)op,
		.size = sizeof(*op),
		.fd = (uint32_t)efd,
		.flags = flags,
		.dom = XV_NO_DOMAIN,
	};

	return ioctl(priv, XV_IOCTL_PRIVCMD_IRQFD, &a);
}

int main(void)
{
	struct xv_dm_op_irq op = { .op = XV_DMOP_SET_IRQ_LEVEL, .irq = 40, .level = 1 };
	struct xv_privcmd_ioeventfd io = { .flags = 0x80000000u, .dom = XV_NO_DOMAIN };
	int priv, efd, rc, ok = 1;

	priv = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);
	if (priv < 0) {
		printf("open /dev/xen/privcmd: %s\n", strerror(errno));
		return 1;
	}
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0) {
		printf("eventfd: %s\n", strerror(errno));
		return 1;
	}
	rc = irqfd(priv, efd, 0, &op);
	printf("irqfd assign=%s", outcome(rc));
	ok &= rc == 0;
	rc = irqfd(priv, efd, 0, &op);
	printf(" again=%s", outcome(rc));
	ok &= rc < 0 && errno == EBUSY;
	rc = irqfd(priv, efd, XV_PRIVCMD_FLAG_DEASSIGN, &op);
	printf(" deassign=%s", outcome(rc));
	ok &= rc == 0;
	rc = irqfd(priv, efd, 0, &op);
	printf(" reassign=%s", outcome(rc));
	ok &= rc == 0;
	rc = irqfd(priv, efd, XV_PRIVCMD_FLAG_DEASSIGN, &op);
	printf(" deassign=%s", outcome(rc));
	ok &= rc == 0;
	rc = irqfd(priv, efd, 0x80000000u, &op);
	printf(" bad-flags=%s", outcome(rc));
	ok &= rc < 0 && errno == EINVAL;
	rc = ioctl(priv, XV_IOCTL_PRIVCMD_IOEVENTFD, &io);
	printf("; ioeventfd bad-flags=%s\n", outcome(rc));
	ok &= rc < 0 && errno == EINVAL;
	close(efd);
	close(priv);
	return ok ? 0 : 1;
}
