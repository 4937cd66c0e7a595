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
/* Prefix every line with this tag (e.g. "dom5"); NULL clears it. */
void vlog_set_tag(const char *tag);

void vlog(enum vlog_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vlogv(enum vlog_level level, const char *fmt, va_list ap);

#define log_err(...)	vlog(VLOG_ERR, __VA_ARGS__)
#define log_warn(...)	vlog(VLOG_WARN, __VA_ARGS__)
#define log_info(...)	vlog(VLOG_INFO, __VA_ARGS__)
#define log_debug(...)	\
	do { if (vlog_get_level() >= VLOG_DEBUG) vlog(VLOG_DEBUG, __VA_ARGS__); } while (0)

#endif
