// SPDX-License-Identifier: MIT
/*
 * Guest memory that is plain host memory: regions registered by the caller.
 * Used by the tests and benchmarks, and by any transport where the guest's
 * RAM is already in our address space.
 */
#include <errno.h>
#include <stdlib.h>

#include "gmem.h"

#define PLAIN_MAX_REGIONS 8

struct plain_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct gmem_plain {
	struct gmem gm;
	uint64_t chunk;
	unsigned int n;
	struct plain_region r[PLAIN_MAX_REGIONS];
};

static struct gmem_plain *to_plain(struct gmem *gm)
{
	return gm->priv;
}

static const struct plain_region *find(struct gmem_plain *p, uint64_t gpa)
{
	for (unsigned int i = 0; i < p->n; i++)
		if (gpa >= p->r[i].gpa && gpa - p->r[i].gpa < p->r[i].size)
			return &p->r[i];
	return NULL;
}

static void *plain_map(struct gmem *gm, uint64_t gpa, uint64_t len,
		       uint64_t *contig)
{
	struct gmem_plain *p = to_plain(gm);
	const struct plain_region *r = find(p, gpa);
	uint64_t off, avail;

	if (!r)
		return NULL;
	off = gpa - r->gpa;
	avail = r->size - off;
	if (p->chunk)
		avail = p->chunk - (gpa % p->chunk) < avail ?
			p->chunk - (gpa % p->chunk) : avail;
	*contig = len < avail ? len : avail;
	return r->host + off;
}

static void *plain_pin(struct gmem *gm, uint64_t gpa, uint64_t len,
		       void **cookie)
{
	struct gmem_plain *p = to_plain(gm);
	const struct plain_region *r = find(p, gpa);

	*cookie = NULL;
	if (!r || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->host + (gpa - r->gpa);
}

static void plain_unpin(struct gmem *gm, void *cookie)
{
}

static void plain_destroy(struct gmem *gm)
{
	free(to_plain(gm));
}

static const struct gmem_ops plain_ops = {
	.map = plain_map,
	.pin = plain_pin,
	.unpin = plain_unpin,
	.destroy = plain_destroy,
};

struct gmem *gmem_plain_new(uint64_t chunk_size)
{
	struct gmem_plain *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->chunk = chunk_size;
	gmem_init(&p->gm, &plain_ops, p);
	return &p->gm;
}

int gmem_plain_add(struct gmem *gm, uint64_t gpa, void *host, uint64_t size)
{
	struct gmem_plain *p = to_plain(gm);

	if (p->n == PLAIN_MAX_REGIONS)
		return -ENOSPC;
	if (!gmem_range_ok(gpa, size))
		return -EINVAL;
	p->r[p->n++] = (struct plain_region){ gpa, size, host };
	return 0;
}
