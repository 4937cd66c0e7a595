# tests/fuzz/local.mk: fuzz harnesses for everything that parses guest data.
#
# Each harness defines LLVMFuzzerTestOneInput(). It is always linked with
# tests/fuzz/driver.c (normal compiler, normal flags) into *_driver, which
# "make check" runs on XV_FUZZ_RUNS generated inputs. Where clang has
# libFuzzer it is also built as a real fuzzer with $(FUZZ_CC), compiling the
# library sources it needs directly (no libtool objects from another
# compiler); "make check" then runs it with -runs=XV_FUZZ_RUNS, and for a
# long session:
#	tests/fuzz/fuzz_virtq -max_len=8192 CORPUS-DIR

XV_FUZZ_RUNS = 2000
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/fuzz.h

XV_FUZZ_DRIVERS = tests/fuzz/fuzz_virtq_driver tests/fuzz/fuzz_mmio_driver \
	tests/fuzz/fuzz_console_driver tests/fuzz/fuzz_blk_req_driver
check_PROGRAMS += $(XV_FUZZ_DRIVERS)

tests_fuzz_fuzz_virtq_driver_SOURCES = tests/fuzz/driver.c tests/fuzz/fuzz_virtq.c
tests_fuzz_fuzz_virtq_driver_LDADD = lib/libxenvirtio.la

tests_fuzz_fuzz_mmio_driver_SOURCES = tests/fuzz/driver.c tests/fuzz/fuzz_mmio.c
tests_fuzz_fuzz_mmio_driver_LDADD = devices/libxvdevices.la lib/libxenvirtio.la \
	$(URING_LIBS)

tests_fuzz_fuzz_console_driver_SOURCES = tests/fuzz/driver.c tests/fuzz/fuzz_console.c
tests_fuzz_fuzz_console_driver_LDADD = devices/libxvdevices.la lib/libxenvirtio.la \
	$(URING_LIBS)

tests_fuzz_fuzz_blk_req_driver_SOURCES = tests/fuzz/driver.c tests/fuzz/fuzz_blk_req.c
tests_fuzz_fuzz_blk_req_driver_LDADD = devices/libxvdevices.la lib/libxenvirtio.la \
	$(URING_LIBS)

XV_FUZZ_CFLAGS = -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -pthread \
	-I$(top_srcdir)/lib -I$(top_srcdir)/devices -I$(top_builddir)

XV_FUZZ_VIRTQ_SRC = $(srcdir)/tests/fuzz/fuzz_virtq.c \
	$(srcdir)/lib/log.c $(srcdir)/lib/gmem.c $(srcdir)/lib/gmem_plain.c \
	$(srcdir)/lib/virtq.c
XV_FUZZ_MMIO_SRC = $(srcdir)/tests/fuzz/fuzz_mmio.c \
	$(srcdir)/lib/log.c $(srcdir)/lib/opts.c $(srcdir)/lib/gmem.c \
	$(srcdir)/lib/gmem_plain.c $(srcdir)/lib/loop.c $(srcdir)/lib/virtq.c \
	$(srcdir)/lib/vdev.c $(srcdir)/lib/mmio.c $(srcdir)/devices/rng.c

XV_FUZZ_LIB_SRC = $(srcdir)/lib/log.c $(srcdir)/lib/opts.c $(srcdir)/lib/gmem.c \
	$(srcdir)/lib/gmem_plain.c $(srcdir)/lib/loop.c $(srcdir)/lib/virtq.c \
	$(srcdir)/lib/vdev.c
XV_FUZZ_CONSOLE_SRC = $(srcdir)/tests/fuzz/fuzz_console.c $(XV_FUZZ_LIB_SRC) \
	$(srcdir)/lib/mmio.c $(srcdir)/devices/console.c \
	$(srcdir)/devices/console_ctrl.c $(srcdir)/devices/console_port.c
XV_FUZZ_BLK_REQ_SRC = $(srcdir)/tests/fuzz/fuzz_blk_req.c $(XV_FUZZ_LIB_SRC) \
	$(srcdir)/devices/blk_req.c

# Headers only as prerequisites: a changed contract rebuilds the fuzzers.
XV_FUZZ_HDRS = $(srcdir)/lib/gmem.h $(srcdir)/lib/log.h $(srcdir)/lib/opts.h \
	$(srcdir)/lib/loop.h $(srcdir)/lib/virtq.h $(srcdir)/lib/vdev.h \
	$(srcdir)/lib/mmio.h $(srcdir)/devices/devices.h \
	$(srcdir)/devices/console.h $(srcdir)/devices/blk.h \
	$(srcdir)/tests/fuzz/fuzz.h

if XEN
XV_FUZZ_DRIVERS += tests/fuzz/fuzz_ioreq_driver
tests_fuzz_fuzz_ioreq_driver_SOURCES = tests/fuzz/driver.c tests/fuzz/fuzz_ioreq.c
tests_fuzz_fuzz_ioreq_driver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib/xen
tests_fuzz_fuzz_ioreq_driver_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tests_fuzz_fuzz_ioreq_driver_LDADD = lib/libxenvirtio.la
endif
XV_FUZZ_IOREQ_SRC = $(srcdir)/tests/fuzz/fuzz_ioreq.c \
	$(srcdir)/lib/log.c $(srcdir)/lib/gmem.c $(srcdir)/lib/gmem_plain.c \
	$(srcdir)/lib/xen/ioreq_handle.c

