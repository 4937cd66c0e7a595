// SPDX-License-Identifier: MIT
/*
 * Fuzz virtio-blk request checking (devices/blk_req.c): a descriptor chain
 * of the input's shape and bytes becomes a request or a status. Every
 * segment is its own allocation, so AddressSanitizer sees any byte read or
 * written outside the guest's buffers; what the parser accepts is checked
 * against the chain and the disk: data inside the data segments only
 * (never the header or the status byte), whole sectors, inside capacity.
 *
 * Input: b0 bit 0 read-only, bit 1 DISCARD, bit 2 WRITE_ZEROES negotiated;
 * b1-b2 capacity in sectors; b3 readable segments (1 + b3 % 4), b4 writable
 * ones (1 + b4 % 4); then per segment two bytes of length (% 1100; a
 * writable segment at least 1 byte); then the readable segments' bytes.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"
#include "fuzz.h"

#define MAX_SEGS 8

/* The iovec lies inside segment s, past skip bytes and before trim. */
static bool inside(const struct iovec *v, const struct iovec *s, size_t skip,
		   size_t trim)
{
	const uint8_t *b = v->iov_base, *lo = (uint8_t *)s->iov_base + skip;
	const uint8_t *hi = (uint8_t *)s->iov_base + s->iov_len - trim;

	return s->iov_len >= skip + trim && b >= lo && b + v->iov_len <= hi;
}

/* Every data iovec inside the data part of the chain. */
static void check_data(const struct virtq_elem *e, const struct blk_req *r,
		       bool write)
{
	uint64_t total = 0;
	unsigned int first = write ? 0 : e->out_num;
	unsigned int n = write ? e->out_num : e->in_num;

	for (unsigned int i = 0; i < r->niov; i++) {
		bool ok = false;
		size_t before = 0;

		for (unsigned int k = 0; k < n && !ok; k++) {
			const struct iovec *s = &e->iov[first + k];
			size_t skip = 0, trim = 0;

			/* header: first 16 readable bytes */
			if (write && before < BLK_HDR_SIZE)
				skip = BLK_HDR_SIZE - before < s->iov_len ?
				       BLK_HDR_SIZE - before : s->iov_len;
			/* status: the last writable byte */
			if (!write && k == n - 1)
				trim = 1;
			ok = inside(&r->iov[i], s, skip, trim);
			before += s->iov_len;
		}
		if (!ok)
			abort();
		total += r->iov[i].iov_len;
	}
	if (total != r->len)
		abort();
}

static void check(struct blk *b, const struct virtq_elem *e,
		  const struct blk_req *r, int st)
{
	if (st >= 0) {
		if (st != VIRTIO_BLK_S_OK && st != VIRTIO_BLK_S_IOERR &&
		    st != VIRTIO_BLK_S_UNSUPP)
			abort();
		if (r->written > e->in_len - 1u)
			abort();
		return;
	}
	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (r->len % BLK_SECTOR_SIZE || r->offset % BLK_SECTOR_SIZE ||
		    r->offset + r->len > b->sectors * BLK_SECTOR_SIZE)
			abort();
		if (r->op == BLK_OP_WRITE && b->readonly)
			abort();
		check_data(e, r, r->op == BLK_OP_WRITE);
		break;
	case BLK_OP_FLUSH:
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		if (b->readonly || !r->nranges || r->nranges > BLK_MAX_SEGS)
			abort();
		for (unsigned int i = 0; i < r->nranges; i++)
			if (r->ranges[i].offset + r->ranges[i].len >
			    b->sectors * BLK_SECTOR_SIZE)
				abort();
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdev dev = { .guest_log = VLOG_LIMIT_INIT };
	struct blk b = { .dev = &dev };
	struct blk_req r = { 0 };
	struct iovec iov[MAX_SEGS];
	struct virtq_elem e = { .iov = iov, .iov_cap = MAX_SEGS };
	const uint8_t *p = data + 5, *end = data + size;
	unsigned int nout, nin;
	int st;

	fuzz_quiet_logs();
	if (size < 5)
		return 0;
	snprintf(dev.name, sizeof(dev.name), "blk0");
	b.readonly = data[0] & 1;
	if (data[0] & 2)
		dev.driver_features |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (data[0] & 4)
		dev.driver_features |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	b.sectors = data[1] | data[2] << 8;
	b.max_discard_sectors = b.max_zeroes_sectors = 64;
	snprintf(b.serial, sizeof(b.serial), "fuzz-serial");
	nout = 1 + data[3] % 4;
	nin = 1 + data[4] % 4;
	for (unsigned int i = 0; i < nout + nin; i++) {
		size_t len = 0;

		if (end - p >= 2) {
			len = (p[0] | p[1] << 8) % 1100;
			p += 2;
		}
		if (i >= nout && !len)
			len = 1;
		iov[i].iov_len = len;
		iov[i].iov_base = malloc(len ? len : 1);
		if (!iov[i].iov_base)
			abort();
		memset(iov[i].iov_base, 0xa5, len);
		if (i < nout)
			e.out_len += len;
		else
			e.in_len += len;
	}
	for (unsigned int i = 0; i < nout; i++) {
		size_t n = (size_t)(end - p) < iov[i].iov_len ?
			   (size_t)(end - p) : iov[i].iov_len;

		memcpy(iov[i].iov_base, p, n);
		p += n;
	}
	e.out_num = nout;
	e.in_num = nin;
	e.ndesc = nout + nin;
	st = blk_req_parse(&b, &e, &r);
	check(&b, &e, &r, st);
	for (unsigned int i = 0; i < nout + nin; i++)
		free(iov[i].iov_base);
	free(r.iov);
	free(r.ranges);
	return 0;
}
