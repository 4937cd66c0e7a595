// SPDX-License-Identifier: MIT
/*
 * Test runner: one child process per case. See xtest.h.
 *
 * The child reports through a pipe: "P" for a pass, "F<reason>" or
 * "S<reason>". A child that ends without writing anything crashed (signal,
 * sanitizer report, leak check) and its exit status becomes the reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xtest.h"

#define XT_MAX_DEFER 32
#define XT_STDERR_SHOWN 8192

struct xt_state {
	jmp_buf jb;
	char result;			/* 'P', 'F', 'S' */
	char why[1024];
	char notes[1024];
	struct {
		void (*fn)(void *);
		void *arg;
	} defer[XT_MAX_DEFER];
	unsigned int n_defer;
};

static struct xt_state xt;
static bool stderr_captured;

bool xt_stderr_has(const char *needle)
{
	size_t cap = 1 << 16, got = 0;
	char *buf;
	bool found;

	if (!stderr_captured)
		return true;
	buf = malloc(cap + 1);
	if (!buf)
		return false;
	/* pread: the shared file offset belongs to the writers. */
	for (;;) {
		ssize_t n = pread(STDERR_FILENO, buf + got, cap - got, got);

		if (n <= 0)
			break;
		got += n;
		if (got == cap) {
			char *b = realloc(buf, 2 * cap + 1);

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
	}
	buf[got] = 0;
	found = strstr(buf, needle);
	free(buf);
	return found;
}

void xt_log(const char *fmt, ...)
{
	size_t used = strlen(xt.notes);
	va_list ap;

	if (used && used + 2 < sizeof(xt.notes)) {
		strcpy(xt.notes + used, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(xt.notes + used, sizeof(xt.notes) - used, fmt, ap);
	va_end(ap);
}

void xt_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xt.result = 'F';
	snprintf(xt.why, sizeof(xt.why), "%s:%d: %s", file, line, msg);
	longjmp(xt.jb, 1);
}

void xt_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(xt.why, sizeof(xt.why), fmt, ap);
	va_end(ap);
	xt.result = 'S';
	longjmp(xt.jb, 1);
}

void xt_defer(void (*fn)(void *), void *arg)
{
	if (xt.n_defer == XT_MAX_DEFER) {
		fn(arg);
		XT_FAIL("more than %d deferred cleanups", XT_MAX_DEFER);
	}
	xt.defer[xt.n_defer].fn = fn;
	xt.defer[xt.n_defer].arg = arg;
	xt.n_defer++;
}

static void run_defers(void)
{
	while (xt.n_defer) {
		xt.n_defer--;
		xt.defer[xt.n_defer].fn(xt.defer[xt.n_defer].arg);
	}
}

/* Run one case here; the result is in xt. */
static void run_case(const struct xt_case *c)
{
	memset(&xt, 0, sizeof(xt));
	xt.result = 'P';
	if (!setjmp(xt.jb))
		c->fn();
	/*
	 * A check failing inside a cleanup comes back here and the remaining
	 * cleanups run (each is taken off the list before it is called).
	 */
	setjmp(xt.jb);
	run_defers();
}

static void format_result(char *buf, size_t len)
{
	if (xt.result == 'P')
		snprintf(buf, len, "P");
	else if (xt.notes[0])
		snprintf(buf, len, "%c%s [%s]", xt.result, xt.why, xt.notes);
	else
		snprintf(buf, len, "%c%s", xt.result, xt.why);
}

struct xt_opts {
	bool verbose;
	bool no_fork;
	unsigned int timeout;
};

static void dump_stderr(int fd)
{
	char buf[XT_STDERR_SHOWN];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof(buf) ? size - (off_t)sizeof(buf) : 0;
	ssize_t n;

	if (size <= 0 || lseek(fd, from, SEEK_SET) < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return;
	if (from)
		printf("    ... (%lld bytes of stderr before this)\n", (long long)from);
	for (char *line = buf, *end; line < buf + n; line = end + 1) {
		end = memchr(line, '\n', buf + n - line);
		if (!end)
			end = buf + n;
		printf("    | %.*s\n", (int)(end - line), line);
	}
}

static void child(const struct xt_case *c, int pipe_w, int err_fd)
{
	char res[4096];

	dup2(err_fd, STDERR_FILENO);
	stderr_captured = true;
	vlog_use_fd(STDERR_FILENO);
	run_case(c);
	format_result(res, sizeof(res));
	if (write(pipe_w, res, strlen(res)) < 0)
		_exit(2);
	close(pipe_w);
	/* exit(), not _exit(): the leak checker runs at exit. */
	exit(0);
}

static void describe_death(int st, char *buf, size_t len, bool timed_out,
			   unsigned int timeout)
{
	if (timed_out)
		snprintf(buf, len, "Ftimed out after %u s", timeout);
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "Fkilled by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "Fexited with status %d without a result "
			 "(crash or sanitizer report)", WEXITSTATUS(st));
}

/* Wait for the child, killing it after the time limit. */
static int wait_child(pid_t pid, unsigned int timeout, bool *timed_out)
{
	struct timespec t0, now;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!*timed_out && now.tv_sec - t0.tv_sec >= (time_t)timeout) {
			*timed_out = true;
			kill(pid, SIGKILL);
		}
		usleep(2000);
	}
}

