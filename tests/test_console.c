// SPDX-License-Identifier: MIT
/*
 * virtio-console through the simulated driver, with the test as the host
 * side: a unix socket client, the slave side of the device's pty, or the
 * log file. Every byte is checked in order, in both directions, also when
 * the host side is slow or the guest has no receive buffer; on port 0 and
 * on extra ports, whose control dialogue is played as Linux plays it.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

#include "console.h"
#include "vdrv.h"
#include "xtest.h"

#define WAIT_MS		5000
#define RXQ		0
#define TXQ		1
#define F_CON		(VDRV_F_DEFAULT | VDRV_F(VIRTIO_CONSOLE_F_SIZE))
#define F_MULTI		(F_CON | VDRV_F(VIRTIO_CONSOLE_F_MULTIPORT))
#define CFG(field)	offsetof(struct virtio_console_config, field)
/* Queues of port n (n > 0). */
#define PRXQ(n)		(2 * (n) + 2)
#define PTXQ(n)		(2 * (n) + 3)

/* ---- host side ------------------------------------------------------------ */

struct tmp {
	char dir[200];
	char path[260];		/* socket or file in dir */
};

static void tmp_remove(void *arg)
{
	struct tmp *t = arg;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
}

static struct tmp *tmp_new(const char *file)
{
	const char *base = getenv("TMPDIR");
	struct tmp *t = calloc(1, sizeof(*t));

	XT_ASSERT(t);
	snprintf(t->dir, sizeof(t->dir), "%s/xv-con-XXXXXX",
		 base && *base && strlen(base) < 60 ? base : "/tmp");
	XT_ASSERT_MSG(mkdtemp(t->dir), "mkdtemp: %m");
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, file);
	xt_defer(tmp_remove, t);
	return t;
}

static void close_fd(void *arg)
{
	close((int)(intptr_t)arg);
}

static int client_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	XT_ASSERT(fd >= 0);
	xt_defer(close_fd, (void *)(intptr_t)fd);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	XT_ASSERT_MSG(!connect(fd, (struct sockaddr *)&sa, sizeof(sa)),
		      "connect %s: %m", path);
	return fd;
}

/* Read exactly len bytes from fd within WAIT_MS. */
static void read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		XT_ASSERT_MSG(poll(&pfd, 1, WAIT_MS) == 1, "only %zu of %zu bytes",
			      got, len);
		n = read(fd, (char *)buf + got, len - got);
		XT_ASSERT_MSG(n > 0, "read: %zd after %zu bytes: %m", n, got);
		got += n;
	}
}

static void write_all(int fd, const void *buf, size_t len)
{
	XT_EQ(write(fd, buf, len), len);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 8) * 13 + 1);
}

/* ---- device --------------------------------------------------------------- */

static void close_drv(void *d)
{
	vdrv_close(d);
}

static struct vdrv *con_open(const char *opts)
{
	char spec[512], err[256];
	struct vdrv *d;

	snprintf(spec, sizeof(spec), "console%s%s", *opts ? "," : "", opts);
	d = vdrv_open(spec, NULL, err, sizeof(err));
	XT_ASSERT_MSG(d, "vdrv_open(%s): %s", spec, err);
	xt_defer(close_drv, d);
	return d;
}

static struct con_port *port_of(struct vdrv *d, unsigned int id)
{
	return &((struct con *)d->dev->priv)->ports[id];
}

/* Wait until the device has accepted port id's client (or dropped it). */
static void wait_port_client(struct vdrv *d, unsigned int id, bool connected)
{
	for (int i = 0; i < WAIT_MS; i++) {
		bool has;

		vdev_lock(d->dev);
		has = port_of(d, id)->fd >= 0;
		vdev_unlock(d->dev);
		if (has == connected)
			return;
		vdrv_msleep(1);
	}
	XT_FAIL("port %u: client %s", id,
		connected ? "not accepted" : "still connected");
}

static void wait_client(struct vdrv *d, bool connected)
{
	wait_port_client(d, 0, connected);
}

static uint32_t port_watching(struct vdrv *d, unsigned int id)
{
	uint32_t w;

	vdev_lock(d->dev);
	w = port_of(d, id)->watching;
	vdev_unlock(d->dev);
	return w;
}

static uint32_t watching(struct vdrv *d)
{
	return port_watching(d, 0);
}

/* A socket console, set up, with a connected client in *cfd. */
static struct vdrv *socket_up(uint64_t features, unsigned int nq, int *cfd)
{
	struct tmp *t = tmp_new("sock");
	char opts[300];
	struct vdrv *d;

	snprintf(opts, sizeof(opts), "socket=%s", t->path);
	d = con_open(opts);
	XT_ASSERT_MSG(!vdrv_init(d, features, nq, 0), "init: %s", d->err);
	*cfd = client_connect(t->path);
	wait_client(d, true);
	return d;
}

/* Guest buffers with their own guest RAM, so reaping does not free them. */
struct gbuf {
	uint64_t gpa;
	uint32_t len;
};

static struct gbuf gbufs[512];
static unsigned int n_gbufs;

static struct gbuf *gbuf_new(struct vdrv *d, const void *data, uint32_t len)
{
	struct gbuf *b = &gbufs[n_gbufs++ % 512];

	b->gpa = vdrv_alloc(d, len, 8);
	b->len = len;
	XT_ASSERT(b->gpa);
	if (data)
		memcpy(vdrv_ptr(d, b->gpa, len), data, len);
	else
		memset(vdrv_ptr(d, b->gpa, len), 0xee, len);
	return b;
}

static void post(struct vdrv *d, unsigned int q, const void *data,
		 uint32_t len, bool writable)
{
	struct gbuf *b = gbuf_new(d, data, len);
	struct vdrv_seg s = { .gpa = b->gpa, .len = len, .writable = writable };

	XT_ASSERT_MSG(vdrv_post(vdrv_vq(d, q), &s, 1, false, b) >= 0, "%s", d->err);
	vdrv_kick(vdrv_vq(d, q));
}

/* Wait for the next used entry of q; its buffer and used length. */
static struct gbuf *reap(struct vdrv *d, unsigned int q, uint32_t *len)
{
	struct vdrv_vq *vq = vdrv_vq(d, q);
	struct vdrv_used u;

	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "queue %u: nothing used", q);
	XT_EQ(vdrv_reap(vq, &u), 1);
	*len = u.len;
	return u.token;
}

