// SPDX-License-Identifier: MIT
/*
 * The sandbox of a guest's backend (see sandbox.h).
 */
#define _GNU_SOURCE 1	/* setresuid, setresgid */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sandbox.h"

static int parse_id(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || end == s || *end || *out > max ? -1 : 0;
}

int xvsb_resolve(struct xvsb_config *c, const char *spec, uint32_t domid,
		 char *err, size_t errlen)
{
	const unsigned long max = 0xfffffffeul;	/* (uid_t)-1 means "unchanged" */
	unsigned long u, g;
	const struct passwd *pw;
	const char *colon;

	*c = (struct xvsb_config){ 0 };
	if (!spec || !*spec) {
		c->uid = c->gid = XVSB_DEFAULT_UID_BASE + domid;
		return 0;
	}
	if (!strcmp(spec, "root")) {
		c->keep_root = true;
		return 0;
	}
	if (!strncmp(spec, "base:", 5)) {
		if (parse_id(spec + 5, max - 0x7fff, &u) || !u)
			goto bad;
		c->uid = c->gid = u + domid;
		return 0;
	}
	colon = strchr(spec, ':');
	if (colon) {
		char uid[16];

		if (colon - spec >= (long)sizeof(uid))
			goto bad;
		snprintf(uid, sizeof(uid), "%.*s", (int)(colon - spec), spec);
		if (parse_id(uid, max, &u) || parse_id(colon + 1, max, &g) || !u || !g)
			goto bad;
		c->uid = u;
		c->gid = g;
		return 0;
	}
	pw = getpwnam(spec);
	if (!pw) {
		snprintf(err, errlen, "no user '%s'", spec);
		return -1;
	}
	if (!pw->pw_uid || !pw->pw_gid) {
		snprintf(err, errlen, "user '%s' is root or in group root: say --runas root to mean it",
			 spec);
		return -1;
	}
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	return 0;
bad:
	snprintf(err, errlen, "bad user '%s' (root, USER, UID:GID or base:UID, ids not 0)",
		 spec);
	return -1;
}

/*
 * An empty root nobody can add to: a fresh directory, removed while it is
 * the working directory. Its inode lives on as long as it is our root.
 */
static int enter_empty_root(char *err, size_t errlen)
{
	static const char *const parents[] = { "/run", "/tmp" };
	char dir[64];

	for (unsigned int i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/xen-virtio-root.XXXXXX", parents[i]);
		if (!mkdtemp(dir))
			continue;
		if (chdir(dir) || rmdir(dir) || chroot(".") || chdir("/")) {
			snprintf(err, errlen, "cannot enter an empty root at %s: %m", dir);
			rmdir(dir);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "cannot make an empty directory in /run or /tmp: %m");
	return -1;
}

static int enter_root(const struct xvsb_config *c, char *err, size_t errlen)
{
	if (!c->chroot[0])
		return enter_empty_root(err, errlen);
	if (chroot(c->chroot) || chdir("/")) {
		snprintf(err, errlen, "cannot chroot to %s: %m", c->chroot);
		return -1;
	}
	return 0;
}

/*
 * glibc changes the ids of every thread (the workers run already), and a
 * thread whose uids all leave 0 loses every capability it had; with
 * no_new_privs and no execve none comes back.
 */
static int change_user(const struct xvsb_config *c, char *err, size_t errlen)
{
	if (c->keep_root)
		return 0;
	if (setgroups(0, NULL) || setresgid(c->gid, c->gid, c->gid) ||
	    setresuid(c->uid, c->uid, c->uid)) {
		snprintf(err, errlen, "cannot become uid %u gid %u: %m",
			 (unsigned int)c->uid, (unsigned int)c->gid);
		return -1;
	}
	return 0;
}

int xvsb_enter(const struct xvsb_config *c, char *err, size_t errlen)
{
	const struct rlimit no_core = { 0, 0 };

	if (enter_root(c, err, errlen) || change_user(c, err, errlen))
		return -1;
	/* A dump would hold guest memory; a debugger could reach the guest. */
	if (setrlimit(RLIMIT_CORE, &no_core) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "cannot restrict the process: %m");
		return -1;
	}
	return xvsb_filter(err, errlen);
}

/* ---- system call filter ------------------------------------------------- */

/*
 * What serving needs: event loops, I/O on fds opened before, guest memory
 * mappings and Xen's ioctls, threads already running, time and signals to
 * itself. Names missing on an architecture are skipped.
 */
