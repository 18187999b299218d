/*
 * flash_sim.h -- a NOR flash simulator with a fault plan (portable).
 *
 * The simulated medium is caller-owned memory (a RAM array, or a file mapped
 * with mmap for a persistent device), so a "reboot" is simply a new
 * fl_sim_init() over the same memory: nothing but the flash contents
 * survives, exactly as on hardware (mcuboot #1588 hid a bricking bug behind
 * a variable that survived a simulated reset).
 *
 * NOR rules enforced: erase sets a whole erase unit to the erased value;
 * a write may only touch erased bytes (FL_ENOTERASED otherwise).
 *
 * Every operation (read, write, erase, sync) gets the next 1-based index.
 * The fault plan can cut power during operation N, in one of three modes:
 *
 *   CLEAN    the operation does not happen at all;
 *   TORN     a write programs a random prefix of its bytes, the byte where
 *            it stopped only partly (some of its bits); an erase erases a
 *            random prefix of its units and leaves the unit where it
 *            stopped partly erased (random bits set);
 *   GARBAGE  the bytes of the operation's range become random.
 *
 * After a cut every operation fails with FL_EPOWER. Separately, operation N
 * can fail with FL_EIO, once or for good. Randomness comes from the seed
 * only, so every run is reproducible.
 */
#ifndef FL_FLASH_SIM_H
#define FL_FLASH_SIM_H

#include <stdint.h>

#include "fl/flash.h"

enum fl_sim_cut_mode {
	FL_SIM_CUT_CLEAN = 0,
	FL_SIM_CUT_TORN = 1,
	FL_SIM_CUT_GARBAGE = 2,
};

#define FL_SIM_CUT_MODES 3

enum fl_sim_op {
	FL_SIM_OP_READ = 0,
	FL_SIM_OP_WRITE = 1,
	FL_SIM_OP_ERASE = 2,
	FL_SIM_OP_SYNC = 3,
};

struct fl_sim_faults {
	uint32_t cut_at;       /* cut power during op N (1-based); 0 never */
	uint8_t cut_mode;      /* enum fl_sim_cut_mode */
	uint8_t is_eio_sticky; /* 1: every op from eio_at on fails */
	uint32_t eio_at;       /* op N fails with FL_EIO; 0 never */
	uint32_t torn_bytes;   /* TORN write: bytes fully programmed before
				  the cut (must be < len); 0: random */
	uint64_t seed;	       /* randomness of torn and garbage cuts */
};

struct fl_sim {
	struct fl_flash flash; /* pass &sim.flash to fl_area_init() */
	uint8_t *mem;	       /* geom.size_bytes bytes, caller-owned */
	struct fl_sim_faults faults;
	uint64_t rng;
	uint32_t ops;	       /* operations started so far */
	uint32_t count[4];     /* per enum fl_sim_op */
	uint8_t is_powered;    /* 0 once power was cut */
	uint8_t last_cut_op;   /* enum fl_sim_op of the cut operation */
	uint32_t last_cut_off; /* its device offset and length */
	uint32_t last_cut_len;
};

/* Attaches a simulator to mem (geom->size_bytes bytes; contents kept).
 * faults may be NULL. Returns 0 or FL_EINVAL. */
int fl_sim_init(struct fl_sim *s, const struct fl_flash_geom *geom,
		uint8_t *mem, const struct fl_sim_faults *faults);

/* Sets the whole medium to the erased value, as from the factory. */
void fl_sim_wipe(struct fl_sim *s);

#endif
