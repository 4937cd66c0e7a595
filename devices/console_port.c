// SPDX-License-Identifier: MIT
/*
 * One virtio-console port: bytes between its receiveq/transmitq and its host
 * side. Nothing is lost in either direction:
 *
 * Guest to host. A transmitq chain is given back only once all its bytes are
 * written. When the host side is slow (EAGAIN) the chain is kept with the
 * count written so far, no further chain is popped, and the fd is watched for
 * EPOLLOUT; the driver sees a full queue and waits. Two exceptions drop bytes
 * on purpose, so that a guest never hangs on an absent reader: a socket port
 * with no client connected (or whose client hung up), and a pty or log file
 * whose write failed for good. A pty with nobody on its slave side does not
 * drop: the device keeps the slave open, so the pty buffers guest output
 * (hundreds of KiB on Linux) for the next reader, and holds the guest back
 * once that is full.
 *
 * Host to guest. The fd is read only into a receiveq buffer already popped;
 * with no buffer the fd is not watched for EPOLLIN (the bytes wait in the
 * kernel) until the driver kicks the receiveq.
 *
 * A transmitq chain with a writable descriptor, or a receiveq chain with a
 * readable one or no writable byte, is a guest error: it is given back with
 * used length 0 and the port goes on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "log.h"

#define CON_DEFAULT_COLS 80
#define CON_DEFAULT_ROWS 25

/* ---- watching the host fd ------------------------------------------- */

static void port_io(int fd, uint32_t events, void *opaque);

/*
 * An open host side stays registered even when no event is wanted, so that
 * a client hanging up (EPOLLHUP, always reported) is noticed at once. A
 * hung-up one that is not drained yet would report it for ever: it is
 * registered only while it is read.
 */
static void port_watch(struct con_port *p, uint32_t events)
{
	struct vdev *dev = p->con->dev;
	bool reg = events || con_port_host_open(p);
	int rc;

	if (p->fd < 0 || p->backend == CON_LOG ||
	    (reg == p->registered && events == p->watching))
		return;
	if (p->registered)
		vdev_del_fd(dev, p->fd);
	p->registered = false;
	p->watching = 0;
	if (!reg)
		return;
	rc = vdev_add_fd(dev, p->fd, events, port_io, p);
	if (rc) {
		vdev_fail(dev, "port %u: cannot watch its host side: %s", p->id,
			  strerror(-rc));
		return;
	}
	p->registered = true;
	p->watching = events;
}

static void port_want(struct con_port *p, uint32_t events, bool on)
{
	port_watch(p, on ? p->watching | events : p->watching & ~events);
}

/* The socket client is gone: close it; output is dropped until the next. */
static void port_disconnect(struct con_port *p)
{
	if (p->registered)
		vdev_del_fd(p->con->dev, p->fd);
	p->registered = false;
	p->watching = 0;
	close(p->fd);
	p->fd = -1;
	p->peer_gone = false;
	log_info("%s: port %u: client disconnected", p->con->dev->name, p->id);
	con_ctrl_host_open(p, false);
	/* A chain held for the client would wait for ever: drop it now. */
	if (p->tx_held)
		con_port_tx(p);
}

/* The host side failed for good (not a socket client hanging up). */
static void port_host_failed(struct con_port *p, const char *what, int err)
{
	if (p->backend == CON_SOCKET) {
		p->peer_gone = true;
		return;
	}
	if (!p->host_dead)
		log_err("%s: port %u: %s: %s; dropping its output from now on",
			p->con->dev->name, p->id, what, strerror(err));
	p->host_dead = true;
	port_watch(p, 0);
}

bool con_port_host_open(const struct con_port *p)
{
	return p->fd >= 0 && !p->peer_gone && !p->host_dead;
}

/* ---- guest to host -------------------------------------------------------- */

