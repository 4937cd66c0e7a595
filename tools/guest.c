// SPDX-License-Identifier: MIT
/*
 * Serving one guest (see guest.h). Setup order matters for libxl: the ioreq
 * server, every window and the event channels are in place before a backend
 * node is told InitWait, because libxl unpauses the guest soon after.
 */
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenstore.h>
#include <xentoolcore.h>

#include "ctl.h"
#include "devices.h"
#include "guest.h"
#include "irq.h"
#include "log.h"
#include "mmio.h"
#include "monitor.h"
#include "svc_conf.h"
#include "xengmem.h"
#include "xenio.h"
#include "xs.h"

/* Nice value added to each device's worker (vdev.h: worker_nice). */
#define XV_WORKER_NICE 5

struct slot {
	struct guest *g;
	struct vdev *dev;
	struct vmmio mmio;
	uint64_t base;
	unsigned int irq;
	char node[192];			/* xenstore backend node, or "" */
	bool initwait;			/* told libxl InitWait */
	bool connected;
	bool closed;
	bool kernel_notify;		/* its queues handed to Dom0's kernel */
};

struct guest {
	uint32_t domid;
	xen_domain_handle_t handle;	/* tells a reused domid apart */
	uint32_t self;
	xc_interface *xch;
	struct xs_handle *xs;
	struct gmem *gm;
	struct xenio *io;
	struct xirq *xirq;
	struct vloop *loop;
	struct xvctl *ctl;		/* the control socket, or NULL */
	bool enabled;
	bool connect_pending;
	bool nodes_seen;		/* libxl declared at least one device */
	bool released;			/* guest memory let go: it shut down */
	int link;			/* to the monitor, or -1 */
	struct xvsb_config sandbox;
	atomic_bool contained;		/* in the sandbox: no xs, no xch */
	long probe;			/* XV_TEST_PROBE_DOMID, or -1 */
	struct xvconf *conf;		/* device options per node, or NULL */
	bool kernel_events;		/* may hand work to Dom0's kernel */
	bool server_told;		/* the monitor knows the ioreq server */
	char name[64];			/* the domain's name, for conf */
	unsigned int n_slots;
	struct slot *slots[VSLOT_MAX];
};

static uint64_t slot_read(void *opaque, uint64_t off, unsigned int size)
{
	struct slot *s = opaque;

	return vmmio_read(&s->mmio, off, size);
}

static void slot_write(void *opaque, uint64_t off, unsigned int size,
		       uint64_t val)
{
	struct slot *s = opaque;

	vmmio_write(&s->mmio, off, size, val);
}

static void slot_irq(struct vdev *dev, void *opaque)
{
	struct slot *s = opaque;

	xirq_edge(s->g->xirq, s->irq);
}

/* Serve dev (taken over: freed here on failure) at base/irq. */
static struct slot *add_slot(struct guest *g, struct vdev *dev, uint64_t base,
			     unsigned int irq)
{
	char err[256];
	struct slot *s;

	if (!dev)
		return NULL;
	if (g->n_slots == VSLOT_MAX) {
		log_err("domain %u: too many devices", g->domid);
		vdev_free(dev);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		vdev_free(dev);
		return NULL;
	}
	*s = (struct slot){ .g = g, .dev = dev, .base = base, .irq = irq };
	vmmio_init(&s->mmio, s->dev);
	if (xenio_add_mmio(g->io, base, VMMIO_WINDOW, slot_read, slot_write, s,
			   err, sizeof(err))) {
		log_err("domain %u: %s", g->domid, err);
		goto fail;
	}
	/* A vCPU that trapped into this process waits for the thread that
	 * answers it; on a busy Dom0 that thread must not queue behind the
	 * devices' workers (measured: bench/README.md). */
	s->dev->worker_nice = XV_WORKER_NICE;
	if (vdev_start(s->dev, g->gm, slot_irq, s)) {
		log_err("domain %u: cannot start the %s worker", g->domid, dev->name);
		goto fail;
	}
	g->slots[g->n_slots++] = s;
	log_info("domain %u: %s at 0x%" PRIx64 " irq %u", g->domid, dev->name, base, irq);
	return s;
fail:
	vdev_free(s->dev);
	free(s);
	return NULL;
}

