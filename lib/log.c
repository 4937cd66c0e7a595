// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
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
	/* Connected now: a sandboxed process cannot open the socket later. */
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = 1;
}

int vlog_fd(void)
{
	return log_syslog ? -1 : log_fd;
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

/* ---- rate limit --------------------------------------------------------- */

/* Like the kernel's printk ratelimit: ten lines per five seconds. */
static _Atomic unsigned int limit_interval_ms = 5000;
static _Atomic unsigned int limit_burst = 10;

void vlog_set_limit(unsigned int interval_ms, unsigned int burst)
{
	atomic_store(&limit_interval_ms, interval_ms ? interval_ms : 1);
	atomic_store(&limit_burst, burst ? burst : 1);
}

void vlog_limit_init(struct vlog_limit *l)
{
	atomic_store(&l->window, 0);
	atomic_store(&l->printed, 0);
	atomic_store(&l->missed, 0);
	l->interval_ms = atomic_load(&limit_interval_ms);
	l->burst = atomic_load(&limit_burst);
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * True when the line may be written. Lock-free: a race at a window's
 * boundary may let a line or two more through, never hold one back
 * uncounted.
 */
static bool limit_allow(struct vlog_limit *l)
{
	unsigned long long now = now_ms(), w = atomic_load(&l->window);

	if (now - w >= l->interval_ms &&
	    atomic_compare_exchange_strong(&l->window, &w, now))
		atomic_store(&l->printed, 0);
	if (atomic_fetch_add(&l->printed, 1) < l->burst)
		return true;
	atomic_fetch_add(&l->missed, 1);
	return false;
}

void vlog_limitedv(struct vlog_limit *l, enum vlog_level level, const char *fmt,
		   va_list ap)
{
	char msg[900];
	unsigned long missed;

	if ((int)level > atomic_load(&log_level) || !limit_allow(l))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	missed = atomic_exchange(&l->missed, 0);
	if (missed)
		vlog(level, "%s (%lu lines suppressed before this one)", msg, missed);
	else
		vlog(level, "%s", msg);
}

void vlog_limited(struct vlog_limit *l, enum vlog_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_limitedv(l, level, fmt, ap);
	va_end(ap);
}
