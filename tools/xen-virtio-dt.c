// SPDX-License-Identifier: MIT
/*
 * xen-virtio-dt: what an xl domain config needs for a list of xen-virtio
 * devices. Prints the xl.cfg lines that make libxl give each device its
 * virtio-mmio window and interrupt (Xen 4.17: virtio disks, 4.18+:
 * virtio = [...]) and the daemon's command line; with -o, writes a partial
 * device tree for xl's device_tree= option instead.
 *
 * The device specs go through the daemon's own parser (lib/vslot) and
 * model registry, so what this accepts the daemon accepts. No device is
 * created.
 *
 * Exit status: 0; 1 if the device tree cannot be written; 2 for a bad
 * command line or a layout libxl cannot give.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "config.h"
#include "devices.h"
#include "vslot.h"

#ifdef HAVE_XEN_DEVICE_TREE_DEFS_H
#define __XEN_TOOLS__ 1
#include <xen/device_tree_defs.h>
#endif

#ifndef GUEST_PHANDLE_GIC
/* The phandle libxl gives the guest's GIC (xen/include/public/device_tree_defs.h). */
#define GUEST_PHANDLE_GIC 65000
#endif

/*
 * Phandle of our xen,grant-dma node. libxl takes GUEST_PHANDLE_GIC and
 * GUEST_PHANDLE_IOMMU (65001, its own grant-dma node); proposed additions
 * count upwards from there and dtc numbers from 1, so stay clear of both.
 */
#define XV_PHANDLE_GRANT_DMA (GUEST_PHANDLE_GIC + 0x100)
#ifdef GUEST_PHANDLE_IOMMU
_Static_assert(XV_PHANDLE_GRANT_DMA != GUEST_PHANDLE_IOMMU,
	       "grant-dma phandle taken by libxl");
#endif

/* GIC interrupt specifier: SPI, rising edge (what libxl uses for virtio). */
#define XV_GIC_SPI 0
#define XV_IRQ_EDGE_RISING 1

#define XV_SLOTS (VSLOT_SPI_LAST - VSLOT_SPI_FIRST + 1)
#define XV_FDT_SIZE 65536

struct dt_options {
	unsigned int xen_minor;		/* 4.x */
	unsigned int backend;
	bool grants;
	unsigned int libxl_devices;
	const char *out;
	const char *domain;
	unsigned int n;
	struct vslot slots[VSLOT_MAX];
	const struct vdev_model *models[VSLOT_MAX];
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: xen-virtio-dt [options] --device SPEC...\n"
"Print the xl.cfg lines and the xen-virtio command line for a device list.\n"
"\n"
"  -D, --device SPEC       a device: MODEL[,key=value]... as xen-virtio takes\n"
"                          it, base=0xADDR and irq=N included (repeatable)\n"
"  -x, --xen VERSION       the Xen whose xl reads the config: 4.17 (default),\n"
"                          4.18 or later; with -o, 4.20 or later also prints\n"
"                          the nr_spis the devices' interrupts need\n"
"  -b, --backend DOMID     the domain xen-virtio runs in (default 0)\n"
"  -g, --grants            the guest uses grant mappings (xen,grant-dma)\n"
"  -L, --libxl-devices N   the guest has N virtio devices of its own in the\n"
"                          config; libxl puts them in slots 0..N-1\n"
"  -n, --domain NAME       the guest's name for the daemon's command line\n"
"  -o, --output FILE.dtb   write a partial device tree for device_tree=\n"
"  -h, --help              this text\n"
"  -V, --version           the version\n"
"\n"
"Device models:");
	for (unsigned int i = 0; vdev_model_at(i); i++)
		fprintf(f, " %s", vdev_model_at(i)->name);
	fprintf(f, "\n");
}

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || *s == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "4.17", "4.18", ...: only the 4.x line has virtio-mmio in libxl. */
static int parse_xen(const char *s, unsigned int *minor)
{
	unsigned int major;
	int len = 0;

	if (sscanf(s, "%u.%u%n", &major, minor, &len) != 2 || s[len] ||
	    major != 4) {
		fprintf(stderr, "xen-virtio-dt: bad --xen '%s' (4.17, 4.18, ...)\n", s);
		return -1;
	}
	if (*minor < 17) {
		fprintf(stderr, "xen-virtio-dt: libxl has virtio-mmio devices only from Xen 4.17\n");
		return -1;
	}
	return 0;
}