static struct slot *find_slot(struct guest *g, uint64_t base)
{
	for (unsigned int i = 0; i < g->n_slots; i++)
		if (g->slots[i]->base == base)
			return g->slots[i];
	return NULL;
}

static bool node_known(struct guest *g, const char *path)
{
	for (unsigned int i = 0; i < g->n_slots; i++)
		if (!strcmp(g->slots[i]->node, path))
			return true;
	return false;
}

static const struct vdev_model *model_of_type(const char *type)
{
	const struct vdev_model *m;
	unsigned long id;

	/* "virtio,device<hex id>", as in the device-tree binding */
	if (sscanf(type, "virtio,device%lx", &id) != 1)
		return NULL;
	for (unsigned int i = 0; (m = vdev_model_at(i)); i++)
		if (m->device_id == id)
			return m;
	return NULL;
}

/* The options of a node's device from the configuration file: 1 if a rule
 * matched, 0 if none did, -errno (logged) if it is unusable. */
static int conf_opts(struct guest *g, const struct xvxs_node *nd,
		     struct vopts *o)
{
	char spec[1024], err[256];
	const struct vdev_model *m;
	int rc;

	rc = xvconf_lookup(g->conf, g->name, g->domid, nd->kind, nd->devid,
			   spec, sizeof(spec));
	if (rc <= 0) {
		if (rc < 0)
			log_err("%s: the configuration's rule for guest '%s' does not expand (%s)",
				nd->path, g->name, rc == -ENOSPC ? "too long" : "unsafe guest name");
		return rc;
	}
	if (vopts_parse(o, spec, err, sizeof(err))) {
		log_err("%s: configured device '%s': %s", nd->path, spec, err);
		return -EINVAL;
	}
	m = model_of_type(nd->type);
	if (!strcmp(nd->kind, "virtio") && m && strcmp(m->name, o->model))
		log_warn("%s: libxl declared type '%s' (%s), the configuration serves %s",
			 nd->path, nd->type, m->name, o->model);
	log_info("%s: configured as %s", nd->path, spec);
	return 1;
}

/* The device a node asks for when no --device claimed its window. */
static int node_opts(struct guest *g, const struct xvxs_node *nd,
		     struct vopts *o)
{
	char err[128];
	const struct vdev_model *m;
	int rc = conf_opts(g, nd, o);

	if (rc < 0)
		return rc;
	if (!strcmp(nd->kind, "virtio_disk")) {
		if (!rc && vopts_parse(o, "blk", err, sizeof(err)))
			return -EINVAL;
		/* A slot may hold another model: only a disk takes params. */
		if (strcmp(o->model, "blk"))
			return 0;
		/* libxl's params and mode unless the configuration says */
		if ((!vopts_get(o, "file") && vopts_set(o, "file", nd->params)) ||
		    (!vopts_get(o, "readonly") &&
		     vopts_set(o, "readonly", nd->readonly ? "on" : "off"))) {
			vopts_free(o);
			return -EINVAL;
		}
		return 0;
	}
	if (rc)
		return 0;
	m = model_of_type(nd->type);
	if (!m) {
		log_err("%s: no device model for type '%s' (give one with --device base=0x%" PRIx64 ",... or a configuration rule)",
			nd->path, nd->type, nd->base);
		return -ENOENT;
	}
	return vopts_parse(o, m->name, err, sizeof(err));
}

/*
 * libxl waits for exactly InitWait while it creates the guest, so Connected
 * must not overtake it: it is written once the guest runs (its first ioreq).
 */
