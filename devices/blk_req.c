// SPDX-License-Identifier: MIT
/*
 * virtio-blk request checking (virtio 1.2, 5.2.6): a popped descriptor
 * chain becomes a request the I/O engine can run, or a status to answer at
 * once. Nothing here touches the image file, so a request refused here has
 * provably not changed it.
 *
 * Layout: the header is the first 16 device-readable bytes, the status is
 * the last device-writable byte (the caller has checked that one exists),
 * data lies between them. Header and discard ranges are copied out of guest
 * memory once before they are checked, so the guest cannot change them
 * afterwards.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"

/* Grow r->iov to hold n entries. */
static int reserve_iov(struct blk_req *r, unsigned int n)
{
	struct iovec *iov;

	if (n <= r->iov_cap)
		return 0;
	iov = realloc(r->iov, n * sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	r->iov = iov;
	r->iov_cap = n;
	return 0;
}

/*
 * r->iov = src[0..n) without its first skip and last trim bytes; the caller
 * has checked that the segments hold more than skip + trim bytes.
 */
static int take_iov(struct blk_req *r, const struct iovec *src,
		    unsigned int n, size_t skip, size_t trim)
{
	unsigned int k = 0;

	if (reserve_iov(r, n))
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		struct iovec v = src[i];

		if (skip >= v.iov_len) {
			skip -= v.iov_len;
			continue;
		}
		v.iov_base = (uint8_t *)v.iov_base + skip;
		v.iov_len -= skip;
		skip = 0;
		r->iov[k++] = v;
	}
	while (trim && k) {
		size_t cut = trim < r->iov[k - 1].iov_len ? trim : r->iov[k - 1].iov_len;

		r->iov[k - 1].iov_len -= cut;
		trim -= cut;
		if (!r->iov[k - 1].iov_len)
			k--;
	}
	r->niov = k;
	r->iov_idx = 0;
	return 0;
}

static bool in_capacity(const struct blk *b, uint64_t sector, uint64_t nsect)
{
	return sector <= b->sectors && nsect <= b->sectors - sector;
}

/* IN and OUT: data of whole sectors inside the disk, the right direction. */
static int parse_rw(struct blk *b, const struct virtq_elem *e,
		    struct blk_req *r, uint64_t sector, bool write)
{
	uint64_t len = write ? e->out_len - BLK_HDR_SIZE : e->in_len - 1u;
	uint64_t stray = write ? e->in_len - 1u : e->out_len - BLK_HDR_SIZE;

	if (stray) {
		vdev_guest_error(b->dev, "%s request with %llu bytes in the wrong direction",
				 write ? "write" : "read", (unsigned long long)stray);
		return VIRTIO_BLK_S_IOERR;
	}
	if (len % BLK_SECTOR_SIZE) {
		vdev_guest_error(b->dev, "request of %llu bytes is not whole sectors",
				 (unsigned long long)len);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!in_capacity(b, sector, len >> BLK_SECTOR_SHIFT)) {
		vdev_guest_error(b->dev, "request at sector %llu + %llu past the end (%llu)",
				 (unsigned long long)sector,
				 (unsigned long long)(len >> BLK_SECTOR_SHIFT),
				 (unsigned long long)b->sectors);
		return VIRTIO_BLK_S_IOERR;
	}
	if (write && b->readonly)
		return VIRTIO_BLK_S_IOERR;
	r->op = write ? BLK_OP_WRITE : BLK_OP_READ;
	r->offset = sector << BLK_SECTOR_SHIFT;
	r->len = len;
	if (!len)
		return VIRTIO_BLK_S_OK;
	if (write ? take_iov(r, e->iov, e->out_num, BLK_HDR_SIZE, 0) :
		    take_iov(r, e->iov + e->out_num, e->in_num, 0, 1))
		return VIRTIO_BLK_S_IOERR;
	return -1;
}

