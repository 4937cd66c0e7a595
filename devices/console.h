/* SPDX-License-Identifier: MIT */
/*
 * virtio-console internals shared by console.c (the model: options, config
 * space, size tracking, reset), console_ctrl.c (the MULTIPORT control
 * queues) and console_port.c (one port's bytes between its two queues and
 * its host side: a pty, a unix socket client or a log file).
 *
 * Threads. Everything runs in the device's worker with dev->lock held
 * (guest pointers live in popped elements, which hold their mappings),
 * except create and destroy (no worker), and con_reset() and the emergency
 * write (the transport's thread, dev->lock held). Those two only forget
 * queue state or write to a host fd; the watched fds are added and removed
 * by the worker alone (or by create), whose handlers notice a queue that is
 * no longer live and stop watching.
 */
#ifndef XV_CONSOLE_H
#define XV_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_console.h>

#include "vdev.h"

#define CON_NAME_MAX	64	/* port name bytes, without the NUL */
/* Port 0 and the control queues, then two queues per extra port. */
#define CON_MAX_PORTS	((VDEV_MAX_QUEUES - 2) / 2)

enum con_backend {
	CON_PTY,	/* default: a new pty; its path is logged */
	CON_SOCKET,	/* a listening unix socket, one client at a time */
	CON_LOG,	/* guest output appended to a file, no input */
};

struct con;

struct con_port {
	struct con *con;
	unsigned int id;
	unsigned int rxq, txq;		/* queue numbers */
	char name[CON_NAME_MAX + 1];	/* "" if unnamed */
	enum con_backend backend;
	char *path;			/* socket path, unlinked on destroy */

	int fd;			/* host side bytes; -1: no client */
	int listen_fd;		/* CON_SOCKET */
	int pty_slave;		/* CON_PTY: held open, see console_port.c */
	bool registered;	/* fd is watched by the worker */
	uint32_t watching;	/* for these events */
	bool listen_watched;
	bool peer_gone;		/* socket client hung up, fd not yet drained */
	bool host_dead;		/* pty or log failed: output dropped */

	struct virtq_elem *rx_elem;
	struct virtq_elem *tx_elem;
	bool tx_held;		/* tx_elem popped, tx_done bytes written */
	size_t tx_done;

	bool guest_ready;	/* MULTIPORT: PORT_READY seen */
	bool guest_open;	/* MULTIPORT: PORT_OPEN 1 seen */
};

/* A control message for the driver, waiting for a control receive buffer. */
struct con_msg {
	struct virtio_console_control hdr;
	uint32_t len;		/* sizeof(hdr) + payload bytes */
	char payload[CON_NAME_MAX];	/* a port name, or a size */
};

/*
 * VIRTIO_CONSOLE_RESIZE payload as Linux reads it: rows first. The virtio
 * spec (1.2, 5.3.6.2) has cols first, but Linux has read rows first since
 * 2.6.35; its 2025 change to the spec's order (6.15, 6.16 and the stable
 * kernels that took it) was reverted for compatibility, and QEMU follows
 * Linux.
 */
struct con_resize {
	__le16 rows;
	__le16 cols;
};

/* Room for what DEVICE_READY and every port's PORT_READY bring. */
#define CON_MSG_QUEUE	128

struct con {
	struct vdev *dev;
	unsigned int nports;
	struct con_port *ports;
	bool multiport;		/* negotiated, set by start */

	struct virtq_elem *ctrl_rx_elem;
	struct virtq_elem *ctrl_tx_elem;
	struct con_msg msgs[CON_MSG_QUEUE];	/* FIFO to the driver */
	unsigned int msg_head, msg_count;

	uint16_t cols, rows;	/* console size in config space */
	bool size_known;	/* port 0 is a pty whose size is set */
	int size_timer;		/* timerfd: polls the pty's size; -1 */
};

/* Queue numbers of the control queues (virtio 1.2, 5.3.2). */
#define CON_CTRL_RXQ	2
#define CON_CTRL_TXQ	3

/* True if queue q may be used now. */
bool con_queue_live(struct vdev *dev, unsigned int q);
/* An element big enough for queue q's chains in *e; false if no memory. */
bool con_elem_fit(struct virtq_elem **e, struct virtq *vq);

/* ---- console_port.c ---- */

/*
 * Parse a port's backend options and open it: socket=, log=, path= (pty),
 * each key preceded by prefix ("" for port 0, "port1." for port 1).
 */
int con_port_open(struct con_port *p, struct vopts *o, const char *prefix,
		  char *err, size_t errlen);
void con_port_close(struct con_port *p);
/* Start watching what the worker must watch even with no queue (listen). */
void con_port_arm(struct con_port *p);
/* Move guest output to the host (transmitq kicked or host writable). */
void con_port_tx(struct con_port *p);
/* Move host input to the guest (receiveq kicked or host readable). */
void con_port_rx(struct con_port *p);
/* A host side that can take input and give output right now. */
bool con_port_host_open(const struct con_port *p);
/* Forget popped chains (device reset; transport thread). */
void con_port_reset(struct con_port *p);
/* Columns and rows of the host side; false (and 80x25) if it has none. */
bool con_port_size(const struct con_port *p, uint16_t *cols, uint16_t *rows);
/*
 * One byte of emergency output (VIRTIO_CONSOLE_F_EMERG_WRITE), straight to
 * the host side, ahead of transmitq bytes still waiting there; dropped if
 * the host side cannot take it at once. Any thread, dev->lock held.
 */
void con_port_emerg_write(struct con_port *p, uint8_t byte);

/* ---- console_ctrl.c ---- */

void con_ctrl_tx(struct con *c);
void con_ctrl_rx(struct con *c);
/* Queue a message (header and len bytes of payload, len <= CON_NAME_MAX)
 * for the driver and send what control buffers allow. */
void con_ctrl_send(struct con *c, uint32_t id, uint16_t event, uint16_t value,
		   const void *payload, size_t len);
/* The host side of port p connected or went away (no-op without MULTIPORT). */
void con_ctrl_host_open(struct con_port *p, bool open);
/* Tell the driver port 0's size (no-op unless its console is set up). */
void con_ctrl_resize(struct con *c);
void con_ctrl_reset(struct con *c);

#endif
