// SPDX-License-Identifier: MIT
/*
 * xen-virtio: serve virtio-mmio devices to a Xen guest from this domain.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "config.h"
#include "ctl.h"
#include "devices.h"
#include "dm.h"
#include "guest.h"
#include "log.h"
#include "monitor.h"
#include "sandbox.h"
#include "service.h"
#include "svc_conf.h"
#include "xs.h"

struct options {
	long domid;
	const char *domain;
	double wait;
	int use_xenstore;
	int service;
	const char *config;
	const char *runas;
	int no_sandbox;
	int no_kernel_events;
	const char *argv0;
	char *child_args[16];		/* what --service passes on */
	unsigned int n_child_args;
	unsigned int n_slots;
	struct vslot slots[VSLOT_MAX];
	struct vdev *devs[VSLOT_MAX];
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: xen-virtio (--domid N | --domain NAME) [--device SPEC]... [options]\n"
"       xen-virtio --service [--config FILE] [options]\n"
"       xen-virtio stats (--domid N | --service) [--json]\n"
"Serve virtio-mmio devices to a Xen guest as an ioreq server.\n"
"\n"
"  -d, --domid N         the guest's domain id\n"
"  -n, --domain NAME     the guest's name; waits for it to appear, so the\n"
"                        daemon can be started before `xl create`\n"
"  -D, --device SPEC     a device: MODEL[,key=value]... (repeatable);\n"
"                        base=0xADDR and irq=N place it, default slot i is\n"
"                        base 0x02000000 + 0x200*i, SPI 33+i (libxl's layout)\n"
"  -w, --wait SECONDS    how long --domain waits for the domain, and without\n"
"                        --device for its first virtio node (default 30)\n"
"      --no-xenstore     ignore libxl's virtio backend nodes\n"
"      --runas USER      the sandbox's user: USER, UID:GID, base:UID (UID +\n"
"                        domid) or root; default base:" XVSB_STR(XVSB_DEFAULT_UID_BASE) "\n"
"      --no-sandbox      serve from one unrestricted process (debugging)\n"
"      --no-kernel-events  answer QueueNotify and raise interrupts from this\n"
"                        process even where Dom0's kernel could (privcmd\n"
"                        ioeventfd/irqfd, Linux 6.7+)\n"
"  -c, --config FILE     device options for libxl's backend nodes, one rule\n"
"                        a line: GUEST NODE SPEC (see the manual page)\n"
"      --service         serve every guest libxl creates with virtio nodes,\n"
"                        each from its own process (--config defaults to\n"
"                        " XV_SERVICE_CONF " when that exists)\n"
"  -l, --log-level L     error, warn, info (default) or debug\n"
"      --log-file PATH   log there instead of stderr\n"
"      --syslog          log to syslog\n"
"  -h, --help            this text\n"
"  -V, --version         the version\n"
"\n"
"Without --no-xenstore, every virtio disk libxl declared for the guest\n"
"(disk = [ '...,specification=virtio' ], Xen 4.17) and every virtio = [...]\n"
"device (Xen 4.18+) is served; a --device whose base matches such a node is\n"
"served in its place.\n"
"\n"
"Started by libxl in place of QEMU (xl.cfg: device_model_override), it\n"
"takes QEMU's command line and answers libxl's QMP; its own options then\n"
"come from device_model_args = [ \"--device\", \"SPEC\", ... ].\n"
"\n"
"Device models:\n");
	vdev_register_builtin();
	for (unsigned int i = 0; vdev_model_at(i); i++) {
		const struct vdev_model *m = vdev_model_at(i);

		fprintf(f, "  %-8s %s\n", m->name, m->summary);
		if (m->options && m->options[0])
			fprintf(f, "           options: %s\n", m->options);
	}
}

static int parse_number(const char *s, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 0);
	return errno || !*s || *end || *out < 0 || *out > max ? -1 : 0;
}

