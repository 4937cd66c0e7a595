// SPDX-License-Identifier: MIT
/*
 * virtio-mmio register file and device status machine (virtio 1.2, 4.2.2
 * and 3.1), driven through vmmio_read/vmmio_write only.
 *
 * Most cases use a test device model, "xtcfg": three queue slots (8
 * entries, absent, 16 entries), 16 bytes of config space holding
 * 0x10..0x1f, model features 0, 1 and 33, a veto on feature 1 without 0,
 * and counters for kicks, resets and config writes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "vdrv.h"
#include "xtest.h"

#define WAIT_MS 5000
#define QUIET_MS 50
#define XT_DEVICE_ID 42
#define CFG VIRTIO_MMIO_CONFIG

struct xtcfg {
	bool failstart;
	atomic_uint kicks;
	atomic_uint resets;
	atomic_uint config_writes;
	uint32_t last_off, last_len;
};

static int xtcfg_create(struct vdev *dev, struct vopts *o, char *err,
			size_t errlen)
{
	struct xtcfg *x = calloc(1, sizeof(*x));
	int rc;

	if (!x)
		return -ENOMEM;
	dev->priv = x;
	rc = vopts_get_bool(o, "failstart", false, &x->failstart, err, errlen);
	if (rc)
		return rc;
	dev->num_queues = 3;
	dev->queues[0].num_max = 8;
	dev->queues[2].num_max = 16;
	dev->config_len = 16;
	for (int i = 0; i < 16; i++)
		dev->config[i] = 0x10 + i;
	dev->host_features = 1ull << 0 | 1ull << 1 | 1ull << 33;
	return 0;
}

static void xtcfg_destroy(struct vdev *dev)
{
	free(dev->priv);
}

static bool xtcfg_features_ok(struct vdev *dev, uint64_t f)
{
	/* Feature 1 depends on feature 0. */
	return !(f & 2) || (f & 1);
}

static int xtcfg_start(struct vdev *dev)
{
	struct xtcfg *x = dev->priv;

	return x->failstart ? -EIO : 0;
}

static void xtcfg_kick(struct vdev *dev, unsigned int q)
{
	struct xtcfg *x = dev->priv;

	atomic_fetch_add(&x->kicks, 1);
}

static void xtcfg_reset(struct vdev *dev)
{
	struct xtcfg *x = dev->priv;

	atomic_fetch_add(&x->resets, 1);
}

static void xtcfg_config_write(struct vdev *dev, uint32_t off, uint32_t len)
{
	struct xtcfg *x = dev->priv;

	x->last_off = off;
	x->last_len = len;
	atomic_fetch_add(&x->config_writes, 1);
}

static const struct vdev_model xtcfg_model = {
	.name = "xtcfg",
	.device_id = XT_DEVICE_ID,
	.summary = "transport test device",
	.options = "failstart=on|off",
	.create = xtcfg_create,
	.destroy = xtcfg_destroy,
	.features_ok = xtcfg_features_ok,
	.start = xtcfg_start,
	.queue_kick = xtcfg_kick,
	.reset = xtcfg_reset,
	.config_write = xtcfg_config_write,
};

/* The same device with read-only config space. */
static const struct vdev_model xtro_model = {
	.name = "xtro",
	.device_id = XT_DEVICE_ID,
	.create = xtcfg_create,
	.destroy = xtcfg_destroy,
	.queue_kick = xtcfg_kick,
	.reset = xtcfg_reset,
};

static void close_drv(void *d)
{
	vdrv_close(d);
}

static struct vdrv *open_dev(const char *spec)
{
	char err[256];
	struct vdrv *d;

	vdev_model_register(&xtcfg_model);
	vdev_model_register(&xtro_model);
	d = vdrv_open(spec, NULL, err, sizeof(err));
	XT_ASSERT_MSG(d, "vdrv_open(%s): %s", spec, err);
	xt_defer(close_drv, d);
	return d;
}

static struct xtcfg *priv(struct vdrv *d)
{
	return d->dev->priv;
}

static uint64_t rd(struct vdrv *d, uint64_t off, unsigned int size)
{
	return vmmio_read(&d->mmio, off, size);
}

