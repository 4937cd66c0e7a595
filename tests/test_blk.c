// SPDX-License-Identifier: MIT
/*
 * virtio-blk through the simulated driver, on image files in a temporary
 * directory ($TMPDIR, else /var/tmp: a disk-backed file system, so that
 * cache=none really does O_DIRECT). Every refused request is checked twice:
 * the status byte the device wrote, and the image file, byte for byte.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "blk.h"
#include "vdrv.h"
#include "xtest.h"

#define WAIT_MS		10000
#define SECTOR		512u
#define IMG_SECTORS	4096u			/* 2 MiB */
#define IMG_SIZE	((uint64_t)IMG_SECTORS * SECTOR)
#define STATUS_UNSET	0xffu
#define CFG(field)	offsetof(struct virtio_blk_config, field)
#define FSZ(field)	sizeof(((struct virtio_blk_config *)0)->field)
#define CFG_GET(d, field) vdrv_config_get(d, CFG(field), FSZ(field))

#define BLK_FEATURES (VDRV_F_DEFAULT | VDRV_F(VIRTIO_BLK_F_SIZE_MAX) | \
		      VDRV_F(VIRTIO_BLK_F_SEG_MAX) | VDRV_F(VIRTIO_BLK_F_BLK_SIZE) | \
		      VDRV_F(VIRTIO_BLK_F_TOPOLOGY) | VDRV_F(VIRTIO_BLK_F_FLUSH) | \
		      VDRV_F(VIRTIO_BLK_F_MQ) | VDRV_F(VIRTIO_BLK_F_RO) | \
		      VDRV_F(VIRTIO_BLK_F_DISCARD) | VDRV_F(VIRTIO_BLK_F_WRITE_ZEROES))

/* ---- image files ------------------------------------------------------- */

struct img {
	char dir[256];
	char path[300];
};

static void img_remove(void *arg)
{
	struct img *im = arg;

	unlink(im->path);
	rmdir(im->dir);
	free(im);
}

/* A different byte for every offset, so misplaced data shows. */
static uint8_t pattern(uint64_t off)
{
	return (uint8_t)((off >> 9) * 37 + (off & 511) * 5 + 11);
}

static void fill_pattern(uint8_t *p, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern(off + i);
}

static struct img *img_new(uint64_t size)
{
	const char *base = getenv("TMPDIR");
	struct img *im = calloc(1, sizeof(*im));
	uint8_t *buf = malloc(size ? size : 1);
	int fd;

	XT_ASSERT(im && buf);
	snprintf(im->dir, sizeof(im->dir), "%s/xv-blk-XXXXXX",
		 base && *base ? base : "/var/tmp");
	XT_ASSERT_MSG(mkdtemp(im->dir), "mkdtemp %s: %m", im->dir);
	snprintf(im->path, sizeof(im->path), "%s/disk.img", im->dir);
	xt_defer(img_remove, im);
	fd = open(im->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	XT_ASSERT_MSG(fd >= 0, "%s: %m", im->path);
	fill_pattern(buf, 0, size);
	XT_EQ(pwrite(fd, buf, size, 0), size);
	close(fd);
	free(buf);
	return im;
}

/* The whole file; free() it. */
static uint8_t *img_read(const struct img *im, uint64_t *size)
{
	int fd = open(im->path, O_RDONLY);
	struct stat st;
	uint8_t *p;

	XT_ASSERT_MSG(fd >= 0 && !fstat(fd, &st), "%s: %m", im->path);
	p = malloc(st.st_size ? st.st_size : 1);
	XT_ASSERT(p);
	XT_EQ(pread(fd, p, st.st_size, 0), st.st_size);
	close(fd);
	*size = st.st_size;
	return p;
}

/* The file still holds the pattern it was created with. */
static void img_untouched(const struct img *im, uint64_t size)
{
	uint64_t n;
	uint8_t *p = img_read(im, &n);

	XT_EQ(n, size);
	for (uint64_t i = 0; i < n; i++)
		XT_ASSERT_MSG(p[i] == pattern(i), "image changed at byte %llu",
			      (unsigned long long)i);
	free(p);
}

static uint64_t img_blocks(const struct img *im)
{
	struct stat st;

	XT_ASSERT(!stat(im->path, &st));
	return st.st_blocks;
}

/* ---- device ------------------------------------------------------------ */

static void close_drv(void *d)
{
	vdrv_close(d);
}

static struct vdrv *blk_open(const struct img *im, const char *extra,
			     const struct vdrv_opts *o)
{
	char spec[512], err[256];
	struct vdrv *d;

	snprintf(spec, sizeof(spec), "blk,file=%s%s%s", im->path,
		 extra && *extra ? "," : "", extra ? extra : "");
	d = vdrv_open(spec, o, err, sizeof(err));
	XT_ASSERT_MSG(d, "vdrv_open(%s): %s", spec, err);
	xt_defer(close_drv, d);
	return d;
}

static struct vdrv *blk_up(const struct img *im, const char *extra,
			   uint64_t features, unsigned int nq)
{
	struct vdrv *d = blk_open(im, extra, NULL);

	XT_ASSERT_MSG(!vdrv_init(d, features, nq, 0), "init: %s", d->err);
	return d;
}

/* ---- requests ---------------------------------------------------------- */

struct rq {
	uint32_t type;
	uint64_t sector;
	const void *out;	/* readable bytes after the header */
	uint32_t out_len;
	uint32_t in_len;	/* writable bytes before the status */
	void *in;		/* receives them afterwards (may be NULL) */
	bool indirect;

	uint8_t status;
	uint32_t used;
	uint64_t in_gpa;
	uint64_t status_gpa;
};

static void rq_post(struct vdrv *d, struct vdrv_vq *vq, struct rq *r)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(r->type), .sector = htole64(r->sector),
	};
	struct vdrv_seg s[4];
	unsigned int n = 0;

	s[n++] = (struct vdrv_seg){ .data = &h, .len = sizeof(h) };
	if (r->out_len)
		s[n++] = (struct vdrv_seg){ .data = r->out, .len = r->out_len };
	if (r->in_len) {
		r->in_gpa = vdrv_alloc(d, r->in_len, SECTOR);
		XT_ASSERT(r->in_gpa);
		memset(vdrv_ptr(d, r->in_gpa, r->in_len), 0xa5, r->in_len);
		s[n++] = (struct vdrv_seg){ .gpa = r->in_gpa, .len = r->in_len,
					    .writable = true };
	}
	r->status_gpa = vdrv_alloc(d, 1, 1);
	XT_ASSERT(r->status_gpa);
	*(uint8_t *)vdrv_ptr(d, r->status_gpa, 1) = STATUS_UNSET;
	s[n++] = (struct vdrv_seg){ .gpa = r->status_gpa, .len = 1, .writable = true };
	XT_ASSERT_MSG(vdrv_post(vq, s, n, r->indirect, r) >= 0, "post: %s", d->err);
}

static void rq_reaped(struct vdrv *d, const struct vdrv_used *u)
{
	struct rq *r = u->token;

	r->used = u->len;
	r->status = *(uint8_t *)vdrv_ptr(d, r->status_gpa, 1);
	if (r->in_len && r->in)
		memcpy(r->in, vdrv_ptr(d, r->in_gpa, r->in_len), r->in_len);
	if (r->in_len)
		vdrv_free(d, r->in_gpa, r->in_len);
	vdrv_free(d, r->status_gpa, 1);
}

/* Wait for n used entries on vq and reap them. */
static void reap_n(struct vdrv *d, struct vdrv_vq *vq, unsigned int n)
{
	struct vdrv_used u;

	XT_ASSERT_MSG(!vdrv_wait_used(vq, n, WAIT_MS), "%s", d->err);
	for (unsigned int i = 0; i < n; i++) {
		XT_ASSERT_MSG(vdrv_reap(vq, &u) == 1, "reap: %s", d->err);
		rq_reaped(d, &u);
	}
}

/* Post n requests on queue q, one kick, wait for all of them. */
static void rq_run_q(struct vdrv *d, unsigned int q, struct rq *rs, unsigned int n)
{
	struct vdrv_vq *vq = vdrv_vq(d, q);

	for (unsigned int i = 0; i < n; i++)
		rq_post(d, vq, &rs[i]);
	vdrv_kick(vq);
	reap_n(d, vq, n);
}

static void rq_run(struct vdrv *d, struct rq *r)
{
	rq_run_q(d, 0, r, 1);
}

static uint8_t blk_read(struct vdrv *d, uint64_t sector, void *buf, uint32_t len)
{
	struct rq r = { .type = VIRTIO_BLK_T_IN, .sector = sector,
			.in_len = len, .in = buf };

	rq_run(d, &r);
	if (r.status == VIRTIO_BLK_S_OK)
		XT_EQ(r.used, len + 1);
	return r.status;
}

