/* SPDX-License-Identifier: MIT */
/*
 * Serving one Xen guest: its device slots, the ioreq server, guest memory,
 * interrupts and the xenstore backend nodes libxl wrote for it. Runs on the
 * calling thread until the guest dies or guest_stop() is called.
 */
#ifndef XV_TOOLS_GUEST_H
#define XV_TOOLS_GUEST_H

#include <stdint.h>

#include "vdev.h"
#include "vslot.h"

struct guest;

struct guest_config {
	uint32_t domid;
	struct vslot *slots;		/* from the command line; borrowed */
	struct vdev **devs;		/* their devices; taken over by guest_new */
	unsigned int n_slots;
	int use_xenstore;		/* serve libxl's backend nodes */
	double wait;			/* seconds to wait for the first node */
	const char *config;		/* options for nodes (svc_conf.h), or NULL */
};

/* Set up everything for the guest. NULL on error (logged). */
struct guest *guest_new(const struct guest_config *c);
/* Serve until the domain dies or a stop signal arrives; 0 on a clean end. */
int guest_run(struct guest *g, int signal_fd);
void guest_free(struct guest *g);

#endif