/* Bytes taken (written or dropped), or -1 with errno EAGAIN. */
static ssize_t host_write(struct con_port *p, const void *buf, size_t len)
{
	ssize_t n;

	if (!con_port_host_open(p))
		return len;
	do {
		if (p->backend == CON_SOCKET)
			n = send(p->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = write(p->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n >= 0 || errno == EAGAIN)
		return n;
	port_host_failed(p, "write", errno);
	return len;
}

/* Write what is left of the held chain; false if the host side is full. */
static bool tx_flush(struct con_port *p)
{
	struct virtq_elem *e = p->tx_elem;
	size_t skip = p->tx_done;

	for (unsigned int i = 0; i < e->out_num; i++) {
		const struct iovec *v = &e->iov[i];

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		while (skip < v->iov_len) {
			ssize_t n = host_write(p, (char *)v->iov_base + skip,
					       v->iov_len - skip);

			if (n < 0)
				return false;
			skip += n;
			p->tx_done += n;
		}
		skip = 0;
	}
	return true;
}

/* Pop the next chain into tx_elem: 1, 0 (queue empty) or -1. */
static int tx_pop(struct con_port *p, struct virtq *vq, bool *pushed)
{
	int rc;

	while ((rc = virtq_pop(vq, p->tx_elem)) > 0) {
		if (!p->tx_elem->in_num) {
			p->tx_held = true;
			p->tx_done = 0;
			return 1;
		}
		vdev_guest_error(p->con->dev, "port %u: writable transmit chain",
				 p->id);
		virtq_push_elem(vq, p->tx_elem, 0);
		*pushed = true;
	}
	return rc;
}

void con_port_tx(struct con_port *p)
{
	struct vdev *dev = p->con->dev;
	struct virtq *vq = &dev->queues[p->txq].vq;
	bool pushed = false;
	int rc = 0;

	if (!con_queue_live(dev, p->txq)) {
		p->tx_held = false;
		virtq_elem_drop(p->tx_elem);
		port_want(p, EPOLLOUT, false);
		return;
	}
	if (!p->tx_held && !con_elem_fit(&p->tx_elem, vq)) {
		vdev_fail(dev, "out of memory");
		return;
	}
	do {
		virtq_disable_kicks(vq);
		while (p->tx_held || (rc = tx_pop(p, vq, &pushed)) > 0) {
			if (!tx_flush(p)) {
				/* Kicks stay off: EPOLLOUT resumes us. */
				port_want(p, EPOLLOUT, true);
				goto out;
			}
			virtq_push_elem(vq, p->tx_elem, 0);
			p->tx_held = false;
			pushed = true;
		}
	} while (rc == 0 && virtq_enable_kicks(vq));
	port_want(p, EPOLLOUT, false);
out:
	if (pushed)
		vdev_queue_interrupt(dev, p->txq);
}

/* ---- host to guest -------------------------------------------------------- */

static bool rx_wanted(const struct con_port *p)
{
	return p->backend != CON_LOG && p->fd >= 0 && !p->host_dead &&
	       (!p->con->multiport || p->guest_open);
}

/* Read into the popped chain: 1 (pushed), 0 (nothing to read), -1 (EOF). */
static int rx_fill(struct con_port *p, struct virtq *vq)
{
	struct virtq_elem *e = p->rx_elem;
	ssize_t n;

	do
		n = readv(p->fd, e->iov, e->in_num);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		virtq_push_elem(vq, e, n);
		return 1;
	}
	virtq_unpop(vq);
	virtq_elem_drop(e);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0 && p->backend != CON_SOCKET)
		port_host_failed(p, "read", errno);
	return -1;
}

void con_port_rx(struct con_port *p)
{
	struct vdev *dev = p->con->dev;
	struct virtq *vq = &dev->queues[p->rxq].vq;
	bool pushed = false;
	int rc, got;

	if (!con_queue_live(dev, p->rxq) || !rx_wanted(p)) {
		port_want(p, EPOLLIN, false);
		return;
	}
	if (!con_elem_fit(&p->rx_elem, vq)) {
		vdev_fail(dev, "out of memory");
		return;
	}
	do {
		virtq_disable_kicks(vq);
		while ((rc = virtq_pop(vq, p->rx_elem)) > 0) {
			if (p->rx_elem->out_num || !p->rx_elem->in_len) {
				vdev_guest_error(dev, "port %u: receive chain readable or empty",
						 p->id);
				virtq_push_elem(vq, p->rx_elem, 0);
				pushed = true;
				continue;
			}
			got = rx_fill(p, vq);
			if (got > 0) {
				pushed = true;
				continue;
			}
			if (got < 0 && p->backend == CON_SOCKET)
				port_disconnect(p);
			else if (!got)
				port_want(p, EPOLLIN, true);
			goto out;
		}
	} while (rc == 0 && virtq_enable_kicks(vq));
	/* No buffer: leave the bytes in the kernel until the driver kicks. */
	port_want(p, EPOLLIN, false);
out:
	if (pushed)
		vdev_queue_interrupt(dev, p->rxq);
}