static uint8_t blk_write(struct vdrv *d, uint64_t sector, const void *buf,
			 uint32_t len)
{
	struct rq r = { .type = VIRTIO_BLK_T_OUT, .sector = sector,
			.out = buf, .out_len = len };

	rq_run(d, &r);
	XT_EQ(r.used, 1);
	return r.status;
}

static uint8_t blk_simple(struct vdrv *d, uint32_t type)
{
	struct rq r = { .type = type };

	rq_run(d, &r);
	XT_EQ(r.used, 1);
	return r.status;
}

/* One discard or write-zeroes request over n ranges. */
static uint8_t blk_zero(struct vdrv *d, uint32_t type,
			const struct virtio_blk_discard_write_zeroes *segs,
			unsigned int n)
{
	struct rq r = { .type = type, .out = segs,
			.out_len = n * sizeof(*segs) };

	rq_run(d, &r);
	XT_EQ(r.used, 1);
	return r.status;
}

static struct virtio_blk_discard_write_zeroes range(uint64_t sector,
						    uint32_t n, uint32_t flags)
{
	return (struct virtio_blk_discard_write_zeroes){
		.sector = htole64(sector), .num_sectors = htole32(n),
		.flags = htole32(flags),
	};
}

/* A raw chain (for malformed requests); the used length is returned. */
static uint32_t raw_run(struct vdrv *d, struct vdrv_seg *segs, unsigned int n)
{
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct vdrv_used u;

	XT_ASSERT_MSG(vdrv_post(vq, segs, n, false, NULL) >= 0, "post: %s", d->err);
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
	XT_ASSERT_MSG(vdrv_reap(vq, &u) == 1, "reap: %s", d->err);
	return u.len;
}

static void check_pattern(const uint8_t *p, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		XT_ASSERT_MSG(p[i] == pattern(off + i), "byte %zu of a read at %llu",
			      i, (unsigned long long)off);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* ---- cases: device and config ------------------------------------------ */

static void blk_probe_config(void)
{
	struct img *im = img_new(IMG_SIZE + 100);	/* a tail is cut */
	struct vdrv *d = blk_up(im, "queues=3", BLK_FEATURES, 1);

	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	for (unsigned int bit = 0; bit < 64; bit++) {
		bool want = (1ull << bit) & (BLK_FEATURES & ~VDRV_F(VIRTIO_BLK_F_RO));

		XT_ASSERT_MSG(vdrv_has(d, bit) == want, "feature %u", bit);
	}
	XT_EQ(CFG_GET(d, capacity), IMG_SECTORS);
	XT_EQ(CFG_GET(d, blk_size), SECTOR);
	XT_EQ(CFG_GET(d, seg_max), 254);
	XT_EQ(CFG_GET(d, size_max), 1u << 20);
	XT_EQ(CFG_GET(d, num_queues), 3);
	XT_ASSERT(CFG_GET(d, max_discard_sectors) >= IMG_SECTORS);
	XT_EQ(CFG_GET(d, max_discard_seg), 32);
	XT_ASSERT(CFG_GET(d, discard_sector_alignment) >= 1);
	XT_ASSERT(CFG_GET(d, max_write_zeroes_sectors) >= IMG_SECTORS);
	XT_EQ(CFG_GET(d, max_write_zeroes_seg), 32);
	XT_EQ(CFG_GET(d, write_zeroes_may_unmap), 1);
	/* 2^physical_block_exp logical blocks per physical one, min_io >= 1 */
	XT_ASSERT(CFG_GET(d, physical_block_exp) <= 7);
	XT_ASSERT(CFG_GET(d, min_io_size) >= 1);
	/* Three queues exist, a fourth does not. */
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, 2);
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, 3);
	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void blk_options(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, "queue-size=64,discard=off", BLK_FEATURES, 1);

	XT_EQ(vdrv_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	XT_ASSERT(!vdrv_has(d, VIRTIO_BLK_F_DISCARD));
	XT_ASSERT(vdrv_has(d, VIRTIO_BLK_F_WRITE_ZEROES));
	XT_EQ(CFG_GET(d, write_zeroes_may_unmap), 0);
}

static void expect_open_error(const char *spec, const char *needle)
{
	char err[256] = "";
	struct vdrv *d = vdrv_open(spec, NULL, err, sizeof(err));

	if (d)
		vdrv_close(d);
	XT_ASSERT_MSG(!d, "%s was accepted", spec);
	XT_ASSERT_MSG(strstr(err, needle), "%s: error '%s' lacks '%s'", spec, err,
		      needle);
}

static void blk_bad_options(void)
{
	struct img *im = img_new(IMG_SIZE);
	char spec[512];

	expect_open_error("blk", "file=");
	expect_open_error("blk,file=/nonexistent/disk.img", "No such file");
	snprintf(spec, sizeof(spec), "blk,file=%s", im->dir);
	expect_open_error(spec, "Is a directory");
	snprintf(spec, sizeof(spec), "blk,file=%s,readonly=on", im->dir);
	expect_open_error(spec, "not a regular file");
	expect_open_error("blk,file=/dev/null", "not a regular file");
	snprintf(spec, sizeof(spec), "blk,file=%s,cache=unsafe", im->path);
	expect_open_error(spec, "cache=");
	snprintf(spec, sizeof(spec), "blk,file=%s,serial=123456789012345678901", im->path);
	expect_open_error(spec, "serial=");
	snprintf(spec, sizeof(spec), "blk,file=%s,queue-size=100", im->path);
	expect_open_error(spec, "power of two");
	snprintf(spec, sizeof(spec), "blk,file=%s,queues=0", im->path);
	expect_open_error(spec, "queues");
	snprintf(spec, sizeof(spec), "blk,file=%s,poll-us=5000", im->path);
	expect_open_error(spec, "poll-us");
	snprintf(spec, sizeof(spec), "blk,file=%s,readonly=maybe", im->path);
	expect_open_error(spec, "readonly");
	snprintf(spec, sizeof(spec), "blk,file=%s,bogus=1", im->path);
	expect_open_error(spec, "bogus");
}

/* Two writers on one image would corrupt it: the second one is refused. */
static void blk_image_lock(void)
{
	struct img *im = img_new(IMG_SIZE);
	char spec[512];

	blk_open(im, NULL, NULL);
	snprintf(spec, sizeof(spec), "blk,file=%s", im->path);
	expect_open_error(spec, "in use");
	snprintf(spec, sizeof(spec), "blk,file=%s,readonly=on", im->path);
	expect_open_error(spec, "in use");
}

/*
 * A backend started again at once for the same image gets it: the lock is
 * dropped with the device, not when the kernel gets round to tearing down
 * the io_uring that still holds the file.
 */
static void blk_reopen(void)
{
	struct img *im = img_new(IMG_SIZE);
	char spec[512], err[256];
	uint8_t buf[SECTOR];

	snprintf(spec, sizeof(spec), "blk,file=%s", im->path);
	for (int i = 0; i < 20; i++) {
		struct vdrv *d = vdrv_open(spec, NULL, err, sizeof(err));

		XT_ASSERT_MSG(d, "round %d: %s", i, err);
		XT_ASSERT_MSG(!vdrv_init(d, BLK_FEATURES, 1, 0), "init: %s", d->err);
		XT_EQ(blk_read(d, i, buf, SECTOR), VIRTIO_BLK_S_OK);
		check_pattern(buf, i * SECTOR, SECTOR);
		vdrv_close(d);
	}
}

static void blk_readonly_shared(void)
{
	struct img *im = img_new(IMG_SIZE);

	blk_open(im, "readonly=on", NULL);
	blk_open(im, "readonly=on", NULL);
}

/* ---- cases: data ------------------------------------------------------- */

