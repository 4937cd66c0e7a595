// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "privcmd_ev.h"

int xv_privcmd_open(uint16_t domid)
{
	int fd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, XV_IOCTL_PRIVCMD_RESTRICT, &domid)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

const char *xv_privcmd_why(int err)
{
	return xv_privcmd_unsupported(err) ?
	       "Dom0's kernel has no privcmd eventfds (Linux 6.7+ with CONFIG_XEN_PRIVCMD_EVENTFD)" :
	       strerror(-err);
}
