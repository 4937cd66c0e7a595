// SPDX-License-Identifier: MIT
/*
 * The QMP server of the device-model mode (tools/qmp.c, tools/qmp_proto.c)
 * over real unix sockets, driven the way libxl (libxl_qmp.c: greeting,
 * qmp_capabilities, one command per connection, ids from 0x786c7100, "\r\n"
 * after each command) and libxenstat (no id, no newline) drive QEMU, and
 * the way a broken or hostile client does.
 */
#define _GNU_SOURCE 1	/* memmem */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "qmp.h"
#include "xtest.h"

#define WAIT_MS 5000

struct fixture {
	char dir[80];
	char path[100];
	struct xvqmp_state st;
	struct xvqmp_server *srv;
	atomic_int quits;
	atomic_int conts;
	atomic_int stops;
};

struct conn {
	int fd;
	char buf[16384];
	size_t len;
};

static void on_event(enum xvqmp_event ev, void *opaque)
{
	struct fixture *f = opaque;

	if (ev == XVQMP_EV_QUIT)
		atomic_fetch_add(&f->quits, 1);
	else if (ev == XVQMP_EV_CONT)
		atomic_fetch_add(&f->conts, 1);
	else
		atomic_fetch_add(&f->stops, 1);
}

static void fixture_free(void *arg)
{
	struct fixture *f = arg;

	xvqmp_server_free(f->srv);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
}

static struct fixture *fixture_new(enum xvqmp_status st)
{
	const char *base = getenv("TMPDIR");
	struct fixture *f = calloc(1, sizeof(*f));

	XT_ASSERT(f);
	snprintf(f->dir, sizeof(f->dir), "%s/xv-qmp-XXXXXX",
		 base && *base && strlen(base) < 50 ? base : "/tmp");
	XT_ASSERT_MSG(mkdtemp(f->dir), "mkdtemp: %m");
	snprintf(f->path, sizeof(f->path), "%s/qmp-libxl-5", f->dir);
	f->st = (struct xvqmp_state){ .status = st, .event = on_event,
				      .opaque = f };
	xt_defer(fixture_free, f);
	return f;
}

/* A server on f->path, as with -chardev socket,path=...,server=on. */
static struct fixture *path_server(enum xvqmp_status st)
{
	struct fixture *f = fixture_new(st);
	struct xvqmp_listen l = { .path = f->path, .fd = -1 };
	char err[256];

	f->srv = xvqmp_server_new(&l, 1, &f->st, err, sizeof(err));
	XT_ASSERT_MSG(f->srv, "%s", err);
	XT_ASSERT(!xvqmp_server_start(f->srv));
	return f;
}

static void conn_close(void *arg)
{
	struct conn *c = arg;

	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	XT_ASSERT(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		XT_FAIL("connect %s: %m", path);
	}
	return fd;
}

static struct conn *conn_open(const char *path)
{
	struct conn *c = calloc(1, sizeof(*c));

	XT_ASSERT(c);
	c->fd = -1;
	xt_defer(conn_close, c);
	c->fd = raw_connect(path);
	return c;
}

static void send_str(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	XT_EQ(send(c->fd, s, n, MSG_NOSIGNAL), n);
}

/* Read more within WAIT_MS; 0 at EOF. */
static ssize_t fill(struct conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	XT_ASSERT_MSG(poll(&p, 1, WAIT_MS) == 1, "no answer within %d ms", WAIT_MS);
	XT_ASSERT(c->len < sizeof(c->buf));
	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	XT_ASSERT_MSG(n >= 0, "read: %m");
	c->len += n;
	return n;
}

/* The next reply line (without "\r\n"), parsed; every one must be JSON. */
static yajl_val next_msg(struct conn *c)
{
	char line[sizeof(c->buf) + 1], err[256];
	char *end;
	yajl_val v;

	while (!(end = memmem(c->buf, c->len, "\r\n", 2)))
		XT_ASSERT_MSG(fill(c) > 0, "connection closed, %zu bytes pending", c->len);
	memcpy(line, c->buf, end - c->buf);
	line[end - c->buf] = '\0';
	c->len -= end + 2 - c->buf;
	memmove(c->buf, end + 2, c->len);
	v = yajl_tree_parse(line, err, sizeof(err));
	XT_ASSERT_MSG(v, "not JSON: %s", line);
	xt_log("reply: %s", line);
	return v;
}

