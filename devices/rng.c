// SPDX-License-Identifier: MIT
/*
 * virtio-entropy (virtio 1.2, 5.4): one request queue; every writable
 * buffer the driver posts is filled from getrandom(), at most max-bytes
 * per period (as QEMU's virtio-rng): a guest cannot make Dom0 spend its
 * CPU on entropy without bound (one chain may ask for 4 GiB). A buffer
 * gets what is left of the period's allowance (a short fill is allowed:
 * the used length says how much); once the allowance is spent, requests
 * wait in the ring for the next period, which a timer starts. Nothing
 * sleeps: the worker, and dev->lock with it, stay free meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "devices.h"
#include "log.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_BYTES (1u << 20)	/* per period, by default */
#define RNG_PERIOD_MS 1000

struct rng {
	struct virtq_elem *elem;
	uint64_t max_bytes, period_ms;
	uint64_t left;			/* of this period's allowance */
	uint64_t period_end_ms;
	int timer;
	bool waiting;			/* the timer is armed */
};

static uint64_t now_ms(void)
{
	return vloop_now_ns() / 1000000;
}

static void rng_run(struct vdev *dev);

static void timer_fired(int fd, uint32_t events, void *opaque)
{
	struct vdev *dev = opaque;
	struct rng *r = dev->priv;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;		/* not expired: a spurious wakeup */
	r->waiting = false;
	if (vdev_running(dev) && atomic_load(&dev->queues[0].ready))
		rng_run(dev);
}

static void rng_destroy(struct vdev *dev);

static int rng_setup(struct vdev *dev, struct rng *r, struct vopts *o,
		     char *err, size_t errlen)
{
	int rc;

	rc = vopts_get_u64(o, "max-bytes", RNG_MAX_BYTES, 1, UINT32_MAX,
			   &r->max_bytes, err, errlen);
	if (!rc)
		rc = vopts_get_u64(o, "period", RNG_PERIOD_MS, 1, 3600 * 1000,
				   &r->period_ms, err, errlen);
	if (rc)
		return rc;
	r->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->timer < 0) {
		snprintf(err, errlen, "rng: timerfd: %m");
		return -errno;
	}
	rc = vdev_add_fd(dev, r->timer, EPOLLIN, timer_fired, dev);
	if (rc) {
		snprintf(err, errlen, "rng: cannot watch its timer: %s", strerror(-rc));
		close(r->timer);
		r->timer = -1;
	}
	return rc;
}

static int rng_create(struct vdev *dev, struct vopts *o, char *err,
		      size_t errlen)
{
	struct rng *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->timer = -1;
	dev->priv = r;
	rc = rng_setup(dev, r, o, err, errlen);
	if (rc) {
		/* The core calls destroy only for a model that was created. */
		rng_destroy(dev);
		dev->priv = NULL;
		return rc;
	}
	dev->num_queues = 1;
	dev->queues[0].num_max = RNG_QUEUE_SIZE;
	dev->config_len = 0;
	return 0;
}

static void rng_destroy(struct vdev *dev)
{
	struct rng *r = dev->priv;

	if (!r)
		return;
	if (r->timer >= 0) {
		vdev_del_fd(dev, r->timer);
		close(r->timer);
	}
	virtq_elem_free(r->elem);
	free(r);
}

/* Fill the writable part of a chain with at most max bytes; the bytes
 * written, or -1. */
static long fill(struct virtq_elem *e, uint64_t max)
{
	long total = 0;

	for (unsigned int i = e->out_num; i < e->out_num + e->in_num && max; i++) {
		uint8_t *p = e->iov[i].iov_base;
		size_t left = e->iov[i].iov_len < max ? e->iov[i].iov_len : max;

		max -= left;
		while (left) {
			ssize_t n = getrandom(p, left, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			p += n;
			left -= n;
			total += n;
		}
	}
	return total;
}

/* A new period once the last one is over; false while none is left. */
static bool allowance(struct rng *r)
{
	uint64_t now = now_ms();

	if (now >= r->period_end_ms) {
		r->left = r->max_bytes;
		r->period_end_ms = now + r->period_ms;
	}
	return r->left > 0;
}

/* Wake up when the period is over. */
static void wait_period(struct vdev *dev, struct rng *r)
{
	uint64_t now = now_ms(), ms = r->period_end_ms > now ? r->period_end_ms - now : 1;
	struct itimerspec its = {
		.it_value.tv_sec = ms / 1000,
		.it_value.tv_nsec = (ms % 1000) * 1000000 + 1,
	};

	if (r->waiting)
		return;
	if (timerfd_settime(r->timer, 0, &its, NULL)) {
		vdev_fail(dev, "rng: timerfd_settime: %m");
		return;
	}
	r->waiting = true;
}

static void rng_run(struct vdev *dev)
{
	struct rng *r = dev->priv;
	struct virtq *vq = &dev->queues[0].vq;
	int rc = 0;

	if (!r->elem || r->elem->iov_cap < vq->max_iov) {
		virtq_elem_free(r->elem);
		r->elem = virtq_elem_new(vq);
		if (!r->elem)
			return;
	}
	do {
		virtq_disable_kicks(vq);
		while (allowance(r) && (rc = virtq_pop(vq, r->elem)) > 0) {
			long n = fill(r->elem, r->left);

			if (n < 0) {
				vdev_fail(dev, "getrandom: %m");
				return;
			}
			r->left -= n;
			virtq_push_elem(vq, r->elem, n);
		}
		if (!r->left) {
			/* The rest waits in the ring; kicks stay off till then. */
			wait_period(dev, r);
			break;
		}
	} while (rc == 0 && virtq_enable_kicks(vq));
	vdev_queue_interrupt(dev, 0);
}

static void rng_kick(struct vdev *dev, unsigned int q)
{
	struct rng *r = dev->priv;

	if (!r->waiting)
		rng_run(dev);
}

const struct vdev_model vdev_rng_model = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.summary = "entropy source fed by the host's getrandom(), rate-limited",
	.options = "max-bytes=N,period=MS",
	.create = rng_create,
	.destroy = rng_destroy,
	.queue_kick = rng_kick,
};
