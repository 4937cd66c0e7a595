if XEN
bin_PROGRAMS += tools/xen-virtio
systemdsystemunit_DATA = systemd/xen-virtio.service
tools_xen_virtio_SOURCES = tools/xen-virtio.c tools/guest.c tools/guest.h \
	tools/service.c tools/service.h tools/svc_conf.c tools/svc_conf.h \
	tools/monitor.c tools/monitor.h tools/sandbox.c tools/sandbox.h \
	tools/ctl.c tools/ctl.h
tools_xen_virtio_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib/xen \
	-DXV_SERVICE_CONF='"$(sysconfdir)/xen-virtio.conf"'
tools_xen_virtio_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS) $(SECCOMP_CFLAGS)
tools_xen_virtio_LDADD = lib/libxenvirtio.la devices/libxvdevices.la \
	$(XEN_LIBS) $(URING_LIBS) $(SECCOMP_LIBS)
# Started by libxl in place of QEMU (device_model_override): needs libyajl.
tools_xen_virtio_SOURCES += tools/dm.h tools/dm_args.c tools/dm_args.h
if HAVE_YAJL
tools_xen_virtio_SOURCES += tools/dm.c tools/qmp.c tools/qmp.h \
	tools/qmp_proto.c tools/qmp_proto.h
tools_xen_virtio_CFLAGS += $(YAJL_CFLAGS)
tools_xen_virtio_LDADD += $(YAJL_LIBS)
else
tools_xen_virtio_SOURCES += tools/dm_none.c
endif
endif

dist_man_MANS += doc/xen-virtio.1

# Needs only libfdt and the model registry: built with --disable-xen too.
bin_PROGRAMS += tools/xen-virtio-dt
tools_xen_virtio_dt_SOURCES = tools/xen-virtio-dt.c
tools_xen_virtio_dt_CFLAGS = $(AM_CFLAGS) $(FDT_CFLAGS)
tools_xen_virtio_dt_LDADD = lib/libxenvirtio.la devices/libxvdevices.la \
	$(FDT_LIBS) $(URING_LIBS)

dist_man_MANS += doc/xen-virtio-dt.1

# The unit names the installed program, known only at make time.
EXTRA_DIST += systemd/xen-virtio.service.in
CLEANFILES += systemd/xen-virtio.service
systemd/xen-virtio.service: $(srcdir)/systemd/xen-virtio.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|[@]bindir[@]|$(bindir)|g' -e 's|[@]sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/systemd/xen-virtio.service.in >$@
