// SPDX-License-Identifier: MIT
/*
 * Simulated guest virtio-mmio driver. See vdrv.h. Register accesses and ring
 * updates follow Linux (drivers/virtio/virtio_mmio.c, virtio_ring.c) so that
 * the device sees what a real guest would do, barriers included.
 */
#define _GNU_SOURCE 1	/* memfd_create */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "devices.h"
#include "vdrv.h"

#define PAGE 4096u

struct vdrv_alloc_rec {
	uint64_t gpa;
	uint64_t len;
};

struct vdrv_chain {
	bool busy;
	void *token;
	uint64_t wlen;			/* device-writable bytes */
	unsigned int ndesc;
	uint16_t *descs;		/* ring descriptors of the chain */
	unsigned int nalloc;
	struct vdrv_alloc_rec *allocs;	/* guest RAM freed on reap */
};

static void set_err(struct vdrv *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(struct vdrv *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vdrv_msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- life cycle --------------------------------------------------------- */

static void irq_cb(struct vdev *dev, void *opaque)
{
	struct vdrv *d = opaque;

	pthread_mutex_lock(&d->irq_lock);
	d->irqs_raised++;
	pthread_cond_broadcast(&d->irq_cond);
	pthread_mutex_unlock(&d->irq_lock);
}

static int mem_setup(struct vdrv *d, const struct vdrv_opts *o)
{
	struct vdrv_opts def = { 0 };

	d->mem_fd = -1;
	if (!o)
		o = &def;
	d->mem_base = o->mem_base ? o->mem_base : VDRV_MEM_BASE;
	d->mem_size = o->mem_size ? o->mem_size : VDRV_MEM_SIZE;
	d->mem_size = (d->mem_size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	d->alloc_units = d->mem_size / VDRV_ALLOC_UNIT;
	d->alloc_map = calloc(d->alloc_units, 1);
	d->gm = gmem_plain_new(o->chunk_size);
	if (!d->alloc_map || !d->gm)
		return -1;
	/*
	 * Guest RAM is a memfd: the driver sees one mapping of it, the device
	 * maps it chunk by chunk per guest-memory generation, so a pointer the
	 * device keeps past its hold faults here as it would under Xen.
	 * Chunks that are not page multiples need a plain buffer.
	 */
	if (!o->buffer_ram && o->chunk_size % PAGE == 0 &&
	    d->mem_base % PAGE == 0)
		d->mem_fd = memfd_create("vdrv-ram", MFD_CLOEXEC);
	if (d->mem_fd >= 0) {
		if (ftruncate(d->mem_fd, d->mem_size))
			return -1;
		d->mem = mmap(NULL, d->mem_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, d->mem_fd, 0);
		if (d->mem == MAP_FAILED) {
			d->mem = NULL;
			return -1;
		}
		return gmem_plain_add_fd(d->gm, d->mem_base, d->mem_fd,
					 d->mem_size);
	}
	d->mem = aligned_alloc(PAGE, d->mem_size);
	if (!d->mem)
		return -1;
	memset(d->mem, 0, d->mem_size);
	return gmem_plain_add(d->gm, d->mem_base, d->mem, d->mem_size);
}

struct vdrv *vdrv_open_dev(struct vdev *dev, const struct vdrv_opts *o,
			   char *err, size_t errlen)
{
	struct vdrv *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int rc;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		vdev_free(dev);
		return NULL;
	}
	pthread_mutex_init(&d->irq_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->irq_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (mem_setup(d, o)) {
		snprintf(err, errlen, "cannot set up %llu bytes of guest RAM",
			 (unsigned long long)d->mem_size);
		vdev_free(dev);
		vdrv_close(d);
		return NULL;
	}
	if (o)
		dev->worker_nice = o->worker_nice;
	rc = vdev_start(dev, d->gm, irq_cb, d);
	if (rc) {
		snprintf(err, errlen, "vdev_start: %s", strerror(-rc));
		vdev_free(dev);
		vdrv_close(d);
		return NULL;
	}
	d->dev = dev;
	vmmio_init(&d->mmio, dev);
	for (unsigned int q = 0; q < VDEV_MAX_QUEUES; q++) {
		d->vqs[q].d = d;
		d->vqs[q].index = q;
	}
	return d;
}

struct vdrv *vdrv_open(const char *spec, const struct vdrv_opts *o,
		       char *err, size_t errlen)
{
	struct vopts vo;
	struct vdev *dev;
	struct vdrv *d;
	char name[32];

	vdev_register_builtin();
	if (vopts_parse(&vo, spec, err, errlen))
		return NULL;
	snprintf(name, sizeof(name), "%s0", vo.model);
	dev = vdev_new(&vo, name, err, errlen);
	if (!dev) {
		vopts_free(&vo);
		return NULL;
	}
	d = vdrv_open_dev(dev, o, err, errlen);
	if (!d) {
		vopts_free(&vo);
		return NULL;
	}
	/* Kept until the device is gone: a model may point into it. */
	d->vopts = vo;
	d->vopts_valid = true;
	return d;
}

static void chain_release(struct vdrv_vq *vq, uint16_t head)
{
	struct vdrv_chain *c = &vq->chains[head];

	for (unsigned int i = 0; i < c->ndesc; i++)
		vq->free_stack[vq->num_free++] = c->descs[i];
	for (unsigned int i = 0; i < c->nalloc; i++)
		vdrv_free(vq->d, c->allocs[i].gpa, c->allocs[i].len);
	free(c->descs);
	free(c->allocs);
	memset(c, 0, sizeof(*c));
	vq->in_flight--;
}

/* Drop the driver-side state of a queue (after a reset). */
static void vq_forget(struct vdrv_vq *vq)
{
	struct vdrv *d = vq->d;
	unsigned int index = vq->index;

	if (vq->chains)
		for (unsigned int h = 0; h < vq->num; h++)
			if (vq->chains[h].busy)
				chain_release(vq, h);
	free(vq->chains);
	free(vq->free_stack);
	if (vq->ring_gpa)
		vdrv_free(d, vq->ring_gpa, vq->ring_len);
	memset(vq, 0, sizeof(*vq));
	vq->d = d;
	vq->index = index;
}

void vdrv_close(struct vdrv *d)
{
	if (!d)
		return;
	vdev_free(d->dev);
	d->dev = NULL;
	for (unsigned int q = 0; q < VDEV_MAX_QUEUES; q++)
		if (d->vqs[q].d)
			vq_forget(&d->vqs[q]);
	if (d->vopts_valid)
		vopts_free(&d->vopts);
	gmem_destroy(d->gm);
	free(d->alloc_map);
	if (d->mem_fd >= 0) {
		if (d->mem)
			munmap(d->mem, d->mem_size);
		close(d->mem_fd);
	} else {
		free(d->mem);
	}
	pthread_cond_destroy(&d->irq_cond);
	pthread_mutex_destroy(&d->irq_lock);
	free(d);
}

/* ---- raw access --------------------------------------------------------- */

uint32_t vdrv_read32(struct vdrv *d, uint64_t off)
{
	return vmmio_read(&d->mmio, off, 4);
}

void vdrv_write32(struct vdrv *d, uint64_t off, uint32_t val)
{
	vmmio_write(&d->mmio, off, 4, val);
}

uint8_t vdrv_status(struct vdrv *d)
{
	return vdrv_read32(d, VIRTIO_MMIO_STATUS);
}

void *vdrv_ptr(struct vdrv *d, uint64_t gpa, uint64_t len)
{
	if (gpa < d->mem_base || len > d->mem_size ||
	    gpa - d->mem_base > d->mem_size - len)
		return NULL;
	return d->mem + (gpa - d->mem_base);
}

uint64_t vdrv_alloc(struct vdrv *d, uint64_t len, uint64_t align)
{
	uint64_t units = (len + VDRV_ALLOC_UNIT - 1) / VDRV_ALLOC_UNIT;
	uint64_t step = align > VDRV_ALLOC_UNIT ? align / VDRV_ALLOC_UNIT : 1;
	uint64_t i = 0;

	if (!units)
		units = 1;
	/* First fit; a test's RAM is small enough for a linear scan. */
	while (i + units <= d->alloc_units) {
		uint64_t j;

		for (j = 0; j < units && !d->alloc_map[i + j]; j++)
			;
		if (j == units) {
			memset(d->alloc_map + i, 1, units);
			return d->mem_base + i * VDRV_ALLOC_UNIT;
		}
		i = (i + j + 1 + step - 1) / step * step;
	}
	return 0;
}

void vdrv_free(struct vdrv *d, uint64_t gpa, uint64_t len)
{
	uint64_t units = (len + VDRV_ALLOC_UNIT - 1) / VDRV_ALLOC_UNIT;
	uint64_t i;

	if (!gpa || gpa < d->mem_base)
		return;
	if (!units)
		units = 1;
	i = (gpa - d->mem_base) / VDRV_ALLOC_UNIT;
	if (i + units <= d->alloc_units)
		memset(d->alloc_map + i, 0, units);
}

uint64_t vdrv_mem_free(struct vdrv *d)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < d->alloc_units; i++)
		n += !d->alloc_map[i];
	return n * VDRV_ALLOC_UNIT;
}

/* ---- initialisation ----------------------------------------------------- */

int vdrv_probe(struct vdrv *d)
{
	uint32_t magic = vdrv_read32(d, VIRTIO_MMIO_MAGIC_VALUE);
	uint32_t version = vdrv_read32(d, VIRTIO_MMIO_VERSION);
	uint32_t id = vdrv_read32(d, VIRTIO_MMIO_DEVICE_ID);

	if (magic != VMMIO_MAGIC) {
		set_err(d, "magic 0x%08x", magic);
		return -1;
	}
	if (version != 2) {
		set_err(d, "version %u", version);
		return -1;
	}
	if (!id) {
		set_err(d, "device id 0 (placeholder)");
		return -1;
	}
	(void)vdrv_read32(d, VIRTIO_MMIO_VENDOR_ID);
	return id;
}

int vdrv_reset(struct vdrv *d)
{
	uint64_t end = now_ms() + 1000;

	vdrv_write32(d, VIRTIO_MMIO_STATUS, 0);
	while (vdrv_status(d)) {
		if (now_ms() > end) {
			set_err(d, "status reads 0x%x after reset", vdrv_status(d));
			return -1;
		}
		vdrv_msleep(1);
	}
	for (unsigned int q = 0; q < VDEV_MAX_QUEUES; q++)
		vq_forget(&d->vqs[q]);
	d->features = 0;
	return 0;
}

void vdrv_add_status(struct vdrv *d, uint8_t bits)
{
	vdrv_write32(d, VIRTIO_MMIO_STATUS, vdrv_status(d) | bits);
}

uint64_t vdrv_read_device_features(struct vdrv *d)
{
	uint64_t f;

	vdrv_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)vdrv_read32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vdrv_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f |= vdrv_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
	d->device_features = f;
	return f;
}

