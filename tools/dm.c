// SPDX-License-Identifier: MIT
/*
 * The device-model mode (see dm.h). Order matters for libxl: the guest's
 * devices and ioreq server are set up first, then QMP answers, and only
 * then does xenstore say "running" (Xen 4.17 waits for that, then asks
 * QMP; with -S libxl asks QMP at once and waits for the answer instead).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <xenstore.h>

#include "devices.h"
#include "dm.h"
#include "guest.h"
#include "log.h"
#include "monitor.h"
#include "qmp.h"
#include "sandbox.h"
#include "vslot.h"
#include "xs.h"

/* libxl writes a guest's virtio nodes before it starts the device model. */
#define NODE_WAIT_S 1.0
/* After "quit" in the probe: how long to wait for libxl's SIGHUP. */
#define QUIT_LINGER_MS 2000

struct dm {
	const struct xvdm_args *a;
	struct xs_handle *xs;
	uint32_t self;
	atomic_bool quit;
	struct xvqmp_state qmp_state;
	struct xvqmp_server *qmp;
	struct guest *g;		/* set before the QMP thread starts */
	unsigned int n_slots;
	struct vslot slots[XVDM_MAX_DEVICES];
	struct vdev *devs[XVDM_MAX_DEVICES];
};

static int block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);	/* libxl's way to end a device model */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* /local/domain/<self>/device-model/<domid>/state, which libxl watches. */
static void write_state(struct dm *d, const char *state)
{
	char path[96];

	snprintf(path, sizeof(path), "/local/domain/%u/device-model/%ld/state",
		 d->self, d->a->domid);
	if (!xs_write(d->xs, XBT_NULL, path, state, strlen(state)))
		log_err("cannot write %s: %m", path);
	else
		log_info("%s = %s", path, state);
}

/* On the QMP thread. */
static void on_qmp_event(enum xvqmp_event ev, void *opaque)
{
	struct dm *d = opaque;

	switch (ev) {
	case XVQMP_EV_QUIT:
		log_info("QMP quit: stopping");
		atomic_store(&d->quit, true);
		/* the main thread waits for its stop signals, so send one */
		if (d->a->domid >= 0)
			kill(getpid(), SIGTERM);
		break;
	case XVQMP_EV_CONT:
		/* in the sandbox xenstore is the monitor's; libxl asked already */
		if (d->xs && !(d->g && guest_contained(d->g)))
			write_state(d, "running");
		break;
	case XVQMP_EV_STOP:
		/* the guest's vCPUs are Xen's to pause; nothing runs here unasked */
		break;
	}
}

static int open_qmp(struct dm *d)
{
	struct xvqmp_listen l[XVDM_MAX_MONITORS];
	char err[256];

	for (unsigned int i = 0; i < d->a->n_monitors; i++) {
		const struct xvdm_monitor *m = &d->a->monitors[i];

		l[i] = (struct xvqmp_listen){
			.path = m->path[0] ? m->path : NULL, .fd = m->fd,
		};
	}
	d->qmp_state = (struct xvqmp_state){
		.status = d->a->start_paused ? XVQMP_PRELAUNCH : XVQMP_RUNNING,
		.event = on_qmp_event, .opaque = d,
	};
	d->qmp = xvqmp_server_new(l, d->a->n_monitors, &d->qmp_state, err,
				  sizeof(err));
	if (!d->qmp)
		log_err("%s", err);
	return d->qmp ? 0 : -1;
}

