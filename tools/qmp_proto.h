/* SPDX-License-Identifier: MIT */
/*
 * The QEMU Machine Protocol as libxl and libxenstat speak it to a device
 * model, without any I/O: bytes in, replies out. One session per client
 * connection; the run state is shared by all sessions of a server.
 *
 * Input is a stream of JSON values (no delimiter needed: libxl ends each
 * command with "\r\n", libxenstat with nothing); every reply and the
 * greeting end with "\r\n", as libxl looks for. A malformed value gets an
 * error object and the stream goes on; a value larger than XVQMP_MAX_INPUT
 * or nested deeper than XVQMP_MAX_DEPTH ends the session.
 */
#ifndef XV_TOOLS_QMP_PROTO_H
#define XV_TOOLS_QMP_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#define XVQMP_MAX_INPUT 65536
#define XVQMP_MAX_DEPTH 32

enum xvqmp_status {
	XVQMP_PRELAUNCH,		/* started with -S, no "cont" yet */
	XVQMP_RUNNING,
	XVQMP_PAUSED,
};

enum xvqmp_event {
	XVQMP_EV_CONT,			/* the status became running */
	XVQMP_EV_STOP,
	XVQMP_EV_QUIT,
};

/* Shared by the sessions of one server; events run on the server thread. */
struct xvqmp_state {
	enum xvqmp_status status;
	void (*event)(enum xvqmp_event ev, void *opaque);
	void *opaque;
};

struct xvqmp_buf {
	char *p;
	size_t len;
	size_t cap;
};

struct xvqmp_sess {
	struct xvqmp_state *st;
	bool negotiated;		/* qmp_capabilities done */
	/* the value being received: in[start..len), scanned up to pos; one
	 * byte more for the NUL the parser needs */
	char in[XVQMP_MAX_INPUT + 1];
	size_t len;
	size_t start;
	size_t pos;
	char kind;			/* 0 between values, '{' container, '"' string, 'l' literal */
	bool in_str;
	bool esc;
	unsigned int depth;
	unsigned int max_depth;
};

void xvqmp_sess_init(struct xvqmp_sess *s, struct xvqmp_state *st);
/* The greeting a server sends on connect. 0, or -ENOMEM. */
int xvqmp_greeting(struct xvqmp_buf *out);
/*
 * Take n bytes from the client and append the replies to out. 0, or -1
 * when the session must end (too large or too deep input, no memory):
 * out then holds the error to send before closing.
 */
int xvqmp_sess_feed(struct xvqmp_sess *s, const void *data, size_t n,
		    struct xvqmp_buf *out);

int xvqmp_buf_add(struct xvqmp_buf *b, const void *data, size_t n);
/* Drop the first n bytes (sent). */
void xvqmp_buf_consume(struct xvqmp_buf *b, size_t n);
void xvqmp_buf_free(struct xvqmp_buf *b);

#endif
