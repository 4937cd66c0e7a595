// SPDX-License-Identifier: MIT
/*
 * Live counters and the control socket (tools/ctl.c): the counters of a
 * device move exactly as the simulated driver's requests are served, and
 * the socket answers "stats" and "stats json" with them, turns anything
 * else away with an error, and survives clients that misbehave.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_mmio.h>

#include "ctl.h"
#include "vdrv.h"
#include "xtest.h"

#define WAIT_MS 10000
#define READS 5
#define LEN 48

static void close_drv(void *d)
{
	vdrv_close(d);
}

/* An rng that served READS requests of LEN bytes, interrupts on. */
static struct vdrv *rng_served(void)
{
	char err[256];
	struct vdrv *d = vdrv_open("rng", NULL, err, sizeof(err));

	XT_ASSERT_MSG(d, "%s", err);
	xt_defer(close_drv, d);
	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "init: %s", d->err);
	for (unsigned int i = 0; i < READS; i++) {
		struct vdrv_seg seg = { .len = LEN, .writable = true };
		struct vdrv_vq *vq = vdrv_vq(d, 0);
		struct vdrv_used u;

		XT_ASSERT(vdrv_post(vq, &seg, 1, false, NULL) >= 0);
		vdrv_notify(vq);
		XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "request %u", i);
		XT_EQ(vdrv_reap(vq, &u), 1);
		XT_EQ(u.len, LEN);
	}
	return d;
}

static char *format(struct vdrv *d, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	XT_ASSERT(f);
	xvctl_device_stats(f, json, true, d->dev, &d->mmio);
	XT_EQ(fclose(f), 0);
	return buf;
}

static void counters_follow_requests(void)
{
	struct vdrv *d = rng_served();
	const struct vdev_queue_stats *s = &d->dev->queues[0].stats;
	char *text;

	XT_EQ(atomic_load(&s->vq.popped), READS);
	XT_EQ(atomic_load(&s->vq.pushed), READS);
	XT_EQ(atomic_load(&s->vq.bytes_in), READS * LEN);
	XT_EQ(atomic_load(&s->vq.bytes_out), 0);
	XT_EQ(atomic_load(&s->notifies), READS);
	XT_ASSERT(atomic_load(&s->wakeups) >= 1);
	XT_EQ(atomic_load(&s->irqs) + atomic_load(&s->irqs_suppressed), READS);
	XT_EQ(atomic_load(&d->mmio.writes[VIRTIO_MMIO_QUEUE_NOTIFY / 4]), READS);
	XT_EQ(atomic_load(&d->mmio.writes[VIRTIO_MMIO_QUEUE_READY / 4]), 1);
	text = format(d, false);
	XT_ASSERT_MSG(strstr(text, "queue 0 popped=5 pushed=5 bytes_out=0 bytes_in=240 notifies=5 fd_notifies=0"),
		      "%s", text);
	XT_ASSERT_MSG(strstr(text, "mmio QueueNotify reads=0 writes=5"), "%s", text);
	XT_ASSERT_MSG(strstr(text, "model=rng status=0x0f guest_errors=0"), "%s", text);
	free(text);
	text = format(d, true);
	XT_ASSERT_MSG(strstr(text, "\"QueueNotify\":{\"reads\":0,\"writes\":5}"), "%s", text);
	XT_ASSERT_MSG(strstr(text, "{\"queue\":0,\"popped\":5,\"pushed\":5"), "%s", text);
	free(text);
}

/*
 * A QueueNotify answered outside the process (Dom0's kernel through
 * privcmd ioeventfd) arrives as counts on the queue's notify_fd: the worker
 * serves the queue and counts every write it stands for, apart from the
 * register's own traps.
 */
