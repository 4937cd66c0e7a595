// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define LOOP_MAX_EVENTS 32

struct vloop_handler {
	int fd;
	vloop_fd_fn *fn;
	void *opaque;
	struct vloop_handler *next;
};

struct vloop {
	int epfd;
	int wake_fd;
	_Atomic int stop;
	struct vloop_handler *handlers;
	/* Handlers removed while dispatching are freed after the round. */
	struct vloop_handler *dead;
	/* The timer: set and run by the loop's thread, but the deadline
	 * may be cancelled from whoever holds the owner's lock. */
	_Atomic uint64_t deadline;
	vloop_timer_fn *timer_fn;
	void *timer_opaque;
};

uint64_t vloop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

struct vloop *vloop_new(void)
{
	struct vloop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wake_fd < 0)
		goto fail;
	ev.data.ptr = NULL;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0)
		goto fail;
	return l;
fail:
	log_err("event loop: %m");
	vloop_free(l);
	return NULL;
}

static void free_list(struct vloop_handler *h)
{
	while (h) {
		struct vloop_handler *n = h->next;

		free(h);
		h = n;
	}
}

void vloop_free(struct vloop *l)
{
	if (!l)
		return;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	free_list(l->handlers);
	free_list(l->dead);
	free(l);
}

int vloop_add_fd(struct vloop *l, int fd, uint32_t events, vloop_fd_fn *fn,
		 void *opaque)
{
	struct vloop_handler *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = events };

	if (!h)
		return -ENOMEM;
	h->fd = fd;
	h->fn = fn;
	h->opaque = opaque;
	ev.data.ptr = h;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;

		free(h);
		return rc;
	}
	h->next = l->handlers;
	l->handlers = h;
	return 0;
}

static struct vloop_handler *find(struct vloop *l, int fd)
{
	for (struct vloop_handler *h = l->handlers; h; h = h->next)
		if (h->fd == fd)
			return h;
	return NULL;
}

int vloop_mod_fd(struct vloop *l, int fd, uint32_t events)
{
	struct vloop_handler *h = find(l, fd);
	struct epoll_event ev = { .events = events };

	if (!h)
		return -ENOENT;
	ev.data.ptr = h;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void vloop_del_fd(struct vloop *l, int fd)
{
	struct vloop_handler **pp = &l->handlers;

	while (*pp && (*pp)->fd != fd)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	struct vloop_handler *h = *pp;

	*pp = h->next;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* An event for h may still be in this round's array: mark, free later. */
	h->fn = NULL;
	h->next = l->dead;
	l->dead = h;
}

int vloop_run_once(struct vloop *l, int timeout_ms)
{
	struct epoll_event ev[LOOP_MAX_EVENTS];
	int n = epoll_wait(l->epfd, ev, LOOP_MAX_EVENTS, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !atomic_load(&l->stop); i++) {
		struct vloop_handler *h = ev[i].data.ptr;

		if (!h) {
			uint64_t v;

			if (read(l->wake_fd, &v, sizeof(v)) < 0) {
				/* already drained */
			}
			continue;
		}
		if (h->fn)
			h->fn(h->fd, ev[i].events, h->opaque);
	}
	free_list(l->dead);
	l->dead = NULL;
	return n;
}

void vloop_set_timer(struct vloop *l, uint64_t deadline_ns, vloop_timer_fn *fn,
		     void *opaque)
{
	if (deadline_ns) {
		l->timer_fn = fn;
		l->timer_opaque = opaque;
	}
	atomic_store(&l->deadline, deadline_ns);
}

/* Milliseconds to wait for events: -1 without a timer, else rounded up. */
static int timer_wait_ms(struct vloop *l)
{
	uint64_t d = atomic_load(&l->deadline), now;

	if (!d)
		return -1;
	now = vloop_now_ns();
	if (now >= d)
		return 0;
	d = (d - now + 999999) / 1000000;
	return d > INT_MAX ? INT_MAX : (int)d;
}

static void run_timer(struct vloop *l)
{
	uint64_t d = atomic_load(&l->deadline);

	if (!d || vloop_now_ns() < d)
		return;
	/* Cleared first: fn may set it again. */
	if (atomic_compare_exchange_strong(&l->deadline, &d, 0))
		l->timer_fn(l->timer_opaque);
}

int vloop_run(struct vloop *l)
{
	while (!atomic_load(&l->stop)) {
		int rc = vloop_run_once(l, timer_wait_ms(l));

		if (rc < 0) {
			log_err("event loop: epoll_wait: %d", rc);
			return rc;
		}
		run_timer(l);
	}
	return 0;
}

void vloop_stop(struct vloop *l)
{
	uint64_t one = 1;

	atomic_store(&l->stop, 1);
	if (write(l->wake_fd, &one, sizeof(one)) < 0) {
		/* counter saturated: the loop is awake anyway */
	}
}

int vloop_stopped(const struct vloop *l)
{
	return atomic_load(&l->stop);
}
