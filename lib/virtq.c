// SPDX-License-Identifier: MIT
/*
 * Split virtqueue, device side. See virtq.h for the contract.
 *
 * Ring memory is shared with the guest, which may change it at any moment:
 * every field is loaded once (READ_ONCE) into a local that is then checked
 * and used. Barriers follow the virtio memory model: avail->idx is loaded
 * with acquire (entries are written before the index), used->idx stored
 * with release (ThreadSanitizer follows those, not fences), and a full
 * fence between publishing and reading the driver's suppression fields (or
 * the interrupt/kick decision could use a stale value and lose a wakeup).
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virtq.h"

#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Indirect tables are bounded by their own length; cap that too. */
#define VIRTQ_MAX_INDIRECT VIRTQ_MAX_SIZE

static void virtq_break(struct virtq *vq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A counter of vq->stats, if it has any. */
#define count(vq, field, n)						\
	do {								\
		if ((vq)->stats)					\
			atomic_fetch_add_explicit(&(vq)->stats->field, (n), \
						  memory_order_relaxed); \
	} while (0)

static void virtq_break(struct virtq *vq, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	if (vq->broken)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vq->broken = true;
	count(vq, refused, 1);
	if (vq->fail)
		vq->fail(vq, why, vq->fail_opaque);
	else
		log_err("queue %u: %s", vq->index, why);
}

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static uint16_t *avail_used_event(struct virtq *vq)
{
	return &vq->avail->ring[vq->size];
}

static uint16_t *used_avail_event(struct virtq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

int virtq_init(struct virtq *vq, struct gmem *gm, const struct virtq_config *c,
	       const char **why)
{
	const uint64_t n = c->size;
	const uint64_t len[3] = {
		16 * n,			/* descriptor table */
		6 + 2 * n,		/* flags, idx, ring[n], used_event */
		6 + 8 * n,		/* flags, idx, ring[n], avail_event */
	};
	const uint64_t addr[3] = { c->desc, c->avail, c->used };
	static const uint64_t align[3] = { 16, 2, 4 };

	memset(vq, 0, sizeof(*vq));
	vq->gm = gm;
	vq->index = c->index;
	if (!is_pow2(c->size) || c->size > VIRTQ_MAX_SIZE) {
		*why = "queue size is not a power of two up to 32768";
		return -EINVAL;
	}
	for (int i = 0; i < 3; i++) {
		if (addr[i] % align[i]) {
			*why = "ring address is misaligned";
			return -EINVAL;
		}
		if (gmem_pin(gm, addr[i], len[i], &vq->pins[i])) {
			virtq_fini(vq);
			*why = "ring lies outside guest RAM";
			return -EFAULT;
		}
	}
	vq->size = c->size;
	vq->event_idx = c->event_idx;
	vq->indirect = c->indirect;
	vq->desc = vq->pins[0].ptr;
	vq->avail = vq->pins[1].ptr;
	vq->used = vq->pins[2].ptr;
	vq->max_iov = 2 * (c->size < 256 ? 256 : c->size);
	return 0;
}

void virtq_fini(struct virtq *vq)
{
	for (int i = 0; i < 3; i++)
		if (vq->gm)
			gmem_unpin(vq->gm, &vq->pins[i]);
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->size = 0;
}

void virtq_set_fail(struct virtq *vq, virtq_fail_fn *fn, void *opaque)
{
	vq->fail = fn;
	vq->fail_opaque = opaque;
}

struct virtq_elem *virtq_elem_new(const struct virtq *vq)
{
	struct virtq_elem *e = calloc(1, sizeof(*e) +
				      vq->max_iov * sizeof(struct iovec));

	if (!e)
		return NULL;
	e->iov = (struct iovec *)(e + 1);
	e->iov_cap = vq->max_iov;
	return e;
}

void virtq_elem_drop(struct virtq_elem *e)
{
	if (!e)
		return;
	gmem_release(e->hold);
	e->hold = NULL;
	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
}

void virtq_elem_free(struct virtq_elem *e)
{
	if (!e)
		return;
	virtq_elem_drop(e);
	free(e);
}

struct gmem_hold *virtq_elem_take_hold(struct virtq_elem *e)
{
	struct gmem_hold *h = e->hold;

	e->hold = NULL;
	return h;
}

/* A descriptor as read once from guest memory, in host byte order. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static void load_desc(const struct vring_desc *src, struct desc *d)
{
	d->addr = le64toh(READ_ONCE(src->addr));
	d->len = le32toh(READ_ONCE(src->len));
	d->flags = le16toh(READ_ONCE(src->flags));
	d->next = le16toh(READ_ONCE(src->next));
}

static int load_indirect(struct virtq_elem *e, uint64_t table, uint32_t i,
			 struct desc *d)
{
	struct vring_desc raw;

	/* A private copy: the guest cannot change it after the checks. */
	if (gmem_read_held(e->hold, table + 16ull * i, &raw, sizeof(raw)))
		return -EFAULT;
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
	return 0;
}

/* Append the guest buffer of one descriptor to the element's iovecs. */
static int add_buffer(struct virtq *vq, struct virtq_elem *e,
		      const struct desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	uint64_t gpa = d->addr, left = d->len;
	uint32_t *total = writable ? &e->in_len : &e->out_len;

	if (!writable && e->in_num) {
		virtq_break(vq, "device-readable descriptor after a writable one");
		return -EINVAL;
	}
	if ((uint64_t)*total + d->len > UINT32_MAX) {
		virtq_break(vq, "descriptor chain longer than 4 GiB");
		return -EINVAL;
	}
	if (left && !gmem_range_ok(gpa, left)) {
		virtq_break(vq, "buffer 0x%llx+%llu wraps around",
			    (unsigned long long)gpa, (unsigned long long)left);
		return -EFAULT;
	}
	/* All of it is RAM before any of it is mapped. */
	if (left && !gmem_is_ram(vq->gm, gpa, left)) {
		virtq_break(vq, "buffer 0x%llx+%u is outside guest RAM",
			    (unsigned long long)gpa, d->len);
		return -EFAULT;
	}
	while (left) {
		unsigned int n = e->out_num + e->in_num;
		uint64_t contig;
		void *p;

		if (n == e->iov_cap) {
			virtq_break(vq, "descriptor chain needs more than %u segments",
				    e->iov_cap);
			return -E2BIG;
		}
		p = gmem_map(e->hold, gpa, left, &contig);
		if (!p) {
			virtq_break(vq, "buffer 0x%llx+%u is outside guest RAM",
				    (unsigned long long)d->addr, d->len);
			return -EFAULT;
		}
		e->iov[n].iov_base = p;
		e->iov[n].iov_len = contig;
		if (writable)
			e->in_num++;
		else
			e->out_num++;
		gpa += contig;
		left -= contig;
	}
	*total += d->len;
	return 0;
}

/*
 * Walk the chain that starts at head. The bound on descriptors visited is
 * the queue size for the ring table and the table's own length for an
 * indirect one, so a looped chain ends with an error, never runs forever.
 */
static int walk_chain(struct virtq *vq, uint16_t head, struct virtq_elem *e)
{
	uint64_t table = 0;		/* gpa of the indirect table */
	bool in_table = false;		/* (0 is a valid gpa: no sentinel) */
	uint32_t limit = vq->size, seen = 0, i = head;
	struct desc d;

	e->head = head;
	e->ndesc = 0;
	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		if (++seen > limit) {
			virtq_break(vq, "descriptor chain from head %u loops or exceeds %u descriptors",
				    head, limit);
			return -ELOOP;
		}
		if (in_table) {
			if (load_indirect(e, table, i, &d)) {
				virtq_break(vq, "indirect table 0x%llx is outside guest RAM",
					    (unsigned long long)table);
				return -EFAULT;
			}
		} else {
			load_desc(&vq->desc[i], &d);
		}
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect) {
				virtq_break(vq, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
				return -EINVAL;
			}
			if (in_table) {
				virtq_break(vq, "nested indirect descriptor");
				return -EINVAL;
			}
			if (d.flags & VRING_DESC_F_NEXT) {
				virtq_break(vq, "indirect descriptor with NEXT set");
				return -EINVAL;
			}
			if (!d.len || d.len % 16 || d.len / 16 > VIRTQ_MAX_INDIRECT) {
				virtq_break(vq, "indirect table length %u is invalid", d.len);
				return -EINVAL;
			}
			if (!gmem_range_ok(d.addr, d.len)) {
				virtq_break(vq, "indirect table wraps around");
				return -EFAULT;
			}
			if (!gmem_is_ram(vq->gm, d.addr, d.len)) {
				virtq_break(vq, "indirect table 0x%llx+%u is outside guest RAM",
					    (unsigned long long)d.addr, d.len);
				return -EFAULT;
			}
			table = d.addr;
			in_table = true;
			limit = d.len / 16;
			seen = 0;
			i = 0;
			continue;
		}
		if (add_buffer(vq, e, &d))
			return -EINVAL;
		e->ndesc++;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= limit) {
			virtq_break(vq, "descriptor next index %u out of range %u", i, limit);
			return -EINVAL;
		}
	}
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
	uint16_t avail_idx, pending, head;

	if (vq->broken || !vq->size)
		return -1;
	/* Ring entries were written before the index: read them after it. */
	avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	pending = avail_idx - vq->last_avail;
	if (pending > vq->size) {
		virtq_break(vq, "available index jumped from %u to %u (queue size %u)",
			    vq->last_avail, avail_idx, vq->size);
		return -1;
	}
	if (!pending)
		return 0;
	head = le16toh(READ_ONCE(vq->avail->ring[vq->last_avail & (vq->size - 1)]));
	if (head >= vq->size) {
		virtq_break(vq, "available head %u out of range %u", head, vq->size);
		return -1;
	}
	virtq_elem_drop(e);
	e->hold = gmem_hold(vq->gm);
	if (walk_chain(vq, head, e)) {
		virtq_elem_drop(e);
		return -1;
	}
	vq->last_avail++;
	count(vq, popped, 1);
	count(vq, bytes_out, e->out_len);
	return 1;
}

