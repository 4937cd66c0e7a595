# tests/local.mk: unit tests of the virtio core and the devices.
#
# Every test program prints one "PASS name" / "FAIL name: reason" line per
# case (tests/xtest.h); tests/run-tests.sh runs them all, adds the fuzz smoke
# runs (tests/fuzz/local.mk) and ends with "N passed, N failed".
#
# A test program for another device goes into its own .mk file:
#	XV_TESTS += tests/test_foo
#	tests_test_foo_SOURCES = tests/test_foo.c
#	tests_test_foo_CPPFLAGS = $(XV_TEST_CPPFLAGS)
#	tests_test_foo_LDADD = $(XV_TEST_LDADD)

check_LTLIBRARIES = tests/libxvtest.la
tests_libxvtest_la_SOURCES = \
	tests/xtest.c tests/xtest.h \
	tests/vdrv.c tests/vdrv.h
tests_libxvtest_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests

XV_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
XV_TEST_LDADD = tests/libxvtest.la devices/libxvdevices.la \
	lib/libxenvirtio.la $(URING_LIBS)

XV_TESTS = tests/test_transport tests/test_virtq tests/test_rng \
	tests/test_stress tests/test_loop

tests_test_transport_SOURCES = tests/test_transport.c
tests_test_transport_CPPFLAGS = $(XV_TEST_CPPFLAGS)
tests_test_transport_LDADD = $(XV_TEST_LDADD)

tests_test_virtq_SOURCES = tests/test_virtq.c
tests_test_virtq_CPPFLAGS = $(XV_TEST_CPPFLAGS)
tests_test_virtq_LDADD = $(XV_TEST_LDADD)

tests_test_loop_SOURCES = tests/test_loop.c
tests_test_loop_CPPFLAGS = $(XV_TEST_CPPFLAGS)
tests_test_loop_LDADD = $(XV_TEST_LDADD)

tests_test_stress_SOURCES = tests/test_stress.c
tests_test_stress_CPPFLAGS = $(XV_TEST_CPPFLAGS)
tests_test_stress_LDADD = $(XV_TEST_LDADD)

# The backend's sandbox (tools/sandbox.c) around the device models.
XV_TESTS += tests/test_sandbox
tests_test_sandbox_SOURCES = tests/test_sandbox.c tools/sandbox.c tools/sandbox.h
tests_test_sandbox_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/tools
tests_test_sandbox_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)
tests_test_sandbox_LDADD = $(XV_TEST_LDADD) $(SECCOMP_LIBS)

# Live counters and the control socket (tools/ctl.c).
XV_TESTS += tests/test_ctl
tests_test_ctl_SOURCES = tests/test_ctl.c tools/ctl.c tools/ctl.h
tests_test_ctl_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/tools
tests_test_ctl_LDADD = $(XV_TEST_LDADD)

# Restricted io_uring rings (devices/uring.c).
XV_TESTS += tests/test_uring
tests_test_uring_SOURCES = tests/test_uring.c
tests_test_uring_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/devices
tests_test_uring_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
tests_test_uring_LDADD = $(XV_TEST_LDADD)

tests_test_rng_SOURCES = tests/test_rng.c
tests_test_rng_CPPFLAGS = $(XV_TEST_CPPFLAGS)
tests_test_rng_LDADD = $(XV_TEST_LDADD)

include tests/blk.mk
include tests/console.mk
include tests/xen.mk
include tests/dt.mk
include tests/dm.mk
include tests/svc.mk

check_PROGRAMS += $(XV_TESTS)

EXTRA_DIST += tests/README.md tests/run-tests.sh tests/run-all.sh \
	tests/install-deps.sh

# Seconds each case may take before it counts as hung.
XV_TEST_TIMEOUT = 120

# Shell tests (run-tests.sh --script "SCRIPT ARG...").
XV_SCRIPT_ARGS =
XV_SCRIPT_DEPS =
if XEN
XV_SCRIPT_ARGS += --script "$(top_srcdir)/tests/test-systemd-unit.sh systemd/xen-virtio.service $(abs_builddir)/tools/xen-virtio"
XV_SCRIPT_DEPS += systemd/xen-virtio.service tools/xen-virtio
endif
EXTRA_DIST += tests/test-systemd-unit.sh

check-local: $(XV_TESTS) $(XV_FUZZ_DRIVERS) $(XV_FUZZ_LIBFUZZER) $(XV_SCRIPT_DEPS)
	@$(SHELL) $(top_srcdir)/tests/run-tests.sh \
		--timeout $(XV_TEST_TIMEOUT) \
		$(XV_SCRIPT_ARGS) \
		--fuzz-runs $(XV_FUZZ_RUNS) \
		--fuzz-corpus $(top_srcdir)/tests/fuzz/corpus \
		--fuzz-drivers "$(XV_FUZZ_DRIVERS)" \
		--libfuzzers "$(XV_FUZZ_LIBFUZZER)" \
		$(XV_TESTS)
