# bench/local.mk: benchmarks (figures, not pass/fail; see bench/README.md).
# They are built with everything else and run by hand: make bench/blk.
noinst_PROGRAMS += bench/blk
bench_blk_SOURCES = bench/blk.c tests/vdrv.c tests/vdrv.h
bench_blk_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
bench_blk_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
bench_blk_LDADD = devices/libxvdevices.la lib/libxenvirtio.la $(URING_LIBS)
EXTRA_DIST += bench/README.md bench/lab bench/lab-report
