# tests/svc.mk: the service configuration file (tools/svc_conf.c); see
# tests/local.mk for the pattern. Needs no Xen.
XV_TESTS += tests/test_svc_conf
tests_test_svc_conf_SOURCES = tests/test_svc_conf.c tools/svc_conf.c \
	tools/svc_conf.h
tests_test_svc_conf_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/tools
tests_test_svc_conf_LDADD = $(XV_TEST_LDADD)