void vdrv_write_driver_features(struct vdrv *d, uint64_t f)
{
	vdrv_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, f >> 32);
	vdrv_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	d->features = f;
}

int vdrv_negotiate(struct vdrv *d, uint64_t want)
{
	uint64_t offered = vdrv_read_device_features(d);

	if (!(offered & VDRV_F(VIRTIO_F_VERSION_1))) {
		set_err(d, "device does not offer VIRTIO_F_VERSION_1");
		return -1;
	}
	vdrv_write_driver_features(d, want & offered);
	vdrv_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(vdrv_status(d) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		set_err(d, "device refused features 0x%llx",
			(unsigned long long)(want & offered));
		return -1;
	}
	return 0;
}

static void vq_bind_rings(struct vdrv_vq *vq, uint32_t num)
{
	struct vdrv *d = vq->d;

	vq->num = num <= VIRTQ_MAX_SIZE ? num : 0;
	if (!vq->num)
		return;
	/* Misaligned rings stay unreachable from here (and unusable). */
	if (!(vq->desc_gpa % 16))
		vq->desc = vdrv_ptr(d, vq->desc_gpa, 16ull * num);
	if (!(vq->avail_gpa % 2))
		vq->avail = vdrv_ptr(d, vq->avail_gpa, 6 + 2ull * num);
	if (!(vq->used_gpa % 4))
		vq->used = vdrv_ptr(d, vq->used_gpa, 6 + 8ull * num);
	vq->chains = calloc(num, sizeof(*vq->chains));
	vq->free_stack = malloc(num * sizeof(*vq->free_stack));
	if (!vq->chains || !vq->free_stack) {
		vq->num = 0;
		return;
	}
	/* Hand out descriptors 0, 1, 2, ... first, as a fresh Linux ring. */
	for (uint32_t i = 0; i < num; i++)
		vq->free_stack[i] = num - 1 - i;
	vq->num_free = num;
	vq->auto_used_event = true;
}

