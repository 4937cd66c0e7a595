/* SPDX-License-Identifier: MIT */
/*
 * A virtio device: the state every transport shares (status, features,
 * queues, config space, interrupt status) and the interface device models
 * implement. Models never see the transport: they get queues, guest memory
 * and interrupts from here.
 *
 * Threads. Each device has a worker thread running its own event loop; queue
 * kicks and model file descriptors are dispatched there with dev->lock held
 * (guest pointers come from popped elements, which hold their mappings:
 * virtq.h). Transports call the vdev_* functions below
 * with dev->lock held (vdev_lock), except vdev_kick() and the isr functions,
 * which are lock-free so that a QueueNotify or InterruptStatus access never
 * waits for device work.
 */
#ifndef XV_VDEV_H
#define XV_VDEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "gmem.h"
#include "log.h"
#include "loop.h"
#include "opts.h"
#include "virtq.h"

#define VDEV_MAX_QUEUES 64
#define VDEV_MAX_CONFIG 256

/* Interrupt status bits (same values as virtio-mmio's InterruptStatus). */
#define VDEV_ISR_QUEUE	VIRTIO_MMIO_INT_VRING
#define VDEV_ISR_CONFIG	VIRTIO_MMIO_INT_CONFIG

struct vdev;
struct vdev_fd;

struct vdev_model {
	const char *name;
	uint32_t device_id;		/* VIRTIO_ID_* */
	const char *summary;		/* one line for --help */
	const char *options;		/* "file=PATH,readonly=on|off,..." */

	/*
	 * Parse options and set up the device: host_features (model bits;
	 * the core adds VERSION_1, EVENT_IDX and INDIRECT_DESC), config and
	 * config_len, num_queues and each queue's num_max, priv. 0 or -errno
	 * with a message in err. Runs before the worker exists.
	 */
	int (*create)(struct vdev *dev, struct vopts *o, char *err,
		      size_t errlen);
	void (*destroy)(struct vdev *dev);
	/* Optional: veto a feature set at FEATURES_OK. */
	bool (*features_ok)(struct vdev *dev, uint64_t features);
	/* Optional: DRIVER_OK was set. 0, or -errno to fail the device. */
	int (*start)(struct vdev *dev);
	/* Worker: the driver kicked queue q (or made it ready). */
	void (*queue_kick)(struct vdev *dev, unsigned int q);
	/*
	 * Device reset or queue disable: forget every popped element of the
	 * affected queues and wait for I/O that writes guest memory. After it
	 * returns the model touches no queue until it is kicked again.
	 */
	void (*reset)(struct vdev *dev);
	/* Optional: driver wrote config bytes [off, off + len). */
	void (*config_write)(struct vdev *dev, uint32_t off, uint32_t len);
};

/* What happened on a queue since the device was made (any thread). */
struct vdev_queue_stats {
	struct virtq_stats vq;		/* chains and bytes (virtq.h) */
	_Atomic uint64_t notifies;	/* QueueNotify writes (both ways) */
	_Atomic uint64_t fd_notifies;	/* of them, through notify_fd */
	_Atomic uint64_t wakeups;	/* worker runs for them */
	_Atomic uint64_t irqs;		/* interrupts raised for the queue */
	_Atomic uint64_t irqs_suppressed; /* completions the driver asked not
					   * to be interrupted for (EVENT_IDX,
					   * NO_INTERRUPT) */
};

struct vdev_queue {
	struct virtq vq;
	struct vdev_queue_stats stats;
	struct vdev *dev;
	uint16_t num_max;		/* 0: no such queue */
	uint16_t num;
	_Atomic bool ready;
	uint64_t desc;
	uint64_t driver;
	uint64_t device;
	int kick_fd;			/* eventfd read by the worker */
	/*
	 * Also read by the worker: an eventfd that something outside this
	 * process signals once per QueueNotify write it answered itself (Dom0's
	 * kernel for a Xen guest, a vhost-user frontend's kick).
	 */
	int notify_fd;
};

typedef void vdev_irq_fn(struct vdev *dev, void *opaque);

struct vdev {
	const struct vdev_model *model;
	void *priv;
	char name[32];			/* "blk0": prefix for log lines */

	uint64_t host_features;
	uint64_t driver_features;
	uint8_t status;
	_Atomic uint32_t isr;
	uint32_t config_generation;
	uint8_t config[VDEV_MAX_CONFIG];
	uint32_t config_len;

	unsigned int num_queues;
	struct vdev_queue queues[VDEV_MAX_QUEUES];

