/* SPDX-License-Identifier: MIT */
/*
 * A small test framework. A test program lists its cases and hands them to
 * xt_main(), which runs each case in its own child process (a crash, a
 * sanitizer report, a leak or a hang fails that case only) and prints one
 * line per case:
 *
 *	PASS name
 *	FAIL name: reason
 *	SKIP name: reason
 *
 * A failed check ends the case at once; functions registered with
 * xt_defer() still run (in reverse order), so a case can tear down its
 * device whichever way it ends. A child's stderr (device logs, sanitizer
 * reports) is shown only when its case fails, or always with -v.
 *
 * Usage: PROGRAM [-v] [-n] [-t SECONDS] [NAME-SUBSTRING...]
 *	-v  show stderr of passing cases too
 *	-n  no fork: run cases in this process (for a debugger)
 *	-t  time limit per case (default 60 s)
 */
#ifndef XV_TESTS_XTEST_H
#define XV_TESTS_XTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xt_case {
	const char *name;
	void (*fn)(void);
};

#define XT_CASE(fn) { #fn, fn }
#define XT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

int xt_main(int argc, char **argv, const struct xt_case *cases, size_t n);

/* End the current case as failed / skipped. */
void xt_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
void xt_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/* Run fn(arg) when the case ends, however it ends. */
void xt_defer(void (*fn)(void *), void *arg);
/*
 * True if what the case wrote to stderr so far (device logs included)
 * contains needle. Always true with -n, where stderr is not captured.
 */
bool xt_stderr_has(const char *needle);
/* Note something shown with the case's result when it fails. */
void xt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define XT_FAIL(...) xt_fail(__FILE__, __LINE__, __VA_ARGS__)

#define XT_ASSERT(cond) \
	do { if (!(cond)) XT_FAIL("%s", #cond); } while (0)

#define XT_ASSERT_MSG(cond, ...) \
	do { if (!(cond)) XT_FAIL(__VA_ARGS__); } while (0)

/* Compare two integers; a failure shows both values. */
#define XT_EQ(a, b) do { \
	unsigned long long xt_a_ = (unsigned long long)(a); \
	unsigned long long xt_b_ = (unsigned long long)(b); \
	if (xt_a_ != xt_b_) \
		XT_FAIL("%s == %s: 0x%llx != 0x%llx", #a, #b, xt_a_, xt_b_); \
} while (0)

#define XT_NE(a, b) do { \
	unsigned long long xt_a_ = (unsigned long long)(a); \
	unsigned long long xt_b_ = (unsigned long long)(b); \
	if (xt_a_ == xt_b_) \
		XT_FAIL("%s != %s: both 0x%llx", #a, #b, xt_a_); \
} while (0)

#endif