static void connect_slot(struct guest *g, struct slot *s)
{
	if (!s->node[0] || s->initwait || !g->enabled)
		return;
	if (!xvxs_set_state(g->xs, s->node, XVXS_STATE_INITWAIT)) {
		s->initwait = true;
		g->connect_pending = true;
		log_info("%s: ready (InitWait)", s->node);
	}
}

/*
 * Where Dom0's kernel can (privcmd eventfds, Linux 6.7+), it answers the
 * slot's QueueNotify writes and raises its interrupt: the vCPU resumes
 * without waiting for this process, and the worker is woken from the
 * kernel. Only with a monitor, which takes the ioreq server down should
 * this process die (monitor.h). Every other register stays with us.
 */
static void use_kernel_events(struct guest *g, struct slot *s)
{
	unsigned int q, n = 0;
	int rc = 0;

	if (!g->kernel_events || !g->enabled)
		return;
	if (!xirq_use_kernel(g->xirq, s->irq))
		log_info("domain %u: %s: Dom0's kernel raises SPI %u", g->domid,
			 s->dev->name, s->irq);
	if (s->kernel_notify)
		return;
	if (!g->server_told) {
		if (xvmon_send(g->link, XVMON_SERVER, xenio_server_id(g->io), NULL))
			return;
		g->server_told = true;
	}
	s->kernel_notify = true;
	for (q = 0; q < s->dev->num_queues && !rc; q++) {
		rc = xenio_kernel_notify(g->io, s->base, q, vdev_notify_fd(s->dev, q));
		n += !rc;
	}
	if (rc && rc != -EOPNOTSUPP)
		log_warn("domain %u: %s: queue %u stays with this process: %s",
			 g->domid, s->dev->name, q - 1, strerror(-rc));
	if (n)
		log_info("domain %u: %s: Dom0's kernel answers QueueNotify of %u queue(s)",
			 g->domid, s->dev->name, n);
}

static void mark_connected(struct guest *g)
{
	g->connect_pending = false;
	for (unsigned int i = 0; i < g->n_slots; i++) {
		struct slot *s = g->slots[i];

		if (!s->initwait || s->connected || s->closed)
			continue;
		if (!xvxs_set_state(g->xs, s->node, XVXS_STATE_CONNECTED)) {
			s->connected = true;
			log_info("%s: connected", s->node);
		}
	}
}

static void attach_node(struct guest *g, const struct xvxs_node *nd)
{
	struct slot *s = find_slot(g, nd->base);
	struct vopts o;

	if (node_known(g, nd->path))
		return;
	if (nd->grants)
		log_warn("%s: grant_usage=1 asked for, but guests are served through foreign mappings",
			 nd->path);
	if (!s) {
		char err[256], name[32];
		struct vdev *dev;

		if (node_opts(g, nd, &o))
			return;
		snprintf(name, sizeof(name), "%.16s%u", o.model, g->n_slots);
		dev = vdev_new(&o, name, err, sizeof(err));
		vopts_free(&o);
		if (!dev)
			log_err("%s: %s", nd->path, err);
		s = add_slot(g, dev, nd->base, nd->irq);
		if (!s)
			return;
	} else if (s->irq != nd->irq) {
		log_warn("%s: libxl gave irq %u, not %u; using %u", nd->path,
			 nd->irq, s->irq, nd->irq);
		s->irq = nd->irq;
	}
	snprintf(s->node, sizeof(s->node), "%.*s", (int)sizeof(s->node) - 1, nd->path);
	use_kernel_events(g, s);
	connect_slot(g, s);
}

static void scan_nodes(struct guest *g)
{
	struct xvxs_node nodes[VSLOT_MAX];
	int n = xvxs_list_nodes(g->xs, g->self, g->domid, nodes, VSLOT_MAX);

	if (n > 0)
		g->nodes_seen = true;
	for (int i = 0; i < n; i++)
		attach_node(g, &nodes[i]);
}

