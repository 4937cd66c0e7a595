// SPDX-License-Identifier: MIT
/*
 * virtio-entropy (virtio 1.2, 5.4): one request queue; every writable
 * buffer the driver posts is filled from getrandom().
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include <linux/virtio_ids.h>

#include "devices.h"
#include "log.h"

#define RNG_QUEUE_SIZE 64

struct rng {
	struct virtq_elem *elem;
};

static int rng_create(struct vdev *dev, struct vopts *o, char *err,
		      size_t errlen)
{
	dev->num_queues = 1;
	dev->queues[0].num_max = RNG_QUEUE_SIZE;
	dev->config_len = 0;
	dev->priv = calloc(1, sizeof(struct rng));
	return dev->priv ? 0 : -ENOMEM;
}

static void rng_destroy(struct vdev *dev)
{
	struct rng *r = dev->priv;

	if (r)
		free(r->elem);
	free(r);
}

/* Fill the writable part of a chain; the bytes written, or -1. */
static long fill(struct virtq_elem *e)
{
	long total = 0;

	for (unsigned int i = e->out_num; i < e->out_num + e->in_num; i++) {
		uint8_t *p = e->iov[i].iov_base;
		size_t left = e->iov[i].iov_len;

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

static void rng_kick(struct vdev *dev, unsigned int q)
{
	struct rng *r = dev->priv;
	struct virtq *vq = &dev->queues[q].vq;
	int rc;

	if (!r->elem || r->elem->iov_cap < vq->max_iov) {
		free(r->elem);
		r->elem = virtq_elem_new(vq);
		if (!r->elem)
			return;
	}
	do {
		virtq_disable_kicks(vq);
		while ((rc = virtq_pop(vq, r->elem)) > 0) {
			long n = fill(r->elem);

			if (n < 0) {
				vdev_fail(dev, "getrandom: %m");
				return;
			}
			virtq_push(vq, r->elem->head, n);
		}
	} while (rc == 0 && virtq_enable_kicks(vq));
	vdev_queue_interrupt(dev, q);
}

const struct vdev_model vdev_rng_model = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.summary = "entropy source fed by the host's getrandom()",
	.options = "",
	.create = rng_create,
	.destroy = rng_destroy,
	.queue_kick = rng_kick,
};