/* The server hung up: EOF, or a reset for what it left unread. */
static void expect_eof(struct conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char buf[4096];
	ssize_t n;

	do {
		XT_ASSERT_MSG(poll(&p, 1, WAIT_MS) == 1, "still open after %d ms", WAIT_MS);
		n = read(c->fd, buf, sizeof(buf));
	} while (n > 0);
	XT_ASSERT_MSG(!n || errno == ECONNRESET, "read: %m");
}

static yajl_val get(yajl_val v, yajl_type t, const char *k1, const char *k2)
{
	const char *path[] = { k1, k2, NULL };

	return yajl_tree_get(v, path, t);
}

static void free_val(void *v)
{
	yajl_tree_free(v);
}

/* next_msg, freed when the case ends */
static yajl_val msg(struct conn *c)
{
	yajl_val v = next_msg(c);

	xt_defer(free_val, v);
	return v;
}

static void expect_greeting(struct conn *c)
{
	yajl_val v = next_msg(c);
	const char *major[] = { "QMP", "version", "qemu", "major", NULL };
	bool ok = YAJL_IS_INTEGER(yajl_tree_get(v, major, yajl_t_number)) &&
		  get(v, yajl_t_array, "QMP", "capabilities");

	yajl_tree_free(v);
	XT_ASSERT_MSG(ok, "not a QMP greeting");
}

static void expect_error(yajl_val v, const char *cls)
{
	yajl_val c = get(v, yajl_t_string, "error", "class");

	XT_ASSERT_MSG(c && !strcmp(c->u.string, cls), "no %s error", cls);
	XT_ASSERT(get(v, yajl_t_string, "error", "desc"));
}

static long long id_of(yajl_val v)
{
	yajl_val id = get(v, yajl_t_number, "id", NULL);

	XT_ASSERT_MSG(id && YAJL_IS_INTEGER(id), "reply without a numeric id");
	return YAJL_GET_INTEGER(id);
}

/* libxl's opening, on a new connection: greeting, capabilities. */
static struct conn *libxl_connect(struct fixture *f, int *id)
{
	struct conn *c = conn_open(f->path);
	char cmd[96];
	yajl_val v;

	expect_greeting(c);
	snprintf(cmd, sizeof(cmd), "{\"execute\":\"qmp_capabilities\",\"id\":%d}\r\n", *id);
	send_str(c, cmd);
	v = msg(c);
	XT_ASSERT(get(v, yajl_t_object, "return", NULL));
	XT_EQ(id_of(v), *id);
	++*id;
	return c;
}

static yajl_val libxl_cmd(struct conn *c, int *id, const char *cmd,
			  const char *args)
{
	char buf[256];
	yajl_val v;

	snprintf(buf, sizeof(buf), "{\"execute\":\"%s\",%s%s\"id\":%d}\r\n", cmd,
		 args ? args : "", args ? "," : "", *id);
	send_str(c, buf);
	v = msg(c);
	XT_EQ(id_of(v), *id);
	++*id;
	return v;
}

/* Xen 4.17 creating a guest: query-chardev, then query-vnc; 4.20 adds
 * nothing for PV guests. Each step on a connection of its own. */
static void libxl_create_sequence(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	int id = 0x786c7100;
	struct conn *c = libxl_connect(f, &id);
	yajl_val v;

	v = libxl_cmd(c, &id, "query-chardev", NULL);
	XT_ASSERT(get(v, yajl_t_array, "return", NULL));
	close(c->fd);
	c->fd = -1;
	c = libxl_connect(f, &id);
	v = libxl_cmd(c, &id, "query-vnc", NULL);
	XT_ASSERT(get(v, yajl_t_false, "return", "enabled"));
	v = libxl_cmd(c, &id, "query-status", NULL);
	XT_ASSERT(!strcmp(get(v, yajl_t_string, "return", "status")->u.string, "running"));
	XT_ASSERT(get(v, yajl_t_true, "return", "running"));
	v = libxl_cmd(c, &id, "query-version", NULL);
	XT_ASSERT(get(v, yajl_t_object, "return", "qemu"));
	v = libxl_cmd(c, &id, "query-commands", NULL);
	XT_ASSERT(get(v, yajl_t_array, "return", NULL)->u.array.len >= 10);
	XT_EQ(atomic_load(&f->quits) + atomic_load(&f->conts), 0);
}

/* dm_restrict: an inherited listening socket, -S, query-status says
 * "prelaunch" until "cont". */
