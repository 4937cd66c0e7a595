/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging to stderr (default), a file, or syslog.
 * Safe to call from any thread; a message is written with one write(2) so
 * lines from different threads never interleave.
 */
#ifndef XV_LOG_H
#define XV_LOG_H

#include <stdarg.h>

enum vlog_level {
	VLOG_ERR,
	VLOG_WARN,
	VLOG_INFO,
	VLOG_DEBUG,
};

void vlog_set_level(enum vlog_level level);
enum vlog_level vlog_get_level(void);
/* "error", "warn", "info", "debug"; returns -1 on an unknown name. */
int vlog_parse_level(const char *name);
/* Send messages to syslog (ident as given) instead of stderr. */
void vlog_use_syslog(const char *ident);
/* Send messages to an already open file descriptor (stderr is 2). */
void vlog_use_fd(int fd);
/* The fd lines go to, or -1 when they go to syslog. */
int vlog_fd(void);
/* Prefix every line with this tag (e.g. "dom5"); NULL clears it. */
void vlog_set_tag(const char *tag);

void vlog(enum vlog_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vlogv(enum vlog_level level, const char *fmt, va_list ap);

/*
 * Rate limit for lines a guest (or a failing disk) can cause: at most
 * `burst` lines per `interval_ms`; the first line let through after some
 * were held back ends with "(N lines suppressed before this one)", so
 * every line is either written or counted. Thread-safe. Initialise with
 * vlog_limit_init() (the process-wide default of vlog_set_limit, when it
 * was called before) or VLOG_LIMIT_INIT.
 */
struct vlog_limit {
	_Atomic unsigned long long window;	/* start of the window, ms */
	_Atomic unsigned int printed;		/* lines let through in it */
	_Atomic unsigned long missed;		/* held back, not reported yet */
	unsigned int interval_ms, burst;
};

/* For a static limit: ten lines per five seconds. */
#define VLOG_LIMIT_INIT { .interval_ms = 5000, .burst = 10 }

void vlog_set_limit(unsigned int interval_ms, unsigned int burst);
void vlog_limit_init(struct vlog_limit *l);
void vlog_limited(struct vlog_limit *l, enum vlog_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vlog_limitedv(struct vlog_limit *l, enum vlog_level level, const char *fmt,
		   va_list ap);

#define log_err(...)	vlog(VLOG_ERR, __VA_ARGS__)
#define log_warn(...)	vlog(VLOG_WARN, __VA_ARGS__)
#define log_info(...)	vlog(VLOG_INFO, __VA_ARGS__)
#define log_debug(...)	\
	do { if (vlog_get_level() >= VLOG_DEBUG) vlog(VLOG_DEBUG, __VA_ARGS__); } while (0)

#endif