/*
 * Let go of every mapping of guest RAM: stop the slot's device (or all of
 * them) as a reset would, which ends its I/O and unpins its rings, and drop
 * the cached mappings. Xen cannot finish destroying a domain while another
 * holds its pages, and on Arm it rescans them on every continuation of the
 * destroy hypercall: with Dom0's vCPU spinning in that hypercall, a backend
 * that unmaps only when the domain is dying may never get to run.
 */
static void release_memory(struct guest *g, struct slot *only, const char *why)
{
	struct gmem_stats st;

	for (unsigned int i = 0; i < g->n_slots; i++) {
		struct slot *s = g->slots[i];

		if (only && s != only)
			continue;
		vdev_lock(s->dev);
		vdev_reset(s->dev);
		vdev_unlock(s->dev);
	}
	gmem_invalidate(g->gm);
	gmem_get_stats(g->gm, &st);
	log_info("domain %u: %s: guest memory released (%llu hold(s) left)",
		 g->domid, why, (unsigned long long)st.holds);
}

static void check_node_states(struct guest *g)
{
	for (unsigned int i = 0; i < g->n_slots; i++) {
		struct slot *s = g->slots[i];
		int st;

		if (!s->node[0] || s->closed)
			continue;
		st = xvxs_state(g->xs, s->node);
		if (st == XVXS_STATE_CLOSING) {
			release_memory(g, s, s->node);
			xvxs_set_state(g->xs, s->node, XVXS_STATE_CLOSED);
			s->closed = true;
			log_info("%s: closed", s->node);
		} else if (st < 0) {
			s->closed = true;
		}
	}
}

static bool domain_alive(struct guest *g, bool *ended)
{
	return xvmon_domain_alive(g->xch, g->domid, g->handle, ended);
}

/*
 * Binding an event channel leaves it pending, so an event alone does not
 * mean the guest runs; a served request does (a paused guest issues none).
 */
static bool guest_has_run(struct guest *g)
{
	struct xenio_stats st;

	xenio_get_stats(g->io, &st);
	return st.reads || st.writes || st.invalidates || st.errors;
}

/* What the sandbox keeps this server's handles from doing (tests only). */
static void probe_other(struct guest *g, const char *when)
{
	int map_err, ioreq_err;

	if (g->probe < 0)
		return;
	xenio_probe(g->io, g->probe, &map_err, &ioreq_err);
	log_info("probe %s: domain %ld: map: %s, ioreq server: %s", when,
		 g->probe, map_err ? strerror(map_err) : "allowed",
		 ioreq_err ? strerror(ioreq_err) : "allowed");
}

static void on_link(int fd, uint32_t events, void *opaque);

/* Hand xenstore to the monitor, let go of every other domain, sandbox. */
static int contain(struct guest *g)
{
	char err[256];

	mark_connected(g);
	for (unsigned int i = 0; i < g->n_slots; i++)
		if (g->slots[i]->node[0] && !g->slots[i]->closed &&
		    xvmon_send(g->link, XVMON_NODE, i, g->slots[i]->node))
			return -1;
	vloop_del_fd(g->loop, xs_fileno(g->xs));
	xs_close(g->xs);
	g->xs = NULL;
	xc_interface_close(g->xch);
	g->xch = NULL;
	xgmem_seal(g->gm);
	probe_other(g, "before the sandbox");
	if (xentoolcore_restrict_all(g->domid)) {
		log_err("domain %u: cannot restrict the Xen handles to the guest: %m",
			g->domid);
		return -1;
	}
	if (xvsb_enter(&g->sandbox, err, sizeof(err))) {
		log_err("domain %u: %s", g->domid, err);
		return -1;
	}
	if (vloop_add_fd(g->loop, g->link, EPOLLIN, on_link, g) ||
	    xvmon_send(g->link, XVMON_CONTAINED, XVMON_ALL, NULL))
		return -1;
	atomic_store(&g->contained, true);
	log_info("domain %u: serving from a sandbox: uid %u, Xen handles restricted to the guest, system call filter on",
		 g->domid, (unsigned int)getuid());
	probe_other(g, "in the sandbox");
	return 0;
}