static void inherited_fd_prelaunch(void)
{
	struct fixture *f = fixture_new(XVQMP_PRELAUNCH);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), id = 1;
	struct xvqmp_listen l = { .path = NULL, .fd = fd };
	char err[256];
	struct conn *c;
	yajl_val v;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	XT_ASSERT(!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) && !listen(fd, 1));
	f->srv = xvqmp_server_new(&l, 1, &f->st, err, sizeof(err));
	XT_ASSERT_MSG(f->srv, "%s", err);
	XT_ASSERT(!xvqmp_server_start(f->srv));
	c = libxl_connect(f, &id);
	v = libxl_cmd(c, &id, "query-status", NULL);
	XT_ASSERT(!strcmp(get(v, yajl_t_string, "return", "status")->u.string, "prelaunch"));
	XT_ASSERT(get(v, yajl_t_false, "return", "running"));
	libxl_cmd(c, &id, "cont", NULL);
	XT_EQ(atomic_load(&f->conts), 1);
	v = libxl_cmd(c, &id, "query-status", NULL);
	XT_ASSERT(!strcmp(get(v, yajl_t_string, "return", "status")->u.string, "running"));
	libxl_cmd(c, &id, "stop", NULL);
	XT_EQ(atomic_load(&f->stops), 1);
	v = libxl_cmd(c, &id, "query-status", NULL);
	XT_ASSERT(!strcmp(get(v, yajl_t_string, "return", "status")->u.string, "paused"));
}

/* Xen 4.20's option probe: query-command-line-options, then quit. */
static void libxl_probe_sequence(void)
{
	struct fixture *f = path_server(XVQMP_PRELAUNCH);
	int id = 0x786c7100;
	struct conn *c = libxl_connect(f, &id);
	yajl_val v;

	v = libxl_cmd(c, &id, "query-command-line-options", NULL);
	XT_EQ(get(v, yajl_t_array, "return", NULL)->u.array.len, 0);
	v = libxl_cmd(c, &id, "quit", NULL);
	XT_ASSERT(get(v, yajl_t_object, "return", NULL));
	XT_EQ(atomic_load(&f->quits), 1);
}

/* Save, restore and VNC passwords are refused, not pretended. */
static void refused_commands(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	int id = 7;
	struct conn *c = libxl_connect(f, &id);

	expect_error(libxl_cmd(c, &id, "xen-save-devices-state",
			       "\"arguments\":{\"filename\":\"/x\",\"live\":false}"),
		     "GenericError");
	expect_error(libxl_cmd(c, &id, "xen-set-global-dirty-log",
			       "\"arguments\":{\"enable\":true}"), "GenericError");
	expect_error(libxl_cmd(c, &id, "change-vnc-password",
			       "\"arguments\":{\"password\":\"x\"}"), "GenericError");
	expect_error(libxl_cmd(c, &id, "device_add",
			       "\"arguments\":{\"driver\":\"usb-host\"}"),
		     "CommandNotFound");
	/* still talking */
	XT_ASSERT(get(libxl_cmd(c, &id, "query-status", NULL), yajl_t_object,
		      "return", NULL));
}

/* Any JSON value is an id, and comes back as it was sent. */
static void ids_echoed(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	yajl_val v;

	expect_greeting(c);
	send_str(c, "{\"id\": {\"a\": [1, \"two\", null, 3.5e2]}, \"execute\": \"qmp_capabilities\"}");
	v = msg(c);
	XT_ASSERT(get(v, yajl_t_array, "id", "a"));
	XT_EQ(get(v, yajl_t_array, "id", "a")->u.array.len, 4);
	send_str(c, "{\"execute\": \"nosuch\", \"id\": \"x\\u00e9\"}");
	v = msg(c);
	expect_error(v, "CommandNotFound");
	XT_ASSERT(!strcmp(get(v, yajl_t_string, "id", NULL)->u.string, "x\xc3\xa9"));
}

/* libxenstat: no id, no line ends, two commands in one write. */
static void libxenstat_style(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	yajl_val v;

	expect_greeting(c);
	send_str(c, "{ \"execute\": \"qmp_capabilities\" }{ \"execute\": \"query-blockstats\" }");
	v = msg(c);
	XT_ASSERT(get(v, yajl_t_object, "return", NULL));
	XT_ASSERT(!get(v, yajl_t_any, "id", NULL));
	v = msg(c);
	XT_EQ(get(v, yajl_t_array, "return", NULL)->u.array.len, 0);
}

