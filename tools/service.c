// SPDX-License-Identifier: MIT
/*
 * Service mode (see service.h). The parent holds no guest resources at
 * all: it reads xenstore, starts children and reaps them, so it can run
 * for as long as Dom0 does.
 */
#define __XEN_TOOLS__ 1
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenstore.h>

#include "ctl.h"
#include "log.h"
#include "loop.h"
#include "service.h"
#include "xs.h"

#define SVC_MAX_GUESTS 4096

/* A guest that has (or had) a child: until the domain is gone and the
 * child reaped, the domain is not started again. */
struct svc_guest {
	uint32_t domid;
	xen_domain_handle_t handle;	/* tells a reused domid apart */
	pid_t pid;			/* 0 once reaped */
	bool gone;			/* the domain no longer exists */
};

struct svc {
	const struct xvsvc_config *c;
	xc_interface *xch;
	struct xs_handle *xs;
	struct vloop *loop;
	uint32_t self;
	int chld_fd;
	unsigned int n;
	struct svc_guest *guests;
	unsigned long started, failed, exited;
	struct xvctl *ctl;		/* xen-virtio stats --service */
};

/* 0 and the domain's handle if it exists and is not dying. */
static int domain_handle(struct svc *s, uint32_t domid,
			 xen_domain_handle_t handle)
{
	xc_domaininfo_t info;

	if (xc_domain_getinfolist(s->xch, domid, 1, &info) != 1 ||
	    info.domain != domid || (info.flags & XEN_DOMINF_dying))
		return -ENOENT;
	memcpy(handle, info.handle, sizeof(xen_domain_handle_t));
	return 0;
}

static struct svc_guest *find_guest(struct svc *s, uint32_t domid)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (s->guests[i].domid == domid)
			return &s->guests[i];
	return NULL;
}

static void drop_guest(struct svc *s, struct svc_guest *g)
{
	*g = s->guests[--s->n];
}

static pid_t spawn_child(struct svc *s, uint32_t domid)
{
	char id[16], *argv[64];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	unsigned int n = 0;
	pid_t pid;
	int rc;

	snprintf(id, sizeof(id), "%u", domid);
	argv[n++] = (char *)s->c->argv0;
	argv[n++] = "--domid";
	argv[n++] = id;
	for (unsigned int i = 0; i < s->c->n_child_args && n < 63; i++)
		argv[n++] = s->c->child_args[i];
	argv[n] = NULL;
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_init(&fa);
	/* Only stdio: the service's xenstore and signal fds stay its own. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = posix_spawn(&pid, s->c->exe, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc) {
		log_err("domain %u: cannot start %s: %s", domid, s->c->exe,
			strerror(rc));
		return -1;
	}
	return pid;
}

static void start_guest(struct svc *s, uint32_t domid)
{
	struct svc_guest *g = find_guest(s, domid);
	xen_domain_handle_t h;

	if (domain_handle(s, domid, h))
		return;
	if (g && !memcmp(g->handle, h, sizeof(h)))
		return;		/* this very domain has (had) its child */
	if (g) {
		/*
		 * A new domain under a reused id. The old child may still run:
		 * it finds devices by domid, so it must be gone before the new
		 * domain gets its own. Ask it to stop; the reap starts the new.
		 */
		if (g->pid) {
			if (!g->gone)
				log_info("domain %u: a new domain took the id; stopping the old backend (pid %d) first",
					 domid, (int)g->pid);
			g->gone = true;
			kill(g->pid, SIGTERM);
			return;
		}
		drop_guest(s, g);
		g = NULL;
	}
	if (s->n == SVC_MAX_GUESTS) {
		log_err("domain %u: already serving %d guests", domid, SVC_MAX_GUESTS);
		return;
	}
	g = &s->guests[s->n];
	*g = (struct svc_guest){ .domid = domid };
	memcpy(g->handle, h, sizeof(h));
	g->pid = spawn_child(s, domid);
	if (g->pid < 0) {
		g->pid = 0;	/* remembered: not retried for this domain */
		s->failed++;
	} else {
		s->started++;
		log_info("domain %u: backend started (pid %d)", domid, (int)g->pid);
	}
	s->n++;
}

static void forget_dead_domains(struct svc *s)
{
	xen_domain_handle_t h;

	for (unsigned int i = 0; i < s->n;) {
		struct svc_guest *g = &s->guests[i];

		if (!g->gone && (domain_handle(s, g->domid, h) ||
				 memcmp(h, g->handle, sizeof(h))))
			g->gone = true;
		if (g->gone && !g->pid) {
			drop_guest(s, g);
			continue;
		}
		i++;
	}
}

static void scan(struct svc *s)
{
	uint32_t fes[64];
	int n = xvxs_list_new_frontends(s->xs, s->self, fes, 64);

	for (int i = 0; i < n; i++)
		start_guest(s, fes[i]);
	forget_dead_domains(s);
}

static void log_exit(struct svc_guest *g, int status)
{
	if (WIFEXITED(status) && !WEXITSTATUS(status)) {
		log_info("domain %u: backend exited", g->domid);
		return;
	}
	if (WIFEXITED(status))
		log_err("domain %u: backend failed with status %d%s", g->domid,
			WEXITSTATUS(status),
			g->gone ? "" : "; the guest's devices stay unserved until it is created again");
	else
		log_err("domain %u: backend killed by signal %d%s", g->domid,
			WTERMSIG(status),
			g->gone ? "" : "; the guest's devices stay unserved until it is created again");
}