/*
 * The client hung up and the guest has no receive buffer for what it sent
 * last. A hung-up socket polls readable for ever, so stop watching it: the
 * next receive kick drains it, or a new client replaces it.
 */
static void port_hung_up(struct con_port *p)
{
	int unread = 0;

	if (ioctl(p->fd, FIONREAD, &unread) || !unread)
		port_disconnect(p);
	else
		port_watch(p, 0);
}

static void port_io(int fd, uint32_t events, void *opaque)
{
	struct con_port *p = opaque;

	if ((events & (EPOLLHUP | EPOLLERR)) && p->backend == CON_SOCKET)
		p->peer_gone = true;
	else if (events & (EPOLLHUP | EPOLLERR))
		port_host_failed(p, "poll", EPIPE);
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		con_port_tx(p);
	if (p->fd == fd && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		con_port_rx(p);
	if (p->fd == fd && p->peer_gone)
		port_hung_up(p);
}

/* ---- socket clients ----------------------------------------------------- */

static void port_accept(int fd, uint32_t events, void *opaque)
{
	struct con_port *p = opaque;
	const char *name = p->con->dev->name;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	if (p->fd >= 0 && p->peer_gone)
		port_disconnect(p);
	if (p->fd >= 0) {
		log_warn("%s: port %u: refusing a second client", name, p->id);
		close(cfd);
		return;
	}
	p->fd = cfd;
	log_info("%s: port %u: client connected", name, p->id);
	con_ctrl_host_open(p, true);
	con_port_tx(p);
	con_port_rx(p);
}

void con_port_arm(struct con_port *p)
{
	struct vdev *dev = p->con->dev;
	int rc;

	if (p->listen_fd < 0 || p->listen_watched)
		return;
	rc = vdev_add_fd(dev, p->listen_fd, EPOLLIN, port_accept, p);
	if (rc)
		vdev_fail(dev, "port %u: cannot watch %s: %s", p->id, p->path,
			  strerror(-rc));
	else
		p->listen_watched = true;
}

/* ---- opening the host side ----------------------------------------------- */

static int open_socket(struct con_port *p, const char *key, const char *path,
		       char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "console: %s=%s: path too long", key, path);
		return -EINVAL;
	}
	/* Binding it again below would unlink the other port's socket. */
	for (unsigned int i = 0; i < p->id; i++) {
		if (p->con->ports[i].path && !strcmp(p->con->ports[i].path, path)) {
			snprintf(err, errlen, "console: %s=%s: port %u listens there",
				 key, path, i);
			return -EINVAL;
		}
	}
	strcpy(sa.sun_path, path);
	p->path = strdup(path);
	p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!p->path || p->listen_fd < 0) {
		snprintf(err, errlen, "console: socket: %m");
		return -errno;
	}
	/* A socket left by an earlier run would make bind() fail. */
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(p->listen_fd, 1)) {
		snprintf(err, errlen, "console: %s=%s: %m", key, path);
		free(p->path);
		p->path = NULL;
		return -errno;
	}
	return 0;
}

static int write_path_file(const char *key, const char *file, const char *pts,
			   char *err, size_t errlen)
{
	FILE *f = fopen(file, "we");

	if (!f || fprintf(f, "%s\n", pts) < 0 || fclose(f)) {
		snprintf(err, errlen, "console: %s=%s: %m", key, file);
		if (f)
			fclose(f);
		return -EIO;
	}
	return 0;
}

/*
 * The device holds the slave side open: a pty master whose slave nobody has
 * open reports EPOLLHUP for ever, and guest output written meanwhile waits
 * in the pty for the next reader. Raw mode: the slave's line discipline must
 * neither echo guest output back to the guest nor cook the user's input.
 */