static int add_device(struct dt_options *o, const char *spec)
{
	struct vslot *s;
	char err[256];

	if (o->n == VSLOT_MAX) {
		fprintf(stderr, "xen-virtio-dt: at most %u devices\n", VSLOT_MAX);
		return -1;
	}
	s = &o->slots[o->n];
	if (vslot_parse(s, spec, err, sizeof(err))) {
		fprintf(stderr, "xen-virtio-dt: --device %s: %s\n", spec, err);
		return -1;
	}
	o->models[o->n] = vdev_model_find(s->opts.model);
	if (!o->models[o->n]) {
		fprintf(stderr, "xen-virtio-dt: --device %s: unknown device model '%s'\n",
			spec, s->opts.model);
		vslot_free(s);
		return -1;
	}
	o->n++;
	return 0;
}

static int parse_option(struct dt_options *o, int c)
{
	switch (c) {
	case 'D':
		return add_device(o, optarg);
	case 'x':
		return parse_xen(optarg, &o->xen_minor);
	case 'b':
		if (!parse_uint(optarg, 0x7fef, &o->backend))
			return 0;
		fprintf(stderr, "xen-virtio-dt: bad domain id '%s'\n", optarg);
		return -1;
	case 'g':
		o->grants = true;
		return 0;
	case 'L':
		if (!parse_uint(optarg, XV_SLOTS, &o->libxl_devices))
			return 0;
		fprintf(stderr, "xen-virtio-dt: bad --libxl-devices '%s' (0..%u)\n",
			optarg, XV_SLOTS);
		return -1;
	case 'n':
		o->domain = optarg;
		return 0;
	case 'o':
		o->out = optarg;
		if (!strpbrk(optarg, "\"\\\n"))
			return 0;
		fprintf(stderr, "xen-virtio-dt: -o %s: xl.cfg cannot quote that name\n",
			optarg);
		return -1;
	case 'h':
		usage(stdout);
		exit(0);
	case 'V':
		printf("xen-virtio-dt %s\n", PACKAGE_VERSION);
		exit(0);
	default:
		usage(stderr);
		return -1;
	}
}