static void blk_read_sectors(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	uint8_t buf[8192];

	XT_EQ(blk_read(d, 0, buf, SECTOR), VIRTIO_BLK_S_OK);
	check_pattern(buf, 0, SECTOR);
	XT_EQ(blk_read(d, 77, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	check_pattern(buf, 77 * SECTOR, sizeof(buf));
	/* The last sector of the disk. */
	XT_EQ(blk_read(d, IMG_SECTORS - 1, buf, SECTOR), VIRTIO_BLK_S_OK);
	check_pattern(buf, (IMG_SECTORS - 1) * SECTOR, SECTOR);
	img_untouched(im, IMG_SIZE);
}

static void blk_write_sectors(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	uint8_t w[4096], r[4096], *file;
	uint64_t n;

	memset(w, 0x3c, sizeof(w));
	XT_EQ(blk_write(d, 100, w, sizeof(w)), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, 100, r, sizeof(r)), VIRTIO_BLK_S_OK);
	XT_ASSERT(!memcmp(w, r, sizeof(w)));
	file = img_read(im, &n);
	XT_EQ(n, IMG_SIZE);
	XT_ASSERT(!memcmp(file + 100 * SECTOR, w, sizeof(w)));
	check_pattern(file, 0, 100 * SECTOR);
	check_pattern(file + 108 * SECTOR, 108 * SECTOR, IMG_SIZE - 108 * SECTOR);
	free(file);
}

/* Data scattered over many segments, some crossing gmem chunk boundaries. */
static void blk_scattered(void)
{
	struct vdrv_opts o = { .chunk_size = 4096 };
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_open(im, NULL, &o);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
				       .sector = htole64(10) };
	struct vdrv_seg s[6];
	uint64_t data = 0;
	uint32_t used;

	XT_ASSERT_MSG(!vdrv_init(d, BLK_FEATURES, 1, 0), "%s", d->err);
	data = vdrv_alloc(d, 5 * 4096, 4096);
	XT_ASSERT(data);
	/* header split in two, then 3 pieces of 1.5 KiB + 512 + status */
	s[0] = (struct vdrv_seg){ .data = &h, .len = 8 };
	s[1] = (struct vdrv_seg){ .data = (uint8_t *)&h + 8, .len = 8 };
	s[2] = (struct vdrv_seg){ .gpa = data + 4096 - 768, .len = 1536, .writable = true };
	s[3] = (struct vdrv_seg){ .gpa = data + 8192 - 1024, .len = 2048, .writable = true };
	s[4] = (struct vdrv_seg){ .gpa = data + 16384 - 256, .len = 512, .writable = true };
	s[5] = (struct vdrv_seg){ .gpa = data + 16384 + 256, .len = 1, .writable = true };
	*(uint8_t *)vdrv_ptr(d, s[5].gpa, 1) = STATUS_UNSET;
	used = raw_run(d, s, 6);
	XT_EQ(used, 4096 + 1);
	XT_EQ(*(uint8_t *)vdrv_ptr(d, s[5].gpa, 1), VIRTIO_BLK_S_OK);
	check_pattern(vdrv_ptr(d, s[2].gpa, 1536), 10 * SECTOR, 1536);
	check_pattern(vdrv_ptr(d, s[3].gpa, 2048), 10 * SECTOR + 1536, 2048);
	check_pattern(vdrv_ptr(d, s[4].gpa, 512), 10 * SECTOR + 3584, 512);
}

/*
 * seg_max (254) is enforced: a read of 255 data segments fails with an I/O
 * error and leaves the buffers alone, one of 254 is served. Indirect, as
 * the chains are longer than the ring.
 */
static uint8_t read_in_segments(struct vdrv *d, unsigned int nseg)
{
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
				       .sector = htole64(2) };
	struct vdrv_seg *s = calloc(nseg + 2, sizeof(*s));
	struct vdrv_used u;
	uint8_t status;

	XT_ASSERT(s);
	s[0] = (struct vdrv_seg){ .data = &h, .len = sizeof(h) };
	for (unsigned int i = 1; i <= nseg; i++)
		s[i] = (struct vdrv_seg){ .len = SECTOR, .writable = true };
	s[nseg + 1] = (struct vdrv_seg){ .len = 1, .writable = true };
	XT_ASSERT_MSG(vdrv_post(vq, s, nseg + 2, true, NULL) >= 0, "post: %s", d->err);
	*(uint8_t *)vdrv_ptr(d, s[nseg + 1].gpa, 1) = STATUS_UNSET;
	memset(vdrv_ptr(d, s[1].gpa, SECTOR), 0xaa, SECTOR);
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
	XT_ASSERT_MSG(vdrv_reap(vq, &u) == 1, "reap: %s", d->err);
	status = *(uint8_t *)vdrv_ptr(d, s[nseg + 1].gpa, 1);
	if (status == VIRTIO_BLK_S_OK)
		check_pattern(vdrv_ptr(d, s[nseg].gpa, SECTOR), (2 + nseg - 1) * SECTOR, SECTOR);
	else
		XT_ASSERT(all_bytes(vdrv_ptr(d, s[1].gpa, SECTOR), SECTOR, 0xaa));
	free(s);
	return status;
}

static void blk_seg_max_enforced(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);

	XT_EQ(CFG_GET(d, seg_max), 254);
	XT_EQ(read_in_segments(d, 255), VIRTIO_BLK_S_IOERR);
	XT_ASSERT(xt_stderr_has("seg_max is 254"));
	XT_EQ(read_in_segments(d, 254), VIRTIO_BLK_S_OK);
	XT_EQ(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* The status byte shares its buffer with data: it is the last byte. */
static void blk_status_in_data_buffer(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
				       .sector = htole64(3) };
	struct vdrv_seg s[2] = {
		{ .data = &h, .len = sizeof(h) },
		{ .len = SECTOR + 1, .writable = true },
	};
	uint8_t *p;

	XT_EQ(raw_run(d, s, 2), SECTOR + 1);
	p = vdrv_ptr(d, s[1].gpa, SECTOR + 1);
	check_pattern(p, 3 * SECTOR, SECTOR);
	XT_EQ(p[SECTOR], VIRTIO_BLK_S_OK);
}

static void blk_large_chunked(void)
{
	struct vdrv_opts o = { .chunk_size = 64 << 10 };
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_open(im, NULL, &o);
	uint32_t len = 1 << 20;
	uint8_t *w = malloc(len), *r = malloc(len);

	XT_ASSERT(w && r);
	XT_ASSERT_MSG(!vdrv_init(d, BLK_FEATURES, 1, 0), "%s", d->err);
	for (uint32_t i = 0; i < len; i++)
		w[i] = i * 13 + 7;
	XT_EQ(blk_write(d, 1000, w, len), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, 1000, r, len), VIRTIO_BLK_S_OK);
	XT_ASSERT(!memcmp(w, r, len));
	free(w);
	free(r);
}

static void blk_zero_length(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);

	XT_EQ(blk_read(d, 5, NULL, 0), VIRTIO_BLK_S_OK);
	XT_EQ(blk_write(d, IMG_SECTORS, NULL, 0), VIRTIO_BLK_S_OK);
	img_untouched(im, IMG_SIZE);
}

/* Many requests in flight at once, through indirect tables. */
static void queue_depth(const char *opts, uint64_t features)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, opts, features, 1);
	enum { N = 128, LEN = 4096 };
	static uint8_t w[N][LEN], r[N][LEN];
	static struct rq rs[N];

	for (unsigned int i = 0; i < N; i++) {
		memset(w[i], i + 1, LEN);
		rs[i] = (struct rq){ .type = VIRTIO_BLK_T_OUT, .sector = i * 8 + 3,
				     .out = w[i], .out_len = LEN, .indirect = true };
	}
	rq_run_q(d, 0, rs, N);
	for (unsigned int i = 0; i < N; i++) {
		XT_EQ(rs[i].status, VIRTIO_BLK_S_OK);
		rs[i] = (struct rq){ .type = VIRTIO_BLK_T_IN, .sector = i * 8 + 3,
				     .in = r[i], .in_len = LEN, .indirect = true };
	}
	rq_run_q(d, 0, rs, N);
	for (unsigned int i = 0; i < N; i++) {
		XT_EQ(rs[i].status, VIRTIO_BLK_S_OK);
		XT_EQ(rs[i].used, LEN + 1);
		XT_ASSERT_MSG(!memcmp(w[i], r[i], LEN), "request %u", i);
	}
}

static void blk_queue_depth(void)
{
	queue_depth(NULL, BLK_FEATURES);
	queue_depth(NULL, BLK_FEATURES & ~VDRV_F(VIRTIO_RING_F_EVENT_IDX));
}

/* The same with the worker polling (kicks stay off while it polls). */
static void blk_queue_depth_polling(void)
{
	queue_depth("poll-us=50", BLK_FEATURES);
	queue_depth("poll-us=50", BLK_FEATURES & ~VDRV_F(VIRTIO_RING_F_EVENT_IDX));
}

/*
 * kick-busy=off: a stream of writes kept DEPTH deep, each new one announced
 * the way Linux does (a kick only when the device's avail_event asks for
 * it). Nothing may be left behind unkicked: every request completes and
 * lands, and once the device is idle a single request is served again
 * (kicks are asked for as soon as nothing is in flight).
 */
