noinst_LTLIBRARIES += devices/libxvdevices.la
devices_libxvdevices_la_SOURCES = \
	devices/devices.h devices/builtin.c \
	devices/rng.c \
	devices/blk.c devices/blk.h devices/blk_req.c devices/blk_io.c \
	devices/console.c devices/console.h devices/console_port.c \
	devices/console_ctrl.c \
	devices/uring.c devices/uring.h
devices_libxvdevices_la_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
devices_libxvdevices_la_LIBADD = $(URING_LIBS)