int vdrv_setup_queue_at(struct vdrv *d, unsigned int q, uint32_t num,
			uint64_t desc, uint64_t avail, uint64_t used)
{
	struct vdrv_vq *vq;

	if (q >= VDEV_MAX_QUEUES) {
		set_err(d, "queue %u beyond VDEV_MAX_QUEUES", q);
		return -1;
	}
	vq = &d->vqs[q];
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, q);
	if (vdrv_read32(d, VIRTIO_MMIO_QUEUE_READY)) {
		set_err(d, "queue %u is already ready", q);
		return -1;
	}
	if (!vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX)) {
		set_err(d, "queue %u does not exist", q);
		return -1;
	}
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_NUM, num);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, desc >> 32);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, avail >> 32);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_USED_HIGH, used >> 32);
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq_bind_rings(vq, num);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (vdrv_read32(d, VIRTIO_MMIO_QUEUE_READY) != 1) {
		set_err(d, "queue %u did not become ready (status 0x%x)", q,
			vdrv_status(d));
		return -1;
	}
	vq->ready = true;
	return 0;
}

int vdrv_setup_queue(struct vdrv *d, unsigned int q, uint16_t num)
{
	struct vdrv_vq *vq;
	uint32_t max;
	uint64_t gpa, len;

	if (q >= VDEV_MAX_QUEUES) {
		set_err(d, "queue %u beyond VDEV_MAX_QUEUES", q);
		return -1;
	}
	vq = &d->vqs[q];
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, q);
	max = vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max) {
		set_err(d, "queue %u does not exist", q);
		return -1;
	}
	if (!num)
		num = max;
	vq_forget(vq);
	/* The legacy contiguous layout with a page-aligned used ring. */
	len = vring_size(num, PAGE);
	gpa = vdrv_alloc(d, len, PAGE);
	if (!gpa) {
		set_err(d, "no guest RAM for %llu bytes of rings", (unsigned long long)len);
		return -1;
	}
	memset(vdrv_ptr(d, gpa, len), 0, len);
	if (vdrv_setup_queue_at(d, q, num, gpa, gpa + 16ull * num,
				(gpa + 16ull * num + 6 + 2ull * num + PAGE - 1) &
				~(uint64_t)(PAGE - 1))) {
		vdrv_free(d, gpa, len);
		return -1;
	}
	vq->ring_gpa = gpa;
	vq->ring_len = len;
	return 0;
}