/* Commands before qmp_capabilities, and it twice: QEMU's errors. */
static void negotiation_first(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	int id = 1;

	expect_greeting(c);
	send_str(c, "{\"execute\":\"query-status\",\"id\":0}\r\n");
	expect_error(msg(c), "CommandNotFound");
	send_str(c, "{\"execute\":\"qmp_capabilities\",\"id\":1}\r\n");
	XT_ASSERT(get(msg(c), yajl_t_object, "return", NULL));
	id = 2;
	expect_error(libxl_cmd(c, &id, "qmp_capabilities", NULL), "CommandNotFound");
}

/* Broken input gets an error object; the next command still works. */
static void malformed_input(void)
{
	static const char *const bad[] = {
		"{\"execute\": }", "[1, 2]", "\"just a string\"", "123 ", "} ",
		"tru ", "{\"execute\": \"qmp_capabilities\", \"bogus\": 1}",
		"{\"arguments\": {}}", "{\"execute\": 5}",
		"{\"execute\": \"query-status\", \"arguments\": [1]}",
		"{\"execute\": \"\xff\xfe\"}", "{\"a\":\"\\u0000\"} ",
		"{\"a\": 1, \"a\": 2, \"execute\": \"x\"",
	};
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	int id = 100;

	expect_greeting(c);
	for (size_t i = 0; i + 1 < sizeof(bad) / sizeof(bad[0]); i++) {
		send_str(c, bad[i]);
		expect_error(msg(c), "GenericError");
	}
	/* an unterminated object swallows what follows until it closes */
	send_str(c, bad[sizeof(bad) / sizeof(bad[0]) - 1]);
	send_str(c, "}\r\n");
	expect_error(msg(c), "GenericError");
	send_str(c, "{\"execute\":\"qmp_capabilities\",\"id\":99}\r\n");
	XT_EQ(id_of(msg(c)), 99);
	XT_ASSERT(get(libxl_cmd(c, &id, "query-status", NULL), yajl_t_object,
		      "return", NULL));
}

/* A NUL byte inside a value, and one between values. */
static void nul_bytes(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	static const char in[] = "{\"execute\":\"qmp_capa\0bilities\"}";

	expect_greeting(c);
	XT_EQ(send(c->fd, in, sizeof(in) - 1, 0), sizeof(in) - 1);
	expect_error(msg(c), "GenericError");
	XT_EQ(send(c->fd, "\0", 1, 0), 1);
	expect_error(msg(c), "GenericError");
}

static void byte_by_byte(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	const char *cmd = "{\"execute\":\"qmp_capabilities\",\"id\":{\"s\":\"}\\\"{\"}}\r\n";

	expect_greeting(c);
	for (const char *p = cmd; *p; p++) {
		XT_EQ(send(c->fd, p, 1, 0), 1);
		usleep(200);
	}
	XT_ASSERT(!strcmp(get(msg(c), yajl_t_string, "id", "s")->u.string, "}\"{"));
}

static void deep_nesting(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	char in[2 * 200 + 1];
	int id = 5;

	memset(in, '[', 200);
	memset(in + 200, ']', 200);
	in[400] = '\0';
	expect_greeting(c);
	send_str(c, in);
	expect_error(msg(c), "GenericError");
	send_str(c, "{\"execute\":\"qmp_capabilities\",\"id\":5}");
	XT_EQ(id_of(msg(c)), 5);
	id = 6;
	libxl_cmd(c, &id, "query-status", NULL);
}

/* An endless value: one error, then the server hangs up; others go on. */
static void oversized_input(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	char chunk[4096];
	size_t sent = 0;
	int id = 1;

	expect_greeting(c);
	send_str(c, "{\"execute\": \"");
	memset(chunk, 'a', sizeof(chunk));
	while (sent < 2 * XVQMP_MAX_INPUT) {
		ssize_t n = send(c->fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n < 0)
			break;		/* the server hung up: fine */
		sent += n;
	}
	expect_error(msg(c), "GenericError");
	expect_eof(c);
	libxl_connect(f, &id);
}