static int parse_args(int argc, char **argv, struct dt_options *o)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'D' },
		{ "xen", required_argument, NULL, 'x' },
		{ "backend", required_argument, NULL, 'b' },
		{ "grants", no_argument, NULL, 'g' },
		{ "libxl-devices", required_argument, NULL, 'L' },
		{ "domain", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->xen_minor = 17;
	o->domain = "NAME";
	while ((c = getopt_long(argc, argv, "D:x:b:gL:n:o:hV", longopts, NULL)) != -1)
		if (parse_option(o, c))
			return -1;
	if (optind < argc) {
		fprintf(stderr, "xen-virtio-dt: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->n) {
		fprintf(stderr, "xen-virtio-dt: no --device given\n");
		return -1;
	}
	return 0;
}

/* True if slot s overlaps one of libxl's own first n slots. */
static bool hits_libxl_slot(const struct vslot *s, unsigned int n)
{
	uint64_t end = VSLOT_MMIO_BASE + VSLOT_WINDOW * n;

	return (s->base >= VSLOT_MMIO_BASE && s->base < end) ||
	       (s->irq >= VSLOT_SPI_FIRST && s->irq < VSLOT_SPI_FIRST + n);
}

static int check_slot(const struct dt_options *o, unsigned int i)
{
	const struct vslot *s = &o->slots[i];

	if (!vslot_in_xen_range(s)) {
		fprintf(stderr, "xen-virtio-dt: device %u (%s, base 0x%" PRIx64 ", SPI %u) lies outside Xen's virtio window 0x%llx-0x%llx or SPIs %u-%u\n",
			i, s->opts.model, s->base, s->irq, VSLOT_MMIO_BASE,
			VSLOT_MMIO_BASE + VSLOT_MMIO_SIZE - 1, VSLOT_SPI_FIRST,
			VSLOT_SPI_LAST);
		return -1;
	}
	if (hits_libxl_slot(s, o->libxl_devices)) {
		fprintf(stderr, "xen-virtio-dt: device %u (%s, base 0x%" PRIx64 ", SPI %u) collides with libxl's own virtio devices in its first %u slot(s)\n",
			i, s->opts.model, s->base, s->irq, o->libxl_devices);
		return -1;
	}
	return 0;
}

/*
 * libxl hands out slots in order, so an xl.cfg line can only place device
 * i at slot libxl_devices + i. Elsewhere the guest gets a node but no SPI.
 */
static int check_layout(const struct dt_options *o)
{
	int bad = 0;

	/* xl 4.20's nr_spis gives a device-tree-only device any SPI */
	if (o->out && o->xen_minor >= 20)
		return 0;
	for (unsigned int i = 0; i < o->n; i++) {
		const struct vslot *s = &o->slots[i];
		unsigned int slot = o->libxl_devices + i;

		if (s->base == VSLOT_MMIO_BASE + VSLOT_WINDOW * slot &&
		    s->irq == VSLOT_SPI_FIRST + slot)
			continue;
		fprintf(stderr, "xen-virtio-dt: %s: device %u (base 0x%" PRIx64 ", SPI %u) is not libxl's next slot %u (base 0x%llx, SPI %u): libxl will not give it an interrupt\n",
			o->out ? "warning" : "error", i, s->base, s->irq, slot,
			VSLOT_MMIO_BASE + VSLOT_WINDOW * slot, VSLOT_SPI_FIRST + slot);
		bad = 1;
	}
	if (bad && !o->out) {
		fprintf(stderr, "xen-virtio-dt: only -o (a device tree for a toolstack that sizes the vGIC itself) can place devices elsewhere\n");
		return -1;
	}
	return 0;
}

static int check_slots(struct dt_options *o)
{
	char err[256];

	if (vslot_assign_from(o->slots, o->n, o->libxl_devices, err, sizeof(err))) {
		fprintf(stderr, "xen-virtio-dt: %s\n", err);
		return -1;
	}
	for (unsigned int i = 0; i < o->n; i++)
		if (check_slot(o, i))
			return -1;
	return check_layout(o);
}

static void print_slot_comment(const struct dt_options *o, unsigned int i)
{
	const struct vslot *s = &o->slots[i];

	printf("    # slot %u: 0x%08" PRIx64 ", SPI %u -> %s\n",
	       o->libxl_devices + i, s->base, s->irq, s->opts.model);
}

static void print_xl_417(const struct dt_options *o)
{
	printf("# xl.cfg, Xen 4.17: xl has no virtio = [...] option; libxl gives a\n"
	       "# virtio-mmio window and an SPI only to disks with specification=virtio,\n"
	       "# one slot per disk in the order listed. The guest learns each device's\n"
	       "# type from its DeviceID register and xen-virtio serves its --device at\n"
	       "# that base instead of the disk. Replace @SLOT_BLOCKDEV@ by any block\n"
	       "# device node (libxl only stat()s it), e.g. /dev/loop0.\n");
	if (o->libxl_devices)
		printf("# Put these after the guest's own %u virtio device(s); rename a vdev\n"
		       "# the config already uses.\n", o->libxl_devices);
	if (o->grants)
		printf("# Grants: these disk lines take no grant_usage=; libxl 4.17 decides\n"
		       "# from backend= (a backend other than Dom0 gets grant mappings).\n");
	printf("disk = [\n");
	for (unsigned int i = 0; i < o->n; i++) {
		print_slot_comment(o, i);
		printf("    'backendtype=standalone,specification=virtio,vdev=xvd%c,",
		       'a' + o->libxl_devices + i);
		if (o->backend)
			printf("backend=%u,", o->backend);
		printf("target=@SLOT_BLOCKDEV@',\n");
	}
	printf("]\n");
}

static void print_xl_418(const struct dt_options *o)
{
	printf("# xl.cfg, Xen 4.%u: libxl gives each virtio device a window and an\n"
	       "# SPI in order (its virtio disks first, then these), and writes their\n"
	       "# device tree nodes.\n", o->xen_minor);
	if (o->libxl_devices)
		printf("# Put these after the guest's own %u virtio device(s).\n",
		       o->libxl_devices);
	printf("virtio = [\n");
	for (unsigned int i = 0; i < o->n; i++) {
		print_slot_comment(o, i);
		printf("    \"type=virtio,device%" PRIx32 ",transport=mmio,backend=%u%s\",\n",
		       o->models[i]->device_id, o->backend,
		       o->grants ? ",grant_usage=1" : "");
	}
	printf("]\n");
}

static bool shell_safe(const char *s)
{
	return s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyz"
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			      ",._+-=:/@%") == strlen(s);
}