int vdrv_driver_ok(struct vdrv *d)
{
	uint8_t s;

	vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
	s = vdrv_status(d);
	if (!(s & VIRTIO_CONFIG_S_DRIVER_OK) || (s & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		set_err(d, "status 0x%x after DRIVER_OK", s);
		return -1;
	}
	return 0;
}

int vdrv_init(struct vdrv *d, uint64_t want, unsigned int nq, uint16_t num)
{
	if (vdrv_probe(d) < 0 || vdrv_reset(d))
		return -1;
	vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER);
	if (vdrv_negotiate(d, want))
		return -1;
	for (unsigned int q = 0; q < nq; q++)
		if (vdrv_setup_queue(d, q, num))
			return -1;
	return vdrv_driver_ok(d);
}

/* ---- config space -------------------------------------------------------- */

static uint64_t config_access(struct vdrv *d, uint32_t off, unsigned int size)
{
	uint64_t base = VIRTIO_MMIO_CONFIG + off;

	if (size == 8)	/* vm_get: two 32-bit reads, low word first */
		return vmmio_read(&d->mmio, base, 4) |
		       (uint64_t)vmmio_read(&d->mmio, base + 4, 4) << 32;
	return vmmio_read(&d->mmio, base, size);
}

uint64_t vdrv_config_get(struct vdrv *d, uint32_t off, unsigned int size)
{
	uint32_t gen;
	uint64_t v;

	do {
		gen = vdrv_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
		v = config_access(d, off, size);
	} while (gen != vdrv_read32(d, VIRTIO_MMIO_CONFIG_GENERATION));
	return v;
}

void vdrv_config_read(struct vdrv *d, uint32_t off, void *buf, uint32_t len)
{
	uint8_t *b = buf;
	uint32_t gen;

	do {
		gen = vdrv_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
		for (uint32_t i = 0; i < len; i++)
			b[i] = config_access(d, off + i, 1);
	} while (gen != vdrv_read32(d, VIRTIO_MMIO_CONFIG_GENERATION));
}

/* ---- queues --------------------------------------------------------------- */

