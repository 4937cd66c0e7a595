// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "log.h"
#include "xs.h"

static char *read_key(struct xs_handle *xs, const char *dir, const char *key)
{
	char path[256];
	unsigned int len;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
		return NULL;
	return xs_read(xs, XBT_NULL, path, &len);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	/* base 0: the disk path writes decimal, the virtio path 0x-hex */
	*out = strtoull(s, &end, 0);
	return !errno && !*end;
}

uint32_t xvxs_self_domid(struct xs_handle *xs)
{
	unsigned int len;
	char *s = xs_read(xs, XBT_NULL, "domid", &len);
	uint32_t id = s ? strtoul(s, NULL, 10) : 0;

	free(s);
	return id;
}

int xvxs_find_domain(struct xs_handle *xs, const char *name, uint32_t *domid)
{
	unsigned int n;
	char **ids = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	int rc = -ENOENT;

	for (unsigned int i = 0; ids && i < n && rc; i++) {
		char dir[64], *v;

		snprintf(dir, sizeof(dir), "/local/domain/%s", ids[i]);
		v = read_key(xs, dir, "name");
		if (v && !strcmp(v, name)) {
			*domid = strtoul(ids[i], NULL, 10);
			rc = 0;
		}
		free(v);
	}
	free(ids);
	return rc;
}

/* NULL when the node is usable, else why not. */
static const char *read_node(struct xs_handle *xs, struct xvxs_node *nd)
{
	const char *why = NULL;
	char *base = read_key(xs, nd->path, "base");
	char *irq = read_key(xs, nd->path, "irq");
	uint64_t v;
	bool ok = parse_u64(base, &nd->base) && parse_u64(irq, &v) && v < 1024;

	nd->irq = ok ? v : 0;
	free(base);
	free(irq);
	if (!ok)
		return "no usable base/irq";
	if (!strcmp(nd->kind, "virtio_disk")) {
		char *params = read_key(xs, nd->path, "params");
		char *mode = read_key(xs, nd->path, "mode");
		size_t n = params ? strlen(params) : 0;

		/* A truncated path would name another file: refuse it. */
		if (n >= sizeof(nd->params)) {
			why = "params longer than 255 bytes";
			n = 0;
		}
		memcpy(nd->params, params ? params : "", n);
		nd->params[n] = '\0';
		nd->readonly = mode && mode[0] == 'r';
		free(params);
		free(mode);
	} else {
		char *type = read_key(xs, nd->path, "type");
		char *g = read_key(xs, nd->path, "grant_usage");

		snprintf(nd->type, sizeof(nd->type), "%s", type ? type : "");
		nd->grants = g && g[0] == '1';
		free(type);
		free(g);
	}
	return why;
}

static const char *const kinds[] = { "virtio_disk", "virtio" };

/* Where libxl puts frontend fe's nodes of one kind; the length. */
static int kind_dir(char *dir, size_t len, uint32_t self, const char *kind,
		    uint32_t fe)
{
	return snprintf(dir, len, "/local/domain/%u/backend/%s/%u", self, kind, fe);
}

bool xvxs_is_node_path(const char *path, uint32_t self, uint32_t fe)
{
	char dir[96];

	for (unsigned int i = 0; i < 2; i++) {
		int n = kind_dir(dir, sizeof(dir), self, kinds[i], fe);

		if (!strncmp(path, dir, n) && path[n] == '/' && path[n + 1] &&
		    !strchr(path + n + 1, '/') && !strstr(path, ".."))
			return true;
	}
	return false;
}

static int list_kind(struct xs_handle *xs, uint32_t self, uint32_t fe,
		     const char *kind, struct xvxs_node *out, unsigned int max)
{
	char dir[96];
	unsigned int n, found = 0;
	const char *why;
	char **devs;

	kind_dir(dir, sizeof(dir), self, kind, fe);
	devs = xs_directory(xs, XBT_NULL, dir, &n);
	for (unsigned int i = 0; devs && i < n && found < max; i++) {
		struct xvxs_node *nd = &out[found];

		memset(nd, 0, sizeof(*nd));
		snprintf(nd->kind, sizeof(nd->kind), "%s", kind);
		if (strlen(devs[i]) > 16)
			continue;
		snprintf(nd->path, sizeof(nd->path), "%s/%.16s", dir, devs[i]);
		nd->devid = strtoul(devs[i], NULL, 10);
		/* libxl writes a node in one transaction: partial means foreign */
		why = read_node(xs, nd);
		if (!why)
			found++;
		else if (xvxs_state(xs, nd->path) >= 0)	/* not being removed */
			log_warn("%s: %s, ignored", nd->path, why);
	}
	free(devs);
	return found;
}

int xvxs_list_nodes(struct xs_handle *xs, uint32_t self, uint32_t fe,
		    struct xvxs_node *out, unsigned int max)
{
	int n = list_kind(xs, self, fe, kinds[0], out, max);

	return n + list_kind(xs, self, fe, kinds[1], out + n, max - n);
}

int xvxs_state(struct xs_handle *xs, const char *node_path)
{
	char *s = read_key(xs, node_path, "state");
	int st = s ? atoi(s) : -1;

	free(s);
	return st;
}

int xvxs_set_state(struct xs_handle *xs, const char *node_path, int state)
{
	char path[256], val[8];

	snprintf(path, sizeof(path), "%s/state", node_path);
	snprintf(val, sizeof(val), "%d", state);
	if (!xs_write(xs, XBT_NULL, path, val, strlen(val))) {
		log_err("cannot write %s = %s: %m", path, val);
		return -errno;
	}
	return 0;
}

int xvxs_domain_name(struct xs_handle *xs, uint32_t domid, char *out,
		     size_t len)
{
	char dir[64], *v;

	snprintf(dir, sizeof(dir), "/local/domain/%u", domid);
	v = read_key(xs, dir, "name");
	if (!v)
		return -ENOENT;
	snprintf(out, len, "%s", v);
	free(v);
	return 0;
}

static bool has_initialising(struct xs_handle *xs, uint32_t self, uint32_t fe)
{
	struct xvxs_node nodes[32];
	int k = xvxs_list_nodes(xs, self, fe, nodes, 32);

	for (int j = 0; j < k; j++)
		if (xvxs_state(xs, nodes[j].path) == XVXS_STATE_INITIALISING)
			return true;
	return false;
}

/* Frontends of one kind that have a node in state Initialising. */
static int list_new_kind(struct xs_handle *xs, uint32_t self, const char *kind,
			 uint32_t *out, unsigned int n, unsigned int max)
{
	char dir[128], **fes;
	unsigned int nfe, m;

	snprintf(dir, sizeof(dir), "/local/domain/%u/backend/%s", self, kind);
	fes = xs_directory(xs, XBT_NULL, dir, &nfe);
	for (unsigned int i = 0; fes && i < nfe && n < max; i++) {
		char *end;
		unsigned long fe = strtoul(fes[i], &end, 10);

		/* DOMID_FIRST_RESERVED and up are not guests */
		if (*end || end == fes[i] || fe >= 0x7ff0)
			continue;
		for (m = 0; m < n && out[m] != fe; m++)
			;
		if (m == n && has_initialising(xs, self, fe))
			out[n++] = fe;
	}
	free(fes);
	return n;
}

int xvxs_list_new_frontends(struct xs_handle *xs, uint32_t self,
			    uint32_t *out, unsigned int max)
{
	unsigned int n = list_new_kind(xs, self, "virtio_disk", out, 0, max);

	return list_new_kind(xs, self, "virtio", out, n, max);
}