static void notify_fd_kicks_and_counts(void)
{
	char err[256];
	struct vdrv *d = vdrv_open("rng", NULL, err, sizeof(err));
	struct vdrv_seg seg = { .len = LEN, .writable = true };
	const struct vdev_queue_stats *s;
	struct vdrv_used u;
	struct vdrv_vq *vq;
	uint64_t three = 3;
	int fd;

	XT_ASSERT_MSG(d, "%s", err);
	xt_defer(close_drv, d);
	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "init: %s", d->err);
	vq = vdrv_vq(d, 0);
	s = &d->dev->queues[0].stats;
	fd = vdev_notify_fd(d->dev, 0);
	XT_ASSERT(fd >= 0);
	XT_EQ(vdev_notify_fd(d->dev, 1), -1);
	XT_EQ(vdev_notify_fd(d->dev, VDEV_MAX_QUEUES), -1);
	XT_ASSERT(vdrv_post(vq, &seg, 1, false, NULL) >= 0);
	XT_EQ(write(fd, &three, sizeof(three)), sizeof(three));
	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "not served");
	XT_EQ(vdrv_reap(vq, &u), 1);
	XT_EQ(u.len, LEN);
	XT_EQ(atomic_load(&s->notifies), 3);
	XT_EQ(atomic_load(&s->fd_notifies), 3);
	XT_EQ(atomic_load(&d->mmio.writes[VIRTIO_MMIO_QUEUE_NOTIFY / 4]), 0);
	/* the register path next to it */
	XT_ASSERT(vdrv_post(vq, &seg, 1, false, NULL) >= 0);
	vdrv_notify(vq);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "not served");
	XT_EQ(atomic_load(&s->notifies), 4);
	XT_EQ(atomic_load(&s->fd_notifies), 3);
	XT_EQ(atomic_load(&s->vq.pushed), 2);
}

/* A driver that turns interrupts off gets none, and that is counted. */
static void suppressed_interrupts_counted(void)
{
	char err[256];
	struct vdrv *d = vdrv_open("rng", NULL, err, sizeof(err));
	struct vdrv_vq *vq;
	const struct vdev_queue_stats *s;

	XT_ASSERT_MSG(d, "%s", err);
	xt_defer(close_drv, d);
	XT_ASSERT(!vdrv_init(d, VDRV_F_DEFAULT & ~VDRV_F(VIRTIO_RING_F_EVENT_IDX), 1, 0));
	vq = vdrv_vq(d, 0);
	s = &d->dev->queues[0].stats;
	vdrv_set_no_interrupt(vq, true);
	for (unsigned int i = 0; i < 3; i++) {
		struct vdrv_seg seg = { .len = 16, .writable = true };
		struct vdrv_used u;

		XT_ASSERT(vdrv_post(vq, &seg, 1, false, NULL) >= 0);
		vdrv_notify(vq);
		XT_ASSERT(!vdrv_wait_used(vq, 1, WAIT_MS));
		XT_EQ(vdrv_reap(vq, &u), 1);
	}
	XT_EQ(atomic_load(&s->irqs), 0);
	XT_EQ(atomic_load(&s->irqs_suppressed), 3);
}

/* ---- the socket --------------------------------------------------------- */

struct server {
	struct vloop *loop;
	struct xvctl *ctl;
	struct vdrv *d;
	pthread_t thread;
	char path[108];
	_Atomic unsigned int asked;
};

static void stats_fn(FILE *f, bool json, void *opaque)
{
	struct server *s = opaque;

	atomic_fetch_add(&s->asked, 1);
	xvctl_device_stats(f, json, true, s->d->dev, &s->d->mmio);
}

static void *serve(void *arg)
{
	struct server *s = arg;

	vloop_run(s->loop);
	return NULL;
}

static void server_stop(void *arg)
{
	struct server *s = arg;

	vloop_stop(s->loop);
	pthread_join(s->thread, NULL);
	xvctl_close(s->ctl, true);
	vloop_free(s->loop);
	XT_ASSERT(access(s->path, F_OK));	/* unlinked */
	free(s);
}