static void wr(struct vdrv *d, uint64_t off, unsigned int size, uint64_t v)
{
	vmmio_write(&d->mmio, off, size, v);
}

/* Reset, ACKNOWLEDGE, DRIVER. */
static void begin(struct vdrv *d)
{
	XT_ASSERT_MSG(vdrv_probe(d) > 0, "%s", d->err);
	XT_ASSERT_MSG(!vdrv_reset(d), "%s", d->err);
	vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER);
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

static struct vdrv *running(const char *spec)
{
	struct vdrv *d = open_dev(spec);

	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT | 3, 1, 0), "%s", d->err);
	return d;
}

/* ---- identification and features ---------------------------------------- */

static void mmio_identity(void)
{
	struct vdrv *d = open_dev("xtcfg");

	XT_EQ(rd(d, VIRTIO_MMIO_MAGIC_VALUE, 4), 0x74726976);
	XT_EQ(rd(d, VIRTIO_MMIO_VERSION, 4), 2);
	XT_EQ(rd(d, VIRTIO_MMIO_DEVICE_ID, 4), XT_DEVICE_ID);
	XT_EQ(rd(d, VIRTIO_MMIO_VENDOR_ID, 4), VMMIO_VENDOR);
	XT_EQ(rd(d, VIRTIO_MMIO_STATUS, 4), 0);
	XT_EQ(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4), 0);
	XT_EQ(vdrv_probe(d), XT_DEVICE_ID);
}

static void mmio_device_features(void)
{
	struct vdrv *d = open_dev("xtcfg");

	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 0);
	XT_EQ(rd(d, VIRTIO_MMIO_DEVICE_FEATURES, 4),
	      1u << 0 | 1u << 1 | 1u << VIRTIO_RING_F_INDIRECT_DESC |
	      1u << VIRTIO_RING_F_EVENT_IDX);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 1);
	XT_EQ(rd(d, VIRTIO_MMIO_DEVICE_FEATURES, 4),
	      1u << (VIRTIO_F_VERSION_1 - 32) | 1u << (33 - 32));
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 2);
	XT_EQ(rd(d, VIRTIO_MMIO_DEVICE_FEATURES, 4), 0);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 0xffffffff);
	XT_EQ(rd(d, VIRTIO_MMIO_DEVICE_FEATURES, 4), 0);
	XT_EQ(vdrv_read_device_features(d), d->dev->host_features);
}

static void mmio_driver_features_words(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 4, 3);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 4, 1);
	/* Words beyond 1 do not exist. */
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 2);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 4, 0xffffffff);
	XT_EQ(d->dev->driver_features, 3ull << 32 | 1);
}

/* ---- register classes ---------------------------------------------------- */

static const uint32_t write_only[] = {
	VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
	VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL,
	VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_NOTIFY,
	VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_SHM_SEL,
};

static const uint32_t reserved[] = {
	0x018, 0x01c, 0x028, 0x02c, 0x03c, 0x040, 0x048, 0x04c, 0x054, 0x058,
	0x05c, 0x068, 0x06c, 0x074, 0x078, 0x07c, 0x088, 0x08c, 0x098, 0x09c,
	0x0a8, 0x0c0, 0x0c4, 0x0d0, 0x0e0, 0x0f0, 0x0f8,
};

static void mmio_write_only_read_zero(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 4, 1);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 2);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 4, 16);
	for (size_t i = 0; i < XT_COUNT(write_only); i++)
		XT_ASSERT_MSG(rd(d, write_only[i], 4) == 0, "register 0x%03x",
			      write_only[i]);
	/* The reads changed nothing. */
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 16);
	XT_EQ(rd(d, VIRTIO_MMIO_DEVICE_FEATURES, 4), 3);
}

static void mmio_read_only_ignore_writes(void)
{
	static const uint32_t ro[] = {
		VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VERSION,
		VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_VENDOR_ID,
		VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_QUEUE_NUM_MAX,
		VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_CONFIG_GENERATION,
		VIRTIO_MMIO_SHM_LEN_LOW, VIRTIO_MMIO_SHM_BASE_HIGH,
	};
	struct vdrv *d = open_dev("xtcfg");
	uint32_t before[XT_COUNT(ro)];

	for (size_t i = 0; i < XT_COUNT(ro); i++)
		before[i] = rd(d, ro[i], 4);
	for (size_t i = 0; i < XT_COUNT(ro); i++)
		wr(d, ro[i], 4, 0xdeadbeef);
	for (size_t i = 0; i < XT_COUNT(ro); i++)
		XT_ASSERT_MSG(rd(d, ro[i], 4) == before[i], "register 0x%03x", ro[i]);
	XT_EQ(vdrv_status(d), 0);
}

