# tests/dm.mk: the device-model mode, xen-virtio started by libxl in place of
# QEMU (see tests/local.mk for the pattern): QEMU's command line as libxl
# builds it, and the QMP server over real sockets. Both need no hypervisor;
# QMP needs libyajl, as the mode itself does.
XV_TESTS += tests/test_dm_args
tests_test_dm_args_SOURCES = tests/test_dm_args.c tools/dm_args.c tools/dm_args.h
tests_test_dm_args_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/tools
tests_test_dm_args_LDADD = $(XV_TEST_LDADD)

if HAVE_YAJL
XV_TESTS += tests/test_dm_qmp
tests_test_dm_qmp_SOURCES = tests/test_dm_qmp.c tools/qmp.c tools/qmp.h \
	tools/qmp_proto.c tools/qmp_proto.h
tests_test_dm_qmp_CPPFLAGS = $(XV_TEST_CPPFLAGS) -I$(top_srcdir)/tools
tests_test_dm_qmp_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS)
tests_test_dm_qmp_LDADD = $(XV_TEST_LDADD) $(YAJL_LIBS)
if XEN
# and the daemon itself in libxl's option probe, which needs no hypervisor
tests_test_dm_qmp_CPPFLAGS += -DXV_DAEMON='"$(abs_top_builddir)/tools/xen-virtio"'
endif
endif
