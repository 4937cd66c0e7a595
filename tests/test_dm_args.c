// SPDX-License-Identifier: MIT
/*
 * QEMU's command line as libxl builds it for a device model (tools/dm_args.c).
 * The vectors are what libxl__build_device_model_args_new (libxl_dm.c)
 * makes for an Arm (PVH) guest in Xen 4.17 and 4.20, with the user's
 * device_model_args and device_model_args_pv where libxl puts them:
 * before and after "-machine xenpv".
 */
#include <stdlib.h>
#include <string.h>

#include "dm_args.h"
#include "xtest.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

static struct xvdm_args parse_ok(int argc, char *const argv[])
{
	struct xvdm_args a;
	char err[256] = "";

	XT_ASSERT_MSG(!xvdm_parse(&a, argc, argv, err, sizeof(err)), "%s", err);
	return a;
}

static void parse_fails(int argc, char *const argv[], const char *needle)
{
	struct xvdm_args a;
	char err[256] = "";

	XT_ASSERT(xvdm_parse(&a, argc, argv, err, sizeof(err)) < 0);
	XT_ASSERT_MSG(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

static bool was_ignored(const struct xvdm_args *a, const char *opt,
			const char *val)
{
	for (unsigned int i = 0; i < a->n_ignored; i++)
		if (!strcmp(a->ignored[i].opt, opt) &&
		    (val ? a->ignored[i].val && !strcmp(a->ignored[i].val, val) :
			   !a->ignored[i].val))
			return true;
	return false;
}

/* Xen 4.17, dm_restrict off: QMP on a socket path, state via xenstore. */
static void libxl_417_pvh(void)
{
	char *argv[] = {
		"/usr/bin/xen-virtio", "-xen-domid", "5", "-no-shutdown",
		"-chardev", "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-5,server=on,wait=off",
		"-mon", "chardev=libxl-cmd,mode=control",
		"-chardev", "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-5,server=on,wait=off",
		"-mon", "chardev=libxenstat-cmd,mode=control",
		"-nodefaults", "-no-user-config", "-xen-attach", "-name", "dm1",
		"-vnc", "none", "-display", "none", "-nographic",
		"--device", "rng", "--device", "blk,file=/srv/dm1.img",
		"-machine", "xenpv", "--log-level", "debug", "-m", "256",
	};
	struct xvdm_args a = parse_ok(ARGC(argv), argv);
	char type[16];

	XT_ASSERT(xvdm_is_qemu_argv(ARGC(argv), argv));
	XT_EQ(a.domid, 5);
	XT_ASSERT(a.name && !strcmp(a.name, "dm1"));
	xvdm_machine_type(&a, type, sizeof(type));
	XT_ASSERT(!strcmp(type, "xenpv"));
	XT_ASSERT(!a.start_paused);
	XT_EQ(a.n_monitors, 2);
	XT_ASSERT(!strcmp(a.monitors[0].id, "libxl-cmd"));
	XT_ASSERT(!strcmp(a.monitors[0].path, "/var/run/xen/qmp-libxl-5"));
	XT_EQ(a.monitors[0].fd, -1);
	XT_ASSERT(!strcmp(a.monitors[1].path, "/var/run/xen/qmp-libxenstat-5"));
	XT_EQ(a.n_devices, 2);
	XT_ASSERT(!strcmp(a.devices[0], "rng"));
	XT_ASSERT(!strcmp(a.devices[1], "blk,file=/srv/dm1.img"));
	XT_ASSERT(a.log_level && !strcmp(a.log_level, "debug"));
	XT_ASSERT(!a.no_xenstore);
	XT_EQ(a.n_ignored, 0);
}

/* Xen 4.17/4.20 with dm_restrict: a listening socket inherited as fd, -S. */
static void libxl_restricted(void)
{
	char *argv[] = {
		"/usr/bin/xen-virtio", "-xen-domid", "12", "-no-shutdown",
		"-chardev", "socket,id=libxl-cmd,fd=7,server=on,wait=off", "-S",
		"-mon", "chardev=libxl-cmd,mode=control",
		"-chardev", "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-12,server=on,wait=off",
		"-mon", "chardev=libxenstat-cmd,mode=control",
		"-nodefaults", "-no-user-config", "-xen-attach", "-name", "g12",
		"-vnc", "none", "-display", "none", "-nographic",
		"-xen-domid-restrict", "-chroot", "/var/run/xen/qemu-root-12",
		"-runas", "131084:131072",
		"--no-xenstore", "--device=rng", "-machine", "xenpv", "-m", "512",
	};
	struct xvdm_args a = parse_ok(ARGC(argv), argv);

	XT_EQ(a.domid, 12);
	XT_ASSERT(a.start_paused);
	XT_EQ(a.n_monitors, 2);
	XT_EQ(a.monitors[0].fd, 7);
	XT_ASSERT(!a.monitors[0].path[0]);
	XT_ASSERT(a.no_xenstore);
	XT_EQ(a.n_devices, 1);
	XT_ASSERT(!strcmp(a.devices[0], "rng"));
	/* honoured by the sandbox, so not in the ignored list */
	XT_ASSERT(a.domid_restrict);
	XT_ASSERT(!strcmp(a.chroot, "/var/run/xen/qemu-root-12"));
	XT_ASSERT(!strcmp(a.runas, "131084:131072"));
	XT_ASSERT(!a.no_sandbox);
	XT_EQ(a.n_ignored, 0);
}

/* device_model_args' own --runas wins over libxl's -runas, in any order. */
static void own_runas_wins(void)
{
	char *argv1[] = {
		"xen-virtio", "-xen-domid", "3", "--runas", "xv", "-runas", "7:7",
		"--no-sandbox",
	};
	char *argv2[] = {
		"xen-virtio", "-xen-domid", "3", "-runas", "7:7", "--runas=xv",
	};
	struct xvdm_args a = parse_ok(ARGC(argv1), argv1);

	XT_ASSERT(!strcmp(a.runas, "xv"));
	XT_ASSERT(a.no_sandbox);
	a = parse_ok(ARGC(argv2), argv2);
	XT_ASSERT(!strcmp(a.runas, "xv"));
	XT_ASSERT(!a.no_sandbox);
}

/* Xen 4.20 probes the device model's options before it starts it. */
static void libxl_420_probe(void)
{
	char *argv[] = {
		"/usr/bin/xen-virtio", "-S", "-no-user-config", "-nodefaults",
		"-nographic", "-machine", "none,accel=xen",
		"-chardev", "socket,id=libxl-cmd,fd=9,server=on,wait=off",
		"-mon", "chardev=libxl-cmd,mode=control",
	};
	struct xvdm_args a = parse_ok(ARGC(argv), argv);
	char type[16];

	XT_ASSERT(xvdm_is_qemu_argv(ARGC(argv), argv));
	XT_EQ(a.domid, -1);
	XT_EQ(a.n_monitors, 1);
	XT_EQ(a.monitors[0].fd, 9);
	xvdm_machine_type(&a, type, sizeof(type));
	XT_ASSERT(!strcmp(type, "none"));
	XT_EQ(a.n_devices, 0);
	XT_EQ(a.n_ignored, 0);
}

/* Xen 4.20 with a vfb (VNC on), a channel and a keymap: all logged. */
static void libxl_420_vfb_channel(void)
{
	char *argv[] = {
		"/usr/bin/xen-virtio", "-xen-domid", "3", "-no-shutdown",
		"-chardev", "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-3,server=on,wait=off",
		"-mon", "chardev=libxl-cmd,mode=control",
		"-chardev", "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-3,server=on,wait=off",
		"-mon", "chardev=libxenstat-cmd,mode=control",
		"-chardev", "pty,id=libxl-channel0",
		"-nodefaults", "-no-user-config", "-xen-attach", "-name", "g3",
		"-vnc", "127.0.0.1:0,to=99", "-display", "none", "-k", "en-us",
		"--device", "rng", "-machine", "xenpv", "-m", "128",
	};
	struct xvdm_args a = parse_ok(ARGC(argv), argv);

	XT_EQ(a.domid, 3);
	XT_EQ(a.n_monitors, 2);
	XT_EQ(a.n_devices, 1);
	XT_ASSERT(was_ignored(&a, "-chardev", "pty,id=libxl-channel0"));
	XT_ASSERT(was_ignored(&a, "-vnc", "127.0.0.1:0,to=99"));
	XT_ASSERT(was_ignored(&a, "-k", "en-us"));
	XT_EQ(a.n_ignored, 3);
}

/* An HVM guest's machine: dm.c refuses it, the parser reports it. */
static void hvm_machine_type(void)
{
	char *argv[] = {
		"xen-virtio", "-xen-domid", "1", "-machine", "xenfv,suppress-vmdesc=on",
	};
	struct xvdm_args a = parse_ok(ARGC(argv), argv);
	char type[16];

	xvdm_machine_type(&a, type, sizeof(type));
	XT_ASSERT(!strcmp(type, "xenfv"));
}

/* Options nobody knows: logged with their value, never an error. */
static void unknown_options_ignored(void)
{
	char *argv[] = {
		"xen-virtio", "-xen-domid", "2", "-frobnicate", "hard", "-quiet",
		"-loud", "stray", "-", "-xen-domid-restrict",
	};
	struct xvdm_args a = parse_ok(ARGC(argv), argv);

	XT_ASSERT(was_ignored(&a, "-frobnicate", "hard"));
	XT_ASSERT(was_ignored(&a, "-quiet", NULL));
	XT_ASSERT(was_ignored(&a, "-loud", "stray"));
	XT_ASSERT(was_ignored(&a, "-", NULL));
	XT_ASSERT(a.domid_restrict);
	XT_EQ(a.domid, 2);
}

static void many_ignored_are_counted(void)
{
	char *argv[2 * XVDM_MAX_IGNORED + 8];
	int argc = 0;

	argv[argc++] = "xen-virtio";
	for (int i = 0; i < XVDM_MAX_IGNORED + 3; i++)
		argv[argc++] = "-nothing";
	struct xvdm_args a = parse_ok(argc, argv);

	XT_EQ(a.n_ignored, XVDM_MAX_IGNORED);
	XT_EQ(a.n_unlisted, 3);
}

/* QEMU's ",," is a comma inside a value; a bare flag means "on". */
static void qemu_option_lists(void)
{
	char *argv[] = {
		"xen-virtio", "-xen-domid", "4",
		"-chardev", "socket,id=q,path=/run/a,,b,server,wait=off",
		"-mon", "mode=control,chardev=q",
		"-chardev", "socket,id=client,path=/run/c",
		"-mon", "chardev=client,mode=control",
		"-mon", "chardev=q,mode=readline",
		"-mon", "chardev=nosuch,mode=control",
	};
	struct xvdm_args a = parse_ok(ARGC(argv), argv);

	XT_EQ(a.n_monitors, 1);
	XT_ASSERT_MSG(!strcmp(a.monitors[0].path, "/run/a,b"), "%s", a.monitors[0].path);
	/* a client socket, a human monitor, a missing chardev: not served */
	XT_ASSERT(was_ignored(&a, "-chardev", "socket,id=client,path=/run/c"));
	XT_ASSERT(was_ignored(&a, "-mon", "chardev=client,mode=control"));
	XT_ASSERT(was_ignored(&a, "-mon", "chardev=q,mode=readline"));
	XT_ASSERT(was_ignored(&a, "-mon", "chardev=nosuch,mode=control"));
}

static void bad_vectors(void)
{
	char *no_value[] = { "xen-virtio", "-xen-domid", "1", "--device" };
	char *bad_own[] = { "xen-virtio", "-xen-domid", "1", "--domid", "1" };
	char *bad_domid[] = { "xen-virtio", "-xen-domid", "1x" };
	char *big_domid[] = { "xen-virtio", "-xen-domid", "32752" };
	char *neg_domid[] = { "xen-virtio", "-xen-domid", "-1" };
	char *chardev_end[] = { "xen-virtio", "-xen-domid", "1", "-chardev" };
	char *no_id[] = { "xen-virtio", "-chardev", "socket,path=/x,server=on" };
	char *bad_fd[] = { "xen-virtio", "-chardev", "socket,id=m,fd=x,server=on",
			   "-mon", "chardev=m,mode=control" };
	char *no_path[] = { "xen-virtio", "-chardev", "socket,id=m,server=on",
			    "-mon", "chardev=m,mode=control" };
	char long_path[300] = "socket,id=m,server=on,path=/";
	char *too_long[] = { "xen-virtio", "-chardev", long_path,
			     "-mon", "chardev=m,mode=control" };

	memset(long_path + strlen(long_path), 'p', 200);
	parse_fails(ARGC(no_value), no_value, "--device needs a value");
	parse_fails(ARGC(bad_own), bad_own, "unknown option '--domid'");
	parse_fails(ARGC(bad_domid), bad_domid, "bad domain id");
	parse_fails(ARGC(big_domid), big_domid, "bad domain id");
	/* "-1" starts with a dash: read as the value all the same */
	parse_fails(ARGC(neg_domid), neg_domid, "bad domain id");
	parse_fails(ARGC(chardev_end), chardev_end, "-chardev needs a value");
	parse_fails(ARGC(no_id), no_id, "no id");
	parse_fails(ARGC(bad_fd), bad_fd, "bad fd");
	parse_fails(ARGC(no_path), no_path, "neither path= nor fd=");
	parse_fails(ARGC(too_long), too_long, "neither path= nor fd=");
}

/* The daemon's own command lines are not taken for QEMU's. */
static void own_command_lines(void)
{
	char *a1[] = { "xen-virtio", "--domid", "5", "--device", "rng" };
	char *a2[] = { "xen-virtio", "-d", "5", "-D", "blk,file=/x" };
	char *a3[] = { "xen-virtio", "--service" };
	char *a4[] = { "xen-virtio", "-mon", "chardev=x,mode=control" };

	XT_ASSERT(!xvdm_is_qemu_argv(ARGC(a1), a1));
	XT_ASSERT(!xvdm_is_qemu_argv(ARGC(a2), a2));
	XT_ASSERT(!xvdm_is_qemu_argv(ARGC(a3), a3));
	XT_ASSERT(xvdm_is_qemu_argv(ARGC(a4), a4));
}

static const struct xt_case cases[] = {
	XT_CASE(libxl_417_pvh),
	XT_CASE(libxl_restricted),
	XT_CASE(own_runas_wins),
	XT_CASE(libxl_420_probe),
	XT_CASE(libxl_420_vfb_channel),
	XT_CASE(hvm_machine_type),
	XT_CASE(unknown_options_ignored),
	XT_CASE(many_ignored_are_counted),
	XT_CASE(qemu_option_lists),
	XT_CASE(bad_vectors),
	XT_CASE(own_command_lines),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
