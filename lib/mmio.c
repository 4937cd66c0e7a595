// SPDX-License-Identifier: MIT
/*
 * virtio-mmio version 2 register file. Legacy (version 1) would add
 * GuestPageSize/QueueAlign/QueuePFN and a pre-1.0 feature path; the register
 * switch keeps those offsets reserved so it can be added without reshaping.
 */
#include <inttypes.h>

#include "log.h"
#include "mmio.h"

void vmmio_init(struct vmmio *m, struct vdev *dev)
{
	m->dev = dev;
	m->dev_features_sel = 0;
	m->drv_features_sel = 0;
	m->queue_sel = 0;
	for (unsigned int i = 0; i < VMMIO_STAT_SLOTS; i++) {
		atomic_init(&m->reads[i], 0);
		atomic_init(&m->writes[i], 0);
	}
}

const char *vmmio_reg_name(unsigned int slot)
{
	static const struct { uint32_t off; const char *name; } regs[] = {
		{ VIRTIO_MMIO_MAGIC_VALUE, "MagicValue" },
		{ VIRTIO_MMIO_VERSION, "Version" },
		{ VIRTIO_MMIO_DEVICE_ID, "DeviceID" },
		{ VIRTIO_MMIO_VENDOR_ID, "VendorID" },
		{ VIRTIO_MMIO_DEVICE_FEATURES, "DeviceFeatures" },
		{ VIRTIO_MMIO_DEVICE_FEATURES_SEL, "DeviceFeaturesSel" },
		{ VIRTIO_MMIO_DRIVER_FEATURES, "DriverFeatures" },
		{ VIRTIO_MMIO_DRIVER_FEATURES_SEL, "DriverFeaturesSel" },
		{ VIRTIO_MMIO_QUEUE_SEL, "QueueSel" },
		{ VIRTIO_MMIO_QUEUE_NUM_MAX, "QueueNumMax" },
		{ VIRTIO_MMIO_QUEUE_NUM, "QueueNum" },
		{ VIRTIO_MMIO_QUEUE_READY, "QueueReady" },
		{ VIRTIO_MMIO_QUEUE_NOTIFY, "QueueNotify" },
		{ VIRTIO_MMIO_INTERRUPT_STATUS, "InterruptStatus" },
		{ VIRTIO_MMIO_INTERRUPT_ACK, "InterruptACK" },
		{ VIRTIO_MMIO_STATUS, "Status" },
		{ VIRTIO_MMIO_QUEUE_DESC_LOW, "QueueDescLow" },
		{ VIRTIO_MMIO_QUEUE_DESC_HIGH, "QueueDescHigh" },
		{ VIRTIO_MMIO_QUEUE_AVAIL_LOW, "QueueDriverLow" },
		{ VIRTIO_MMIO_QUEUE_AVAIL_HIGH, "QueueDriverHigh" },
		{ VIRTIO_MMIO_QUEUE_USED_LOW, "QueueDeviceLow" },
		{ VIRTIO_MMIO_QUEUE_USED_HIGH, "QueueDeviceHigh" },
		{ VIRTIO_MMIO_SHM_SEL, "SHMSel" },
		{ VIRTIO_MMIO_SHM_LEN_LOW, "SHMLenLow" },
		{ VIRTIO_MMIO_SHM_LEN_HIGH, "SHMLenHigh" },
		{ VIRTIO_MMIO_SHM_BASE_LOW, "SHMBaseLow" },
		{ VIRTIO_MMIO_SHM_BASE_HIGH, "SHMBaseHigh" },
		{ VIRTIO_MMIO_CONFIG_GENERATION, "ConfigGeneration" },
	};

	if (slot == VMMIO_STAT_CONFIG)
		return "Config";
	for (unsigned int i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (regs[i].off / 4 == slot)
			return regs[i].name;
	return NULL;
}

static void count_access(_Atomic uint64_t *slots, uint64_t off)
{
	unsigned int i = off < 0x100 ? off / 4 : VMMIO_STAT_CONFIG;

	atomic_fetch_add_explicit(&slots[i], 1, memory_order_relaxed);
}

static bool size_ok(struct vmmio *m, uint64_t off, unsigned int size,
		    const char *what)
{
	bool ok;

	if (off >= VIRTIO_MMIO_CONFIG)
		ok = (size == 1 || size == 2 || size == 4 || size == 8) &&
		     !(off & (size - 1));
	else
		ok = size == 4 && !(off & 3);
	if (!ok)
		vdev_guest_error(m->dev, "%s of %u bytes at offset 0x%" PRIx64 " (%s)",
				 what, size, off, off >= VIRTIO_MMIO_CONFIG ?
				 "config space takes aligned 1, 2, 4 or 8-byte accesses" :
				 "control registers take aligned 32-bit accesses");
	return ok;
}

static struct vdev_queue *sel_queue(struct vmmio *m)
{
	struct vdev *dev = m->dev;

	if (m->queue_sel >= dev->num_queues || !dev->queues[m->queue_sel].num_max)
		return NULL;
	return &dev->queues[m->queue_sel];
}

static uint32_t read_queue_reg(struct vmmio *m, uint64_t off)
{
	struct vdev_queue *qs = sel_queue(m);

	if (!qs)
		return 0;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return qs->num_max;
	case VIRTIO_MMIO_QUEUE_READY:
		return atomic_load(&qs->ready);
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return qs->desc;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return qs->desc >> 32;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return qs->driver;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return qs->driver >> 32;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return qs->device;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return qs->device >> 32;
	}
	return 0;
}

