lib_LTLIBRARIES += lib/libxenvirtio.la
lib_libxenvirtio_la_SOURCES = \
	lib/log.c lib/log.h \
	lib/opts.c lib/opts.h \
	lib/gmem.c lib/gmem.h lib/gmem_plain.c \
	lib/loop.c lib/loop.h \
	lib/virtq.c lib/virtq.h \
	lib/vdev.c lib/vdev.h \
	lib/mmio.c lib/mmio.h \
	lib/vslot.c lib/vslot.h
lib_libxenvirtio_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0
xvinclude_HEADERS += lib/log.h lib/opts.h lib/gmem.h lib/loop.h lib/virtq.h \
	lib/vdev.h lib/mmio.h lib/vslot.h
EXTRA_DIST += lib/xenvirtio.pc.in

if XEN
include lib/xen/local.mk
endif