static void kick_busy_stream(const char *opts)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, opts, BLK_FEATURES, 1);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	enum { DEPTH = 8, TOTAL = 600, LEN = 4096 };
	static uint8_t w[TOTAL][LEN];
	static struct rq rs[TOTAL];
	unsigned int posted = 0, done = 0;
	struct vdrv_used u;
	uint8_t *file;
	uint64_t n;

	vq->auto_used_event = true;
	for (unsigned int i = 0; i < TOTAL; i++) {
		memset(w[i], (i * 7 + 1) & 0xff, LEN);
		rs[i] = (struct rq){ .type = VIRTIO_BLK_T_OUT,
				     .sector = (i % (IMG_SECTORS / 8)) * 8,
				     .out = w[i], .out_len = LEN };
	}
	while (done < TOTAL) {
		while (posted < TOTAL && posted - done < DEPTH)
			rq_post(d, vq, &rs[posted++]);
		vdrv_notify(vq);
		XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS),
			      "%s: stalled with %u of %u done, %u posted: %s",
			      opts, done, TOTAL, posted, d->err);
		while (vdrv_reap(vq, &u) == 1) {
			rq_reaped(d, &u);
			XT_EQ(((struct rq *)u.token)->status, VIRTIO_BLK_S_OK);
			done++;
		}
	}
	/* The stream wrapped around the image once: its last IMG_SECTORS / 8
	 * writes are what the image holds. */
	_Static_assert(TOTAL > IMG_SECTORS / 8, "the stream wraps");
	file = img_read(im, &n);
	for (unsigned int i = TOTAL - IMG_SECTORS / 8; i < TOTAL; i++)
		XT_ASSERT_MSG(!memcmp(file + rs[i].sector * SECTOR, w[i], LEN),
			      "%s: write %u", opts, i);
	free(file);
	/* Idle now: one request, announced only if the device asks. */
	rs[0] = (struct rq){ .type = VIRTIO_BLK_T_IN, .sector = 0, .in_len = SECTOR };
	rq_post(d, vq, &rs[0]);
	vdrv_notify(vq);
	reap_n(d, vq, 1);
	XT_EQ(rs[0].status, VIRTIO_BLK_S_OK);
}

static void blk_kick_busy_off(void)
{
	kick_busy_stream("kick-busy=off");
	kick_busy_stream("kick-busy=off,poll-us=20");
	kick_busy_stream("kick-busy=on");
}

/*
 * A request that stays in flight until the test lets it go: a thread holds
 * the image's inode lock in write(2), whose source page faults into a
 * userfaultfd that is answered only at release; a DISCARD (fallocate, which
 * io_uring always runs on a kernel worker and which takes that lock) then
 * waits behind it, without blocking the device's worker.
 */
struct inode_hold {
	int uffd, fd;
	void *page;
	pthread_t thread;
	bool held;
};

static void *inode_hold_main(void *arg)
{
	struct inode_hold *h = arg;

	if (pwrite(h->fd, h->page, 4096, 0) != 4096)
		return (void *)1;
	return NULL;
}

/* Let the writer go, so that the stuck request completes. */
static void inode_release(void *arg)
{
	struct inode_hold *h = arg;
	struct uffdio_zeropage z = {
		.range = { .start = (uintptr_t)h->page, .len = 4096 },
	};
	void *ret;

	if (!h->held)
		return;
	h->held = false;
	XT_ASSERT_MSG(!ioctl(h->uffd, UFFDIO_ZEROPAGE, &z), "zeropage: %m");
	XT_EQ(pthread_join(h->thread, &ret), 0);
	XT_ASSERT(!ret);
	close(h->fd);
	close(h->uffd);
	munmap(h->page, 4096);
}

/* Hold path's inode lock until inode_release() (or the case's end);
 * skips the case where userfaultfd is not allowed. */
static void inode_hold(struct inode_hold *h, const char *path)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffd_msg msg;
	struct pollfd p;

	h->uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (h->uffd < 0 || ioctl(h->uffd, UFFDIO_API, &api))
		xt_skip("no request can be held in flight: userfaultfd: %m");
	h->page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	XT_ASSERT(h->page != MAP_FAILED);
	reg.range.start = (uintptr_t)h->page;
	reg.range.len = 4096;
	XT_ASSERT_MSG(!ioctl(h->uffd, UFFDIO_REGISTER, &reg), "register: %m");
	h->fd = open(path, O_WRONLY);
	XT_ASSERT_MSG(h->fd >= 0, "%s: %m", path);
	XT_EQ(pthread_create(&h->thread, NULL, inode_hold_main, h), 0);
	h->held = true;
	xt_defer(inode_release, h);
	/* The writer is in the fault, with the lock held. */
	p = (struct pollfd){ .fd = h->uffd, .events = POLLIN };
	XT_ASSERT_MSG(poll(&p, 1, WAIT_MS) == 1, "the writer did not fault");
	XT_EQ(read(h->uffd, &msg, sizeof(msg)), sizeof(msg));
	XT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
}

static void wait_popped(struct vdrv *d, uint64_t n)
{
	for (int ms = 0; ms < WAIT_MS; ms += 5) {
		if (atomic_load(&d->dev->queues[0].stats.vq.popped) >= n)
			return;
		vdrv_msleep(5);
	}
	XT_ASSERT_MSG(0, "the device did not take request %llu",
		      (unsigned long long)n);
}

/*
 * Requests posted while the one in flight is stuck: with kick-busy=off the
 * driver is asked for no kick, and the device takes each anyway once
 * stall-ms went by without a completion. With kick-busy=on the driver kicks
 * at once. Without the bound, b would wait for a for ever.
 */
static void stall_case(const char *opts, bool kick_busy)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, opts, BLK_FEATURES, 1);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct virtio_blk_discard_write_zeroes seg = range(64, 8, 0);
	struct rq a = { .type = VIRTIO_BLK_T_DISCARD, .out = &seg,
			.out_len = sizeof(seg) };
	struct rq b = { .type = VIRTIO_BLK_T_IN, .sector = 128, .in_len = SECTOR };
	struct rq c = { .type = VIRTIO_BLK_T_IN, .sector = 256, .in_len = SECTOR };
	static struct inode_hold h;
	struct vdrv_used u;

	inode_hold(&h, im->path);
	rq_post(d, vq, &a);
	XT_ASSERT(vdrv_kick(vq));
	wait_popped(d, 1);
	rq_post(d, vq, &b);
	XT_EQ(vdrv_kick(vq), kick_busy);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS),
		      "%s: a request behind a stuck one was never taken", opts);
	XT_EQ(vdrv_reap(vq, &u), 1);
	XT_ASSERT(u.token == &b);
	rq_reaped(d, &u);
	XT_EQ(b.status, VIRTIO_BLK_S_OK);
	/* And the next one (kicked or not: that depends on when b ended). */
	rq_post(d, vq, &c);
	vdrv_kick(vq);
	reap_n(d, vq, 1);
	XT_EQ(c.status, VIRTIO_BLK_S_OK);
	XT_EQ(*(uint8_t *)vdrv_ptr(d, a.status_gpa, 1), STATUS_UNSET);
	inode_release(&h);
	reap_n(d, vq, 1);
	XT_EQ(a.status, VIRTIO_BLK_S_OK);
}

static void blk_stall_bounded(void)
{
	stall_case("kick-busy=off,stall-ms=20", false);
	stall_case("kick-busy=on", true);
}

static void blk_multiqueue(void)
{
	struct img *im = img_new(IMG_SIZE);
	enum { NQ = 4, N = 32, LEN = 4096 };
	struct vdrv *d = blk_up(im, "queues=4,poll-us=20", BLK_FEATURES, NQ);
	static uint8_t w[NQ][N][LEN];
	static struct rq rs[NQ][N];
	uint8_t *file;
	uint64_t n;

	XT_ASSERT(vdrv_has(d, VIRTIO_BLK_F_MQ));
	for (unsigned int q = 0; q < NQ; q++) {
		for (unsigned int i = 0; i < N; i++) {
			memset(w[q][i], q * N + i + 1, LEN);
			rs[q][i] = (struct rq){ .type = VIRTIO_BLK_T_OUT,
						.sector = (q * N + i) * 8,
						.out = w[q][i], .out_len = LEN,
						.indirect = true };
			rq_post(d, vdrv_vq(d, q), &rs[q][i]);
		}
	}
	for (unsigned int q = 0; q < NQ; q++)
		vdrv_kick(vdrv_vq(d, q));
	for (unsigned int q = 0; q < NQ; q++)
		reap_n(d, vdrv_vq(d, q), N);
	file = img_read(im, &n);
	for (unsigned int q = 0; q < NQ; q++)
		for (unsigned int i = 0; i < N; i++) {
			XT_EQ(rs[q][i].status, VIRTIO_BLK_S_OK);
			XT_ASSERT(!memcmp(file + (q * N + i) * 8 * SECTOR, w[q][i], LEN));
		}
	free(file);
}

