// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "vslot.h"

int vslot_parse(struct vslot *s, const char *spec, char *err, size_t errlen)
{
	uint64_t v = 0;
	int rc;

	*s = (struct vslot){ 0 };
	rc = vopts_parse(&s->opts, spec, err, errlen);
	if (rc)
		return rc;
	s->base_given = vopts_get(&s->opts, "base") != NULL;
	rc = vopts_get_u64(&s->opts, "base", 0, 0, UINT64_MAX - VSLOT_WINDOW,
			   &s->base, err, errlen);
	if (!rc && s->base % VSLOT_WINDOW) {
		snprintf(err, errlen, "base=0x%" PRIx64 " is not aligned to 0x%llx",
			 s->base, VSLOT_WINDOW);
		rc = -EINVAL;
	}
	s->irq_given = vopts_get(&s->opts, "irq") != NULL;
	if (!rc)
		rc = vopts_get_u64(&s->opts, "irq", 0, 32, 1019, &v, err, errlen);
	s->irq = v;
	if (rc)
		vslot_free(s);
	return rc;
}

void vslot_free(struct vslot *s)
{
	vopts_free(&s->opts);
}

int vslot_assign(struct vslot *slots, unsigned int n, char *err, size_t errlen)
{
	return vslot_assign_from(slots, n, 0, err, errlen);
}

int vslot_assign_from(struct vslot *slots, unsigned int n, unsigned int first,
		      char *err, size_t errlen)
{
	if (n > VSLOT_MAX || first > VSLOT_MAX) {
		snprintf(err, errlen, "at most %u devices", VSLOT_MAX);
		return -E2BIG;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (!slots[i].base_given)
			slots[i].base = VSLOT_MMIO_BASE + VSLOT_WINDOW * (first + i);
		if (!slots[i].irq_given)
			slots[i].irq = VSLOT_SPI_FIRST + first + i;
	}
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int j = 0; j < i; j++) {
			if (slots[i].base == slots[j].base) {
				snprintf(err, errlen, "devices %u and %u share base 0x%" PRIx64,
					 j, i, slots[i].base);
				return -EEXIST;
			}
			if (slots[i].irq == slots[j].irq) {
				snprintf(err, errlen, "devices %u and %u share irq %u",
					 j, i, slots[i].irq);
				return -EEXIST;
			}
		}
	}
	return 0;
}

bool vslot_in_xen_range(const struct vslot *s)
{
	return s->base >= VSLOT_MMIO_BASE &&
	       s->base + VSLOT_WINDOW <= VSLOT_MMIO_BASE + VSLOT_MMIO_SIZE &&
	       s->irq >= VSLOT_SPI_FIRST && s->irq <= VSLOT_SPI_LAST;
}
