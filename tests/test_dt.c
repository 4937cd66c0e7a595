// SPDX-License-Identifier: MIT
/*
 * xen-virtio-dt: run the built tool on device lists, check the xl.cfg lines
 * and daemon command line it prints, its refusals, and the device tree it
 * writes (decompiled by dtc, and checked with libfdt). Also the slot
 * numbering it relies on, vslot_assign_from().
 *
 * XV_DT_TOOL (the tool in the build tree) and XV_DTC come from tests/dt.mk.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libfdt.h>

#include "vslot.h"
#include "xtest.h"

struct run {
	int status;		/* exit status, or -1 */
	char *out;		/* stdout */
	char *err;		/* stderr */
};

static char tmpdir[] = "/tmp/xv-dt-XXXXXX";
static bool have_tmpdir;

static void remove_tmpdir(void *unused)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	/* With -n the next case runs in this process: make a new one. */
	memcpy(tmpdir + sizeof(tmpdir) - 7, "XXXXXX", 6);
	have_tmpdir = false;
}

static void free_ptr(void *p)
{
	free(p);
}

/* A file in this case's temporary directory; freed when the case ends. */
static const char *tmp_path(const char *name)
{
	size_t len = sizeof(tmpdir) + strlen(name) + 1;
	char *path = malloc(len);

	XT_ASSERT(path);
	xt_defer(free_ptr, path);
	if (!have_tmpdir) {
		XT_ASSERT_MSG(mkdtemp(tmpdir), "mkdtemp %s: %s", tmpdir,
			      strerror(errno));
		have_tmpdir = true;
		xt_defer(remove_tmpdir, NULL);
	}
	snprintf(path, len, "%s/%s", tmpdir, name);
	return path;
}

/* The whole file, NUL-terminated; *len gets its size. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	XT_ASSERT_MSG(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	XT_ASSERT(buf);
	XT_ASSERT(fread(buf, 1, n, f) == (size_t)n);
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

static void free_run(void *p)
{
	struct run *r = p;

	free(r->out);
	free(r->err);
	free(r);
}

/* Run the tool with args (shell words); its output is in the result. */
/*
 * Users append the tool's output to their xl.cfg: every line must be one
 * xl accepts there (a comment, an assignment, or a list's body).
 */
static void check_xl_fragment(const char *out)
{
	const char *line = out;

	while (*line) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		int len = end - line, n = 0;
		char key[32];

		if (len && line[0] != '#' && line[0] != ']' &&
		    strncmp(line, "    ", 4) &&
		    !(sscanf(line, "%31[a-z_] = %n", key, &n) == 1 && n > 0))
			XT_FAIL("not an xl.cfg line: %.*s", len, line);
		line = *end ? end + 1 : end;
	}
}

static struct run *run_tool(const char *fmt, ...)
{
	const char *out = tmp_path("stdout"), *err = tmp_path("stderr");
	struct run *r = calloc(1, sizeof(*r));
	char args[1024], cmd[2048];
	va_list ap;
	int st;

	XT_ASSERT(r);
	xt_defer(free_run, r);
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>'%s'", XV_DT_TOOL, args,
		 out, err);
	st = system(cmd);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r->out = slurp(out, NULL);
	r->err = slurp(err, NULL);
	xt_log("$ xen-virtio-dt %s\nexit %d\n--- stdout\n%s--- stderr\n%s",
	       args, r->status, r->out, r->err);
	if (r->status == 0)
		check_xl_fragment(r->out);
	return r;
}

#define HAS(text, needle) \
	XT_ASSERT_MSG(strstr((text), (needle)), "missing: %s", (needle))
#define LACKS(text, needle) \
	XT_ASSERT_MSG(!strstr((text), (needle)), "unexpected: %s", (needle))

/* The node named name in dts, up to its closing brace. */
static char *dts_node(const char *dts, const char *name)
{
	const char *start = strstr(dts, name);
	const char *end;

	XT_ASSERT_MSG(start, "no node %s", name);
	end = strstr(start, "};");
	XT_ASSERT(end);
	return strndup(start, end - start);
}