static void mmio_reserved_registers(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	for (size_t i = 0; i < XT_COUNT(reserved); i++) {
		wr(d, reserved[i], 4, 0xffffffff);
		XT_ASSERT_MSG(rd(d, reserved[i], 4) == 0, "register 0x%03x", reserved[i]);
	}
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	XT_EQ(d->dev->driver_features, 0);
}

static void mmio_shared_memory_absent(void)
{
	struct vdrv *d = open_dev("xtcfg");

	for (uint32_t sel = 0; sel < 3; sel++) {
		wr(d, VIRTIO_MMIO_SHM_SEL, 4, sel);
		/* Length ~0: no such region (Linux vm_get_shm_region). */
		XT_EQ(rd(d, VIRTIO_MMIO_SHM_LEN_LOW, 4), 0xffffffff);
		XT_EQ(rd(d, VIRTIO_MMIO_SHM_LEN_HIGH, 4), 0xffffffff);
	}
}

/* ---- bad accesses ------------------------------------------------------- */

static void mmio_wrong_sizes(void)
{
	static const unsigned int sizes[] = { 0, 1, 2, 3, 5, 8, 16 };
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	for (size_t i = 0; i < XT_COUNT(sizes); i++) {
		unsigned int s = sizes[i];

		XT_ASSERT_MSG(rd(d, VIRTIO_MMIO_MAGIC_VALUE, s) == 0, "size %u", s);
		XT_ASSERT_MSG(rd(d, VIRTIO_MMIO_STATUS, s) == 0, "size %u", s);
		wr(d, VIRTIO_MMIO_STATUS, s, 0);	/* would reset */
		wr(d, VIRTIO_MMIO_QUEUE_SEL, s, 2);
	}
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 8);	/* still queue 0 */
}

static void mmio_misaligned(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	for (uint64_t off = 1; off < 4; off++) {
		XT_ASSERT_MSG(rd(d, VIRTIO_MMIO_MAGIC_VALUE + off, 4) == 0, "+%u", (unsigned)off);
		XT_ASSERT_MSG(rd(d, VIRTIO_MMIO_STATUS + off, 4) == 0, "+%u", (unsigned)off);
		wr(d, VIRTIO_MMIO_STATUS + off, 4, 0);
		wr(d, VIRTIO_MMIO_STATUS - off, 4, 0);
	}
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

static void mmio_out_of_window(void)
{
	static const uint64_t offs[] = {
		VMMIO_WINDOW, VMMIO_WINDOW + VIRTIO_MMIO_STATUS, 0x1000,
		0x100000070ull, UINT64_MAX - 3, UINT64_MAX,
	};
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	for (size_t i = 0; i < XT_COUNT(offs); i++) {
		XT_ASSERT_MSG(rd(d, offs[i], 4) == 0, "offset 0x%llx",
			      (unsigned long long)offs[i]);
		XT_ASSERT(rd(d, offs[i], 1) == 0);
		wr(d, offs[i], 4, 0);
		wr(d, offs[i], 1, 0);
	}
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	/* The last word of the window is config space: beyond 16 bytes, 0. */
	XT_EQ(rd(d, VMMIO_WINDOW - 4, 4), 0);
}

/* ---- queues -------------------------------------------------------------- */

static void mmio_queue_select(void)
{
	static const uint32_t num_max[] = { 8, 0, 16, 0 };
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	XT_ASSERT(!vdrv_negotiate(d, VDRV_F_DEFAULT));
	for (uint32_t q = 0; q < 4; q++) {
		wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, q);
		XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX, 4), num_max[q]);
		XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_READY, 4), 0);
	}
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 0xffffffff);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 0);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 4, 0x1000);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 4), 0);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 4, 1);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_READY, 4), 0);

	/* Each queue keeps its own addresses, 64 bits in two halves. */
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 0);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 4, 0x11111110);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 4, 0x1);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 4, 0x22222222);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 4, 0x2);
	wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, 4, 0x33333330);
	wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 4, 0x3);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 2);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 4), 0);
	wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 4, 0x9);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 0);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 4), 0x11111110);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 4), 0x1);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 4), 0x22222222);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 4), 0x2);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_USED_LOW, 4), 0x33333330);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 4), 0x3);
	XT_EQ(d->dev->queues[2].device, 0x9ull << 32);
}