	struct gmem *gm;
	vdev_irq_fn *irq;
	void *irq_opaque;

	pthread_mutex_t lock;
	struct vloop *loop;
	pthread_t worker;
	bool worker_running;
	/*
	 * Added to the worker's nice value as it starts (set before
	 * vdev_start): a transport whose other thread must answer first (a
	 * trapped vCPU waits for it) makes the worker yield to it.
	 */
	int worker_nice;
	struct vdev_fd *fds;		/* model fds watched by the worker */
	vloop_timer_fn *timer_fn;	/* vdev_set_timer() */
	void *timer_opaque;
	struct vlog_limit guest_log;	/* every line the guest can cause */
	_Atomic uint64_t guest_errors;	/* vdev_guest_error() and failures */
	_Atomic uint64_t resets;	/* resets (by the driver, or to let
					 * guest memory go) */
};

/* Registry of device models, by name. */
int vdev_model_register(const struct vdev_model *m);
const struct vdev_model *vdev_model_find(const char *name);
/* Iterate: returns the i-th model or NULL past the end. */
const struct vdev_model *vdev_model_at(unsigned int i);

/* Create from a parsed spec; unknown keys are errors. NULL on error. */
struct vdev *vdev_new(struct vopts *o, const char *name, char *err,
		      size_t errlen);
/* Attach guest memory and the transport's interrupt line; start worker. */
int vdev_start(struct vdev *dev, struct gmem *gm, vdev_irq_fn *irq,
	       void *opaque);
/* Stop the worker, reset, destroy the model and free. */
void vdev_free(struct vdev *dev);

void vdev_lock(struct vdev *dev);
void vdev_unlock(struct vdev *dev);

/* ---- transport side (dev->lock held) ---- */
uint32_t vdev_host_features_word(struct vdev *dev, uint32_t sel);
void vdev_set_driver_features_word(struct vdev *dev, uint32_t sel,
				   uint32_t val);
uint32_t vdev_driver_features_word(struct vdev *dev, uint32_t sel);
void vdev_set_status(struct vdev *dev, uint8_t status);
void vdev_reset(struct vdev *dev);
/* Queue registers may change only while the queue is not ready. */
bool vdev_queue_writable(struct vdev *dev, unsigned int q);
int vdev_queue_enable(struct vdev *dev, unsigned int q);
void vdev_queue_disable(struct vdev *dev, unsigned int q);
/* Little-endian config access; out of range reads give 0. */
uint64_t vdev_config_read(struct vdev *dev, uint32_t off, unsigned int size);
void vdev_config_write(struct vdev *dev, uint32_t off, unsigned int size,
		       uint64_t val);

/* ---- lock-free transport side ---- */
void vdev_kick(struct vdev *dev, unsigned int q);
/* Queue q's notify_fd (above), or -1 if q is no queue. */
int vdev_notify_fd(const struct vdev *dev, unsigned int q);
uint32_t vdev_isr_read(struct vdev *dev);
void vdev_isr_ack(struct vdev *dev, uint32_t bits);

/* ---- model side (worker context, dev->lock held) ---- */
bool vdev_has_feature(const struct vdev *dev, unsigned int bit);
/* Interrupt the driver for queue q if it wants one (EVENT_IDX aware). */
void vdev_queue_interrupt(struct vdev *dev, unsigned int q);
/* Config space changed: bump the generation, config interrupt. */
void vdev_config_changed(struct vdev *dev);
/* Set DEVICE_NEEDS_RESET, log why and send a config interrupt. */
void vdev_fail(struct vdev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Log a guest-caused problem, rate-limited per device. */
void vdev_guest_error(struct vdev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Any other line a guest can cause (a model's warning about what the
 * driver sent): prefixed with the device's name, through the same
 * per-device limit as vdev_guest_error and vdev_fail.
 */
void vdev_guest_log(struct vdev *dev, enum vlog_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Watch an fd in the worker; fn runs with dev->lock held. */
int vdev_add_fd(struct vdev *dev, int fd, uint32_t events, vloop_fd_fn *fn,
		void *opaque);
void vdev_del_fd(struct vdev *dev, int fd);
/*
 * The worker's one timer (vloop_set_timer): fn runs with dev->lock held
 * once CLOCK_MONOTONIC (vloop_now_ns) reaches deadline_ns; 0 cancels.
 */
void vdev_set_timer(struct vdev *dev, uint64_t deadline_ns, vloop_timer_fn *fn,
		    void *opaque);
bool vdev_running(const struct vdev *dev);

#endif
