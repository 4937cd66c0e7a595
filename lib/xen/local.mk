# Xen transport: the only files besides the programs that include Xen headers.
lib_libxenvirtio_la_SOURCES += \
	lib/xen/xenio.h lib/xen/ioreq.c \
	lib/xen/ioreq_handle.h lib/xen/ioreq_handle.c \
	lib/xen/xengmem.h lib/xen/gmem_xen.c \
	lib/xen/irq.h lib/xen/irq.c \
	lib/xen/privcmd_ev.h lib/xen/privcmd_ev.c \
	lib/xen/xs.h lib/xen/xs.c
lib_libxenvirtio_la_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
lib_libxenvirtio_la_LIBADD = $(XEN_LIBS)
xvinclude_HEADERS += lib/xen/xenio.h lib/xen/xengmem.h lib/xen/irq.h lib/xen/xs.h
