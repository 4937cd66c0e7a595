// SPDX-License-Identifier: MIT
/*
 * Fuzz the virtio-mmio register file and the device status machine
 * (lib/mmio.c, lib/vdev.c) with an rng device behind them (devices/rng.c,
 * lib/virtq.c): the input is a sequence of register accesses, guest RAM
 * writes and "let the device work" steps.
 *
 * The device's worker thread is not started: queue work runs in this
 * thread where the input says, so a run is deterministic.
 *
 * Input: byte 0 selects a prologue (bit 0: a correct driver sets the
 * device up first, bits 1-2: feature choice, bits 3-5: queue size), then
 * 8-byte records:
 *	b0 bits 0-1	0 read, 1 write, 2 guest RAM write, 3 run queue
 *	b0 bits 2-3	access size 4, 1, 2, 8
 *	b0 bit 4	value is a guest RAM address (RAM base + value % size)
 *	b0 bit 5	offset rounded down to a multiple of 4
 *	b1-b2		offset (register window and a little beyond)
 *	b3-b6		value
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "mmio.h"
#include "fuzz.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x10000u
#define RING_DESC 0x0000u
#define RING_AVAIL 0x1000u
#define RING_USED 0x2000u

static unsigned int irqs;

static void irq_cb(struct vdev *dev, void *opaque)
{
	irqs++;
}

static void setup_once(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	vdev_model_register(&vdev_rng_model);
	fuzz_quiet_logs();
}

static void w32(struct vmmio *m, uint64_t off, uint32_t v)
{
	vmmio_write(m, off, 4, v);
}

/* A correct driver: reset .. DRIVER_OK with one queue in RAM. */
static void prologue(struct vmmio *m, uint8_t sel)
{
	static const uint32_t feat_lo[4] = {
		0, 1u << 28, 1u << 29, 1u << 28 | 1u << 29,
	};
	uint32_t num = 1u << ((sel >> 3) & 7);

	w32(m, VIRTIO_MMIO_STATUS, 0);
	w32(m, VIRTIO_MMIO_STATUS, 1);
	w32(m, VIRTIO_MMIO_STATUS, 3);
	w32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(m, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	w32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(m, VIRTIO_MMIO_DRIVER_FEATURES, feat_lo[(sel >> 1) & 3]);
	w32(m, VIRTIO_MMIO_STATUS, 0xb);
	w32(m, VIRTIO_MMIO_QUEUE_SEL, 0);
	w32(m, VIRTIO_MMIO_QUEUE_NUM, num);
	w32(m, VIRTIO_MMIO_QUEUE_DESC_LOW, RAM_BASE + RING_DESC);
	w32(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, RAM_BASE + RING_AVAIL);
	w32(m, VIRTIO_MMIO_QUEUE_USED_LOW, RAM_BASE + RING_USED);
	w32(m, VIRTIO_MMIO_QUEUE_READY, 1);
	w32(m, VIRTIO_MMIO_STATUS, 0xf);
}

static unsigned int access_size(uint8_t b)
{
	static const unsigned int sizes[4] = { 4, 1, 2, 8 };

	return sizes[(b >> 2) & 3];
}

static void step(struct vmmio *m, uint8_t *ram, const uint8_t *r)
{
	uint64_t off = (r[1] | r[2] << 8) % (VMMIO_WINDOW + 0x20);
	uint32_t v = r[3] | r[4] << 8 | r[5] << 16 | (uint32_t)r[6] << 24;
	unsigned int size = access_size(r[0]);

	if (r[0] & 0x20)
		off &= ~3ull;
	if (r[0] & 0x10)
		v = RAM_BASE + v % RAM_SIZE;
	switch (r[0] & 3) {
	case 0:
		/* The identification registers never change. */
		if (vmmio_read(m, off, size) != vmmio_read(m, off, size) &&
		    off < VIRTIO_MMIO_DEVICE_FEATURES)
			abort();
		break;
	case 1:
		vmmio_write(m, off, size, v);
		break;
	case 2:
		off = (r[1] | r[2] << 8) % (RAM_SIZE - 3);
		memcpy(ram + off, &r[3], 4);
		break;
	case 3:
		fuzz_run_queue(m->dev, r[1] % 2);
		break;
	}
}

/* What must hold whatever the guest did. */
static void check(struct vmmio *m)
{
	uint8_t s = m->dev->status;

	if (vmmio_read(m, VIRTIO_MMIO_MAGIC_VALUE, 4) != VMMIO_MAGIC)
		abort();
	if ((s & VIRTIO_CONFIG_S_DRIVER_OK) && !(s & VIRTIO_CONFIG_S_FEATURES_OK))
		abort();
	if (m->dev->isr & ~(uint32_t)(VDEV_ISR_QUEUE | VDEV_ISR_CONFIG))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vopts o;
	struct vmmio m;
	struct vdev *dev;
	struct gmem *gm;
	uint8_t *ram;
	char err[128];

	setup_once();
	if (!size || vopts_parse(&o, "rng", err, sizeof(err)))
		return 0;
	dev = vdev_new(&o, "rng0", err, sizeof(err));
	ram = calloc(1, RAM_SIZE);
	gm = gmem_plain_new(data[0] & 0x40 ? 256 : 0);
	if (!dev || !ram || !gm || gmem_plain_add(gm, RAM_BASE, ram, RAM_SIZE))
		abort();
	/* Attached without a worker thread: fuzz_run_queue() does its job. */
	dev->gm = gm;
	dev->irq = irq_cb;
	vmmio_init(&m, dev);
	if (data[0] & 1)
		prologue(&m, data[0]);
	for (size_t i = 1; i + 8 <= size; i += 8) {
		step(&m, ram, data + i);
		check(&m);
	}
	vdev_free(dev);
	vopts_free(&o);
	gmem_destroy(gm);
	free(ram);
	return 0;
}