/* Clients that vanish halfway, and more clients than served at once. */
static void disconnects_and_crowds(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *cs[XVQMP_MAX_CLIENTS + 2];
	int id = 1;

	for (int round = 0; round < 20; round++) {
		int fd = raw_connect(f->path);

		XT_EQ(send(fd, "{\"execute\":\"qmp_capab", 21, 0), 21);
		close(fd);
	}
	for (int i = 0; i < XVQMP_MAX_CLIENTS; i++) {
		cs[i] = conn_open(f->path);
		expect_greeting(cs[i]);
	}
	XT_EQ(xvqmp_server_clients(f->srv), XVQMP_MAX_CLIENTS);
	/* one too many: closed at once, without a greeting */
	cs[XVQMP_MAX_CLIENTS] = conn_open(f->path);
	expect_eof(cs[XVQMP_MAX_CLIENTS]);
	for (int i = 0; i < XVQMP_MAX_CLIENTS; i++) {
		close(cs[i]->fd);
		cs[i]->fd = -1;
	}
	for (int i = 0; i < 100 && xvqmp_server_clients(f->srv); i++)
		usleep(10000);
	XT_EQ(xvqmp_server_clients(f->srv), 0);
	libxl_connect(f, &id);
}

/* A client that sends and never reads is dropped, not buffered forever. */
static void client_never_reads(void)
{
	struct fixture *f = path_server(XVQMP_RUNNING);
	struct conn *c = conn_open(f->path);
	const char *cmd = "{\"execute\":\"query-commands\"}";
	size_t sent = 0;
	int id = 1;

	send_str(c, "{\"execute\":\"qmp_capabilities\"}");
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	while (sent < 64u << 20) {
		ssize_t n = send(c->fd, cmd, strlen(cmd), MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };

			if (poll(&p, 1, WAIT_MS) != 1 || (p.revents & (POLLERR | POLLHUP)))
				break;
			continue;
		}
		if (n < 0)
			break;
		sent += n;
	}
	XT_ASSERT_MSG(sent < 64u << 20, "never dropped");
	libxl_connect(f, &id);
}

static void socket_paths(void)
{
	struct fixture *f = fixture_new(XVQMP_RUNNING);
	struct xvqmp_listen l = { .path = f->path, .fd = -1 };
	struct xvqmp_server *s;
	char err[256];
	int fd;

	/* a regular file where the socket goes is kept, and an error */
	fd = open(f->path, O_CREAT | O_WRONLY, 0600);
	XT_ASSERT(fd >= 0);
	close(fd);
	XT_ASSERT(!xvqmp_server_new(&l, 1, &f->st, err, sizeof(err)));
	XT_ASSERT_MSG(strstr(err, "not a socket"), "%s", err);
	unlink(f->path);
	/* a socket left by an earlier run is replaced */
	s = xvqmp_server_new(&l, 1, &f->st, err, sizeof(err));
	XT_ASSERT_MSG(s, "%s", err);
	xvqmp_server_free(s);
	XT_ASSERT(access(f->path, F_OK));	/* removed on free */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
		XT_ASSERT(!bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
		close(fd);
	}
	f->srv = xvqmp_server_new(&l, 1, &f->st, err, sizeof(err));
	XT_ASSERT_MSG(f->srv, "%s", err);
	/* an fd that is no listening socket */
	l = (struct xvqmp_listen){ .path = NULL, .fd = 0 };
	fd = open("/dev/null", O_RDONLY);
	l.fd = fd;
	XT_ASSERT(!xvqmp_server_new(&l, 1, &f->st, err, sizeof(err)));
	XT_ASSERT_MSG(strstr(err, "not a listening socket"), "%s", err);
	close(fd);
}

#ifdef XV_DAEMON
/* The daemon itself, started with QEMU's command line as libxl does. */

static void kill_child(void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;

	if (!kill(pid, SIGKILL))
		waitpid(pid, NULL, 0);
}

static pid_t spawn_daemon(char *const argv[])
{
	pid_t pid = fork();

	XT_ASSERT(pid >= 0);
	if (!pid) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		execv(XV_DAEMON, argv);
		_exit(127);
	}
	xt_defer(kill_child, (void *)(intptr_t)pid);
	return pid;
}

/* The exit status, or -1 if it did not exit within ms. */
static int wait_exit(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	return -1;
}