static void send_on(struct vdrv *d, unsigned int txq, const void *data,
		    uint32_t len)
{
	uint32_t used;

	post(d, txq, data, len, false);
	reap(d, txq, &used);
	XT_EQ(used, 0);
}

static void send_tx(struct vdrv *d, const void *data, uint32_t len)
{
	send_on(d, TXQ, data, len);
}

/* Receive exactly len bytes through rx buffers of size bufsz. */
static void recv_on(struct vdrv *d, unsigned int rxq, uint8_t *out,
		    size_t len, uint32_t bufsz)
{
	size_t got = 0;

	while (got < len) {
		uint32_t n;
		struct gbuf *b;

		post(d, rxq, NULL, bufsz, true);
		b = reap(d, rxq, &n);
		XT_ASSERT(n > 0 && n <= bufsz && got + n <= len);
		memcpy(out + got, vdrv_ptr(d, b->gpa, n), n);
		got += n;
	}
}

static void recv_rx(struct vdrv *d, uint8_t *out, size_t len, uint32_t bufsz)
{
	recv_on(d, RXQ, out, len, bufsz);
}

/* Nothing arrives on fd within ms. */
static void quiet(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	XT_EQ(poll(&pfd, 1, ms), 0);
}

static void not_failed(struct vdrv *d)
{
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* ---- cases ---------------------------------------------------------------- */

static void con_probe(void)
{
	struct tmp *t = tmp_new("out.log");
	char opts[300];
	struct vdrv *d;
	uint64_t f;

	snprintf(opts, sizeof(opts), "log=%s", t->path);
	d = con_open(opts);
	XT_EQ(vdrv_probe(d), VIRTIO_ID_CONSOLE);
	f = vdrv_read_device_features(d);
	XT_ASSERT(f & VDRV_F(VIRTIO_CONSOLE_F_SIZE));
	XT_ASSERT(f & VDRV_F(VIRTIO_CONSOLE_F_MULTIPORT));
	XT_ASSERT(f & VDRV_F(VIRTIO_CONSOLE_F_EMERG_WRITE));
	XT_ASSERT_MSG(!vdrv_init(d, F_CON, 2, 0), "init: %s", d->err);
	XT_EQ(vdrv_config_get(d, CFG(cols), 2), 80);
	XT_EQ(vdrv_config_get(d, CFG(rows), 2), 25);
	XT_EQ(vdrv_config_get(d, CFG(max_nr_ports), 4), 1);
	for (unsigned int q = 0; q < 4; q++) {
		vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, q);
		XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 128);
	}
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, 4);
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void con_bad_options(void)
{
	static const char *const bad[] = {
		"console,socket=/tmp/x,log=/tmp/y",
		"console,socket=/tmp/x,path=/tmp/y",
		"console,name=a/b",
		"console,log=",
		"console,colour=red",
		"console,port2.name=two",			/* no port1 */
		"console,port0.name=zero",
		"console,port31.name=too-many",
		"console,port1=one",
		"console,port1.colour=red",
		"console,port1.name=a b",
		"console,name=same,port1.name=same",
		"console,port1.socket=/tmp/x,port1.log=/tmp/y",
		"console,port1.log=/tmp/x,port1.path=/tmp/y",
		"console,port1.socket=",
	};
	struct tmp *t = tmp_new("sock");
	char err[256], spec[600];

	for (unsigned int i = 0; i < XT_COUNT(bad); i++) {
		struct vdrv *d = vdrv_open(bad[i], NULL, err, sizeof(err));

		XT_ASSERT_MSG(!d, "%s accepted", bad[i]);
	}
	/* Two ports on one socket. */
	snprintf(spec, sizeof(spec), "console,socket=%s,port1.socket=%s",
		 t->path, t->path);
	XT_ASSERT_MSG(!vdrv_open(spec, NULL, err, sizeof(err)), "%s accepted", spec);
	XT_ASSERT_MSG(strstr(err, "port 0 listens there"), "%s", err);
}

/* A host without devpts (some containers and chroots) has no ptys at all. */
static void need_ptys(void)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY);

	if (fd < 0)
		xt_skip("this host has no ptys: posix_openpt: %s", strerror(errno));
	close(fd);
}

static void con_pty(void)
{
	struct tmp *t = tmp_new("pty-path");
	char opts[300], pts[128] = "", in[64];
	FILE *f;
	struct vdrv *d;
	int sfd;

	need_ptys();
	snprintf(opts, sizeof(opts), "path=%s", t->path);
	d = con_open(opts);
	f = fopen(t->path, "r");
	XT_ASSERT(f && fgets(pts, sizeof(pts), f));
	fclose(f);
	pts[strcspn(pts, "\n")] = '\0';
	XT_ASSERT_MSG(!strncmp(pts, "/dev/pts/", 9), "path file says '%s'", pts);
	sfd = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
	XT_ASSERT_MSG(sfd >= 0, "%s: %m", pts);
	xt_defer(close_fd, (void *)(intptr_t)sfd);
	XT_ASSERT_MSG(!vdrv_init(d, F_CON, 2, 0), "init: %s", d->err);
	XT_EQ(vdrv_config_get(d, CFG(cols), 2), 80);
	XT_EQ(vdrv_config_get(d, CFG(rows), 2), 25);
	/* Raw mode: "\n" is not turned into "\r\n", nothing is echoed. */
	send_tx(d, "hello pty\n", 10);
	read_all(sfd, in, 10);
	XT_ASSERT(!memcmp(in, "hello pty\n", 10));
	write_all(sfd, "typed\r", 6);
	recv_rx(d, (uint8_t *)in, 6, 64);
	XT_ASSERT(!memcmp(in, "typed\r", 6));
	not_failed(d);
}

