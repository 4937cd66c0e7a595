/* SPDX-License-Identifier: MIT */
/*
 * The device models built into xen-virtio. Each lives in its own file and
 * knows nothing of Xen; vdev_register_builtin() makes them findable by name.
 */
#ifndef XV_DEVICES_H
#define XV_DEVICES_H

#include "vdev.h"

extern const struct vdev_model vdev_rng_model;
extern const struct vdev_model vdev_blk_model;
extern const struct vdev_model vdev_console_model;

/* Register every built-in model (idempotent). */
void vdev_register_builtin(void);

#endif
