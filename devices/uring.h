/* SPDX-License-Identifier: MIT */
/*
 * io_uring rings of device models, limited to what the model needs.
 *
 * What a ring does is not a system call: an OPENAT, SOCKET or CONNECT
 * submitted through it passes the sandbox's seccomp filter. So a model
 * creates its ring with IORING_SETUP_R_DISABLED, registers what it needs
 * (files, an eventfd), and then calls vuring_restrict(), which allows only
 * the listed operations and SQE flags, and no more registrations, and
 * enables the ring. Anything else submitted fails with -EACCES.
 */
#ifndef XV_DEVICES_URING_H
#define XV_DEVICES_URING_H

#include <stdint.h>

#include <liburing.h>

/* 0 or -errno. */
int vuring_restrict(struct io_uring *ring, const uint8_t *ops, unsigned int n_ops,
		    uint8_t sqe_flags);

#endif