static void on_ioreq(int fd, uint32_t events, void *opaque)
{
	struct guest *g = opaque;

	if (g->link >= 0 && !atomic_load(&g->contained) && xenio_pending(g->io) &&
	    contain(g)) {
		/* Never serve the guest from outside the sandbox. */
		log_err("domain %u: stopping: the sandbox could not be entered",
			g->domid);
		vloop_stop(g->loop);
		return;
	}
	xenio_dispatch(g->io);
	if (g->connect_pending && guest_has_run(g))
		mark_connected(g);
}

/* The monitor's requests (monitor.h). */
static void on_link(int fd, uint32_t events, void *opaque)
{
	struct guest *g = opaque;
	struct xvmon_msg m;
	int rc;

	while ((rc = xvmon_recv(fd, &m)) == 1) {
		struct slot *s = m.slot < g->n_slots ? g->slots[m.slot] : NULL;

		if (m.type == XVMON_STOP) {
			log_info("domain %u is gone", g->domid);
			vloop_stop(g->loop);
		} else if (m.type == XVMON_RELEASE && (s || m.slot == XVMON_ALL)) {
			if (!s)
				g->released = true;
			release_memory(g, s, s ? s->node : "shut down");
			if (s)
				s->closed = true;
			xvmon_send(fd, XVMON_RELEASED, m.slot, NULL);
		}
	}
	if (rc != -2) {
		log_err("domain %u: the monitor is gone: stopping", g->domid);
		vloop_stop(g->loop);
	}
}

static void on_xenstore(int fd, uint32_t events, void *opaque)
{
	struct guest *g = opaque;
	unsigned int n;
	char **w = xs_read_watch(g->xs, &n);
	bool release = w && !strcmp(w[XS_WATCH_TOKEN], "release");

	free(w);
	if (release) {
		bool ended;

		if (!domain_alive(g, &ended)) {
			log_info("domain %u is gone", g->domid);
			vloop_stop(g->loop);
		} else if (ended && !g->released) {
			/* Before the toolstack destroys it, not after. */
			g->released = true;
			release_memory(g, NULL, "shut down");
		}
		return;
	}
	scan_nodes(g);
	check_node_states(g);
}

static void on_signal(int fd, uint32_t events, void *opaque)
{
	struct guest *g = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		log_info("signal %u: stopping", si.ssi_signo);
	vloop_stop(g->loop);
}

static int watch_backends(struct guest *g)
{
	static const char *const kinds[] = { "virtio_disk", "virtio" };
	char path[128];

	for (unsigned int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/local/domain/%u/backend/%s/%u",
			 g->self, kinds[i], g->domid);
		if (!xs_watch(g->xs, path, "backend"))
			return -errno;
	}
	return 0;
}

