// SPDX-License-Identifier: MIT
/*
 * virtio-blk throughput and latency: 4 KiB random reads and writes at queue
 * depth 1 and 32, over one and two queues, against a file (tmpfs by default,
 * so the device and the driver are measured rather than a disk).
 *
 * Each case runs twice on the same file with the same offsets:
 *  - xen-virtio: the simulated guest driver (tests/vdrv.h) in its own thread
 *    posts chains into split rings in plain guest memory, kicks through the
 *    virtio-mmio register file and waits for interrupts; devices/blk.c serves
 *    them on its worker thread with io_uring;
 *  - raw: one thread drives io_uring on the file directly with the same
 *    number of requests in flight (queues x depth), the limit the device
 *    could reach: it too does all its I/O from one thread.
 * Each side runs several rounds, alternating, and the round with the median
 * IOPS is shown, so that a burst of other load on the machine does not decide
 * the figures. It prints IOPS, median and 99th-percentile latency (post to
 * reap), the xen-virtio/raw IOPS ratio, and the driver's notifications
 * (QueueNotify writes) and interrupts per request. It measures; it asserts
 * nothing.
 *
 * Usage: blk [-f FILE] [-s MIB] [-t SECONDS] [-r ROUNDS] [-d] [-o OPTS]
 *	      [-x xv|raw] [CASE...]
 *	CASE  run only cases whose name contains it ("QD32", "randwrite QD1")
 *	-f  image to use (default: a new file in /dev/shm, removed after)
 *	-s  size of a new image in MiB (default 256)
 *	-t  seconds per round (default 1)
 *	-r  rounds per side and case (default 5)
 *	-d  cache=none (O_DIRECT) for both sides
 *	-o  more device options, e.g. "poll-us=0"
 *	-x  run one side only (to profile it)
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "log.h"
#include "vdrv.h"

#define BS		4096u
#define WARMUP_NS	200000000ull
#define MAX_SAMPLES	(1u << 23)

struct bench {
	const char *file;
	uint64_t size;
	double secs;
	unsigned int rounds;
	bool direct;
	const char *opts;	/* more device options */
	bool no_xv, no_raw;	/* -x: one side only */
};

struct result {
	double iops;
	double p50_us;
	double p99_us;
	double kicks;		/* per request (xen-virtio) */
	double irqs;
};

/* One measurement: latencies in ns of requests completed after warm-up. */
struct stats {
	uint32_t *lat;
	size_t n;
	uint64_t t_start;
	uint64_t t_end;
	uint64_t count;
};

