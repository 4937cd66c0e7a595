// SPDX-License-Identifier: MIT
/*
 * virtio-rng through the simulated driver: random bytes arrive through a
 * real split ring.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <linux/virtio_ids.h>

#include "vdrv.h"
#include "xtest.h"

#define WAIT_MS 5000
#define QUIET_MS 50

static void close_drv(void *d)
{
	vdrv_close(d);
}

static struct vdrv *open_rng(uint64_t features)
{
	char err[256];
	struct vdrv *d = vdrv_open("rng", NULL, err, sizeof(err));

	XT_ASSERT_MSG(d, "vdrv_open: %s", err);
	xt_defer(close_drv, d);
	XT_ASSERT_MSG(!vdrv_init(d, features, 1, 0), "init: %s", d->err);
	return d;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Post one writable buffer, wait for it, check the length; bytes in out. */
static void read_random(struct vdrv *d, uint8_t *out, uint32_t len,
			bool indirect)
{
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_seg seg = { .len = len, .writable = true };
	struct vdrv_used u;
	int head;

	head = vdrv_post(vq, &seg, 1, indirect, out);
	XT_ASSERT_MSG(head >= 0, "post: %s", d->err);
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS), "%s", d->err);
	XT_EQ(vdrv_reap(vq, &u), 1);
	XT_EQ(u.id, head);
	XT_ASSERT(u.token == out);
	XT_EQ(u.len, len);
	memcpy(out, vdrv_ptr(d, seg.gpa, len), len);
}

static void rng_probe(void)
{
	struct vdrv *d = open_rng(VDRV_F_DEFAULT);

	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	XT_ASSERT(vdrv_has(d, VIRTIO_RING_F_EVENT_IDX));
	XT_ASSERT(vdrv_has(d, VIRTIO_RING_F_INDIRECT_DESC));
	/* One queue only. */
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, 1);
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void rng_event_idx_reads(void)
{
	struct vdrv *d = open_rng(VDRV_F_DEFAULT);
	uint8_t a[256], b[256];

	XT_ASSERT(vdrv_has(d, VIRTIO_RING_F_EVENT_IDX));
	read_random(d, a, sizeof(a), false);
	read_random(d, b, sizeof(b), false);
	XT_ASSERT(!all_zero(a, sizeof(a)));
	XT_ASSERT(!all_zero(b, sizeof(b)));
	XT_ASSERT(memcmp(a, b, sizeof(a)));
	/* The device asked for the next kick: avail_event follows avail. */
	XT_EQ(vdrv_avail_event(vdrv_vq(d, 0)), 2);
}

static void rng_no_event_idx(void)
{
	struct vdrv *d = open_rng(VDRV_F(VIRTIO_F_VERSION_1));
	uint8_t a[64], b[64];

	XT_ASSERT(!vdrv_has(d, VIRTIO_RING_F_EVENT_IDX));
	read_random(d, a, sizeof(a), false);
	read_random(d, b, sizeof(b), false);
	XT_ASSERT(memcmp(a, b, sizeof(a)));
}

static void rng_indirect(void)
{
	struct vdrv *d = open_rng(VDRV_F_DEFAULT);
	uint8_t a[512];

	read_random(d, a, sizeof(a), true);
	XT_ASSERT(!all_zero(a, sizeof(a)));
}

/* A chain of several writable pieces, some crossing 4 KiB chunks. */
static void rng_scattered_chunks(void)
{
	struct vdrv_opts o = { .chunk_size = 4096 };
	char err[256];
	struct vdrv *d = vdrv_open("rng", &o, err, sizeof(err));
	struct vdrv_seg segs[3];
	struct vdrv_vq *vq;
	struct vdrv_used u;
	uint64_t buf;

	XT_ASSERT_MSG(d, "%s", err);
	xt_defer(close_drv, d);
	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "%s", d->err);
	vq = vdrv_vq(d, 0);
	buf = vdrv_alloc(d, 3 * 8192, 4096);
	XT_ASSERT(buf);
	for (int i = 0; i < 3; i++)
		segs[i] = (struct vdrv_seg){ .gpa = buf + 8192 * i + 4000,
					     .len = 1000, .writable = true };
	XT_ASSERT(vdrv_post(vq, segs, 3, false, NULL) >= 0);
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
	XT_EQ(vdrv_reap(vq, &u), 1);
	XT_EQ(u.len, 3000);
	for (int i = 0; i < 3; i++)
		XT_ASSERT(!all_zero(vdrv_ptr(d, segs[i].gpa, 1000), 1000));
	/* Bytes around the segments were left alone. */
	XT_ASSERT(all_zero(vdrv_ptr(d, buf, 4000), 4000));
}

/* A readable segment is not filled; only writable bytes count. */
static void rng_readable_ignored(void)
{
	struct vdrv *d = open_rng(VDRV_F_DEFAULT);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	uint8_t zeros[128] = { 0 };
	struct vdrv_seg segs[2] = {
		{ .data = zeros, .len = sizeof(zeros) },
		{ .len = 32, .writable = true },
	};
	struct vdrv_used u;

	XT_ASSERT(vdrv_post(vq, segs, 2, false, NULL) >= 0);
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
	XT_EQ(vdrv_reap(vq, &u), 1);
	XT_EQ(u.len, 32);
	XT_ASSERT(all_zero(vdrv_ptr(d, segs[0].gpa, sizeof(zeros)), sizeof(zeros)));
}