# The Xen guest-memory backend against a simulated hypervisor
# (tests/fuzz/xen_fake.c): compiled in directly, without libxen*.
if XEN
XV_FUZZ_DRIVERS += tests/fuzz/fuzz_xgmem_driver
tests_fuzz_fuzz_xgmem_driver_SOURCES = tests/fuzz/driver.c tests/fuzz/fuzz_xgmem.c \
	tests/fuzz/xen_fake.c tests/fuzz/xen_fake.h \
	lib/xen/gmem_xen.c lib/gmem.c lib/log.c
tests_fuzz_fuzz_xgmem_driver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib/xen
tests_fuzz_fuzz_xgmem_driver_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
endif
XV_FUZZ_XGMEM_SRC = $(srcdir)/tests/fuzz/fuzz_xgmem.c \
	$(srcdir)/tests/fuzz/xen_fake.c $(srcdir)/lib/log.c $(srcdir)/lib/gmem.c \
	$(srcdir)/lib/xen/gmem_xen.c

# The QMP input of the device-model mode (tools/qmp_proto.c), with libyajl.
if HAVE_YAJL
XV_FUZZ_DRIVERS += tests/fuzz/fuzz_qmp_driver
tests_fuzz_fuzz_qmp_driver_SOURCES = tests/fuzz/driver.c tests/fuzz/fuzz_qmp.c \
	tools/qmp_proto.c tools/qmp_proto.h
tests_fuzz_fuzz_qmp_driver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_fuzz_fuzz_qmp_driver_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS)
tests_fuzz_fuzz_qmp_driver_LDADD = lib/libxenvirtio.la $(YAJL_LIBS)
endif
XV_FUZZ_QMP_SRC = $(srcdir)/tests/fuzz/fuzz_qmp.c $(srcdir)/tools/qmp_proto.c \
	$(srcdir)/lib/log.c

if HAVE_LIBFUZZER
XV_FUZZ_LIBFUZZER = tests/fuzz/fuzz_virtq tests/fuzz/fuzz_mmio \
	tests/fuzz/fuzz_console tests/fuzz/fuzz_blk_req
if XEN
XV_FUZZ_LIBFUZZER += tests/fuzz/fuzz_ioreq tests/fuzz/fuzz_xgmem
endif
if HAVE_YAJL
XV_FUZZ_LIBFUZZER += tests/fuzz/fuzz_qmp
endif
CLEANFILES += $(XV_FUZZ_LIBFUZZER)

tests/fuzz/fuzz_qmp: $(XV_FUZZ_QMP_SRC) $(srcdir)/tools/qmp_proto.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(XV_FUZZ_CFLAGS) -I$(top_srcdir)/tools $(YAJL_CFLAGS) \
		-o $@ $(XV_FUZZ_QMP_SRC) $(YAJL_LIBS)

tests/fuzz/fuzz_ioreq: $(XV_FUZZ_IOREQ_SRC) $(XV_FUZZ_HDRS) $(srcdir)/lib/xen/ioreq_handle.h \
		$(srcdir)/lib/xen/privcmd_ev.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(XV_FUZZ_CFLAGS) -I$(top_srcdir)/lib/xen -o $@ $(XV_FUZZ_IOREQ_SRC)

tests/fuzz/fuzz_xgmem: $(XV_FUZZ_XGMEM_SRC) $(XV_FUZZ_HDRS) \
		$(srcdir)/lib/xen/xengmem.h $(srcdir)/tests/fuzz/xen_fake.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(XV_FUZZ_CFLAGS) -I$(top_srcdir)/lib/xen $(XEN_CFLAGS) \
		-o $@ $(XV_FUZZ_XGMEM_SRC)

tests/fuzz/fuzz_virtq: $(XV_FUZZ_VIRTQ_SRC) $(XV_FUZZ_HDRS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(XV_FUZZ_CFLAGS) -o $@ $(XV_FUZZ_VIRTQ_SRC)

tests/fuzz/fuzz_mmio: $(XV_FUZZ_MMIO_SRC) $(XV_FUZZ_HDRS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(XV_FUZZ_CFLAGS) -o $@ $(XV_FUZZ_MMIO_SRC)

tests/fuzz/fuzz_console: $(XV_FUZZ_CONSOLE_SRC) $(XV_FUZZ_HDRS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(XV_FUZZ_CFLAGS) -o $@ $(XV_FUZZ_CONSOLE_SRC)

tests/fuzz/fuzz_blk_req: $(XV_FUZZ_BLK_REQ_SRC) $(XV_FUZZ_HDRS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(XV_FUZZ_CFLAGS) -o $@ $(XV_FUZZ_BLK_REQ_SRC)
else
XV_FUZZ_LIBFUZZER =
endif
