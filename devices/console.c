// SPDX-License-Identifier: MIT
/*
 * virtio-console (virtio 1.2, 5.3): the guest's hvc0.
 *
 *   console[,socket=PATH | ,log=PATH | ,path=FILE][,name=NAME]
 *
 * The host side is a new pty by default (its path is logged, and written to
 * FILE with path=), a listening unix socket serving one client at a time
 * (socket=), or a file guest output is appended to, with no input (log=).
 * name= names the port for the guest (/dev/virtio-ports/NAME) when the
 * driver negotiates VIRTIO_CONSOLE_F_MULTIPORT.
 *
 * Queues: receiveq 0 and transmitq 1 for port 0, then with MULTIPORT the
 * control receiveq 2 and transmitq 3 (console_ctrl.c). VIRTIO_CONSOLE_F_SIZE
 * gives the pty's size at creation, 80x25 for the other back ends. How bytes
 * move, and when they are dropped, is in console_port.c.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include "console.h"
#include "devices.h"
#include "log.h"

#define CON_QUEUE_SIZE	128
#define CON_NPORTS	1

bool con_queue_live(struct vdev *dev, unsigned int q)
{
	return q < dev->num_queues && vdev_running(dev) &&
	       atomic_load(&dev->queues[q].ready) && !dev->queues[q].vq.broken;
}

bool con_elem_fit(struct virtq_elem **e, struct virtq *vq)
{
	if (*e && (*e)->iov_cap >= vq->max_iov)
		return true;
	free(*e);
	*e = virtq_elem_new(vq);
	return *e;
}

/* The name goes to the guest's udev rules: keep it to safe characters. */
static int parse_name(struct con_port *p, const char *name, char *err,
		      size_t errlen)
{
	size_t n = strlen(name);

	if (!n || n > CON_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") != n) {
		snprintf(err, errlen, "console: name=%s: 1..%d of [A-Za-z0-9._-]",
			 name, CON_NAME_MAX);
		return -EINVAL;
	}
	memcpy(p->name, name, n + 1);
	return 0;
}

static void fill_config(struct vdev *dev, struct con *c)
{
	struct virtio_console_config cfg = { 0 };
	uint16_t cols, rows;

	con_port_size(&c->ports[0], &cols, &rows);
	cfg.cols = htole16(cols);
	cfg.rows = htole16(rows);
	cfg.max_nr_ports = htole32(c->nports);
	memcpy(dev->config, &cfg, sizeof(cfg));
	dev->config_len = sizeof(cfg);
}

static void con_destroy(struct vdev *dev)
{
	struct con *c = dev->priv;

	if (!c)
		return;
	for (unsigned int i = 0; c->ports && i < c->nports; i++)
		con_port_close(&c->ports[i]);
	free(c->ports);
	free(c->ctrl_rx_elem);
	free(c->ctrl_tx_elem);
	free(c);
	dev->priv = NULL;
}

static int con_create(struct vdev *dev, struct vopts *o, char *err,
		      size_t errlen)
{
	struct con *c = calloc(1, sizeof(*c));
	const char *name;
	int rc = 0;

	if (!c || !(c->ports = calloc(CON_NPORTS, sizeof(*c->ports)))) {
		free(c);
		snprintf(err, errlen, "console: out of memory");
		return -ENOMEM;
	}
	c->dev = dev;
	c->nports = CON_NPORTS;
	dev->priv = c;
	for (unsigned int i = 0; i < c->nports; i++) {
		struct con_port *p = &c->ports[i];

		*p = (struct con_port){ .con = c, .id = i, .fd = -1,
					.listen_fd = -1, .pty_slave = -1,
					.rxq = i ? 2 * i + 2 : 0,
					.txq = i ? 2 * i + 3 : 1 };
	}
	name = vopts_get(o, "name");
	if (name)
		rc = parse_name(&c->ports[0], name, err, errlen);
	if (!rc)
		rc = con_port_open(&c->ports[0], o, err, errlen);
	if (rc) {
		con_destroy(dev);
		return rc;
	}
	dev->num_queues = 2 * c->nports + 2;
	for (unsigned int q = 0; q < dev->num_queues; q++)
		dev->queues[q].num_max = CON_QUEUE_SIZE;
	dev->host_features = 1ull << VIRTIO_CONSOLE_F_SIZE |
			     1ull << VIRTIO_CONSOLE_F_MULTIPORT;
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
	.summary = "console (hvc0) on a pty, a unix socket or a log file",
	.options = "socket=PATH|log=PATH|path=FILE,name=NAME",
	.create = con_create,
	.destroy = con_destroy,
	.start = con_start,
	.queue_kick = con_kick,
	.reset = con_reset,
};
