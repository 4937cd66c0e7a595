/* SPDX-License-Identifier: MIT */
/*
 * xen-virtio started by libxl in place of QEMU (xl.cfg's
 * device_model_override): it takes QEMU's command line (dm_args.h), serves
 * the guest as the daemon does, answers libxl's QMP dialogue (qmp.h) and
 * the device-model state in xenstore, and ends on libxl's SIGHUP or when
 * the guest is gone. Without -xen-domid it is libxl 4.20's option probe:
 * QMP only, until "quit". Returns the exit status.
 */
#ifndef XV_TOOLS_DM_H
#define XV_TOOLS_DM_H

#include "dm_args.h"

int xvdm_main(int argc, char **argv);

#endif