static int add_device(struct options *o, const char *spec)
{
	char err[256], name[32];

	if (o->n_slots == VSLOT_MAX) {
		fprintf(stderr, "xen-virtio: at most %u devices\n", VSLOT_MAX);
		return -1;
	}
	if (vslot_parse(&o->slots[o->n_slots], spec, err, sizeof(err))) {
		fprintf(stderr, "xen-virtio: --device %s: %s\n", spec, err);
		return -1;
	}
	/*
	 * Created now, once: a bad option or file fails before any waiting,
	 * and a device with a host side (a console's socket) is listening
	 * from the start, never torn down and made again.
	 */
	snprintf(name, sizeof(name), "%.16s%u", o->slots[o->n_slots].opts.model,
		 o->n_slots);
	o->devs[o->n_slots] = vdev_new(&o->slots[o->n_slots].opts, name, err,
				       sizeof(err));
	if (!o->devs[o->n_slots]) {
		fprintf(stderr, "xen-virtio: --device %s: %s\n", spec, err);
		vslot_free(&o->slots[o->n_slots]);
		return -1;
	}
	o->n_slots++;
	return 0;
}

static int set_log(const char *level, const char *file, int use_syslog)
{
	if (level) {
		int l = vlog_parse_level(level);

		if (l < 0) {
			fprintf(stderr, "xen-virtio: unknown log level '%s'\n", level);
			return -1;
		}
		vlog_set_level(l);
	}
	if (use_syslog)
		vlog_use_syslog("xen-virtio");
	if (file) {
		int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

		if (fd < 0) {
			fprintf(stderr, "xen-virtio: %s: %s\n", file, strerror(errno));
			return -1;
		}
		vlog_use_fd(fd);
	}
	return 0;
}

/* Each guest's process reads it again; a broken file is an error now. */
static int check_config(const char *path)
{
	char err[256];
	struct xvconf *c;

	if (!path)
		return 0;
	c = xvconf_load(path, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "xen-virtio: %s\n", err);
		return -1;
	}
	xvconf_free(c);
	return 0;
}

static int check_service(struct options *o)
{
	if (o->domid >= 0 || o->domain || o->n_slots || !o->use_xenstore) {
		fprintf(stderr, "xen-virtio: --service takes none of --domid, --domain, --device, --no-xenstore\n");
		return -1;
	}
	if (!o->config && !access(XV_SERVICE_CONF, F_OK))
		o->config = XV_SERVICE_CONF;
	return check_config(o->config);
}

