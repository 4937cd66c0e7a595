// SPDX-License-Identifier: MIT
/*
 * libxl's backend node paths (lib/xen/xs.c): the monitor writes Closed to
 * the nodes the server names, as Dom0, so only this guest's libxl nodes
 * in this domain pass xvxs_is_node_path().
 */
#include <stdint.h>

#include "xs.h"
#include "xtest.h"

static void node_paths(void)
{
	static const char *const ours[] = {
		"/local/domain/0/backend/virtio_disk/5/51712",
		"/local/domain/0/backend/virtio/5/0",
	};
	static const char *const others[] = {
		"/local/domain/0/backend/virtio_disk/6/51712",	/* another guest */
		"/local/domain/0/backend/virtio_disk/51/1",	/* a longer domid */
		"/local/domain/1/backend/virtio/5/0",		/* another backend */
		"/local/domain/0/backend/vbd/5/51712",		/* not virtio */
		"/local/domain/0/backend/virtio/5/",		/* no devid */
		"/local/domain/0/backend/virtio/5",
		"/local/domain/0/backend/virtio/5/0/state",	/* deeper */
		"/local/domain/0/backend/virtio/5/..",
		"/local/domain/0/backend/virtio_disk/5/../../6/1",
		"/local/domain/0/backend/virtio_disk/5x/1",
		"/vm/0/backend/virtio/5/0",
		"",
	};

	for (unsigned int i = 0; i < XT_COUNT(ours); i++)
		XT_ASSERT_MSG(xvxs_is_node_path(ours[i], 0, 5), "%s refused", ours[i]);
	for (unsigned int i = 0; i < XT_COUNT(others); i++)
		XT_ASSERT_MSG(!xvxs_is_node_path(others[i], 0, 5), "%s accepted",
			      others[i]);
}

static const struct xt_case cases[] = {
	XT_CASE(node_paths),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
