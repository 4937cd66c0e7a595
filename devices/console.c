// SPDX-License-Identifier: MIT
/*
 * virtio-console (virtio 1.2, 5.3): the guest's hvc0, and more named ports.
 *
 *   console[,socket=PATH | ,log=PATH | ,path=FILE][,name=NAME]
 *          [,portN.name=NAME][,portN.socket=PATH | ,portN.log=PATH |
 *           ,portN.path=FILE]...
 *
 * Port 0 is the console. The host side of a port is a new pty by default
 * (its path is logged, and written to FILE with path=), a listening unix
 * socket serving one client at a time (socket=), or a file guest output is
 * appended to, with no input (log=). name= names the port for the guest
 * (/sys/class/virtio-ports/vportXpY/name, and /dev/virtio-ports/NAME where
 * udev runs). Ports 1, 2, ... (keys portN.*, numbered without gaps) exist
 * for a driver that negotiates VIRTIO_CONSOLE_F_MULTIPORT; each has the same
 * keys as port 0 and its own host side.
 *
 * Queues: receiveq 0 and transmitq 1 for port 0, then with MULTIPORT the
 * control receiveq 2 and transmitq 3 (console_ctrl.c), then receiveq and
 * transmitq 2N+2, 2N+3 for port N. How bytes move, and when they are
 * dropped, is in console_port.c.
 *
 * VIRTIO_CONSOLE_F_SIZE: config space has port 0's size: its pty's, 80x25
 * for the other back ends. A pty's size is polled (a resize of a pty wakes
 * nobody on the master side); a change updates config space with a config
 * interrupt and, with MULTIPORT, is sent as VIRTIO_CONSOLE_RESIZE, the only
 * way Linux takes it then. VIRTIO_CONSOLE_F_EMERG_WRITE: a byte written to
 * emerg_wr goes to port 0's host side, at any time, even before the driver
 * has set the device up (the spec allows that).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "console.h"
#include "devices.h"
#include "log.h"

#define CON_QUEUE_SIZE	128
#define CON_SIZE_POLL_NS	500000000	/* how often a pty's size is read */
#define CON_CFG_EMERG	offsetof(struct virtio_console_config, emerg_wr)

bool con_queue_live(struct vdev *dev, unsigned int q)
{
	struct con *c = dev->priv;

	/* Past port 0's pair, queues exist for a MULTIPORT driver only. */
	return q < dev->num_queues && (q < 2 || c->multiport) &&
	       vdev_running(dev) && atomic_load(&dev->queues[q].ready) &&
	       !dev->queues[q].vq.broken;
}

bool con_elem_fit(struct virtq_elem **e, struct virtq *vq)
{
	if (*e && (*e)->iov_cap >= vq->max_iov)
		return true;
	virtq_elem_free(*e);
	*e = virtq_elem_new(vq);
	return *e;
}

/*
 * The name goes to the guest's udev rules: keep it to safe characters, and
 * unique, or two ports would claim one /dev/virtio-ports/ link.
 */
static int parse_name(struct con *c, struct con_port *p, const char *key,
		      struct vopts *o, char *err, size_t errlen)
{
	const char *name = vopts_get(o, key);
	size_t n;

	if (!name)
		return 0;
	n = strlen(name);
	if (!n || n > CON_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") != n) {
		snprintf(err, errlen, "console: %s=%s: 1..%d of [A-Za-z0-9._-]",
			 key, name, CON_NAME_MAX);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < p->id; i++) {
		if (!strcmp(c->ports[i].name, name)) {
			snprintf(err, errlen, "console: %s=%s: port %u has that name",
				 key, name, i);
			return -EINVAL;
		}
	}
	memcpy(p->name, name, n + 1);
	return 0;
}

/* "portN." with N in 1..CON_MAX_PORTS-1: N; 0 for any other key. */
static unsigned int extra_port_of(const char *key)
{
	unsigned long n;
	char *end;

	if (strncmp(key, "port", 4) || key[4] < '1' || key[4] > '9')
		return 0;
	n = strtoul(key + 4, &end, 10);
	return *end == '.' && n < CON_MAX_PORTS ? n : 0;
}

