// SPDX-License-Identifier: MIT
/*
 * The monitor of a guest's backend (see monitor.h).
 */
#define __XEN_TOOLS__ 1
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenstore.h>

#include "ctl.h"
#include "log.h"
#include "monitor.h"
#include "vslot.h"
#include "xs.h"

/* How long a server may take to end once it closed its link. */
#define SERVER_GRACE_MS 10000

struct mon_node {
	uint32_t slot;
	char path[XVMON_NODE_LEN];
	bool releasing;			/* asked the server, no answer yet */
	bool closed;
};

struct mon {
	const struct xvmon_config *c;
	pid_t server;
	int link;
	bool contained;
	bool released;			/* RELEASE of everything sent */
	long ioreq_server;		/* SERVER's id, or -1 */
	bool killed;			/* the server ended by a signal */
	unsigned long bad;		/* messages not understood */
	xc_interface *xch;
	xen_domain_handle_t handle;
	struct xs_handle *xs;
	unsigned int n;
	struct mon_node nodes[VSLOT_MAX];
};

int xvmon_send(int fd, uint32_t type, uint32_t slot, const char *node)
{
	struct xvmon_msg m = { .type = type, .slot = slot };

	if (node)
		snprintf(m.node, sizeof(m.node), "%s", node);
	return send(fd, &m, sizeof(m), MSG_NOSIGNAL) == sizeof(m) ? 0 : -1;
}

int xvmon_recv(int fd, struct xvmon_msg *m)
{
	ssize_t n = recv(fd, m, sizeof(*m), MSG_DONTWAIT);

	if (n == 0)
		return 0;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -2 : -1;
	if (n != sizeof(*m))
		return -1;
	m->node[sizeof(m->node) - 1] = '\0';
	return 1;
}

/* ---- the monitor -------------------------------------------------------- */

/* Nothing of the server's (devices, sockets, Xen handles) stays open here. */
static void close_other_fds(const int *keep, unsigned int n_keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		bool kept = fd <= 2 || fd == dirfd(d) || e->d_name[0] == '.';

		for (unsigned int i = 0; i < n_keep; i++)
			kept = kept || fd == keep[i];
		if (!kept)
			close(fd);
	}
	closedir(d);
}

static struct mon_node *find_node(struct mon *m, uint32_t slot)
{
	for (unsigned int i = 0; i < m->n; i++)
		if (m->nodes[i].slot == slot)
			return &m->nodes[i];
	return NULL;
}

static void check_domain(struct mon *m)
{
	bool ended;

	if (!xvmon_domain_alive(m->xch, m->c->domid, m->handle, &ended)) {
		log_info("domain %u is gone", m->c->domid);
		xvmon_send(m->link, XVMON_STOP, XVMON_ALL, NULL);
	} else if (ended && !m->released) {
		m->released = true;
		xvmon_send(m->link, XVMON_RELEASE, XVMON_ALL, NULL);
	}
}

/* libxl closes a node: the server lets the slot's memory go, then Closed. */
static void check_nodes(struct mon *m)
{
	for (unsigned int i = 0; i < m->n; i++) {
		struct mon_node *nd = &m->nodes[i];
		int st;

		if (nd->closed || nd->releasing)
			continue;
		st = xvxs_state(m->xs, nd->path);
		if (st == XVXS_STATE_CLOSING) {
			nd->releasing = true;
			xvmon_send(m->link, XVMON_RELEASE, nd->slot, NULL);
		} else if (st < 0) {
			nd->closed = true;
		}
	}
}

static void set_closed(struct mon *m, struct mon_node *nd)
{
	nd->closed = true;
	if (!xvxs_set_state(m->xs, nd->path, XVXS_STATE_CLOSED))
		log_info("%s: closed", nd->path);
}

static int take_over(struct mon *m)
{
	uint32_t self;
	unsigned int kept = 0;

	m->xs = xs_open(0);
	if (!m->xs || !xs_watch(m->xs, "@releaseDomain", "release")) {
		log_err("monitor: cannot watch xenstore: %m");
		return -1;
	}
	/* The names came from the server before it read anything of the
	 * guest's, but the monitor writes to them as Dom0: only this guest's
	 * libxl nodes in this domain. */
	self = xvxs_self_domid(m->xs);
	for (unsigned int i = 0; i < m->n; i++) {
		if (xvxs_is_node_path(m->nodes[i].path, self, m->c->domid))
			m->nodes[kept++] = m->nodes[i];
		else
			log_warn("monitor: ignoring node %s: not this guest's", m->nodes[i].path);
	}
	m->n = kept;
	for (unsigned int i = 0; i < m->n; i++)
		if (!xs_watch(m->xs, m->nodes[i].path, "node"))
			log_err("monitor: cannot watch %s: %m", m->nodes[i].path);
	m->contained = true;
	check_nodes(m);
	check_domain(m);
	return 0;
}

