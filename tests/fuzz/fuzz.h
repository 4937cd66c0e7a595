/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz harnesses share: logs go to /dev/null unless
 * XV_FUZZ_VERBOSE is set, and a queue runs in the harness's own thread as
 * the device's worker would run it (no worker is started: a run is
 * deterministic).
 */
#ifndef XV_FUZZ_H
#define XV_FUZZ_H

#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_quiet_logs(void)
{
	static bool done;
	int fd;

	if (done)
		return;
	done = true;
	if (getenv("XV_FUZZ_VERBOSE"))
		return;
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		vlog_use_fd(fd);
}

#ifdef XV_VDEV_H
/* What the worker's kick handler does, here and now. */
static inline void fuzz_run_queue(struct vdev *dev, unsigned int q)
{
	vdev_lock(dev);
	if (q < dev->num_queues && vdev_running(dev) &&
	    atomic_load(&dev->queues[q].ready) && !dev->queues[q].vq.broken)
		dev->model->queue_kick(dev, q);
	vdev_unlock(dev);
}
#endif

#endif