/* Check the blob with libfdt and return its source, from dtc. */
static char *decompile(const char *path)
{
	char cmd[512], *blob, *dts;
	int rc;
	size_t len;
	FILE *p;

	blob = slurp(path, &len);
	xt_defer(free_ptr, blob);
	rc = fdt_check_header(blob);
	XT_ASSERT_MSG(rc == 0, "fdt_check_header: %s", fdt_strerror(rc));
	XT_EQ(fdt_totalsize(blob), len);
	XT_ASSERT(fdt_path_offset(blob, "/passthrough") >= 0);

	snprintf(cmd, sizeof(cmd), "%s -q -I dtb -O dts '%s'", XV_DTC, path);
	p = popen(cmd, "r");
	XT_ASSERT(p);
	dts = calloc(1, 65536);
	XT_ASSERT(dts);
	xt_defer(free_ptr, dts);
	len = fread(dts, 1, 65535, p);
	XT_EQ(pclose(p), 0);
	XT_ASSERT(len > 0);
	xt_log("--- dts\n%s", dts);
	return dts;
}

static void check_virtio_node(const char *dts, const char *name,
			      const char *reg, const char *irq)
{
	char *n = dts_node(dts, name);

	xt_defer(free_ptr, n);
	HAS(n, "compatible = \"virtio,mmio\";");
	HAS(n, reg);
	HAS(n, irq);
	HAS(n, "interrupt-parent = <0xfde8>;");
	HAS(n, "dma-coherent;");
}

static void dt_default_layout(void)
{
	const char *dtb = tmp_path("a.dtb");
	struct run *r = run_tool("--device rng --device blk,file=/x -o '%s'", dtb);
	char *dts;

	XT_EQ(r->status, 0);
	HAS(r->out, "device_tree = \"");
	HAS(r->out, "a.dtb\"\n");
	HAS(r->err, "vGIC must provide SPIs 33 34");
	LACKS(r->out, "disk = [\n");
	LACKS(r->out, "virtio = [\n");
	dts = decompile(dtb);
	HAS(dts, "#address-cells = <0x02>;\n\t#size-cells = <0x02>;");
	HAS(dts, "passthrough {\n\t\tcompatible = \"simple-bus\";\n\t\tranges;\n"
		 "\t\t#address-cells = <0x02>;\n\t\t#size-cells = <0x02>;");
	check_virtio_node(dts, "virtio@2000000 {",
			  "reg = <0x00 0x2000000 0x00 0x200>;",
			  "interrupts = <0x00 0x01 0x01>;");
	check_virtio_node(dts, "virtio@2000200 {",
			  "reg = <0x00 0x2000200 0x00 0x200>;",
			  "interrupts = <0x00 0x02 0x01>;");
	LACKS(dts, "iommus");
	LACKS(dts, "grant-dma");
}

/* xl 4.20 has nr_spis: any slot works, and the tool says how many SPIs. */
static void dt_420_nr_spis(void)
{
	const char *dtb = tmp_path("n.dtb");
	struct run *r = run_tool("--xen 4.20 --device rng,base=0x2000a00,irq=40 "
				 "--device console -o '%s'", dtb);
	char *dts;

	XT_EQ(r->status, 0);
	HAS(r->out, "device_tree = \"");
	/* SPI 40 is the highest: the vGIC needs SPIs 32..40 */
	HAS(r->out, "\nnr_spis = 9\n");
	LACKS(r->err, "vGIC must provide");
	LACKS(r->err, "not libxl's next slot");
	HAS(r->out, "--device rng,base=0x2000a00,irq=40");
	dts = decompile(dtb);
	check_virtio_node(dts, "virtio@2000a00 {",
			  "reg = <0x00 0x2000a00 0x00 0x200>;",
			  "interrupts = <0x00 0x08 0x01>;");
	/* before 4.20 the same blob comes with a warning and no nr_spis */
	r = run_tool("--xen 4.19 --device rng,base=0x2000a00,irq=40 -o '%s'", dtb);
	XT_EQ(r->status, 0);
	LACKS(r->out, "nr_spis");
	HAS(r->err, "Use --xen 4.20");
}

