// SPDX-License-Identifier: MIT
/*
 * The Xen guest-memory backend (lib/xen/gmem_xen.c) against the simulated
 * hypervisor of the fuzz harness (tests/fuzz/xen_fake.c): cases a guest
 * can bring about on purpose, checked byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gmem.h"
#include "xen_fake.h"
#include "xengmem.h"
#include "xtest.h"

#define DOMID 7
#define RAM_PAGES 4096ull		/* 16 MiB */
#define REFUSED_PAGE 5ull

static struct gmem *gm;

static void teardown(void *arg)
{
	(void)arg;
	gmem_destroy(gm);
	gm = NULL;
	XT_EQ(fake_live_maps(), 0);
	XT_EQ(fake_open_handles(), 0);
}

/* A guest of RAM_PAGES whose page REFUSED_PAGE Xen refuses for now. */
static void guest_with_hole(void)
{
	fake_reset();
	memset(&fake, 0, sizeof(fake));
	fake.domid = DOMID;
	fake.max_pages = RAM_PAGES;
	fake.n_refused = 1;
	fake.refused[0] = (struct fake_refused){ REFUSED_PAGE, 1 };
	gm = xgmem_new(DOMID);
	XT_ASSERT(gm);
	xt_defer(teardown, NULL);
}

/*
 * A guest gives a page back (ballooning) while its chunk is unmapped,
 * the chunk is mapped with the hole, then the guest takes the page back:
 * Xen sends no invalidation for that, yet the page must work from then on.
 */
static void refused_page_mapped_once_ram(void)
{
	uint64_t page = fake_gpa_of(REFUSED_PAGE * FAKE_PAGE);
	uint8_t in[64], out[64];

	guest_with_hole();
	/* The chunk is mapped now, around the refused page. */
	XT_EQ(gmem_read(gm, fake_gpa_of(0), out, sizeof(out)), 0);
	XT_ASSERT(gmem_read(gm, page + 100, out, sizeof(out)) != 0);
	/* Before and after it stay usable. */
	XT_EQ(gmem_read(gm, page - sizeof(out), out, sizeof(out)), 0);
	XT_EQ(gmem_read(gm, page + FAKE_PAGE, out, sizeof(out)), 0);

	fake.n_refused = 0;		/* the guest took the page back */
	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 3 + 1);
	fake_ram_write(REFUSED_PAGE * FAKE_PAGE + 100, in, sizeof(in));
	XT_EQ(gmem_read(gm, page + 100, out, sizeof(out)), 0);
	XT_ASSERT(!memcmp(in, out, sizeof(in)));
	/* Writes land in the guest's page; a range across it is whole. */
	memset(in, 0x5a, sizeof(in));
	XT_EQ(gmem_write(gm, page + FAKE_PAGE - 32, in, sizeof(in)), 0);
	fake_ram_read(REFUSED_PAGE * FAKE_PAGE + FAKE_PAGE - 32, out, sizeof(out));
	XT_ASSERT(!memcmp(in, out, sizeof(in)));
	XT_EQ(gmem_read(gm, page - 32, out, sizeof(out)), 0);
}

/* Still refused: still refused, every time it is asked for. */
static void refused_page_stays_refused(void)
{
	uint64_t page = fake_gpa_of(REFUSED_PAGE * FAKE_PAGE);
	uint8_t buf[16];

	guest_with_hole();
	for (unsigned int i = 0; i < 3; i++) {
		XT_ASSERT(gmem_read(gm, page, buf, sizeof(buf)) != 0);
		XT_ASSERT(gmem_write(gm, page + 8, buf, sizeof(buf)) != 0);
	}
	XT_EQ(gmem_read(gm, page + FAKE_PAGE, buf, sizeof(buf)), 0);
}

/* The late page belongs to its generation: an invalidation lets it go. */
static void late_page_released_with_generation(void)
{
	uint64_t page = fake_gpa_of(REFUSED_PAGE * FAKE_PAGE);
	struct gmem_stats st;
	uint8_t buf[16];

	guest_with_hole();
	XT_EQ(gmem_read(gm, fake_gpa_of(0), buf, sizeof(buf)), 0);
	fake.n_refused = 0;
	XT_EQ(gmem_read(gm, page, buf, sizeof(buf)), 0);
	gmem_get_stats(gm, &st);
	XT_EQ(st.mapped, fake_mapped_bytes(false));
	gmem_invalidate(gm);
	XT_EQ(fake_mapped_bytes(false), 0);
	XT_EQ(fake_live_maps(), 0);
}

/* The map cache makes steady-state access map-free, and says so. */
static void repeated_access_maps_once(void)
{
	struct gmem_stats st;
	uint8_t buf[512];

	guest_with_hole();
	fake.n_refused = 0;
	XT_EQ(gmem_read(gm, fake_gpa_of(0), buf, sizeof(buf)), 0);
	gmem_get_stats(gm, &st);
	XT_EQ(st.maps, 1);
	for (unsigned int i = 0; i < 100; i++) {
		XT_EQ(gmem_read(gm, fake_gpa_of(i * 4096), buf, sizeof(buf)), 0);
		XT_EQ(gmem_write(gm, fake_gpa_of(i * 4096 + 1024), buf, sizeof(buf)), 0);
	}
	gmem_get_stats(gm, &st);
	XT_EQ(st.maps, 1);
	XT_EQ(fake_live_maps(), 1);
	gmem_invalidate(gm);
	XT_EQ(gmem_read(gm, fake_gpa_of(0), buf, sizeof(buf)), 0);
	gmem_get_stats(gm, &st);
	XT_EQ(st.maps, 2);
}

static const struct xt_case cases[] = {
	XT_CASE(repeated_access_maps_once),
	XT_CASE(refused_page_mapped_once_ram),
	XT_CASE(refused_page_stays_refused),
	XT_CASE(late_page_released_with_generation),
};

int main(int argc, char **argv)
{
	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
