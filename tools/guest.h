/* SPDX-License-Identifier: MIT */
/*
 * Serving one Xen guest: its device slots, the ioreq server, guest memory,
 * interrupts and the xenstore backend nodes libxl wrote for it. Runs on the
 * calling thread until the guest dies or a stop signal arrives.
 */
#ifndef XV_TOOLS_GUEST_H
#define XV_TOOLS_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "sandbox.h"
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
	int link;			/* to the monitor (monitor.h), or -1 */
	const struct xvsb_config *sandbox;	/* entered with a link */
	bool no_kernel_events;		/* never hand QueueNotify or the
					 * interrupt to Dom0's kernel */
};

/*
 * Set up everything for the guest. NULL on error (logged). With a link,
 * the server restricts itself to the guest and enters its sandbox just
 * before it serves the guest's first request: every device libxl declared
 * is set up by then (libxl unpauses the guest last), and nothing the guest
 * sends is read before. From then on the monitor speaks to xenstore.
 */
struct guest *guest_new(const struct guest_config *c);
/* Serve until the domain dies or a stop signal arrives; 0 on a clean end. */
int guest_run(struct guest *g, int signal_fd);
void guest_free(struct guest *g);
/* Whether the server is in its sandbox (any thread). */
bool guest_contained(const struct guest *g);

#endif
