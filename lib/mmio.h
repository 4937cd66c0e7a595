/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio transport, version 2 (virtio 1.2, 4.2.2): the register file
 * of one device window. The caller decodes which window an access hits and
 * passes the offset inside it. Control registers take aligned 32-bit
 * accesses only; device config space (0x100 on) takes aligned 8/16/32/64-bit
 * ones. Anything else reads as 0, is ignored when written, and is logged.
 */
#ifndef XV_MMIO_H
#define XV_MMIO_H

#include <stdatomic.h>
#include <stdint.h>

#include "vdev.h"

#define VMMIO_WINDOW 0x200u
#define VMMIO_MAGIC 0x74726976u		/* "virt" */
#define VMMIO_VERSION 2u
#define VMMIO_VENDOR 0x4e455658u	/* "XVEN" */

/* Accesses counted per control register (offset / 4), config space last. */
#define VMMIO_STAT_CONFIG (0x100u / 4)
#define VMMIO_STAT_SLOTS (VMMIO_STAT_CONFIG + 1)

struct vmmio {
	struct vdev *dev;
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	/* Guest accesses (each one a trap under Xen); any thread may read. */
	_Atomic uint64_t reads[VMMIO_STAT_SLOTS];
	_Atomic uint64_t writes[VMMIO_STAT_SLOTS];
};

/* The register's name for a counter slot ("QueueNotify"), or NULL. */
const char *vmmio_reg_name(unsigned int slot);

void vmmio_init(struct vmmio *m, struct vdev *dev);
uint64_t vmmio_read(struct vmmio *m, uint64_t off, unsigned int size);
void vmmio_write(struct vmmio *m, uint64_t off, unsigned int size,
		 uint64_t val);

#endif
