/*
 * flash_shared.h -- a NOR flash backend whose erase units share their
 * contents by value across every simulated device of a process: fleet-sim
 * holds thousands of devices with the same images at the cost of one.
 *
 * A pool (struct fl_shpool) keeps every erase unit's content once, keyed
 * by a hash of its bytes, with a reference count; a device's flash (struct
 * fl_shflash) is a two-level table of pointers into the pool. Erased units
 * are NULL and cost nothing; a page stores its bytes only up to the last
 * one that is not erased, so a unit holding a 144-byte record costs about
 * 144 bytes. Leaves of the table are shared too, copy-on-write, so a
 * device cloned from a provisioned template (fl_shflash_clone) costs one
 * directory until it writes. Method: flash_shared.c.
 *
 * To the code above it this is a struct fl_flash like any other, with the
 * rules of firmware-hal's simulator (flash_sim.h): erase sets a unit to the
 * erased value; a write may only touch erased bytes (FL_ENOTERASED); and
 * the same fault plan (struct fl_sim_faults: a cut at operation N, clean,
 * torn or garbage; an I/O error at N, once or for good), drawn from the
 * same random sequence, so that the same plan on the same operations gives
 * byte for byte the same flash as fl_sim.
 *
 * Not thread-safe: one thread uses a pool and its flashes.
 */
#ifndef FL_FLASH_SHARED_H
#define FL_FLASH_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/flash.h"
#include "fl/flash_sim.h"

#define FL_SHFLASH_LEAF_UNITS 32u /* erase units per leaf of the table */
#define FL_SHFLASH_OPEN_MAX   2u  /* units being programmed, per flash */

struct fl_shpool_config {
	uint32_t page_bytes;	/* the erase unit of every flash of the pool */
	uint8_t erased_value;	/* 0xFF on NOR */
	uint64_t max_bytes;	/* pool memory limit; 0: no limit */
	uint32_t fail_alloc_at; /* tests: the Nth allocation fails; 0 never */
};

struct fl_shpool_stats {
	uint64_t pages;	     /* distinct pages held */
	uint64_t page_bytes; /* their stored bytes (trimmed) */
	uint64_t leaves;     /* table leaves held */
	uint64_t bytes;	     /* all the pool's memory: pages, leaves,
				directories, hash table, headers */
	uint64_t dedup_hits; /* pages found already present */
	uint64_t allocs;     /* allocations made so far */
};

struct fl_shpool;
struct fl_shpage; /* private to flash_shared.c */
struct fl_shleaf;

/* Creates a pool. Returns 0, FL_EINVAL (page_bytes not a power of two
 * from 256 to 1 MiB) or FL_ENOMEM. Free with fl_shpool_free(). */
int fl_shpool_new(struct fl_shpool **out, const struct fl_shpool_config *cfg);

/* Frees the pool; every flash of it must have been released. NULL ok. */
void fl_shpool_free(struct fl_shpool *p);

void fl_shpool_stats(const struct fl_shpool *p, struct fl_shpool_stats *out);

struct fl_shflash {
	struct fl_flash flash; /* pass &f->flash to fl_area_init() */
	struct fl_shpool *pool;
	struct fl_shleaf **dir; /* n_leaves entries, NULL: all erased */
	uint32_t n_leaves;
	uint32_t n_open;
	uint32_t open_unit[FL_SHFLASH_OPEN_MAX]; /* private pages, oldest
						    first */
	struct fl_sim_faults faults;
	uint64_t rng;
	uint32_t ops;	     /* operations since power-on */
	uint8_t is_powered;  /* 0 once power was cut */
	uint8_t last_cut_op; /* enum fl_sim_op of the cut operation */
	/* Called once when a cut lands, from inside the flash operation:
	 * it may only note the fact (fleet-sim schedules the power-off). */
	void (*on_cut)(void *ctx);
	void *cut_ctx;
};

/* Attaches an erased flash of size_bytes (a multiple of the pool's page)
 * with the given write unit to pool. faults may be NULL. Returns 0,
 * FL_EINVAL or FL_ENOMEM. Release with fl_shflash_release(). */
int fl_shflash_init(struct fl_shflash *f, struct fl_shpool *pool,
		    uint32_t size_bytes, uint32_t write_bytes,
		    const struct fl_sim_faults *faults);

/* Makes dst a copy of src's contents (same geometry, same pool), sharing
 * every page and leaf: O(leaves). src's pages being programmed are
 * committed to the pool first (contents unchanged). dst is powered, with
 * no fault plan. Returns 0 or FL_ENOMEM. */
int fl_shflash_clone(struct fl_shflash *dst, struct fl_shflash *src);

/* Drops every page and leaf the flash holds. Safe on a zeroed struct. */
void fl_shflash_release(struct fl_shflash *f);

/* A power-on: power back, the operation count restarts at 0 and faults
 * (may be NULL) becomes the plan, as a new fl_sim_init() over the same
 * memory. The contents are what the last operation left. */
void fl_shflash_power_on(struct fl_shflash *f,
			 const struct fl_sim_faults *faults);

/* Replaces the fault plan of a powered flash without touching the
 * operation count, so cut_at = f->ops + k cuts k operations from now. */
void fl_shflash_set_faults(struct fl_shflash *f,
			   const struct fl_sim_faults *faults);

/* Commits the pages being programmed to the pool (shares them with equal
 * pages). Contents are unchanged; sync does this too. Cannot fail: when
 * the pool has no memory left to grow its index, pages stay unshared. */
void fl_shflash_settle(struct fl_shflash *f);

/* Memory this flash holds alone (its directory, its unshared leaves and
 * pages), in bytes. */
uint64_t fl_shflash_own_bytes(const struct fl_shflash *f);

#endif