void virtq_unpop(struct virtq *vq)
{
	vq->last_avail--;
	count(vq, popped, (uint64_t)-1);	/* taken again later */
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *u;

	if (vq->broken || !vq->size)
		return;
	u = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	WRITE_ONCE(u->id, htole32(head));
	WRITE_ONCE(u->len, htole32(len));
	/* The entry must be visible before the index that publishes it. */
	vq->used_idx++;
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	count(vq, pushed, 1);
	count(vq, bytes_in, len);
}

void virtq_push_elem(struct virtq *vq, struct virtq_elem *e, uint32_t len)
{
	virtq_push(vq, e->head, len);
	virtq_elem_drop(e);
}

bool virtq_need_interrupt(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_valid;

	/* Nothing pushed since the last interrupt (or since setup). */
	if (vq->broken || !vq->size || old == new)
		return false;
	/* Publish used->idx before reading what the driver asked for. */
	atomic_thread_fence(memory_order_seq_cst);
	vq->signalled_used = new;
	vq->signalled_valid = true;
	if (!vq->event_idx)
		return !(le16toh(READ_ONCE(vq->avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	return vring_need_event(le16toh(READ_ONCE(*avail_used_event(vq))), new, old);
}

void virtq_disable_kicks(struct virtq *vq)
{
	if (vq->broken || !vq->size || vq->event_idx)
		return;	/* with EVENT_IDX, not moving avail_event is enough */
	WRITE_ONCE(vq->used->flags, htole16(VRING_USED_F_NO_NOTIFY));
}

bool virtq_enable_kicks(struct virtq *vq)
{
	if (vq->broken || !vq->size)
		return false;
	if (vq->event_idx)
		WRITE_ONCE(*used_avail_event(vq), htole16(vq->last_avail));
	else
		WRITE_ONCE(vq->used->flags, 0);
	/* Publish before re-reading avail->idx, or a kick can be lost. */
	atomic_thread_fence(memory_order_seq_cst);
	return virtq_has_work(vq);
}

bool virtq_has_work(struct virtq *vq)
{
	if (vq->broken || !vq->size)
		return false;
	return le16toh(READ_ONCE(vq->avail->idx)) != vq->last_avail;
}

/* Copy len bytes between buf and the iovecs from byte off on. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t off,
		       uint8_t *buf, size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		uint8_t *p = iov[i].iov_base;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		if (to_iov)
			memcpy(p + off, buf + done, l);
		else
			memcpy(buf + done, p + off, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t virtq_iov_to_buf(const struct iovec *iov, unsigned int n, size_t off,
			void *buf, size_t len)
{
	return iov_copy(iov, n, off, buf, len, false);
}

size_t virtq_buf_to_iov(const struct iovec *iov, unsigned int n, size_t off,
			const void *buf, size_t len)
{
	return iov_copy(iov, n, off, (uint8_t *)buf, len, true);
}