/* Print s as one shell word. */
static void print_word(const char *s)
{
	if (shell_safe(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

/* Append src to the spec being built, doubling commas (opts.h). */
static void spec_append(char *dst, size_t len, const char *src)
{
	size_t n = strlen(dst);

	for (; *src && n + 2 < len; src++) {
		dst[n++] = *src;
		if (*src == ',')
			dst[n++] = ',';
	}
	dst[n] = '\0';
}

/* The slot's spec with base= and irq= spelt out. */
static void format_spec(const struct vslot *s, char *buf, size_t len)
{
	char place[64];

	buf[0] = '\0';
	spec_append(buf, len, s->opts.model);
	for (unsigned int i = 0; i < s->opts.n; i++) {
		if (!strcmp(s->opts.kv[i].key, "base") ||
		    !strcmp(s->opts.kv[i].key, "irq"))
			continue;
		strncat(buf, ",", len - strlen(buf) - 1);
		spec_append(buf, len, s->opts.kv[i].key);
		strncat(buf, "=", len - strlen(buf) - 1);
		spec_append(buf, len, s->opts.kv[i].val);
	}
	snprintf(place, sizeof(place), ",base=0x%" PRIx64 ",irq=%u", s->base, s->irq);
	strncat(buf, place, len - strlen(buf) - 1);
}

static void print_daemon(const struct dt_options *o)
{
	char spec[4096];

	/* A comment, so that the whole output can be appended to xl.cfg. */
	printf("\n# In domain %u, before `xl create`:\n#   xen-virtio --domain ", o->backend);
	print_word(o->domain);
	for (unsigned int i = 0; i < o->n; i++) {
		format_spec(&o->slots[i], spec, sizeof(spec));
		printf(" \\\n#       --device ");
		print_word(spec);
	}
	printf("\n");
}

static int fdt_u32s(void *fdt, const char *name, const uint32_t *v, unsigned int n)
{
	fdt32_t cells[4];

	for (unsigned int i = 0; i < n; i++)
		cells[i] = cpu_to_fdt32(v[i]);
	return fdt_property(fdt, name, cells, n * sizeof(*cells));
}

static int fdt_cells(void *fdt)
{
	return fdt_property_u32(fdt, "#address-cells", 2) ?:
	       fdt_property_u32(fdt, "#size-cells", 2);
}

static int fdt_grant_node(void *fdt)
{
	return fdt_begin_node(fdt, "xen-grant-dma") ?:
	       fdt_property_string(fdt, "compatible", "xen,grant-dma") ?:
	       fdt_property_u32(fdt, "#iommu-cells", 1) ?:
	       fdt_property_u32(fdt, "phandle", XV_PHANDLE_GRANT_DMA) ?:
	       fdt_end_node(fdt);
}

static int fdt_virtio_node(void *fdt, const struct dt_options *o,
			   const struct vslot *s)
{
	const uint32_t reg[4] = { s->base >> 32, (uint32_t)s->base, 0, VSLOT_WINDOW };
	const uint32_t irq[3] = { XV_GIC_SPI, s->irq - 32, XV_IRQ_EDGE_RISING };
	const uint32_t iommus[2] = { XV_PHANDLE_GRANT_DMA, o->backend };
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "virtio@%" PRIx64, s->base);
	rc = fdt_begin_node(fdt, name) ?:
	     fdt_property_string(fdt, "compatible", "virtio,mmio") ?:
	     fdt_u32s(fdt, "reg", reg, 4) ?:
	     fdt_u32s(fdt, "interrupts", irq, 3) ?:
	     fdt_property_u32(fdt, "interrupt-parent", GUEST_PHANDLE_GIC) ?:
	     fdt_property(fdt, "dma-coherent", NULL, 0);
	if (!rc && o->grants)
		rc = fdt_u32s(fdt, "iommus", iommus, 2);
	return rc ?: fdt_end_node(fdt);
}

/* libxl copies /passthrough of a device_tree= blob into the guest's tree. */
static int build_fdt(void *fdt, const struct dt_options *o)
{
	int rc;

	rc = fdt_create(fdt, XV_FDT_SIZE) ?:
	     fdt_finish_reservemap(fdt) ?:
	     fdt_begin_node(fdt, "") ?:
	     fdt_cells(fdt) ?:
	     fdt_begin_node(fdt, "passthrough") ?:
	     fdt_property_string(fdt, "compatible", "simple-bus") ?:
	     fdt_property(fdt, "ranges", NULL, 0) ?:
	     fdt_cells(fdt);
	if (!rc && o->grants)
		rc = fdt_grant_node(fdt);
	for (unsigned int i = 0; !rc && i < o->n; i++)
		rc = fdt_virtio_node(fdt, o, &o->slots[i]);
	return rc ?: fdt_end_node(fdt) ?: fdt_end_node(fdt) ?: fdt_finish(fdt);
}

static int write_fdt(const struct dt_options *o)
{
	void *fdt = calloc(1, XV_FDT_SIZE);
	FILE *f;
	int rc;

	if (!fdt)
		return -1;
	rc = build_fdt(fdt, o);
	if (rc) {
		fprintf(stderr, "xen-virtio-dt: building the device tree: %s\n",
			fdt_strerror(rc));
		free(fdt);
		return -1;
	}
	f = fopen(o->out, "wb");
	if (!f || fwrite(fdt, fdt_totalsize(fdt), 1, f) != 1 || fclose(f)) {
		fprintf(stderr, "xen-virtio-dt: %s: %s\n", o->out, strerror(errno));
		rc = -1;
	}
	free(fdt);
	return rc;
}

/* What libxl's nr_spis must be for the guest's vGIC to have every SPI. */
static unsigned int needed_nr_spis(const struct dt_options *o)
{
	unsigned int top = 0;

	for (unsigned int i = 0; i < o->n; i++)
		if (o->slots[i].irq > top)
			top = o->slots[i].irq;
	return top - 32 + 1;
}

static void print_fdt_note(const struct dt_options *o)
{
	printf("# xl.cfg: the devices' nodes come from this partial device tree.\n"
	       "device_tree = \"%s\"\n", o->out);
	if (o->xen_minor >= 20) {
		/* xl 4.20 sizes the vGIC to at least nr_spis (it takes the max) */
		printf("# The guest's vGIC must have their SPIs too (SPI n is nr_spis > n - 32).\n"
		       "nr_spis = %u\n", needed_nr_spis(o));
		return;
	}
	fprintf(stderr,
"xen-virtio-dt: warning: the guest's vGIC must provide SPIs");
	for (unsigned int i = 0; i < o->n; i++)
		fprintf(stderr, " %u", o->slots[i].irq);
	fprintf(stderr, ", and libxl (Xen 4.17-4.19) sizes it only for its own virtio\n"
"devices and passthrough irqs: with xl alone these devices get no interrupt.\n"
"Use --xen 4.20 (its xl has nr_spis), or -o with a toolstack that sizes the\n"
"vGIC itself, or without -o the disk slots (4.17) or virtio = [...] (4.18+).\n");
}

static int run(const struct dt_options *o)
{
	if (o->grants)
		fprintf(stderr, "xen-virtio-dt: note: xen-virtio serves guests through foreign mappings and does not map grants yet\n");
	if (o->out) {
		if (write_fdt(o))
			return -1;
		print_fdt_note(o);
	} else if (o->xen_minor == 17) {
		print_xl_417(o);
	} else {
		print_xl_418(o);
	}
	print_daemon(o);
	return 0;
}

int main(int argc, char **argv)
{
	struct dt_options *o = calloc(1, sizeof(*o));
	int rc;

	if (!o)
		return 1;
	vdev_register_builtin();
	if (parse_args(argc, argv, o) || check_slots(o))
		rc = 2;
	else
		rc = run(o) ? 1 : 0;
	for (unsigned int i = 0; i < o->n; i++)
		vslot_free(&o->slots[i]);
	free(o);
	return rc;
}
