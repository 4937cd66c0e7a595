/* SPDX-License-Identifier: MIT */
/*
 * Service mode: one process in the backend domain that watches xenstore
 * for libxl's virtio backend nodes of every guest and starts one backend
 * process per guest (this program again, with --domid), so that one
 * guest's failure never touches another.
 *
 * A child is started when a guest has a node in state Initialising, that
 * is while libxl creates it and waits, with the domain paused, for the
 * backend. Guests that already run when the service starts are left to
 * the backends that serve them. Stopping the service leaves the children
 * serving their guests; each exits with its guest.
 */
#ifndef XV_TOOLS_SERVICE_H
#define XV_TOOLS_SERVICE_H

struct xvsvc_config {
	const char *exe;		/* the program to start per guest */
	const char *argv0;		/* its argv[0] */
	char *const *child_args;	/* extra arguments for each child */
	unsigned int n_child_args;
};

/* Serve until a stop signal arrives on signal_fd; 0 on a clean end. */
int xvsvc_run(const struct xvsvc_config *c, int signal_fd);

#endif
