// SPDX-License-Identifier: MIT
/*
 * The service configuration file (see svc_conf.h). Written by the
 * administrator, not by guests, but still parsed strictly: a rule that
 * does not parse is an error with its line number, not a silent skip.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_conf.h"

#define XVCONF_MAX_RULES 1024
#define XVCONF_MAX_FILE (1 << 20)

struct xvconf_rule {
	char *guest;
	char *node;
	char *spec;
};

struct xvconf {
	unsigned int n;
	struct xvconf_rule rules[];
};

void xvconf_free(struct xvconf *c)
{
	if (!c)
		return;
	for (unsigned int i = 0; i < c->n; i++) {
		free(c->rules[i].guest);
		free(c->rules[i].node);
		free(c->rules[i].spec);
	}
	free(c);
}

unsigned int xvconf_rules(const struct xvconf *c)
{
	return c ? c->n : 0;
}

/* Split a line into at most max words; returns the count, max + 1 if more. */
static unsigned int split_words(char *line, char **w, unsigned int max)
{
	unsigned int n = 0;
	char *save, *tok;

	for (tok = strtok_r(line, " \t\r", &save); tok;
	     tok = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return max + 1;
		w[n++] = tok;
	}
	return n;
}

static int check_node(const char *node)
{
	const char *slash = strchr(node, '/');

	return slash && slash != node && slash[1] ? 0 : -1;
}

static int add_rule(struct xvconf *c, char **w)
{
	struct xvconf_rule *r = &c->rules[c->n];

	r->guest = strdup(w[0]);
	r->node = strdup(w[1]);
	r->spec = strdup(w[2]);
	c->n++;
	return r->guest && r->node && r->spec ? 0 : -ENOMEM;
}

static int parse_line(struct xvconf *c, char *line, char *err, size_t errlen)
{
	char *w[3], *hash = strchr(line, '#');
	unsigned int n;

	if (hash)
		*hash = '\0';
	n = split_words(line, w, 3);
	if (n == 0)
		return 0;
	if (n != 3) {
		snprintf(err, errlen, "want GUEST NODE SPEC, found %u word%s",
			 n > 3 ? 4 : n, n == 1 ? "" : "s");
		return -EINVAL;
	}
	if (check_node(w[1])) {
		snprintf(err, errlen, "node '%s' is not KIND/DEVID (e.g. virtio/0)", w[1]);
		return -EINVAL;
	}
	if (c->n == XVCONF_MAX_RULES) {
		snprintf(err, errlen, "more than %d rules", XVCONF_MAX_RULES);
		return -E2BIG;
	}
	if (add_rule(c, w)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

struct xvconf *xvconf_parse(const char *text, const char *name, char *err,
			    size_t errlen)
{
	struct xvconf *c = calloc(1, sizeof(*c) +
				  XVCONF_MAX_RULES * sizeof(struct xvconf_rule));
	char *copy = strdup(text), *line, *save, msg[200];
	unsigned int lineno = 0;

	if (!c || !copy) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	/* strtok_r would merge empty lines and so miscount them. */
	for (line = copy; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		if (parse_line(c, line, msg, sizeof(msg))) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, msg);
			goto fail;
		}
	}
	free(copy);
	return c;
fail:
	free(copy);
	xvconf_free(c);
	return NULL;
}

struct xvconf *xvconf_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct xvconf *c = NULL;
	char *text;
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = malloc(XVCONF_MAX_FILE + 1);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(f);
		return NULL;
	}
	n = fread(text, 1, XVCONF_MAX_FILE + 1, f);
	if (ferror(f))
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else if (n > XVCONF_MAX_FILE)
		snprintf(err, errlen, "%s: larger than %d bytes", path, XVCONF_MAX_FILE);
	else if (memchr(text, '\0', n))
		snprintf(err, errlen, "%s: not a text file", path);
	else {
		text[n] = '\0';
		c = xvconf_parse(text, path, err, errlen);
	}
	free(text);
	fclose(f);
	return c;
}

/* Append s to out at *pos; -ENOSPC when full. */
static int put(char *out, size_t outlen, size_t *pos, const char *s)
{
	size_t l = strlen(s);

	if (*pos + l >= outlen)
		return -ENOSPC;
	memcpy(out + *pos, s, l + 1);
	*pos += l;
	return 0;
}

/*
 * A name goes into file paths and option lists: anything beyond these
 * characters (a '/', a ',', "..") could point a device elsewhere.
 */
static int safe_name(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return -EINVAL;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-", *s))
			return -EINVAL;
	return 0;
}

static int expand(const char *spec, const char *guest, uint32_t domid,
		  unsigned int devid, char *out, size_t outlen)
{
	size_t pos = 0;
	char num[16], ch[2] = { 0, 0 };
	int rc = 0;

	if (!outlen)
		return -ENOSPC;
	out[0] = '\0';
	for (const char *p = spec; *p && !rc; p++) {
		if (*p != '%' || !p[1]) {
			ch[0] = *p;
			rc = put(out, outlen, &pos, ch);
			continue;
		}
		switch (*++p) {
		case 'n':
			rc = safe_name(guest) ?: put(out, outlen, &pos, guest);
			break;
		case 'd':
			snprintf(num, sizeof(num), "%u", domid);
			rc = put(out, outlen, &pos, num);
			break;
		case 'i':
			snprintf(num, sizeof(num), "%u", devid);
			rc = put(out, outlen, &pos, num);
			break;
		default:	/* "%%", and an unknown "%x" stays as written */
			if (*p != '%')
				rc = put(out, outlen, &pos, "%");
			ch[0] = *p;
			if (!rc)
				rc = put(out, outlen, &pos, ch);
		}
	}
	return rc;
}

int xvconf_lookup(const struct xvconf *c, const char *guest, uint32_t domid,
		  const char *kind, unsigned int devid, char *out,
		  size_t outlen)
{
	char node[64];
	int rc;

	if (!c)
		return 0;
	snprintf(node, sizeof(node), "%s/%u", kind, devid);
	for (unsigned int i = 0; i < c->n; i++) {
		const struct xvconf_rule *r = &c->rules[i];

		if (fnmatch(r->guest, guest, 0) || fnmatch(r->node, node, 0))
			continue;
		rc = expand(r->spec, guest, domid, devid, out, outlen);
		return rc ? rc : 1;
	}
	return 0;
}
