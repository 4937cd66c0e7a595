// SPDX-License-Identifier: MIT
/*
 * Fuzz the QMP input of the device-model mode (tools/qmp_proto.c): the
 * input is what a client sends, fed to one session in pieces whose sizes
 * come from the first byte (so values are split at every point). Every
 * reply must be one line of valid JSON with "return" or "error"; the
 * session may end early (oversized input), never crash or hang.
 */
#define _GNU_SOURCE 1	/* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "log.h"
#include "qmp_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct xvqmp_sess sess;

static void on_event(enum xvqmp_event ev, void *opaque)
{
	(void)ev;
	(void)opaque;
}

/* Every "\r\n"-terminated line of out is a JSON object of a reply. */
static void check_replies(struct xvqmp_buf *out)
{
	static const char *ret[] = { "return", NULL };
	static const char *err[] = { "error", "class", NULL };
	char *p = out->p, *end;

	if (!out->len)
		return;
	while ((end = memmem(p, out->len - (p - out->p), "\r\n", 2))) {
		char *line = strndup(p, end - p);
		yajl_val v = line ? yajl_tree_parse(line, NULL, 0) : NULL;

		if (!line)
			abort();
		if (!v || !YAJL_IS_OBJECT(v) ||
		    (!yajl_tree_get(v, ret, yajl_t_any) &&
		     !yajl_tree_get(v, err, yajl_t_string)))
			abort();
		yajl_tree_free(v);
		free(line);
		p = end + 2;
	}
	if (p != out->p + out->len)
		abort();	/* a reply without its line end */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xvqmp_state st = { .status = XVQMP_RUNNING, .event = on_event };
	struct xvqmp_buf out = { 0 };
	size_t chunk;

	if (!size)
		return 0;
	vlog_set_level(VLOG_ERR);	/* every command is logged otherwise */
	chunk = 1 + data[0] % 64;
	data++;
	size--;
	xvqmp_sess_init(&sess, &st);
	/* most inputs should get past capabilities negotiation */
	if (chunk % 2)
		xvqmp_sess_feed(&sess, "{\"execute\":\"qmp_capabilities\"}", 30, &out);
	while (size) {
		size_t n = size < chunk ? size : chunk;

		if (xvqmp_sess_feed(&sess, data, n, &out))
			break;
		data += n;
		size -= n;
	}
	check_replies(&out);
	xvqmp_buf_free(&out);
	return 0;
}