struct vdrv_vq *vdrv_vq(struct vdrv *d, unsigned int q)
{
	return q < VDEV_MAX_QUEUES ? &d->vqs[q] : NULL;
}

bool vdrv_has(struct vdrv *d, unsigned int bit)
{
	return bit < 64 && (d->features >> bit) & 1;
}

static void store16(__virtio16 *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

static uint16_t load16(__virtio16 *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

void vdrv_publish(struct vdrv_vq *vq, uint16_t head)
{
	if (!vq->avail || !vq->num)
		return;
	vq->avail->ring[vq->avail_idx % vq->num] = htole16(head);
	/* virtio_wmb: the entry before the index that makes it visible. */
	vq->avail_idx++;
	store16(&vq->avail->idx, vq->avail_idx);
}

void vdrv_set_avail_idx(struct vdrv_vq *vq, uint16_t idx)
{
	if (!vq->avail)
		return;
	vq->avail_idx = idx;
	store16(&vq->avail->idx, idx);
}

static int chain_track(struct vdrv_chain *c, uint64_t gpa, uint64_t len)
{
	struct vdrv_alloc_rec *a = realloc(c->allocs, (c->nalloc + 1) * sizeof(*a));

	if (!a)
		return -1;
	c->allocs = a;
	a[c->nalloc++] = (struct vdrv_alloc_rec){ gpa, len };
	return 0;
}

/* Give segments without an address their own guest buffer. */
static int alloc_segs(struct vdrv *d, struct vdrv_chain *c,
		      struct vdrv_seg *segs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t gpa;

		if (segs[i].gpa)
			continue;
		gpa = vdrv_alloc(d, segs[i].len, VDRV_ALLOC_UNIT);
		if (!gpa || chain_track(c, gpa, segs[i].len)) {
			set_err(d, "no guest RAM for a %u-byte buffer", segs[i].len);
			return -1;
		}
		if (segs[i].data)
			memcpy(vdrv_ptr(d, gpa, segs[i].len), segs[i].data, segs[i].len);
		else
			memset(vdrv_ptr(d, gpa, segs[i].len ? segs[i].len : 1), 0,
			       segs[i].len);
		segs[i].gpa = gpa;
	}
	return 0;
}

static void fill_desc(struct vring_desc *t, const struct vdrv_seg *s,
		      bool more, uint16_t next)
{
	t->addr = htole64(s->gpa);
	t->len = htole32(s->len);
	t->flags = htole16((s->writable ? VRING_DESC_F_WRITE : 0) |
			   (more ? VRING_DESC_F_NEXT : 0));
	t->next = htole16(more ? next : 0);
}

static int post_indirect(struct vdrv_vq *vq, struct vdrv_chain *c,
			 const struct vdrv_seg *segs, unsigned int n)
{
	struct vdrv *d = vq->d;
	uint64_t len = 16ull * n, table = vdrv_alloc(d, len, 16);
	struct vring_desc *t;
	uint16_t i;

	if (!table || chain_track(c, table, len)) {
		set_err(d, "no guest RAM for an indirect table");
		return -1;
	}
	t = vdrv_ptr(d, table, len);
	for (unsigned int k = 0; k < n; k++)
		fill_desc(&t[k], &segs[k], k + 1 < n, k + 1);
	i = vq->free_stack[--vq->num_free];
	c->descs[c->ndesc++] = i;
	vq->desc[i].addr = htole64(table);
	vq->desc[i].len = htole32(len);
	vq->desc[i].flags = htole16(VRING_DESC_F_INDIRECT);
	vq->desc[i].next = 0;
	return i;
}

static int post_direct(struct vdrv_vq *vq, struct vdrv_chain *c,
		       const struct vdrv_seg *segs, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++)
		c->descs[c->ndesc++] = vq->free_stack[--vq->num_free];
	for (unsigned int k = 0; k < n; k++)
		fill_desc(&vq->desc[c->descs[k]], &segs[k], k + 1 < n,
			  k + 1 < n ? c->descs[k + 1] : 0);
	return c->descs[0];
}