/* Completions interrupt the driver (EVENT_IDX and without). */
static void blk_interrupts(void)
{
	uint64_t feats[2] = { BLK_FEATURES,
			      BLK_FEATURES & ~VDRV_F(VIRTIO_RING_F_EVENT_IDX) };

	for (unsigned int k = 0; k < 2; k++) {
		struct img *im = img_new(IMG_SIZE);
		struct vdrv *d = blk_up(im, NULL, feats[k], 1);
		struct vdrv_vq *vq = vdrv_vq(d, 0);
		struct rq r = { .type = VIRTIO_BLK_T_IN, .sector = 1, .in_len = SECTOR };
		struct vdrv_used u;

		vq->auto_used_event = true;
		for (unsigned int i = 0; i < 3; i++) {
			rq_post(d, vq, &r);
			vdrv_kick(vq);
			XT_ASSERT_MSG(!vdrv_wait_isr(d, VIRTIO_MMIO_INT_VRING, WAIT_MS),
				      "request %u: %s", i, d->err);
			XT_EQ(vdrv_reap(vq, &u), 1);
			rq_reaped(d, &u);
			XT_EQ(r.status, VIRTIO_BLK_S_OK);
		}
	}
}

/* A driver without FLUSH expects write-through; writes still work. */
static void blk_no_flush_feature(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES & ~VDRV_F(VIRTIO_BLK_F_FLUSH), 1);
	uint8_t w[SECTOR], *file;
	uint64_t n;

	XT_ASSERT(!vdrv_has(d, VIRTIO_BLK_F_FLUSH));
	memset(w, 0x42, sizeof(w));
	XT_EQ(blk_write(d, 12, w, sizeof(w)), VIRTIO_BLK_S_OK);
	file = img_read(im, &n);
	XT_ASSERT(!memcmp(file + 12 * SECTOR, w, sizeof(w)));
	free(file);
}

/* ---- cases: flush, get id ----------------------------------------------- */

static void blk_flush(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);

	XT_EQ(blk_simple(d, VIRTIO_BLK_T_FLUSH), VIRTIO_BLK_S_OK);
	img_untouched(im, IMG_SIZE);
}

/*
 * A write acknowledged, then a flush acknowledged, then the backend is
 * killed: the data is in the image.
 */
static void blk_flush_survives_kill(void)
{
	struct img *im = img_new(IMG_SIZE);
	uint8_t w[4096], *file;
	uint64_t n;
	int status;
	pid_t pid;

	memset(w, 0xe7, sizeof(w));
	pid = fork();
	XT_ASSERT(pid >= 0);
	if (!pid) {
		char err[256], spec[512];
		struct vdrv *d;
		struct rq r[2] = {
			{ .type = VIRTIO_BLK_T_OUT, .sector = 40, .out = w,
			  .out_len = sizeof(w) },
			{ .type = VIRTIO_BLK_T_FLUSH },
		};

		snprintf(spec, sizeof(spec), "blk,file=%s", im->path);
		d = vdrv_open(spec, NULL, err, sizeof(err));
		if (!d || vdrv_init(d, BLK_FEATURES, 1, 0))
			_exit(2);
		rq_run(d, &r[0]);
		rq_run(d, &r[1]);
		if (r[0].status || r[1].status)
			_exit(3);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	XT_EQ(waitpid(pid, &status, 0), pid);
	XT_ASSERT_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "child status 0x%x", status);
	file = img_read(im, &n);
	XT_ASSERT(!memcmp(file + 40 * SECTOR, w, sizeof(w)));
	free(file);
}

static void get_id(struct vdrv *d, uint32_t len, uint8_t *out, uint32_t *used,
		   uint8_t *status)
{
	struct rq r = { .type = VIRTIO_BLK_T_GET_ID, .in_len = len, .in = out };

	rq_run(d, &r);
	*used = r.used;
	*status = r.status;
}

static void blk_get_id(void)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES];
	uint32_t used;
	uint8_t st;
	struct vdrv *d = blk_up(img_new(IMG_SIZE), "serial=disk-42", BLK_FEATURES, 1);

	get_id(d, sizeof(id), id, &used, &st);
	XT_EQ(st, VIRTIO_BLK_S_OK);
	XT_EQ(used, VIRTIO_BLK_ID_BYTES + 1);
	XT_ASSERT(!memcmp(id, "disk-42\0\0\0\0\0\0\0\0\0\0\0\0", VIRTIO_BLK_ID_BYTES));
	/* A short buffer gets what fits. */
	get_id(d, 4, id, &used, &st);
	XT_EQ(st, VIRTIO_BLK_S_OK);
	XT_EQ(used, 5);
	XT_ASSERT(!memcmp(id, "disk", 4));

	/* Exactly 20 bytes: no terminating NUL. */
	d = blk_up(img_new(IMG_SIZE), "serial=ABCDEFGHIJKLMNOPQRST", BLK_FEATURES, 1);
	get_id(d, sizeof(id), id, &used, &st);
	XT_EQ(st, VIRTIO_BLK_S_OK);
	XT_ASSERT(!memcmp(id, "ABCDEFGHIJKLMNOPQRST", VIRTIO_BLK_ID_BYTES));

	/* No serial: an empty string. */
	d = blk_up(img_new(IMG_SIZE), NULL, BLK_FEATURES, 1);
	get_id(d, sizeof(id), id, &used, &st);
	XT_EQ(st, VIRTIO_BLK_S_OK);
	XT_ASSERT(all_bytes(id, sizeof(id), 0));
}

/* ---- cases: discard and write zeroes ----------------------------------- */

static void expect_zero_range(const struct img *im, uint64_t sector, uint64_t n)
{
	uint64_t size;
	uint8_t *file = img_read(im, &size);

	XT_EQ(size, IMG_SIZE);
	XT_ASSERT_MSG(all_bytes(file + sector * SECTOR, n * SECTOR, 0),
		      "sectors %llu+%llu are not zero", (unsigned long long)sector,
		      (unsigned long long)n);
	check_pattern(file, 0, sector * SECTOR);
	check_pattern(file + (sector + n) * SECTOR, (sector + n) * SECTOR,
		      IMG_SIZE - (sector + n) * SECTOR);
	free(file);
}

static void blk_discard(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	struct virtio_blk_discard_write_zeroes seg = range(1024, 2048, 0);
	uint64_t before = img_blocks(im);

	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, &seg, 1), VIRTIO_BLK_S_OK);
	/* A punched hole: space given back, reads as zeroes. */
	XT_ASSERT_MSG(img_blocks(im) < before, "%llu blocks, %llu before",
		      (unsigned long long)img_blocks(im), (unsigned long long)before);
	expect_zero_range(im, 1024, 2048);
}

static void blk_discard_multi(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	struct virtio_blk_discard_write_zeroes segs[3] = {
		range(8, 8, 0), range(64, 0, 0), range(512, 8, 0),
	};
	uint8_t buf[4096];

	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, segs, 3), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, 8, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	XT_ASSERT(all_bytes(buf, sizeof(buf), 0));
	XT_EQ(blk_read(d, 512, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	XT_ASSERT(all_bytes(buf, sizeof(buf), 0));
	XT_EQ(blk_read(d, 64, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	check_pattern(buf, 64 * SECTOR, sizeof(buf));
}

static void blk_write_zeroes(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	struct virtio_blk_discard_write_zeroes seg = range(100, 300, 0);
	uint64_t before = img_blocks(im);

	/* Without UNMAP the range stays allocated. */
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_OK);
	expect_zero_range(im, 100, 300);
	XT_ASSERT(img_blocks(im) >= before);
}

static void blk_write_zeroes_unmap(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	struct virtio_blk_discard_write_zeroes seg =
		range(2048, 1024, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	uint64_t before = img_blocks(im);

	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_OK);
	expect_zero_range(im, 2048, 1024);
	XT_ASSERT(img_blocks(im) < before);
}

/* With discard=off UNMAP is ignored: zeroes, but nothing deallocated. */
static void blk_write_zeroes_no_discard(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, "discard=off", BLK_FEATURES, 1);
	struct virtio_blk_discard_write_zeroes seg =
		range(2048, 1024, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	uint64_t before = img_blocks(im);

	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_OK);
	expect_zero_range(im, 2048, 1024);
	XT_ASSERT(img_blocks(im) >= before);
	/* DISCARD was not offered: the request is not supported. */
	seg = range(0, 8, 0);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, &seg, 1), VIRTIO_BLK_S_UNSUPP);
	expect_zero_range(im, 2048, 1024);
}

