// SPDX-License-Identifier: MIT
/*
 * Races between the device's worker and everything else that touches the
 * device: the driver resetting the device, disabling a queue, changing its
 * features from one initialisation to the next, while another thread
 * invalidates guest memory over and over (Xen's IOREQ_TYPE_INVALIDATE), with
 * blk reads and writes and console output in flight. Built with
 * --enable-tsan it runs under ThreadSanitizer; in the sanitizer build of
 * make check under AddressSanitizer (guest RAM is mapped per generation
 * there, so a pointer outliving its hold faults).
 *
 * What must hold: nothing crashes or hangs, every completed read sees the
 * disk's pattern (writes only ever write the pattern, so any misdirected
 * byte shows), console output is a prefix-free run of whole chains, and at
 * the end no guest-memory hold is left and the old generations are gone.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>

#include "vdrv.h"
#include "xtest.h"

#define WAIT_MS 10000
#define SECTOR 512u
#define DISK_SECTORS 2048u
#define ROUNDS 300
#define PER_ROUND 24

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + 1);
}

/* ---- the invalidating thread ------------------------------------------- */

struct inval {
	struct gmem *gm;
	atomic_bool stop;
	unsigned long n;
	pthread_t t;
};

static void *invalidator(void *arg)
{
	struct inval *iv = arg;

	while (!atomic_load(&iv->stop)) {
		gmem_invalidate(iv->gm);
		iv->n++;
		sched_yield();
	}
	return NULL;
}

static void inval_start(struct inval *iv, struct gmem *gm)
{
	iv->gm = gm;
	atomic_init(&iv->stop, false);
	XT_ASSERT(!pthread_create(&iv->t, NULL, invalidator, iv));
}

static void inval_stop(struct inval *iv)
{
	atomic_store(&iv->stop, true);
	pthread_join(iv->t, NULL);
}

/* No hold left and only the current generation, within a few seconds. */
static void expect_released(struct vdrv *d)
{
	XT_ASSERT_MSG(!vdrv_wait_gmem_idle(d, WAIT_MS), "%s", d->err);
}

static void close_drv(void *d)
{
	vdrv_close(d);
}

/* ---- blk ---------------------------------------------------------------- */

struct req {
	struct virtio_blk_outhdr hdr;
	struct vdrv_seg seg[3];
	bool write;
	uint64_t sector;
};

static char img_path[64];

static void unlink_img(void *p)
{
	unlink(p);
}

static const char *make_image(void)
{
	static uint8_t buf[DISK_SECTORS * SECTOR];
	int fd;

	snprintf(img_path, sizeof(img_path), "/var/tmp/xv-stress-XXXXXX");
	fd = mkstemp(img_path);
	XT_ASSERT(fd >= 0);
	xt_defer(unlink_img, img_path);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	XT_ASSERT(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	close(fd);
	return img_path;
}

static void post_req(struct vdrv_vq *vq, struct req *r, uint8_t *data,
		     unsigned int i, unsigned int round)
{
	uint32_t len = SECTOR * (1 + (i + round) % 8);

	r->write = (i + round) % 3 == 0;
	r->sector = ((uint64_t)i * 37 + round * 11) % (DISK_SECTORS - 8);
	r->hdr = (struct virtio_blk_outhdr){
		.type = htole32(r->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN),
		.sector = htole64(r->sector),
	};
	for (uint32_t k = 0; k < len; k++)
		data[k] = pattern(r->sector * SECTOR + k);
	r->seg[0] = (struct vdrv_seg){ .data = &r->hdr, .len = sizeof(r->hdr) };
	r->seg[1] = (struct vdrv_seg){ .data = r->write ? data : NULL, .len = len,
				       .writable = !r->write };
	r->seg[2] = (struct vdrv_seg){ .len = 1, .writable = true };
	/* Through an indirect table where the round negotiated them. */
	XT_ASSERT(vdrv_post(vq, r->seg, 3, (round & 2) && (i & 1), r) >= 0);
}

/* Reap whatever is there; check reads against the pattern. */
static unsigned int reap_blk(struct vdrv *d, struct vdrv_vq *vq)
{
	struct vdrv_used u;
	unsigned int n = 0;
	int rc;

	while ((rc = vdrv_reap(vq, &u)) == 1) {
		struct req *r = u.token;
		const uint8_t *st = vdrv_ptr(d, r->seg[2].gpa, 1);

		XT_EQ(*st, VIRTIO_BLK_S_OK);
		if (!r->write) {
			const uint8_t *p = vdrv_ptr(d, r->seg[1].gpa, r->seg[1].len);

			for (uint32_t k = 0; k < r->seg[1].len; k++)
				XT_ASSERT_MSG(p[k] == pattern(r->sector * SECTOR + k),
					      "sector %llu byte %u",
					      (unsigned long long)r->sector, k);
		}
		n++;
	}
	XT_ASSERT_MSG(rc == 0, "%s", d->err);
	return n;
}

static void stress_blk(void)
{
	static const uint64_t base = VDRV_F(VIRTIO_F_VERSION_1) |
		VDRV_F(VIRTIO_BLK_F_FLUSH) | VDRV_F(VIRTIO_BLK_F_SEG_MAX);
	static struct req reqs[PER_ROUND];
	static uint8_t data[PER_ROUND][8 * SECTOR];
	char spec[128], err[256];
	struct inval iv;
	struct vdrv *d;
	unsigned int done = 0, resets = 0;

	snprintf(spec, sizeof(spec), "blk,file=%s", make_image());
	d = vdrv_open(spec, NULL, err, sizeof(err));
	XT_ASSERT_MSG(d, "%s", err);
	xt_defer(close_drv, d);
	inval_start(&iv, d->gm);
	for (unsigned int round = 0; round < ROUNDS; round++) {
		uint64_t f = base;
		struct vdrv_vq *vq;

		if (round & 1)
			f |= VDRV_F(VIRTIO_RING_F_EVENT_IDX);
		if (round & 2)
			f |= VDRV_F(VIRTIO_RING_F_INDIRECT_DESC);
		XT_ASSERT_MSG(!vdrv_init(d, f, 1, 0), "round %u: %s", round, d->err);
		vq = vdrv_vq(d, 0);
		for (unsigned int i = 0; i < PER_ROUND; i++)
			post_req(vq, &reqs[i], data[i], i, round);
		vdrv_notify(vq);
		switch (round % 3) {
		case 0:		/* reset with whatever is in flight */
			usleep(round % 7 * 100);
			resets++;
			break;
		case 1:		/* disable the queue first, then reset */
			usleep(round % 5 * 100);
			vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
			vdrv_write32(d, VIRTIO_MMIO_QUEUE_READY, 0);
			resets++;
			break;
		default:	/* let it all complete */
			XT_ASSERT_MSG(!vdrv_wait_used(vq, PER_ROUND, WAIT_MS),
				      "round %u: %s", round, d->err);
			done += reap_blk(d, vq);
			break;
		}
		XT_ASSERT_MSG(!vdrv_reset(d), "%s", d->err);
	}
	inval_stop(&iv);
	XT_ASSERT(done == ROUNDS / 3 * PER_ROUND);
	XT_ASSERT(iv.n > 0 && resets > 0);
	expect_released(d);
}

/* ---- console ------------------------------------------------------------ */

struct reader {
	int fd;
	size_t got;
	atomic_bool stop;
	bool bad;
	pthread_t t;
};

/* Every chain the guest sends is CHAIN bytes of one letter. */
#define CHAIN 1024u

static void *reader(void *arg)
{
	struct reader *r = arg;
	uint8_t buf[4096];

	while (!atomic_load(&r->stop)) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 10) <= 0)
			continue;
		n = read(r->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] < 'a' || buf[i] > 'z')
				r->bad = true;
		r->got += n;
		usleep(200);	/* a slow client: the device holds chains */
	}
	return NULL;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; fd >= 0 && i < 500; i++) {
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		vdrv_msleep(2);
	}
	return -1;
}

