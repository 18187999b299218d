/*
 * bench_install.c -- what one A/B update costs a device.
 *
 * For each flash geometry: flash operations, bytes programmed, erases of
 * the metadata area (wear on the records) and of the slot, read-back
 * volume, and the time the portable code needs for a whole update on the
 * simulator (install, finish, activate, trial boot, confirm, boot),
 * i.e. the CPU cost of the HAL and hashing, excluding real flash latency.
 * Prints figures; asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fl/bootsim.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/flash_sim.h"
#include "fl/installer.h"
#include "fl/slots.h"

struct geo {
	const char *name;
	uint32_t erase, write, slot;
};

static const struct geo geos[] = {
	{"nor-4k-w1", 4096, 1, 1u << 20},
	{"big-128k-w16", 131072, 16, 1u << 21},
	{"esp32-like", 4096, 16, 1536u * 1024},
};

struct dev {
	struct fl_sim sim;
	struct fl_slots_config cfg;
	struct fl_slots scratch, slots;
	struct fl_boot_status handoff;
	struct fl_boot boot;
	uint32_t ops_total, counts[4];
};

static void power_on_config(struct dev *d, const struct fl_flash_geom *g,
			    uint8_t *mem, const struct geo *gg)
{
	(void)g;
	(void)mem;
	memset(&d->cfg, 0, sizeof(d->cfg));
	fl_area_init(&d->cfg.meta, &d->sim.flash, 0, 4 * gg->erase);
	fl_area_init(&d->cfg.slot[0], &d->sim.flash, 4 * gg->erase, gg->slot);
	fl_area_init(&d->cfg.slot[1], &d->sim.flash, 4 * gg->erase + gg->slot,
		     gg->slot);
	d->cfg.crypto = &fl_crypto_openssl;
	d->cfg.boot = &d->boot;
}

static void power_on(struct dev *d, const struct fl_flash_geom *g, uint8_t *mem,
		     const struct geo *gg)
{
	for (int i = 0; i < 4; i++)
		d->counts[i] += d->sim.count[i];
	fl_sim_init(&d->sim, g, mem, NULL);
	power_on_config(d, g, mem, gg);
	if (fl_bootsim_power_on(&d->scratch, &d->cfg, 0, &d->handoff) != 0)
		abort();
	fl_boot_native_init(&d->boot, &d->handoff);
	if (fl_slots_open(&d->slots, &d->cfg) != 0)
		abort();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	printf("bench_install: one full A/B update on the simulator "
	       "(image = 3/4 of a slot)\n");
	printf("%-13s %9s %7s %7s %9s %8s %8s %9s\n", "geometry", "image",
	       "writes", "erases", "reads", "meta-er", "ms", "MiB/s");
	for (unsigned i = 0; i < sizeof(geos) / sizeof(geos[0]); i++) {
		const struct geo *gg = &geos[i];
		struct fl_flash_geom g = {4 * gg->erase + 2 * gg->slot,
					  gg->erase, gg->write, 0xFF};
		uint8_t *mem = malloc(g.size_bytes);
		uint32_t len = gg->slot / 4 * 3;
		uint8_t *img = malloc(len);
		struct dev *d = calloc(1, sizeof(*d));
		struct fl_install in;
		struct fl_install_target t = {.attempt_id = 1, .counter = 2};
		uint32_t meta_erases;
		double t0, t1;

		memset(mem, 0xFF, g.size_bytes);
		for (uint32_t k = 0; k < len; k++)
			img[k] = (uint8_t)(k * 31 + (k >> 9));
		/* factory: the same image in A, provisioned */
		memcpy(mem + 4 * gg->erase, img, len);
		t.image_len = len;
		fl_sha256(&fl_crypto_openssl, img, len, t.sha256);
		fl_sim_init(&d->sim, &g, mem, NULL);
		power_on_config(d, &g, mem, gg);
		if (fl_slots_init(&d->slots, &d->cfg) != 0 ||
		    fl_slots_provision(&d->slots, 0, len, t.sha256, "1.0.0",
				       1) != 0)
			abort();
		power_on(d, &g, mem, gg);
		memcpy(t.version, "2.0.0", 6);
		memset(d->counts, 0, sizeof(d->counts));
		d->sim.ops = 0;
		memset(d->sim.count, 0, sizeof(d->sim.count));

		t0 = now_s();
		if (fl_install_begin(&in, &d->slots, &t) != 0)
			abort();
		for (uint32_t off = 0; off < len; off += 1400)
			fl_install_write(&in, img + off,
					 len - off < 1400 ? len - off : 1400);
		if (fl_install_finish(&in) != 0 ||
		    fl_install_activate(&in) != 0)
			abort();
		power_on(d, &g, mem, gg);
		if (fl_slots_confirm(&d->slots) != 0)
			abort();
		power_on(d, &g, mem, gg);
		t1 = now_s();
		for (int k = 0; k < 4; k++)
			d->counts[k] += d->sim.count[k];
		/* Each record write erases one metadata unit; the rest of
		 * the erases are the slot's. */
		meta_erases = d->counts[FL_SIM_OP_ERASE] -
			      fl_align_up(len, gg->erase) / gg->erase;
		printf("%-13s %8uK %7u %7u %9u %8u %8.1f %9.1f\n", gg->name,
		       len / 1024, d->counts[FL_SIM_OP_WRITE],
		       d->counts[FL_SIM_OP_ERASE], d->counts[FL_SIM_OP_READ],
		       meta_erases, (t1 - t0) * 1e3,
		       (double)len / (1 << 20) / (t1 - t0));
		free(mem);
		free(img);
		free(d);
	}
	return 0;
}