static int make_devices(struct dm *d)
{
	char err[256], name[32];

	vdev_register_builtin();
	for (unsigned int i = 0; i < d->a->n_devices; i++) {
		if (vslot_parse(&d->slots[i], d->a->devices[i], err, sizeof(err))) {
			log_err("--device %s: %s", d->a->devices[i], err);
			return -1;
		}
		d->n_slots++;
	}
	if (vslot_assign(d->slots, d->n_slots, err, sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	for (unsigned int i = 0; i < d->n_slots; i++) {
		snprintf(name, sizeof(name), "%.16s%u", d->slots[i].opts.model, i);
		d->devs[i] = vdev_new(&d->slots[i].opts, name, err, sizeof(err));
		if (!d->devs[i]) {
			log_err("--device %s: %s", d->a->devices[i], err);
			return -1;
		}
	}
	return 0;
}

/*
 * libxl 4.20 runs the device model once without a guest to learn its
 * options: query-command-line-options, then "quit". libxl then ends the
 * probe with SIGHUP (and logs an error if it is already gone): after "quit"
 * wait a little for that signal.
 */
static int probe(struct dm *d, int sfd)
{
	struct pollfd p = { .fd = sfd, .events = POLLIN };

	log_info("answering libxl's option probe");
	if (open_qmp(d) || xvqmp_server_start(d->qmp))
		return 1;
	while (!atomic_load(&d->quit) && poll(&p, 1, 100) <= 0)
		;
	if (atomic_load(&d->quit))
		poll(&p, 1, QUIT_LINGER_MS);
	return 0;
}

/*
 * A device model that ends has closed its backends, as QEMU's do: libxl
 * ends it before it removes the guest's devices, and then waits up to 10 s
 * for each virtio node to say Closed.
 */
static void close_nodes(struct dm *d)
{
	struct xvxs_node nodes[VSLOT_MAX];
	int n = xvxs_list_nodes(d->xs, d->self, d->a->domid, nodes, VSLOT_MAX);

	for (int i = 0; i < n; i++) {
		if (xvxs_state(d->xs, nodes[i].path) == XVXS_STATE_CLOSED)
			continue;
		if (!xvxs_set_state(d->xs, nodes[i].path, XVXS_STATE_CLOSED))
			log_info("%s: closed", nodes[i].path);
	}
}

static int serve(struct dm *d, int sfd)
{
	struct xvmon_config mc;
	struct xvsb_config sb;
	struct guest_config c;
	struct guest *g;
	int rc, link;

	d->xs = xs_open(0);
	if (!d->xs) {
		log_err("cannot open xenstore: %m");
		return 1;
	}
	d->self = xvxs_self_domid(d->xs);
	if (make_devices(d) || open_qmp(d))
		return 1;
	mc = (struct xvmon_config){
		.domid = d->a->domid, .signal_fd = sfd,
		.close_all = !d->a->no_xenstore,
	};
	link = xvmon_start(&mc, &sb, d->a->no_sandbox, d->a->runas, d->a->chroot);
	if (link == -2)
		return 1;
	c = (struct guest_config){
		.domid = d->a->domid, .slots = d->slots, .devs = d->devs,
		.n_slots = d->n_slots, .use_xenstore = !d->a->no_xenstore,
		.wait = NODE_WAIT_S, .link = link,
		.sandbox = link >= 0 ? &sb : NULL,
		.no_kernel_events = d->a->no_kernel_events,
	};
	g = guest_new(&c);
	if (!g)
		return 1;
	d->g = g;
	if (xvqmp_server_start(d->qmp)) {
		log_err("cannot start the QMP thread");
		guest_free(g);
		return 1;
	}
	if (!d->a->start_paused)
		write_state(d, "running");
	rc = guest_run(g, sfd);
	/* in the sandbox the monitor closes them */
	if (!d->a->no_xenstore && !guest_contained(g))
		close_nodes(d);
	xvqmp_server_free(d->qmp);	/* its thread reads d->g */
	d->qmp = NULL;
	d->g = NULL;
	guest_free(g);
	return rc ? 1 : 0;
}

static void log_ignored(const struct xvdm_args *a)
{
	for (unsigned int i = 0; i < a->n_ignored; i++)
		log_info("ignoring QEMU option %s%s%s", a->ignored[i].opt,
			 a->ignored[i].val ? " " : "",
			 a->ignored[i].val ? a->ignored[i].val : "");
	if (a->n_unlisted)
		log_info("ignoring %u more QEMU options", a->n_unlisted);
}

/* Only what libxl gives PV and PVH guests: HVM ones need a real QEMU. */
static int check_machine(const struct xvdm_args *a)
{
	char type[32];

	xvdm_machine_type(a, type, sizeof(type));
	if (type[0] && strcmp(type, "xenpv") && strcmp(type, "none")) {
		log_err("machine '%s': xen-virtio serves PV and PVH guests (Arm guests), not HVM ones",
			type);
		return -1;
	}
	if (!a->n_monitors)
		log_warn("no QMP socket on the command line: libxl cannot talk to this device model");
	return 0;
}

int xvdm_main(int argc, char **argv)
{
	struct xvdm_args a;
	struct dm *d;
	char err[256];
	int sfd, rc = 1;

	if (xvdm_parse(&a, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "xen-virtio: %s\n", err);
		return 2;
	}
	if (a.log_level && vlog_parse_level(a.log_level) < 0) {
		fprintf(stderr, "xen-virtio: unknown log level '%s'\n", a.log_level);
		return 2;
	}
	if (a.log_level)
		vlog_set_level(vlog_parse_level(a.log_level));
	if (a.domid < 0)
		log_info("started by libxl to probe QEMU's options");
	else
		log_info("started as the device model of domain %ld%s%s", a.domid,
			 a.name ? ", " : "", a.name ? a.name : "");
	log_ignored(&a);
	if (check_machine(&a))
		return 1;
	d = calloc(1, sizeof(*d));
	sfd = block_signals();
	if (!d || sfd < 0) {
		log_err("cannot set up: %m");
		free(d);
		return 1;
	}
	d->a = &a;
	rc = a.domid < 0 ? probe(d, sfd) : serve(d, sfd);
	xvqmp_server_free(d->qmp);
	for (unsigned int i = 0; i < d->n_slots; i++) {
		vdev_free(d->devs[i]);		/* those guest_new did not take */
		vslot_free(&d->slots[i]);
	}
	if (d->xs)
		xs_close(d->xs);
	free(d);
	close(sfd);
	log_info("exiting");
	return rc;
}
