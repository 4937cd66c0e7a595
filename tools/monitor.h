/* SPDX-License-Identifier: MIT */
/*
 * The privileged half of a guest's backend.
 *
 * xvmon_split() forks. The child returns and serves the guest; once the
 * guest runs it restricts itself to that guest and enters its sandbox
 * (sandbox.h), and from then on has neither xenstore nor the unrestricted
 * control interface. The parent stays behind as the monitor and keeps
 * them: it runs libxl's backend-state handshake for the nodes the server
 * hands over, watches the domain, and tells the server when to let guest
 * memory go and when to stop. It forwards stop signals, and ends with the
 * server, with its exit status; the server ends with it (SIGTERM from
 * PDEATHSIG before the sandbox, the closed link in it).
 *
 * The link is a SOCK_SEQPACKET pair of fixed-size messages:
 *   server -> monitor: NODE (a node it serves, before CONTAINED),
 *                      SERVER (slot: the id of an ioreq server whose
 *                      QueueNotify Dom0's kernel answers, before CONTAINED;
 *                      destroyed by the monitor if the server is killed,
 *                      as Linux keeps such an ioeventfd past its process),
 *                      CONTAINED (it holds no xenstore from now on),
 *                      RELEASED (done with a RELEASE)
 *   monitor -> server: RELEASE (a slot's or every slot's guest memory:
 *                      libxl closes the node, or the guest shut down),
 *                      STOP (the domain is gone)
 * The monitor trusts nothing it reads: a slot it was not told of is ignored.
 */
#ifndef XV_TOOLS_MONITOR_H
#define XV_TOOLS_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include <xenctrl.h>

#include "sandbox.h"

enum xvmon_type {
	XVMON_NODE = 1,
	XVMON_CONTAINED,
	XVMON_RELEASE,
	XVMON_RELEASED,
	XVMON_STOP,
	XVMON_SERVER,
};

#define XVMON_ALL UINT32_MAX
#define XVMON_NODE_LEN 192

struct xvmon_msg {
	uint32_t type;
	uint32_t slot;			/* a slot index, or XVMON_ALL */
	char node[XVMON_NODE_LEN];	/* NODE: the xenstore backend path */
};

struct xvmon_config {
	uint32_t domid;
	int signal_fd;			/* the stop signals, blocked */
	bool close_all;			/* at the end, Closed on every node */
};

/* In the server: the link. -1 if the fork failed (logged). The monitor
 * never returns: it exits when the server has. */
int xvmon_split(const struct xvmon_config *c);
/*
 * What every entry point does: without no_sandbox, resolve the sandbox's
 * user (runas, sandbox.h) and root (chroot, or NULL for an empty one) into
 * *sb, then xvmon_split(c). In the server: the link; -1 with no_sandbox
 * (warned: one unrestricted process); -2 on an error (logged).
 */
int xvmon_start(const struct xvmon_config *c, struct xvsb_config *sb,
		bool no_sandbox, const char *runas, const char *chroot);
int xvmon_send(int fd, uint32_t type, uint32_t slot, const char *node);
/* 1 with a message, 0 at the end of the link, -1 on a broken one, -2
 * when nothing is waiting. */
int xvmon_recv(int fd, struct xvmon_msg *m);
/*
 * Whether the domain still is the one of that handle (a new domain under
 * the same id is not) and is not dying. *ended: it shut down for good (not
 * suspended) and never runs again.
 */
bool xvmon_domain_alive(xc_interface *xch, uint32_t domid,
			const xen_domain_handle_t handle, bool *ended);

#endif
