// SPDX-License-Identifier: MIT
/*
 * Fuzz the Xen guest-memory backend (lib/xen/gmem_xen.c) without Xen: the
 * hypervisor calls it makes are answered by tests/fuzz/xen_fake.c for one
 * simulated guest whose RAM size (max_pages) and refused pages come from
 * the input, and whose RAM is a memfd that every mapping shares.
 *
 * What a guest steers here is arithmetic: which bank an address falls in,
 * the chunk and group it indexes, how far a mapping may run before a
 * refused page, a chunk's end or the end of RAM, when a generation's cache
 * goes. A slip hands out a pointer to memory that is not the guest's, or
 * into a mapping already gone, so each grant is checked against the fake
 * hypervisor's own record of what it mapped:
 * - a pointer lies in a live mapping, at exactly the guest address asked
 *   for, every page under it was RAM and not refused when mapped, and it
 *   shows the bytes the guest's RAM (the memfd) holds there;
 * - copies read and write exactly the guest's bytes at that address, and
 *   only from what was usable RAM;
 * - while the guest's size never changed and no mapping failed as a whole,
 *   usable RAM is never refused (unless the map budget says so), and a
 *   mapping runs exactly as far as its 4 MiB chunk, RAM and the next
 *   refused page allow; whether a range is RAM is answered exactly;
 * - pointers mapped through a live hold stay valid across invalidations
 *   and cache rotations; a hold rotates exactly when the cache bound says;
 *   the core's counters (holds, generations, bytes mapped) agree with what
 *   is held and mapped; no chunk is mapped past the map budget; at
 *   teardown nothing is left mapped or open.
 * A violation is an abort(). The x86 (or Arm) RAM windows apply, as built.
 *
 * Input (missing bytes read as zero):
 *	 0-3	RAM pages, le32: bit 31 set: bits 0-30 as they are; else
 *		bit 30 set: up to 256 MiB; else up to 4.75 GiB (on x86 that
 *		crosses the MMIO hole into the second bank)
 *	 4	flags: 1 foreign-memory open fails, 2 xenctrl open fails,
 *		4 refused pages say ENOENT (not EINVAL), 8 the domain is
 *		gone, 16 ... and the lookup answers for the next domain,
 *		32 map call number byte 5 fails as a whole
 *	 5	that map call (1-based)
 *	 6	cache bound: 0 the backend's, 0x80 none, else (b & 0x7f) MiB
 *	 7	map budget: 0 the backend's, 0x80 none, else (b & 0x7f) * 4 MiB
 *	 8-31	four refused ranges: le32 first page of RAM (modulo the
 *		RAM's pages + 1), le16 pages (modulo 1100; 0: no range)
 *	32-	16-byte records (at most 256): op, slot, sel, arg, le32 len,
 *		le64 gpa. op % 16: 0 hold, 1 release, 2 invalidate, 3/14 read,
 *		4/15 write, 5/13 map, 6 is-RAM, 7 pin, 8 unpin, 9 set the
 *		bound (arg & 1: the budget; arg & 2: none; else len % 256 MiB),
 *		10 resize (arg & 3: len pages, grow, shrink, none), 11 the
 *		domain goes or comes back (arg & 1: as the next domain),
 *		12 xgmem_guest_banks() for gpa, len pages or UINT64_MAX.
 *		sel & 7 aims gpa (raw, a bank's RAM end, a window's end, a
 *		window's start, a chunk edge, a group edge, a refused range,
 *		RAM); sel >> 3 & 3 picks len (up to 8 KiB, up to 64 KiB, le32,
 *		2^64 - 1 - le32); sel & 0x20 copies through a hold of their
 *		own and maps with gmem_map_all(). Copies take at most 64 KiB.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gmem.h"
#include "xen_fake.h"
#include "xengmem.h"

#define HDR_SIZE 32
#define REC_SIZE 16
#define MAX_RECS 256
#define N_HOLDS 8
#define N_GRANTS 4
#define N_PINS 4
#define COPY_MAX 0x10000u
#define CMP_MAX 256u		/* bytes of a grant compared at each end */
/* gmem_xen.c maps RAM in 4 MiB chunks, indexed in groups of 512; banks
 * start on a chunk boundary, so a chunk edge is one in guest addresses. */
#define CHUNK (4ull << 20)
#define GROUP (512 * CHUNK)
#define DOMID 7
#define PIN_MAX_PAGES (1ull << 20)	/* the most a pin may map */

