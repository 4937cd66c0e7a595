// SPDX-License-Identifier: MIT
/*
 * xv-sockline: talk lines to a unix stream socket, for the boot lab's
 * console check (busybox nc has no unix sockets). Connects to PATH, retrying
 * while the socket does not exist or nobody listens yet, then runs its steps
 * in order:
 *
 *   xv-sockline PATH SECONDS STEP...
 *     expect:PREFIX   read lines until one starts with PREFIX; print it
 *     send:TEXT       write TEXT and a newline
 *
 * SECONDS bounds the whole run, connecting included. CRs are dropped from
 * what is read (a tty's output may end lines with CR LF).
 *
 * Prints one line per step; exit status 0 = every step done, 1 = timeout or
 * the peer hung up, 2 = error, 3 = usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_unix(const char *path, double deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "xv-sockline: path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			printf("error in socket: %s\n", strerror(errno));
			return -1;
		}
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		if (errno != ENOENT && errno != ECONNREFUSED) {
			printf("error in connect: %s\n", strerror(errno));
			return -1;
		}
		if (now() >= deadline) {
			printf("timeout connecting to %s\n", path);
			return -1;
		}
		usleep(100000);
	}
}

static char buf[4096];
static size_t have;

/* Read until a line starting with prefix is complete; 0 = found. */
static int expect(int fd, const char *prefix, double deadline)
{
	for (;;) {
		char *nl;

		while ((nl = memchr(buf, '\n', have))) {
			size_t len = nl - buf;

			*nl = 0;
			if (!strncmp(buf, prefix, strlen(prefix))) {
				printf("got: %s\n", buf);
				have -= len + 1;
				memmove(buf, nl + 1, have);
				return 0;
			}
			have -= len + 1;
			memmove(buf, nl + 1, have);
		}
		if (have == sizeof(buf))
			have = 0;	/* an endless line: not ours */

		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = deadline - now();
		int n;

		if (left <= 0) {
			printf("timeout waiting for a line starting with '%s'\n", prefix);
			return 1;
		}
		n = poll(&p, 1, (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR) {
			printf("error in poll: %s\n", strerror(errno));
			return 2;
		}
		if (n <= 0)
			continue;
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);

		if (r < 0 && errno != EINTR) {
			printf("error in read: %s\n", strerror(errno));
			return 2;
		}
		if (r == 0) {
			printf("hung up before a line starting with '%s'\n", prefix);
			return 1;
		}
		size_t end = have + r;

		for (size_t i = have; i < end; i++)
			if (buf[i] != '\r')
				buf[have++] = buf[i];
	}
}

static int send_line(int fd, const char *text)
{
	size_t len = strlen(text);
	char *line = malloc(len + 1);

	if (!line)
		return 2;
	memcpy(line, text, len);
	line[len] = '\n';
	for (size_t off = 0; off <= len; ) {
		ssize_t w = write(fd, line + off, len + 1 - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			printf("error in write: %s\n", strerror(errno));
			free(line);
			return 2;
		}
		off += w;
	}
	free(line);
	printf("sent: %s\n", text);
	return 0;
}

int main(int argc, char **argv)
{
	double deadline;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4) {
		fprintf(stderr, "usage: xv-sockline PATH SECONDS expect:PREFIX|send:TEXT...\n");
		return 3;
	}
	deadline = now() + strtod(argv[2], NULL);
	fd = connect_unix(argv[1], deadline);
	if (fd < 0)
		return 1;
	for (int i = 3; i < argc; i++) {
		int rc;

		if (!strncmp(argv[i], "expect:", 7)) {
			rc = expect(fd, argv[i] + 7, deadline);
		} else if (!strncmp(argv[i], "send:", 5)) {
			rc = send_line(fd, argv[i] + 5);
		} else {
			fprintf(stderr, "xv-sockline: unknown step '%s'\n", argv[i]);
			return 3;
		}
		if (rc)
			return rc;
	}
	close(fd);
	return 0;
}
