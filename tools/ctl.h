/* SPDX-License-Identifier: MIT */
/*
 * A guest's control socket, and the `xen-virtio stats` command that reads it.
 *
 * The server of a guest listens on XVCTL_DIR/<domid>.sock (mode 0600,
 * owned by the user it serves as), made before it enters its sandbox; the
 * main loop answers, so an answer never waits for device work. One command
 * per connection, one line of at most 63 bytes, read whole at once:
 *   stats          the counters as text, one line per item
 *   stats json     the same as one JSON object
 * Anything else gets "error: ..." The connection is closed after the
 * answer; at most XVCTL_CLIENTS are open at once (more are turned away).
 */
#ifndef XV_TOOLS_CTL_H
#define XV_TOOLS_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "loop.h"
#include "mmio.h"

#define XVCTL_DIR "/run/xen-virtio"
#define XVCTL_CLIENTS 4

struct xvctl;

/* Write the counters to f (text or JSON; see xvctl_device_stats()). */
typedef void xvctl_stats_fn(FILE *f, bool json, void *opaque);

/* The socket of a domain: XVCTL_DIR/<domid>.sock; the service's:
 * XVCTL_DIR/service.sock (guests, backends running, started, failed). */
void xvctl_path(uint32_t domid, char *out, size_t len);
void xvctl_service_path(char *out, size_t len);
/*
 * Listen on path (its directory is made if missing; a stale socket there
 * is replaced), owned by uid/gid, answered from loop. NULL with a message
 * on error.
 */
struct xvctl *xvctl_open(const char *path, uid_t uid, gid_t gid,
			 struct vloop *loop, xvctl_stats_fn *fn, void *opaque,
			 char *err, size_t errlen);
/* Stop answering; unlink the socket if unlink_path. */
void xvctl_close(struct xvctl *c, bool unlink_path);

/*
 * One device's counters: its MMIO accesses by register (those that
 * happened), its queues (chains, bytes, notifications, interrupts) and
 * errors. first: no JSON separator before it.
 */
void xvctl_device_stats(FILE *f, bool json, bool first, struct vdev *dev,
			const struct vmmio *m);

/* `xen-virtio stats (--domid N | --service) [--json]`: exit status. */
int xvctl_main(int argc, char **argv);

#endif
