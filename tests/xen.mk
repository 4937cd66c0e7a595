# Tests of the Xen transport's pure parts (no hypervisor needed).
if XEN
XV_TESTS += tests/test_ioreq
tests_test_ioreq_SOURCES = tests/test_ioreq.c
tests_test_ioreq_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/lib/xen
tests_test_ioreq_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tests_test_ioreq_LDADD = $(XV_TEST_LDADD)

# libxl's backend node paths (lib/xen/xs.c).
XV_TESTS += tests/test_xs
tests_test_xs_SOURCES = tests/test_xs.c
tests_test_xs_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/lib/xen
tests_test_xs_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tests_test_xs_LDADD = $(XV_TEST_LDADD)
endif

# The foreign-memory backend against the fuzz harness's simulated Xen.
if XEN
XV_TESTS += tests/test_xgmem
tests_test_xgmem_SOURCES = tests/test_xgmem.c tests/fuzz/xen_fake.c \
	tests/fuzz/xen_fake.h lib/xen/gmem_xen.c lib/gmem.c
tests_test_xgmem_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/lib/xen \
	-I$(top_srcdir)/tests/fuzz
tests_test_xgmem_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tests_test_xgmem_LDADD = tests/libxvtest.la lib/libxenvirtio.la
endif
