# tests/blk.mk: virtio-blk tests (see tests/local.mk for the pattern).
XV_TESTS += tests/test_blk
tests_test_blk_SOURCES = tests/test_blk.c
tests_test_blk_CPPFLAGS = $(XV_TEST_CPPFLAGS)
tests_test_blk_LDADD = $(XV_TEST_LDADD)
