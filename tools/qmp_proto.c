// SPDX-License-Identifier: MIT
/*
 * QMP without I/O (see qmp_proto.h). A small scanner frames each value
 * (strings, escapes, nesting) and only a complete one goes to yajl's tree
 * parser: a slow or hostile client costs one bounded buffer, and a broken
 * value never desynchronises the ones after it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "config.h"
#include "log.h"
#include "qmp_proto.h"

/*
 * libxl picks command dialects by the QEMU version in the greeting (it
 * checks for 2.8 and 2.11); this is the QEMU release whose command names
 * and reply shapes this dialogue follows.
 */
#define QEMU_MAJOR 7
#define QEMU_MINOR 2
#define QEMU_MICRO 0

struct result {
	const char *cls;
	char desc[192];
};

struct command {
	const char *name;
	/* Generates the "return" value into g, or fills r and returns -1
	 * before generating anything. */
	int (*fn)(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
		  struct result *r);
	const char *refusal;		/* fn == NULL: why it is not done */
};

int xvqmp_buf_add(struct xvqmp_buf *b, const void *data, size_t n)
{
	if (!n)
		return 0;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

void xvqmp_buf_consume(struct xvqmp_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void xvqmp_buf_free(struct xvqmp_buf *b)
{
	free(b->p);
	*b = (struct xvqmp_buf){ 0 };
}

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_int(yajl_gen g, const char *key, long long v)
{
	gen_str(g, key);
	yajl_gen_integer(g, v);
}

/* A value as it came (the client's "id"); the scanner bounds its depth. */
static void gen_val(yajl_gen g, yajl_val v)
{
	size_t i;

	switch (v->type) {
	case yajl_t_string:
		gen_str(g, v->u.string);
		break;
	case yajl_t_number:
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
		break;
	case yajl_t_object:
		yajl_gen_map_open(g);
		for (i = 0; i < v->u.object.len; i++) {
			gen_str(g, v->u.object.keys[i]);
			gen_val(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
		break;
	case yajl_t_array:
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			gen_val(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
		break;
	case yajl_t_true:
		yajl_gen_bool(g, 1);
		break;
	case yajl_t_false:
		yajl_gen_bool(g, 0);
		break;
	default:
		yajl_gen_null(g);
		break;
	}
}

/* Close the reply opened by the caller, add the id, queue it with "\r\n". */
static int finish(yajl_gen g, yajl_val id, struct xvqmp_buf *out)
{
	const unsigned char *buf;
	size_t len;
	int rc = -ENOMEM;

	if (id) {
		gen_str(g, "id");
		gen_val(g, id);
	}
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		rc = xvqmp_buf_add(out, buf, len) ?: xvqmp_buf_add(out, "\r\n", 2);
	yajl_gen_free(g);
	return rc;
}

static int reply_error(struct xvqmp_buf *out, yajl_val id, const char *cls,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int reply_error(struct xvqmp_buf *out, yajl_val id, const char *cls,
		       const char *fmt, ...)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	char desc[256];
	va_list ap;

	if (!g)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	/* it may quote the client: keep the reply valid UTF-8 */
	for (char *c = desc; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	yajl_gen_map_open(g);
	gen_str(g, "error");
	yajl_gen_map_open(g);
	gen_str(g, "class");
	gen_str(g, cls);
	gen_str(g, "desc");
	gen_str(g, desc);
	yajl_gen_map_close(g);
	return finish(g, id, out);
}

/* The version object of the greeting and of query-version. */
static void gen_version(yajl_gen g)
{
	yajl_gen_map_open(g);
	gen_str(g, "qemu");
	yajl_gen_map_open(g);
	gen_int(g, "micro", QEMU_MICRO);
	gen_int(g, "minor", QEMU_MINOR);
	gen_int(g, "major", QEMU_MAJOR);
	yajl_gen_map_close(g);
	gen_str(g, "package");
	gen_str(g, PACKAGE_NAME " " PACKAGE_VERSION);
	yajl_gen_map_close(g);
}

int xvqmp_greeting(struct xvqmp_buf *out)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_str(g, "QMP");
	yajl_gen_map_open(g);
	gen_str(g, "version");
	gen_version(g);
	gen_str(g, "capabilities");
	yajl_gen_array_open(g);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return finish(g, NULL, out);
}

static void fail(struct result *r, const char *cls, const char *desc)
{
	r->cls = cls;
	snprintf(r->desc, sizeof(r->desc), "%s", desc);
}

static void set_status(struct xvqmp_sess *s, enum xvqmp_status st,
		       enum xvqmp_event ev)
{
	s->st->status = st;
	if (s->st->event)
		s->st->event(ev, s->st->opaque);
}

static int cmd_capabilities(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
			    struct result *r)
{
	if (s->negotiated) {
		fail(r, "CommandNotFound",
		     "Capabilities negotiation is already complete, command ignored");
		return -1;
	}
	s->negotiated = true;
	yajl_gen_map_open(g);
	yajl_gen_map_close(g);
	return 0;
}

static const char *status_name(enum xvqmp_status st)
{
	switch (st) {
	case XVQMP_PRELAUNCH:
		return "prelaunch";
	case XVQMP_PAUSED:
		return "paused";
	default:
		return "running";
	}
}

static int cmd_query_status(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
			    struct result *r)
{
	yajl_gen_map_open(g);
	gen_str(g, "status");
	gen_str(g, status_name(s->st->status));
	gen_str(g, "singlestep");
	yajl_gen_bool(g, 0);
	gen_str(g, "running");
	yajl_gen_bool(g, s->st->status == XVQMP_RUNNING);
	yajl_gen_map_close(g);
	return 0;
}

static int cmd_query_version(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
			     struct result *r)
{
	gen_version(g);
	return 0;
}

/*
 * Nothing to list: no -run-with for libxl's probe (4.20), no serial pty
 * for libxl to record, no qdisk for libxenstat. Empty lists, not errors,
 * because the callers treat an error as a broken device model.
 */
static int cmd_empty_list(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
			  struct result *r)
{
	yajl_gen_array_open(g);
	yajl_gen_array_close(g);
	return 0;
}

static int cmd_query_vnc(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
			 struct result *r)
{
	yajl_gen_map_open(g);
	gen_str(g, "enabled");
	yajl_gen_bool(g, 0);
	yajl_gen_map_close(g);
	return 0;
}

static int cmd_empty(yajl_gen g)
{
	yajl_gen_map_open(g);
	yajl_gen_map_close(g);
	return 0;
}

static int cmd_stop(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
		    struct result *r)
{
	set_status(s, XVQMP_PAUSED, XVQMP_EV_STOP);
	return cmd_empty(g);
}

static int cmd_cont(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
		    struct result *r)
{
	set_status(s, XVQMP_RUNNING, XVQMP_EV_CONT);
	return cmd_empty(g);
}

static int cmd_quit(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
		    struct result *r)
{
	if (s->st->event)
		s->st->event(XVQMP_EV_QUIT, s->st->opaque);
	return cmd_empty(g);
}

static int cmd_query_commands(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
			      struct result *r);

#define NO_MIGRATION "xen-virtio keeps no device state to save or restore"

static const struct command commands[] = {
	{ "qmp_capabilities", cmd_capabilities, NULL },
	{ "query-status", cmd_query_status, NULL },
	{ "query-version", cmd_query_version, NULL },
	{ "query-commands", cmd_query_commands, NULL },
	{ "query-command-line-options", cmd_empty_list, NULL },
	{ "query-chardev", cmd_empty_list, NULL },
	{ "query-block", cmd_empty_list, NULL },
	{ "query-blockstats", cmd_empty_list, NULL },
	{ "query-vnc", cmd_query_vnc, NULL },
	{ "stop", cmd_stop, NULL },
	{ "cont", cmd_cont, NULL },
	{ "quit", cmd_quit, NULL },
	{ "xen-save-devices-state", NULL, NO_MIGRATION },
	{ "xen-load-devices-state", NULL, NO_MIGRATION },
	{ "xen-set-global-dirty-log", NULL, NO_MIGRATION },
	{ "change-vnc-password", NULL, "xen-virtio has no VNC server" },
};

static int cmd_query_commands(struct xvqmp_sess *s, yajl_val args, yajl_gen g,
			      struct result *r)
{
	yajl_gen_array_open(g);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!commands[i].fn)
			continue;
		yajl_gen_map_open(g);
		gen_str(g, "name");
		gen_str(g, commands[i].name);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	return 0;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* QMP command names are lower case words: log nothing else verbatim. */
static const char *loggable(const char *name)
{
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	return n && n <= 64 && !name[n] ? name : "(an odd name)";
}

static int run_command(struct xvqmp_sess *s, const char *name, yajl_val args,
		       yajl_val id, struct xvqmp_buf *out)
{
	const struct command *c = find_command(name);
	struct result r = { 0 };
	yajl_gen g;

	if (c && c->fn)
		log_info("QMP %s", c->name);
	else
		log_warn("QMP %s: %s", loggable(name), c ? "refused" : "unknown command");

	if (!s->negotiated && (!c || c->fn != cmd_capabilities))
		return reply_error(out, id, "CommandNotFound",
				   "Expecting capabilities negotiation with 'qmp_capabilities'");
	if (!c)
		return reply_error(out, id, "CommandNotFound",
				   "The command %.64s has not been found", name);
	if (!c->fn)
		return reply_error(out, id, "GenericError", "%s: %s", c->name,
				   c->refusal);
	g = yajl_gen_alloc(NULL);
	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_str(g, "return");
	if (c->fn(s, args, g, &r)) {
		yajl_gen_free(g);
		return reply_error(out, id, r.cls, "%s", r.desc);
	}
	return finish(g, id, out);
}

static yajl_val member(yajl_val obj, const char *key)
{
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

/* One command object, already parsed. */
static int handle_object(struct xvqmp_sess *s, yajl_val v,
			 struct xvqmp_buf *out)
{
	yajl_val id = member(v, "id");
	yajl_val exec = member(v, "execute");
	yajl_val args = member(v, "arguments");

	for (size_t i = 0; i < v->u.object.len; i++) {
		const char *k = v->u.object.keys[i];

		if (strcmp(k, "id") && strcmp(k, "execute") && strcmp(k, "arguments"))
			return reply_error(out, id, "GenericError",
					   "QMP input member '%.64s' is unexpected", k);
	}
	if (!exec)
		return reply_error(out, id, "GenericError",
				   "QMP input lacks member 'execute'");
	if (!YAJL_IS_STRING(exec))
		return reply_error(out, id, "GenericError",
				   "QMP input member 'execute' must be a string");
	if (args && !YAJL_IS_OBJECT(args))
		return reply_error(out, id, "GenericError",
				   "QMP input member 'arguments' must be an object");
	return run_command(s, exec->u.string, args, id, out);
}

/* The first line of yajl's message (the rest points into the input). */
static void first_line(char *msg)
{
	msg[strcspn(msg, "\r\n")] = '\0';
}

/* A complete value at in[start..end). */
static int handle_value(struct xvqmp_sess *s, size_t end, struct xvqmp_buf *out)
{
	char *text = s->in + s->start;
	size_t n = end - s->start;
	char saved = s->in[end], err[256] = "";
	yajl_val v;
	int rc;

	if (s->max_depth > XVQMP_MAX_DEPTH)
		return reply_error(out, NULL, "GenericError",
				   "JSON parse error, nesting deeper than %d",
				   XVQMP_MAX_DEPTH);
	if (memchr(text, '\0', n))
		return reply_error(out, NULL, "GenericError",
				   "JSON parse error, NUL byte in input");
	s->in[end] = '\0';
	v = yajl_tree_parse(text, err, sizeof(err));
	s->in[end] = saved;
	if (!v) {
		first_line(err);
		return reply_error(out, NULL, "GenericError",
				   "JSON parse error, %s", err);
	}
	if (!YAJL_IS_OBJECT(v))
		rc = reply_error(out, NULL, "GenericError",
				 "QMP input must be a JSON object");
	else
		rc = handle_object(s, v, out);
	yajl_tree_free(v);
	return rc;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A NUL ends one too: it becomes a value of its own, and an error. */
static bool ends_literal(char c)
{
	return !c || is_space(c) || strchr("{}[]\",:", c);
}

/* One byte of a value; returns true when the value ends after it. */
static bool scan_byte(struct xvqmp_sess *s, char c)
{
	if (s->in_str) {
		if (s->esc)
			s->esc = false;
		else if (c == '\\')
			s->esc = true;
		else if (c == '"')
			s->in_str = false;
		return s->kind == '"' && !s->in_str;
	}
	if (c == '"') {
		s->in_str = true;
	} else if (c == '{' || c == '[') {
		if (++s->depth > s->max_depth)
			s->max_depth = s->depth;
	} else if (c == '}' || c == ']') {
		return --s->depth == 0;
	}
	return false;
}

static void begin_value(struct xvqmp_sess *s, char c)
{
	s->start = s->pos;
	s->in_str = c == '"';
	s->esc = false;
	s->depth = 0;
	s->max_depth = 0;
	if (c == '{' || c == '[')
		s->kind = '{';
	else if (c == '"')
		s->kind = '"';
	else
		s->kind = 'l';
	if (s->kind == '{')
		scan_byte(s, c);
}

/* Frame and handle every complete value; keep the partial one. */
static int scan(struct xvqmp_sess *s, struct xvqmp_buf *out)
{
	int rc;

	while (s->pos < s->len) {
		char c = s->in[s->pos];
		size_t end = 0;

		if (!s->kind) {
			if (is_space(c)) {
				s->start = ++s->pos;
				continue;
			}
			begin_value(s, c);
			/* a stray delimiter is a value of its own (an error) */
			if (s->kind == 'l' && ends_literal(c))
				end = s->pos + 1;
			s->pos++;
		} else if (s->kind == 'l') {
			if (ends_literal(c))
				end = s->pos;
			else
				s->pos++;
		} else {
			if (scan_byte(s, c))
				end = s->pos + 1;
			s->pos++;
		}
		if (!end)
			continue;
		rc = handle_value(s, end, out);
		if (rc)
			return rc;
		s->kind = 0;
		s->pos = s->start = end;
	}
	if (!s->kind)
		s->start = s->pos;
	memmove(s->in, s->in + s->start, s->len - s->start);
	s->len -= s->start;
	s->pos -= s->start;
	s->start = 0;
	return 0;
}

void xvqmp_sess_init(struct xvqmp_sess *s, struct xvqmp_state *st)
{
	memset(s, 0, sizeof(*s));
	s->st = st;
}

int xvqmp_sess_feed(struct xvqmp_sess *s, const void *data, size_t n,
		    struct xvqmp_buf *out)
{
	const char *p = data;

	while (n) {
		size_t k = XVQMP_MAX_INPUT - s->len;

		if (k > n)
			k = n;
		memcpy(s->in + s->len, p, k);
		s->len += k;
		p += k;
		n -= k;
		if (scan(s, out))
			return -1;
		if (s->len == XVQMP_MAX_INPUT) {
			reply_error(out, NULL, "GenericError",
				    "QMP input exceeds %d bytes", XVQMP_MAX_INPUT);
			return -1;
		}
	}
	return 0;
}
