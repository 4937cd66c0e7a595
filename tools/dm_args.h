/* SPDX-License-Identifier: MIT */
/*
 * The command line libxl gives its device model (QEMU's options, built by
 * libxl__build_device_model_args_new in libxl_dm.c, Xen 4.17 to 4.20),
 * read as far as xen-virtio needs it: the guest (-xen-domid, -name,
 * -machine), the QMP sockets (-chardev socket,...,server=on with a -mon
 * chardev=ID,mode=control), -S, and the user's own options from
 * device_model_args*, which are spelled with two dashes as on xen-virtio's
 * command line: --device SPEC (repeatable), --log-level L, --no-xenstore,
 * --runas USER, --no-sandbox. libxl's -runas and -chroot (dm_restrict=1)
 * are honoured: the backend's sandbox takes that user and root directory.
 *
 * Other QEMU options are no error: those that ask for nothing xen-virtio
 * lacks (-nodefaults, -vnc none, ...) pass silently, the rest are listed
 * in `ignored` for the caller to log. Strings are borrowed from argv.
 */
#ifndef XV_TOOLS_DM_ARGS_H
#define XV_TOOLS_DM_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define XVDM_MAX_MONITORS 4
#define XVDM_MAX_DEVICES 32
#define XVDM_MAX_IGNORED 32

struct xvdm_monitor {
	char id[64];
	char path[108];			/* path=, or "" */
	int fd;				/* fd=, or -1 */
};

struct xvdm_ignored {
	const char *opt;
	const char *val;		/* or NULL */
};

struct xvdm_args {
	long domid;			/* -xen-domid, or -1 (libxl's probe) */
	const char *name;		/* -name, or NULL */
	const char *machine;		/* -machine / -M as given, or NULL */
	bool start_paused;		/* -S: status "prelaunch" until "cont" */
	unsigned int n_monitors;
	struct xvdm_monitor monitors[XVDM_MAX_MONITORS];
	unsigned int n_devices;
	const char *devices[XVDM_MAX_DEVICES];
	const char *log_level;
	bool no_xenstore;
	const char *runas;		/* -runas or --runas, or NULL */
	const char *chroot;		/* -chroot, or NULL */
	bool domid_restrict;		/* -xen-domid-restrict */
	bool no_sandbox;		/* --no-sandbox */
	bool no_kernel_events;		/* --no-kernel-events */
	unsigned int n_ignored;
	struct xvdm_ignored ignored[XVDM_MAX_IGNORED];
	unsigned int n_unlisted;	/* ignored beyond XVDM_MAX_IGNORED */
};

/* True if argv is a QEMU command line (libxl's), not xen-virtio's own. */
bool xvdm_is_qemu_argv(int argc, char *const argv[]);
/* 0, or -EINVAL with a message in err. */
int xvdm_parse(struct xvdm_args *a, int argc, char *const argv[], char *err,
	       size_t errlen);
/*
 * The machine's type (the first word of -machine): libxl gives PV and PVH
 * guests "xenpv", its option probe "none", HVM guests "xenfv" or "pc".
 * Writes "" when there was no -machine.
 */
void xvdm_machine_type(const struct xvdm_args *a, char *out, size_t len);

#endif