/* Fill the whole queue, several rounds, with one kick per round. */
static void rng_full_queue_rounds(void)
{
	struct vdrv *d = open_rng(VDRV_F_DEFAULT);
	struct vdrv_vq *vq = vdrv_vq(d, 0);

	for (int round = 0; round < 5; round++) {
		struct vdrv_used u;

		for (int i = 0; i < vq->num; i++) {
			struct vdrv_seg seg = { .len = 16, .writable = true };

			XT_ASSERT_MSG(vdrv_post(vq, &seg, 1, i & 1, NULL) >= 0, "%s", d->err);
		}
		vdrv_kick(vq);
		XT_ASSERT_MSG(!vdrv_wait_used(vq, vq->num, WAIT_MS), "%s", d->err);
		for (int i = 0; i < vq->num; i++) {
			XT_EQ(vdrv_reap(vq, &u), 1);
			XT_EQ(u.len, 16);
		}
		XT_EQ(vdrv_reap(vq, &u), 0);
	}
	XT_EQ(vq->in_flight, 0);
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

static struct vdrv *open_spec(const char *spec)
{
	char err[256];
	struct vdrv *d = vdrv_open(spec, NULL, err, sizeof(err));

	XT_ASSERT_MSG(d, "vdrv_open(%s): %s", spec, err);
	xt_defer(close_drv, d);
	XT_ASSERT_MSG(!vdrv_init(d, VDRV_F_DEFAULT, 1, 0), "init: %s", d->err);
	return d;
}

/* Post one writable buffer of len bytes and kick; its head. */
static int post(struct vdrv *d, uint32_t len)
{
	struct vdrv_seg seg = { .len = len, .writable = true };
	int head = vdrv_post(vdrv_vq(d, 0), &seg, 1, false, NULL);

	XT_ASSERT_MSG(head >= 0, "post: %s", d->err);
	vdrv_kick(vdrv_vq(d, 0));
	return head;
}

/*
 * max-bytes per period: a buffer larger than what is left of the
 * allowance gets what is left (a short fill), and the next one waits in
 * the ring until the period is over.
 */
static void rng_rate_limited(void)
{
	struct vdrv *d = open_spec("rng,max-bytes=4096,period=3600000");
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_used u;
	int head = post(d, 65536);

	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS), "%s", d->err);
	XT_EQ(vdrv_reap(vq, &u), 1);
	XT_EQ(u.id, head);
	XT_EQ(u.len, 4096);
	post(d, 64);
	vdrv_msleep(QUIET_MS);
	XT_EQ(vdrv_reap(vq, &u), 0);
}

/* The next period serves what waited, within its own allowance. */
static void rng_rate_next_period(void)
{
	struct vdrv *d = open_spec("rng,max-bytes=1000,period=50");
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_used u;
	int head;

	post(d, 1500);
	XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS), "%s", d->err);
	XT_EQ(vdrv_reap(vq, &u), 1);
	XT_EQ(u.len, 1000);
	for (int round = 0; round < 3; round++) {
		head = post(d, 800);
		XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
		XT_EQ(vdrv_reap(vq, &u), 1);
		XT_EQ(u.id, head);
		XT_ASSERT(u.len > 0 && u.len <= 800);
	}
}

static void rng_rate_bad_options(void)
{
	static const char *const specs[] = {
		"rng,max-bytes=0", "rng,period=0", "rng,max-bytes=lots",
		"rng,period=3600001",
	};
	char err[256];

	for (unsigned int i = 0; i < sizeof(specs) / sizeof(*specs); i++) {
		err[0] = 0;
		XT_ASSERT_MSG(!vdrv_open(specs[i], NULL, err, sizeof(err)),
			      "%s was taken", specs[i]);
		XT_ASSERT_MSG(err[0], "%s: no reason given", specs[i]);
	}
}

/* The nice value of this process's thread called name, or -1000. */
static int thread_nice(const char *name)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	int nice = -1000;

	XT_ASSERT(dir);
	while (nice == -1000 && (e = readdir(dir))) {
		char path[300], comm[32] = "", stat[512], *p;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		if (strcmp(comm, name))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		XT_ASSERT(f);
		XT_ASSERT(fgets(stat, sizeof(stat), f));
		fclose(f);
		/* After "(comm) ": state is field 3, nice field 19. */
		p = strrchr(stat, ')');
		XT_ASSERT(p);
		XT_EQ(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			     "%*u %*u %*d %*d %*d %d", &nice), 1);
	}
	closedir(dir);
	return nice;
}

/* The worker is named after its device and takes the nice value asked. */
static void worker_named_and_niced(void)
{
	struct vdrv_opts o = { .worker_nice = 3 };
	char err[256];
	struct vdrv *d = vdrv_open("rng", &o, err, sizeof(err));
	int base = getpriority(PRIO_PROCESS, 0), nice = -1000;

	XT_ASSERT_MSG(d, "vdrv_open: %s", err);
	xt_defer(close_drv, d);
	/* The worker names itself as it starts. */
	for (int ms = 0; ms < WAIT_MS && nice == -1000; ms += 10) {
		nice = thread_nice("rng0");
		if (nice == -1000)
			vdrv_msleep(10);
	}
	XT_EQ(nice, base + 3 > 19 ? 19 : base + 3);
}

static const struct xt_case cases[] = {
	XT_CASE(worker_named_and_niced),
	XT_CASE(rng_probe),
	XT_CASE(rng_event_idx_reads),
	XT_CASE(rng_no_event_idx),
	XT_CASE(rng_indirect),
	XT_CASE(rng_scattered_chunks),
	XT_CASE(rng_readable_ignored),
	XT_CASE(rng_full_queue_rounds),
	XT_CASE(rng_rate_limited),
	XT_CASE(rng_rate_next_period),
	XT_CASE(rng_rate_bad_options),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
