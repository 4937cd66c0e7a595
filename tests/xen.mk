# Tests of the Xen transport's pure parts (no hypervisor needed).
if XEN
XV_TESTS += tests/test_ioreq
tests_test_ioreq_SOURCES = tests/test_ioreq.c
tests_test_ioreq_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/lib/xen
tests_test_ioreq_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tests_test_ioreq_LDADD = $(XV_TEST_LDADD)
endif
