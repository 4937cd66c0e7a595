if XEN
bin_PROGRAMS += tools/xen-virtio
tools_xen_virtio_SOURCES = tools/xen-virtio.c tools/guest.c tools/guest.h
tools_xen_virtio_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib/xen
tools_xen_virtio_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tools_xen_virtio_LDADD = lib/libxenvirtio.la devices/libxvdevices.la \
	$(XEN_LIBS) $(URING_LIBS)
endif

dist_man_MANS += doc/xen-virtio.1

# Needs only libfdt and the model registry: built with --disable-xen too.
bin_PROGRAMS += tools/xen-virtio-dt
tools_xen_virtio_dt_SOURCES = tools/xen-virtio-dt.c
tools_xen_virtio_dt_CFLAGS = $(AM_CFLAGS) $(FDT_CFLAGS)
tools_xen_virtio_dt_LDADD = lib/libxenvirtio.la devices/libxvdevices.la \
	$(FDT_LIBS) $(URING_LIBS)

dist_man_MANS += doc/xen-virtio-dt.1