struct slot {
	uint64_t t0;
	uint64_t off;
	unsigned int q;
	uint64_t hdr, data, status;	/* guest addresses (xen-virtio) */
	void *buf;			/* raw */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t next_off(uint64_t *seed, uint64_t size)
{
	uint64_t x = *seed;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*seed = x;
	return (x * 0x2545f4914f6cdd1dull >> 16) % (size / BS) * BS;
}

static void stats_add(struct stats *s, uint64_t now, uint64_t t0)
{
	if (now < s->t_start || now > s->t_end)
		return;
	s->count++;
	if (s->n < MAX_SAMPLES)
		s->lat[s->n++] = now - t0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void stats_result(struct stats *s, struct result *r)
{
	double secs = (s->t_end - s->t_start) / 1e9;

	qsort(s->lat, s->n, sizeof(*s->lat), cmp_u32);
	r->iops = s->count / secs;
	r->p50_us = s->n ? s->lat[s->n / 2] / 1e3 : 0;
	r->p99_us = s->n ? s->lat[s->n * 99 / 100] / 1e3 : 0;
}

static void stats_begin(struct stats *s, const struct bench *b)
{
	uint64_t t = now_ns();

	s->n = 0;
	s->count = 0;
	s->t_start = t + WARMUP_NS;
	s->t_end = s->t_start + (uint64_t)(b->secs * 1e9);
}

/* ---- xen-virtio: simulated driver against devices/blk.c ----------------- */

struct drv_run {
	const struct bench *b;
	struct vdrv *d;
	bool write;
	unsigned int qd, nq;
	struct slot *slots;
	struct stats *st;
	uint64_t posted;
	int rc;
};

static int drv_post(struct drv_run *r, struct slot *s, uint64_t *seed)
{
	struct vdrv *d = r->d;
	struct virtio_blk_outhdr *h = vdrv_ptr(d, s->hdr, sizeof(*h));
	struct vdrv_seg segs[3] = {
		{ .gpa = s->hdr, .len = sizeof(*h) },
		{ .gpa = s->data, .len = BS, .writable = !r->write },
		{ .gpa = s->status, .len = 1, .writable = true },
	};

	s->off = next_off(seed, r->b->size);
	h->type = htole32(r->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
	h->ioprio = 0;
	h->sector = htole64(s->off >> 9);
	s->t0 = now_ns();
	r->posted++;
	return vdrv_post(vdrv_vq(d, s->q), segs, 3, false, s) < 0 ? -1 : 0;
}

/* Reap what the device finished and post a new request for each. */
static int drv_reap(struct drv_run *r, uint64_t *seed, bool more,
		    unsigned int *outstanding)
{
	uint64_t t = now_ns();

	for (unsigned int q = 0; q < r->nq; q++) {
		struct vdrv_vq *vq = vdrv_vq(r->d, q);
		struct vdrv_used u;
		bool posted = false;
		int rc;

		while ((rc = vdrv_reap(vq, &u)) == 1) {
			struct slot *s = u.token;

			if (*(uint8_t *)vdrv_ptr(r->d, s->status, 1) != VIRTIO_BLK_S_OK)
				return -1;
			stats_add(r->st, t, s->t0);
			if (more) {
				if (drv_post(r, s, seed))
					return -1;
				posted = true;
			} else {
				(*outstanding)--;
			}
		}
		if (rc < 0)
			return -1;
		if (posted)
			vdrv_kick(vq);
	}
	return 0;
}

static void *drv_thread(void *arg)
{
	struct drv_run *r = arg;
	unsigned int n = r->qd * r->nq, outstanding = n;
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	stats_begin(r->st, r->b);
	for (unsigned int i = 0; i < n; i++)
		if (drv_post(r, &r->slots[i], &seed))
			goto fail;
	for (unsigned int q = 0; q < r->nq; q++)
		vdrv_kick(vdrv_vq(r->d, q));
	while (outstanding) {
		if (vdrv_wait_irq(r->d, 5000) < 0)
			goto fail;
		if (drv_reap(r, &seed, now_ns() < r->st->t_end, &outstanding))
			goto fail;
	}
	r->rc = 0;
	return NULL;
fail:
	fprintf(stderr, "xen-virtio case failed: %s\n", r->d->err);
	r->rc = -1;
	return NULL;
}

static int drv_slots(struct drv_run *r)
{
	struct vdrv *d = r->d;

	for (unsigned int i = 0; i < r->qd * r->nq; i++) {
		struct slot *s = &r->slots[i];

		s->q = i % r->nq;
		s->hdr = vdrv_alloc(d, sizeof(struct virtio_blk_outhdr), 16);
		s->data = vdrv_alloc(d, BS, BS);
		s->status = vdrv_alloc(d, 1, 1);
		if (!s->hdr || !s->data || !s->status)
			return -1;
		memset(vdrv_ptr(d, s->data, BS), 0x5a ^ i, BS);
	}
	return 0;
}

static int run_xv(const struct bench *b, bool write, unsigned int qd,
		  unsigned int nq, struct stats *st, struct result *res)
{
	uint64_t want = VDRV_F_DEFAULT | VDRV_F(VIRTIO_BLK_F_FLUSH) |
			VDRV_F(VIRTIO_BLK_F_MQ) | VDRV_F(VIRTIO_BLK_F_BLK_SIZE);
	struct drv_run r = { .b = b, .write = write, .qd = qd, .nq = nq, .st = st };
	char spec[512], err[256];
	pthread_t t;

	snprintf(spec, sizeof(spec), "blk,file=%s,queues=%u%s%s%s", b->file, nq,
		 b->direct ? ",cache=none" : "", b->opts ? "," : "",
		 b->opts ? b->opts : "");
	r.d = vdrv_open(spec, NULL, err, sizeof(err));
	if (!r.d) {
		fprintf(stderr, "%s: %s\n", spec, err);
		return -1;
	}
	r.slots = calloc(qd * nq, sizeof(*r.slots));
	if (!r.slots || vdrv_init(r.d, want, nq, 0) || drv_slots(&r) ||
	    pthread_create(&t, NULL, drv_thread, &r)) {
		fprintf(stderr, "%s: setup failed: %s\n", spec, r.d->err);
		r.rc = -1;
	} else {
		pthread_join(t, NULL);
	}
	if (!r.rc) {
		stats_result(st, res);
		res->kicks = res->irqs = r.d->irqs_raised;
		res->kicks = 0;
		for (unsigned int q = 0; q < nq; q++)
			res->kicks += vdrv_vq(r.d, q)->kicks_sent;
		res->kicks /= r.posted;
		res->irqs /= r.posted;
	}
	vdrv_close(r.d);
	free(r.slots);
	return r.rc;
}

/* ---- raw io_uring -------------------------------------------------------- */

static void raw_prep(struct io_uring *ring, int fd, bool write, struct slot *s,
		     uint64_t *seed, uint64_t size)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	s->off = next_off(seed, size);
	s->t0 = now_ns();
	if (write)
		io_uring_prep_write(sqe, fd, s->buf, BS, s->off);
	else
		io_uring_prep_read(sqe, fd, s->buf, BS, s->off);
	io_uring_sqe_set_data(sqe, s);
}

static int raw_loop(const struct bench *b, struct io_uring *ring, int fd,
		    bool write, struct slot *slots, unsigned int n,
		    struct stats *st)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned int outstanding = n;

	stats_begin(st, b);
	for (unsigned int i = 0; i < n; i++)
		raw_prep(ring, fd, write, &slots[i], &seed, b->size);
	while (outstanding) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		bool more;
		uint64_t t;
		int rc = io_uring_submit_and_wait(ring, 1);

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
			fprintf(stderr, "raw io_uring: %s\n", strerror(-rc));
			return -1;
		}
		t = now_ns();
		more = t < st->t_end;
		io_uring_for_each_cqe(ring, head, cqe) {
			struct slot *s = io_uring_cqe_get_data(cqe);

			seen++;
			if (cqe->res != (int)BS) {
				fprintf(stderr, "raw io_uring: result %d\n", cqe->res);
				return -1;
			}
			stats_add(st, t, s->t0);
			if (more)
				raw_prep(ring, fd, write, s, &seed, b->size);
			else
				outstanding--;
		}
		io_uring_cq_advance(ring, seen);
	}
	return 0;
}