static void dt_grants(void)
{
	const char *dtb = tmp_path("g.dtb");
	struct run *r = run_tool("--grants --backend 3 --device console "
				 "--device rng,base=0x2000a00,irq=40 -o '%s'", dtb);
	char *dts, *n;

	XT_EQ(r->status, 0);
	/* Off libxl's layout: allowed with -o, but said. */
	HAS(r->err, "is not libxl's next slot 1");
	HAS(r->err, "vGIC must provide SPIs 33 40");
	dts = decompile(dtb);
	n = dts_node(dts, "xen-grant-dma {");
	xt_defer(free_ptr, n);
	HAS(n, "compatible = \"xen,grant-dma\";");
	HAS(n, "#iommu-cells = <0x01>;");
	HAS(n, "phandle = <0xfee8>;");
	check_virtio_node(dts, "virtio@2000000 {",
			  "reg = <0x00 0x2000000 0x00 0x200>;",
			  "interrupts = <0x00 0x01 0x01>;");
	check_virtio_node(dts, "virtio@2000a00 {",
			  "reg = <0x00 0x2000a00 0x00 0x200>;",
			  "interrupts = <0x00 0x08 0x01>;");
	n = dts_node(dts, "virtio@2000a00 {");
	xt_defer(free_ptr, n);
	HAS(n, "iommus = <0xfee8 0x03>;");
}

static void xl_417(void)
{
	struct run *r = run_tool("--domain g1 --device rng "
				 "--device 'blk,file=/srv/a,,b.img'");

	XT_EQ(r->status, 0);
	HAS(r->out, "disk = [\n"
		    "    # slot 0: 0x02000000, SPI 33 -> rng\n"
		    "    'backendtype=standalone,specification=virtio,vdev=xvda,target=@SLOT_BLOCKDEV@',\n"
		    "    # slot 1: 0x02000200, SPI 34 -> blk\n"
		    "    'backendtype=standalone,specification=virtio,vdev=xvdb,target=@SLOT_BLOCKDEV@',\n"
		    "]\n");
	HAS(r->out, "#   xen-virtio --domain g1 \\\n"
		    "#       --device rng,base=0x2000000,irq=33 \\\n"
		    "#       --device blk,file=/srv/a,,b.img,base=0x2000200,irq=34\n");
	LACKS(r->out, "virtio = [\n");
	LACKS(r->out, "device_tree");
}

static void xl_417_after_libxl_devices(void)
{
	struct run *r = run_tool("--libxl-devices 2 --backend 1 --device rng");

	XT_EQ(r->status, 0);
	HAS(r->out, "own 2 virtio device(s)");
	HAS(r->out, "    # slot 2: 0x02000400, SPI 35 -> rng\n"
		    "    'backendtype=standalone,specification=virtio,vdev=xvdc,backend=1,target=@SLOT_BLOCKDEV@',\n");
	HAS(r->out, "--device rng,base=0x2000400,irq=35\n");
}

static void xl_418(void)
{
	struct run *r = run_tool("--xen 4.18 --device console --device rng "
				 "--device blk,file=/d");

	XT_EQ(r->status, 0);
	HAS(r->out, "virtio = [\n"
		    "    # slot 0: 0x02000000, SPI 33 -> console\n"
		    "    \"type=virtio,device3,transport=mmio,backend=0\",\n"
		    "    # slot 1: 0x02000200, SPI 34 -> rng\n"
		    "    \"type=virtio,device4,transport=mmio,backend=0\",\n"
		    "    # slot 2: 0x02000400, SPI 35 -> blk\n"
		    "    \"type=virtio,device2,transport=mmio,backend=0\",\n"
		    "]\n");
	HAS(r->out, "--device blk,file=/d,base=0x2000400,irq=35\n");
	LACKS(r->out, "disk = [\n");
}

static void xl_419_grants(void)
{
	struct run *r = run_tool("--xen 4.19 --grants --backend 2 -L 1 --device rng");

	XT_EQ(r->status, 0);
	HAS(r->out, "    # slot 1: 0x02000200, SPI 34 -> rng\n"
		    "    \"type=virtio,device4,transport=mmio,backend=2,grant_usage=1\",\n");
	HAS(r->out, "# In domain 2,");
}

