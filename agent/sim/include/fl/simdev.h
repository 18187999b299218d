/*
 * simdev.h -- one simulated device's hardware, shared by fleet-sim and its
 * tests: a flash layout (slot records, the agent's store, slots A and B),
 * factory provisioning, and a power-on that starts from the flash contents
 * alone (the simulated boot loader of firmware-hal decides, then the slot
 * manager and the agent's flash store are opened as the booted image opens
 * them).
 *
 * Any struct fl_flash works (fl_sim, or fleet-sim's shared-page flash,
 * flash_shared.h). Nothing in struct fl_simdev_run survives a power-off:
 * a reboot is a new fl_simdev_power_on() over the same flash.
 */
#ifndef FL_SIMDEV_H
#define FL_SIMDEV_H

#include <stdint.h>

#include "fl/agent.h"
#include "fl/boot.h"
#include "fl/crypto.h"
#include "fl/flash.h"
#include "fl/slots.h"

/*
 * Layout, in erase units: 4 for the slot records, 2 for the agent's store,
 * then slot A and slot B, each starting on a leaf of the shared-page
 * table (FL_SHFLASH_LEAF_UNITS units) so that the records and the store,
 * which every device writes, never share a leaf with an image.
 */
struct fl_simdev_layout {
	struct fl_flash_geom geom;
	uint32_t meta_off;  /* 4 units */
	uint32_t store_off; /* 2 units */
	uint32_t slot_off[FL_SLOT_COUNT];
	uint32_t slot_bytes;
};

/* erase_bytes: a power of two from 4096 (the store's copy must fit one
 * unit) to 1 MiB; write_bytes: a power of two <= 256; slot_bytes is
 * rounded up to the erase unit. Returns 0 or FL_EINVAL (also when the
 * device would pass 4 GiB). */
int fl_simdev_layout_make(struct fl_simdev_layout *l, uint32_t erase_bytes,
			  uint32_t write_bytes, uint32_t slot_bytes,
			  uint8_t erased_value);

/* Everything that exists only while the device is powered. */
struct fl_simdev_run {
	struct fl_slots_config cfg;
	struct fl_boot_status handoff; /* what the boot loader did */
	struct fl_boot boot;
	struct fl_slots slots;
	struct fl_area store_area;
	struct fl_agent_flash_store store;
};

/*
 * Factory provisioning of an erased flash: image (len bytes, any length)
 * into slot A, declared CONFIRMED with version and counter. scratch is
 * working memory for the slot manager. Returns 0, FL_ENOSPC (image longer
 * than a slot), or what fl_slots_init/fl_slots_provision return.
 */
int fl_simdev_provision(struct fl_flash *fl, const struct fl_simdev_layout *l,
			const struct fl_crypto_ops *crypto,
			const uint8_t *image, uint32_t len, const char *version,
			uint64_t counter, struct fl_slots *scratch);

/*
 * Power-on: the boot loader's decision (fl_bootsim_power_on, with the
 * given reset reason; it may write slot records and verifies the image it
 * boots), then the slot manager as the booted image opens it, and the
 * agent's flash store over its area. r is caller-owned (zeroed here);
 * scratch is the boot loader's working memory, free again on return.
 * trial_tries: boots granted to a trial (0 means 1). Returns 0, FL_EBRICK
 * (nothing bootable), or a flash error (FL_EPOWER: power cut during the
 * boot loader's writes; power on again).
 */
int fl_simdev_power_on(struct fl_simdev_run *r, struct fl_flash *fl,
		       const struct fl_simdev_layout *l,
		       const struct fl_crypto_ops *crypto, uint8_t trial_tries,
		       uint8_t reset_reason, struct fl_slots *scratch);

/* The version the booted slot holds (valid while r is). */
const char *fl_simdev_running(const struct fl_simdev_run *r);

#endif
