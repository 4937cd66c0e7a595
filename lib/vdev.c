// SPDX-License-Identifier: MIT
/*
 * Generic virtio device state and the device status state machine
 * (virtio 1.2, 2.1 and 3.1), shared by every transport.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <linux/virtio_ring.h>

#include "log.h"
#include "vdev.h"

#define VDEV_MAX_MODELS 32

struct vdev_fd {
	struct vdev *dev;
	int fd;
	vloop_fd_fn *fn;
	void *opaque;
	struct vdev_fd *next;
};

static const struct vdev_model *models[VDEV_MAX_MODELS];
static unsigned int n_models;

int vdev_model_register(const struct vdev_model *m)
{
	if (vdev_model_find(m->name))
		return -EEXIST;
	if (n_models == VDEV_MAX_MODELS)
		return -ENOSPC;
	models[n_models++] = m;
	return 0;
}

const struct vdev_model *vdev_model_find(const char *name)
{
	for (unsigned int i = 0; i < n_models; i++)
		if (!strcmp(models[i]->name, name))
			return models[i];
	return NULL;
}

const struct vdev_model *vdev_model_at(unsigned int i)
{
	return i < n_models ? models[i] : NULL;
}

void vdev_lock(struct vdev *dev)
{
	pthread_mutex_lock(&dev->lock);
}

void vdev_unlock(struct vdev *dev)
{
	pthread_mutex_unlock(&dev->lock);
}

bool vdev_has_feature(const struct vdev *dev, unsigned int bit)
{
	return bit < 64 && (dev->driver_features >> bit) & 1;
}

bool vdev_running(const struct vdev *dev)
{
	return (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void vdev_interrupt(struct vdev *dev, uint32_t bits)
{
	atomic_fetch_or(&dev->isr, bits);
	if (dev->irq)
		dev->irq(dev, dev->irq_opaque);
}

/* A hostile guest must not be able to flood the log: every line it can
 * cause goes through the device's one limit. */
void vdev_guest_error(struct vdev *dev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	atomic_fetch_add_explicit(&dev->guest_errors, 1, memory_order_relaxed);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vlog_limited(&dev->guest_log, VLOG_WARN, "%s: guest error: %s", dev->name, msg);
}

void vdev_guest_log(struct vdev *dev, enum vlog_level level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vlog_limited(&dev->guest_log, level, "%s: %s", dev->name, msg);
}

void vdev_fail(struct vdev *dev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	atomic_fetch_add_explicit(&dev->guest_errors, 1, memory_order_relaxed);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A reset/fail loop is the guest's to repeat: limited too. */
	vlog_limited(&dev->guest_log, VLOG_ERR, "%s: device needs reset: %s", dev->name, msg);
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	vdev_interrupt(dev, VDEV_ISR_CONFIG);
}

static void queue_failed(struct virtq *vq, const char *why, void *opaque)
{
	vdev_fail(opaque, "queue %u: %s", vq->index, why);
}

void vdev_queue_interrupt(struct vdev *dev, unsigned int q)
{
	struct vdev_queue *qs;
	bool pushed;

	if (q >= dev->num_queues)
		return;
	qs = &dev->queues[q];
	pushed = qs->vq.size && !qs->vq.broken &&
		 qs->vq.used_idx != qs->vq.signalled_used;
	if (virtq_need_interrupt(&qs->vq)) {
		atomic_fetch_add_explicit(&qs->stats.irqs, 1, memory_order_relaxed);
		vdev_interrupt(dev, VDEV_ISR_QUEUE);
	} else if (pushed) {
		atomic_fetch_add_explicit(&qs->stats.irqs_suppressed, 1,
					  memory_order_relaxed);
	}
}

void vdev_config_changed(struct vdev *dev)
{
	dev->config_generation++;
	if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
		vdev_interrupt(dev, VDEV_ISR_CONFIG);
}

/* ---- worker ------------------------------------------------------------ */