static void reap(struct svc *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned int i = 0; i < s->n; i++) {
			struct svc_guest *g = &s->guests[i];

			if (g->pid != pid)
				continue;
			g->pid = 0;
			if (!(WIFEXITED(status) && !WEXITSTATUS(status)))
				s->failed++;
			else
				s->exited++;
			log_exit(g, status);
			break;
		}
	}
	/* A domain may be waiting for its id's old backend to end. */
	scan(s);
}

static void on_xenstore(int fd, uint32_t events, void *opaque)
{
	struct svc *s = opaque;
	unsigned int n;

	free(xs_read_watch(s->xs, &n));
	scan(s);
}

static void on_child(int fd, uint32_t events, void *opaque)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si))
		;
	reap(opaque);
}

static void on_signal(int fd, uint32_t events, void *opaque)
{
	struct svc *s = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		log_info("signal %u: stopping the service (running guests keep their backends)",
			 si.ssi_signo);
	vloop_stop(s->loop);
}

static int watch(struct svc *s)
{
	static const char *const kinds[] = { "virtio_disk", "virtio" };
	char path[128];

	for (unsigned int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/local/domain/%u/backend/%s",
			 s->self, kinds[i]);
		if (!xs_watch(s->xs, path, kinds[i]))
			return -errno;
	}
	return xs_watch(s->xs, "@releaseDomain", "release") ? 0 : -errno;
}

static int child_signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* What `xen-virtio stats --service` prints (ctl.h). */
static void svc_stats(FILE *f, bool json, void *opaque)
{
	struct svc *s = opaque;
	unsigned int running = 0;

	for (unsigned int i = 0; i < s->n; i++)
		running += s->guests[i].pid != 0;
	fprintf(f, json ?
		"{\"service\":{\"guests\":%u,\"running\":%u,\"started\":%lu,"
		"\"failed\":%lu,\"exited\":%lu},\"guests\":[" :
		"service guests=%u running=%u started=%lu failed=%lu exited=%lu\n",
		s->n, running, s->started, s->failed, s->exited);
	for (unsigned int i = 0; i < s->n; i++) {
		const struct svc_guest *g = &s->guests[i];

		fprintf(f, json ?
			"%s{\"domid\":%u,\"pid\":%d,\"domain_gone\":%s}" :
			"%sguest %u pid=%d domain_gone=%s\n",
			json && i ? "," : "", g->domid, (int)g->pid,
			g->gone ? (json ? "true" : "yes") : (json ? "false" : "no"));
	}
	if (json)
		fprintf(f, "]}\n");
}

static void open_ctl(struct svc *s)
{
	char path[108], err[256];

	xvctl_service_path(path, sizeof(path));
	s->ctl = xvctl_open(path, 0, 0, s->loop, svc_stats, s, err, sizeof(err));
	if (!s->ctl)
		log_warn("service: no control socket: %s", err);
}

static int setup(struct svc *s, int signal_fd)
{
	s->guests = calloc(SVC_MAX_GUESTS, sizeof(*s->guests));
	s->xch = xc_interface_open(NULL, NULL, 0);
	if (!s->guests || !s->xch) {
		log_err("cannot open the Xen control interface: %m (run as root in Dom0 with xen-privcmd)");
		return -1;
	}
	s->xs = xs_open(0);
	if (!s->xs) {
		log_err("cannot open xenstore: %m");
		return -1;
	}
	s->self = xvxs_self_domid(s->xs);
	s->chld_fd = child_signal_fd();
	s->loop = vloop_new();
	if (s->chld_fd < 0 || !s->loop || watch(s) ||
	    vloop_add_fd(s->loop, xs_fileno(s->xs), EPOLLIN, on_xenstore, s) ||
	    vloop_add_fd(s->loop, s->chld_fd, EPOLLIN, on_child, s) ||
	    vloop_add_fd(s->loop, signal_fd, EPOLLIN, on_signal, s)) {
		log_err("cannot set up the service: %m");
		return -1;
	}
	open_ctl(s);
	return 0;
}

static void teardown(struct svc *s)
{
	reap(s);
	if (s->n)
		log_info("%u backend(s) keep serving their guests", s->n);
	log_info("service: %lu backend(s) started, %lu failed", s->started,
		 s->failed);
	xvctl_close(s->ctl, true);
	vloop_free(s->loop);
	if (s->chld_fd >= 0)
		close(s->chld_fd);
	if (s->xs)
		xs_close(s->xs);
	if (s->xch)
		xc_interface_close(s->xch);
	free(s->guests);
}

int xvsvc_run(const struct xvsvc_config *c, int signal_fd)
{
	struct svc s = { .c = c, .chld_fd = -1 };
	int rc = -1;

	if (!setup(&s, signal_fd)) {
		log_info("service: watching xenstore for virtio backends of domain %u's guests",
			 s.self);
		scan(&s);
		rc = vloop_run(s.loop);
	}
	teardown(&s);
	return rc;
}