static void con_socket_tx(void)
{
	int cfd;
	struct vdrv *d = socket_up(F_CON, 2, &cfd);
	struct vdrv_vq *vq = vdrv_vq(d, TXQ);
	uint8_t data[3000], in[3000];
	struct vdrv_seg s[3];
	struct vdrv_used u;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i);
	/* One chain of three pieces, through an indirect table. */
	for (int i = 0; i < 3; i++)
		s[i] = (struct vdrv_seg){ .data = data + 1000 * i, .len = 1000 };
	XT_ASSERT(vdrv_post(vq, s, 3, true, NULL) >= 0);
	vdrv_kick(vq);
	read_all(cfd, in, sizeof(in));
	XT_ASSERT(!memcmp(in, data, sizeof(data)));
	XT_ASSERT(!vdrv_wait_used(vq, 1, WAIT_MS));
	XT_EQ(vdrv_reap(vq, &u), 1);
	XT_EQ(u.len, 0);
	send_tx(d, "more", 4);
	read_all(cfd, in, 4);
	XT_ASSERT(!memcmp(in, "more", 4));
}

static void con_socket_rx(void)
{
	int cfd;
	struct vdrv *d = socket_up(F_CON, 2, &cfd);
	uint8_t data[1000], in[1000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i);
	write_all(cfd, data, sizeof(data));
	recv_rx(d, in, sizeof(in), 300);
	XT_ASSERT(!memcmp(in, data, sizeof(data)));
	not_failed(d);
}

/* Host input with no receive buffer stays in the kernel until one comes. */
static void con_rx_waits_for_buffer(void)
{
	int cfd;
	struct vdrv *d = socket_up(F_CON, 2, &cfd);
	uint8_t in[5];

	write_all(cfd, "early", 5);
	vdrv_msleep(100);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, RXQ)), 0);
	XT_EQ(watching(d) & EPOLLIN, 0);
	recv_rx(d, in, 5, 64);
	XT_ASSERT(!memcmp(in, "early", 5));
	/* The guest has no buffer again: not watched again. */
	vdrv_msleep(50);
	XT_EQ(watching(d) & EPOLLIN, 0);
	write_all(cfd, "late", 4);
	recv_rx(d, in, 4, 2);
	XT_ASSERT(!memcmp(in, "late", 4));
}

#define SLOW_CHAINS	64
#define SLOW_CHAIN	(16u << 10)

/* Fill data (SLOW_CHAINS * SLOW_CHAIN bytes) with the pattern, post it as
 * SLOW_CHAINS chains on vq and kick. */
static void post_slow_chains(struct vdrv *d, struct vdrv_vq *vq, uint8_t *data)
{
	for (size_t i = 0; i < (size_t)SLOW_CHAINS * SLOW_CHAIN; i++)
		data[i] = pattern(i);
	for (unsigned int i = 0; i < SLOW_CHAINS; i++) {
		struct vdrv_seg s = { .data = data + i * SLOW_CHAIN, .len = SLOW_CHAIN };

		XT_ASSERT_MSG(vdrv_post(vq, &s, 1, false, NULL) >= 0, "%s", d->err);
	}
	vdrv_kick(vq);
}

/*
 * A console on a socket whose client has a small receive buffer and does
 * not read yet, with SLOW_CHAINS chains posted on port 0: *data holds what
 * was sent, *in room for what the client reads.
 */
static struct vdrv *slow_client_up(int *cfd, uint8_t **data, uint8_t **in)
{
	size_t total = SLOW_CHAINS * SLOW_CHAIN;
	struct vdrv *d = socket_up(F_CON, 2, cfd);
	int small = 4096;

	*data = malloc(total);
	*in = malloc(total);
	XT_ASSERT(*data && *in);
	xt_defer(free, *data);
	xt_defer(free, *in);
	setsockopt(*cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	post_slow_chains(d, vdrv_vq(d, TXQ), *data);
	return d;
}

/* A client that does not read: the device holds back, loses nothing. */
static void con_slow_host(void)
{
	int cfd;
	uint8_t *data, *in;
	struct vdrv *d = slow_client_up(&cfd, &data, &in);
	struct vdrv_vq *vq = vdrv_vq(d, TXQ);
	size_t total = SLOW_CHAINS * SLOW_CHAIN;
	struct vdrv_used u;

	vdrv_msleep(200);
	/* Stuck on a full socket, waiting for it to drain. */
	XT_ASSERT(vdrv_used_pending(vq) < SLOW_CHAINS);
	XT_ASSERT(watching(d) & EPOLLOUT);
	read_all(cfd, in, total);
	for (size_t i = 0; i < total; i++)
		XT_ASSERT_MSG(in[i] == data[i], "byte %zu differs", i);
	XT_ASSERT(!vdrv_wait_used(vq, SLOW_CHAINS, WAIT_MS));
	for (unsigned int i = 0; i < SLOW_CHAINS; i++) {
		XT_EQ(vdrv_reap(vq, &u), 1);
		XT_EQ(u.len, 0);
	}
	vdrv_msleep(20);
	XT_EQ(watching(d) & EPOLLOUT, 0);
}

/*
 * A transmit chain held for a slow client across invalidations of guest
 * memory: the client gets exactly the guest's bytes (the chain's mappings
 * live as long as the chain; fresh anonymous memory that could take their
 * addresses holds other bytes), and the old mappings go once it is pushed.
 */
static void con_invalidate_while_held(void)
{
	int cfd;
	uint8_t *data, *in, *junk;
	struct vdrv *d = slow_client_up(&cfd, &data, &in);
	struct vdrv_vq *vq = vdrv_vq(d, TXQ);
	size_t total = SLOW_CHAINS * SLOW_CHAIN, decoy = 64u << 20;
	struct gmem_stats held;
	struct vdrv_used u;

	vdrv_msleep(100);
	XT_ASSERT(vdrv_used_pending(vq) < SLOW_CHAINS);
	for (int i = 0; i < 4; i++)
		gmem_invalidate(d->gm);
	gmem_get_stats(d->gm, &held);
	junk = mmap(NULL, decoy, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	XT_ASSERT(junk != MAP_FAILED);
	memset(junk, 0xee, decoy);
	read_all(cfd, in, total);
	munmap(junk, decoy);
	for (size_t i = 0; i < total; i++)
		XT_ASSERT_MSG(in[i] == data[i], "byte %zu differs", i);
	XT_ASSERT_MSG(held.holds >= 1 && held.generations >= 2,
		      "while held: holds %llu, generations %llu",
		      (unsigned long long)held.holds,
		      (unsigned long long)held.generations);
	XT_ASSERT(!vdrv_wait_used(vq, SLOW_CHAINS, WAIT_MS));
	for (unsigned int i = 0; i < SLOW_CHAINS; i++)
		XT_EQ(vdrv_reap(vq, &u), 1);
	XT_ASSERT_MSG(!vdrv_wait_gmem_idle(d, WAIT_MS), "%s", d->err);
}

/* The client stops sending while output waits for it: nothing hangs. */
static void con_client_leaves_while_blocked(void)
{
	int cfd, small = 4096;
	struct vdrv *d = socket_up(F_CON, 2, &cfd);
	size_t len = 1 << 20;
	uint8_t *big = calloc(1, len);
	uint32_t used;

	XT_ASSERT(big);
	xt_defer(free, big);
	setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	post(d, TXQ, big, len, false);
	vdrv_msleep(100);
	XT_ASSERT(watching(d) & EPOLLOUT);
	post(d, RXQ, NULL, 16, true);
	shutdown(cfd, SHUT_WR);
	wait_client(d, false);
	reap(d, TXQ, &used);
	XT_EQ(used, 0);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, RXQ)), 0);
	not_failed(d);
}

