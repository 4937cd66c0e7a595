// SPDX-License-Identifier: MIT
/*
 * The control socket (see ctl.h).
 */
#define _GNU_SOURCE 1	/* accept4 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

#define CMD_MAX 64
#define CLIENT_TIMEOUT_MS 5000

struct client {
	struct xvctl *c;
	int fd;				/* -1: a free slot */
};

struct xvctl {
	struct vloop *loop;
	int fd;
	char path[108];
	struct client clients[XVCTL_CLIENTS];
	xvctl_stats_fn *fn;
	void *opaque;
};

void xvctl_path(uint32_t domid, char *out, size_t len)
{
	snprintf(out, len, "%s/%u.sock", XVCTL_DIR, domid);
}

void xvctl_service_path(char *out, size_t len)
{
	snprintf(out, len, "%s/service.sock", XVCTL_DIR);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			return;		/* a reader that does not read loses */
		buf += n;
		len -= n;
	}
}

static void answer(struct xvctl *c, int fd, const char *cmd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	bool json = !strcmp(cmd, "stats json");

	if (strcmp(cmd, "stats") && !json) {
		static const char e[] = "error: unknown command (stats, stats json)\n";

		send_all(fd, e, sizeof(e) - 1);
		return;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	c->fn(f, json, c->opaque);
	if (!fclose(f))
		send_all(fd, buf, len);
	free(buf);
}

static void drop_client(struct client *cl)
{
	vloop_del_fd(cl->c->loop, cl->fd);
	close(cl->fd);
	cl->fd = -1;
}

static void on_client(int fd, uint32_t events, void *opaque)
{
	struct client *cl = opaque;
	char cmd[CMD_MAX];
	ssize_t n = recv(fd, cmd, sizeof(cmd), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		if (n == sizeof(cmd)) {
			static const char e[] = "error: command too long\n";

			send_all(fd, e, sizeof(e) - 1);
		} else {
			cmd[n] = '\0';
			cmd[strcspn(cmd, "\r\n")] = '\0';
			answer(cl->c, fd, cmd);
		}
	}
	drop_client(cl);
}

static void on_listen(int fd, uint32_t events, void *opaque)
{
	struct xvctl *c = opaque;
	struct client *cl = NULL;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	for (unsigned int i = 0; i < XVCTL_CLIENTS && !cl; i++)
		if (c->clients[i].fd < 0)
			cl = &c->clients[i];
	if (!cl) {
		static const char e[] = "error: busy\n";

		send_all(cfd, e, sizeof(e) - 1);
		close(cfd);
		return;
	}
	cl->fd = cfd;
	if (vloop_add_fd(c->loop, cfd, EPOLLIN, on_client, cl)) {
		close(cfd);
		cl->fd = -1;
	}
}

struct xvctl *xvctl_open(const char *path, uid_t uid, gid_t gid,
			 struct vloop *loop, xvctl_stats_fn *fn, void *opaque,
			 char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct xvctl *c;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Its directory (XVCTL_DIR) may not exist yet after a boot. */
	snprintf(c->path, sizeof(c->path), "%.*s", (int)(strrchr(path, '/') ?
		 strrchr(path, '/') - path : 0), path);
	if (c->path[0] && mkdir(c->path, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "control socket %s: %s: %s", path, c->path,
			 strerror(errno));
		free(c);
		return NULL;
	}
	*c = (struct xvctl){ .loop = loop, .fn = fn, .opaque = opaque };
	for (unsigned int i = 0; i < XVCTL_CLIENTS; i++)
		c->clients[i] = (struct client){ .c = c, .fd = -1 };
	memcpy(a.sun_path, path, strlen(path) + 1);
	memcpy(c->path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto fail;
	unlink(path);
	if (bind(c->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    chmod(path, 0600) || (geteuid() == 0 && chown(path, uid, gid)) ||
	    listen(c->fd, XVCTL_CLIENTS) ||
	    vloop_add_fd(loop, c->fd, EPOLLIN, on_listen, c))
		goto fail;
	return c;
fail:
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

void xvctl_close(struct xvctl *c, bool unlink_path)
{
	if (!c)
		return;
	for (unsigned int i = 0; i < XVCTL_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			drop_client(&c->clients[i]);
	vloop_del_fd(c->loop, c->fd);
	close(c->fd);
	if (unlink_path)
		unlink(c->path);
	free(c);
}

/* ---- formatting --------------------------------------------------------- */

static uint64_t get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void queue_stats(FILE *f, bool json, const struct vdev *dev,
			unsigned int q, bool first)
{
	const struct vdev_queue_stats *s = &dev->queues[q].stats;
	const char *fmt = json ?
		"%s{\"queue\":%u,\"popped\":%" PRIu64 ",\"pushed\":%" PRIu64
		",\"bytes_out\":%" PRIu64 ",\"bytes_in\":%" PRIu64
		",\"notifies\":%" PRIu64 ",\"fd_notifies\":%" PRIu64
		",\"wakeups\":%" PRIu64
		",\"irqs\":%" PRIu64 ",\"irqs_suppressed\":%" PRIu64
		",\"refused\":%" PRIu64 "}" :
		"%squeue %u popped=%" PRIu64 " pushed=%" PRIu64
		" bytes_out=%" PRIu64 " bytes_in=%" PRIu64
		" notifies=%" PRIu64 " fd_notifies=%" PRIu64
		" wakeups=%" PRIu64
		" irqs=%" PRIu64 " irqs_suppressed=%" PRIu64
		" refused=%" PRIu64 "\n";

	fprintf(f, fmt, json ? (first ? "" : ",") : "", q,
		get(&s->vq.popped), get(&s->vq.pushed), get(&s->vq.bytes_out),
		get(&s->vq.bytes_in), get(&s->notifies), get(&s->fd_notifies),
		get(&s->wakeups),
		get(&s->irqs), get(&s->irqs_suppressed), get(&s->vq.refused));
}

static void mmio_stats(FILE *f, bool json, const char *name,
		       const struct vmmio *m)
{
	bool first = true;

	for (unsigned int i = 0; i < VMMIO_STAT_SLOTS; i++) {
		uint64_t r = get(&m->reads[i]), w = get(&m->writes[i]);
		const char *reg = vmmio_reg_name(i);
		char other[16];

		if (!r && !w)
			continue;
		if (!reg) {
			snprintf(other, sizeof(other), "0x%03x", i * 4);
			reg = other;
		}
		if (json)
			fprintf(f, "%s\"%s\":{\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 "}",
				first ? "" : ",", reg, r, w);
		else
			fprintf(f, "device %s mmio %s reads=%" PRIu64 " writes=%" PRIu64 "\n",
				name, reg, r, w);
		first = false;
	}
}

void xvctl_device_stats(FILE *f, bool json, bool first, struct vdev *dev,
			const struct vmmio *m)
{
	if (json) {
		fprintf(f, "%s{\"name\":\"%s\",\"model\":\"%s\",\"status\":%u,"
			"\"guest_errors\":%" PRIu64 ",\"resets\":%" PRIu64 ",\"mmio\":{",
			first ? "" : ",", dev->name, dev->model->name, dev->status,
			get(&dev->guest_errors), get(&dev->resets));
		mmio_stats(f, true, dev->name, m);
		fprintf(f, "},\"queues\":[");
	} else {
		fprintf(f, "device %s model=%s status=0x%02x guest_errors=%" PRIu64
			" resets=%" PRIu64 "\n", dev->name, dev->model->name,
			dev->status, get(&dev->guest_errors), get(&dev->resets));
		mmio_stats(f, false, dev->name, m);
	}
	for (unsigned int q = 0; q < dev->num_queues; q++) {
		if (!json)
			fprintf(f, "device %s ", dev->name);
		queue_stats(f, json, dev, q, !q);
	}
	if (json)
		fprintf(f, "]}");
}

/* ---- the client --------------------------------------------------------- */

static int request(const char *path, const char *cmd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pollfd p;
	char buf[4096];
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) != (ssize_t)strlen(cmd)) {
		n = -errno;
		if (fd >= 0)
			close(fd);
		return n;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&p, 1, CLIENT_TIMEOUT_MS) == 1 &&
	       (n = read(fd, buf, sizeof(buf))) > 0) {
		/* The server is the guest's side: no escape reaches a terminal. */
		for (ssize_t i = 0; i < n; i++)
			if ((buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t') ||
			    (unsigned char)buf[i] >= 0x7f)
				buf[i] = '?';
		fwrite(buf, 1, n, stdout);
	}
	close(fd);
	return 0;
}

int xvctl_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "domid", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "service", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	char path[108];
	long domid = -1;
	int c, json = 0, rc;

	while ((c = getopt_long(argc, argv, "d:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			domid = strtol(optarg, NULL, 10);
			break;
		case 'j':
			json = 1;
			break;
		case 's':
			sock = optarg;
			break;
		case 'S':
			xvctl_service_path(path, sizeof(path));
			sock = path;
			break;
		case 'h':
			printf("Usage: xen-virtio stats (--domid N | --service | --socket PATH) [--json]\n"
			       "Print the counters of the backend serving domain N, or the service's.\n");
			return 0;
		default:
			return 2;
		}
	}
	if ((domid < 0 || domid >= 0x7ff0) == !sock || optind < argc) {
		fprintf(stderr, "xen-virtio stats: give --domid N (or --service, or --socket PATH)\n");
		return 2;
	}
	if (!sock) {
		xvctl_path(domid, path, sizeof(path));
		sock = path;
	}
	rc = request(sock, json ? "stats json\n" : "stats\n");
	if (rc) {
		fprintf(stderr, "xen-virtio stats: %s: %s\n", sock, strerror(-rc));
		return 1;
	}
	return 0;
}