static void mmio_queue_locked_while_ready(void)
{
	struct vdrv *d = running("xtcfg");
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 0);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_READY, 4), 1);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 4, 4);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 4, 0x1000);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 4, 0x1);
	wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, 4, 0x1000);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 4), (uint32_t)vq->desc_gpa);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 4), vq->avail_gpa >> 32);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_USED_LOW, 4), (uint32_t)vq->used_gpa);
	XT_EQ(d->dev->queues[0].num, 8);
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* Before DRIVER_OK a queue may be enabled, disabled and changed again. */
static void mmio_queue_ready_toggle(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	XT_ASSERT(!vdrv_negotiate(d, VDRV_F_DEFAULT));
	XT_ASSERT_MSG(!vdrv_setup_queue(d, 0, 0), "%s", d->err);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 4, 0);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_READY, 4), 0);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, 4, 4);
	XT_EQ(d->dev->queues[0].num, 4);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 4, 1);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_READY, 4), 1);
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	XT_ASSERT_MSG(!vdrv_driver_ok(d), "%s", d->err);
}

/* Without VIRTIO_F_RING_RESET a running queue cannot be stopped alone. */
static void mmio_queue_disable_while_running(void)
{
	struct vdrv *d = running("xtcfg");

	vdrv_irq_clear(d);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 0);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 4, 0);
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_CONFIG, WAIT_MS), "%s", d->err);
	XT_ASSERT(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_READY, 4), 0);
	XT_ASSERT(atomic_load(&priv(d)->resets) >= 1);
}

/*
 * A device that already needs a reset still has the work the driver gave it
 * before: disabling a queue quiesces the model all the same, or a late
 * completion would land in the ring the guest installs next.
 */
static void mmio_queue_disable_after_failure_quiesces(void)
{
	struct vdrv *d = running("xtcfg");
	unsigned int resets;

	vdev_lock(d->dev);
	vdev_fail(d->dev, "a failure while queue 0 runs");
	vdev_unlock(d->dev);
	XT_ASSERT(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	resets = atomic_load(&priv(d)->resets);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 0);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 4, 0);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_READY, 4), 0);
	XT_EQ(atomic_load(&priv(d)->resets), resets + 1);
}

/* Lines in the file behind fd; *last gets the last one. */
static unsigned int count_lines(int fd, char *last, size_t len)
{
	char buf[4096], line[512];
	size_t n = 0;
	unsigned int lines = 0;
	ssize_t got;

	XT_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] != '\n') {
				if (n < sizeof(line) - 1)
					line[n++] = buf[i];
				continue;
			}
			line[n] = 0;
			snprintf(last, len, "%s", line);
			n = 0;
			lines++;
		}
	}
	return lines;
}

/*
 * A driver looping on reset / QueueReady-before-FEATURES_OK makes the
 * device fail 20000 times: the log gets the limit's ten lines, and the
 * next line let through counts every one held back.
 */