static void on_message(struct mon *m, const struct xvmon_msg *msg)
{
	struct mon_node *nd;

	switch (msg->type) {
	case XVMON_NODE:
		if (m->contained || m->n == VSLOT_MAX || find_node(m, msg->slot) ||
		    strncmp(msg->node, "/local/domain/", 14))
			break;
		m->nodes[m->n].slot = msg->slot;
		snprintf(m->nodes[m->n].path, XVMON_NODE_LEN, "%s", msg->node);
		m->n++;
		return;
	case XVMON_SERVER:
		if (m->contained || m->ioreq_server >= 0 || msg->slot > 0xffff)
			break;
		m->ioreq_server = msg->slot;
		return;
	case XVMON_CONTAINED:
		if (m->contained || take_over(m))
			break;
		return;
	case XVMON_RELEASED:
		nd = find_node(m, msg->slot);
		if (msg->slot == XVMON_ALL)
			return;
		if (!nd || !nd->releasing || nd->closed)
			break;
		set_closed(m, nd);
		return;
	}
	if (!m->bad++)
		log_warn("monitor: the server sent an unexpected message (type %u)",
			 msg->type);
}

static void on_xenstore(struct mon *m)
{
	unsigned int n;
	char **w = xs_read_watch(m->xs, &n);
	bool release = w && !strcmp(w[XS_WATCH_TOKEN], "release");

	free(w);
	if (release)
		check_domain(m);
	else
		check_nodes(m);
}

static void on_signal(struct mon *m)
{
	struct signalfd_siginfo si;

	if (read(m->c->signal_fd, &si, sizeof(si)) == sizeof(si))
		log_info("signal %u: stopping the server", si.ssi_signo);
	kill(m->server, SIGTERM);
}

/* What the server left open for libxl to close. */
static void finish(struct mon *m, bool clean)
{
	for (unsigned int i = 0; i < m->n; i++) {
		struct mon_node *nd = &m->nodes[i];

		if (nd->closed)
			continue;
		if (m->c->close_all || !clean ||
		    xvxs_state(m->xs, nd->path) == XVXS_STATE_CLOSING)
			set_closed(m, nd);
	}
}

/*
 * The link is closed: the server is ending. One that lingers (or broke
 * the link with garbage) is killed after a grace period: without the
 * monitor nobody answers libxl for it.
 */
static int server_status(struct mon *m)
{
	int st, waited = 0;
	pid_t pid;

	while ((pid = waitpid(m->server, &st, WNOHANG)) == 0 &&
	       waited < SERVER_GRACE_MS) {
		usleep(10000);
		waited += 10;
	}
	if (pid == 0) {
		log_err("the server did not end within %d ms of closing its link: killing it",
			SERVER_GRACE_MS);
		kill(m->server, SIGKILL);
	}
	while (pid <= 0 && (pid = waitpid(m->server, &st, 0)) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	m->killed = true;
	if (WTERMSIG(st) == SIGSYS)
		log_err("the server was killed by its system call filter (SIGSYS): a system call it needs is missing from the list in sandbox.c");
	else
		log_err("the server was killed by signal %d", WTERMSIG(st));
	return 1;
}

static void run(struct mon *m)
{
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = m->link, .events = POLLIN },
			{ .fd = m->c->signal_fd, .events = POLLIN },
			{ .fd = m->xs ? xs_fileno(m->xs) : -1, .events = POLLIN },
		};
		struct xvmon_msg msg;
		int rc;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[1].revents)
			on_signal(m);
		if (p[2].revents)
			on_xenstore(m);
		if (!p[0].revents)
			continue;
		while ((rc = xvmon_recv(m->link, &msg)) == 1)
			on_message(m, &msg);
		if (rc == -1) {
			log_err("the server broke its link: stopping it");
			kill(m->server, SIGTERM);
		}
		if (rc != -2)
			return;		/* the server is ending */
	}
}

