// SPDX-License-Identifier: MIT
/*
 * xv-pattern: write or check a reproducible byte pattern on a disk or file,
 * for the boot lab. Busybox dd cannot bypass the page cache, and a check
 * that reads back what the page cache kept proves nothing about the device:
 * with O_DIRECT every byte goes to the virtio-blk device and back.
 *
 *   xv-pattern write|check|zeroout|discard|zeros|hole PATH OFFSET LENGTH SEED [buffered]
 *
 * OFFSET may be negative: counted from the end of PATH. The pattern depends
 * on the absolute offset and SEED, so regions can be checked independently.
 * "buffered" skips O_DIRECT (tmpfs has none before Linux 6.6).
 *
 * zeroout zeroes the region with the BLKZEROOUT ioctl: a second way to
 * write, which Linux checks separately from write(); on a virtio disk with
 * VIRTIO_BLK_F_WRITE_ZEROES it becomes a write-zeroes request. discard
 * sends BLKDISCARD (a virtio discard request). zeros checks that the region
 * reads back as zeroes, hole that a file has no data there (SEEK_DATA):
 * how Dom0 sees that a discard reached the image. SEED is ignored by these
 * four.
 *
 * Prints one line; exit status 0 = ok, 1 = mismatch, 2 = I/O error
 * (the line names the errno, e.g. "error EIO in pwrite: ..."), 3 = usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALIGN 4096
#define CHUNK (64 * 1024)

static const char *errno_name(int e)
{
	switch (e) {
	case EIO: return "EIO";
	case EROFS: return "EROFS";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ENXIO: return "ENXIO";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return "errno";
	}
}

static int fail(const char *what, int e)
{
	printf("error %s in %s: %s\n", errno_name(e), what, strerror(e));
	return 2;
}

/* 8 bytes per absolute 8-byte-aligned offset: any misplaced block shows. */
static void fill(unsigned char *buf, uint64_t off, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = ((off + i) / 8 + 1) * 0x9e3779b97f4a7c15ull ^ seed;

		memcpy(buf + i, &v, 8);
	}
}

/* Zero (BLKZEROOUT) or discard (BLKDISCARD) a block device range. */
static int zeroout(int fd, int64_t off, uint64_t len, int discard)
{
	uint64_t range[2] = { off, len };

	if (ioctl(fd, discard ? BLKDISCARD : BLKZEROOUT, range))
		return fail(discard ? "BLKDISCARD" : "BLKZEROOUT", errno);
	if (fsync(fd))
		return fail("fsync", errno);
	printf("ok %s %" PRIu64 " bytes at offset %" PRId64 "\n",
	       discard ? "discarded" : "zeroed", len, off);
	return 0;
}

/* The file holds no data in the range: the next data begins after it. */
static int hole(int fd, int64_t off, uint64_t len)
{
	off_t data = lseek(fd, off, SEEK_DATA);

	if (data < 0 && errno != ENXIO)
		return fail("lseek(SEEK_DATA)", errno);
	if (data >= 0 && (uint64_t)data < off + len) {
		printf("data at offset %jd inside the range\n", (intmax_t)data);
		return 1;
	}
	printf("ok hole of %" PRIu64 " bytes at offset %" PRId64 "\n", len, off);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *buf, *want;
	int64_t off;
	uint64_t len, seed, done;
	int writing, zeroing, discarding, zeros, holes, fd, flags;

	if (argc < 6 || argc > 7 || (strcmp(argv[1], "write") && strcmp(argv[1], "check") &&
				     strcmp(argv[1], "zeroout") && strcmp(argv[1], "discard") &&
				     strcmp(argv[1], "zeros") && strcmp(argv[1], "hole"))) {
		fprintf(stderr, "usage: xv-pattern write|check|zeroout|discard|zeros|hole PATH OFFSET LENGTH SEED [buffered]\n");
		return 3;
	}
	writing = !strcmp(argv[1], "write");
	discarding = !strcmp(argv[1], "discard");
	zeroing = !strcmp(argv[1], "zeroout") || discarding;
	zeros = !strcmp(argv[1], "zeros");
	holes = !strcmp(argv[1], "hole");
	off = strtoll(argv[3], NULL, 0);
	len = strtoull(argv[4], NULL, 0);
	seed = strtoull(argv[5], NULL, 0);
	if (len % ALIGN || len == 0) {
		fprintf(stderr, "xv-pattern: LENGTH must be a multiple of %d\n", ALIGN);
		return 3;
	}
	flags = (zeroing ? O_RDWR : writing ? O_WRONLY : O_RDONLY) | O_CLOEXEC;
	if (!zeroing && !holes && (argc < 7 || strcmp(argv[6], "buffered")))
		flags |= O_DIRECT;
	fd = open(argv[2], flags);
	if (fd < 0)
		return fail("open", errno);
	if (off < 0) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end < 0)
			return fail("lseek", errno);
		off += end;
	}
	if (off < 0 || off % ALIGN) {
		fprintf(stderr, "xv-pattern: offset must be a multiple of %d inside the file\n", ALIGN);
		return 3;
	}
	if (zeroing)
		return zeroout(fd, off, len, discarding);
	if (holes)
		return hole(fd, off, len);
	if (posix_memalign((void **)&buf, ALIGN, CHUNK) || posix_memalign((void **)&want, ALIGN, CHUNK))
		return fail("posix_memalign", ENOMEM);
	for (done = 0; done < len; ) {
		size_t n = len - done < CHUNK ? len - done : CHUNK;
		ssize_t r;

		if (zeros)
			memset(want, 0, n);
		else
			fill(want, off + done, n, seed);
		if (writing) {
			r = pwrite(fd, want, n, off + done);
			if (r < 0)
				return fail("pwrite", errno);
		} else {
			r = pread(fd, buf, n, off + done);
			if (r < 0)
				return fail("pread", errno);
			if (r == (ssize_t)n && memcmp(buf, want, n)) {
				size_t i = 0;

				while (buf[i] == want[i])
					i++;
				printf("mismatch at offset %" PRIu64 "\n", off + done + i);
				return 1;
			}
		}
		if (r != (ssize_t)n) {
			printf("short %s at offset %" PRIu64 ": %zd of %zu bytes\n",
			       writing ? "write" : "read", off + done, r, n);
			return 1;
		}
		done += n;
	}
	/* A write counts once it is on the device: fsync sends the flush. */
	if (writing && fsync(fd))
		return fail("fsync", errno);
	if (close(fd))
		return fail("close", errno);
	printf("ok %s %" PRIu64 " bytes at offset %" PRId64 "\n",
	       writing ? "wrote" : zeros ? "checked zeroes in" : "checked", len, off);
	return 0;
}
