// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
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
