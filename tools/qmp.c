// SPDX-License-Identifier: MIT
/*
 * The QMP server's sockets and thread (see qmp.h). Clients are
 * non-blocking: a client that sends without reading, or stops halfway
 * through a command, holds only its own buffers and is dropped when they
 * are full.
 */
#define _GNU_SOURCE 1	/* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "qmp.h"

/* Replies a client may leave unread before it is dropped. */
#define MAX_UNREAD (256 * 1024)

struct client {
	struct xvqmp_server *srv;
	int fd;
	bool closing;			/* send what is queued, then close */
	struct xvqmp_buf out;
	struct xvqmp_sess sess;
};

struct listener {
	struct xvqmp_server *srv;
	int fd;
	char *path;			/* a socket file we made, or NULL */
};

struct xvqmp_server {
	struct xvqmp_state *st;
	struct vloop *loop;
	pthread_t thread;
	bool running;
	unsigned int n_listen;
	struct listener listen[XVQMP_MAX_LISTEN];
	struct client *clients[XVQMP_MAX_CLIENTS];
	atomic_uint n_clients;
};

static void drop_client(struct client *c)
{
	struct xvqmp_server *s = c->srv;

	for (unsigned int i = 0; i < XVQMP_MAX_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	vloop_del_fd(s->loop, c->fd);
	close(c->fd);
	xvqmp_buf_free(&c->out);
	free(c);
	atomic_fetch_sub(&s->n_clients, 1);
}

/* Send what is queued; false if the client is gone. */
static bool flush(struct client *c)
{
	while (c->out.len) {
		ssize_t n = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return false;
		xvqmp_buf_consume(&c->out, n);
	}
	return c->out.len <= MAX_UNREAD;
}

/* Read what is there; false if the client is gone. */
static bool receive(struct client *c)
{
	char buf[4096];

	while (!c->closing) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		if (xvqmp_sess_feed(&c->sess, buf, n, &c->out)) {
			log_warn("QMP client dropped: bad input");
			c->closing = true;
		}
		if (c->out.len > MAX_UNREAD)
			return false;
	}
	return true;
}

static void on_client(int fd, uint32_t events, void *opaque)
{
	struct client *c = opaque;
	uint32_t want;

	if ((events & EPOLLIN) && !receive(c))
		goto drop;
	if (!(events & EPOLLIN) && (events & (EPOLLHUP | EPOLLERR)))
		goto drop;
	if (!flush(c))
		goto drop;
	if (c->closing && !c->out.len)
		goto drop;
	want = (c->closing ? 0 : EPOLLIN) | (c->out.len ? EPOLLOUT : 0);
	if (!vloop_mod_fd(c->srv->loop, c->fd, want))
		return;
drop:
	drop_client(c);
}

static int add_client(struct xvqmp_server *s, int fd)
{
	struct client *c;
	unsigned int i;

	for (i = 0; i < XVQMP_MAX_CLIENTS && s->clients[i]; i++)
		;
	if (i == XVQMP_MAX_CLIENTS)
		return -EMFILE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->srv = s;
	c->fd = fd;
	xvqmp_sess_init(&c->sess, s->st);
	if (xvqmp_greeting(&c->out) ||
	    vloop_add_fd(s->loop, fd, EPOLLIN | EPOLLOUT, on_client, c)) {
		xvqmp_buf_free(&c->out);
		free(c);
		return -ENOMEM;
	}
	s->clients[i] = c;
	atomic_fetch_add(&s->n_clients, 1);
	return 0;
}

static void on_listener(int fd, uint32_t events, void *opaque)
{
	struct listener *l = opaque;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (cfd < 0)
		return;
	if (add_client(l->srv, cfd)) {
		log_warn("QMP: client refused (%u connected)",
			 atomic_load(&l->srv->n_clients));
		close(cfd);
	}
}

static int open_path(struct listener *l, const char *path, char *err,
		     size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "QMP socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* A socket left by an earlier run is replaced, anything else kept. */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(l->fd, 4)) {
		snprintf(err, errlen, "QMP socket %s: %s", path, strerror(errno));
		return -errno;
	}
	l->path = strdup(path);
	return l->path ? 0 : -ENOMEM;
}

static int adopt_fd(struct listener *l, int fd, char *err, size_t errlen)
{
	int on = 0;
	socklen_t len = sizeof(on);
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) || !on) {
		snprintf(err, errlen, "QMP: fd %d is not a listening socket", fd);
		return -EBADF;
	}
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		snprintf(err, errlen, "QMP: fd %d: %s", fd, strerror(errno));
		return -errno;
	}
	l->fd = fd;
	return 0;
}

struct xvqmp_server *xvqmp_server_new(const struct xvqmp_listen *l,
				      unsigned int n, struct xvqmp_state *st,
				      char *err, size_t errlen)
{
	struct xvqmp_server *s;

	err[0] = '\0';
	if (n > XVQMP_MAX_LISTEN) {
		snprintf(err, errlen, "at most %d QMP sockets", XVQMP_MAX_LISTEN);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->st = st;
	s->loop = vloop_new();
	if (!s->loop) {
		snprintf(err, errlen, "cannot make an event loop");
		goto fail;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct listener *ls = &s->listen[i];

		*ls = (struct listener){ .srv = s, .fd = -1 };
		s->n_listen++;
		if ((l[i].path ? open_path(ls, l[i].path, err, errlen) :
				 adopt_fd(ls, l[i].fd, err, errlen)) ||
		    vloop_add_fd(s->loop, ls->fd, EPOLLIN, on_listener, ls)) {
			if (!err[0])
				snprintf(err, errlen, "QMP: cannot watch a socket");
			goto fail;
		}
	}
	return s;
fail:
	xvqmp_server_free(s);
	return NULL;
}

static void *serve(void *opaque)
{
	struct xvqmp_server *s = opaque;

	vloop_run(s->loop);
	return NULL;
}

int xvqmp_server_start(struct xvqmp_server *s)
{
	int rc = pthread_create(&s->thread, NULL, serve, s);

	if (rc)
		return -rc;
	s->running = true;
	return 0;
}

unsigned int xvqmp_server_clients(struct xvqmp_server *s)
{
	return atomic_load(&s->n_clients);
}

void xvqmp_server_free(struct xvqmp_server *s)
{
	if (!s)
		return;
	if (s->running) {
		vloop_stop(s->loop);
		pthread_join(s->thread, NULL);
	}
	for (unsigned int i = 0; i < XVQMP_MAX_CLIENTS; i++)
		if (s->clients[i])
			drop_client(s->clients[i]);
	for (unsigned int i = 0; i < s->n_listen; i++) {
		if (s->listen[i].fd >= 0)
			close(s->listen[i].fd);
		if (s->listen[i].path)
			unlink(s->listen[i].path);
		free(s->listen[i].path);
	}
	vloop_free(s->loop);
	free(s);
}
