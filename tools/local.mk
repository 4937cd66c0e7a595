if XEN
bin_PROGRAMS += tools/xen-virtio
tools_xen_virtio_SOURCES = tools/xen-virtio.c tools/guest.c tools/guest.h
tools_xen_virtio_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib/xen
tools_xen_virtio_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tools_xen_virtio_LDADD = lib/libxenvirtio.la devices/libxvdevices.la \
	$(XEN_LIBS) $(URING_LIBS)
endif

dist_man_MANS += doc/xen-virtio.1