#define FAIL_LOOPS 20000
static void mmio_fail_loop_log_limited(void)
{
	struct vdrv *d;
	char last[512] = "";
	unsigned int lines;
	unsigned long missed = 0;
	const char *p;
	int fd = memfd_create("xt-log", 0);

	XT_ASSERT(fd >= 0);
	/* A window no loop outlasts: the count below is exact. */
	vlog_set_limit(600000, 10);
	d = open_dev("xtcfg");
	vlog_use_fd(fd);
	for (unsigned int i = 0; i < FAIL_LOOPS; i++) {
		wr(d, VIRTIO_MMIO_STATUS, 4, 0);
		wr(d, VIRTIO_MMIO_STATUS, 4, VIRTIO_CONFIG_S_ACKNOWLEDGE);
		wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 0);
		wr(d, VIRTIO_MMIO_QUEUE_NUM, 4, 8);
		wr(d, VIRTIO_MMIO_QUEUE_READY, 4, 1);
		XT_ASSERT(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	}
	lines = count_lines(fd, last, sizeof(last));
	XT_EQ(lines, 10);
	/* A new window: the next failure reports the ones held back. */
	d->dev->guest_log.interval_ms = 1;
	vdrv_msleep(5);
	wr(d, VIRTIO_MMIO_STATUS, 4, 0);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 4, 1);
	XT_EQ(count_lines(fd, last, sizeof(last)), 11);
	p = strstr(last, "(");
	XT_ASSERT_MSG(p && sscanf(p, "(%lu lines suppressed before this one)", &missed) == 1,
		      "last line: %s", last);
	XT_EQ(missed + lines, FAIL_LOOPS);
	vlog_use_fd(2);
	close(fd);
}

static void wait_kicks(struct xtcfg *x, unsigned int n)
{
	for (int i = 0; i < WAIT_MS && atomic_load(&x->kicks) < n; i++)
		vdrv_msleep(1);
	vdrv_msleep(10);
	XT_EQ(atomic_load(&x->kicks), n);
}

static void mmio_notify(void)
{
	struct vdrv *d = open_dev("xtcfg");
	struct xtcfg *x = priv(d);

	/* Before anything is set up, and for queues that do not exist. */
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 1);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 3);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0xffffffff);
	vdrv_msleep(QUIET_MS);
	XT_EQ(atomic_load(&x->kicks), 0);
	XT_ASSERT(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0));
	/* DRIVER_OK kicks ready queues once. */
	wait_kicks(x, 1);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 2);	/* exists, not ready */
	vdrv_msleep(QUIET_MS);
	XT_EQ(atomic_load(&x->kicks), 1);
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
	wait_kicks(x, 2);
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* ---- status --------------------------------------------------------------- */

static void mmio_status_bits_not_cleared(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	wr(d, VIRTIO_MMIO_STATUS, 4, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(d, VIRTIO_MMIO_STATUS, 4, VIRTIO_CONFIG_S_FAILED);
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	      VIRTIO_CONFIG_S_FAILED);
}

/* DEVICE_NEEDS_RESET is the device's to set; a driver's write-back of it
 * neither sets nor clears it. */
static void mmio_status_needs_reset_is_device_owned(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	vdrv_add_status(d, VIRTIO_CONFIG_S_NEEDS_RESET);
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vdev_lock(d->dev);
	vdev_fail(d->dev, "test");
	vdev_unlock(d->dev);
	wr(d, VIRTIO_MMIO_STATUS, 4, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	XT_ASSERT(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void mmio_status_high_bits(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 2);
	/* Bits above 7 do not exist: this is a write of 0, a reset. */
	wr(d, VIRTIO_MMIO_STATUS, 4, 0x100);
	XT_EQ(vdrv_status(d), 0);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 8);	/* selectors reset too */
	wr(d, VIRTIO_MMIO_STATUS, 4, 0x101);
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE);
}

static void features_refused_case(uint64_t f, const char *why)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	vdrv_write_driver_features(d, f);
	vdrv_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	XT_ASSERT_MSG(xt_stderr_has(why), "the log does not say \"%s\"", why);
	/* The driver may try again with a set the device accepts. */
	XT_ASSERT_MSG(!vdrv_negotiate(d, VDRV_F_DEFAULT | 1), "%s", d->err);
	XT_ASSERT(vdrv_status(d) & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void mmio_features_ok_not_offered(void)
{
	features_refused_case(VDRV_F(VIRTIO_F_VERSION_1) | VDRV_F(40), "not offered");
}

static void mmio_features_ok_not_offered_low(void)
{
	features_refused_case(VDRV_F(VIRTIO_F_VERSION_1) | VDRV_F(5), "not offered");
}

static void mmio_features_ok_without_version_1(void)
{
	features_refused_case(VDRV_F(VIRTIO_RING_F_EVENT_IDX) | 1,
			      "did not accept VIRTIO_F_VERSION_1");
}

static void mmio_features_ok_model_veto(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	vdrv_write_driver_features(d, VDRV_F(VIRTIO_F_VERSION_1) | 2);
	vdrv_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	XT_ASSERT(!vdrv_negotiate(d, VDRV_F(VIRTIO_F_VERSION_1) | 3));
}

static void mmio_features_locked_after_ok(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	XT_ASSERT(!vdrv_negotiate(d, VDRV_F(VIRTIO_F_VERSION_1)));
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 4, 3);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 4, 0);
	XT_EQ(d->dev->driver_features, VDRV_F(VIRTIO_F_VERSION_1));
}

