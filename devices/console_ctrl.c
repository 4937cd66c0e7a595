// SPDX-License-Identifier: MIT
/*
 * virtio-console control queues (VIRTIO_CONSOLE_F_MULTIPORT, virtio 1.2,
 * 5.3.6.2). The driver says DEVICE_READY; the device announces each port
 * with PORT_ADD; the driver answers PORT_READY per port; the device then
 * marks port 0 as the console (CONSOLE_PORT) and gives its size (RESIZE,
 * when its host side has one), names the port (PORT_NAME) and says whether
 * its host side is connected (PORT_OPEN), and later PORT_OPEN 1 or 0 when
 * a socket client comes or goes. The driver's PORT_OPEN tells when a guest
 * program has the port open (Linux sends it for the console at once): host
 * input is read for a port only then, since Linux discards what arrives on
 * a closed port.
 *
 * Messages to the driver wait in a bounded FIFO for control receive
 * buffers. Every message from the driver is checked (size, port id, event);
 * a bad one is a guest error and is dropped.
 */
#include <endian.h>
#include <string.h>

#include "console.h"
#include "log.h"

/* Give queued messages to the driver while it has buffers for them. */
void con_ctrl_rx(struct con *c)
{
	struct vdev *dev = c->dev;
	struct virtq *vq = &dev->queues[CON_CTRL_RXQ].vq;
	bool pushed = false;
	int rc = 0;

	if (!c->multiport || !con_queue_live(dev, CON_CTRL_RXQ) || !c->msg_count)
		return;
	if (!con_elem_fit(&c->ctrl_rx_elem, vq)) {
		vdev_fail(dev, "out of memory");
		return;
	}
again:
	while (c->msg_count && (rc = virtq_pop(vq, c->ctrl_rx_elem)) > 0) {
		struct virtq_elem *e = c->ctrl_rx_elem;
		struct con_msg *m = &c->msgs[c->msg_head];
		uint8_t buf[sizeof(m->hdr) + sizeof(m->payload)];

		pushed = true;
		if (e->out_num || e->in_len < m->len) {
			vdev_guest_error(dev, "control receive chain too short (%u bytes) or readable",
					 m->len);
			virtq_push_elem(vq, e, 0);
			continue;
		}
		memcpy(buf, &m->hdr, sizeof(m->hdr));
		memcpy(buf + sizeof(m->hdr), m->payload, m->len - sizeof(m->hdr));
		virtq_buf_to_iov(e->iov, e->in_num, 0, buf, m->len);
		virtq_push_elem(vq, e, m->len);
		c->msg_head = (c->msg_head + 1) % CON_MSG_QUEUE;
		c->msg_count--;
	}
	/* Messages left and no buffer: ask for a kick (EVENT_IDX needs it). */
	if (c->msg_count && !rc && virtq_enable_kicks(vq))
		goto again;
	if (pushed)
		vdev_queue_interrupt(dev, CON_CTRL_RXQ);
}

void con_ctrl_send(struct con *c, uint32_t id, uint16_t event, uint16_t value,
		   const void *payload, size_t len)
{
	struct con_msg *m;

	if (c->msg_count == CON_MSG_QUEUE) {
		/* Only a driver that posts no control buffers gets here. */
		vdev_guest_error(c->dev, "control messages not taken, dropping event %u",
				 event);
		return;
	}
	m = &c->msgs[(c->msg_head + c->msg_count++) % CON_MSG_QUEUE];
	m->hdr.id = htole32(id);
	m->hdr.event = htole16(event);
	m->hdr.value = htole16(value);
	if (len)
		memcpy(m->payload, payload, len);
	m->len = sizeof(m->hdr) + len;
	con_ctrl_rx(c);
}

void con_ctrl_host_open(struct con_port *p, bool open)
{
	if (p->con->multiport && p->guest_ready)
		con_ctrl_send(p->con, p->id, VIRTIO_CONSOLE_PORT_OPEN, open, NULL, 0);
}

void con_ctrl_resize(struct con *c)
{
	struct con_resize r = {
		.rows = htole16(c->rows), .cols = htole16(c->cols),
	};

	if (c->multiport && c->ports[0].guest_ready &&
	    vdev_has_feature(c->dev, VIRTIO_CONSOLE_F_SIZE))
		con_ctrl_send(c, 0, VIRTIO_CONSOLE_RESIZE, 0, &r, sizeof(r));
}

static void port_ready(struct con *c, struct con_port *p, uint16_t ok)
{
	if (!ok) {
		vdev_guest_log(c->dev, VLOG_WARN, "driver could not set up port %u", p->id);
		return;
	}
	p->guest_ready = true;
	if (p->id == 0) {
		con_ctrl_send(c, p->id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
		/* Linux takes a size only for a port it made a console. */
		if (c->size_known)
			con_ctrl_resize(c);
	}
	if (p->name[0])
		con_ctrl_send(c, p->id, VIRTIO_CONSOLE_PORT_NAME, 1, p->name,
			      strlen(p->name));
	if (con_port_host_open(p))
		con_ctrl_send(c, p->id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0);
}

static void handle(struct con *c, const struct virtio_console_control *m)
{
	uint32_t id = le32toh(m->id);
	uint16_t event = le16toh(m->event), value = le16toh(m->value);
	struct con_port *p = id < c->nports ? &c->ports[id] : NULL;

	if (event == VIRTIO_CONSOLE_DEVICE_READY) {
		if (!value) {
			vdev_guest_log(c->dev, VLOG_WARN, "driver could not set up the device");
			return;
		}
		for (unsigned int i = 0; i < c->nports; i++)
			con_ctrl_send(c, i, VIRTIO_CONSOLE_PORT_ADD, 0, NULL, 0);
		return;
	}
	if (!p) {
		vdev_guest_error(c->dev, "control event %u for port %u of %u", event,
				 id, c->nports);
		return;
	}
	if (event == VIRTIO_CONSOLE_PORT_READY) {
		port_ready(c, p, value);
	} else if (event == VIRTIO_CONSOLE_PORT_OPEN) {
		p->guest_open = value;
		con_port_rx(p);
	} else {
		vdev_guest_error(c->dev, "control event %u from the driver", event);
	}
}

void con_ctrl_tx(struct con *c)
{
	struct vdev *dev = c->dev;
	struct virtq *vq = &dev->queues[CON_CTRL_TXQ].vq;
	bool pushed = false;
	int rc;

	if (!c->multiport)
		return;
	if (!con_elem_fit(&c->ctrl_tx_elem, vq)) {
		vdev_fail(dev, "out of memory");
		return;
	}
	do {
		virtq_disable_kicks(vq);
		while ((rc = virtq_pop(vq, c->ctrl_tx_elem)) > 0) {
			struct virtio_console_control m;
			struct virtq_elem *e = c->ctrl_tx_elem;

			if (e->in_num || e->out_len < sizeof(m)) {
				vdev_guest_error(dev, "control message of %u bytes%s",
						 e->out_len, e->in_num ? ", writable" : "");
			} else {
				virtq_iov_to_buf(e->iov, e->out_num, 0, &m, sizeof(m));
				handle(c, &m);
			}
			virtq_push_elem(vq, e, 0);
			pushed = true;
		}
	} while (rc == 0 && virtq_enable_kicks(vq));
	if (pushed)
		vdev_queue_interrupt(dev, CON_CTRL_TXQ);
}

void con_ctrl_reset(struct con *c)
{
	c->multiport = false;
	c->msg_head = 0;
	c->msg_count = 0;
}
