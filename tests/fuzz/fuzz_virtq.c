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
 * Rings go up to the 32768 entries a split ring may have and indirect
 * tables up to 1 MiB (past the 32768 descriptors virtq.c accepts), so that
 * indices, masks and bounds are tried at their limits. An input cannot
 * fill that much, so what it leaves of the tables can be filled with
 * chains of a chosen length (pattern fill); and a run stops after 2048
 * pops or once 4096 descriptors were walked, which keeps every input fast
 * (the chain that crosses that line may be as long as virtq.c allows).
 *
 * Input layout (missing bytes read as zero):
 *	 0	queue size: 1 << (b % 9); bit 7 set: 1 << (9 + (b & 0x7f) % 7)
 *	 1	flags: 1 EVENT_IDX, 2 INDIRECT_DESC, 4 tame addresses,
 *		8 chunked RAM, 16 move the rings, 32 tame lengths,
 *		64 unpop now and then
 *	 2	bits 0-2 chunk size: 64 << (b & 7); bits 3-6 indirect area:
 *		1 KiB << (v % 11); bit 7 pattern fill
 *	 3	seed for the device's choices; pattern chains are
 *		1 << (b >> 4) descriptors long
 *	 4-5	device's starting avail/used index (wrap-around)
 *	 6-7	avail->idx
 *	 8-13	ring displacements (desc, avail, used), when flag 16
 *	14-15	avail->flags, used_event
 *	16-	descriptor table (16 * size), avail ring (2 * size),
 *		indirect area, then ring writes of 4 bytes: a 16-bit offset
 *		and two bytes (with RAM over 64 KiB: a 24-bit offset and one
 *		byte)
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
#define DATA_LEN 0x5000u	/* RAM for buffers after the rings */
#define MAX_STEPS 2048u		/* pops: a 256-entry ring wraps four times */
#define MAX_WALKED 4096u	/* descriptors walked, and then one chain */

#define F_EVENT_IDX 1
#define F_INDIRECT 2
#define F_TAME_ADDR 4
#define F_CHUNKED 8
#define F_MOVE_RINGS 16
#define F_TAME_LEN 32
#define F_UNPOP 64

#define F_PATTERN 0x80	/* in byte 2 */

#if defined(__SANITIZE_ADDRESS__)
#define XV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XV_ASAN 1
#endif
#endif
#ifdef XV_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define poison(p, n) ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

/* The harness's own loops over large tables: no coverage feedback
 * (libFuzzer would spend most of its time in their comparisons). */
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

struct input {
	const uint8_t *p;
	size_t left;
};

/* Where things are in guest RAM (offsets), for a queue of n entries. */
struct layout {
	uint32_t n;
	uint32_t desc, avail, used, ind, data, size;
	uint32_t ind_len;
};

/* Copy up to n bytes of input to dst; the rest of dst becomes zero.
 * Returns the bytes that came from the input. */
static size_t take(struct input *in, void *dst, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	in->p += k;
	in->left -= k;
	return k;
}

/* len rounded up to 16, and at least min. */
static uint32_t span(uint32_t len, uint32_t min)
{
	len = (len + 15) & ~15u;
	return len > min ? len : min;
}

/* Up to 256 entries and a 1 KiB indirect area this is the fixed layout of
 * old (desc 0, avail 0x1000, used 0x1800, indirect 0x2800, 32 KiB of RAM),
 * so that the seeds mean what they meant. */
static void plan(struct layout *l, const uint8_t *h)
{
	l->n = h[0] & 0x80 ? 1u << (9 + (h[0] & 0x7f) % 7) : 1u << (h[0] % 9);
	l->ind_len = 0x400u << (((h[2] >> 3) & 15) % 11);
	l->desc = 0;
	l->avail = span(16 * l->n, 0x1000);
	l->used = l->avail + span(6 + 2 * l->n, 0x800);
	l->ind = l->used + span(6 + 8 * l->n, 0x1000);
	l->data = l->ind + span(l->ind_len, 0x800);
	l->size = l->data + DATA_LEN;
}