static void mmio_driver_ok_without_features_ok(void)
{
	struct vdrv *d = open_dev("xtcfg");

	begin(d);
	vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
	XT_EQ(vdrv_status(d), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

static void mmio_start_failure(void)
{
	struct vdrv *d = open_dev("xtcfg,failstart=on");

	XT_ASSERT(vdrv_init(d, VDRV_F_DEFAULT, 1, 0) < 0);
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_CONFIG, WAIT_MS), "%s", d->err);
	XT_ASSERT(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	XT_ASSERT(xt_stderr_has("device start failed"));
}

/* ---- reset ------------------------------------------------------------------ */

static void mmio_reset_clears(void)
{
	struct vdrv *d = open_dev("xtcfg");
	unsigned int resets;

	begin(d);
	XT_ASSERT_MSG(!vdrv_negotiate(d, VDRV_F_DEFAULT | 3), "%s", d->err);
	XT_ASSERT_MSG(!vdrv_setup_queue(d, 0, 0), "%s", d->err);
	XT_ASSERT_MSG(!vdrv_setup_queue(d, 2, 0), "%s", d->err);
	XT_ASSERT_MSG(!vdrv_driver_ok(d), "%s", d->err);
	vdev_lock(d->dev);
	vdev_config_changed(d->dev);
	vdev_fail(d->dev, "test");
	vdev_unlock(d->dev);
	XT_EQ(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4), VIRTIO_MMIO_INT_CONFIG);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 1);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, 2);
	resets = atomic_load(&priv(d)->resets);

	wr(d, VIRTIO_MMIO_STATUS, 4, 0);
	XT_EQ(vdrv_status(d), 0);
	XT_EQ(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4), 0);
	XT_EQ(d->dev->driver_features, 0);
	XT_ASSERT(atomic_load(&priv(d)->resets) > resets);
	/* Selectors are back at 0. */
	XT_EQ(rd(d, VIRTIO_MMIO_DEVICE_FEATURES, 4), (uint32_t)d->dev->host_features);
	XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX, 4), 8);
	for (uint32_t q = 0; q < 3; q++) {
		wr(d, VIRTIO_MMIO_QUEUE_SEL, 4, q);
		XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_READY, 4), 0);
		XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 4), 0);
		XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 4), 0);
		XT_EQ(rd(d, VIRTIO_MMIO_QUEUE_USED_LOW, 4), 0);
		XT_EQ(d->dev->queues[q].num, 0);
	}
	/* And the device works again from scratch. */
	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "%s", d->err);
}

/* ---- interrupts ----------------------------------------------------------- */

static void mmio_interrupt_ack(void)
{
	struct vdrv *d = open_dev("rng");
	struct vdrv_vq *vq;
	struct vdrv_seg seg = { .len = 8, .writable = true };

	XT_ASSERT(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0));
	vq = vdrv_vq(d, 0);
	XT_ASSERT(vdrv_post(vq, &seg, 1, false, NULL) >= 0);
	vdrv_kick(vq);
	XT_ASSERT(!vdrv_wait_used(vq, 1, WAIT_MS));
	/* The line is raised after the status bit is set: wait for both. */
	for (int i = 0; i < WAIT_MS && !vdrv_irqs_pending(d); i++)
		vdrv_msleep(1);
	vdev_lock(d->dev);
	vdev_config_changed(d->dev);
	vdev_unlock(d->dev);
	XT_EQ(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4),
	      VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	wr(d, VIRTIO_MMIO_INTERRUPT_ACK, 4, VIRTIO_MMIO_INT_VRING);
	XT_EQ(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4), VIRTIO_MMIO_INT_CONFIG);
	wr(d, VIRTIO_MMIO_INTERRUPT_ACK, 4, 0xfffffffc);
	XT_EQ(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4), VIRTIO_MMIO_INT_CONFIG);
	wr(d, VIRTIO_MMIO_INTERRUPT_ACK, 4, VIRTIO_MMIO_INT_CONFIG);
	XT_EQ(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4), 0);
	/* The interrupt line was raised for both causes. */
	XT_ASSERT(vdrv_irqs_pending(d) >= 2);
}

