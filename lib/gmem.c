// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "gmem.h"

void gmem_init(struct gmem *gm, const struct gmem_ops *ops, void *priv)
{
	gm->ops = ops;
	gm->priv = priv;
	pthread_rwlock_init(&gm->lock, NULL);
}

void gmem_destroy(struct gmem *gm)
{
	if (!gm)
		return;
	pthread_rwlock_destroy(&gm->lock);
	gm->ops->destroy(gm);
}

void gmem_read_lock(struct gmem *gm)
{
	pthread_rwlock_rdlock(&gm->lock);
}

void gmem_read_unlock(struct gmem *gm)
{
	pthread_rwlock_unlock(&gm->lock);
}

void gmem_invalidate(struct gmem *gm)
{
	pthread_rwlock_wrlock(&gm->lock);
	if (gm->ops->invalidate)
		gm->ops->invalidate(gm);
	pthread_rwlock_unlock(&gm->lock);
}

bool gmem_range_ok(uint64_t gpa, uint64_t len)
{
	return len && gpa + len - 1 >= gpa;
}

void *gmem_map(struct gmem *gm, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	if (!gmem_range_ok(gpa, len))
		return NULL;
	return gm->ops->map(gm, gpa, len, contig);
}

void *gmem_map_all(struct gmem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t contig;
	void *p = gmem_map(gm, gpa, len, &contig);

	return p && contig == len ? p : NULL;
}

int gmem_pin(struct gmem *gm, uint64_t gpa, uint64_t len, struct gmem_pin *p)
{
	memset(p, 0, sizeof(*p));
	if (!gmem_range_ok(gpa, len))
		return -EFAULT;
	p->ptr = gm->ops->pin(gm, gpa, len, &p->cookie);
	if (!p->ptr)
		return -EFAULT;
	p->gpa = gpa;
	p->len = len;
	return 0;
}

void gmem_unpin(struct gmem *gm, struct gmem_pin *p)
{
	if (p->ptr)
		gm->ops->unpin(gm, p->cookie);
	memset(p, 0, sizeof(*p));
}

static int gmem_copy(struct gmem *gm, uint64_t gpa, void *buf, size_t len,
		     bool to_guest)
{
	uint8_t *b = buf;

	if (!len)
		return 0;
	if (!gmem_range_ok(gpa, len))
		return -EFAULT;
	while (len) {
		uint64_t contig;
		uint8_t *p = gm->ops->map(gm, gpa, len, &contig);

		if (!p)
			return -EFAULT;
		if (to_guest)
			memcpy(p, b, contig);
		else
			memcpy(b, p, contig);
		b += contig;
		gpa += contig;
		len -= contig;
	}
	return 0;
}

int gmem_read(struct gmem *gm, uint64_t gpa, void *buf, size_t len)
{
	return gmem_copy(gm, gpa, buf, len, false);
}

int gmem_write(struct gmem *gm, uint64_t gpa, const void *buf, size_t len)
{
	return gmem_copy(gm, gpa, (void *)buf, len, true);
}