static uint16_t get16(const uint8_t *h, int i)
{
	return h[i] | h[i + 1] << 8;
}

/* Keep descriptors mostly inside RAM so chains get walked, not refused;
 * lengths reach past a large indirect area. */
NO_COVERAGE static void tame(const struct layout *l, struct vring_desc *d,
			     unsigned int n, uint8_t flags)
{
	uint32_t max_len = l->ind_len > 0x400 ? l->ind_len + 0x1000 : 0x1000;

	for (unsigned int i = 0; i < n; i++) {
		if (flags & F_TAME_ADDR)
			d[i].addr = htole64(RAM_BASE + le64toh(d[i].addr) % (l->size + 64));
		if (flags & F_TAME_LEN)
			d[i].len = htole32(le32toh(d[i].len) % max_len);
	}
}

/*
 * Descriptors first..cnt-1 of a table as chains of k (a power of two):
 * each one's first half device-readable, the rest writable, every buffer
 * in the data area. With indirect set, every fourth chain of the ring is
 * one descriptor pointing at the whole indirect area.
 */
NO_COVERAGE static void pattern(const struct layout *l, struct vring_desc *d,
				uint32_t first, uint32_t cnt, uint32_t k,
				bool indirect)
{
	for (uint32_t i = first; i < cnt; i++) {
		uint32_t pos = i & (k - 1);
		uint16_t f = 0;

		if (indirect && !pos && (i / k) % 4 == 3) {
			d[i] = (struct vring_desc){ htole64(RAM_BASE + l->ind),
				htole32(l->ind_len), htole16(VRING_DESC_F_INDIRECT), 0 };
			continue;
		}
		if (pos + 1 < k && i + 1 < cnt)
			f |= VRING_DESC_F_NEXT;
		if (pos >= k / 2)
			f |= VRING_DESC_F_WRITE;
		d[i] = (struct vring_desc){
			htole64(RAM_BASE + l->data + (i & 0xff) * 64),
			htole32(16 + (i & 31)), htole16(f), htole16(i + 1) };
	}
}

static void check_elem(const struct virtq *vq, const struct virtq_elem *e,
		       const uint8_t *ram, uint32_t ram_size)
{
	uint64_t out = 0, in = 0;

	if (e->out_num + e->in_num > e->iov_cap || e->head >= vq->size)
		abort();
	for (unsigned int i = 0; i < e->out_num + e->in_num; i++) {
		const uint8_t *b = e->iov[i].iov_base;
		size_t l = e->iov[i].iov_len;

		if (!l || b < ram || b + l > ram + ram_size)
			abort();
		if (i < e->out_num)
			out += l;
		else
			in += l;
	}
	if (out != e->out_len || in != e->in_len)
		abort();
}

/* The guest changes a ring word (a byte, in large RAM) between two device
 * steps. */
static void guest_write(struct input *in, uint8_t *ram, uint32_t size)
{
	uint8_t w[4];
	uint32_t off;

	if (in->left < 4)
		return;
	take(in, w, 4);
	if (size > 0x10000) {
		off = (w[0] | w[1] << 8 | w[2] << 16) % size;
		ram[off] = w[3];
		return;
	}
	off = get16(w, 0) % (size - 1);
	ram[off] = w[2];
	ram[off + 1] = w[3];
}

static uint32_t next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static void run_queue(struct virtq *vq, struct input *in, uint8_t *ram,
		      uint32_t ram_size, uint8_t flags, uint32_t seed)
{
	struct virtq_elem *e = virtq_elem_new(vq);
	unsigned int steps = 4u * vq->size + 16, walked = 0;
	bool unpopped = false;
	uint8_t buf[64];

	if (!e)
		return;
	memset(buf, 0x5a, sizeof(buf));
	if (steps > MAX_STEPS)
		steps = MAX_STEPS;
	while (steps-- && walked < MAX_WALKED) {
		int rc = virtq_pop(vq, e);

		if (rc < 0)
			break;
		if (rc == 0) {
			if (!virtq_enable_kicks(vq))
				break;
			continue;
		}
		check_elem(vq, e, ram, ram_size);
		walked += e->ndesc;
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
		guest_write(in, ram, ram_size);
	}
	virtq_need_interrupt(vq);
	virtq_has_work(vq);
	virtq_elem_free(e);
}

