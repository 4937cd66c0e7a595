/* SPDX-License-Identifier: MIT */
/*
 * The service configuration file: device options for the backend nodes
 * libxl writes, per guest. One rule a line:
 *
 *   GUEST  NODE  SPEC
 *
 * GUEST is a domain name pattern and NODE a "KIND/DEVID" pattern (KIND
 * "virtio" for `virtio = [...]`, "virtio_disk" for virtio disks), both
 * fnmatch(3) globs; SPEC is a device spec (opts.h) in which %n stands for
 * the guest's name, %d for its domain id, %i for the node's devid and %%
 * for a percent sign. '#' starts a comment. The first matching rule wins.
 */
#ifndef XV_TOOLS_SVC_CONF_H
#define XV_TOOLS_SVC_CONF_H

#include <stddef.h>
#include <stdint.h>

struct xvconf;

/* Parse a file; NULL with a message naming file and line in err. */
struct xvconf *xvconf_load(const char *path, char *err, size_t errlen);
/* The same from a string (name is used in messages). */
struct xvconf *xvconf_parse(const char *text, const char *name, char *err,
			    size_t errlen);
void xvconf_free(struct xvconf *c);
unsigned int xvconf_rules(const struct xvconf *c);

/*
 * The expanded spec of the first rule matching the guest and node into
 * out: 1 if one matched, 0 if none, -ENOSPC if it does not fit, -EINVAL
 * if it uses %n and the name holds more than letters, digits, ".-_".
 */
int xvconf_lookup(const struct xvconf *c, const char *guest, uint32_t domid,
		  const char *kind, unsigned int devid, char *out,
		  size_t outlen);

#endif