static uint32_t read_locked(struct vmmio *m, uint64_t off)
{
	struct vdev *dev = m->dev;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VMMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VMMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->model->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VMMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return vdev_host_features_word(dev, m->dev_features_sel);
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return dev->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffff;	/* no shared memory regions */
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return read_queue_reg(m, off);
	}
	vdev_guest_error(dev, "read of write-only or reserved register 0x%" PRIx64, off);
	return 0;
}

uint64_t vmmio_read(struct vmmio *m, uint64_t off, unsigned int size)
{
	struct vdev *dev = m->dev;
	uint64_t v;

	if (off >= VMMIO_WINDOW) {
		vdev_guest_error(dev, "read at 0x%" PRIx64 " outside the window", off);
		return 0;
	}
	count_access(m->reads, off);
	if (!size_ok(m, off, size, "read"))
		return 0;
	if (off == VIRTIO_MMIO_INTERRUPT_STATUS)
		return vdev_isr_read(dev);
	vdev_lock(dev);
	if (off >= VIRTIO_MMIO_CONFIG)
		v = vdev_config_read(dev, off - VIRTIO_MMIO_CONFIG, size);
	else
		v = read_locked(m, off);
	vdev_unlock(dev);
	return v;
}

static void set_half(uint64_t *reg, bool high, uint32_t v)
{
	if (high)
		*reg = (*reg & 0xffffffffull) | (uint64_t)v << 32;
	else
		*reg = (*reg & ~0xffffffffull) | v;
}

static void write_queue_reg(struct vmmio *m, uint64_t off, uint32_t v)
{
	struct vdev *dev = m->dev;
	struct vdev_queue *qs = sel_queue(m);

	if (!qs) {
		vdev_guest_error(dev, "write to registers of missing queue %u", m->queue_sel);
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		if (v)
			vdev_queue_enable(dev, m->queue_sel);
		else
			vdev_queue_disable(dev, m->queue_sel);
		return;
	}
	if (!vdev_queue_writable(dev, m->queue_sel)) {
		vdev_guest_error(dev, "queue %u register 0x%" PRIx64 " written while ready",
				 m->queue_sel, off);
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		qs->num = v > 0xffff ? 0 : v;	/* checked when enabled */
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&qs->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_half(&qs->driver, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_half(&qs->device, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	}
}

static void write_locked(struct vmmio *m, uint64_t off, uint32_t v)
{
	struct vdev *dev = m->dev;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = v;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		vdev_set_driver_features_word(dev, m->drv_features_sel, v);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->drv_features_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = v;
		return;
	case VIRTIO_MMIO_STATUS:
		if (v > 0xff)
			vdev_guest_error(dev, "status 0x%x has bits above 7", v);
		vdev_set_status(dev, v & 0xff);
		if (!(v & 0xff))	/* a reset: selectors too */
			vmmio_init(m, dev);
		return;
	case VIRTIO_MMIO_SHM_SEL:
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		write_queue_reg(m, off, v);
		return;
	}
	vdev_guest_error(dev, "write of read-only or reserved register 0x%" PRIx64, off);
}

void vmmio_write(struct vmmio *m, uint64_t off, unsigned int size,
		 uint64_t val)
{
	struct vdev *dev = m->dev;

	if (off >= VMMIO_WINDOW) {
		vdev_guest_error(dev, "write at 0x%" PRIx64 " outside the window", off);
		return;
	}
	count_access(m->writes, off);
	if (!size_ok(m, off, size, "write"))
		return;
	/* The hot paths: no lock, so a kick never waits for device work. */
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		vdev_kick(dev, (uint32_t)val);
		return;
	}
	if (off == VIRTIO_MMIO_INTERRUPT_ACK) {
		vdev_isr_ack(dev, (uint32_t)val);
		return;
	}
	vdev_lock(dev);
	if (off >= VIRTIO_MMIO_CONFIG)
		vdev_config_write(dev, off - VIRTIO_MMIO_CONFIG, size, val);
	else
		write_locked(m, off, (uint32_t)val);
	vdev_unlock(dev);
}