/* Ports the options ask for: 1 + the highest N of the portN.* keys. */
static int count_ports(const struct vopts *o, char *err, size_t errlen)
{
	bool seen[CON_MAX_PORTS] = { false };
	unsigned int max = 0;

	for (unsigned int i = 0; i < o->n; i++) {
		unsigned int n = extra_port_of(o->kv[i].key);

		if (!n && !strncmp(o->kv[i].key, "port", 4)) {
			snprintf(err, errlen, "console: %s: extra ports are port1.* to port%d.*",
				 o->kv[i].key, CON_MAX_PORTS - 1);
			return -EINVAL;
		}
		seen[n] = true;
		if (n > max)
			max = n;
	}
	for (unsigned int n = 1; n < max; n++) {
		if (!seen[n]) {
			snprintf(err, errlen, "console: port%u.* given without port%u.*",
				 max, n);
			return -EINVAL;
		}
	}
	return max + 1;
}

static void fill_config(struct vdev *dev, struct con *c)
{
	struct virtio_console_config cfg = { 0 };

	cfg.cols = htole16(c->cols);
	cfg.rows = htole16(c->rows);
	cfg.max_nr_ports = htole32(c->nports);
	memcpy(dev->config, &cfg, sizeof(cfg));
	dev->config_len = sizeof(cfg);
}

/* Worker: the pty may have been resized. */
static void size_poll(int fd, uint32_t events, void *opaque)
{
	struct con *c = opaque;
	uint16_t cols, rows;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) < 0) {
		/* not expired yet: nothing to do */
	}
	c->size_known = con_port_size(&c->ports[0], &cols, &rows);
	if (cols == c->cols && rows == c->rows)
		return;
	log_info("%s: console size %ux%u", c->dev->name, cols, rows);
	c->cols = cols;
	c->rows = rows;
	fill_config(c->dev, c);
	vdev_config_changed(c->dev);
	con_ctrl_resize(c);
}

/* Before the worker exists, so the loop may be set up from here. */
static int watch_size(struct vdev *dev, struct con *c, char *err,
		      size_t errlen)
{
	struct itimerspec its = {
		.it_interval.tv_nsec = CON_SIZE_POLL_NS,
		.it_value.tv_nsec = CON_SIZE_POLL_NS,
	};
	int rc;

	c->size_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->size_timer < 0 || timerfd_settime(c->size_timer, 0, &its, NULL)) {
		snprintf(err, errlen, "console: timerfd: %m");
		return -errno;
	}
	rc = vdev_add_fd(dev, c->size_timer, EPOLLIN, size_poll, c);
	if (rc) {
		snprintf(err, errlen, "console: cannot watch the pty's size: %s",
			 strerror(-rc));
		close(c->size_timer);
		c->size_timer = -1;
	}
	return rc;
}

static void con_destroy(struct vdev *dev)
{
	struct con *c = dev->priv;

	if (!c)
		return;
	if (c->size_timer >= 0) {
		vdev_del_fd(dev, c->size_timer);
		close(c->size_timer);
	}
	for (unsigned int i = 0; c->ports && i < c->nports; i++)
		con_port_close(&c->ports[i]);
	free(c->ports);
	virtq_elem_free(c->ctrl_rx_elem);
	virtq_elem_free(c->ctrl_tx_elem);
	free(c);
	dev->priv = NULL;
}

static int open_ports(struct con *c, struct vopts *o, char *err, size_t errlen)
{
	int rc = 0;

	for (unsigned int i = 0; !rc && i < c->nports; i++) {
		struct con_port *p = &c->ports[i];
		char prefix[16] = "", key[32];

		if (i)
			snprintf(prefix, sizeof(prefix), "port%u.", i);
		snprintf(key, sizeof(key), "%sname", prefix);
		rc = parse_name(c, p, key, o, err, errlen);
		if (!rc)
			rc = con_port_open(p, o, prefix, err, errlen);
	}
	return rc;
}