/* With no client, guest output is dropped rather than holding the guest. */
static void con_socket_no_client(void)
{
	struct tmp *t = tmp_new("sock");
	char opts[300], in[8];
	struct vdrv *d;
	int cfd;

	snprintf(opts, sizeof(opts), "socket=%s", t->path);
	d = con_open(opts);
	XT_ASSERT_MSG(!vdrv_init(d, F_CON, 2, 0), "init: %s", d->err);
	for (int i = 0; i < 200; i++)
		send_tx(d, "dropped!", 8);
	cfd = client_connect(t->path);
	wait_client(d, true);
	send_tx(d, "kept", 4);
	read_all(cfd, in, 4);
	XT_ASSERT(!memcmp(in, "kept", 4));
	/* A second client is refused while the first is served. */
	{
		int c2 = client_connect(t->path);
		struct pollfd pfd = { .fd = c2, .events = POLLIN };

		XT_EQ(poll(&pfd, 1, WAIT_MS), 1);
		XT_EQ(read(c2, in, 1), 0);
	}
	/* The first leaves; the next one is served. */
	shutdown(cfd, SHUT_RDWR);
	wait_client(d, false);
	cfd = client_connect(t->path);
	wait_client(d, true);
	send_tx(d, "again", 5);
	read_all(cfd, in, 5);
	XT_ASSERT(!memcmp(in, "again", 5));
}

static void con_log(void)
{
	struct tmp *t = tmp_new("guest.log");
	char opts[300], buf[64];
	struct vdrv *d;
	int fd;

	fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	XT_ASSERT(fd >= 0);
	write_all(fd, "old\n", 4);
	close(fd);
	snprintf(opts, sizeof(opts), "log=%s", t->path);
	d = con_open(opts);
	XT_ASSERT_MSG(!vdrv_init(d, F_CON, 2, 0), "init: %s", d->err);
	post(d, RXQ, NULL, 64, true);
	send_tx(d, "line one\n", 9);
	send_tx(d, "line two\n", 9);
	fd = open(t->path, O_RDONLY);
	XT_ASSERT(fd >= 0);
	XT_EQ(read(fd, buf, sizeof(buf)), 22);
	close(fd);
	XT_ASSERT(!memcmp(buf, "old\nline one\nline two\n", 22));
	vdrv_msleep(50);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, RXQ)), 0);
}

/* Chains the wrong way round are given back empty; the port goes on. */
static void con_wrong_direction(void)
{
	int cfd;
	struct vdrv *d = socket_up(F_CON, 2, &cfd);
	struct vdrv_seg tx[2] = {
		{ .data = "abc", .len = 3 },
		{ .len = 16, .writable = true },
	};
	struct vdrv_seg rx = { .data = "xyz", .len = 3 };
	struct vdrv_used u;
	char in[4];

	XT_ASSERT(vdrv_post(vdrv_vq(d, TXQ), tx, 2, false, NULL) >= 0);
	vdrv_kick(vdrv_vq(d, TXQ));
	XT_ASSERT(!vdrv_wait_used(vdrv_vq(d, TXQ), 1, WAIT_MS));
	XT_EQ(vdrv_reap(vdrv_vq(d, TXQ), &u), 1);
	XT_EQ(u.len, 0);
	XT_ASSERT(vdrv_post(vdrv_vq(d, RXQ), &rx, 1, false, NULL) >= 0);
	vdrv_kick(vdrv_vq(d, RXQ));
	XT_ASSERT(!vdrv_wait_used(vdrv_vq(d, RXQ), 1, WAIT_MS));
	XT_EQ(vdrv_reap(vdrv_vq(d, RXQ), &u), 1);
	XT_EQ(u.len, 0);
	XT_ASSERT(xt_stderr_has("guest error"));
	not_failed(d);
	/* Nothing of either reached the host side. */
	send_tx(d, "ok", 2);
	read_all(cfd, in, 2);
	XT_ASSERT(!memcmp(in, "ok", 2));
	write_all(cfd, "in", 2);
	recv_rx(d, (uint8_t *)in, 2, 8);
	XT_ASSERT(!memcmp(in, "in", 2));
}

/*
 * Reset with a transmit chain half written and host input waiting: the
 * chain is forgotten (the driver reclaims it), the input is not.
 */
static void con_reset_pending(void)
{
	int cfd, small = 4096;
	struct vdrv *d = socket_up(F_CON, 2, &cfd);
	size_t len = 1 << 20, got = 0;
	uint8_t *big = calloc(1, len), tail[6];
	uint32_t used;
	char in[5];

	XT_ASSERT(big);
	xt_defer(free, big);
	setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	post(d, TXQ, big, len, false);
	write_all(cfd, "input", 5);
	vdrv_msleep(100);
	XT_ASSERT(watching(d) & EPOLLOUT);
	XT_ASSERT_MSG(!vdrv_init(d, F_CON, 2, 0), "re-init: %s", d->err);
	/* The socket is still full: this one waits for the drain below. */
	post(d, TXQ, "\xff" "after", 6, false);
	/* Drain: a prefix of the zeros, then the new bytes. */
	for (;;) {
		uint8_t c;

		read_all(cfd, &c, 1);
		if (c == 0xff)
			break;
		XT_EQ(c, 0);
		got++;
	}
	XT_ASSERT(got < len);
	read_all(cfd, tail, 5);
	XT_ASSERT(!memcmp(tail, "after", 5));
	reap(d, TXQ, &used);
	XT_EQ(used, 0);
	recv_rx(d, (uint8_t *)in, 5, 16);
	XT_ASSERT(!memcmp(in, "input", 5));
	not_failed(d);
}

