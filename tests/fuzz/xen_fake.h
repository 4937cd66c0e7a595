/* SPDX-License-Identifier: MIT */
/*
 * A simulated hypervisor for lib/xen/gmem_xen.c, so that its arithmetic can
 * be fuzzed without Xen: xen_fake.c defines the libxenctrl and
 * libxenforeignmemory calls it makes, answered for one guest.
 *
 * The guest's RAM is a sparse memfd holding every RAM window of the
 * architecture back to back (the "RAM offset" of an address is where its
 * byte lies in that file), so every mapping of a page shows the same bytes
 * and the harness can read what the guest really has. What is RAM follows
 * libxl's layout for max_pages, written here independently of
 * xgmem_guest_banks() so that it can be the judge. Pages the input refuses,
 * and pages that are not RAM, come back with an error in err[] and stay
 * PROT_NONE in the mapping: touching one faults, as it does under Xen.
 * Every mapping is recorded with the pages it was given; the harness checks
 * each pointer it is handed against that record.
 */
#ifndef XV_FUZZ_XEN_FAKE_H
#define XV_FUZZ_XEN_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_PAGE 4096ull
#define FAKE_MAX_WINDOWS 2
#define FAKE_MAX_REFUSED 4

struct fake_window {
	uint64_t base;
	uint64_t size;
};

/* Refused pages, as page numbers of the RAM file. */
struct fake_refused {
	uint64_t first;
	uint64_t count;
};

/* The guest and how the hypervisor behaves; the harness sets it. */
struct fake_guest {
	uint32_t domid;
	uint64_t max_pages;
	bool gone;		/* the domain lookup misses it */
	bool gone_next;		/* ... and answers for the next domain */
	bool no_fm, no_xc;	/* opening the interfaces fails */
	bool enoent;		/* refused pages say ENOENT, not EINVAL */
	unsigned int fail_map;	/* this map call (1-based) fails; 0 none */
	unsigned int n_refused;
	struct fake_refused refused[FAKE_MAX_REFUSED];
};

struct fake_map {
	uint8_t *addr;
	uint64_t pages;
	uint64_t first_pfn;
	uint8_t *ok;		/* per page: RAM and not refused when mapped */
	bool pin;
};

extern struct fake_guest fake;
/* Set around gmem_pin(): the mappings it makes are pins, not chunks. */
extern bool fake_pinning;
/* The core's map budget (0: none): no chunk may be mapped past it. */
extern uint64_t fake_map_budget;

/* Zero the guest's RAM and forget failures; no mapping may be left. */
void fake_reset(void);
/* The architecture's RAM windows, and the banks a guest of mem bytes has. */
unsigned int fake_windows(struct fake_window w[FAKE_MAX_WINDOWS]);
unsigned int fake_layout(uint64_t mem, struct fake_window b[FAKE_MAX_WINDOWS]);
/* The RAM offset of gpa if it lies in a window. */
bool fake_ram_offset(uint64_t gpa, uint64_t *off);
/* The guest address of a RAM offset (past the windows: after the last). */
uint64_t fake_gpa_of(uint64_t off);
/* Bytes from gpa to the end of its bank's RAM for a guest of mem bytes
 * (0 if gpa is not RAM). */
uint64_t fake_ram_left(uint64_t gpa, uint64_t mem);
/* Bytes from gpa on, at most max, that are RAM of a guest of mem bytes
 * and not refused (they lie in one bank, so in one run of the file). */
uint64_t fake_usable(uint64_t gpa, uint64_t max, uint64_t mem);
/* The guest's bytes at a RAM offset. */
void fake_ram_read(uint64_t off, void *buf, size_t len);
void fake_ram_write(uint64_t off, const void *buf, size_t len);

/* The live mapping that contains p, or NULL. */
const struct fake_map *fake_find(const void *p);
/* Bytes of live mappings (chunks or pins), mappings, open handles. */
uint64_t fake_mapped_bytes(bool pins);
unsigned int fake_live_maps(void);
unsigned int fake_open_handles(void);
/* Map calls that failed as a whole since fake_reset(). */
unsigned int fake_failed_maps(void);

#endif