/* libxl 4.20's probe: a listening socket inherited as fd, query, quit. */
static void daemon_probe(void)
{
	struct fixture *f = fixture_new(XVQMP_RUNNING);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0), id = 0x786c7100;
	char chardev[64];
	char *argv[] = {
		XV_DAEMON, "-S", "-no-user-config", "-nodefaults", "-nographic",
		"-machine", "none,accel=xen", "-chardev", chardev,
		"-mon", "chardev=libxl-cmd,mode=control", NULL,
	};
	struct conn *c;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	XT_ASSERT(!bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) && !listen(lfd, 1));
	snprintf(chardev, sizeof(chardev), "socket,id=libxl-cmd,fd=%d,server=on,wait=off", lfd);
	pid = spawn_daemon(argv);
	close(lfd);
	c = libxl_connect(f, &id);
	XT_EQ(get(libxl_cmd(c, &id, "query-command-line-options", NULL),
		  yajl_t_array, "return", NULL)->u.array.len, 0);
	libxl_cmd(c, &id, "quit", NULL);
	close(c->fd);
	c->fd = -1;
	/* it waits a little for libxl's SIGHUP, which ends it at once */
	XT_EQ(wait_exit(pid, 300), -1);
	XT_ASSERT(!kill(pid, SIGHUP));
	XT_EQ(wait_exit(pid, 1000), 0);
}

/* The daemon as libxl's probe, its monitor a socket it creates at path;
 * returns once the socket exists (or after 5 s). */
static pid_t spawn_probe_at(const char *path)
{
	char chardev[160];
	char *argv[] = {
		XV_DAEMON, "-S", "-machine", "none,accel=xen", "-chardev", chardev,
		"-mon", "chardev=libxl-cmd,mode=control", NULL,
	};
	pid_t pid;

	snprintf(chardev, sizeof(chardev), "socket,id=libxl-cmd,path=%s,server=on,wait=off",
		 path);
	pid = spawn_daemon(argv);
	for (int i = 0; i < 500 && access(path, F_OK); i++)
		usleep(10000);
	return pid;
}

/* Without libxl's SIGHUP the probe ends by itself soon after "quit". */
static void daemon_probe_alone(void)
{
	struct fixture *f = fixture_new(XVQMP_RUNNING);
	pid_t pid = spawn_probe_at(f->path);
	int id = 1;
	struct conn *c;

	c = libxl_connect(f, &id);
	libxl_cmd(c, &id, "quit", NULL);
	XT_EQ(wait_exit(pid, 5000), 0);
}

/* libxl ends a device model with SIGHUP; its socket file goes with it. */
static void daemon_sighup(void)
{
	struct fixture *f = fixture_new(XVQMP_RUNNING);
	pid_t pid = spawn_probe_at(f->path);
	struct conn *c;

	c = conn_open(f->path);
	expect_greeting(c);
	XT_ASSERT(!kill(pid, SIGHUP));
	XT_EQ(wait_exit(pid, 5000), 0);
	XT_ASSERT_MSG(access(f->path, F_OK), "%s left behind", f->path);
}

/* HVM guests need QEMU; bad own options are usage errors. */
static void daemon_refusals(void)
{
	char *hvm[] = { XV_DAEMON, "-xen-domid", "1", "-machine",
			"xenfv,suppress-vmdesc=on", NULL };
	char *bad[] = { XV_DAEMON, "-xen-domid", "1", "--devcie", "rng", NULL };

	XT_EQ(wait_exit(spawn_daemon(hvm), 5000), 1);
	XT_ASSERT(xt_stderr_has("not HVM ones"));
	XT_EQ(wait_exit(spawn_daemon(bad), 5000), 2);
	XT_ASSERT(xt_stderr_has("unknown option '--devcie'"));
}
#endif

static const struct xt_case cases[] = {
	XT_CASE(libxl_create_sequence),
	XT_CASE(inherited_fd_prelaunch),
	XT_CASE(libxl_probe_sequence),
	XT_CASE(refused_commands),
	XT_CASE(ids_echoed),
	XT_CASE(libxenstat_style),
	XT_CASE(negotiation_first),
	XT_CASE(malformed_input),
	XT_CASE(nul_bytes),
	XT_CASE(byte_by_byte),
	XT_CASE(deep_nesting),
	XT_CASE(oversized_input),
	XT_CASE(disconnects_and_crowds),
	XT_CASE(client_never_reads),
	XT_CASE(socket_paths),
#ifdef XV_DAEMON
	XT_CASE(daemon_probe),
	XT_CASE(daemon_probe_alone),
	XT_CASE(daemon_sighup),
	XT_CASE(daemon_refusals),
#endif
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
