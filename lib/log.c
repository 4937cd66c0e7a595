// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static _Atomic int log_level = VLOG_INFO;
static int log_fd = 2;
static int log_syslog;
static char log_tag[32];

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void vlog_set_level(enum vlog_level level)
{
	atomic_store(&log_level, level);
}

enum vlog_level vlog_get_level(void)
{
	return atomic_load(&log_level);
}

int vlog_parse_level(const char *name)
{
	for (unsigned int i = 0; i < sizeof(level_names) / sizeof(*level_names); i++)
		if (!strcmp(name, level_names[i]))
			return i;
	if (!strcmp(name, "warning"))
		return VLOG_WARN;
	return -1;
}

void vlog_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_DAEMON);
	log_syslog = 1;
}

void vlog_use_fd(int fd)
{
	log_fd = fd;
	log_syslog = 0;
}

void vlog_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag ? tag : "");
}

void vlogv(enum vlog_level level, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];
	int n = 0, saved = errno;

	if ((int)level > atomic_load(&log_level))
		return;
	if (log_syslog) {
		if (log_tag[0]) {
			vsnprintf(line, sizeof(line), fmt, ap);
			syslog(prio[level], "%s: %s", log_tag, line);
		} else {
			vsyslog(prio[level], fmt, ap);
		}
		errno = saved;
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s%s%s: ",
		     tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		     log_tag, log_tag[0] ? " " : "", level_names[level]);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (line[n - 1] != '\n')
		line[n++] = '\n';
	/* One write per line: lines from different threads never mix. */
	if (write(log_fd, line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved;
}

void vlog(enum vlog_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlogv(level, fmt, ap);
	va_end(ap);
}