/* ---- MULTIPORT ------------------------------------------------------------ */

#define CRXQ 2
#define CTXQ 3

static void ctrl_send(struct vdrv *d, uint32_t id, uint16_t event,
		      uint16_t value)
{
	struct virtio_console_control m = {
		.id = htole32(id), .event = htole16(event), .value = htole16(value),
	};
	uint32_t used;

	post(d, CTXQ, &m, sizeof(m), false);
	reap(d, CTXQ, &used);
	XT_EQ(used, 0);
}

/* The next control message is this one, followed by len payload bytes. */
static void ctrl_expect_data(struct vdrv *d, uint32_t id, uint16_t event,
			     uint16_t value, const void *payload, size_t len)
{
	struct virtio_console_control m;
	uint32_t used;
	struct gbuf *b = reap(d, CRXQ, &used);
	uint8_t *p = vdrv_ptr(d, b->gpa, b->len);

	XT_EQ(used, sizeof(m) + len);
	memcpy(&m, p, sizeof(m));
	XT_EQ(le32toh(m.id), id);
	XT_EQ(le16toh(m.event), event);
	XT_EQ(le16toh(m.value), value);
	if (len)
		XT_ASSERT_MSG(!memcmp(p + sizeof(m), payload, len),
			      "event %u: payload differs", event);
}

static void ctrl_expect(struct vdrv *d, uint32_t id, uint16_t event,
			uint16_t value, const char *name)
{
	ctrl_expect_data(d, id, event, value, name, name ? strlen(name) : 0);
}

/* No control message is waiting for the driver. */
static void ctrl_none(struct vdrv *d)
{
	vdrv_msleep(50);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, CRXQ)), 0);
}

static struct vdrv *multi_up(int *cfd)
{
	struct tmp *t = tmp_new("sock");
	char opts[300];
	struct vdrv *d;

	snprintf(opts, sizeof(opts), "socket=%s,name=org.test.console", t->path);
	d = con_open(opts);
	XT_ASSERT_MSG(!vdrv_init(d, F_MULTI, 4, 0), "init: %s", d->err);
	*cfd = client_connect(t->path);
	wait_client(d, true);
	for (int i = 0; i < 8; i++)
		post(d, CRXQ, NULL, 128, true);
	return d;
}

static void con_multiport(void)
{
	int cfd;
	struct vdrv *d = multi_up(&cfd);
	char in[8];

	ctrl_send(d, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
	ctrl_send(d, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_NAME, 1, "org.test.console");
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	/* Input waits while the guest has the port closed. */
	write_all(cfd, "hi", 2);
	post(d, RXQ, NULL, 16, true);
	vdrv_msleep(100);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, RXQ)), 0);
	ctrl_send(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	{
		uint32_t n;
		struct gbuf *b = reap(d, RXQ, &n);

		XT_EQ(n, 2);
		XT_ASSERT(!memcmp(vdrv_ptr(d, b->gpa, 2), "hi", 2));
	}
	send_tx(d, "out", 3);
	read_all(cfd, in, 3);
	XT_ASSERT(!memcmp(in, "out", 3));
	/* The client leaves: the guest is told. */
	shutdown(cfd, SHUT_RDWR);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL);
	not_failed(d);
}