/* ---- config space ------------------------------------------------------- */

static void mmio_config_generation(void)
{
	struct vdrv *d = open_dev("xtcfg");
	uint32_t gen = rd(d, VIRTIO_MMIO_CONFIG_GENERATION, 4);

	/* Before DRIVER_OK: a new generation, no interrupt. */
	vdev_lock(d->dev);
	vdev_config_changed(d->dev);
	vdev_unlock(d->dev);
	XT_EQ(rd(d, VIRTIO_MMIO_CONFIG_GENERATION, 4), gen + 1);
	XT_EQ(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4), 0);
	XT_EQ(vdrv_irqs_pending(d), 0);

	XT_ASSERT(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0));
	vdrv_irq_clear(d);
	vdev_lock(d->dev);
	vdev_config_changed(d->dev);
	vdev_unlock(d->dev);
	XT_EQ(rd(d, VIRTIO_MMIO_CONFIG_GENERATION, 4), gen + 2);
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_CONFIG, WAIT_MS), "%s", d->err);
	/* Reading config does not change the generation. */
	XT_EQ(vdrv_config_get(d, 0, 4), 0x13121110);
	XT_EQ(rd(d, VIRTIO_MMIO_CONFIG_GENERATION, 4), gen + 2);
}

static void mmio_config_read(void)
{
	struct vdrv *d = open_dev("xtcfg");
	uint8_t buf[16];

	XT_EQ(rd(d, CFG + 3, 1), 0x13);
	XT_EQ(rd(d, CFG + 15, 1), 0x1f);
	XT_EQ(rd(d, CFG + 2, 2), 0x1312);
	XT_EQ(rd(d, CFG + 14, 2), 0x1f1e);
	XT_EQ(rd(d, CFG + 4, 4), 0x17161514);
	XT_EQ(rd(d, CFG + 12, 4), 0x1f1e1d1c);
	XT_EQ(rd(d, CFG + 8, 8), 0x1f1e1d1c1b1a1918ull);
	XT_EQ(rd(d, CFG + 0, 8), 0x1716151413121110ull);
	XT_EQ(vdrv_config_get(d, 8, 8), 0x1f1e1d1c1b1a1918ull);
	vdrv_config_read(d, 0, buf, sizeof(buf));
	for (int i = 0; i < 16; i++)
		XT_EQ(buf[i], 0x10 + i);
}

static void mmio_config_read_bad(void)
{
	struct vdrv *d = open_dev("xtcfg");

	/* Misaligned. */
	XT_EQ(rd(d, CFG + 1, 2), 0);
	XT_EQ(rd(d, CFG + 2, 4), 0);
	XT_EQ(rd(d, CFG + 4, 8), 0);
	/* Odd sizes. */
	XT_EQ(rd(d, CFG + 0, 3), 0);
	XT_EQ(rd(d, CFG + 0, 0), 0);
	XT_EQ(rd(d, CFG + 0, 16), 0);
	/* Past the 16 bytes, partly or wholly. */
	XT_EQ(rd(d, CFG + 16, 1), 0);
	XT_EQ(rd(d, CFG + 16, 4), 0);
	XT_EQ(rd(d, CFG + 8, 16), 0);
	XT_EQ(rd(d, CFG + 0xfc, 4), 0);
	XT_EQ(rd(d, CFG + 0xff, 1), 0);
}

