/* SPDX-License-Identifier: MIT */
/*
 * What a guest's backend gives up once it serves the guest: a sandbox
 * entered once, for good, by the process that talks to the guest.
 *
 * After xvsb_enter() every thread of the process runs under another uid
 * and gid with no capability and no supplementary group (unless the user
 * is root), cannot gain privileges again (no_new_privs), cannot be
 * ptraced or dumped, sees only an empty root directory, and may make only
 * the system calls the serving loop needs (xvsb_filter(): anything else
 * kills it; opening files and sockets fails with EACCES). Xen handles are restricted to the guest by the caller
 * first (xentoolcore_restrict_all), since only it knows which it holds.
 * Everything the process needs from the file system must be open before.
 */
#ifndef XV_TOOLS_SANDBOX_H
#define XV_TOOLS_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Per-guest uids start here unless --runas says otherwise (uid = base + domid). */
#define XVSB_DEFAULT_UID_BASE 1879048192
#define XVSB_STR_(x) #x
#define XVSB_STR(x) XVSB_STR_(x)

struct xvsb_config {
	bool keep_root;		/* --runas root: stay uid 0, capabilities kept */
	uid_t uid;
	gid_t gid;
	char chroot[256];	/* an existing directory, or "" for an empty one */
};

/*
 * The user a guest's backend runs as: spec is NULL or "" (the default
 * range), "root", "USER" (its uid and primary group), "UID:GID", or
 * "base:UID" (UID + domid, for uid and gid). Looked up now, while
 * /etc/passwd can be read. 0, or -1 with a message.
 */
int xvsb_resolve(struct xvsb_config *c, const char *spec, uint32_t domid,
		 char *err, size_t errlen);
/* Enter the sandbox (see above). 0, or -1 with a message. */
int xvsb_enter(const struct xvsb_config *c, char *err, size_t errlen);
/* Only the system call filter, for the tests. 0, or -1 with a message. */
int xvsb_filter(char *err, size_t errlen);

#endif