static void con_ctrl_hostile(void)
{
	int cfd;
	struct vdrv *d = multi_up(&cfd);
	uint8_t shorty[4] = { 0 };
	uint32_t used;

	post(d, CTXQ, shorty, sizeof(shorty), false);
	reap(d, CTXQ, &used);
	XT_EQ(used, 0);
	ctrl_send(d, 7, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl_send(d, 0xffffffff, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ctrl_send(d, 0, VIRTIO_CONSOLE_RESIZE, 0);
	ctrl_send(d, 0, 999, 0);
	XT_ASSERT(xt_stderr_has("guest error"));
	XT_EQ(vdrv_used_pending(vdrv_vq(d, CRXQ)), 0);
	not_failed(d);
	/* Still works. */
	ctrl_send(d, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
}

/* Control messages wait for control buffers; none is lost. */
static void con_ctrl_late_buffers(void)
{
	struct tmp *t = tmp_new("sock");
	char opts[300];
	struct vdrv *d;

	snprintf(opts, sizeof(opts), "socket=%s", t->path);
	d = con_open(opts);
	XT_ASSERT_MSG(!vdrv_init(d, F_MULTI, 4, 0), "init: %s", d->err);
	ctrl_send(d, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ctrl_send(d, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	vdrv_msleep(50);
	post(d, CRXQ, NULL, 8, true);
	post(d, CRXQ, NULL, 8, true);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
	not_failed(d);
}

/* ---- extra ports ---------------------------------------------------------- */

#define BAD_ID		VIRTIO_CONSOLE_BAD_ID

struct ports {
	struct vdrv *d;
	struct tmp *sock0, *sock1, *log2;
};

static void ports_open(struct ports *ps, uint64_t features, unsigned int nq)
{
	char opts[1200];

	ps->sock0 = tmp_new("sock");
	ps->sock1 = tmp_new("sock");
	ps->log2 = tmp_new("port2.log");
	snprintf(opts, sizeof(opts),
		 "socket=%s,name=org.test.console,"
		 "port1.name=org.test.one,port1.socket=%s,"
		 "port2.log=%s,port2.name=org.test.two",
		 ps->sock0->path, ps->sock1->path, ps->log2->path);
	ps->d = con_open(opts);
	XT_ASSERT_MSG(!vdrv_init(ps->d, features, nq, 0), "init: %s", ps->d->err);
}

/*
 * The console on a socket, org.test.one on a socket and org.test.two on a
 * log file; MULTIPORT negotiated, control receive buffers posted.
 */
static struct vdrv *ports_up(struct ports *ps)
{
	ports_open(ps, F_MULTI, PTXQ(2) + 1);
	for (int i = 0; i < 16; i++)
		post(ps->d, CRXQ, NULL, 128, true);
	return ps->d;
}

/*
 * The dialogue as Linux's probe runs it: DEVICE_READY, every port added and
 * readied; what the device says about each port is checked. host0/host1:
 * ports 0 and 1 have a socket client.
 */
static void ports_dialogue(struct vdrv *d, bool host0, bool host1)
{
	ctrl_send(d, BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t id = 0; id < 3; id++)
		ctrl_expect(d, id, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
	for (uint32_t id = 0; id < 3; id++)
		ctrl_send(d, id, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_NAME, 1, "org.test.console");
	if (host0)
		ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	ctrl_expect(d, 1, VIRTIO_CONSOLE_PORT_NAME, 1, "org.test.one");
	if (host1)
		ctrl_expect(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	/* A log file always takes output. */
	ctrl_expect(d, 2, VIRTIO_CONSOLE_PORT_NAME, 1, "org.test.two");
	ctrl_expect(d, 2, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	ctrl_none(d);
	/* Linux opens the console port at once (init_port_console). */
	ctrl_send(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
}

static void con_ports_dialogue(void)
{
	struct ports ps;
	struct vdrv *d = ports_up(&ps);

	XT_EQ(vdrv_config_get(d, CFG(max_nr_ports), 4), 3);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, PTXQ(2));
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 128);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, PTXQ(2) + 1);
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	client_connect(ps.sock1->path);
	wait_port_client(d, 1, true);
	ports_dialogue(d, false, true);
	not_failed(d);
}

static void con_port_data(void)
{
	struct ports ps;
	struct vdrv *d = ports_up(&ps);
	int c0 = client_connect(ps.sock0->path), c1, fd;
	char in[16];
	uint32_t n;
	struct gbuf *b;

	wait_port_client(d, 0, true);
	c1 = client_connect(ps.sock1->path);
	wait_port_client(d, 1, true);
	ports_dialogue(d, true, true);
	/* Host input waits while the guest has port 1 closed. */
	write_all(c1, "ping", 4);
	post(d, PRXQ(1), NULL, 16, true);
	vdrv_msleep(100);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, PRXQ(1))), 0);
	ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	b = reap(d, PRXQ(1), &n);
	XT_EQ(n, 4);
	XT_ASSERT(!memcmp(vdrv_ptr(d, b->gpa, 4), "ping", 4));
	/* Each port's bytes reach its own host side only. */
	send_on(d, PTXQ(1), "pong", 4);
	read_all(c1, in, 4);
	XT_ASSERT(!memcmp(in, "pong", 4));
	send_tx(d, "zero", 4);
	read_all(c0, in, 4);
	XT_ASSERT(!memcmp(in, "zero", 4));
	quiet(c0, 50);
	quiet(c1, 50);
	write_all(c0, "to0", 3);
	recv_rx(d, (uint8_t *)in, 3, 16);
	XT_ASSERT(!memcmp(in, "to0", 3));
	XT_EQ(vdrv_used_pending(vdrv_vq(d, PRXQ(1))), 0);
	send_on(d, PTXQ(2), "two\n", 4);
	fd = open(ps.log2->path, O_RDONLY);
	XT_ASSERT(fd >= 0);
	XT_EQ(read(fd, in, sizeof(in)), 4);
	close(fd);
	XT_ASSERT(!memcmp(in, "two\n", 4));
	/* The guest closes port 1: input waits again until it reopens. */
	ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 0);
	write_all(c1, "late", 4);
	post(d, PRXQ(1), NULL, 16, true);
	vdrv_msleep(100);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, PRXQ(1))), 0);
	ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	b = reap(d, PRXQ(1), &n);
	XT_EQ(n, 4);
	XT_ASSERT(!memcmp(vdrv_ptr(d, b->gpa, 4), "late", 4));
	not_failed(d);
}

/* Clients of an extra port come and go: the guest hears PORT_OPEN 1 / 0. */
static void con_port_host_connect(void)
{
	struct ports ps;
	struct vdrv *d = ports_up(&ps);
	int c1;
	char in[8];

	ports_dialogue(d, false, false);
	ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	c1 = client_connect(ps.sock1->path);
	ctrl_expect(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	write_all(c1, "first", 5);
	recv_on(d, PRXQ(1), (uint8_t *)in, 5, 8);
	XT_ASSERT(!memcmp(in, "first", 5));
	shutdown(c1, SHUT_RDWR);
	ctrl_expect(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL);
	wait_port_client(d, 1, false);
	c1 = client_connect(ps.sock1->path);
	ctrl_expect(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	write_all(c1, "again", 5);
	recv_on(d, PRXQ(1), (uint8_t *)in, 5, 8);
	XT_ASSERT(!memcmp(in, "again", 5));
	send_on(d, PTXQ(1), "back", 4);
	read_all(c1, in, 4);
	XT_ASSERT(!memcmp(in, "back", 4));
	/* Port 0 never had a client: nothing was said about it. */
	ctrl_none(d);
	not_failed(d);
}

/* Flow control on an extra port, while port 0 keeps flowing. */
static void con_port_flow(void)
{
	struct ports ps;
	struct vdrv *d = ports_up(&ps);
	struct vdrv_vq *vq = vdrv_vq(d, PTXQ(1));
	size_t total = SLOW_CHAINS * SLOW_CHAIN;
	uint8_t *data = malloc(total), *in = malloc(total);
	int c0 = client_connect(ps.sock0->path), c1, small = 4096;
	struct vdrv_used u;

	XT_ASSERT(data && in);
	xt_defer(free, data);
	xt_defer(free, in);
	wait_port_client(d, 0, true);
	c1 = client_connect(ps.sock1->path);
	wait_port_client(d, 1, true);
	setsockopt(c1, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ports_dialogue(d, true, true);
	ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	post_slow_chains(d, vq, data);
	vdrv_msleep(200);
	XT_ASSERT(vdrv_used_pending(vq) < SLOW_CHAINS);
	XT_ASSERT(port_watching(d, 1) & EPOLLOUT);
	/* Port 1 is held back; port 0 is not. */
	send_tx(d, "free", 4);
	read_all(c0, in, 4);
	XT_ASSERT(!memcmp(in, "free", 4));
	read_all(c1, in, total);
	for (size_t i = 0; i < total; i++)
		XT_ASSERT_MSG(in[i] == data[i], "byte %zu differs", i);
	XT_ASSERT(!vdrv_wait_used(vq, SLOW_CHAINS, WAIT_MS));
	for (unsigned int i = 0; i < SLOW_CHAINS; i++) {
		XT_EQ(vdrv_reap(vq, &u), 1);
		XT_EQ(u.len, 0);
	}
	vdrv_msleep(20);
	XT_EQ(port_watching(d, 1) & EPOLLOUT, 0);
	/* Host input with no receive buffer stays in the kernel. */
	write_all(c1, "early", 5);
	vdrv_msleep(100);
	XT_EQ(port_watching(d, 1) & EPOLLIN, 0);
	recv_on(d, PRXQ(1), in, 5, 2);
	XT_ASSERT(!memcmp(in, "early", 5));
	not_failed(d);
}

/* Without MULTIPORT the extra ports' queues are not served. */
static void con_ports_need_multiport(void)
{
	struct ports ps;
	struct vdrv *d;
	int c1;

	ports_open(&ps, F_CON, PTXQ(2) + 1);
	d = ps.d;
	post(d, PTXQ(1), "lost", 4, false);
	post(d, CTXQ, "\0\0\0\0\0\0\0\0", 8, false);
	/* A client coming makes the port look at its queues: still nothing. */
	c1 = client_connect(ps.sock1->path);
	wait_port_client(d, 1, true);
	write_all(c1, "in", 2);
	post(d, PRXQ(1), NULL, 16, true);
	quiet(c1, 100);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, PRXQ(1))), 0);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, PTXQ(1))), 0);
	XT_EQ(vdrv_used_pending(vdrv_vq(d, CTXQ)), 0);
	client_connect(ps.sock0->path);
	wait_port_client(d, 0, true);
	send_tx(d, "ok", 2);
	not_failed(d);
}

