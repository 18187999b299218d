/*
 * boot.h -- the boot control seam: what the boot loader booted, and how to
 * ask it to try, keep or abandon a slot.
 *
 * Slots are numbered 0 (A) and 1 (B). The slot manager (slots.h) owns the
 * per-slot records (state, digest, attempt); a boot control backend owns the
 * boot loader's own state when that lives elsewhere:
 *
 *   native     the boot loader reads the slot records themselves (the
 *              simulated boot loader in bootsim.h, or an MCU boot loader
 *              built on slots.h). set_trial, commit and set_permanent are
 *              NULL: writing the slot record is the whole transition.
 *   uboot      the U-Boot environment through libubootenv
 *              (firmware-hal/linux/boot_uboot.c).
 *   esp-otadata ESP-IDF's otadata (firmware-hal/esp32/, not built here).
 *
 * Order of writes the slot manager uses with an external backend, and how
 * fl_slots_open() reconciles after a power cut between the two stores:
 *
 *   activate  record TRIAL, set_trial(), record ARMED  (resumable: call
 *             again; a revert is believed only for an ARMED trial)
 *   commit    commit(), then record CONFIRMED       (commit point: commit())
 *   reject    record BAD, then set_permanent(other)
 *   revert    by the boot loader; seen as status.is_reverted
 */
#ifndef FL_BOOT_H
#define FL_BOOT_H

#include <stdint.h>

#define FL_SLOT_COUNT 2u

/* Why the device last reset, as far as the platform can tell. Recorded in
 * the attempt record when a trial is abandoned (RAUC #683: brown-outs spend
 * boot attempts; we record them so the report says so). */
enum fl_reset_reason {
	FL_RESET_UNKNOWN = 0,
	FL_RESET_POWER_ON = 1, /* cold start, including a power cut */
	FL_RESET_SOFTWARE = 2, /* requested reboot */
	FL_RESET_WATCHDOG = 3,
	FL_RESET_BROWNOUT = 4,
	FL_RESET_PANIC = 5, /* crash */
};

struct fl_boot_status {
	uint8_t booted_slot;  /* slot the running image was loaded from */
	uint8_t is_trial;     /* running on trial: will be reverted unless
				 committed */
	uint8_t is_reverted;  /* the boot loader abandoned a trial of the other
				 slot (stays set until the next set_trial) */
	uint8_t reset_reason; /* enum fl_reset_reason */
};

struct fl_boot;

/* Errors every operation may also return: FL_EIO (the store failed),
 * FL_ECORRUPT (the boot loader's state is unreadable: nothing is written,
 * so as not to replace it), FL_ENOMEM, FL_ENOSPC (no room to store). */
struct fl_boot_ops {
	unsigned version; /* FL_BOOT_OPS_VERSION */
	const char *name; /* "native", "uboot", "esp-otadata" */
	/* What the boot loader did at this power-on. 0 or an error above. */
	int (*status)(struct fl_boot *b, struct fl_boot_status *st);
	/* Arms a trial: the next boot starts `slot`; after `tries` boots
	 * without commit the boot loader returns to the committed slot.
	 * Idempotent. Also FL_EINVAL, FL_EROLLBACK (the boot loader refuses
	 * the image: below its own anti-rollback version). NULL in the
	 * native backend. */
	int (*set_trial)(struct fl_boot *b, unsigned slot, unsigned tries);
	/* The commit point: the running trial `slot` becomes the permanent
	 * boot slot. Idempotent. Also FL_EINVAL, FL_ESTATE (`slot` is not
	 * the booted slot on trial). NULL in native. */
	int (*commit)(struct fl_boot *b, unsigned slot);
	/* Makes `slot` the permanent boot slot and cancels any pending trial.
	 * Idempotent. Also FL_EINVAL. NULL in native. */
	int (*set_permanent)(struct fl_boot *b, unsigned slot);
};

#define FL_BOOT_OPS_VERSION 1u

struct fl_boot {
	const struct fl_boot_ops *ops;
	void *priv; /* backend state */
};

#endif
