/* SPDX-License-Identifier: MIT */
/*
 * The xenstore side of serving a guest: finding the domain, and libxl's
 * virtio backend nodes with their state handshake.
 *
 * libxl writes one node per device under
 *   /local/domain/<backend>/backend/<kind>/<frontend domid>/<devid>/
 * kind "virtio_disk" (Xen 4.17 `disk = [...specification=virtio]`: base in
 * decimal, irq, params, mode) or "virtio" (Xen 4.18+ `virtio = [...]`:
 * base in hex, irq, type, transport, grant_usage). The backend answers
 * state 2 (InitWait) and 4 (Connected) once it serves the device, and 6
 * (Closed) when libxl writes 5 (Closing).
 */
#ifndef XV_XEN_XS_H
#define XV_XEN_XS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xs_handle;

#define XVXS_STATE_INITIALISING 1
#define XVXS_STATE_INITWAIT 2
#define XVXS_STATE_CONNECTED 4
#define XVXS_STATE_CLOSING 5
#define XVXS_STATE_CLOSED 6

struct xvxs_node {
	char path[192];
	char kind[16];			/* "virtio_disk" or "virtio" */
	unsigned int devid;
	uint64_t base;
	unsigned int irq;
	char params[256];		/* disk: the backing file */
	bool readonly;			/* disk: mode "r" */
	char type[64];			/* virtio: "virtio,deviceN" */
	bool grants;			/* virtio: grant_usage=1 */
};

/* Our own domain id (0 in Dom0). */
uint32_t xvxs_self_domid(struct xs_handle *xs);
/* 0 and *domid if a domain of that name exists, -ENOENT otherwise. */
int xvxs_find_domain(struct xs_handle *xs, const char *name, uint32_t *domid);
/* The domain's name into out; -ENOENT if it has none. */
int xvxs_domain_name(struct xs_handle *xs, uint32_t domid, char *out,
		     size_t len);
/*
 * Frontend domids with at least one node still Initialising (libxl is
 * creating the guest and waits for a backend), up to max; the count.
 */
int xvxs_list_new_frontends(struct xs_handle *xs, uint32_t self,
			    uint32_t *out, unsigned int max);
/* Fill up to max nodes for frontend fe; returns the count, or -errno. */
int xvxs_list_nodes(struct xs_handle *xs, uint32_t self, uint32_t fe,
		    struct xvxs_node *out, unsigned int max);
/* Whether path names one of libxl's nodes of frontend fe in domain self
 * (.../backend/<kind>/<fe>/<devid>, nothing more). */
bool xvxs_is_node_path(const char *path, uint32_t self, uint32_t fe);
/* The node's state, or -1 when it has none (the node was removed). */
int xvxs_state(struct xs_handle *xs, const char *node_path);
int xvxs_set_state(struct xs_handle *xs, const char *node_path, int state);

#endif