static void con_ports_hostile(void)
{
	static const uint16_t device_only[] = {
		VIRTIO_CONSOLE_PORT_ADD, VIRTIO_CONSOLE_PORT_REMOVE,
		VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_RESIZE,
		VIRTIO_CONSOLE_PORT_NAME, 8, 0xffff,
	};
	struct ports ps;
	struct vdrv *d = ports_up(&ps);
	struct virtio_console_control m = {
		.id = htole32(1), .event = htole16(VIRTIO_CONSOLE_PORT_OPEN),
		.value = htole16(1),
	};
	struct vdrv_seg wr[2] = {
		{ .data = &m, .len = sizeof(m) },
		{ .len = 8, .writable = true },
	};
	uint8_t big[64] = { 0 };
	struct vdrv_used u;
	uint32_t used;

	ports_dialogue(d, false, false);
	post(d, CTXQ, &m, 7, false);			/* short */
	reap(d, CTXQ, &used);
	XT_EQ(used, 0);
	ctrl_send(d, 3, VIRTIO_CONSOLE_PORT_READY, 1);	/* one past the last */
	ctrl_send(d, 0x80000000, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ctrl_send(d, BAD_ID, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ctrl_send(d, 2, VIRTIO_CONSOLE_PORT_READY, 0);	/* driver failed */
	for (unsigned int i = 0; i < XT_COUNT(device_only); i++)
		ctrl_send(d, 1, device_only[i], 1);
	XT_ASSERT(vdrv_post(vdrv_vq(d, CTXQ), wr, 2, false, NULL) >= 0);
	vdrv_kick(vdrv_vq(d, CTXQ));
	XT_ASSERT(!vdrv_wait_used(vdrv_vq(d, CTXQ), 1, WAIT_MS));
	XT_EQ(vdrv_reap(vdrv_vq(d, CTXQ), &u), 1);
	XT_EQ(u.len, 0);
	/* A message longer than its header is read for its header. */
	memcpy(big, &m, sizeof(m));
	post(d, CTXQ, big, sizeof(big), false);
	reap(d, CTXQ, &used);
	XT_ASSERT(xt_stderr_has("guest error"));
	ctrl_none(d);
	not_failed(d);
	/* Port 1 was opened by the long message and still works. */
	client_connect(ps.sock1->path);
	ctrl_expect(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	send_on(d, PTXQ(1), "x", 1);
	not_failed(d);
}

/* Control receive buffers too short or readable are given back empty. */
static void con_ctrl_short_rx_buffer(void)
{
	struct tmp *t = tmp_new("sock");
	char opts[300];
	struct vdrv *d;
	struct vdrv_seg rd = { .data = "12345678901234567890", .len = 20 };
	struct vdrv_used u;

	snprintf(opts, sizeof(opts), "socket=%s,name=a-rather-long-name", t->path);
	d = con_open(opts);
	XT_ASSERT_MSG(!vdrv_init(d, F_MULTI, 4, 0), "init: %s", d->err);
	ctrl_send(d, BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ctrl_send(d, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	post(d, CRXQ, NULL, 8, true);
	post(d, CRXQ, NULL, 8, true);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
	/* The name needs 8 + 18 bytes. */
	post(d, CRXQ, NULL, 8, true);
	XT_ASSERT(!vdrv_wait_used(vdrv_vq(d, CRXQ), 1, WAIT_MS));
	XT_EQ(vdrv_reap(vdrv_vq(d, CRXQ), &u), 1);
	XT_EQ(u.len, 0);
	XT_ASSERT(vdrv_post(vdrv_vq(d, CRXQ), &rd, 1, false, NULL) >= 0);
	vdrv_kick(vdrv_vq(d, CRXQ));
	XT_ASSERT(!vdrv_wait_used(vdrv_vq(d, CRXQ), 1, WAIT_MS));
	XT_EQ(vdrv_reap(vdrv_vq(d, CRXQ), &u), 1);
	XT_EQ(u.len, 0);
	post(d, CRXQ, NULL, 64, true);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_NAME, 1, "a-rather-long-name");
	XT_ASSERT(xt_stderr_has("guest error"));
	not_failed(d);
}

/* ---- emergency write and console size ------------------------------------- */

#define F_EMERG		VDRV_F(VIRTIO_CONSOLE_F_EMERG_WRITE)

static void emerg(struct vdrv *d, char c)
{
	vdrv_write32(d, VIRTIO_MMIO_CONFIG + CFG(emerg_wr), (uint8_t)c);
}

static void con_emerg_write(void)
{
	struct tmp *t = tmp_new("guest.log");
	char opts[300], buf[16];
	struct vdrv *d;
	int fd, cfd;

	snprintf(opts, sizeof(opts), "log=%s", t->path);
	d = con_open(opts);
	/* Usable before the driver has set anything up. */
	emerg(d, 'E');
	emerg(d, '!');
	XT_ASSERT_MSG(!vdrv_init(d, F_CON | F_EMERG, 2, 0), "init: %s", d->err);
	send_tx(d, "tx", 2);
	emerg(d, 'Z');
	XT_EQ(vdrv_config_get(d, CFG(emerg_wr), 4), 0);
	/* The other fields are read-only. */
	vdrv_write32(d, VIRTIO_MMIO_CONFIG + CFG(max_nr_ports), 9);
	vdrv_write32(d, VIRTIO_MMIO_CONFIG + CFG(cols), 0x00100010);
	XT_ASSERT(xt_stderr_has("guest error"));
	XT_EQ(vdrv_config_get(d, CFG(max_nr_ports), 4), 1);
	XT_EQ(vdrv_config_get(d, CFG(cols), 2), 80);
	XT_EQ(vdrv_config_get(d, CFG(rows), 2), 25);
	fd = open(t->path, O_RDONLY);
	XT_ASSERT(fd >= 0);
	XT_EQ(read(fd, buf, sizeof(buf)), 5);
	close(fd);
	XT_ASSERT(!memcmp(buf, "E!txZ", 5));
	not_failed(d);
	/* On a socket: to the client, dropped while there is none. */
	d = socket_up(F_CON | F_EMERG, 2, &cfd);
	emerg(d, '@');
	read_all(cfd, buf, 1);
	XT_EQ(buf[0], '@');
	shutdown(cfd, SHUT_RDWR);
	wait_client(d, false);
	emerg(d, 'x');
	not_failed(d);
}

/* A console on a pty, with its slave side open in *sfd. */
static struct vdrv *pty_up(uint64_t features, unsigned int nq, int *sfd)
{
	struct tmp *t = tmp_new("pty-path");
	char opts[300], pts[128] = "";
	struct vdrv *d;
	FILE *f;

	need_ptys();
	snprintf(opts, sizeof(opts), "path=%s", t->path);
	d = con_open(opts);
	f = fopen(t->path, "r");
	XT_ASSERT(f && fgets(pts, sizeof(pts), f));
	fclose(f);
	pts[strcspn(pts, "\n")] = '\0';
	*sfd = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
	XT_ASSERT_MSG(*sfd >= 0, "%s: %m", pts);
	xt_defer(close_fd, (void *)(intptr_t)*sfd);
	XT_ASSERT_MSG(!vdrv_init(d, features, nq, 0), "init: %s", d->err);
	return d;
}

static void set_size(int fd, uint16_t cols, uint16_t rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	XT_ASSERT_MSG(!ioctl(fd, TIOCSWINSZ, &ws), "TIOCSWINSZ: %m");
}

static void con_resize(void)
{
	int sfd;
	struct vdrv *d = pty_up(F_CON, 2, &sfd);
	uint32_t gen = vdrv_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);

	XT_EQ(vdrv_config_get(d, CFG(cols), 2), 80);
	XT_EQ(vdrv_config_get(d, CFG(rows), 2), 25);
	set_size(sfd, 132, 40);
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_CONFIG, WAIT_MS),
		      "no config interrupt");
	XT_EQ(vdrv_config_get(d, CFG(cols), 2), 132);
	XT_EQ(vdrv_config_get(d, CFG(rows), 2), 40);
	XT_NE(vdrv_read32(d, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	/* The size stays the device's. */
	send_tx(d, "x", 1);
	not_failed(d);
}

/* With MULTIPORT Linux takes sizes from RESIZE messages only, rows first. */
static void con_resize_multiport(void)
{
	int sfd;
	struct vdrv *d = pty_up(F_MULTI, 4, &sfd);
	struct con_resize r1 = { htole16(30), htole16(100) };
	struct con_resize r2 = { htole16(50), htole16(120) };

	for (int i = 0; i < 8; i++)
		post(d, CRXQ, NULL, 128, true);
	set_size(sfd, 100, 30);
	XT_ASSERT(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_CONFIG, WAIT_MS));
	XT_EQ(vdrv_config_get(d, CFG(cols), 2), 100);
	ctrl_send(d, BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
	ctrl_send(d, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl_expect(d, 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
	ctrl_expect_data(d, 0, VIRTIO_CONSOLE_RESIZE, 0, &r1, sizeof(r1));
	ctrl_expect(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	ctrl_send(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	set_size(sfd, 120, 50);
	ctrl_expect_data(d, 0, VIRTIO_CONSOLE_RESIZE, 0, &r2, sizeof(r2));
	XT_EQ(vdrv_config_get(d, CFG(cols), 2), 120);
	XT_EQ(vdrv_config_get(d, CFG(rows), 2), 50);
	ctrl_none(d);
	not_failed(d);
}

static const struct xt_case cases[] = {
	XT_CASE(con_probe),
	XT_CASE(con_bad_options),
	XT_CASE(con_pty),
	XT_CASE(con_socket_tx),
	XT_CASE(con_socket_rx),
	XT_CASE(con_rx_waits_for_buffer),
	XT_CASE(con_slow_host),
	XT_CASE(con_invalidate_while_held),
	XT_CASE(con_socket_no_client),
	XT_CASE(con_client_leaves_while_blocked),
	XT_CASE(con_log),
	XT_CASE(con_wrong_direction),
	XT_CASE(con_reset_pending),
	XT_CASE(con_multiport),
	XT_CASE(con_ctrl_hostile),
	XT_CASE(con_ctrl_late_buffers),
	XT_CASE(con_ctrl_short_rx_buffer),
	XT_CASE(con_ports_dialogue),
	XT_CASE(con_port_data),
	XT_CASE(con_port_host_connect),
	XT_CASE(con_port_flow),
	XT_CASE(con_ports_need_multiport),
	XT_CASE(con_ports_hostile),
	XT_CASE(con_emerg_write),
	XT_CASE(con_resize),
	XT_CASE(con_resize_multiport),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
