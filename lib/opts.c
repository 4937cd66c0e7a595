// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

/* Copy one comma-separated token, turning ",," into ",". */
static const char *next_token(const char *s, char **out)
{
	size_t n = 0;
	char *t = malloc(strlen(s) + 1);

	if (!t)
		return NULL;
	while (*s) {
		if (*s == ',') {
			if (s[1] != ',')
				break;
			s++;
		}
		t[n++] = *s++;
	}
	t[n] = '\0';
	*out = t;
	return s;
}

static int add_kv(struct vopts *o, char *tok, char *err, size_t errlen)
{
	char *eq = strchr(tok, '=');

	if (!eq || eq == tok) {
		snprintf(err, errlen, "'%s' is not key=value", tok);
		return -EINVAL;
	}
	*eq = '\0';
	for (unsigned int i = 0; i < o->n; i++) {
		if (!strcmp(o->kv[i].key, tok)) {
			snprintf(err, errlen, "key '%s' given twice", tok);
			return -EINVAL;
		}
	}
	if (o->n == VOPTS_MAX) {
		snprintf(err, errlen, "more than %d options", VOPTS_MAX);
		return -EINVAL;
	}
	o->kv[o->n].key = strdup(tok);
	o->kv[o->n].val = strdup(eq + 1);
	o->kv[o->n].used = false;
	if (!o->kv[o->n].key || !o->kv[o->n].val) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->n++;
	return 0;
}

int vopts_parse(struct vopts *o, const char *spec, char *err, size_t errlen)
{
	const char *s = spec;
	char *tok;
	int rc = 0;

	memset(o, 0, sizeof(*o));
	s = next_token(s, &tok);
	if (!s)
		return -ENOMEM;
	if (!tok[0] || strchr(tok, '=')) {
		snprintf(err, errlen, "'%s': a device spec starts with a model name", spec);
		free(tok);
		return -EINVAL;
	}
	o->model = tok;
	while (*s == ',') {
		s = next_token(s + 1, &tok);
		if (!s)
			return -ENOMEM;
		rc = add_kv(o, tok, err, errlen);
		free(tok);
		if (rc) {
			vopts_free(o);
			return rc;
		}
	}
	return 0;
}

void vopts_free(struct vopts *o)
{
	free(o->model);
	for (unsigned int i = 0; i < o->n; i++) {
		free(o->kv[i].key);
		free(o->kv[i].val);
	}
	memset(o, 0, sizeof(*o));
}

int vopts_set(struct vopts *o, const char *key, const char *val)
{
	char *v = strdup(val);

	if (!v)
		return -ENOMEM;
	for (unsigned int i = 0; i < o->n; i++) {
		if (!strcmp(o->kv[i].key, key)) {
			free(o->kv[i].val);
			o->kv[i].val = v;
			return 0;
		}
	}
	if (o->n == VOPTS_MAX) {
		free(v);
		return -E2BIG;
	}
	o->kv[o->n].key = strdup(key);
	if (!o->kv[o->n].key) {
		free(v);
		return -ENOMEM;
	}
	o->kv[o->n].val = v;
	o->kv[o->n].used = false;
	o->n++;
	return 0;
}

const char *vopts_get(struct vopts *o, const char *key)
{
	for (unsigned int i = 0; i < o->n; i++) {
		if (!strcmp(o->kv[i].key, key)) {
			o->kv[i].used = true;
			return o->kv[i].val;
		}
	}
	return NULL;
}

int vopts_get_bool(struct vopts *o, const char *key, bool def, bool *out,
		   char *err, size_t errlen)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	const char *v = vopts_get(o, key);

	*out = def;
	if (!v)
		return 0;
	for (unsigned int i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	snprintf(err, errlen, "%s=%s: expected on or off", key, v);
	return -EINVAL;
}

int vopts_get_u64(struct vopts *o, const char *key, uint64_t def,
		  uint64_t min, uint64_t max, uint64_t *out,
		  char *err, size_t errlen)
{
	const char *v = vopts_get(o, key);
	char *end;
	unsigned long long x;

	*out = def;
	if (!v)
		return 0;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (!v[0] || *end || errno || v[0] == '-') {
		snprintf(err, errlen, "%s=%s: not a number", key, v);
		return -EINVAL;
	}
	if (x < min || x > max) {
		snprintf(err, errlen, "%s=%s: out of range [%" PRIu64 ", %" PRIu64 "]",
			 key, v, min, max);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

int vopts_check_used(const struct vopts *o, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < o->n; i++) {
		if (!o->kv[i].used) {
			snprintf(err, errlen, "%s: unknown option '%s'", o->model,
				 o->kv[i].key);
			return -EINVAL;
		}
	}
	return 0;
}