/*
 * Guest RAM: one buffer for every input, as large as the largest layout,
 * zeroed up to size. Allocating it afresh cost more than the queue's work
 * (page faults on up to 2 MiB); under AddressSanitizer what lies past size
 * is poisoned, so that an overrun still traps.
 */
static uint8_t *guest_ram(uint32_t size)
{
	static uint8_t *ram;
	static uint32_t max, cur;

	if (!ram) {
		const uint8_t big[16] = { 0x80 | 6, 0, 10 << 3 };
		struct layout l;

		plan(&l, big);
		max = cur = l.size;
		ram = malloc(max);
		if (!ram)
			abort();
	}
	/* Only what changed: poisoning all of it costs as much as a run. */
	if (size > cur)
		unpoison(ram + cur, size - cur);
	else if (size < cur)
		poison(ram + size, cur - size);
	cur = size;
	memset(ram, 0, size);
	return ram;
}

/* The guest's rings and tables, from the input and the pattern. */
NO_COVERAGE static void fill(const struct layout *l, struct input *in,
			     uint8_t *ram, const uint8_t *h)
{
	struct vring_desc *desc = (struct vring_desc *)(ram + l->desc);
	struct vring_desc *ind = (struct vring_desc *)(ram + l->ind);
	uint16_t *ring = (uint16_t *)(ram + l->avail + 4);
	uint32_t k = 1u << (h[3] >> 4), nd, na, ni;
	uint8_t flags = h[1];

	nd = (take(in, desc, 16u * l->n) + 15) / 16;
	na = (take(in, ring, 2u * l->n) + 1) / 2;
	ni = (take(in, ind, l->ind_len) + 15) / 16;
	/* What the input left zero has no length to tame. */
	tame(l, desc, nd, flags);
	tame(l, ind, ni, flags);
	if (h[2] & F_PATTERN) {
		pattern(l, desc, nd, l->n, k, flags & F_INDIRECT);
		pattern(l, ind, ni, l->ind_len / 16, k, false);
		for (uint32_t i = na; i < l->n; i++)
			ring[i] = htole16((i * k) & (l->n - 1));
	}
	memcpy(ram + l->avail, &h[14], 1);		/* avail->flags, low byte */
	memcpy(ram + l->avail + 2, &h[6], 2);		/* avail->idx */
	ram[l->avail + 4 + 2 * l->n] = h[15];		/* used_event */
	memset(ram + l->data, 0, l->size - l->data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	uint8_t h[16], flags;
	struct virtq_config c = { 0 };
	struct layout l;
	struct virtq vq;
	struct gmem *gm;
	const char *why;
	uint8_t *ram;
	uint16_t start;

	fuzz_quiet_logs();
	take(&in, h, sizeof(h));
	plan(&l, h);
	flags = h[1];
	ram = guest_ram(l.size);
	gm = gmem_plain_new(flags & F_CHUNKED ? 64u << (h[2] & 7) : 0);
	if (!ram || !gm || gmem_plain_add(gm, RAM_BASE, ram, l.size))
		abort();
	fill(&l, &in, ram, h);

	c.size = l.n;
	c.index = 0;
	c.desc = RAM_BASE + l.desc;
	c.avail = RAM_BASE + l.avail;
	c.used = RAM_BASE + l.used;
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
		run_queue(&vq, &in, ram, l.size, flags, h[3]);
		virtq_fini(&vq);
	}
	gmem_destroy(gm);
	return 0;
}