int vdrv_post(struct vdrv_vq *vq, struct vdrv_seg *segs, unsigned int n,
	      bool indirect, void *token)
{
	struct vdrv *d = vq->d;
	struct vdrv_chain c = { 0 };
	unsigned int need = indirect ? 1 : n;
	int head;

	if (!vq->ready || !vq->num || !vq->desc || !vq->avail || !n) {
		set_err(d, "queue %u cannot take a chain", vq->index);
		return -1;
	}
	if (vq->num_free < need) {
		set_err(d, "queue %u: %u descriptors free, %u needed", vq->index,
			vq->num_free, need);
		return -1;
	}
	c.descs = calloc(need, sizeof(*c.descs));
	if (!c.descs || alloc_segs(d, &c, segs, n))
		goto fail;
	head = indirect ? post_indirect(vq, &c, segs, n) :
			  post_direct(vq, &c, segs, n);
	if (head < 0)
		goto fail;
	for (unsigned int k = 0; k < n; k++)
		if (segs[k].writable)
			c.wlen += segs[k].len;
	c.busy = true;
	c.token = token;
	vq->chains[head] = c;
	vq->in_flight++;
	vdrv_publish(vq, head);
	return head;
fail:
	for (unsigned int k = 0; k < c.nalloc; k++)
		vdrv_free(d, c.allocs[k].gpa, c.allocs[k].len);
	free(c.allocs);
	free(c.descs);
	return -1;
}

void vdrv_notify(struct vdrv_vq *vq)
{
	vdrv_write32(vq->d, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
}

bool vdrv_kick(struct vdrv_vq *vq)
{
	uint16_t old = vq->kick_old, new = vq->avail_idx;
	bool need;

	/* virtio_mb: avail->idx out before reading the device's wish. */
	atomic_thread_fence(memory_order_seq_cst);
	vq->kick_old = new;
	if (!vq->used)
		need = true;
	else if (vdrv_has(vq->d, VIRTIO_RING_F_EVENT_IDX))
		need = vring_need_event(vdrv_avail_event(vq), new, old);
	else
		need = !(load16(&vq->used->flags) & VRING_USED_F_NO_NOTIFY);
	if (need) {
		vdrv_notify(vq);
		vq->kicks_sent++;
	} else {
		vq->kicks_suppressed++;
	}
	return need;
}

uint16_t vdrv_used_idx(struct vdrv_vq *vq)
{
	return vq->used ? load16(&vq->used->idx) : 0;
}

uint16_t vdrv_avail_event(struct vdrv_vq *vq)
{
	return vq->used ? load16((__virtio16 *)&vq->used->ring[vq->num]) : 0;
}

uint16_t vdrv_used_pending(struct vdrv_vq *vq)
{
	return vdrv_used_idx(vq) - vq->last_used;
}

void vdrv_set_used_event(struct vdrv_vq *vq, uint16_t idx)
{
	if (vq->avail)
		store16(&vq->avail->ring[vq->num], idx);
	atomic_thread_fence(memory_order_seq_cst);
}

void vdrv_set_no_interrupt(struct vdrv_vq *vq, bool on)
{
	vq->no_interrupt = on;
	if (vq->avail)
		store16(&vq->avail->flags, on ? VRING_AVAIL_F_NO_INTERRUPT : 0);
	atomic_thread_fence(memory_order_seq_cst);
}

int vdrv_reap(struct vdrv_vq *vq, struct vdrv_used *u)
{
	struct vdrv *d = vq->d;
	uint16_t pending;
	uint32_t id, len;
	uint64_t wlen;

	if (!vq->ready || !vq->used || !vq->num)
		return 0;
	pending = vdrv_used_pending(vq);
	if (!pending)
		return 0;
	if (pending > vq->num) {
		set_err(d, "used index moved by %u on a queue of %u", pending, vq->num);
		return -1;
	}
	/* load16 was an acquire: the entry is read after the index. */
	id = le32toh(vq->used->ring[vq->last_used % vq->num].id);
	len = le32toh(vq->used->ring[vq->last_used % vq->num].len);
	vq->last_used++;
	if (!vq->no_interrupt && vq->auto_used_event &&
	    vdrv_has(d, VIRTIO_RING_F_EVENT_IDX))
		vdrv_set_used_event(vq, vq->last_used);
	if (id >= vq->num || !vq->chains[id].busy) {
		set_err(d, "used id %u is not an outstanding head", id);
		return -1;
	}
	wlen = vq->chains[id].wlen;
	*u = (struct vdrv_used){ id, len, vq->chains[id].token };
	chain_release(vq, id);
	if (len > wlen) {
		set_err(d, "used len %u beyond the %llu writable bytes of head %u",
			len, (unsigned long long)wlen, id);
		return -1;
	}
	return 1;
}

/* Wait up to ms for an interrupt callback after the one numbered seen. */
static void wait_raised(struct vdrv *d, unsigned int seen, unsigned int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)ms * 1000000;
	while (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&d->irq_lock);
	while (d->irqs_raised == seen &&
	       pthread_cond_timedwait(&d->irq_cond, &d->irq_lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&d->irq_lock);
}

int vdrv_wait_used(struct vdrv_vq *vq, uint16_t n, int timeout_ms)
{
	struct vdrv *d = vq->d;
	uint64_t end = now_ms() + timeout_ms;

	for (;;) {
		unsigned int seen;

		/* Snapshot first: an interrupt after the check still wakes us. */
		pthread_mutex_lock(&d->irq_lock);
		seen = d->irqs_raised;
		pthread_mutex_unlock(&d->irq_lock);
		if (vdrv_used_pending(vq) >= n)
			return 0;
		if (now_ms() > end) {
			set_err(d, "queue %u: %u of %u used entries after %d ms",
				vq->index, vdrv_used_pending(vq), n, timeout_ms);
			return -1;
		}
		/* Interrupts may be suppressed: poll every millisecond too. */
		wait_raised(d, seen, 1);
	}
}

/* ---- interrupts --------------------------------------------------------- */

int vdrv_wait_irq(struct vdrv *d, int timeout_ms)
{
	struct timespec ts;
	unsigned int snap;
	uint32_t isr;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&d->irq_lock);
	while (d->irqs_raised == d->irqs_handled) {
		if (pthread_cond_timedwait(&d->irq_cond, &d->irq_lock, &ts) == ETIMEDOUT &&
		    d->irqs_raised == d->irqs_handled) {
			pthread_mutex_unlock(&d->irq_lock);
			set_err(d, "no interrupt within %d ms", timeout_ms);
			return -1;
		}
	}
	snap = d->irqs_raised;
	pthread_mutex_unlock(&d->irq_lock);

	/* vm_interrupt: read the cause, acknowledge exactly that. */
	isr = vdrv_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		vdrv_write32(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);

	pthread_mutex_lock(&d->irq_lock);
	d->irqs_handled = snap;
	d->isr_seen |= isr;
	pthread_mutex_unlock(&d->irq_lock);
	return isr;
}