enum {
	OP_HOLD, OP_RELEASE, OP_INVALIDATE, OP_READ, OP_WRITE, OP_MAP,
	OP_IS_RAM, OP_PIN, OP_UNPIN, OP_BOUND, OP_RESIZE, OP_GONE, OP_BANKS,
};

static const uint8_t op_of[16] = {
	OP_HOLD, OP_RELEASE, OP_INVALIDATE, OP_READ, OP_WRITE, OP_MAP,
	OP_IS_RAM, OP_PIN, OP_UNPIN, OP_BOUND, OP_RESIZE, OP_GONE, OP_BANKS,
	OP_MAP, OP_READ, OP_WRITE,
};

struct rec {
	uint8_t op, slot, sel, arg;
	uint32_t len;
	uint64_t gpa;
};

struct grant {
	const uint8_t *p;
	uint64_t gpa;
	uint64_t len;
};

struct slot {
	struct gmem_hold *h;
	unsigned int n;
	struct grant g[N_GRANTS];
};

struct run {
	struct gmem *gm;
	struct slot slots[N_HOLDS];
	struct gmem_pin pins[N_PINS];
	uint64_t mem_max;	/* the most RAM the guest has had */
	bool changed;		/* its size or presence changed */
	uint32_t seq;
};

/* Bytes to copy: a window into pat that moves with every operation, so
 * that bytes landing at the wrong address do not match by chance. */
static uint8_t pat[COPY_MAX + 256], got[COPY_MAX], cmp[CMP_MAX];

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The guest's RAM as Xen reports it now. */
static uint64_t guest_mem(void)
{
	return fake.gone ? 0 : fake.max_pages * FAKE_PAGE;
}

/* The judge's answers are exact only while nothing moved under the cache. */
static bool stable(const struct run *r)
{
	return !r->changed && !fake_failed_maps();
}

static bool range_ok(uint64_t gpa, uint64_t len)
{
	return len && gpa + len - 1 >= gpa;
}

/* p was handed out for [gpa, gpa + len): is it the guest's, and there? */
static void check_grant(const uint8_t *p, uint64_t len, uint64_t gpa,
			bool pin, bool content)
{
	const struct fake_map *m = fake_find(p);
	uint64_t at, off;
	size_t k;

	if (!m || m->pin != pin || !len)
		abort();	/* not mapped (any more), or the wrong kind */
	at = p - m->addr;
	if (len > m->pages * FAKE_PAGE - at || m->first_pfn * FAKE_PAGE + at != gpa)
		abort();	/* runs past its mapping, or another address */
	if (!content)
		return;
	for (uint64_t pg = at / FAKE_PAGE; pg <= (at + len - 1) / FAKE_PAGE; pg++)
		if (!m->ok[pg])
			abort();	/* a page Xen refused or that is not RAM */
	if (!fake_ram_offset(gpa, &off))
		abort();
	k = len < CMP_MAX ? len : CMP_MAX;
	fake_ram_read(off, cmp, k);
	if (memcmp(p, cmp, k))
		abort();
	fake_ram_read(off + len - k, cmp, k);
	if (memcmp(p + len - k, cmp, k))
		abort();
}

/* Every pointer still held is still where it was. */
static void check_grants(const struct run *r, bool content)
{
	for (unsigned int i = 0; i < N_HOLDS; i++) {
		const struct slot *s = &r->slots[i];

		for (unsigned int j = 0; s->h && j < s->n && j < N_GRANTS; j++)
			check_grant(s->g[j].p, s->g[j].len, s->g[j].gpa, false,
				    content);
	}
	for (unsigned int i = 0; i < N_PINS; i++)
		if (r->pins[i].ptr)
			check_grant(r->pins[i].ptr, r->pins[i].len, r->pins[i].gpa,
				    true, content);
}

/* The core's counters against what the harness holds and the fake maps. */
static void check_counters(const struct run *r)
{
	unsigned int live = 0, old = 0;
	struct gmem_stats st;

	gmem_get_stats(r->gm, &st);
	for (unsigned int i = 0; i < N_HOLDS; i++) {
		struct gmem_hold *h = r->slots[i].h;
		bool seen = false;

		if (!h)
			continue;
		live++;
		for (unsigned int j = 0; j < i; j++)
			seen |= r->slots[j].h == h;
		old += h != r->gm->cur && !seen;
	}
	if (st.holds != live || st.generations != 1 + old)
		abort();
	if (st.mapped_total != fake_mapped_bytes(false) || st.mapped > st.mapped_total)
		abort();
	if (!live && st.mapped != st.mapped_total)
		abort();	/* an old generation outlived its holds */
}

static void drop_hold(struct slot *s)
{
	gmem_release(s->h);
	s->h = NULL;
	s->n = 0;
}

