// SPDX-License-Identifier: MIT
/*
 * Restricted io_uring rings (see uring.h).
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uring.h"

#define VURING_MAX_OPS 16

int vuring_restrict(struct io_uring *ring, const uint8_t *ops, unsigned int n_ops,
		    uint8_t sqe_flags)
{
	struct io_uring_restriction r[VURING_MAX_OPS + 1] = { { 0 } };
	unsigned int n = 0;
	int rc;

	if (n_ops > VURING_MAX_OPS)
		return -EINVAL;
	for (unsigned int i = 0; i < n_ops; i++) {
		r[n].opcode = IORING_RESTRICTION_SQE_OP;
		r[n++].sqe_op = ops[i];
	}
	r[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	r[n++].sqe_flags = sqe_flags;
	/* Debian 12's liburing declares, but does not export, the wrappers. */
	rc = syscall(__NR_io_uring_register, ring->ring_fd,
		     IORING_REGISTER_RESTRICTIONS, r, n);
	if (!rc)
		rc = syscall(__NR_io_uring_register, ring->ring_fd,
			     IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	return rc ? -errno : 0;
}
