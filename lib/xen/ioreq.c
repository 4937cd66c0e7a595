// SPDX-License-Identifier: MIT
/*
 * Ioreq server: the hypervisor side of virtio-mmio traps.
 *
 * Protocol (xen/hvm/ioreq.h): for each vCPU the shared page has one slot.
 * Xen fills it, sets state IOREQ_READY and signals the vCPU's event
 * channel; we read the request after seeing READY (acquire), write the
 * result, set IORESP_READY after the data (release) and signal back.
 */
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#include "ioreq_handle.h"
#include "log.h"
#include "privcmd_ev.h"
#include "xenio.h"

/* A QueueNotify the kernel answers; fd is our own copy of the eventfd,
 * which the kernel's deassign needs. */
struct xenio_knotify {
	uint64_t base;
	uint32_t vq;
	int fd;
};

struct xenio {
	uint32_t domid;
	struct gmem *gm;
	xendevicemodel_handle *dm;
	xenforeignmemory_handle *fm;
	xenevtchn_handle *xce;
	xenforeignmemory_resource_handle *res;
	shared_iopage_t *page;
	buffered_iopage_t *buf_page;	/* x86 only; NULL without buffering */
	evtchn_port_t buf_port;		/* local port for buf_page */
	ioservid_t id;
	bool created;
	bool enabled;
	unsigned int nr_vcpus;
	evtchn_port_t *ports;		/* local port of each vCPU */
	struct xenio_windows windows;
	struct xenio_stats stats;
	int privcmd;			/* for the kernel's ioeventfds, or -1 */
	bool kernel_refused;		/* the kernel cannot: stop asking */
	unsigned int n_kn;
	struct xenio_knotify *kn;
};

