// SPDX-License-Identifier: MIT
/*
 * Fuzz the console model's guest parsers (devices/console*.c): control
 * messages, port transmit and receive chains, on a multiport console whose
 * ports write to /dev/null. A small driver in this file sets the device up
 * and posts the chains the input describes, with the input's lengths,
 * directions and bytes, so the fuzzer reaches the parsers instead of
 * spending itself on ring syntax (fuzz_virtq and fuzz_mmio cover that).
 *
 * The worker thread is not started: queue work runs here, deterministic.
 *
 * Input: byte 0 selects features (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC,
 * bit 2 chunked guest RAM); then records:
 *	b0		queue (b0 % 6); bit 7: reset and set up again first
 *	b1		segments (1 + b1 % 4)
 *	per segment	b: length (len % 256 + 1, bit 7 of the next byte adds
 *			256), b: flags (bit 0 device-writable), then for a
 *			readable segment its bytes (as many as the input has)
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_console.h>

#include "devices.h"
#include "mmio.h"
#include "fuzz.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x20000u
#define NQ 6
#define QSIZE 8
#define RING(q) (0x1000u * (q))		/* desc, avail at +0x400, used at +0x800 */
#define BUF_BASE 0x8000u		/* data buffers: a rolling area */

struct drv {
	struct vmmio m;
	uint8_t *ram;
	uint16_t avail_idx[NQ];
	uint16_t next_desc[NQ];
	uint32_t buf_off;
};

static void setup_once(void)
{
	static bool done;

	if (!done)
		vdev_model_register(&vdev_console_model);
	done = true;
	fuzz_quiet_logs();
}

static void irq_cb(struct vdev *dev, void *opaque)
{
}

static void w32(struct vmmio *m, uint64_t off, uint32_t v)
{
	vmmio_write(m, off, 4, v);
}

static void setup(struct drv *d, uint8_t sel)
{
	uint32_t lo = 1u << VIRTIO_CONSOLE_F_MULTIPORT | 1u << VIRTIO_CONSOLE_F_SIZE;

	if (sel & 1)
		lo |= 1u << 29;		/* EVENT_IDX */
	if (sel & 2)
		lo |= 1u << 28;		/* INDIRECT_DESC */
	memset(d->ram, 0, BUF_BASE);
	memset(d->avail_idx, 0, sizeof(d->avail_idx));
	memset(d->next_desc, 0, sizeof(d->next_desc));
	w32(&d->m, VIRTIO_MMIO_STATUS, 0);
	w32(&d->m, VIRTIO_MMIO_STATUS, 1);
	w32(&d->m, VIRTIO_MMIO_STATUS, 3);
	w32(&d->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(&d->m, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	w32(&d->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(&d->m, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	w32(&d->m, VIRTIO_MMIO_STATUS, 0xb);
	for (unsigned int q = 0; q < NQ; q++) {
		w32(&d->m, VIRTIO_MMIO_QUEUE_SEL, q);
		w32(&d->m, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		w32(&d->m, VIRTIO_MMIO_QUEUE_DESC_LOW, RAM_BASE + RING(q));
		w32(&d->m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, RAM_BASE + RING(q) + 0x400);
		w32(&d->m, VIRTIO_MMIO_QUEUE_USED_LOW, RAM_BASE + RING(q) + 0x800);
		w32(&d->m, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	w32(&d->m, VIRTIO_MMIO_STATUS, 0xf);
	for (unsigned int q = 0; q < NQ; q++)
		fuzz_run_queue(d->m.dev, q);
}

/* Room for len bytes in the rolling buffer area. */
static uint32_t buf_alloc(struct drv *d, uint32_t len)
{
	uint32_t off;

	if (d->buf_off + len > RAM_SIZE)
		d->buf_off = BUF_BASE;
	off = d->buf_off;
	d->buf_off += len;
	return off;
}

/* Post one chain from the input at *p; false when the input is used up. */
static bool post(struct drv *d, const uint8_t **p, const uint8_t *end)
{
	unsigned int q, nseg;
	uint16_t head, prev = 0;

	if (end - *p < 2)
		return false;
	q = (*p)[0] % NQ;
	if ((*p)[0] & 0x80)
		setup(d, (*p)[1]);
	nseg = 1 + (*p)[1] % 4;
	*p += 2;
	head = d->next_desc[q];
	for (unsigned int i = 0; i < nseg; i++) {
		struct vring_desc *desc = (void *)(d->ram + RING(q));
		uint16_t k = (uint16_t)(d->next_desc[q]++ % QSIZE);
		uint32_t len, off;
		bool wr;

		if (end - *p < 2)
			return false;
		len = (*p)[0] % 256 + 1 + ((*p)[1] & 0x80 ? 256 : 0);
		wr = (*p)[1] & 1;
		*p += 2;
		off = buf_alloc(d, len);
		if (!wr) {
			size_t n = (size_t)(end - *p) < len ? (size_t)(end - *p) : len;

			memcpy(d->ram + off, *p, n);
			*p += n;
		}
		desc[k].addr = htole64(RAM_BASE + off);
		desc[k].len = htole32(len);
		desc[k].flags = htole16(wr ? VRING_DESC_F_WRITE : 0);
		desc[k].next = 0;
		if (i)
			desc[prev].flags |= htole16(VRING_DESC_F_NEXT),
			desc[prev].next = htole16(k);
		prev = k;
	}
	{
		struct vring_avail *a = (void *)(d->ram + RING(q) + 0x400);

		a->ring[d->avail_idx[q] % QSIZE] = htole16(head % QSIZE);
		__atomic_store_n(&a->idx, htole16(++d->avail_idx[q]),
				 __ATOMIC_RELEASE);
	}
	fuzz_run_queue(d->m.dev, q);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char spec[] = "console,log=/dev/null,port1.log=/dev/null,port1.name=fz";
	const uint8_t *p = data + 1, *end = data + size;
	struct drv d = { .buf_off = BUF_BASE };
	struct vopts o;
	struct vdev *dev;
	struct gmem *gm;
	char err[128];

	setup_once();
	if (!size || vopts_parse(&o, spec, err, sizeof(err)))
		return 0;
	dev = vdev_new(&o, "console0", err, sizeof(err));
	d.ram = calloc(1, RAM_SIZE);
	gm = gmem_plain_new(data[0] & 4 ? 256 : 0);
	if (!dev || !d.ram || !gm || gmem_plain_add(gm, RAM_BASE, d.ram, RAM_SIZE))
		abort();
	dev->gm = gm;
	dev->irq = irq_cb;
	vmmio_init(&d.m, dev);
	setup(&d, data[0]);
	while (post(&d, &p, end))
		;
	/* Whatever the guest did, the device can be reset and freed. */
	w32(&d.m, VIRTIO_MMIO_STATUS, 0);
	vdev_free(dev);
	vopts_free(&o);
	gmem_destroy(gm);
	free(d.ram);
	return 0;
}
