# tests/dt.mk: xen-virtio-dt (see tests/local.mk for the pattern). The test
# runs the built tool and decompiles its blobs with dtc, so it exists only
# where configure found dtc.
if HAVE_DTC
XV_TESTS += tests/test_dt
tests_test_dt_SOURCES = tests/test_dt.c
tests_test_dt_CPPFLAGS = $(XV_TEST_CPPFLAGS) \
	-DXV_DT_TOOL='"$(abs_top_builddir)/tools/xen-virtio-dt"' \
	-DXV_DTC='"$(DTC)"'
tests_test_dt_CFLAGS = $(AM_CFLAGS) $(FDT_CFLAGS)
tests_test_dt_LDADD = $(XV_TEST_LDADD) $(FDT_LIBS)
endif
