// SPDX-License-Identifier: MIT
/*
 * Fuzz the split virtqueue (lib/virtq.c): the input is the guest's side of
 * a queue, the descriptor table, the available ring and indirect tables,
 * plus the queue's indices and layout and a list of ring writes the
 * "guest" makes while the device works. The device pops and pushes until
 * the queue is empty or broken.
 *
 * Besides the sanitizers the harness checks what the contract promises:
 * every iovec lies inside guest RAM and the element's byte counts add up.
 *
 * Input layout (missing bytes read as zero):
 *	 0	queue size: 1 << (b % 9)
 *	 1	flags: 1 EVENT_IDX, 2 INDIRECT_DESC, 4 tame addresses,
 *		8 chunked RAM, 16 move the rings, 32 tame lengths,
 *		64 unpop now and then
 *	 2	chunk size: 64 << (b & 7)
 *	 3	seed for the device's choices
 *	 4-5	device's starting avail/used index (wrap-around)
 *	 6-7	avail->idx
 *	 8-13	ring displacements (desc, avail, used), when flag 16
 *	14-15	avail->flags, used_event
 *	16-	descriptor table (16 * size), avail ring (2 * size),
 *		indirect area (1 KiB), then 4-byte ring writes
 */
#include <endian.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "gmem.h"
#include "virtq.h"

#define RAM_BASE 0x10000ull
#define RAM_SIZE 0x8000u
#define DESC_OFF 0x0000u
#define AVAIL_OFF 0x1000u
#define USED_OFF 0x1800u
#define INDIRECT_OFF 0x2800u
#define INDIRECT_LEN 0x400u
#define DATA_OFF 0x3000u

#define F_EVENT_IDX 1
#define F_INDIRECT 2
#define F_TAME_ADDR 4
#define F_CHUNKED 8
#define F_MOVE_RINGS 16
#define F_TAME_LEN 32
#define F_UNPOP 64

struct input {
	const uint8_t *p;
	size_t left;
};

/* Copy up to n bytes of input to dst; the rest of dst becomes zero. */
static void take(struct input *in, void *dst, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	in->p += k;
	in->left -= k;
}

static uint16_t get16(const uint8_t *h, int i)
{
	return h[i] | h[i + 1] << 8;
}

/* Keep descriptors mostly inside RAM so chains get walked, not refused. */
static void tame(struct vring_desc *d, unsigned int n, uint8_t flags)
{
	for (unsigned int i = 0; i < n; i++) {
		if (flags & F_TAME_ADDR)
			d[i].addr = htole64(RAM_BASE + le64toh(d[i].addr) % (RAM_SIZE + 64));
		if (flags & F_TAME_LEN)
			d[i].len = htole32(le32toh(d[i].len) % 0x1000);
	}
}

static void check_elem(const struct virtq *vq, const struct virtq_elem *e,
		       const uint8_t *ram)
{
	uint64_t out = 0, in = 0;

	if (e->out_num + e->in_num > e->iov_cap || e->head >= vq->size)
		abort();
	for (unsigned int i = 0; i < e->out_num + e->in_num; i++) {
		const uint8_t *b = e->iov[i].iov_base;
		size_t l = e->iov[i].iov_len;

		if (!l || b < ram || b + l > ram + RAM_SIZE)
			abort();
		if (i < e->out_num)
			out += l;
		else
			in += l;
	}
	if (out != e->out_len || in != e->in_len)
		abort();
}

/* The guest changes a ring word between two device steps. */
static void guest_write(struct input *in, uint8_t *ram)
{
	uint8_t w[4];
	uint16_t off;

	if (in->left < 4)
		return;
	take(in, w, 4);
	off = get16(w, 0) % (RAM_SIZE - 1);
	ram[off] = w[2];
	ram[off + 1] = w[3];
}

static uint32_t next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static void run_queue(struct virtq *vq, struct input *in, uint8_t *ram,
		      uint8_t flags, uint32_t seed)
{
	struct virtq_elem *e = virtq_elem_new(vq);
	unsigned int steps = 4u * vq->size + 16;
	bool unpopped = false;
	uint8_t buf[64];

	if (!e)
		return;
	memset(buf, 0x5a, sizeof(buf));
	while (steps--) {
		int rc = virtq_pop(vq, e);

		if (rc < 0)
			break;
		if (rc == 0) {
			if (!virtq_enable_kicks(vq))
				break;
			continue;
		}
		check_elem(vq, e, ram);
		if ((flags & F_UNPOP) && !unpopped && next_rand(&seed) % 4 == 0) {
			virtq_unpop(vq);
			unpopped = true;
			continue;
		}
		unpopped = false;
		virtq_iov_to_buf(e->iov, e->out_num, next_rand(&seed) % 32, buf, sizeof(buf));
		virtq_buf_to_iov(e->iov + e->out_num, e->in_num, next_rand(&seed) % 32,
				 buf, sizeof(buf));
		virtq_push_elem(vq, e, e->in_len);
		if (next_rand(&seed) % 2)
			virtq_need_interrupt(vq);
		if (next_rand(&seed) % 4 == 0)
			virtq_disable_kicks(vq);
		guest_write(in, ram);
	}
	virtq_need_interrupt(vq);
	virtq_has_work(vq);
	virtq_elem_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	uint8_t h[16], flags;
	struct virtq_config c = { 0 };
	struct virtq vq;
	struct gmem *gm;
	const char *why;
	uint8_t *ram;
	uint16_t n, start;

	fuzz_quiet_logs();
	take(&in, h, sizeof(h));
	n = 1u << (h[0] % 9);
	flags = h[1];
	ram = calloc(1, RAM_SIZE);
	gm = gmem_plain_new(flags & F_CHUNKED ? 64u << (h[2] & 7) : 0);
	if (!ram || !gm || gmem_plain_add(gm, RAM_BASE, ram, RAM_SIZE))
		abort();

	take(&in, ram + DESC_OFF, 16u * n);
	tame((struct vring_desc *)(ram + DESC_OFF), n, flags);
	take(&in, ram + AVAIL_OFF + 4, 2u * n);
	take(&in, ram + INDIRECT_OFF, INDIRECT_LEN);
	tame((struct vring_desc *)(ram + INDIRECT_OFF), INDIRECT_LEN / 16, flags);
	memcpy(ram + AVAIL_OFF, &h[14], 1);		/* avail->flags, low byte */
	memcpy(ram + AVAIL_OFF + 2, &h[6], 2);		/* avail->idx */
	ram[AVAIL_OFF + 4 + 2 * n] = h[15];		/* used_event */
	memset(ram + DATA_OFF, 0, RAM_SIZE - DATA_OFF);

	c.size = n;
	c.index = 0;
	c.desc = RAM_BASE + DESC_OFF;
	c.avail = RAM_BASE + AVAIL_OFF;
	c.used = RAM_BASE + USED_OFF;
	if (flags & F_MOVE_RINGS) {
		c.desc += (int16_t)get16(h, 8);
		c.avail += (int16_t)get16(h, 10);
		c.used += (int16_t)get16(h, 12);
	}
	c.event_idx = flags & F_EVENT_IDX;
	c.indirect = flags & F_INDIRECT;
	if (!virtq_init(&vq, gm, &c, &why)) {
		/* Start anywhere in the 16-bit index space. */
		start = get16(h, 4);
		vq.last_avail = vq.used_idx = start;
		vq.used->idx = htole16(start);
		run_queue(&vq, &in, ram, flags, h[3]);
		virtq_fini(&vq);
	}
	gmem_destroy(gm);
	free(ram);
	return 0;
}
