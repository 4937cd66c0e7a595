// SPDX-License-Identifier: MIT
/*
 * The event loop's timer (lib/loop.c): it fires once, in the loop's thread,
 * not before its deadline; it can be replaced, cancelled and set again from
 * its own callback; and fd handlers run while it is pending.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"
#include "xtest.h"

#define MS 1000000ull

struct tick {
	struct vloop *l;
	unsigned int fired;
	unsigned int stop_after;	/* fires; then the loop stops */
	uint64_t deadline;
	uint64_t late;			/* fired before its deadline: how early */
	uint64_t rearm_ns;		/* > 0: set again this far ahead */
	pthread_t thread;
};

static void free_loop(void *l)
{
	vloop_free(l);
}

static struct vloop *new_loop(void)
{
	struct vloop *l = vloop_new();

	XT_ASSERT(l);
	xt_defer(free_loop, l);
	return l;
}

static void tick_fn(void *opaque)
{
	struct tick *t = opaque;
	uint64_t now = vloop_now_ns();

	XT_ASSERT(pthread_equal(pthread_self(), t->thread));
	if (now < t->deadline)
		t->late = t->deadline - now;
	if (++t->fired == t->stop_after) {
		vloop_stop(t->l);
		return;
	}
	if (t->rearm_ns) {
		t->deadline = now + t->rearm_ns;
		vloop_set_timer(t->l, t->deadline, tick_fn, t);
	}
}

static void set_tick(struct tick *t, uint64_t in_ns)
{
	t->deadline = vloop_now_ns() + in_ns;
	vloop_set_timer(t->l, t->deadline, tick_fn, t);
}

static void *stop_later(void *l)
{
	usleep(100 * 1000);
	vloop_stop(l);
	return NULL;
}

static void loop_timer_fires(void)
{
	struct tick t = { .l = new_loop(), .stop_after = 1,
			  .thread = pthread_self() };

	set_tick(&t, 20 * MS);
	XT_EQ(vloop_run(t.l), 0);
	XT_EQ(t.fired, 1);
	XT_EQ(t.late, 0);
}

static void loop_timer_rearmed_by_callback(void)
{
	struct tick t = { .l = new_loop(), .stop_after = 3, .rearm_ns = 5 * MS,
			  .thread = pthread_self() };

	set_tick(&t, 5 * MS);
	XT_EQ(vloop_run(t.l), 0);
	XT_EQ(t.fired, 3);
	XT_EQ(t.late, 0);
}

/* A later deadline replaces an earlier one; 0 cancels. */
static void loop_timer_replaced_and_cancelled(void)
{
	struct tick early = { .stop_after = 1, .thread = pthread_self() };
	struct tick t = { .stop_after = 1, .thread = pthread_self() };
	struct vloop *l = new_loop();
	pthread_t stopper;

	early.l = t.l = l;
	set_tick(&early, 1 * MS);
	set_tick(&t, 30 * MS);
	XT_EQ(vloop_run(l), 0);
	XT_EQ(early.fired, 0);
	XT_EQ(t.fired, 1);
	XT_EQ(t.late, 0);

	l = new_loop();
	t = (struct tick){ .l = l, .stop_after = 1, .thread = pthread_self() };
	set_tick(&t, 1 * MS);
	vloop_set_timer(l, 0, NULL, NULL);
	XT_EQ(pthread_create(&stopper, NULL, stop_later, l), 0);
	XT_EQ(vloop_run(l), 0);
	pthread_join(stopper, NULL);
	XT_EQ(t.fired, 0);
}

static void count_fd(int fd, uint32_t events, void *opaque)
{
	uint64_t v;

	XT_EQ(read(fd, &v, sizeof(v)), sizeof(v));
	(*(unsigned int *)opaque)++;
}

static void close_fd(void *fd)
{
	close((int)(intptr_t)fd);
}

/* Events are served while the timer waits, and do not postpone it. */
static void loop_timer_with_events(void)
{
	struct tick t = { .l = new_loop(), .stop_after = 1,
			  .thread = pthread_self() };
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	unsigned int seen = 0;
	uint64_t one = 1;

	XT_ASSERT(efd >= 0);
	xt_defer(close_fd, (void *)(intptr_t)efd);
	XT_EQ(vloop_add_fd(t.l, efd, EPOLLIN, count_fd, &seen), 0);
	set_tick(&t, 50 * MS);
	XT_EQ(write(efd, &one, sizeof(one)), sizeof(one));
	XT_EQ(vloop_run_once(t.l, 0), 1);
	XT_EQ(seen, 1);
	XT_EQ(t.fired, 0);
	XT_EQ(vloop_run(t.l), 0);
	XT_EQ(t.fired, 1);
	XT_EQ(t.late, 0);
}

static const struct xt_case cases[] = {
	XT_CASE(loop_timer_fires),
	XT_CASE(loop_timer_rearmed_by_callback),
	XT_CASE(loop_timer_replaced_and_cancelled),
	XT_CASE(loop_timer_with_events),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
