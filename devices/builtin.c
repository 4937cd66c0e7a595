// SPDX-License-Identifier: MIT
#include "devices.h"

void vdev_register_builtin(void)
{
	static const struct vdev_model *const builtin[] = {
		&vdev_rng_model,
		&vdev_blk_model,
		&vdev_console_model,
	};

	for (unsigned int i = 0; i < sizeof(builtin) / sizeof(*builtin); i++)
		vdev_model_register(builtin[i]);
}
