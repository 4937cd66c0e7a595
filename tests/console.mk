# tests/console.mk: virtio-console tests (see tests/local.mk for the pattern).
XV_TESTS += tests/test_console
tests_test_console_SOURCES = tests/test_console.c
tests_test_console_CPPFLAGS = $(XV_TEST_CPPFLAGS)
tests_test_console_LDADD = $(XV_TEST_LDADD)
