/*
 * bootsim.h -- a simulated boot loader, and the "native" boot backend.
 *
 * fl_bootsim_power_on() makes, from the flash contents alone, the decision
 * a real boot loader built on the slot records makes at power-on:
 *
 *   1. a TRIAL slot with tries left whose image verifies: spend one try
 *      (a record write, before booting it) and boot it on trial;
 *   2. a TRIAL slot with no tries left, or that does not verify: mark it
 *      BAD with the reason and the reset reason of this power-on;
 *   3. otherwise the CONFIRMED slot with the highest sequence number whose
 *      image verifies (a CONFIRMED image that does not verify is marked BAD
 *      and the other one is tried);
 *   4. nothing bootable: FL_EBRICK, which the tests treat as a failure.
 *
 * It passes what it did to the booted image in a struct fl_boot_status,
 * the way a real boot loader passes it in registers or on the kernel
 * command line; fl_boot_native_init() turns that into the boot backend the
 * slot manager asks.
 */
#ifndef FL_BOOTSIM_H
#define FL_BOOTSIM_H

#include "fl/boot.h"
#include "fl/slots.h"

/* scratch: caller-owned working memory (no allocation). Returns 0 with
 * *handoff filled, FL_EBRICK, or a flash error (FL_EPOWER if power is cut
 * during the boot loader's own writes: call again after "power-on"). */
int fl_bootsim_power_on(struct fl_slots *scratch,
			const struct fl_slots_config *cfg, uint8_t reset_reason,
			struct fl_boot_status *handoff);

/* A boot backend that reports *handoff (borrowed, must outlive b) and
 * leaves every transition to the slot records. */
void fl_boot_native_init(struct fl_boot *b, struct fl_boot_status *handoff);

#endif