static void expect_error(const char *args, const char *msg)
{
	struct run *r = run_tool("%s", args);

	XT_EQ(r->status, 2);
	HAS(r->err, msg);
	LACKS(r->out, "xen-virtio --domain");
}

static void err_outside_window(void)
{
	expect_error("--device rng,base=0x2100000", "outside Xen's virtio window");
	expect_error("--device rng,base=0x1000000 -o /dev/null",
		     "outside Xen's virtio window");
}

static void err_spi_44(void)
{
	expect_error("--device rng,irq=44", "SPI 44) lies outside");
	/* The twelfth default slot runs past SPI 43 too. */
	expect_error("-L 11 --device rng", "SPI 44) lies outside");
}

static void err_libxl_collision(void)
{
	expect_error("--libxl-devices 2 --device rng,base=0x2000200,irq=40 -o /dev/null",
		     "collides with libxl's own virtio devices");
	expect_error("--libxl-devices 2 --device rng,base=0x2000800,irq=33 -o /dev/null",
		     "collides with libxl's own virtio devices");
}

static void err_two_devices_collide(void)
{
	expect_error("--device rng,base=0x2000200 --device rng", "share base");
	expect_error("--device rng,irq=34 --device rng", "share irq");
}

static void err_unknown_model(void)
{
	expect_error("--device nosuch", "unknown device model 'nosuch'");
}

static void err_not_libxls_slot(void)
{
	expect_error("--device rng,base=0x2000a00,irq=40",
		     "libxl will not give it an interrupt");
	expect_error("--xen 4.18 --device rng,irq=35",
		     "libxl will not give it an interrupt");
}

static void err_command_line(void)
{
	expect_error("", "no --device");
	expect_error("--xen 4.16 --device rng", "only from Xen 4.17");
	expect_error("--xen 5 --device rng", "bad --xen");
	expect_error("--device rng,foo", "is not key=value");
}

static void assign_from(void)
{
	struct vslot s[3];
	char err[256];

	XT_EQ(vslot_parse(&s[0], "rng", err, sizeof(err)), 0);
	XT_EQ(vslot_parse(&s[1], "rng,base=0x2001000,irq=40", err, sizeof(err)), 0);
	XT_EQ(vslot_parse(&s[2], "rng", err, sizeof(err)), 0);
	XT_EQ(vslot_assign(s, 3, err, sizeof(err)), 0);
	XT_EQ(s[0].base, 0x2000000);
	XT_EQ(s[0].irq, 33);
	XT_EQ(s[2].base, 0x2000400);
	XT_EQ(s[2].irq, 35);
	XT_EQ(vslot_assign_from(s, 3, 4, err, sizeof(err)), 0);
	XT_EQ(s[0].base, 0x2000800);
	XT_EQ(s[0].irq, 37);
	XT_EQ(s[1].base, 0x2001000);
	XT_EQ(s[1].irq, 40);
	XT_EQ(s[2].base, 0x2000c00);
	XT_EQ(s[2].irq, 39);
	/* Default slot 8 (first 6 + 2) lands on device 1's window and SPI. */
	XT_NE(vslot_assign_from(s, 3, 6, err, sizeof(err)), 0);
	XT_ASSERT(strstr(err, "share base"));
	for (unsigned int i = 0; i < 3; i++)
		vslot_free(&s[i]);
}

int main(int argc, char **argv)
{
	static const struct xt_case cases[] = {
		XT_CASE(dt_default_layout),
		XT_CASE(dt_420_nr_spis),
		XT_CASE(dt_grants),
		XT_CASE(xl_417),
		XT_CASE(xl_417_after_libxl_devices),
		XT_CASE(xl_418),
		XT_CASE(xl_419_grants),
		XT_CASE(err_outside_window),
		XT_CASE(err_spi_44),
		XT_CASE(err_libxl_collision),
		XT_CASE(err_two_devices_collide),
		XT_CASE(err_unknown_model),
		XT_CASE(err_not_libxls_slot),
		XT_CASE(err_command_line),
		XT_CASE(assign_from),
	};

	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