static void blk_zeroes_errors(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	struct virtio_blk_discard_write_zeroes segs[33], seg;
	uint8_t junk[20] = { 0 };
	struct rq r;

	/* UNMAP is a write-zeroes flag only; unknown flags for both. */
	seg = range(0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, &seg, 1), VIRTIO_BLK_S_UNSUPP);
	seg = range(0, 8, 2);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_UNSUPP);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, &seg, 1), VIRTIO_BLK_S_UNSUPP);
	/* Past the end, and wrapping around. */
	seg = range(IMG_SECTORS - 8, 9, 0);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, &seg, 1), VIRTIO_BLK_S_IOERR);
	seg = range(UINT64_MAX - 3, 8, 0);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_IOERR);
	/* One bad range spoils the request: the good one is not done. */
	segs[0] = range(0, 8, 0);
	segs[1] = range(IMG_SECTORS, 1, 0);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2), VIRTIO_BLK_S_IOERR);
	/* More ranges than max_*_seg. */
	for (unsigned int i = 0; i < 33; i++)
		segs[i] = range(i * 8, 8, 0);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, segs, 33), VIRTIO_BLK_S_UNSUPP);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, segs, 33), VIRTIO_BLK_S_UNSUPP);
	/* A payload that is not whole ranges, or none at all. */
	r = (struct rq){ .type = VIRTIO_BLK_T_DISCARD, .out = junk, .out_len = 20 };
	rq_run(d, &r);
	XT_EQ(r.status, VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, NULL, 0), VIRTIO_BLK_S_IOERR);
	img_untouched(im, IMG_SIZE);
}

/* ---- cases: refused requests ------------------------------------------- */

static void blk_past_capacity(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	uint8_t buf[1024];

	memset(buf, 0x77, sizeof(buf));
	XT_EQ(blk_read(d, IMG_SECTORS, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_read(d, IMG_SECTORS - 1, buf, 2 * SECTOR), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_write(d, IMG_SECTORS - 1, buf, 2 * SECTOR), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_write(d, IMG_SECTORS, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	/* sector + length wraps around 2^64 */
	XT_EQ(blk_write(d, UINT64_MAX, buf, 2 * SECTOR), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_read(d, UINT64_MAX - 1, buf, 2 * SECTOR), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_write(d, UINT64_MAX >> 9, buf, SECTOR), VIRTIO_BLK_S_IOERR);
	img_untouched(im, IMG_SIZE);
}

static void blk_not_whole_sectors(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	uint8_t buf[1024];

	memset(buf, 0x77, sizeof(buf));
	XT_EQ(blk_write(d, 0, buf, 100), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_write(d, 0, buf, SECTOR + 1), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_read(d, 0, buf, 511), VIRTIO_BLK_S_IOERR);
	img_untouched(im, IMG_SIZE);
}

static void blk_short_header(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_OUT) };
	struct vdrv_seg s[2];

	/* 15 bytes of header, no data: IOERR */
	s[0] = (struct vdrv_seg){ .data = &h, .len = 15 };
	s[1] = (struct vdrv_seg){ .len = 1, .writable = true };
	XT_EQ(raw_run(d, s, 2), 1);
	XT_EQ(*(uint8_t *)vdrv_ptr(d, s[1].gpa, 1), VIRTIO_BLK_S_IOERR);
	/* No readable byte at all. */
	s[0] = (struct vdrv_seg){ .len = 1, .writable = true };
	XT_EQ(raw_run(d, s, 1), 1);
	XT_EQ(*(uint8_t *)vdrv_ptr(d, s[0].gpa, 1), VIRTIO_BLK_S_IOERR);
	img_untouched(im, IMG_SIZE);
}

/* No writable byte: nowhere to put a status. Used length 0, device lives. */
static void blk_missing_status(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_OUT),
				       .sector = htole64(2) };
	uint8_t data[SECTOR], buf[SECTOR];
	struct vdrv_seg s[2] = {
		{ .data = &h, .len = sizeof(h) },
		{ .data = data, .len = sizeof(data) },
	};

	struct vdrv_seg z[3] = {
		{ .data = &h, .len = sizeof(h) },
		{ .data = data, .len = sizeof(data) },
		{ .len = 0, .writable = true },
	};

	memset(data, 0x99, sizeof(data));
	XT_EQ(raw_run(d, s, 2), 0);
	/* A zero-length "status buffer" holds no status either. */
	XT_EQ(raw_run(d, z, 3), 0);
	XT_ASSERT(!(vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET));
	img_untouched(im, IMG_SIZE);
	XT_EQ(blk_read(d, 2, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	check_pattern(buf, 2 * SECTOR, sizeof(buf));
}

static void blk_wrong_direction(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	uint8_t data[SECTOR];
	struct rq r;

	memset(data, 0x55, sizeof(data));
	/* A read that also carries readable data. */
	r = (struct rq){ .type = VIRTIO_BLK_T_IN, .out = data, .out_len = SECTOR,
			 .in_len = SECTOR };
	rq_run(d, &r);
	XT_EQ(r.status, VIRTIO_BLK_S_IOERR);
	XT_EQ(r.used, 1);
	/* A write that also offers writable data: nothing is written. */
	r = (struct rq){ .type = VIRTIO_BLK_T_OUT, .out = data, .out_len = SECTOR,
			 .in_len = SECTOR };
	rq_run(d, &r);
	XT_EQ(r.status, VIRTIO_BLK_S_IOERR);
	img_untouched(im, IMG_SIZE);
}

static void blk_unsupported_type(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, NULL, BLK_FEATURES, 1);
	const uint32_t types[] = { 2 /* SCSI_CMD */, 3, 0x42,
				   VIRTIO_BLK_T_SECURE_ERASE, 0x80000001u };

	for (unsigned int i = 0; i < XT_COUNT(types); i++)
		XT_EQ(blk_simple(d, types[i]), VIRTIO_BLK_S_UNSUPP);
	img_untouched(im, IMG_SIZE);
}

static void blk_readonly(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = blk_up(im, "readonly=on", BLK_FEATURES, 1);
	struct virtio_blk_discard_write_zeroes seg = range(0, 8, 0);
	uint8_t buf[SECTOR];

	XT_ASSERT(vdrv_has(d, VIRTIO_BLK_F_RO));
	XT_ASSERT(!vdrv_has(d, VIRTIO_BLK_F_DISCARD));
	XT_ASSERT(!vdrv_has(d, VIRTIO_BLK_F_WRITE_ZEROES));
	memset(buf, 0x11, sizeof(buf));
	XT_EQ(blk_write(d, 0, buf, sizeof(buf)), VIRTIO_BLK_S_IOERR);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_UNSUPP);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, &seg, 1), VIRTIO_BLK_S_UNSUPP);
	XT_EQ(blk_simple(d, VIRTIO_BLK_T_FLUSH), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, 9, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	check_pattern(buf, 9 * SECTOR, sizeof(buf));
	img_untouched(im, IMG_SIZE);
}

/* A read-only image file: readonly=on opens it (read-write cannot, but for
 * root), and the option alone keeps it unchanged. */
static void blk_readonly_file(void)
{
	struct img *im = img_new(IMG_SIZE);
	char spec[512], err[256];
	uint8_t buf[SECTOR];
	struct vdrv *d;

	XT_ASSERT(!chmod(im->path, 0400));
	if (geteuid()) {
		snprintf(spec, sizeof(spec), "blk,file=%s", im->path);
		d = vdrv_open(spec, NULL, err, sizeof(err));
		XT_ASSERT(!d);
		XT_ASSERT_MSG(strstr(err, "readonly=on"), "%s", err);
	}
	d = blk_up(im, "readonly=on", BLK_FEATURES, 1);
	memset(buf, 0, sizeof(buf));
	XT_EQ(blk_write(d, 0, buf, sizeof(buf)), VIRTIO_BLK_S_IOERR);
	img_untouched(im, IMG_SIZE);
}

/* ---- cases: cache=none ------------------------------------------------- */

static struct vdrv *direct_up_opts(const struct img *im, const char *opts)
{
	/* A buffer: blk_cache_none_unpinnable swaps the driver's pages. */
	struct vdrv_opts o = { .buffer_ram = true };
	char spec[512], err[256];
	struct vdrv *d;

	snprintf(spec, sizeof(spec), "blk,file=%s,cache=none%s%s", im->path,
		 opts ? "," : "", opts ? opts : "");
	d = vdrv_open(spec, &o, err, sizeof(err));
	if (!d && strstr(err, "O_DIRECT"))
		xt_skip("no O_DIRECT on this file system: %s", err);
	XT_ASSERT_MSG(d, "%s", err);
	xt_defer(close_drv, d);
	XT_ASSERT_MSG(!vdrv_init(d, BLK_FEATURES, 1, 0), "%s", d->err);
	return d;
}

static struct vdrv *direct_up(const struct img *im)
{
	return direct_up_opts(im, NULL);
}