static struct server *server_start(struct vdrv *d)
{
	struct server *s = calloc(1, sizeof(*s));
	const char *dir = getenv("TMPDIR");
	char err[256];

	XT_ASSERT(s);
	s->d = d;
	snprintf(s->path, sizeof(s->path), "%s/xv-ctl-%d.sock",
		 dir && *dir ? dir : "/tmp", getpid());
	s->loop = vloop_new();
	XT_ASSERT(s->loop);
	s->ctl = xvctl_open(s->path, getuid(), getgid(), s->loop, stats_fn, s,
			    err, sizeof(err));
	XT_ASSERT_MSG(s->ctl, "%s", err);
	XT_ASSERT(!pthread_create(&s->thread, NULL, serve, s));
	xt_defer(server_stop, s);
	return s;
}

static int dial(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	XT_ASSERT(fd >= 0 && strlen(path) < sizeof(a.sun_path));
	memcpy(a.sun_path, path, strlen(path) + 1);
	XT_ASSERT_MSG(!connect(fd, (struct sockaddr *)&a, sizeof(a)), "%s: %m", path);
	return fd;
}

/* Send cmd (len bytes), read the whole answer (the server closes). */
static char *ask(const char *path, const char *cmd, size_t len)
{
	static char buf[8192];
	struct pollfd p;
	size_t got = 0;
	ssize_t n;
	int fd = dial(path);

	/* A server that turns us away may have closed already: read anyway. */
	if (send(fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len)
		XT_ASSERT_MSG(errno == EPIPE || errno == ECONNRESET, "send: %m");
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (got < sizeof(buf) - 1 && poll(&p, 1, WAIT_MS) == 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	return buf;
}

static void socket_answers(void)
{
	struct vdrv *d = rng_served();
	struct server *s = server_start(d);
	char *a;

	a = ask(s->path, "stats\n", 6);
	XT_ASSERT_MSG(strstr(a, "queue 0 popped=5 pushed=5"), "%s", a);
	a = ask(s->path, "stats json", 10);
	XT_ASSERT_MSG(a[0] == '{' && strstr(a, "\"popped\":5"), "%s", a);
	XT_EQ(atomic_load(&s->asked), 2);
}

static void socket_refuses_nonsense(void)
{
	struct vdrv *d = rng_served();
	struct server *s = server_start(d);
	char junk[200];
	int idle[XVCTL_CLIENTS];

	XT_ASSERT(strstr(ask(s->path, "reboot\n", 7), "error: unknown command"));
	XT_ASSERT(strstr(ask(s->path, "stats\0json", 10), "queue 0"));
	memset(junk, 'x', sizeof(junk));
	XT_ASSERT(strstr(ask(s->path, junk, sizeof(junk)), "error: command too long"));
	/* Clients that never speak take every slot: the next is turned
	 * away, and once they go, the socket answers again. */
	for (unsigned int i = 0; i < XVCTL_CLIENTS; i++)
		idle[i] = dial(s->path);
	usleep(100000);
	XT_ASSERT(strstr(ask(s->path, "stats\n", 6), "error: busy"));
	for (unsigned int i = 0; i < XVCTL_CLIENTS; i++)
		close(idle[i]);
	for (unsigned int tries = 0; tries < 100; tries++) {
		if (strstr(ask(s->path, "stats\n", 6), "queue 0"))
			break;
		usleep(10000);
	}
	XT_ASSERT(strstr(ask(s->path, "stats\n", 6), "queue 0"));
	/* A client that hangs up before reading costs nothing. */
	close(dial(s->path));
	XT_ASSERT(strstr(ask(s->path, "stats\n", 6), "queue 0"));
}

static const struct xt_case cases[] = {
	XT_CASE(counters_follow_requests),
	XT_CASE(notify_fd_kicks_and_counts),
	XT_CASE(suppressed_interrupts_counted),
	XT_CASE(socket_answers),
	XT_CASE(socket_refuses_nonsense),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
