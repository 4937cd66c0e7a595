// SPDX-License-Identifier: MIT
/*
 * QEMU's command line as libxl builds it (see dm_args.h). QEMU option
 * values are comma lists ("socket,id=x,path=/p,server=on") where ",,"
 * stands for a comma and a bare word is a flag ("server" = "server=on").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_args.h"

#define MAX_CHARDEVS 8

struct chardev {
	const char *spec;
	char id[64];
};

/* QEMU options that take a value, so that the value is not read as one. */
static const char *const with_value[] = {
	"-xen-domid", "-chardev", "-mon", "-name", "-machine", "-M", "-m",
	"-vnc", "-display", "-k", "-incoming", "-chroot", "-runas",
	"-run-with", "-serial", "-device", "-drive", "-netdev", "-net",
	"-spice", "-boot", "-smp", "-object", "-usbdevice", "-soundhw",
	"-audiodev", "-global", "-kernel", "-initrd", "-append", "-sandbox",
	"-pidfile", "-D", "-d", "-trace", "-accel", "-cpu", "-vga", "-qmp",
	"-monitor", "-fsdev", "-virtfs", "-add-fd", "-L", "-bios", "-rtc",
	"-parallel", "-numa", "-fw_cfg", NULL,
};

/* Options that ask for nothing xen-virtio does not do anyway. */
static const char *const harmless[] = {
	"-no-shutdown", "-nodefaults", "-no-user-config", "-xen-attach",
	"-nographic", "-m", NULL,
};

static bool listed(const char *const *list, const char *opt)
{
	for (; *list; list++)
		if (!strcmp(*list, opt))
			return true;
	return false;
}

bool xvdm_is_qemu_argv(int argc, char *const argv[])
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-xen-domid") || !strcmp(argv[i], "-chardev") ||
		    !strcmp(argv[i], "-mon"))
			return true;
	return false;
}

/*
 * The value of key in a QEMU option list, into out: 1 if present (a bare
 * flag reads "on"), 0 if absent, -1 if longer than out. first: whether
 * the first item counts (it is a type, as "socket", for -chardev).
 */
static int qopt_get(const char *s, const char *key, bool first, char *out,
		    size_t len)
{
	char tok[256];
	bool is_first = true;

	while (*s) {
		size_t n = 0;
		const char *eq;

		for (; *s && !(*s == ',' && s[1] != ','); s++) {
			if (*s == ',')
				s++;
			if (n + 1 < sizeof(tok))
				tok[n++] = *s;
		}
		tok[n] = '\0';
		if (*s)
			s++;
		if (is_first && !first) {
			is_first = false;
			continue;
		}
		is_first = false;
		eq = strchr(tok, '=');
		if (eq ? strncmp(tok, key, eq - tok) || key[eq - tok] : strcmp(tok, key))
			continue;
		if (snprintf(out, len, "%s", eq ? eq + 1 : "on") >= (int)len)
			return -1;
		return 1;
	}
	return 0;
}

static void ignore(struct xvdm_args *a, const char *opt, const char *val)
{
	if (a->n_ignored == XVDM_MAX_IGNORED) {
		a->n_unlisted++;
		return;
	}
	a->ignored[a->n_ignored++] = (struct xvdm_ignored){ opt, val };
}

static int parse_domid(struct xvdm_args *a, const char *v, char *err,
		       size_t errlen)
{
	char *end;

	errno = 0;
	a->domid = strtol(v, &end, 10);
	/* DOMID_FIRST_RESERVED is 0x7ff0 */
	if (errno || !*v || *end || a->domid < 0 || a->domid >= 0x7ff0) {
		snprintf(err, errlen, "-xen-domid: bad domain id '%s'", v);
		return -EINVAL;
	}
	return 0;
}

static int add_chardev(struct chardev *cd, unsigned int *n, const char *spec,
		       struct xvdm_args *a, char *err, size_t errlen)
{
	char type[16] = "", server[8] = "";

	if (qopt_get(spec, "id", false, cd[*n].id, sizeof(cd[*n].id)) != 1) {
		snprintf(err, errlen, "-chardev %.80s: no id", spec);
		return -EINVAL;
	}
	/* the type is the first item */
	snprintf(type, sizeof(type), "%.*s", (int)strcspn(spec, ","), spec);
	qopt_get(spec, "server", false, server, sizeof(server));
	if (strcmp(type, "socket") || strcmp(server, "on") || *n == MAX_CHARDEVS) {
		ignore(a, "-chardev", spec);	/* a channel's pty, a client socket */
		return 0;
	}
	cd[(*n)++].spec = spec;
	return 0;
}

static const struct chardev *find_chardev(const struct chardev *cd,
					  unsigned int n, const char *id)
{
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp(cd[i].id, id))
			return &cd[i];
	return NULL;
}

static int add_monitor(struct xvdm_args *a, const struct chardev *cd,
		       unsigned int n, const char *spec, char *err,
		       size_t errlen)
{
	char id[64], mode[16] = "", fd[16];
	const struct chardev *c;
	struct xvdm_monitor *m;

	if (qopt_get(spec, "chardev", true, id, sizeof(id)) != 1 ||
	    qopt_get(spec, "mode", true, mode, sizeof(mode)) < 0 ||
	    strcmp(mode, "control") || !(c = find_chardev(cd, n, id)) ||
	    a->n_monitors == XVDM_MAX_MONITORS) {
		ignore(a, "-mon", spec);	/* not QMP, or not a socket we serve */
		return 0;
	}
	m = &a->monitors[a->n_monitors];
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->fd = -1;
	m->path[0] = '\0';
	if (qopt_get(c->spec, "fd", false, fd, sizeof(fd)) == 1) {
		char *end;
		long v = strtol(fd, &end, 10);

		if (!fd[0] || *end || v < 0 || v > 65535) {
			snprintf(err, errlen, "-chardev %.80s: bad fd", c->spec);
			return -EINVAL;
		}
		m->fd = v;
	} else if (qopt_get(c->spec, "path", false, m->path, sizeof(m->path)) != 1 ||
		   !m->path[0]) {
		snprintf(err, errlen, "-chardev %.80s: neither path= nor fd= (or the path is too long)",
			 c->spec);
		return -EINVAL;
	}
	a->n_monitors++;
	return 0;
}