static void run_queue(struct vdev_queue *qs)
{
	struct vdev *dev = qs->dev;

	atomic_fetch_add_explicit(&qs->stats.wakeups, 1, memory_order_relaxed);
	vdev_lock(dev);
	if (vdev_running(dev) && atomic_load(&qs->ready) && !qs->vq.broken)
		dev->model->queue_kick(dev, qs->vq.index);
	vdev_unlock(dev);
}

static void kick_handler(int fd, uint32_t events, void *opaque)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* spurious wakeup: nothing pending */
	}
	run_queue(opaque);
}

/* The eventfd counts the writes it stands for. */
static void notify_handler(int fd, uint32_t events, void *opaque)
{
	struct vdev_queue *qs = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;		/* spurious: nothing pending */
	atomic_fetch_add_explicit(&qs->stats.notifies, v, memory_order_relaxed);
	atomic_fetch_add_explicit(&qs->stats.fd_notifies, v,
				  memory_order_relaxed);
	run_queue(qs);
}

static void fd_handler(int fd, uint32_t events, void *opaque)
{
	struct vdev_fd *f = opaque;
	struct vdev *dev = f->dev;

	vdev_lock(dev);
	f->fn(fd, events, f->opaque);
	vdev_unlock(dev);
}

int vdev_add_fd(struct vdev *dev, int fd, uint32_t events, vloop_fd_fn *fn,
		void *opaque)
{
	struct vdev_fd *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	*f = (struct vdev_fd){ dev, fd, fn, opaque, dev->fds };
	rc = vloop_add_fd(dev->loop, fd, events, fd_handler, f);
	if (rc) {
		free(f);
		return rc;
	}
	dev->fds = f;
	return 0;
}

void vdev_del_fd(struct vdev *dev, int fd)
{
	for (struct vdev_fd **pp = &dev->fds; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			struct vdev_fd *f = *pp;

			*pp = f->next;
			vloop_del_fd(dev->loop, fd);
			free(f);
			return;
		}
	}
}

static void timer_handler(void *opaque)
{
	struct vdev *dev = opaque;

	vdev_lock(dev);
	dev->timer_fn(dev->timer_opaque);
	vdev_unlock(dev);
}

void vdev_set_timer(struct vdev *dev, uint64_t deadline_ns, vloop_timer_fn *fn,
		    void *opaque)
{
	if (deadline_ns) {
		dev->timer_fn = fn;
		dev->timer_opaque = opaque;
	}
	vloop_set_timer(dev->loop, deadline_ns, timer_handler, dev);
}

static void *worker_main(void *arg)
{
	struct vdev *dev = arg;

	/* Named after the device ("blk0"), for top -H and the lab's figures;
	 * the kernel truncates to 15 bytes. */
	prctl(PR_SET_NAME, dev->name, 0, 0, 0);
	if (dev->worker_nice) {
		pid_t tid = gettid();
		int cur;

		errno = 0;
		cur = getpriority(PRIO_PROCESS, tid);
		if ((cur == -1 && errno) ||
		    setpriority(PRIO_PROCESS, tid, cur + dev->worker_nice))
			log_warn("%s: worker keeps its priority: %m", dev->name);
	}
	vloop_run(dev->loop);
	return NULL;
}

/* Wake queue q's worker (the device's own reasons, or the driver's). */
static void wake_queue(struct vdev *dev, unsigned int q)
{
	uint64_t one = 1;

	if (q >= dev->num_queues || !atomic_load(&dev->queues[q].ready))
		return;
	if (write(dev->queues[q].kick_fd, &one, sizeof(one)) < 0) {
		/* counter saturated: the worker is due to run anyway */
	}
}

void vdev_kick(struct vdev *dev, unsigned int q)
{
	if (q < dev->num_queues)
		atomic_fetch_add_explicit(&dev->queues[q].stats.notifies, 1,
					  memory_order_relaxed);
	wake_queue(dev, q);
}