static int run_raw(const struct bench *b, bool write, unsigned int qd,
		   unsigned int nq, struct stats *st, struct result *res)
{
	unsigned int n = qd * nq;
	struct slot *slots = calloc(n, sizeof(*slots));
	struct io_uring ring;
	int fd, rc = -1;

	fd = open(b->file, O_RDWR | O_CLOEXEC | (b->direct ? O_DIRECT : 0));
	if (fd < 0 || !slots || io_uring_queue_init(n, &ring, 0)) {
		fprintf(stderr, "raw io_uring on %s: setup failed\n", b->file);
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (posix_memalign(&slots[i].buf, BS, BS))
			goto out_ring;
		memset(slots[i].buf, 0x5a ^ i, BS);
	}
	rc = raw_loop(b, &ring, fd, write, slots, n, st);
	if (!rc) {
		stats_result(st, res);
	}
out_ring:
	io_uring_queue_exit(&ring);
out:
	for (unsigned int i = 0; slots && i < n; i++)
		free(slots[i].buf);
	free(slots);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- main ---------------------------------------------------------------- */

static int make_image(struct bench *b, char *path, size_t len)
{
	const size_t chunk = 1 << 20;
	uint8_t *buf = malloc(chunk);
	int fd;

	snprintf(path, len, "/dev/shm/xv-bench-%d.img", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !buf) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		free(buf);
		return -1;
	}
	/* Real data everywhere: reads must not hit holes. */
	for (uint64_t off = 0; off < b->size; off += chunk) {
		memset(buf, (int)(off >> 20) | 1, chunk);
		if (pwrite(fd, buf, chunk, off) != (ssize_t)chunk) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
	}
	close(fd);
	free(buf);
	b->file = path;
	return 0;
}

static int parse_args(int argc, char **argv, struct bench *b)
{
	int c;

	while ((c = getopt(argc, argv, "f:s:t:r:do:x:")) != -1) {
		switch (c) {
		case 'f':
			b->file = optarg;
			break;
		case 's':
			b->size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 't':
			b->secs = strtod(optarg, NULL);
			break;
		case 'r':
			b->rounds = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			b->direct = true;
			break;
		case 'o':
			b->opts = optarg;
			break;
		case 'x':
			b->no_raw = !strcmp(optarg, "xv");
			b->no_xv = !strcmp(optarg, "raw");
			if (b->no_raw || b->no_xv)
				break;
			/* fall through */
		default:
			fprintf(stderr, "usage: %s [-f FILE] [-s MIB] [-t SECONDS] [-r ROUNDS] [-d] [-o OPTS] [-x xv|raw] [CASE...]\n",
				argv[0]);
			return -1;
		}
	}
	if (b->size < (1 << 20) || b->secs <= 0 || !b->rounds) {
		fprintf(stderr, "%s: need -s >= 1, -t > 0 and -r >= 1\n", argv[0]);
		return -1;
	}
	return 0;
}

