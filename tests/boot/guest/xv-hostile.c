// SPDX-License-Identifier: MIT
/*
 * xv-hostile: a hostile virtio driver in a guest's user space, for the boot
 * lab. It drives a virtio-mmio device whose kernel driver was unbound:
 * registers through /dev/mem, rings in its own locked pages (their guest
 * physical addresses from /proc/self/pagemap). It sets the device up as a
 * correct driver would, then posts one device-writable descriptor of LEN
 * bytes at a valid RAM address (LEN far past the end of RAM), notifies,
 * and reports the device status it sees afterwards.
 *
 * usage: xv-hostile BASE LEN    (numbers in C notation)
 * prints: "status=0x.. needs-reset=0|1 used-idx=N desc=0x..+LEN"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#define PAGE 4096u
#define QSIZE 8u

static volatile uint32_t *regs;

static uint32_t rd(unsigned int off)
{
	return regs[off / 4];
}

static void wr(unsigned int off, uint32_t v)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	regs[off / 4] = v;
}

static void wr64(unsigned int lo, uint64_t v)
{
	wr(lo, (uint32_t)v);
	wr(lo + 4, (uint32_t)(v >> 32));
}

/* Guest physical address of a locked page of ours. */
static uint64_t phys(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, &e, 8, (uintptr_t)p / PAGE * 8) != 8) {
		perror("pagemap");
		exit(1);
	}
	close(fd);
	if (!(e >> 63) || !(e & ((1ull << 55) - 1))) {
		fprintf(stderr, "page not present or PFN hidden\n");
		exit(1);
	}
	return (e & ((1ull << 55) - 1)) * PAGE + (uintptr_t)p % PAGE;
}

int main(int argc, char **argv)
{
	uint64_t base, len, d, a, u;
	struct vring_desc *desc;
	struct vring_avail *avail;
	uint8_t *mem;
	uint32_t st;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: xv-hostile BASE LEN\n");
		return 2;
	}
	base = strtoull(argv[1], NULL, 0);
	len = strtoull(argv[2], NULL, 0);
	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0) {
		perror("/dev/mem");
		return 1;
	}
	regs = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, base);
	if (regs == MAP_FAILED) {
		perror("mmap registers");
		return 1;
	}
	if (rd(VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976 || rd(VIRTIO_MMIO_VERSION) != 2) {
		fprintf(stderr, "no virtio-mmio 2 device at 0x%llx\n",
			(unsigned long long)base);
		return 1;
	}
	if (posix_memalign((void **)&mem, PAGE, 3 * PAGE) || mlock(mem, 3 * PAGE)) {
		perror("ring memory");
		return 1;
	}
	memset(mem, 0, 3 * PAGE);
	desc = (void *)mem;
	avail = (void *)(mem + PAGE);
	d = phys(mem);
	a = phys(mem + PAGE);
	u = phys(mem + 2 * PAGE);

	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);	/* VERSION_1 */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	wr(VIRTIO_MMIO_STATUS, 0xb);
	if (!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		fprintf(stderr, "FEATURES_OK refused\n");
		return 1;
	}
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr64(VIRTIO_MMIO_QUEUE_DESC_LOW, d);
	wr64(VIRTIO_MMIO_QUEUE_AVAIL_LOW, a);
	wr64(VIRTIO_MMIO_QUEUE_USED_LOW, u);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, 0xf);

	/* One writable buffer at a real RAM address, LEN bytes long. */
	desc[0].addr = u;
	desc[0].len = (uint32_t)len;
	desc[0].flags = VRING_DESC_F_WRITE;
	avail->ring[0] = 0;
	__atomic_store_n(&avail->idx, 1, __ATOMIC_RELEASE);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);

	for (int i = 0; i < 50; i++) {
		st = rd(VIRTIO_MMIO_STATUS);
		if (st & VIRTIO_CONFIG_S_NEEDS_RESET)
			break;
		usleep(100000);
	}
	printf("status=0x%x needs-reset=%d used-idx=%u desc=0x%llx+0x%llx\n",
	       st, !!(st & VIRTIO_CONFIG_S_NEEDS_RESET),
	       __atomic_load_n((uint16_t *)(mem + 2 * PAGE + 2), __ATOMIC_ACQUIRE),
	       (unsigned long long)u, (unsigned long long)len);
	return 0;
}