int vdev_notify_fd(const struct vdev *dev, unsigned int q)
{
	return q < dev->num_queues ? dev->queues[q].notify_fd : -1;
}

uint32_t vdev_isr_read(struct vdev *dev)
{
	return atomic_load(&dev->isr);
}

void vdev_isr_ack(struct vdev *dev, uint32_t bits)
{
	atomic_fetch_and(&dev->isr, ~bits);
}

/* ---- features and status ---------------------------------------------- */

uint32_t vdev_host_features_word(struct vdev *dev, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(dev->host_features >> (32 * sel)) : 0;
}

uint32_t vdev_driver_features_word(struct vdev *dev, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(dev->driver_features >> (32 * sel)) : 0;
}

void vdev_set_driver_features_word(struct vdev *dev, uint32_t sel,
				   uint32_t val)
{
	uint64_t mask;

	if (dev->status & VIRTIO_CONFIG_S_FEATURES_OK) {
		vdev_guest_error(dev, "features written after FEATURES_OK");
		return;
	}
	if (sel >= 2) {
		if (val)
			vdev_guest_error(dev, "driver features word %u written", sel);
		return;
	}
	mask = 0xffffffffull << (32 * sel);
	dev->driver_features = (dev->driver_features & ~mask) |
			       ((uint64_t)val << (32 * sel));
}

static bool features_acceptable(struct vdev *dev)
{
	uint64_t f = dev->driver_features;

	if (f & ~dev->host_features) {
		vdev_guest_error(dev, "driver accepted features 0x%llx not offered",
				 (unsigned long long)(f & ~dev->host_features));
		return false;
	}
	if (!(f & (1ull << VIRTIO_F_VERSION_1))) {
		vdev_guest_error(dev, "driver did not accept VIRTIO_F_VERSION_1");
		return false;
	}
	return !dev->model->features_ok || dev->model->features_ok(dev, f);
}

static void kick_ready_queues(struct vdev *dev)
{
	for (unsigned int q = 0; q < dev->num_queues; q++)
		wake_queue(dev, q);
}

void vdev_reset(struct vdev *dev)
{
	atomic_fetch_add_explicit(&dev->resets, 1, memory_order_relaxed);
	if (dev->model->reset)
		dev->model->reset(dev);
	for (unsigned int q = 0; q < dev->num_queues; q++) {
		struct vdev_queue *qs = &dev->queues[q];

		atomic_store(&qs->ready, false);
		virtq_fini(&qs->vq);
		qs->num = 0;
		qs->desc = qs->driver = qs->device = 0;
	}
	dev->driver_features = 0;
	dev->status = 0;
	atomic_store(&dev->isr, 0);
}

void vdev_set_status(struct vdev *dev, uint8_t v)
{
	uint8_t old = dev->status & ~VIRTIO_CONFIG_S_NEEDS_RESET, added;

	if (!v) {
		vdev_reset(dev);
		return;
	}
	/* NEEDS_RESET is the device's: a driver's write-back of it is no
	 * request (the bit is kept below if the device had set it). */
	v &= ~VIRTIO_CONFIG_S_NEEDS_RESET;
	if (old & ~v) {
		vdev_guest_error(dev, "status 0x%x clears bits of 0x%x without a reset",
				 v, old);
		v |= old;
	}
	added = v & ~old;
	if ((added & VIRTIO_CONFIG_S_FEATURES_OK) && !features_acceptable(dev))
		v &= ~VIRTIO_CONFIG_S_FEATURES_OK;	/* the driver re-reads it */
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(v & VIRTIO_CONFIG_S_FEATURES_OK)) {
		vdev_guest_error(dev, "DRIVER_OK without FEATURES_OK");
		v &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	}
	dev->status = v | (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (added & v & VIRTIO_CONFIG_S_DRIVER_OK) {
		int rc = dev->model->start ? dev->model->start(dev) : 0;

		if (rc)
			vdev_fail(dev, "device start failed: %s", strerror(-rc));
		else
			kick_ready_queues(dev);
	}
}