static void read_result(int fd, char *res, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < len && (n = read(fd, res + got, len - 1 - got)) > 0)
		got += n;
	res[got] = 0;
}

static bool run_forked(const struct xt_case *c, const struct xt_opts *o)
{
	char res[4096] = "";
	bool timed_out = false;
	int p[2], err_fd, st;
	pid_t pid;

	err_fd = memfd_create("xtest-stderr", 0);
	if (err_fd < 0 || pipe(p)) {
		printf("FAIL %s: cannot set up the child: %s\n", c->name, strerror(errno));
		return false;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		printf("FAIL %s: fork: %s\n", c->name, strerror(errno));
		return false;
	}
	if (!pid) {
		close(p[0]);
		child(c, p[1], err_fd);
	}
	close(p[1]);
	st = wait_child(pid, o->timeout, &timed_out);
	read_result(p[0], res, sizeof(res));
	close(p[0]);
	if (!res[0] || timed_out || !WIFEXITED(st) || WEXITSTATUS(st))
		describe_death(st, res, sizeof(res), timed_out, o->timeout);
	if (res[0] == 'P')
		printf("PASS %s\n", c->name);
	else
		printf("%s %s: %s\n", res[0] == 'S' ? "SKIP" : "FAIL", c->name, res + 1);
	if (res[0] == 'F' || o->verbose)
		dump_stderr(err_fd);
	fflush(stdout);
	close(err_fd);
	return res[0] != 'F';
}

static bool run_inline(const struct xt_case *c)
{
	char res[4096];

	run_case(c);
	format_result(res, sizeof(res));
	if (res[0] == 'P')
		printf("PASS %s\n", c->name);
	else
		printf("%s %s: %s\n", res[0] == 'S' ? "SKIP" : "FAIL", c->name, res + 1);
	fflush(stdout);
	return res[0] != 'F';
}

static bool selected(const char *name, int argc, char **argv, int first)
{
	if (first >= argc)
		return true;
	for (int i = first; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return false;
}

int xt_main(int argc, char **argv, const struct xt_case *cases, size_t n)
{
	struct xt_opts o = { .timeout = 60 };
	unsigned int failed = 0;
	int opt;

	while ((opt = getopt(argc, argv, "vnt:")) != -1) {
		switch (opt) {
		case 'v':
			o.verbose = true;
			break;
		case 'n':
			o.no_fork = true;
			break;
		case 't':
			o.timeout = atoi(optarg) > 0 ? atoi(optarg) : 60;
			break;
		default:
			fprintf(stderr, "usage: %s [-v] [-n] [-t SECONDS] [NAME...]\n",
				argv[0]);
			return 2;
		}
	}
	/* A dead device worker must not take the runner with it via SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < n; i++) {
		bool ok;

		if (!selected(cases[i].name, argc, argv, optind))
			continue;
		ok = o.no_fork ? run_inline(&cases[i]) : run_forked(&cases[i], &o);
		failed += !ok;
	}
	return failed ? 1 : 0;
}