/* The options a guest's process gets from the service. */
static int child_args(struct options *o, const char *level, const char *file,
		      int use_syslog)
{
	static char wait[16];
	char **a = o->child_args;
	unsigned int n = 0;

	snprintf(wait, sizeof(wait), "%.0f", o->wait);
	a[n++] = "--wait";
	a[n++] = wait;
	if (o->config) {
		a[n++] = "--config";
		a[n++] = (char *)o->config;
	}
	if (o->runas) {
		a[n++] = "--runas";
		a[n++] = (char *)o->runas;
	}
	if (o->no_sandbox)
		a[n++] = "--no-sandbox";
	if (o->no_kernel_events)
		a[n++] = "--no-kernel-events";
	if (level) {
		a[n++] = "--log-level";
		a[n++] = (char *)level;
	}
	if (file) {
		a[n++] = "--log-file";
		a[n++] = (char *)file;
	}
	if (use_syslog)
		a[n++] = "--syslog";
	o->n_child_args = n;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "domid", required_argument, NULL, 'd' },
		{ "domain", required_argument, NULL, 'n' },
		{ "device", required_argument, NULL, 'D' },
		{ "wait", required_argument, NULL, 'w' },
		{ "no-xenstore", no_argument, NULL, 'X' },
		{ "config", required_argument, NULL, 'c' },
		{ "service", no_argument, NULL, 's' },
		{ "runas", required_argument, NULL, 'R' },
		{ "no-sandbox", no_argument, NULL, 'U' },
		{ "no-kernel-events", no_argument, NULL, 'K' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-file", required_argument, NULL, 'F' },
		{ "syslog", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *level = NULL, *file = NULL;
	int c, use_syslog = 0;
	long wait;
	char err[256];

	o->domid = -1;
	o->wait = 30;
	o->use_xenstore = 1;
	vdev_register_builtin();
	while ((c = getopt_long(argc, argv, "d:n:D:w:c:l:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_number(optarg, 0x7fef, &o->domid)) {
				fprintf(stderr, "xen-virtio: bad domain id '%s'\n", optarg);
				return -1;
			}
			break;
		case 'n':
			o->domain = optarg;
			break;
		case 'D':
			if (add_device(o, optarg))
				return -1;
			break;
		case 'w':
			if (parse_number(optarg, 86400, &wait)) {
				fprintf(stderr, "xen-virtio: bad --wait '%s'\n", optarg);
				return -1;
			}
			o->wait = wait;
			break;
		case 'X':
			o->use_xenstore = 0;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 's':
			o->service = 1;
			break;
		case 'R':
			o->runas = optarg;
			break;
		case 'U':
			o->no_sandbox = 1;
			break;
		case 'K':
			o->no_kernel_events = 1;
			break;
		case 'l':
			level = optarg;
			break;
		case 'F':
			file = optarg;
			break;
		case 'S':
			use_syslog = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("xen-virtio %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xen-virtio: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->service)
		return check_service(o) ?: set_log(level, file, use_syslog) ?:
			child_args(o, level, file, use_syslog);
	if ((o->domid < 0) == !o->domain) {
		fprintf(stderr, "xen-virtio: give exactly one of --domid and --domain\n");
		return -1;
	}
	if (check_config(o->config))
		return -1;
	if (vslot_assign(o->slots, o->n_slots, err, sizeof(err))) {
		fprintf(stderr, "xen-virtio: %s\n", err);
		return -1;
	}
	for (unsigned int i = 0; i < o->n_slots; i++)
		if (!vslot_in_xen_range(&o->slots[i]))
			fprintf(stderr, "xen-virtio: warning: device %u lies outside Xen's virtio window or SPI range\n", i);
	return set_log(level, file, use_syslog);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int wait_for_domain(const char *name, double wait, uint32_t *domid)
{
	struct xs_handle *xs = xs_open(0);
	double end = now() + wait;

	int rc;

	if (!xs) {
		log_err("cannot open xenstore: %m");
		return -1;
	}
	log_info("waiting up to %.0f s for domain '%s'", wait, name);
	while ((rc = xvxs_find_domain(xs, name, domid)) && now() < end)
		usleep(50000);
	xs_close(xs);
	if (rc)
		log_err("no domain named '%s' appeared within %.0f s", name, wait);
	return rc;
}

/* Stop signals are read from a signalfd by the main loop; workers, created
 * later, inherit the blocked mask so only the loop sees them. */
static int block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int serve(struct options *o)
{
	struct xvmon_config mc;
	struct xvsb_config sb;
	struct guest_config c;
	struct guest *g;
	char tag[16];
	uint32_t domid;
	int sfd, rc, link;

	sfd = block_signals();
	if (sfd < 0) {
		log_err("cannot set up signal handling: %m");
		return 1;
	}
	if (o->service) {
		struct xvsvc_config sc = {
			.exe = "/proc/self/exe", .argv0 = o->argv0,
			.child_args = o->child_args,
			.n_child_args = o->n_child_args,
		};

		vlog_set_tag("service");
		rc = xvsvc_run(&sc, sfd);
		close(sfd);
		log_info("exiting");
		return rc ? 1 : 0;
	}
	if (o->domain) {
		if (wait_for_domain(o->domain, o->wait, &domid))
			return 1;
	} else {
		domid = o->domid;
	}
	/* Lines of several guests' backends may share one log (service mode). */
	snprintf(tag, sizeof(tag), "dom%u", domid);
	vlog_set_tag(tag);
	/* From here on two processes (monitor.h): this one stays privileged,
	 * the one that goes on serves the guest. */
	mc = (struct xvmon_config){ .domid = domid, .signal_fd = sfd };
	link = xvmon_start(&mc, &sb, o->no_sandbox, o->runas, NULL);
	if (link == -2)
		return 1;
	c = (struct guest_config){
		.domid = domid, .slots = o->slots, .devs = o->devs,
		.n_slots = o->n_slots,
		.use_xenstore = o->use_xenstore, .wait = o->wait,
		.config = o->config, .link = link,
		.sandbox = link >= 0 ? &sb : NULL,
		.no_kernel_events = o->no_kernel_events,
	};
	g = guest_new(&c);
	if (!g)
		return 1;
	rc = guest_run(g, sfd);
	guest_free(g);
	close(sfd);
	log_info("exiting");
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options *o;
	int rc;

	if (xvdm_is_qemu_argv(argc, argv))	/* started by libxl as its QEMU */
		return xvdm_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "stats"))
		return xvctl_main(argc - 1, argv + 1);
	o = calloc(1, sizeof(*o));
	if (!o)
		return 1;
	o->argv0 = argv[0];
	rc = parse_args(argc, argv, o) ? 2 : serve(o);
	for (unsigned int i = 0; i < o->n_slots; i++) {
		vdev_free(o->devs[i]);	/* those guest_new did not take */
		vslot_free(&o->slots[i]);
	}
	free(o);
	return rc;
}