/* ---- queues ------------------------------------------------------------ */

bool vdev_queue_writable(struct vdev *dev, unsigned int q)
{
	return q < dev->num_queues && dev->queues[q].num_max &&
	       !atomic_load(&dev->queues[q].ready);
}

int vdev_queue_enable(struct vdev *dev, unsigned int q)
{
	struct vdev_queue *qs;
	struct virtq_config c;
	const char *why = NULL;
	int rc;

	if (q >= dev->num_queues || !dev->queues[q].num_max) {
		vdev_guest_error(dev, "enabling queue %u, which does not exist", q);
		return -EINVAL;
	}
	qs = &dev->queues[q];
	if (atomic_load(&qs->ready))
		return 0;
	if (!(dev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		vdev_fail(dev, "queue %u enabled before FEATURES_OK", q);
		return -EINVAL;
	}
	if (!qs->num || qs->num > qs->num_max) {
		vdev_fail(dev, "queue %u size %u is not in 1..%u", q, qs->num,
			  qs->num_max);
		return -EINVAL;
	}
	c = (struct virtq_config){
		.size = qs->num, .index = q,
		.desc = qs->desc, .avail = qs->driver, .used = qs->device,
		.event_idx = vdev_has_feature(dev, VIRTIO_RING_F_EVENT_IDX),
		.indirect = vdev_has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC),
	};
	rc = virtq_init(&qs->vq, dev->gm, &c, &why);
	if (rc) {
		vdev_fail(dev, "queue %u: %s", q, why);
		return rc;
	}
	virtq_set_fail(&qs->vq, queue_failed, dev);
	qs->vq.stats = &qs->stats.vq;
	atomic_store(&qs->ready, true);
	if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
		wake_queue(dev, q);
	return 0;
}

void vdev_queue_disable(struct vdev *dev, unsigned int q)
{
	struct vdev_queue *qs;

	if (q >= dev->num_queues || !atomic_load(&dev->queues[q].ready))
		return;
	qs = &dev->queues[q];
	/*
	 * Without VIRTIO_F_RING_RESET a live queue cannot stop alone. Once the
	 * driver has started the device, work may be in flight even when the
	 * device already needs a reset: it is quiesced all the same, or a
	 * completion would land in the ring the guest installs next.
	 */
	if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		if (dev->model->reset)
			dev->model->reset(dev);
		vdev_fail(dev, "queue %u disabled while the device runs", q);
	}
	atomic_store(&qs->ready, false);
	virtq_fini(&qs->vq);
}

/* ---- config space ------------------------------------------------------ */

static bool config_range_ok(struct vdev *dev, uint32_t off, unsigned int size)
{
	if (size > 8 || off >= dev->config_len || size > dev->config_len - off) {
		vdev_guest_error(dev, "config access of %u bytes at 0x%x outside %u bytes",
				 size, off, dev->config_len);
		return false;
	}
	return true;
}

uint64_t vdev_config_read(struct vdev *dev, uint32_t off, unsigned int size)
{
	uint64_t v = 0;

	if (!config_range_ok(dev, off, size))
		return 0;
	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)dev->config[off + i] << (8 * i);
	return v;
}

void vdev_config_write(struct vdev *dev, uint32_t off, unsigned int size,
		       uint64_t val)
{
	if (!config_range_ok(dev, off, size))
		return;
	if (!dev->model->config_write) {
		vdev_guest_error(dev, "write to read-only config space at 0x%x", off);
		return;
	}
	for (unsigned int i = 0; i < size; i++)
		dev->config[off + i] = val >> (8 * i);
	dev->model->config_write(dev, off, size);
}

/* ---- life cycle -------------------------------------------------------- */