int vdrv_wait_isr(struct vdrv *d, uint32_t mask, int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	for (;;) {
		uint64_t now;

		pthread_mutex_lock(&d->irq_lock);
		if ((d->isr_seen & mask) == mask) {
			d->isr_seen &= ~mask;
			pthread_mutex_unlock(&d->irq_lock);
			return 0;
		}
		pthread_mutex_unlock(&d->irq_lock);
		now = now_ms();
		if (now >= end || vdrv_wait_irq(d, end - now) < 0) {
			set_err(d, "interrupt status 0x%x not seen within %d ms",
				mask, timeout_ms);
			return -1;
		}
	}
}

unsigned int vdrv_irqs_pending(struct vdrv *d)
{
	unsigned int n;

	pthread_mutex_lock(&d->irq_lock);
	n = d->irqs_raised - d->irqs_handled;
	pthread_mutex_unlock(&d->irq_lock);
	return n;
}

void vdrv_irq_clear(struct vdrv *d)
{
	pthread_mutex_lock(&d->irq_lock);
	d->irqs_handled = d->irqs_raised;
	d->isr_seen = 0;
	pthread_mutex_unlock(&d->irq_lock);
}

int vdrv_wait_status(struct vdrv *d, uint8_t mask, int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while ((vdrv_status(d) & mask) != mask) {
		if (now_ms() > end) {
			set_err(d, "status 0x%x lacks 0x%x after %d ms",
				vdrv_status(d), mask, timeout_ms);
			return -1;
		}
		vdrv_msleep(1);
	}
	return 0;
}

int vdrv_wait_gmem_idle(struct vdrv *d, int timeout_ms)
{
	struct gmem_stats st;

	for (int i = 0;; i++) {
		gmem_get_stats(d->gm, &st);
		if (!st.holds && st.generations == 1)
			return 0;
		if (i >= timeout_ms) {
			set_err(d, "guest memory: %llu hold(s), %llu generation(s) left",
				(unsigned long long)st.holds,
				(unsigned long long)st.generations);
			return -1;
		}
		vdrv_msleep(1);
	}
}