/* One discard / write-zeroes range, copied and checked. */
static int parse_range(struct blk *b, const struct virtq_elem *e,
		       unsigned int i, bool zeroes, struct blk_range *out)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint32_t flags, nsect, max;
	uint64_t sector;

	virtq_iov_to_buf(e->iov, e->out_num, BLK_HDR_SIZE + i * BLK_SEG_SIZE,
			 &seg, sizeof(seg));
	sector = le64toh(seg.sector);
	nsect = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	max = zeroes ? b->max_zeroes_sectors : b->max_discard_sectors;
	/* Only write zeroes knows a flag, and only UNMAP (5.2.6.2). */
	if (flags & ~(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0u))
		return VIRTIO_BLK_S_UNSUPP;
	if (nsect > max || !in_capacity(b, sector, nsect)) {
		vdev_guest_error(b->dev, "%s range at sector %llu + %u is invalid",
				 zeroes ? "write-zeroes" : "discard",
				 (unsigned long long)sector, nsect);
		return VIRTIO_BLK_S_IOERR;
	}
	out->offset = sector << BLK_SECTOR_SHIFT;
	out->len = (uint64_t)nsect << BLK_SECTOR_SHIFT;
	out->unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	return 0;
}

static int parse_ranges(struct blk *b, const struct virtq_elem *e,
			struct blk_req *r, bool zeroes)
{
	uint64_t payload = e->out_len - BLK_HDR_SIZE;
	unsigned int n = payload / BLK_SEG_SIZE;

	if (!vdev_has_feature(b->dev, zeroes ? VIRTIO_BLK_F_WRITE_ZEROES :
					       VIRTIO_BLK_F_DISCARD))
		return VIRTIO_BLK_S_UNSUPP;
	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!n || payload % BLK_SEG_SIZE || e->in_len != 1) {
		vdev_guest_error(b->dev, "%s request with %llu bytes of ranges",
				 zeroes ? "write-zeroes" : "discard",
				 (unsigned long long)payload);
		return VIRTIO_BLK_S_IOERR;
	}
	if (n > BLK_MAX_SEGS)
		return VIRTIO_BLK_S_UNSUPP;
	if (!r->ranges && !(r->ranges = calloc(BLK_MAX_SEGS, sizeof(*r->ranges))))
		return VIRTIO_BLK_S_IOERR;
	for (unsigned int i = 0; i < n; i++) {
		int st = parse_range(b, e, i, zeroes, &r->ranges[i]);

		if (st)
			return st;
	}
	r->op = zeroes ? BLK_OP_WRITE_ZEROES : BLK_OP_DISCARD;
	r->nranges = n;
	r->range_idx = 0;
	return -1;
}

static int parse_get_id(struct blk *b, const struct virtq_elem *e,
			struct blk_req *r)
{
	size_t n = e->in_len - 1u;

	if (n > VIRTIO_BLK_ID_BYTES)
		n = VIRTIO_BLK_ID_BYTES;
	/* Zero-padded, so NUL-terminated whenever shorter than 20 bytes. */
	r->written = virtq_buf_to_iov(e->iov + e->out_num, e->in_num, 0,
				      b->serial, n);
	return VIRTIO_BLK_S_OK;
}

/*
 * Check a chain whose status byte exists. Returns -1 when r describes I/O
 * for blk_io_start(), else the status to answer with at once (r->written
 * says how many data bytes went to the guest).
 */
int blk_req_parse(struct blk *b, const struct virtq_elem *e,
		  struct blk_req *r)
{
	struct virtio_blk_outhdr hdr;
	uint64_t sector;

	r->written = 0;
	r->len = r->done = 0;
	r->niov = r->iov_idx = 0;
	r->bounce = false;
	if (e->out_len < BLK_HDR_SIZE) {
		vdev_guest_error(b->dev, "request header of %u bytes", e->out_len);
		return VIRTIO_BLK_S_IOERR;
	}
	/* What the device advertised is what it takes. */
	if (e->ndesc > BLK_SEG_MAX + 2) {
		vdev_guest_error(b->dev, "request of %u descriptors: seg_max is %u",
				 e->ndesc, BLK_SEG_MAX);
		return VIRTIO_BLK_S_IOERR;
	}
	virtq_iov_to_buf(e->iov, e->out_num, 0, &hdr, sizeof(hdr));
	sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		return parse_rw(b, e, r, sector, false);
	case VIRTIO_BLK_T_OUT:
		return parse_rw(b, e, r, sector, true);
	case VIRTIO_BLK_T_FLUSH:
		r->op = BLK_OP_FLUSH;
		/* Nothing was ever written through a read-only disk. */
		return b->readonly ? VIRTIO_BLK_S_OK : -1;
	case VIRTIO_BLK_T_GET_ID:
		return parse_get_id(b, e, r);
	case VIRTIO_BLK_T_DISCARD:
		return parse_ranges(b, e, r, false);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_ranges(b, e, r, true);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}