static int check_model_setup(struct vdev *dev, char *err, size_t errlen)
{
	if (dev->num_queues > VDEV_MAX_QUEUES || dev->config_len > VDEV_MAX_CONFIG) {
		snprintf(err, errlen, "%s: model set up too many queues or config bytes",
			 dev->name);
		return -EINVAL;
	}
	for (unsigned int q = 0; q < dev->num_queues; q++) {
		uint16_t m = dev->queues[q].num_max;

		if (m & (m - 1)) {
			snprintf(err, errlen, "%s: queue %u size %u is not a power of two",
				 dev->name, q, m);
			return -EINVAL;
		}
	}
	return 0;
}

static int setup_kicks(struct vdev *dev)
{
	for (unsigned int q = 0; q < dev->num_queues; q++) {
		struct vdev_queue *qs = &dev->queues[q];

		qs->dev = dev;
		qs->vq.index = q;
		qs->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (qs->kick_fd < 0)
			return -errno;
		qs->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (qs->notify_fd < 0)
			return -errno;
		if (vloop_add_fd(dev->loop, qs->kick_fd, EPOLLIN, kick_handler, qs) ||
		    vloop_add_fd(dev->loop, qs->notify_fd, EPOLLIN,
				 notify_handler, qs))
			return -errno;
	}
	return 0;
}

struct vdev *vdev_new(struct vopts *o, const char *name, char *err,
		      size_t errlen)
{
	const struct vdev_model *m = vdev_model_find(o->model);
	struct vdev *dev;

	if (!m) {
		snprintf(err, errlen, "unknown device model '%s'", o->model);
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	dev->model = m;
	snprintf(dev->name, sizeof(dev->name), "%s", name ? name : m->name);
	pthread_mutex_init(&dev->lock, NULL);
	vlog_limit_init(&dev->guest_log);
	for (unsigned int q = 0; q < VDEV_MAX_QUEUES; q++)
		dev->queues[q].kick_fd = dev->queues[q].notify_fd = -1;
	/* The loop exists before create, so a model may watch fds from it. */
	dev->loop = vloop_new();
	if (!dev->loop) {
		snprintf(err, errlen, "%s: cannot set up the worker loop", dev->name);
		goto fail_model;
	}
	if (m->create(dev, o, err, errlen))
		goto fail_model;
	dev->host_features |= 1ull << VIRTIO_F_VERSION_1 |
			      1ull << VIRTIO_RING_F_EVENT_IDX |
			      1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (check_model_setup(dev, err, errlen) ||
	    vopts_check_used(o, err, errlen))
		goto fail;
	if (setup_kicks(dev)) {
		snprintf(err, errlen, "%s: cannot set up the worker loop", dev->name);
		goto fail;
	}
	return dev;
fail:
	if (m->destroy)
		m->destroy(dev);
fail_model:
	dev->model = NULL;
	vdev_free(dev);
	return NULL;
}

int vdev_start(struct vdev *dev, struct gmem *gm, vdev_irq_fn *irq,
	       void *opaque)
{
	int rc;

	dev->gm = gm;
	dev->irq = irq;
	dev->irq_opaque = opaque;
	rc = pthread_create(&dev->worker, NULL, worker_main, dev);
	if (rc)
		return -rc;
	dev->worker_running = true;
	return 0;
}

void vdev_free(struct vdev *dev)
{
	if (!dev)
		return;
	if (dev->worker_running) {
		vloop_stop(dev->loop);
		pthread_join(dev->worker, NULL);
	}
	if (dev->model) {
		vdev_lock(dev);
		if (dev->gm)
			vdev_reset(dev);
		vdev_unlock(dev);
		if (dev->model->destroy)
			dev->model->destroy(dev);
	}
	while (dev->fds)
		vdev_del_fd(dev, dev->fds->fd);
	for (unsigned int q = 0; q < VDEV_MAX_QUEUES; q++) {
		if (dev->queues[q].kick_fd >= 0)
			close(dev->queues[q].kick_fd);
		if (dev->queues[q].notify_fd >= 0)
			close(dev->queues[q].notify_fd);
	}
	vloop_free(dev->loop);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}