static int open_xen(struct guest *g)
{
	xc_domaininfo_t info;
	char err[256];

	g->xch = xc_interface_open(NULL, NULL, 0);
	if (!g->xch) {
		log_err("cannot open the Xen control interface: %m (run as root in Dom0 with xen-privcmd)");
		return -1;
	}
	if (xc_domain_getinfolist(g->xch, g->domid, 1, &info) != 1 ||
	    info.domain != g->domid) {
		log_err("domain %u does not exist", g->domid);
		return -1;
	}
	memcpy(g->handle, info.handle, sizeof(g->handle));
	g->gm = xgmem_new(g->domid);
	g->xirq = xirq_open(g->domid);
	if (!g->gm || !g->xirq) {
		log_err("domain %u: cannot open foreign memory or device model: %m",
			g->domid);
		return -1;
	}
	if (xenio_open(&g->io, g->domid, g->gm, err, sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

static int setup_xenstore(struct guest *g)
{
	g->xs = xs_open(0);
	if (!g->xs) {
		log_err("cannot open xenstore: %m");
		return -1;
	}
	g->self = xvxs_self_domid(g->xs);
	if (xvxs_domain_name(g->xs, g->domid, g->name, sizeof(g->name)))
		snprintf(g->name, sizeof(g->name), "domain-%u", g->domid);
	if (!xs_watch(g->xs, "@releaseDomain", "release") || watch_backends(g)) {
		log_err("cannot watch xenstore: %m");
		return -1;
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * libxl names the domain before it writes the backend nodes: with nothing
 * from the command line, give it up to `wait` seconds to declare a device.
 * Nodes that come later are picked up by the xenstore watch.
 */
static void wait_for_nodes(struct guest *g, double wait)
{
	double end = now() + wait;
	bool ended;

	scan_nodes(g);
	/* Nodes that could not be served (logged) end the wait too. */
	while (!g->n_slots && !g->nodes_seen && now() < end &&
	       domain_alive(g, &ended) && !ended) {
		usleep(50000);
		scan_nodes(g);
	}
}

struct guest *guest_new(const struct guest_config *c)
{
	struct guest *g = calloc(1, sizeof(*g));
	char err[256];

	if (!g)
		return NULL;
	g->domid = c->domid;
	g->link = c->link;
	g->probe = -1;
	if (c->sandbox)
		g->sandbox = *c->sandbox;
	if (getenv("XV_TEST_PROBE_DOMID"))
		g->probe = strtol(getenv("XV_TEST_PROBE_DOMID"), NULL, 0);
	vdev_register_builtin();
	if (c->config) {
		g->conf = xvconf_load(c->config, err, sizeof(err));
		if (!g->conf) {
			log_err("%s", err);
			goto fail_devs;
		}
	}
	if (open_xen(g) || setup_xenstore(g))
		goto fail_devs;
	for (unsigned int i = 0; i < c->n_slots; i++) {
		struct vdev *dev = c->devs[i];

		c->devs[i] = NULL;
		if (!add_slot(g, dev, c->slots[i].base, c->slots[i].irq))
			goto fail_devs;
	}
	if (c->use_xenstore)
		wait_for_nodes(g, c->wait);
	if (!g->n_slots) {
		log_err("domain %u: no device to serve (give --device, or start the guest with virtio disks)",
			g->domid);
		goto fail;
	}
	if (xenio_enable(g->io, err, sizeof(err))) {
		log_err("%s", err);
		goto fail;
	}
	g->enabled = true;
	g->kernel_events = g->link >= 0 && !c->no_kernel_events;
	for (unsigned int i = 0; i < g->n_slots; i++) {
		use_kernel_events(g, g->slots[i]);
		connect_slot(g, g->slots[i]);
	}
	return g;
fail_devs:
	for (unsigned int i = 0; i < c->n_slots; i++) {
		vdev_free(c->devs[i]);
		c->devs[i] = NULL;
	}
fail:
	guest_free(g);
	return NULL;
}

/* The counters the control socket answers with (ctl.h). */
static void guest_stats(FILE *f, bool json, void *opaque)
{
	struct guest *g = opaque;
	struct xenio_stats io;
	struct gmem_stats ms;

	xenio_get_stats(g->io, &io);
	gmem_get_stats(g->gm, &ms);
	fprintf(f, json ?
		"{\"domain\":%u,\"sandboxed\":%s,\"ioreq\":{\"reads\":%lu,"
		"\"writes\":%lu,\"invalidations\":%lu,\"bad\":%lu},"
		"\"gmem\":{\"holds\":%llu,\"generations\":%llu,"
		"\"invalidations\":%llu,\"rotations\":%llu,\"mapped\":%llu,"
		"\"mapped_total\":%llu,\"over_budget\":%llu,\"maps\":%llu},"
		"\"devices\":[" :
		"domain %u sandboxed=%s\n"
		"ioreq reads=%lu writes=%lu invalidations=%lu bad=%lu\n"
		"gmem holds=%llu generations=%llu invalidations=%llu rotations=%llu mapped=%llu mapped_total=%llu over_budget=%llu maps=%llu\n",
		g->domid, atomic_load(&g->contained) ? (json ? "true" : "yes") :
		(json ? "false" : "no"),
		io.reads, io.writes, io.invalidates, io.errors,
		(unsigned long long)ms.holds, (unsigned long long)ms.generations,
		(unsigned long long)ms.invalidations,
		(unsigned long long)ms.rotations, (unsigned long long)ms.mapped,
		(unsigned long long)ms.mapped_total,
		(unsigned long long)ms.over_budget,
		(unsigned long long)ms.maps);
	for (unsigned int i = 0; i < g->n_slots; i++)
		xvctl_device_stats(f, json, !i, g->slots[i]->dev, &g->slots[i]->mmio);
	if (json)
		fprintf(f, "]}\n");
}

/* Made before the sandbox, for the user the server becomes. */
static void open_ctl(struct guest *g)
{
	bool drop = g->link >= 0 && !g->sandbox.keep_root;
	char path[108], err[256];

	xvctl_path(g->domid, path, sizeof(path));
	g->ctl = xvctl_open(path, drop ? g->sandbox.uid : 0,
			    drop ? g->sandbox.gid : 0, g->loop, guest_stats, g,
			    err, sizeof(err));
	if (!g->ctl)
		log_warn("domain %u: no control socket: %s", g->domid, err);
}

int guest_run(struct guest *g, int signal_fd)
{
	int rc;

	g->loop = vloop_new();
	if (!g->loop ||
	    vloop_add_fd(g->loop, xenio_fd(g->io), EPOLLIN, on_ioreq, g) ||
	    vloop_add_fd(g->loop, xs_fileno(g->xs), EPOLLIN, on_xenstore, g) ||
	    (signal_fd >= 0 &&
	     vloop_add_fd(g->loop, signal_fd, EPOLLIN, on_signal, g))) {
		log_err("cannot set up the main loop");
		return -1;
	}
	open_ctl(g);
	log_info("domain %u: serving %u device(s)", g->domid, g->n_slots);
	rc = vloop_run(g->loop);
	if (!atomic_load(&g->contained))
		check_node_states(g);
	return rc;
}

bool guest_contained(const struct guest *g)
{
	return atomic_load(&g->contained);
}

void guest_free(struct guest *g)
{
	struct xenio_stats st;

	if (!g)
		return;
	/* In the sandbox the socket's directory is out of reach: the
	 * monitor unlinks it. */
	xvctl_close(g->ctl, !atomic_load(&g->contained));
	/* Workers first: they use guest memory and the interrupt line. */
	for (unsigned int i = 0; i < g->n_slots; i++) {
		vdev_free(g->slots[i]->dev);
		free(g->slots[i]);
	}
	if (g->io) {
		xenio_get_stats(g->io, &st);
		log_info("domain %u: %lu reads, %lu writes, %lu invalidations, %lu bad requests",
			 g->domid, st.reads, st.writes, st.invalidates, st.errors);
		xenio_close(g->io);
	}
	if (g->gm) {
		struct gmem_stats ms;

		gmem_get_stats(g->gm, &ms);
		log_info("domain %u: guest memory: %llu generation(s) of mappings started by the cache bound, %llu mapping(s) refused by the budget, %llu MiB cached at the end",
			 g->domid, (unsigned long long)ms.rotations,
			 (unsigned long long)ms.over_budget,
			 (unsigned long long)(ms.mapped_total >> 20));
	}
	gmem_destroy(g->gm);
	xirq_close(g->xirq);
	if (g->xs)
		xs_close(g->xs);
	if (g->xch)
		xc_interface_close(g->xch);
	if (g->link >= 0)
		close(g->link);
	vloop_free(g->loop);
	xvconf_free(g->conf);
	free(g);
}
