// SPDX-License-Identifier: MIT
/*
 * Restricted io_uring rings (devices/uring.c): once restricted, a ring runs
 * the operations it was given and refuses the rest, opening files and
 * registering more above all (they would pass the sandbox's filter).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uring.h"
#include "xtest.h"

static struct io_uring ring;

static void ring_exit(void *arg)
{
	(void)arg;
	io_uring_queue_exit(&ring);
}

/* Submit what prep filled in, wait for it; its result. */
static int run_one(void)
{
	struct io_uring_cqe *cqe;
	int res;

	XT_EQ(io_uring_submit(&ring), 1);
	XT_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

static void restricted_ring(uint8_t op)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	int rc = io_uring_queue_init_params(4, &ring, &p);

	if (rc == -EINVAL)
		xt_skip("this kernel has no disabled rings (before 5.10)");
	XT_EQ(rc, 0);
	xt_defer(ring_exit, NULL);
	XT_EQ(vuring_restrict(&ring, &op, 1, IOSQE_FIXED_FILE), 0);
}

static void allowed_op_runs(void)
{
	char buf[8] = { 0 };
	int fd = memfd_create("xv-uring", MFD_CLOEXEC);

	XT_ASSERT(fd >= 0);
	XT_EQ(write(fd, "restrict", 8), 8);
	restricted_ring(IORING_OP_READ);
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, sizeof(buf), 0);
	XT_EQ(run_one(), 8);
	XT_ASSERT(!memcmp(buf, "restrict", 8));
	close(fd);
}

static void other_ops_refused(void)
{
	restricted_ring(IORING_OP_READ);
	io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, "/", O_RDONLY, 0);
	XT_EQ(run_one(), -EACCES);
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	XT_EQ(run_one(), -EACCES);
	io_uring_prep_socket(io_uring_get_sqe(&ring), AF_UNIX, SOCK_STREAM, 0, 0);
	XT_EQ(run_one(), -EACCES);
}

static void flags_refused(void)
{
	char buf[4];
	struct io_uring_sqe *sqe;

	restricted_ring(IORING_OP_READ);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, 0, buf, sizeof(buf), 0);
	io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	XT_EQ(run_one(), -EACCES);
}

static void no_more_registrations(void)
{
	int fd = memfd_create("xv-uring", MFD_CLOEXEC);

	restricted_ring(IORING_OP_READ);
	XT_EQ(io_uring_register_files(&ring, &fd, 1), -EACCES);
	close(fd);
}

static const struct xt_case cases[] = {
	XT_CASE(allowed_op_runs),
	XT_CASE(other_ops_refused),
	XT_CASE(flags_refused),
	XT_CASE(no_more_registrations),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