/*
 * The server died without taking back what Dom0's kernel answers for it:
 * Linux keeps binding the ioreq server's event channels to a handler that
 * reads the dead process's ioreq page. Destroying the server closes the
 * channels, so that handler never runs again.
 */
static void destroy_ioreq_server(struct mon *m)
{
	xendevicemodel_handle *dm = xendevicemodel_open(NULL, 0);

	if (!dm || xendevicemodel_destroy_ioreq_server(dm, m->c->domid,
						       m->ioreq_server))
		log_err("monitor: cannot destroy ioreq server %ld of the dead server: %m",
			m->ioreq_server);
	else
		log_info("monitor: ioreq server %ld of the dead server destroyed",
			 m->ioreq_server);
	if (dm)
		xendevicemodel_close(dm);
}

static void monitor_main(struct mon *m)
{
	int keep[] = { m->link, m->c->signal_fd, vlog_fd() };
	char ctl[108];
	int status;

	if (vlog_fd() < 0)
		closelog();		/* reopened when next needed */
	close_other_fds(keep, 3);
	m->xch = xc_interface_open(NULL, NULL, 0);
	if (m->xch) {
		xc_domaininfo_t info;

		if (xc_domain_getinfolist(m->xch, m->c->domid, 1, &info) == 1 &&
		    info.domain == m->c->domid)
			memcpy(m->handle, info.handle, sizeof(m->handle));
	} else {
		log_err("monitor: cannot open the Xen control interface: %m");
	}
	run(m);
	status = server_status(m);
	if (m->killed && m->ioreq_server >= 0)
		destroy_ioreq_server(m);
	/* The server's control socket, which its sandbox cannot unlink. */
	xvctl_path(m->c->domid, ctl, sizeof(ctl));
	unlink(ctl);
	if (m->contained)
		finish(m, status == 0);
	if (m->xs)
		xs_close(m->xs);
	if (m->xch)
		xc_interface_close(m->xch);
	exit(status);
}

int xvmon_split(const struct xvmon_config *c)
{
	static struct mon m;
	pid_t parent = getpid();
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		log_err("cannot make the monitor's link: %m");
		return -1;
	}
	m = (struct mon){ .c = c, .link = sv[0], .ioreq_server = -1 };
	m.server = fork();
	if (m.server < 0) {
		log_err("cannot fork the server: %m");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (m.server) {
		close(sv[1]);
		monitor_main(&m);
	}
	close(sv[0]);
	/*
	 * Without its monitor the server could not answer libxl: it ends, and
	 * cleanly (SIGTERM comes through its stop signals), since nobody else
	 * would take back what Dom0's kernel does for it. Changing its user in
	 * the sandbox clears this; from then on the closed link stops it.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
		_exit(1);
	return sv[1];
}

int xvmon_start(const struct xvmon_config *c, struct xvsb_config *sb,
		bool no_sandbox, const char *runas, const char *chroot)
{
	char err[256];
	int link;

	if (no_sandbox) {
		log_warn("domain %u: no sandbox (--no-sandbox): this process may map any guest's memory",
			 c->domid);
		return -1;
	}
	if (xvsb_resolve(sb, runas, c->domid, err, sizeof(err))) {
		log_err("runas: %s", err);
		return -2;
	}
	if (chroot && snprintf(sb->chroot, sizeof(sb->chroot), "%s", chroot) >=
	    (int)sizeof(sb->chroot)) {
		log_err("chroot: path too long");
		return -2;
	}
	link = xvmon_split(c);
	return link < 0 ? -2 : link;
}

bool xvmon_domain_alive(xc_interface *xch, uint32_t domid,
			const xen_domain_handle_t handle, bool *ended)
{
	xc_domaininfo_t info;
	unsigned int reason;

	*ended = false;
	if (!xch || xc_domain_getinfolist(xch, domid, 1, &info) != 1)
		return false;
	/* A new domain under the same id is not ours. */
	if (info.domain != domid || (info.flags & XEN_DOMINF_dying) ||
	    memcmp(info.handle, handle, sizeof(xen_domain_handle_t)))
		return false;
	reason = (info.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
	*ended = (info.flags & XEN_DOMINF_shutdown) && reason != SHUTDOWN_suspend;
	return true;
}
