/* SPDX-License-Identifier: MIT */
/*
 * Device slots: where each device of a guest sits (MMIO window and
 * interrupt). One parser for the daemon and the device-tree helper.
 *
 * A slot spec is a device spec (opts.h) with two extra keys, base= and
 * irq=. Without them slot i gets libxl's layout on Arm: window
 * 0x02000000 + 0x200 * i, SPI 33 + i (xen/arch-arm.h GUEST_VIRTIO_MMIO_*).
 */
#ifndef XV_VSLOT_H
#define XV_VSLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"

#define VSLOT_MMIO_BASE 0x02000000ull
#define VSLOT_MMIO_SIZE 0x00100000ull
#define VSLOT_WINDOW 0x200ull
#define VSLOT_SPI_FIRST 33u
#define VSLOT_SPI_LAST 43u
#define VSLOT_MAX 32

struct vslot {
	struct vopts opts;
	uint64_t base;
	unsigned int irq;
	bool base_given;
	bool irq_given;
};

/* Parse one spec; base/irq are taken out of the options. */
int vslot_parse(struct vslot *s, const char *spec, char *err, size_t errlen);
void vslot_free(struct vslot *s);
/* Give slots without base/irq their default, then check for collisions. */
int vslot_assign(struct vslot *slots, unsigned int n, char *err, size_t errlen);
/*
 * The same, but default slot i takes libxl's slot first + i: the first
 * `first` slots are libxl's own virtio devices. vslot_assign() is first = 0.
 */
int vslot_assign_from(struct vslot *slots, unsigned int n, unsigned int first,
		      char *err, size_t errlen);
/* True if the slot lies in Xen's virtio window and SPI range. */
bool vslot_in_xen_range(const struct vslot *s);

#endif