static void blk_cache_none(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = direct_up(im);
	uint8_t w[8192], r[8192];

	memset(w, 0xc3, sizeof(w));
	XT_EQ(blk_write(d, 16, w, sizeof(w)), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, 16, r, sizeof(r)), VIRTIO_BLK_S_OK);
	XT_ASSERT(!memcmp(w, r, sizeof(w)));
	XT_EQ(blk_simple(d, VIRTIO_BLK_T_FLUSH), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, 0, r, sizeof(r)), VIRTIO_BLK_S_OK);
	check_pattern(r, 0, sizeof(r));
}

/* Guest buffers O_DIRECT refuses as misaligned go through the bounce. */
static void blk_cache_none_unaligned(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = direct_up(im);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
				       .sector = htole64(5) };
	uint64_t buf = vdrv_alloc(d, 2 * 4096, 4096);
	struct vdrv_seg s[3];

	XT_ASSERT(buf);
	s[0] = (struct vdrv_seg){ .data = &h, .len = sizeof(h) };
	s[1] = (struct vdrv_seg){ .gpa = buf + 64, .len = 4096, .writable = true };
	s[2] = (struct vdrv_seg){ .len = 1, .writable = true };
	XT_EQ(raw_run(d, s, 3), 4097);
	XT_EQ(*(uint8_t *)vdrv_ptr(d, s[2].gpa, 1), VIRTIO_BLK_S_OK);
	check_pattern(vdrv_ptr(d, buf + 64, 4096), 5 * SECTOR, 4096);
}

static void unmap_secret(void *arg)
{
	void **m = arg;

	/* Give the allocator its ordinary memory back. */
	mmap(m[0], (size_t)m[1], PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	free(m);
}

/* Put memfd_secret(2) pages under the driver's len bytes at p, until the
 * case ends; skip where the kernel has no such memory. */
static void map_secret(uint8_t *p, size_t len)
{
	void **undo = calloc(2, sizeof(void *));
	int sfd = -1;

	XT_ASSERT(undo);
#ifdef SYS_memfd_secret
	sfd = syscall(SYS_memfd_secret, 0);
#endif
	if (sfd < 0)
		xt_skip("memfd_secret: %s", strerror(errno));
	XT_ASSERT(!ftruncate(sfd, len));
	undo[0] = p;
	undo[1] = (void *)len;
	XT_ASSERT(mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		       sfd, 0) == p);
	xt_defer(unmap_secret, undo);
	close(sfd);
}

/*
 * Guest RAM that direct I/O cannot pin, as Xen's foreign mappings: here
 * memfd_secret(2) pages, which the process reaches but get_user_pages()
 * refuses with EFAULT. cache=none must still read and write them.
 */
static void blk_cache_none_unpinnable(void)
{
	enum { LEN = 64 << 10 };
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = direct_up(im);
	uint64_t gpa = vdrv_alloc(d, LEN, 4096);
	uint8_t *p = vdrv_ptr(d, gpa, LEN), *file, w[LEN];
	uint64_t n;
	int fd;

	XT_ASSERT(gpa && p);
	map_secret(p, LEN);
	/* The premise: direct I/O into these pages fails. */
	fd = open(im->path, O_RDONLY | O_DIRECT);
	XT_ASSERT(fd >= 0);
	if (pread(fd, p, 4096, 0) >= 0 || errno != EFAULT)
		xt_skip("direct I/O into secret memory does not fail here");
	close(fd);

	memset(p, 0, LEN);
	{
		struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
					       .sector = htole64(64) };
		struct vdrv_seg s[3] = {
			{ .data = &h, .len = sizeof(h) },
			{ .gpa = gpa, .len = LEN, .writable = true },
			{ .len = 1, .writable = true },
		};

		XT_EQ(raw_run(d, s, 3), LEN + 1);
		XT_EQ(*(uint8_t *)vdrv_ptr(d, s[2].gpa, 1), VIRTIO_BLK_S_OK);
		check_pattern(p, 64 * SECTOR, LEN);
	}
	for (unsigned int i = 0; i < LEN; i++)
		w[i] = p[i] = i * 3 + 1;
	{
		struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_OUT),
					       .sector = htole64(1024) };
		struct vdrv_seg s[3] = {
			{ .data = &h, .len = sizeof(h) },
			{ .gpa = gpa, .len = LEN },
			{ .len = 1, .writable = true },
		};

		XT_EQ(raw_run(d, s, 3), 1);
		XT_EQ(*(uint8_t *)vdrv_ptr(d, s[2].gpa, 1), VIRTIO_BLK_S_OK);
	}
	file = img_read(im, &n);
	XT_ASSERT(!memcmp(file + 1024 * SECTOR, w, LEN));
	check_pattern(file, 0, 1024 * SECTOR);
	free(file);
}

/*
 * Large bounce buffers are pooled per device, not freed: a request reuses
 * the smallest pooled buffer that fits (memory the kernel has faulted in
 * already), and the pool never holds more than bounce-pool allows.
 */
static void bounced_read(struct vdrv *d, uint64_t gpa, uint32_t len,
			 uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
				       .sector = htole64(sector) };
	struct vdrv_seg s[3] = {
		{ .data = &h, .len = sizeof(h) },
		{ .gpa = gpa, .len = len, .writable = true },
		{ .len = 1, .writable = true },
	};

	XT_EQ(raw_run(d, s, 3), len + 1);
	XT_EQ(*(uint8_t *)vdrv_ptr(d, s[2].gpa, 1), VIRTIO_BLK_S_OK);
	check_pattern(vdrv_ptr(d, gpa, len), sector * SECTOR, len);
}

static void bounce_pool(const char *opts, size_t bound)
{
	enum { LEN = 1 << 20, N = 6 };
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = direct_up_opts(im, opts);
	const struct blk *b = d->dev->priv;
	uint64_t gpa = vdrv_alloc(d, LEN, 4096);
	uint8_t *p = vdrv_ptr(d, gpa, LEN);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN) };

	XT_ASSERT(gpa && p);
	map_secret(p, LEN);

	XT_EQ(b->pool_max, bound);
	bounced_read(d, gpa, 512 << 10, 0);
	XT_EQ(b->pool_bytes, bound ? 512 << 10 : 0);
	/* reused, not a second buffer */
	bounced_read(d, gpa, 256 << 10, 8);
	XT_EQ(b->pool_bytes, bound ? 512 << 10 : 0);
	/* nothing pooled fits: a new one, pooled as well if there is room */
	bounced_read(d, gpa, LEN, 16);
	if (bound >= (512 << 10) + LEN)
		XT_EQ(b->pool_bytes, (512 << 10) + LEN);
	/* N at once: the pool keeps what its bound lets it */
	for (unsigned int i = 0; i < N; i++) {
		struct vdrv_seg s[3] = {
			{ .data = &h, .len = sizeof(h) },
			{ .gpa = gpa, .len = LEN, .writable = true },
			{ .len = 1, .writable = true },
		};

		XT_ASSERT(vdrv_post(vq, s, 3, false, NULL) >= 0);
	}
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_wait_used(vq, N, WAIT_MS), "%s", d->err);
	for (unsigned int i = 0; i < N; i++) {
		struct vdrv_used u;

		XT_EQ(vdrv_reap(vq, &u), 1);
		XT_EQ(u.len, LEN + 1);
	}
	XT_ASSERT_MSG(b->pool_bytes <= bound && b->pool_bytes + LEN > bound,
		      "%zu bytes pooled of %zu", b->pool_bytes, bound);
}

static void blk_cache_none_bounce_pool(void)
{
	bounce_pool(NULL, BLK_POOL_KIB << 10);
	bounce_pool("bounce-pool=4096", 4 << 20);
	bounce_pool("bounce-pool=0", 0);
}

/* ---- cases: reset ------------------------------------------------------ */

/*
 * No guest-memory hold is left: every mapping a request used can go. The
 * worker may still be inside a callback just after the driver saw its
 * answer, so give it a moment.
 */
static void expect_no_gmem_hold(struct vdrv *d)
{
	XT_ASSERT_MSG(!vdrv_wait_gmem_idle(d, WAIT_MS), "%s", d->err);
}

/* cache=none where the file system has it: I/O really stays in flight. */
static struct vdrv *slow_up(const struct img *im)
{
	char spec[512], err[256];
	struct vdrv *d;

	snprintf(spec, sizeof(spec), "blk,file=%s,cache=none", im->path);
	d = vdrv_open(spec, NULL, err, sizeof(err));
	if (!d)
		return blk_up(im, NULL, BLK_FEATURES, 1);
	xt_defer(close_drv, d);
	XT_ASSERT_MSG(!vdrv_init(d, BLK_FEATURES, 1, 0), "%s", d->err);
	return d;
}

