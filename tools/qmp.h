/* SPDX-License-Identifier: MIT */
/*
 * A QMP server for libxl: unix stream sockets given the way libxl passes
 * them to QEMU (-chardev socket,...,server=on with path=P, a socket file
 * the server creates, or fd=N, a listening socket inherited from libxl).
 * Every client is served from one thread of the server's own; the talking
 * is qmp_proto.h's. At most XVQMP_MAX_CLIENTS clients at once: later ones
 * are closed on accept.
 */
#ifndef XV_TOOLS_QMP_H
#define XV_TOOLS_QMP_H

#include <stddef.h>

#include "qmp_proto.h"

#define XVQMP_MAX_LISTEN 4
#define XVQMP_MAX_CLIENTS 8

struct xvqmp_listen {
	const char *path;		/* create a socket here, or NULL and */
	int fd;				/* this inherited listening socket */
};

struct xvqmp_server;

/* Open every listener now (errors early); NULL with a message in err. */
struct xvqmp_server *xvqmp_server_new(const struct xvqmp_listen *l,
				      unsigned int n, struct xvqmp_state *st,
				      char *err, size_t errlen);
/* Start answering clients. 0, or -errno. */
int xvqmp_server_start(struct xvqmp_server *s);
/* Clients connected right now (any thread). */
unsigned int xvqmp_server_clients(struct xvqmp_server *s);
/* Stop, close every socket, remove the socket files it created. */
void xvqmp_server_free(struct xvqmp_server *s);

#endif