/* A new hold rotates the generation exactly when the cache bound says. */
static void take_hold(struct run *r, struct slot *s)
{
	struct gmem_stats st0, st1;
	struct gmem_hold *cur;
	bool rotate;

	drop_hold(s);
	cur = r->gm->cur;
	gmem_get_stats(r->gm, &st0);
	rotate = r->gm->cache_max && st0.generations < GMEM_MAX_GENERATIONS &&
		 st0.mapped > r->gm->cache_max;
	s->h = gmem_hold(r->gm);
	gmem_get_stats(r->gm, &st1);
	if (s->h != r->gm->cur || (s->h != cur) != rotate ||
	    st1.rotations != st0.rotations + rotate)
		abort();
}

static uint64_t pick_gpa(const struct rec *c)
{
	struct fake_window w[FAKE_MAX_WINDOWS], b[FAKE_MAX_WINDOWS];
	unsigned int nw = fake_windows(w), nb = fake_layout(guest_mem(), b);
	uint64_t raw = c->gpa, near = (uint64_t)(int64_t)(int16_t)raw, k;
	unsigned int i = (raw >> 16) % nw, ib = (raw >> 16) % nb;

	switch (c->sel & 7) {
	case 1:
		return b[ib].base + b[ib].size + near;
	case 2:
		return w[i].base + w[i].size + near;
	case 3:
		return w[i].base + near;
	case 4:
		k = (raw >> 20) % (b[ib].size / CHUNK + 1);
		return b[ib].base + k * CHUNK + near;
	case 5:
		k = (raw >> 20) % (w[i].size / GROUP + 1);
		return w[i].base + k * GROUP + near;
	case 6:
		if (fake.n_refused) {
			k = fake.refused[(raw >> 16) % fake.n_refused].first;
			return fake_gpa_of(k * FAKE_PAGE) + near;
		}
		/* fall through */
	case 7:
		return fake_gpa_of((raw >> 16) % (guest_mem() + CHUNK)) + near;
	default:
		return raw;
	}
}

static uint64_t pick_len(const struct rec *c)
{
	switch ((c->sel >> 3) & 3) {
	case 0:
		return 1 + c->len % 0x2000;
	case 1:
		return c->len % (COPY_MAX + 1);
	case 2:
		return c->len;
	default:
		return UINT64_MAX - c->len;
	}
}

static struct slot *held_slot(struct run *r, const struct rec *c)
{
	struct slot *s = &r->slots[c->slot % N_HOLDS];

	if (!s->h)
		take_hold(r, s);
	return s;
}

static void op_copy(struct run *r, const struct rec *c, bool write)
{
	uint64_t gpa = pick_gpa(c), len = pick_len(c), off, room;
	const uint8_t *want = pat + r->seq % 256;
	bool own = c->sel & 0x20, expect;
	struct gmem_stats st0, st1;
	struct slot *s = NULL;
	int rc;

	if (len > COPY_MAX)
		len %= COPY_MAX + 1;
	memset(got, 0, len);
	/* Fresh bytes where a read must find them: only guest RAM is there. */
	room = fake_ram_left(gpa, UINT64_MAX);
	if (!write && room && fake_ram_offset(gpa, &off))
		fake_ram_write(off, want, len < room ? len : room);
	if (!own)
		s = held_slot(r, c);
	gmem_get_stats(r->gm, &st0);
	if (write)
		rc = own ? gmem_write(r->gm, gpa, want, len) :
			   gmem_write_held(s->h, gpa, want, len);
	else
		rc = own ? gmem_read(r->gm, gpa, got, len) :
			   gmem_read_held(s->h, gpa, got, len);
	gmem_get_stats(r->gm, &st1);
	if (rc && rc != -EFAULT)
		abort();
	expect = !len || (range_ok(gpa, len) && fake_usable(gpa, len, guest_mem()) == len);
	if (!rc && len) {
		if (fake_usable(gpa, len, r->mem_max) != len || !fake_ram_offset(gpa, &off))
			abort();	/* copied what never was usable RAM */
		if (write)
			fake_ram_read(off, got, len);
		if (memcmp(got, want, len))
			abort();	/* not the guest's bytes at gpa */
	}
	if (rc && expect && stable(r) && st1.over_budget == st0.over_budget)
		abort();		/* refused usable RAM */
}