static void stress_console(void)
{
	static uint8_t text[26][CHAIN];
	char sock[64], spec[128], err[256];
	struct reader rd = { 0 };
	struct inval iv;
	struct vdrv *d;
	int small = 4096;

	snprintf(sock, sizeof(sock), "/tmp/xv-stress-%d.sock", (int)getpid());
	unlink(sock);
	xt_defer(unlink_img, sock);
	snprintf(spec, sizeof(spec), "console,socket=%s", sock);
	d = vdrv_open(spec, NULL, err, sizeof(err));
	XT_ASSERT_MSG(d, "%s", err);
	xt_defer(close_drv, d);
	for (int c = 0; c < 26; c++)
		memset(text[c], 'a' + c, CHAIN);
	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 2, 0), "%s", d->err);
	rd.fd = connect_to(sock);
	XT_ASSERT(rd.fd >= 0);
	setsockopt(rd.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	atomic_init(&rd.stop, false);
	XT_ASSERT(!pthread_create(&rd.t, NULL, reader, &rd));
	inval_start(&iv, d->gm);
	for (unsigned int round = 0; round < ROUNDS; round++) {
		struct vdrv_vq *vq;

		if (round)
			XT_ASSERT_MSG(!vdrv_init(d, round & 1 ? VDRV_F_DEFAULT :
						 VDRV_F(VIRTIO_F_VERSION_1), 2, 0),
				      "round %u: %s", round, d->err);
		vq = vdrv_vq(d, 1);
		for (unsigned int i = 0; i < 16; i++) {
			struct vdrv_seg s = { .data = text[(round + i) % 26],
					      .len = CHAIN };

			bool ind = (!round || (round & 1)) && (i & 1);

			if (vdrv_post(vq, &s, 1, ind, NULL) < 0)
				break;
		}
		vdrv_notify(vq);
		usleep(round % 4 * 300);
		XT_ASSERT_MSG(!vdrv_reset(d), "%s", d->err);
	}
	inval_stop(&iv);
	atomic_store(&rd.stop, true);
	pthread_join(rd.t, NULL);
	close(rd.fd);
	XT_ASSERT_MSG(!rd.bad, "the client got bytes the guest never sent");
	XT_ASSERT(rd.got > 0);
	expect_released(d);
}

int main(int argc, char **argv)
{
	static const struct xt_case cases[] = {
		XT_CASE(stress_blk),
		XT_CASE(stress_console),
	};

	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