static void mmio_config_write(void)
{
	struct vdrv *d = open_dev("xtcfg");
	struct xtcfg *x = priv(d);

	wr(d, CFG + 5, 1, 0xaa);
	XT_EQ(atomic_load(&x->config_writes), 1);
	XT_EQ(x->last_off, 5);
	XT_EQ(x->last_len, 1);
	XT_EQ(rd(d, CFG + 4, 4), 0x1716aa14);
	wr(d, CFG + 14, 2, 0xbeef);
	XT_EQ(rd(d, CFG + 12, 4), 0xbeef1d1c);
	wr(d, CFG + 0, 4, 0x01020304);
	XT_EQ(rd(d, CFG + 0, 4), 0x01020304);
	wr(d, CFG + 8, 8, 0x0807060504030201ull);
	XT_EQ(rd(d, CFG + 8, 8), 0x0807060504030201ull);
	XT_EQ(x->last_off, 8);
	XT_EQ(x->last_len, 8);
	XT_EQ(atomic_load(&x->config_writes), 4);
	/* Misaligned or out of range: ignored, model not told. */
	wr(d, CFG + 14, 4, 0);
	wr(d, CFG + 16, 1, 0xff);
	wr(d, CFG + 12, 8, 0);
	wr(d, CFG + 3, 2, 0);
	wr(d, CFG + 0x80, 4, 0);
	XT_EQ(atomic_load(&x->config_writes), 4);
	XT_EQ(rd(d, CFG + 12, 4), 0x08070605);
	XT_EQ(rd(d, CFG + 0, 4), 0x01020304);
	/* Writes do not bump the generation: the driver changed it. */
	XT_EQ(rd(d, VIRTIO_MMIO_CONFIG_GENERATION, 4), 0);
}

static void mmio_config_read_only(void)
{
	struct vdrv *d = open_dev("xtro");

	wr(d, CFG + 0, 4, 0);
	wr(d, CFG + 5, 1, 0);
	XT_EQ(rd(d, CFG + 0, 4), 0x13121110);
	XT_EQ(rd(d, CFG + 4, 4), 0x17161514);
	XT_EQ(atomic_load(&priv(d)->config_writes), 0);
}

static void mmio_config_none(void)
{
	struct vdrv *d = open_dev("rng");

	XT_EQ(rd(d, CFG, 1), 0);
	XT_EQ(rd(d, CFG, 4), 0);
	wr(d, CFG, 4, 0xffffffff);
	XT_EQ(rd(d, CFG, 4), 0);
	XT_EQ(rd(d, VIRTIO_MMIO_DEVICE_ID, 4), VIRTIO_ID_RNG);
}

static const struct xt_case cases[] = {
	XT_CASE(mmio_identity),
	XT_CASE(mmio_device_features),
	XT_CASE(mmio_driver_features_words),
	XT_CASE(mmio_write_only_read_zero),
	XT_CASE(mmio_read_only_ignore_writes),
	XT_CASE(mmio_reserved_registers),
	XT_CASE(mmio_shared_memory_absent),
	XT_CASE(mmio_wrong_sizes),
	XT_CASE(mmio_misaligned),
	XT_CASE(mmio_out_of_window),
	XT_CASE(mmio_queue_select),
	XT_CASE(mmio_queue_locked_while_ready),
	XT_CASE(mmio_queue_ready_toggle),
	XT_CASE(mmio_queue_disable_while_running),
	XT_CASE(mmio_queue_disable_after_failure_quiesces),
	XT_CASE(mmio_fail_loop_log_limited),
	XT_CASE(mmio_notify),
	XT_CASE(mmio_status_bits_not_cleared),
	XT_CASE(mmio_status_needs_reset_is_device_owned),
	XT_CASE(mmio_status_high_bits),
	XT_CASE(mmio_features_ok_not_offered),
	XT_CASE(mmio_features_ok_not_offered_low),
	XT_CASE(mmio_features_ok_without_version_1),
	XT_CASE(mmio_features_ok_model_veto),
	XT_CASE(mmio_features_locked_after_ok),
	XT_CASE(mmio_driver_ok_without_features_ok),
	XT_CASE(mmio_start_failure),
	XT_CASE(mmio_reset_clears),
	XT_CASE(mmio_interrupt_ack),
	XT_CASE(mmio_config_generation),
	XT_CASE(mmio_config_read),
	XT_CASE(mmio_config_read_bad),
	XT_CASE(mmio_config_write),
	XT_CASE(mmio_config_read_only),
	XT_CASE(mmio_config_none),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