static void op_map(struct run *r, const struct rec *c)
{
	uint64_t gpa = pick_gpa(c), len = pick_len(c), contig = 0, expect = 0;
	uint64_t in_chunk = len < CHUNK - gpa % CHUNK ? len : CHUNK - gpa % CHUNK;
	struct slot *s = held_slot(r, c);
	bool all = c->sel & 0x20;
	struct gmem_stats st0, st1;
	const uint8_t *p;

	gmem_get_stats(r->gm, &st0);
	if (all) {
		p = gmem_map_all(s->h, gpa, len);
		contig = len;
	} else {
		p = gmem_map(s->h, gpa, len, &contig);
	}
	gmem_get_stats(r->gm, &st1);
	if (range_ok(gpa, len))
		expect = fake_usable(gpa, in_chunk, guest_mem());
	if (p) {
		if (!contig || contig > len)
			abort();
		check_grant(p, contig, gpa, false, true);
		s->g[s->n++ % N_GRANTS] = (struct grant){ p, gpa, contig };
		if (stable(r) && contig != expect)
			abort();	/* not as far as chunk, RAM and refusals allow */
	} else if (stable(r) && st1.over_budget == st0.over_budget &&
		   expect && (!all || expect == len)) {
		abort();		/* refused usable RAM */
	}
}

static void op_is_ram(const struct run *r, const struct rec *c)
{
	uint64_t gpa = pick_gpa(c), len = pick_len(c);
	bool ok = gmem_is_ram(r->gm, gpa, len), ok_ever, ok_now;

	ok_ever = range_ok(gpa, len) && len <= fake_ram_left(gpa, r->mem_max);
	ok_now = range_ok(gpa, len) && len <= fake_ram_left(gpa, guest_mem());
	if ((ok && !ok_ever) || (stable(r) && ok != ok_now))
		abort();
}

static void op_pin(struct run *r, const struct rec *c)
{
	struct gmem_pin *pin = &r->pins[c->arg % N_PINS];
	uint64_t gpa = pick_gpa(c), len = pick_len(c), pages = 0;
	const struct fake_map *m;
	bool expect;
	int rc;

	gmem_unpin(r->gm, pin);
	fake_pinning = true;
	rc = gmem_pin(r->gm, gpa, len, pin);
	fake_pinning = false;
	if (range_ok(gpa, len))
		pages = (gpa + len - 1) / FAKE_PAGE - gpa / FAKE_PAGE + 1;
	expect = pages && pages <= PIN_MAX_PAGES &&
		 fake_usable(gpa, len, guest_mem()) == len;
	if (!rc) {
		check_grant(pin->ptr, len, gpa, true, true);
		m = fake_find(pin->ptr);
		if (pin->gpa != gpa || pin->len != len || m->pages != pages)
			abort();
	} else if (expect && stable(r)) {
		abort();
	}
}

static void op_bound(struct run *r, const struct rec *c)
{
	uint64_t v = c->arg & 2 ? 0 : (uint64_t)(c->len % 256) << 20;

	if (c->arg & 1)
		gmem_set_map_budget(r->gm, v);
	else
		gmem_set_cache_max(r->gm, v);
	fake_map_budget = r->gm->map_budget;
}

static void note_mem(struct run *r, uint64_t before)
{
	if (guest_mem() != before)
		r->changed = true;
	if (guest_mem() > r->mem_max)
		r->mem_max = guest_mem();
}

static void op_resize(struct run *r, const struct rec *c)
{
	uint64_t before = guest_mem(), pages = fake.max_pages;

	switch (c->arg & 3) {
	case 0:
		pages = c->len & 0x7fffffffu;
		break;
	case 1:
		pages += c->len % 0x2000;
		break;
	case 2:
		pages -= pages < c->len % 0x2000 ? pages : c->len % 0x2000;
		break;
	default:
		pages = 0;
	}
	fake.max_pages = pages;
	note_mem(r, before);
}

static void op_gone(struct run *r, const struct rec *c)
{
	uint64_t before = guest_mem();

	fake.gone = !fake.gone;
	fake.gone_next = c->arg & 1;
	r->changed = true;	/* the lookup answers differently */
	note_mem(r, before);
}

/* The layout xgmem_guest_banks() gives is libxl's (the fake's). */
static void op_banks(const struct rec *c)
{
	struct xgmem_bank got_b[XGMEM_MAX_BANKS];
	struct fake_window want_b[FAKE_MAX_WINDOWS];
	uint64_t mem = c->sel & 0x20 ? UINT64_MAX :
		       c->arg & 1 ? c->gpa : (uint64_t)c->len * FAKE_PAGE;
	unsigned int n = xgmem_guest_banks(mem, got_b);

	if (n != fake_layout(mem, want_b))
		abort();
	for (unsigned int i = 0; i < n; i++)
		if (got_b[i].base != want_b[i].base || got_b[i].size != want_b[i].size)
			abort();
}