static const char *const allowed[] = {
	"read", "readv", "write", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "close", "lseek", "_llseek",
	"fstat", "fstat64", "newfstatat", "fstatat64", "statx", "fsync",
	"fdatasync", "fallocate", "flock", "ioctl", "fcntl", "fcntl64",
	"mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "brk",
	"futex", "futex_time64", "set_robust_list", "get_robust_list", "rseq",
	"membarrier", "sched_yield", "sched_getaffinity", "getpriority",
	"setpriority",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll",
	"ppoll", "ppoll_time64", "select", "pselect6", "pselect6_time64",
	"accept", "accept4", "recvfrom", "recvmsg", "recvmmsg", "sendto",
	"sendmsg", "sendmmsg", "shutdown", "getsockopt", "setsockopt",
	"getsockname", "getpeername",
	"eventfd2", "timerfd_settime", "timerfd_settime64", "timerfd_gettime",
	"timerfd_gettime64",
	"rt_sigprocmask", "rt_sigreturn", "sigreturn", "rt_sigaction",
	"sigaltstack", "restart_syscall",
	"clock_gettime", "clock_gettime64", "clock_getres", "clock_nanosleep",
	"clock_nanosleep_time64", "nanosleep", "gettimeofday", "time",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"getrandom", "io_uring_enter", "io_uring_register",
	"exit", "exit_group",
};

/* Refused with EACCES, not fatal: library code may try, and copes. */
static const char *const refused[] = {
	"open", "openat", "openat2", "creat", "socket", "connect", "bind",
	"listen", "execve", "execveat", "clone", "clone3", "fork", "vfork",
	"mkdir", "mkdirat", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "link", "linkat", "symlink", "symlinkat", "chmod",
	"fchmod", "fchmodat", "chown", "fchown", "fchownat", "lchown",
	"access", "faccessat", "faccessat2", "stat", "lstat", "memfd_create",
	"ptrace", "process_vm_readv", "process_vm_writev",
};

static int add_list(scmp_filter_ctx f, const char *const *names,
		    unsigned int n, uint32_t action)
{
	for (unsigned int i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		if (nr < 0)		/* not a system call here */
			continue;
		if (seccomp_rule_add(f, action, nr, 0))
			return -1;
	}
	return 0;
}

/* Signals only to this process (abort(), raise(), a stop asked by QMP). */
static int add_self_signals(scmp_filter_ctx f)
{
	/* Spelled out: SCMP_A0() leaves a field to the compiler. */
	const struct scmp_arg_cmp self = {
		.arg = 0, .op = SCMP_CMP_EQ,
		.datum_a = (scmp_datum_t)getpid(), .datum_b = 0,
	};

	return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, self) ||
	       seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, self) ?
	       -1 : 0;
}

/* A thread may name itself (a device's worker starts in the sandbox). */
static int add_thread_names(scmp_filter_ctx f)
{
	const struct scmp_arg_cmp set = {
		.arg = 0, .op = SCMP_CMP_EQ, .datum_a = PR_SET_NAME,
	}, get = {
		.arg = 0, .op = SCMP_CMP_EQ, .datum_a = PR_GET_NAME,
	};

	return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, set) ||
	       seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, get) ?
	       -1 : 0;
}

int xvsb_filter(char *err, size_t errlen)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = -1;

	if (!f) {
		snprintf(err, errlen, "cannot set up a system call filter");
		return -1;
	}
	/* For every thread of the process, not only this one. */
	if (seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1)) {
		snprintf(err, errlen, "the system call filter cannot cover every thread");
		goto out;
	}
	if (add_list(f, allowed, sizeof(allowed) / sizeof(allowed[0]),
		     SCMP_ACT_ALLOW) ||
	    add_list(f, refused, sizeof(refused) / sizeof(refused[0]),
		     SCMP_ACT_ERRNO(EACCES)) ||
	    add_self_signals(f) || add_thread_names(f)) {
		snprintf(err, errlen, "cannot build the system call filter");
		goto out;
	}
	rc = seccomp_load(f);
	if (rc)
		snprintf(err, errlen, "cannot load the system call filter: %s%s",
			 strerror(-rc), rc == -EINVAL || rc == -ENOSYS ?
			 " (a kernel without CONFIG_SECCOMP_FILTER? --no-sandbox serves without the sandbox)" : "");
	rc = rc ? -1 : 0;
out:
	seccomp_release(f);
	return rc;
}