static int open_pty(struct con_port *p, const char *key, const char *path_file,
		    char *err, size_t errlen)
{
	char pts[128];
	struct termios t;

	p->fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->fd < 0 || grantpt(p->fd) || unlockpt(p->fd) ||
	    ptsname_r(p->fd, pts, sizeof(pts))) {
		snprintf(err, errlen, "console: cannot open a pty: %m");
		return -errno;
	}
	p->pty_slave = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->pty_slave < 0 || tcgetattr(p->pty_slave, &t)) {
		snprintf(err, errlen, "console: %s: %m", pts);
		return -errno;
	}
	cfmakeraw(&t);
	if (tcsetattr(p->pty_slave, TCSANOW, &t) ||
	    fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK)) {
		snprintf(err, errlen, "console: %s: %m", pts);
		return -errno;
	}
	log_info("%s: port %u: %s on %s", p->con->dev->name, p->id,
		 p->id ? "port" : "console", pts);
	return path_file ? write_path_file(key, path_file, pts, err, errlen) : 0;
}

static int open_log(struct con_port *p, const char *key, const char *path,
		    char *err, size_t errlen)
{
	p->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (p->fd < 0) {
		snprintf(err, errlen, "console: %s=%s: %m", key, path);
		return -errno;
	}
	return 0;
}

int con_port_open(struct con_port *p, struct vopts *o, const char *prefix,
		  char *err, size_t errlen)
{
	char ks[32], kl[32], kp[32];
	const char *sock, *logf, *path;

	snprintf(ks, sizeof(ks), "%ssocket", prefix);
	snprintf(kl, sizeof(kl), "%slog", prefix);
	snprintf(kp, sizeof(kp), "%spath", prefix);
	sock = vopts_get(o, ks);
	logf = vopts_get(o, kl);
	path = vopts_get(o, kp);
	if (sock && logf) {
		snprintf(err, errlen, "console: %s= and %s= exclude each other", ks, kl);
		return -EINVAL;
	}
	if (path && (sock || logf)) {
		snprintf(err, errlen, "console: %s= goes with the pty backend only", kp);
		return -EINVAL;
	}
	if ((sock && !*sock) || (logf && !*logf) || (path && !*path)) {
		snprintf(err, errlen, "console: %s: empty path",
			 sock ? ks : logf ? kl : kp);
		return -EINVAL;
	}
	if (sock) {
		p->backend = CON_SOCKET;
		return open_socket(p, ks, sock, err, errlen);
	}
	if (logf) {
		p->backend = CON_LOG;
		return open_log(p, kl, logf, err, errlen);
	}
	p->backend = CON_PTY;
	return open_pty(p, kp, path, err, errlen);
}

/* Runs with no worker: nothing else uses the port. */
void con_port_close(struct con_port *p)
{
	struct vdev *dev = p->con->dev;

	if (p->registered)
		vdev_del_fd(dev, p->fd);
	if (p->listen_watched)
		vdev_del_fd(dev, p->listen_fd);
	if (p->fd >= 0)
		close(p->fd);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->pty_slave >= 0)
		close(p->pty_slave);
	if (p->path)
		unlink(p->path);
	free(p->path);
	virtq_elem_free(p->rx_elem);
	virtq_elem_free(p->tx_elem);
}

void con_port_reset(struct con_port *p)
{
	p->tx_held = false;
	virtq_elem_drop(p->tx_elem);
	p->tx_done = 0;
	p->guest_ready = false;
	p->guest_open = false;
}

bool con_port_size(const struct con_port *p, uint16_t *cols, uint16_t *rows)
{
	struct winsize ws;

	*cols = CON_DEFAULT_COLS;
	*rows = CON_DEFAULT_ROWS;
	if (p->backend != CON_PTY || ioctl(p->fd, TIOCGWINSZ, &ws) ||
	    !ws.ws_col || !ws.ws_row)
		return false;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return true;
}

/*
 * No state changes here: the caller may be the transport's thread, and a
 * failing host side is noticed by the worker on its next write.
 */
void con_port_emerg_write(struct con_port *p, uint8_t byte)
{
	ssize_t n;

	if (!con_port_host_open(p))
		return;
	do {
		if (p->backend == CON_SOCKET)
			n = send(p->fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = write(p->fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
}