static int con_create(struct vdev *dev, struct vopts *o, char *err,
		      size_t errlen)
{
	struct con *c = calloc(1, sizeof(*c));
	int rc = count_ports(o, err, errlen);

	if (rc < 0) {
		free(c);
		return rc;
	}
	if (!c || !(c->ports = calloc(rc, sizeof(*c->ports)))) {
		free(c);
		snprintf(err, errlen, "console: out of memory");
		return -ENOMEM;
	}
	c->dev = dev;
	c->nports = rc;
	c->size_timer = -1;
	dev->priv = c;
	for (unsigned int i = 0; i < c->nports; i++) {
		struct con_port *p = &c->ports[i];

		*p = (struct con_port){ .con = c, .id = i, .fd = -1,
					.listen_fd = -1, .pty_slave = -1,
					.rxq = i ? 2 * i + 2 : 0,
					.txq = i ? 2 * i + 3 : 1 };
	}
	rc = open_ports(c, o, err, errlen);
	c->size_known = con_port_size(&c->ports[0], &c->cols, &c->rows);
	if (!rc && c->ports[0].backend == CON_PTY)
		rc = watch_size(dev, c, err, errlen);
	if (rc) {
		con_destroy(dev);
		return rc;
	}
	dev->num_queues = 2 * c->nports + 2;
	for (unsigned int q = 0; q < dev->num_queues; q++)
		dev->queues[q].num_max = CON_QUEUE_SIZE;
	dev->host_features = 1ull << VIRTIO_CONSOLE_F_SIZE |
			     1ull << VIRTIO_CONSOLE_F_MULTIPORT |
			     1ull << VIRTIO_CONSOLE_F_EMERG_WRITE;
	fill_config(dev, c);
	return 0;
}

static int con_start(struct vdev *dev)
{
	struct con *c = dev->priv;

	c->multiport = vdev_has_feature(dev, VIRTIO_CONSOLE_F_MULTIPORT);
	return 0;
}

static void con_kick(struct vdev *dev, unsigned int q)
{
	struct con *c = dev->priv;
	struct con_port *p;

	/* The worker's loop exists only once the device runs: watch now. */
	for (unsigned int i = 0; i < c->nports; i++)
		con_port_arm(&c->ports[i]);
	if (q == CON_CTRL_RXQ) {
		con_ctrl_rx(c);
		return;
	}
	if (q == CON_CTRL_TXQ) {
		con_ctrl_tx(c);
		return;
	}
	p = &c->ports[q < 2 ? 0 : q / 2 - 1];
	if (p->id && !c->multiport)
		return;
	if (q & 1)
		con_port_tx(p);
	else
		con_port_rx(p);
}

/* Transport thread, dev->lock held: vdev has stored the bytes already. */
static void con_config_write(struct vdev *dev, uint32_t off, uint32_t len)
{
	struct con *c = dev->priv;

	if (off == CON_CFG_EMERG)
		con_port_emerg_write(&c->ports[0], dev->config[off]);
	else
		vdev_guest_error(dev, "write of %u bytes to read-only config at 0x%x",
				 len, off);
	/* emerg_wr reads as 0; the other fields are the device's. */
	fill_config(dev, c);
}

static void con_reset(struct vdev *dev)
{
	struct con *c = dev->priv;

	con_ctrl_reset(c);
	for (unsigned int i = 0; i < c->nports; i++)
		con_port_reset(&c->ports[i]);
}

const struct vdev_model vdev_console_model = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.summary = "console (hvc0) and named ports on ptys, unix sockets or log files",
	.options = "socket=PATH|log=PATH|path=FILE,name=NAME,"
		   "portN.name=NAME,portN.socket=PATH|portN.log=PATH|portN.path=FILE",
	.create = con_create,
	.destroy = con_destroy,
	.start = con_start,
	.queue_kick = con_kick,
	.reset = con_reset,
	.config_write = con_config_write,
};