static int file_size(struct bench *b)
{
	struct stat st;

	if (stat(b->file, &st)) {
		fprintf(stderr, "%s: %s\n", b->file, strerror(errno));
		return -1;
	}
	b->size = st.st_size & ~(uint64_t)(BS - 1);
	return b->size ? 0 : -1;
}

static int cmp_iops(const void *a, const void *b)
{
	double x = ((const struct result *)a)->iops;
	double y = ((const struct result *)b)->iops;

	return x < y ? -1 : x > y;
}

/* Alternate rounds of both sides; the median round of each. */
static int run_case(const struct bench *b, bool write, unsigned int qd,
		    unsigned int nq, struct stats *st, struct result *x,
		    struct result *raw)
{
	struct result *rx = calloc(b->rounds, sizeof(*rx));
	struct result *rr = calloc(b->rounds, sizeof(*rr));
	int rc = -1;

	if (!rx || !rr)
		goto out;
	for (unsigned int i = 0; i < b->rounds; i++)
		if ((!b->no_xv && run_xv(b, write, qd, nq, st, &rx[i])) ||
		    (!b->no_raw && run_raw(b, write, qd, nq, st, &rr[i])))
			goto out;
	qsort(rx, b->rounds, sizeof(*rx), cmp_iops);
	qsort(rr, b->rounds, sizeof(*rr), cmp_iops);
	*x = rx[b->rounds / 2];
	*raw = rr[b->rounds / 2];
	rc = 0;
out:
	free(rx);
	free(rr);
	return rc;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (optind >= argc)
		return true;
	for (int i = optind; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return false;
}

static void print_header(const struct bench *b)
{
	struct utsname u;

	uname(&u);
	printf("xen-virtio blk benchmark: %s %s, %ld CPUs\n", u.sysname, u.release,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("image %s (%llu MiB), cache=%s%s%s, 4 KiB random I/O\n",
	       b->file, (unsigned long long)(b->size >> 20),
	       b->direct ? "none" : "writeback", b->opts ? ", " : "",
	       b->opts ? b->opts : "");
	printf("%u rounds of %.1f s per side and case, median round shown\n\n",
	       b->rounds, b->secs);
	printf("%-17s %26s  %26s  %5s  %s\n", "", "---------- xen-virtio ----------",
	       "--------- raw io_uring ---------", "", "per request");
	printf("%-17s %8s %8s %8s  %8s %8s %8s  %5s  %5s %5s\n", "case", "IOPS",
	       "p50 us", "p99 us", "IOPS", "p50 us", "p99 us", "ratio", "kicks",
	       "irqs");
}

int main(int argc, char **argv)
{
	static const struct { bool write; unsigned int qd, nq; } cases[] = {
		{ false, 1, 1 }, { false, 32, 1 }, { false, 1, 2 }, { false, 32, 2 },
		{ true, 1, 1 }, { true, 32, 1 }, { true, 1, 2 }, { true, 32, 2 },
	};
	struct bench b = { .size = 256ull << 20, .secs = 1, .rounds = 5 };
	struct stats st = { .lat = malloc(MAX_SAMPLES * sizeof(uint32_t)) };
	char path[64];
	bool made = false;
	int rc = 0;

	if (!st.lat || parse_args(argc, argv, &b))
		return 2;
	vlog_set_level(VLOG_WARN);
	if (b.file ? file_size(&b) : make_image(&b, path, sizeof(path)))
		return 1;
	made = b.file == path;
	print_header(&b);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result x = { 0 }, raw = { 0 };
		char name[32];

		snprintf(name, sizeof(name), "rand%s QD%u %uq",
			 cases[i].write ? "write" : "read", cases[i].qd, cases[i].nq);
		if (!selected(name, argc, argv))
			continue;
		if (run_case(&b, cases[i].write, cases[i].qd, cases[i].nq, &st,
			     &x, &raw)) {
			rc = 1;
			continue;
		}
		printf("%-17s %8.0f %8.1f %8.1f  %8.0f %8.1f %8.1f  %5.2f  %5.2f %5.2f\n",
		       name, x.iops, x.p50_us, x.p99_us, raw.iops, raw.p50_us,
		       raw.p99_us, raw.iops ? x.iops / raw.iops : 0, x.kicks, x.irqs);
		fflush(stdout);
	}
	if (made)
		unlink(path);
	free(st.lat);
	return rc;
}
