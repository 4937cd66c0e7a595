// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <xendevicemodel.h>

#include "irq.h"
#include "log.h"

struct xirq {
	uint32_t domid;
	xendevicemodel_handle *dm;
	_Atomic unsigned long failures;
};

struct xirq *xirq_open(uint32_t domid)
{
	struct xirq *xi = calloc(1, sizeof(*xi));

	if (!xi)
		return NULL;
	xi->domid = domid;
	xi->dm = xendevicemodel_open(NULL, 0);
	if (!xi->dm) {
		free(xi);
		return NULL;
	}
	return xi;
}

void xirq_close(struct xirq *xi)
{
	if (!xi)
		return;
	xendevicemodel_close(xi->dm);
	free(xi);
}

int xirq_edge(struct xirq *xi, unsigned int irq)
{
	if (!xendevicemodel_set_irq_level(xi->dm, xi->domid, irq, 1))
		return 0;
	/* Log the first failures only: this runs per interrupt. */
	if (atomic_fetch_add(&xi->failures, 1) < 5)
		log_err("domain %u: cannot raise SPI %u: %m", xi->domid, irq);
	return -errno;
}