static void run_op(struct run *r, const struct rec *c)
{
	r->seq++;
	switch (op_of[c->op % 16]) {
	case OP_HOLD:
		take_hold(r, &r->slots[c->slot % N_HOLDS]);
		break;
	case OP_RELEASE:
		drop_hold(&r->slots[c->slot % N_HOLDS]);
		break;
	case OP_INVALIDATE:
		gmem_invalidate(r->gm);
		check_grants(r, true);
		break;
	case OP_READ:
		op_copy(r, c, false);
		break;
	case OP_WRITE:
		op_copy(r, c, true);
		break;
	case OP_MAP:
		op_map(r, c);
		break;
	case OP_IS_RAM:
		op_is_ram(r, c);
		break;
	case OP_PIN:
		op_pin(r, c);
		break;
	case OP_UNPIN:
		gmem_unpin(r->gm, &r->pins[c->arg % N_PINS]);
		break;
	case OP_BOUND:
		op_bound(r, c);
		break;
	case OP_RESIZE:
		op_resize(r, c);
		break;
	case OP_GONE:
		op_gone(r, c);
		break;
	default:
		op_banks(c);
	}
}

static void setup(const uint8_t *h)
{
	uint32_t pages = le32(h);

	memset(&fake, 0, sizeof(fake));
	fake.domid = DOMID;
	fake.max_pages = pages & 0x80000000u ? pages & 0x7fffffffu :
			 pages & 0x40000000u ? pages % 0x10000 : pages % 0x130000;
	fake.no_fm = h[4] & 1;
	fake.no_xc = h[4] & 2;
	fake.enoent = h[4] & 4;
	fake.gone = h[4] & 8;
	fake.gone_next = h[4] & 16;
	fake.fail_map = h[4] & 32 ? h[5] : 0;
	for (unsigned int i = 0; i < FAKE_MAX_REFUSED; i++) {
		const uint8_t *f = h + 8 + 6 * i;
		uint64_t count = (f[4] | f[5] << 8) % 1100;

		if (count)
			fake.refused[fake.n_refused++] = (struct fake_refused){
				le32(f) % (fake.max_pages + 1), count };
	}
}

static uint64_t bound_of(uint8_t b, uint64_t unit)
{
	return b & 0x80 ? 0 : (b & 0x7f) * unit;
}

static void teardown(struct run *r)
{
	struct gmem_stats st;

	for (unsigned int i = 0; i < N_HOLDS; i++)
		drop_hold(&r->slots[i]);
	for (unsigned int i = 0; i < N_PINS; i++)
		gmem_unpin(r->gm, &r->pins[i]);
	check_counters(r);
	gmem_get_stats(r->gm, &st);
	if (st.holds || st.generations != 1 || fake_mapped_bytes(true))
		abort();
	gmem_destroy(r->gm);
	if (fake_live_maps() || fake_open_handles())
		abort();	/* a mapping or a handle outlived the backend */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	uint8_t h[HDR_SIZE] = { 0 };
	size_t n = size > HDR_SIZE ? (size - HDR_SIZE) / REC_SIZE : 0;

	fuzz_quiet_logs();
	if (!pat[1])
		for (size_t i = 0; i < sizeof(pat); i++)
			pat[i] = (i * 0x9e3779b1u) >> 13 | 1;
	memcpy(h, data, size < HDR_SIZE ? size : HDR_SIZE);
	memset(&r, 0, sizeof(r));
	fake_reset();
	setup(h);
	r.mem_max = guest_mem();
	r.gm = xgmem_new(DOMID);
	if (!r.gm) {
		/* Only the interfaces failing may fail it, without leaking one. */
		if ((!fake.no_fm && !fake.no_xc) || fake_open_handles())
			abort();
		return 0;
	}
	if (fake.no_fm || fake.no_xc)
		abort();
	if (h[6])
		gmem_set_cache_max(r.gm, bound_of(h[6], 1ull << 20));
	if (h[7])
		gmem_set_map_budget(r.gm, bound_of(h[7], 4ull << 20));
	fake_map_budget = r.gm->map_budget;
	if (n > MAX_RECS)
		n = MAX_RECS;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = data + HDR_SIZE + i * REC_SIZE;
		struct rec c = { p[0], p[1], p[2], p[3], le32(p + 4), le64(p + 8) };

		run_op(&r, &c);
		check_grants(&r, false);
		check_counters(&r);
	}
	teardown(&r);
	return 0;
}
