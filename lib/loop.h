/* SPDX-License-Identifier: MIT */
/*
 * A small epoll event loop: file-descriptor handlers, run by one thread.
 * vloop_stop() and vloop_call() may be called from any thread; everything
 * else belongs to the thread that runs the loop (or to setup before it runs).
 */
#ifndef XV_LOOP_H
#define XV_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct vloop;

typedef void vloop_fd_fn(int fd, uint32_t events, void *opaque);
typedef void vloop_timer_fn(void *opaque);

struct vloop *vloop_new(void);
void vloop_free(struct vloop *l);

/* events: EPOLLIN / EPOLLOUT / ... ; one handler per fd. */
int vloop_add_fd(struct vloop *l, int fd, uint32_t events, vloop_fd_fn *fn,
		 void *opaque);
int vloop_mod_fd(struct vloop *l, int fd, uint32_t events);
void vloop_del_fd(struct vloop *l, int fd);

/*
 * The loop's one timer: fn runs in the loop's thread once CLOCK_MONOTONIC
 * reaches deadline_ns (0 cancels; a later call replaces an earlier one).
 * It costs no system call: it is the timeout of the wait for events, so
 * its granularity is a millisecond (rounded up), and vloop_run() only.
 */
void vloop_set_timer(struct vloop *l, uint64_t deadline_ns, vloop_timer_fn *fn,
		     void *opaque);
uint64_t vloop_now_ns(void);

/* Run until vloop_stop(); returns 0, or -errno if epoll fails. */
int vloop_run(struct vloop *l);
/* One round: wait up to timeout_ms (-1: forever) and dispatch. */
int vloop_run_once(struct vloop *l, int timeout_ms);
void vloop_stop(struct vloop *l);
int vloop_stopped(const struct vloop *l);

#endif
