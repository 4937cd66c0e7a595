// SPDX-License-Identifier: MIT
/*
 * The backend's sandbox (tools/sandbox.c): the device models keep working
 * under its system call filter, through the simulated driver, with their
 * workers started before the filter (as in the daemon), and are torn down
 * under it at the end; what the filter
 * refuses fails with EACCES; anything unlisted kills the process; and, as
 * root, the whole sandbox changes the ids. Each case runs in a child
 * process, since a filter cannot be taken back.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "sandbox.h"
#include "vdrv.h"
#include "xtest.h"

#define WAIT_MS 10000
#define SECTOR 512u

/* Exit codes of a child, so the parent can say which step failed. */
enum { OK = 0, E_SETUP = 10, E_FILTER, E_IO, E_DATA, E_OPEN, E_IDS };

/* Run fn in a child; its exit status, or 128 + the signal that ended it. */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	XT_ASSERT(pid >= 0);
	if (!pid)
		_exit(fn(arg));	/* no atexit handlers: they may call anything */
	XT_ASSERT(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int blk_rw(struct vdrv *d, uint32_t type, uint64_t sector, void *buf,
		  uint32_t len)
{
	struct virtio_blk_outhdr h = { .type = htole32(type), .sector = htole64(sector) };
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint64_t data = len ? vdrv_alloc(d, len, SECTOR) : 0;
	uint64_t status = vdrv_alloc(d, 1, 1);
	struct vdrv_seg s[3];
	struct vdrv_used u;
	unsigned int n = 0;
	int rc;

	if ((len && !data) || !status)
		return -1;
	s[n++] = (struct vdrv_seg){ .data = &h, .len = sizeof(h) };
	if (len) {
		if (type == VIRTIO_BLK_T_OUT)
			memcpy(vdrv_ptr(d, data, len), buf, len);
		s[n++] = (struct vdrv_seg){ .gpa = data, .len = len,
					    .writable = type == VIRTIO_BLK_T_IN };
	}
	s[n++] = (struct vdrv_seg){ .gpa = status, .len = 1, .writable = true };
	if (vdrv_post(vq, s, n, false, NULL) < 0)
		return -1;
	vdrv_kick(vq);
	if (vdrv_wait_used(vq, 1, WAIT_MS) || vdrv_reap(vq, &u) != 1)
		return -1;
	if (type == VIRTIO_BLK_T_IN)
		memcpy(buf, vdrv_ptr(d, data, len), len);
	rc = *(uint8_t *)vdrv_ptr(d, status, 1);
	if (len)
		vdrv_free(d, data, len);
	vdrv_free(d, status, 1);
	return rc;
}

/* One buffer through queue q: the used length, or -1. */
static int one_buf(struct vdrv *d, unsigned int q, struct vdrv_seg *seg)
{
	struct vdrv_vq *vq = vdrv_vq(d, q);
	struct vdrv_used u;

	if (vdrv_post(vq, seg, 1, false, NULL) < 0)
		return -1;
	vdrv_kick(vq);
	if (vdrv_wait_used(vq, 1, WAIT_MS) || vdrv_reap(vq, &u) != 1)
		return -1;
	return u.len;
}

static int rng_read(struct vdrv *d, uint32_t len)
{
	struct vdrv_seg seg = { .len = len, .writable = true };

	return one_buf(d, 0, &seg) == (int)len ? 0 : -1;
}

/* A line each way between the guest and the console's socket client. */
static int console_lines(struct vdrv *d, int client)
{
	struct vdrv_seg tx = { .data = "ping\n", .len = 5 };
	struct vdrv_seg rx = { .len = 64, .writable = true };
	struct pollfd p = { .fd = client, .events = POLLIN };
	char buf[16];
	int n;

	if (one_buf(d, 1, &tx) < 0 || poll(&p, 1, WAIT_MS) != 1 ||
	    read(client, buf, sizeof(buf)) != 5 || memcmp(buf, "ping\n", 5) ||
	    write(client, "pong\n", 5) != 5)
		return -1;
	n = one_buf(d, 0, &rx);
	if (n != 5)
		return -1;
	return memcmp(vdrv_ptr(d, rx.gpa, 5), "pong\n", 5) ? -1 : 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A disk image in $TMPDIR (else /var/tmp), made by the parent, and the
 * path of a console's socket next to it. */
static char img[256];
static char sock[300];

static void img_remove(void *arg)
{
	(void)arg;
	unlink(img);
	unlink(sock);
}

static void make_img(void)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(img, sizeof(img), "%s/xv-sandbox-XXXXXX",
		 dir && *dir ? dir : "/var/tmp");
	fd = mkstemp(img);
	XT_ASSERT_MSG(fd >= 0, "%s: %m", img);
	XT_ASSERT(!ftruncate(fd, 1 << 20));
	close(fd);
	snprintf(sock, sizeof(sock), "%s.sock", img);
	xt_defer(img_remove, NULL);
}

/* Devices up and running first, then the filter, then the guest's I/O. */
static int serve_filtered(void *arg)
{
	char spec[320], err[256], w[4096], r[4096];
	struct vdrv *blk, *rng, *con;
	int client;

	(void)arg;
	snprintf(spec, sizeof(spec), "blk,file=%s", img);
	blk = vdrv_open(spec, NULL, err, sizeof(err));
	rng = vdrv_open("rng", NULL, err, sizeof(err));
	snprintf(spec, sizeof(spec), "console,socket=%s", sock);
	con = vdrv_open(spec, NULL, err, sizeof(err));
	if (!blk || !rng || !con ||
	    vdrv_init(blk, VDRV_F_DEFAULT | VDRV_F(VIRTIO_BLK_F_FLUSH), 1, 0) ||
	    vdrv_init(rng, VDRV_F_DEFAULT, 1, 0) ||
	    vdrv_init(con, VDRV_F_DEFAULT, 2, 0))
		return E_SETUP;
	/* A client that connected before: accepted under the filter. */
	client = connect_to(sock);
	if (client < 0)
		return E_SETUP;
	if (xvsb_filter(err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return E_FILTER;
	}
	for (unsigned int i = 0; i < sizeof(w); i++)
		w[i] = (char)(i * 7 + 3);
	for (unsigned int round = 0; round < 20; round++) {
		if (blk_rw(blk, VIRTIO_BLK_T_OUT, round * 8, w, sizeof(w)) ||
		    blk_rw(blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) ||
		    blk_rw(blk, VIRTIO_BLK_T_IN, round * 8, r, sizeof(r)) ||
		    rng_read(rng, 64))
			return E_IO;
		if (memcmp(w, r, sizeof(w)))
			return E_DATA;
	}
	if (console_lines(con, client))
		return E_IO;
	/* A device reset stops and restarts queue work under the filter too. */
	if (vdrv_reset(blk) || vdrv_init(blk, VDRV_F_DEFAULT, 1, 0) ||
	    blk_rw(blk, VIRTIO_BLK_T_IN, 0, r, sizeof(r)) || memcmp(w, r, sizeof(r)))
		return E_IO;
	/* The server ends under the filter too: devices torn down. */
	vdrv_close(blk);
	vdrv_close(rng);
	vdrv_close(con);
	return OK;
}

static void filter_serves_models(void)
{
	make_img();
	XT_EQ(in_child(serve_filtered, NULL), OK);
}

static int open_refused(void *arg)
{
	char err[256];

	(void)arg;
	if (xvsb_filter(err, sizeof(err)))
		return E_FILTER;
	if (open("/dev/null", O_RDONLY) >= 0 || errno != EACCES)
		return E_OPEN;
	if (socket(AF_UNIX, SOCK_STREAM, 0) >= 0 || errno != EACCES)
		return E_OPEN;
	return OK;
}

static void filter_refuses_files(void)
{
	XT_EQ(in_child(open_refused, NULL), OK);
}

/* Not on the list: the process dies (SIGSYS), however harmless the call. */
static int unlisted(void *arg)
{
	char err[256];

	(void)arg;
	if (xvsb_filter(err, sizeof(err)))
		return E_FILTER;
	syscall(SYS_getppid);
	return OK;
}

static int signal_other(void *arg)
{
	char err[256];
	pid_t parent = getppid();

	(void)arg;
	if (xvsb_filter(err, sizeof(err)))
		return E_FILTER;
	kill(parent, 0);	/* signals are for this process only */
	return OK;
}

/* A thread may name itself and lower its priority (a worker may start
 * after the filter is in force); no other prctl. */
static int prctl_name(void *arg)
{
	char err[256], name[16];

	if (xvsb_filter(err, sizeof(err)))
		return E_FILTER;
	if (prctl(PR_SET_NAME, "blk0", 0, 0, 0) ||
	    prctl(PR_GET_NAME, name, 0, 0, 0) || strcmp(name, "blk0"))
		return E_IO;
	/* ... and lower its own priority (a device's worker_nice). */
	if (setpriority(PRIO_PROCESS, 0, getpriority(PRIO_PROCESS, 0) + 1))
		return E_IO;
	if (arg)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return OK;
}

static void filter_kills_the_rest(void)
{
	XT_EQ(in_child(unlisted, NULL), 128 + SIGSYS);
	XT_EQ(in_child(signal_other, NULL), 128 + SIGSYS);
	XT_EQ(in_child(prctl_name, NULL), OK);
	XT_EQ(in_child(prctl_name, "dumpable"), 128 + SIGSYS);
}

static int enter_all(void *arg)
{
	struct xvsb_config *c = arg;
	char err[256];

	if (xvsb_enter(c, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return E_FILTER;
	}
	if (getuid() != c->uid || geteuid() != c->uid || getgid() != c->gid ||
	    getegid() != c->gid)
		return E_IDS;
	if (open(".", O_RDONLY) >= 0 || errno != EACCES)
		return E_OPEN;
	return OK;
}

static void enter_changes_ids(void)
{
	struct xvsb_config c;
	char err[256];

	if (geteuid())
		xt_skip("needs root");
	XT_ASSERT_MSG(!xvsb_resolve(&c, "base:1879048192", 7, err, sizeof(err)),
		      "%s", err);
	XT_EQ(in_child(enter_all, &c), OK);
}

static void resolve_specs(void)
{
	struct xvsb_config c;
	char err[256];

	XT_ASSERT(!xvsb_resolve(&c, NULL, 5, err, sizeof(err)));
	XT_EQ(c.uid, XVSB_DEFAULT_UID_BASE + 5u);
	XT_EQ(c.gid, XVSB_DEFAULT_UID_BASE + 5u);
	XT_ASSERT(!c.keep_root && !c.chroot[0]);
	XT_ASSERT(!xvsb_resolve(&c, "base:200000", 12, err, sizeof(err)));
	XT_EQ(c.uid, 200012);
	XT_ASSERT(!xvsb_resolve(&c, "1001:1002", 12, err, sizeof(err)));
	XT_EQ(c.uid, 1001);
	XT_EQ(c.gid, 1002);
	XT_ASSERT(!xvsb_resolve(&c, "root", 12, err, sizeof(err)));
	XT_ASSERT(c.keep_root);
	XT_ASSERT(!xvsb_resolve(&c, "nobody", 12, err, sizeof(err)));
	XT_EQ(c.uid, 65534);
	/* never root by accident, never nonsense */
	static const char *const bad[] = {
		"0:5", "5:0", "base:0", "base:x", "1:2:3", "-1:5", ":5", "5:",
		"base:4294967295", "no-such-user-xv", "4294967295:1",
	};
	for (unsigned int i = 0; i < XT_COUNT(bad); i++)
		XT_ASSERT_MSG(xvsb_resolve(&c, bad[i], 12, err, sizeof(err)),
			      "'%s' accepted", bad[i]);
}

static const struct xt_case cases[] = {
	XT_CASE(resolve_specs),
	XT_CASE(filter_serves_models),
	XT_CASE(filter_refuses_files),
	XT_CASE(filter_kills_the_rest),
	XT_CASE(enter_changes_ids),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