static bool is(const char *opt, size_t n, const char *name)
{
	return strlen(name) == n && !strncmp(opt, name, n);
}

/* One of xen-virtio's own options; *i moves past its value. */
static int own_option(struct xvdm_args *a, int argc, char *const argv[],
		      int *i, char *err, size_t errlen)
{
	const char *opt = argv[*i], *eq = strchr(opt, '=');
	size_t n = eq ? (size_t)(eq - opt) : strlen(opt);
	const char *val = eq ? eq + 1 : NULL;

	if (!eq && is(opt, n, "--no-xenstore")) {
		a->no_xenstore = true;
		return 0;
	}
	if (!eq && is(opt, n, "--no-sandbox")) {
		a->no_sandbox = true;
		return 0;
	}
	if (!eq && is(opt, n, "--no-kernel-events")) {
		a->no_kernel_events = true;
		return 0;
	}
	if (!is(opt, n, "--device") && !is(opt, n, "--log-level") &&
	    !is(opt, n, "--runas")) {
		snprintf(err, errlen, "unknown option '%s' (device_model_args take --device SPEC, --log-level L, --runas USER, --no-xenstore, --no-sandbox, --no-kernel-events)",
			 opt);
		return -EINVAL;
	}
	if (!val) {
		if (*i + 1 >= argc) {
			snprintf(err, errlen, "%s needs a value", opt);
			return -EINVAL;
		}
		val = argv[++*i];
	}
	if (is(opt, n, "--log-level")) {
		a->log_level = val;
	} else if (is(opt, n, "--runas")) {
		a->runas = val;
	} else if (a->n_devices == XVDM_MAX_DEVICES) {
		snprintf(err, errlen, "at most %d --device", XVDM_MAX_DEVICES);
		return -EINVAL;
	} else {
		a->devices[a->n_devices++] = val;
	}
	return 0;
}

/* A QEMU option and its value (NULL if it takes none). */
static int qemu_option(struct xvdm_args *a, struct chardev *cd,
		       unsigned int *n_cd, const char **mons,
		       unsigned int *n_mons, const char *opt, const char *val,
		       char *err, size_t errlen)
{
	if (!strcmp(opt, "-xen-domid"))
		return parse_domid(a, val, err, errlen);
	if (!strcmp(opt, "-chardev"))
		return add_chardev(cd, n_cd, val, a, err, errlen);
	if (!strcmp(opt, "-mon")) {
		if (*n_mons < MAX_CHARDEVS)
			mons[(*n_mons)++] = val;
		else
			ignore(a, opt, val);
	} else if (!strcmp(opt, "-S")) {
		a->start_paused = true;
	} else if (!strcmp(opt, "-xen-domid-restrict")) {
		a->domid_restrict = true;
	} else if (!strcmp(opt, "-runas")) {
		if (!a->runas)		/* device_model_args' --runas wins */
			a->runas = val;
	} else if (!strcmp(opt, "-chroot")) {
		a->chroot = val;
	} else if (!strcmp(opt, "-name")) {
		a->name = val;
	} else if (!strcmp(opt, "-machine") || !strcmp(opt, "-M")) {
		a->machine = val;
	} else if ((!strcmp(opt, "-vnc") || !strcmp(opt, "-display")) &&
		   !strcmp(val, "none")) {
		/* no display asked for: none made */
	} else if (!listed(harmless, opt)) {
		ignore(a, opt, val);
	}
	return 0;
}

int xvdm_parse(struct xvdm_args *a, int argc, char *const argv[], char *err,
	       size_t errlen)
{
	struct chardev cd[MAX_CHARDEVS];
	const char *mons[MAX_CHARDEVS];
	unsigned int n_cd = 0, n_mons = 0;
	int rc;

	memset(a, 0, sizeof(*a));
	a->domid = -1;
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = NULL;

		if (!strncmp(opt, "--", 2)) {
			rc = own_option(a, argc, argv, &i, err, errlen);
		} else if (opt[0] != '-' || !opt[1]) {
			ignore(a, opt, NULL);	/* a stray word */
			continue;
		} else {
			/* QEMU's unknown options: a following word is their value */
			if (i + 1 < argc && (listed(with_value, opt) ||
					     argv[i + 1][0] != '-'))
				val = argv[++i];
			if (!val && listed(with_value, opt)) {
				snprintf(err, errlen, "%s needs a value", opt);
				return -EINVAL;
			}
			rc = qemu_option(a, cd, &n_cd, mons, &n_mons, opt, val,
					 err, errlen);
		}
		if (rc)
			return rc;
	}
	for (unsigned int i = 0; i < n_mons; i++) {
		rc = add_monitor(a, cd, n_cd, mons[i], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void xvdm_machine_type(const struct xvdm_args *a, char *out, size_t len)
{
	const char *m = a->machine ? a->machine : "";

	snprintf(out, len, "%.*s", (int)strcspn(m, ","), m);
}
