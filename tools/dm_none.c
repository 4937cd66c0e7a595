// SPDX-License-Identifier: MIT
/* The device-model mode needs libyajl for QMP; this build has none. */
#include <stdio.h>

#include "dm.h"

int xvdm_main(int argc, char **argv)
{
	fprintf(stderr, "xen-virtio: started as a device model (QEMU's command line), but built without libyajl, which that mode needs for QMP\n");
	return 1;
}