/*
 * Reset with requests in flight: once the reset is done nothing changes in
 * guest memory any more, no guest-memory hold is left, and the device works
 * again after a new initialisation.
 */
static void blk_reset_in_flight(void)
{
	enum { N = 64, LEN = 16384 };
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = slow_up(im);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	static struct rq rs[N];
	static uint8_t before[N][LEN];
	uint8_t buf[SECTOR];

	for (unsigned int i = 0; i < N; i++) {
		rs[i] = (struct rq){ .type = VIRTIO_BLK_T_IN, .sector = i * 32,
				     .in_len = LEN, .indirect = true };
		rq_post(d, vq, &rs[i]);
	}
	vdrv_kick(vq);
	XT_ASSERT_MSG(!vdrv_reset(d), "%s", d->err);
	for (unsigned int i = 0; i < N; i++)
		memcpy(before[i], vdrv_ptr(d, rs[i].in_gpa, LEN), LEN);
	vdrv_msleep(50);
	for (unsigned int i = 0; i < N; i++)
		XT_ASSERT(!memcmp(before[i], vdrv_ptr(d, rs[i].in_gpa, LEN), LEN));
	expect_no_gmem_hold(d);
	XT_ASSERT_MSG(!vdrv_init(d, BLK_FEATURES, 1, 0), "%s", d->err);
	XT_EQ(blk_read(d, 7, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	check_pattern(buf, 7 * SECTOR, sizeof(buf));
}

/* The backend goes away with requests in flight: no hang, no stray write. */
static void blk_close_in_flight(void)
{
	enum { N = 64, LEN = 16384 };
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = slow_up(im);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	static struct rq rs[N];

	for (unsigned int i = 0; i < N; i++) {
		rs[i] = (struct rq){ .type = i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_FLUSH,
				     .sector = i * 32, .in_len = i % 2 ? LEN : 0,
				     .indirect = true };
		rq_post(d, vq, &rs[i]);
	}
	vdrv_kick(vq);
	/* the deferred vdrv_close() stops the worker, resets and frees */
}

/*
 * An invalidation while requests are in flight neither waits for them nor
 * pulls their buffers away: the reads land in the guest's buffers, which the
 * driver sees through its own mapping, and the old generation of mappings
 * goes once the last of them is answered.
 */
static void blk_invalidate_in_flight(void)
{
	enum { N = 32, LEN = 64 << 10 };
	struct img *im = img_new(IMG_SIZE);
	struct vdrv *d = slow_up(im);
	struct vdrv_vq *vq = vdrv_vq(d, 0);
	static struct rq rs[N];
	struct gmem_stats st;
	struct vdrv_used u;
	unsigned int got = 0;

	for (unsigned int i = 0; i < N; i++) {
		rs[i] = (struct rq){ .type = VIRTIO_BLK_T_IN, .sector = i * 128,
				     .in_len = LEN, .indirect = true };
		rq_post(d, vq, &rs[i]);
	}
	vdrv_kick(vq);
	/* Invalidate over and over while they run; none of it blocks. */
	for (unsigned int i = 0; i < 200 && got < N; i++) {
		gmem_invalidate(d->gm);
		while (vdrv_reap(vq, &u) == 1) {
			rq_reaped(d, &u);
			got++;
		}
		vdrv_msleep(1);
	}
	while (got < N) {
		XT_ASSERT_MSG(!vdrv_wait_used(vq, 1, WAIT_MS), "%s", d->err);
		XT_EQ(vdrv_reap(vq, &u), 1);
		rq_reaped(d, &u);
		got++;
	}
	for (unsigned int i = 0; i < N; i++) {
		XT_EQ(rs[i].status, VIRTIO_BLK_S_OK);
		check_pattern(vdrv_ptr(d, rs[i].in_gpa, LEN),
			      (uint64_t)i * 128 * SECTOR, LEN);
	}
	expect_no_gmem_hold(d);
	gmem_get_stats(d->gm, &st);
	XT_ASSERT(st.invalidations >= 1);
	XT_EQ(st.generations, 1);
}

/* ---- cases: block device ----------------------------------------------- */

static void detach_loop(void *arg)
{
	int fd = (int)(intptr_t)arg;

	ioctl(fd, LOOP_CLR_FD, 0);
	close(fd);
}

/* The image behind a loop device: capacity, I/O, discard, write zeroes. */
static void blk_block_device(void)
{
	struct img *im = img_new(IMG_SIZE);
	struct img *dev = calloc(1, sizeof(*dev));
	struct virtio_blk_discard_write_zeroes seg;
	int ctl, nr, lfd, ifd;
	uint8_t buf[4096];
	struct vdrv *d;

	XT_ASSERT(dev);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		xt_skip("/dev/loop-control: %s", strerror(errno));
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (nr < 0)
		xt_skip("no free loop device: %s", strerror(errno));
	snprintf(dev->path, sizeof(dev->path), "/dev/loop%d", nr);
	lfd = open(dev->path, O_RDWR | O_CLOEXEC);
	ifd = open(im->path, O_RDWR | O_CLOEXEC);
	XT_ASSERT(ifd >= 0);
	if (lfd < 0 || ioctl(lfd, LOOP_SET_FD, ifd))
		xt_skip("%s: %s", dev->path, strerror(errno));
	close(ifd);
	xt_defer(detach_loop, (void *)(intptr_t)lfd);

	d = blk_up(dev, NULL, BLK_FEATURES, 1);
	XT_EQ(CFG_GET(d, capacity), IMG_SECTORS);
	XT_EQ(blk_read(d, 33, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	check_pattern(buf, 33 * SECTOR, sizeof(buf));
	memset(buf, 0x6d, sizeof(buf));
	XT_EQ(blk_write(d, 8, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	XT_EQ(blk_simple(d, VIRTIO_BLK_T_FLUSH), VIRTIO_BLK_S_OK);
	seg = range(64, 64, 0);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, 64, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	XT_ASSERT(all_bytes(buf, sizeof(buf), 0));
	seg = range(256, 64, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, 256, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	XT_ASSERT(all_bytes(buf, sizeof(buf), 0));
	seg = range(512, 64, 0);
	XT_EQ(blk_zero(d, VIRTIO_BLK_T_DISCARD, &seg, 1), VIRTIO_BLK_S_OK);
	XT_EQ(blk_read(d, IMG_SECTORS - 8, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	check_pattern(buf, (IMG_SECTORS - 8) * SECTOR, sizeof(buf));
	free(dev);
}

int main(int argc, char **argv)
{
	static const struct xt_case cases[] = {
		XT_CASE(blk_probe_config),
		XT_CASE(blk_options),
		XT_CASE(blk_bad_options),
		XT_CASE(blk_image_lock),
		XT_CASE(blk_readonly_shared),
		XT_CASE(blk_reopen),
		XT_CASE(blk_read_sectors),
		XT_CASE(blk_write_sectors),
		XT_CASE(blk_scattered),
		XT_CASE(blk_status_in_data_buffer),
	XT_CASE(blk_seg_max_enforced),
		XT_CASE(blk_large_chunked),
		XT_CASE(blk_zero_length),
		XT_CASE(blk_queue_depth),
		XT_CASE(blk_queue_depth_polling),
		XT_CASE(blk_kick_busy_off),
		XT_CASE(blk_stall_bounded),
		XT_CASE(blk_multiqueue),
		XT_CASE(blk_interrupts),
		XT_CASE(blk_no_flush_feature),
		XT_CASE(blk_flush),
		XT_CASE(blk_flush_survives_kill),
		XT_CASE(blk_get_id),
		XT_CASE(blk_discard),
		XT_CASE(blk_discard_multi),
		XT_CASE(blk_write_zeroes),
		XT_CASE(blk_write_zeroes_unmap),
		XT_CASE(blk_write_zeroes_no_discard),
		XT_CASE(blk_zeroes_errors),
		XT_CASE(blk_past_capacity),
		XT_CASE(blk_not_whole_sectors),
		XT_CASE(blk_short_header),
		XT_CASE(blk_missing_status),
		XT_CASE(blk_wrong_direction),
		XT_CASE(blk_unsupported_type),
		XT_CASE(blk_readonly),
		XT_CASE(blk_readonly_file),
		XT_CASE(blk_cache_none),
		XT_CASE(blk_cache_none_unaligned),
		XT_CASE(blk_cache_none_unpinnable),
		XT_CASE(blk_cache_none_bounce_pool),
		XT_CASE(blk_reset_in_flight),
		XT_CASE(blk_close_in_flight),
		XT_CASE(blk_invalidate_in_flight),
		XT_CASE(blk_block_device),
	};

	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