static const char *ioreq_hint(int err)
{
	if (err == ENOSYS || err == EOPNOTSUPP)
		return " (the hypervisor has no ioreq server support: build Xen with "
		       "CONFIG_IOREQ_SERVER=y, which on Arm needs CONFIG_EXPERT=y)";
	if (err == EPERM || err == EACCES)
		return " (run as root in the domain that may serve this guest)";
	if (err == ESRCH)
		return " (no such domain)";
	return "";
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * x86 can buffer writes Xen does not need to wait for (it only does so
 * for the legacy VGA range, so never for virtio windows); the atomic
 * mode lets both sides update the pointers without a lock.
 */
#define XENIO_BUFIOREQ HVM_IOREQSRV_BUFIOREQ_ATOMIC
#else
#define XENIO_BUFIOREQ HVM_IOREQSRV_BUFIOREQ_OFF	/* Arm has none */
#endif

static int create_server(struct xenio *x, char *err, size_t errlen)
{
	bool buffered = XENIO_BUFIOREQ != HVM_IOREQSRV_BUFIOREQ_OFF;
	unsigned int first, frames;
	void *addr = NULL;

	if (xendevicemodel_create_ioreq_server(x->dm, x->domid, XENIO_BUFIOREQ,
					       &x->id)) {
		snprintf(err, errlen, "cannot create an ioreq server for domain %u: %s%s",
			 x->domid, strerror(errno), ioreq_hint(errno));
		return -errno;
	}
	x->created = true;
	/* Frame 0 is the buffered page, then the synchronous one(s). */
	first = buffered ? XENMEM_resource_ioreq_server_frame_bufioreq :
			   XENMEM_resource_ioreq_server_frame_ioreq(0);
	frames = buffered ? 2 : 1;
	x->res = xenforeignmemory_map_resource(x->fm, x->domid,
			XENMEM_resource_ioreq_server, x->id, first, frames,
			&addr, PROT_READ | PROT_WRITE, 0);
	if (!x->res) {
		snprintf(err, errlen, "cannot map the ioreq page of server %u: %s%s",
			 x->id, strerror(errno), ioreq_hint(errno));
		return -errno;
	}
	if (buffered) {
		x->buf_page = addr;
		x->page = (shared_iopage_t *)((uint8_t *)addr + XC_PAGE_SIZE);
	} else {
		x->page = addr;
	}
	return 0;
}

int xenio_open(struct xenio **out, uint32_t domid, struct gmem *gm,
	       char *err, size_t errlen)
{
	struct xenio *x = calloc(1, sizeof(*x));
	int rc;

	*out = NULL;
	if (!x)
		return -ENOMEM;
	x->domid = domid;
	x->gm = gm;
	x->privcmd = -1;
	x->dm = xendevicemodel_open(NULL, 0);
	x->fm = xenforeignmemory_open(NULL, 0);
	x->xce = xenevtchn_open(NULL, 0);
	if (!x->dm || !x->fm || !x->xce) {
		rc = -errno;
		snprintf(err, errlen, "cannot open the Xen interfaces: %s "
			 "(is this a Xen domain with xen-privcmd and xen-evtchn loaded?)",
			 strerror(errno));
		xenio_close(x);
		return rc;
	}
	/* Dispatch drains pending ports until none is left: never block. */
	rc = fcntl(xenevtchn_fd(x->xce), F_GETFL);
	if (rc < 0 || fcntl(xenevtchn_fd(x->xce), F_SETFL, rc | O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "event channel fd: %s", strerror(errno));
		xenio_close(x);
		return rc;
	}
	rc = create_server(x, err, errlen);
	if (rc) {
		xenio_close(x);
		return rc;
	}
	log_info("ioreq server %u created for domain %u", x->id, domid);
	*out = x;
	return 0;
}

int xenio_add_mmio(struct xenio *x, uint64_t base, uint64_t size,
		   xenio_read_fn *rd, xenio_write_fn *wr, void *opaque,
		   char *err, size_t errlen)
{
	int rc = xenio_windows_add(&x->windows, base, size, rd, wr, opaque,
				   err, errlen);

	if (rc)
		return rc;
	if (xendevicemodel_map_io_range_to_ioreq_server(x->dm, x->domid, x->id, 1,
							base, base + size - 1)) {
		rc = -errno;
		x->windows.n--;
		snprintf(err, errlen, "cannot claim MMIO 0x%" PRIx64 "-0x%" PRIx64 ": %s",
			 base, base + size - 1, strerror(errno));
		return rc;
	}
	return 0;
}

/* x86: the buffered page has an event channel of its own. */
static int bind_buffered(struct xenio *x, char *err, size_t errlen)
{
	evtchn_port_t remote;
	xenevtchn_port_or_error_t p;

	if (!x->buf_page)
		return 0;
	if (xendevicemodel_get_ioreq_server_info(x->dm, x->domid, x->id, NULL,
						 NULL, &remote)) {
		snprintf(err, errlen, "cannot read the buffered ioreq port: %s",
			 strerror(errno));
		return -errno;
	}
	p = xenevtchn_bind_interdomain(x->xce, x->domid, remote);
	if (p < 0) {
		snprintf(err, errlen, "cannot bind the buffered ioreq port %u: %s",
			 remote, strerror(errno));
		return -errno;
	}
	x->buf_port = p;
	return 0;
}

static int count_vcpus(struct xenio *x, char *err, size_t errlen)
{
	unsigned int n = 0;

	if (xendevicemodel_nr_vcpus(x->dm, x->domid, &n) || !n) {
		snprintf(err, errlen, "cannot read the vCPU count of domain %u: %s",
			 x->domid, strerror(errno));
		return -errno;
	}
	/* One shared page holds the slots: more vCPUs cannot be served. */
	if (n > XC_PAGE_SIZE / sizeof(ioreq_t)) {
		snprintf(err, errlen, "domain %u has %u vCPUs; at most %zu are supported",
			 x->domid, n, XC_PAGE_SIZE / sizeof(ioreq_t));
		return -E2BIG;
	}
	x->nr_vcpus = n;
	return 0;
}

int xenio_enable(struct xenio *x, char *err, size_t errlen)
{
	int rc = count_vcpus(x, err, errlen);

	if (rc)
		return rc;
	if (xendevicemodel_set_ioreq_server_state(x->dm, x->domid, x->id, 1)) {
		snprintf(err, errlen, "cannot enable ioreq server %u: %s", x->id,
			 strerror(errno));
		return -errno;
	}
	x->enabled = true;
	x->ports = calloc(x->nr_vcpus, sizeof(*x->ports));
	if (!x->ports)
		return -ENOMEM;
	for (unsigned int v = 0; v < x->nr_vcpus; v++) {
		evtchn_port_t remote = x->page->vcpu_ioreq[v].vp_eport;
		xenevtchn_port_or_error_t p;

		p = xenevtchn_bind_interdomain(x->xce, x->domid, remote);
		if (p < 0) {
			snprintf(err, errlen, "cannot bind vCPU %u event channel %u: %s",
				 v, remote, strerror(errno));
			return -errno;
		}
		x->ports[v] = p;
	}
	rc = bind_buffered(x, err, errlen);
	if (rc)
		return rc;
	log_info("ioreq server %u enabled, %u vCPU(s), %u window(s)%s", x->id,
		 x->nr_vcpus, x->windows.n, x->buf_page ? ", buffered ioreqs" : "");
	return 0;
}

unsigned int xenio_server_id(const struct xenio *x)
{
	return x->id;
}

int xenio_fd(const struct xenio *x)
{
	return xenevtchn_fd(x->xce);
}

static void serve_vcpu(struct xenio *x, unsigned int v)
{
	if (xenio_serve_slot(&x->windows, x->gm, &x->page->vcpu_ioreq[v],
			     &x->stats))
		xenevtchn_notify(x->xce, x->ports[v]);
}

bool xenio_pending(const struct xenio *x)
{
	for (unsigned int v = 0; v < x->nr_vcpus; v++)
		if (((volatile ioreq_t *)&x->page->vcpu_ioreq[v])->state ==
		    STATE_IOREQ_READY)
			return true;
	return x->buf_page &&
	       ((volatile buffered_iopage_t *)x->buf_page)->read_pointer !=
	       ((volatile buffered_iopage_t *)x->buf_page)->write_pointer;
}

void xenio_probe(struct xenio *x, uint32_t other, int *map_err, int *ioreq_err)
{
	xen_pfn_t pfn = 0;
	ioservid_t id;
	void *p;

	p = xenforeignmemory_map(x->fm, other, PROT_READ, 1, &pfn, NULL);
	*map_err = p ? 0 : errno;
	if (p)
		xenforeignmemory_unmap(x->fm, p, 1);
	*ioreq_err = 0;
	if (xendevicemodel_create_ioreq_server(x->dm, other, 0, &id))
		*ioreq_err = errno;
	else
		xendevicemodel_destroy_ioreq_server(x->dm, other, id);
}

void xenio_dispatch(struct xenio *x)
{
	xenevtchn_port_or_error_t port;

	while ((port = xenevtchn_pending(x->xce)) >= 0) {
		xenevtchn_unmask(x->xce, port);
		if (x->buf_page && (evtchn_port_t)port == x->buf_port)
			xenio_drain_buffered(&x->windows, x->buf_page, &x->stats);
		for (unsigned int v = 0; v < x->nr_vcpus; v++)
			if (x->ports[v] == (evtchn_port_t)port)
				serve_vcpu(x, v);
	}
}

static struct xenio_window *window_at(struct xenio *x, uint64_t base)
{
	for (unsigned int i = 0; i < x->windows.n; i++)
		if (x->windows.w[i].base == base)
			return &x->windows.w[i];
	return NULL;
}

static int ioeventfd(struct xenio *x, const struct xenio_knotify *k,
		     uint32_t flags)
{
	struct xv_privcmd_ioeventfd a = {
		.ioreq = (uintptr_t)x->page, .ports = (uintptr_t)x->ports,
		.addr = k->base, .addr_len = 4, .event_fd = k->fd,
		.vcpus = x->nr_vcpus, .vq = k->vq, .flags = flags,
		.dom = x->domid,
	};

	return ioctl(x->privcmd, XV_IOCTL_PRIVCMD_IOEVENTFD, &a) ? -errno : 0;
}

static int kernel_refuses(struct xenio *x, const char *why)
{
	x->kernel_refused = true;
	log_info("domain %u: QueueNotify is answered by this process: %s",
		 x->domid, why);
	return -EOPNOTSUPP;
}

int xenio_kernel_notify(struct xenio *x, uint64_t base, unsigned int vq,
			int fd)
{
	struct xenio_window *w = window_at(x, base);
	struct xenio_knotify k = { base, vq, -1 }, *kn;
	int rc;

	if (x->kernel_refused)
		return -EOPNOTSUPP;
	if (!x->enabled || !w || vq >= 64)
		return -EINVAL;
	/* The kernel takes the first page of the ioreq mapping as the
	 * synchronous page: not so with a buffered page in front (x86). */
	if (x->buf_page)
		return kernel_refuses(x, "the ioreq mapping starts with the buffered page, which Linux's ioeventfd would take for the synchronous one");
	if (x->privcmd < 0) {
		x->privcmd = xv_privcmd_open(x->domid);
		if (x->privcmd < 0)
			return kernel_refuses(x, xv_privcmd_why(x->privcmd));
	}
	kn = realloc(x->kn, (x->n_kn + 1) * sizeof(*kn));
	if (!kn)
		return -ENOMEM;
	x->kn = kn;
	k.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (k.fd < 0)
		return -errno;
	rc = ioeventfd(x, &k, 0);
	if (rc) {
		close(k.fd);
		return xv_privcmd_unsupported(rc) ?
		       kernel_refuses(x, xv_privcmd_why(rc)) : rc;
	}
	x->kn[x->n_kn++] = k;
	w->kernel_vqs |= 1ull << vq;
	return 0;
}

/* Before the ports go: the kernel's handler shares their interrupts. */
static void kernel_notify_stop(struct xenio *x)
{
	for (unsigned int i = 0; i < x->n_kn; i++) {
		struct xenio_window *w = window_at(x, x->kn[i].base);

		if (w)
			w->kernel_vqs &= ~(1ull << x->kn[i].vq);
		if (ioeventfd(x, &x->kn[i], XV_PRIVCMD_FLAG_DEASSIGN))
			log_warn("domain %u: cannot take back QueueNotify of queue %u at 0x%" PRIx64 " from the kernel: %m",
				 x->domid, x->kn[i].vq, x->kn[i].base);
		close(x->kn[i].fd);
	}
	free(x->kn);
	x->kn = NULL;
	x->n_kn = 0;
	if (x->privcmd >= 0)
		close(x->privcmd);
	x->privcmd = -1;
}

void xenio_close(struct xenio *x)
{
	if (!x)
		return;
	kernel_notify_stop(x);
	for (unsigned int v = 0; x->ports && v < x->nr_vcpus; v++)
		if (x->ports[v])
			xenevtchn_unbind(x->xce, x->ports[v]);
	free(x->ports);
	if (x->buf_port)
		xenevtchn_unbind(x->xce, x->buf_port);
	/* The domain may be gone already: failures here are expected. */
	if (x->enabled)
		xendevicemodel_set_ioreq_server_state(x->dm, x->domid, x->id, 0);
	if (x->res)
		xenforeignmemory_unmap_resource(x->fm, x->res);
	if (x->created)
		xendevicemodel_destroy_ioreq_server(x->dm, x->domid, x->id);
	if (x->xce)
		xenevtchn_close(x->xce);
	if (x->fm)
		xenforeignmemory_close(x->fm);
	if (x->dm)
		xendevicemodel_close(x->dm);
	free(x);
}

void xenio_get_stats(const struct xenio *x, struct xenio_stats *s)
{
	*s = x->stats;
}
