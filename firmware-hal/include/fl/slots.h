/*
 * slots.h -- the A/B slot manager: per-slot records, states, trial boots,
 * commit, revert, anti-rollback and the attempt record.
 *
 * Each slot (0 = A, 1 = B) has a record, stored in two copies in the
 * metadata area, each copy in its own erase unit, with a sequence number
 * (global across both slots) and a CRC over the whole record. The valid
 * copy with the higher sequence number is the slot's record; a write goes
 * to the other copy, so a power cut during a record write leaves the
 * previous record in force. Layout and byte order: docs/formats.md.
 *
 * Slot states:
 *
 *   EMPTY ──begin──▶ WRITING ──finish ok──▶ STAGED ──activate──▶ TRIAL
 *                       │ finish bad                               │
 *                       ▼                          confirm (commit)│ no commit
 *                      BAD ◀────── reject / tries spent ───────────┤ after N
 *                                                                  ▼ boots
 *                                                              CONFIRMED
 *
 * The boot loader boots a TRIAL slot while it has tries left (spending one
 * per boot), else the CONFIRMED slot with the highest sequence number
 * (bootsim.h makes exactly that decision). A trial's commit point is the
 * record write of fl_slots_confirm(), made by the new image itself; the
 * anti-rollback floor moves in that same write and never before.
 *
 * The attempt record (id, target and previous version, outcome, reason,
 * reset reason) lives in the record of the slot an attempt targets, so it
 * changes in the same atomic writes as the state it describes; after any
 * reboot fl_slots_attempt() tells what happened to the last attempt.
 */
#ifndef FL_SLOTS_H
#define FL_SLOTS_H

#include <stdint.h>

#include "fl/boot.h"
#include "fl/crypto.h"
#include "fl/flash.h"

#define FL_VERSION_MAX 32 /* bytes for a version string, NUL included */

enum fl_slot_state {
	FL_SLOT_EMPTY = 0,     /* no valid record: nothing to boot */
	FL_SLOT_WRITING = 1,   /* invalidated; image being written */
	FL_SLOT_STAGED = 2,    /* image written and verified, not active */
	FL_SLOT_TRIAL = 3,     /* boots on trial while tries are left */
	FL_SLOT_CONFIRMED = 4, /* committed image, bootable */
	FL_SLOT_BAD = 5,       /* failed or reverted; not bootable */
};

/* Why an attempt failed or was reverted. Stored on flash: values pinned. */
enum fl_reason {
	FL_REASON_NONE = 0,
	FL_REASON_VERIFY = 1,	     /* written image did not match digest */
	FL_REASON_FLASH = 2,	     /* flash error while writing */
	FL_REASON_NOT_CONFIRMED = 3, /* trial boots spent without a commit */
	FL_REASON_REJECTED = 4,	     /* the new image rejected itself */
	FL_REASON_BOOT_VERIFY = 5,   /* boot loader found the image corrupt */
	FL_REASON_CANCELLED = 6,     /* install abandoned on request */
	FL_REASON_REVERTED = 7,	     /* external boot loader reverted it */
};

/* What became of an attempt (derived from state and reason). */
enum fl_outcome {
	FL_OUTCOME_NONE = 0,	  /* no attempt recorded */
	FL_OUTCOME_WRITING = 1,	  /* image write in progress or interrupted */
	FL_OUTCOME_STAGED = 2,	  /* verified, waiting for activation */
	FL_OUTCOME_TRIAL = 3,	  /* activated; trial boot pending or running */
	FL_OUTCOME_COMMITTED = 4, /* the new image confirmed itself */
	FL_OUTCOME_FAILED = 5,	  /* failed before activation */
	FL_OUTCOME_REVERTED = 6, /* activated, then abandoned: old image back */
};

struct fl_slot_info {
	uint8_t state;	      /* enum fl_slot_state */
	uint8_t tries_left;   /* TRIAL: boots left before revert */
	uint8_t tries_total;  /* TRIAL: boots granted at activation */
	uint8_t reason;	      /* enum fl_reason */
	uint8_t reset_reason; /* enum fl_reset_reason when a trial ended */
	uint8_t flags;	      /* FL_SLOT_FLAG_* */
	uint64_t seq;	      /* sequence number of this record, 0 if EMPTY */
	uint32_t image_len;
	uint8_t sha256[FL_SHA256_BYTES];
	uint64_t counter;    /* the image's anti-rollback sequence number */
	uint64_t floor;	     /* device anti-rollback floor when written */
	uint32_t attempt_id; /* 0: provisioned, not an attempt */
	char version[FL_VERSION_MAX];
	char prev_version[FL_VERSION_MAX];
};

/* TRIAL with an external boot loader: set_trial() has been done, so a
 * revert the boot loader reports refers to this trial. Cleared on every
 * other state. */
#define FL_SLOT_FLAG_ARMED 0x01u

struct fl_attempt {
	uint32_t id;
	uint8_t slot;
	uint8_t outcome;      /* enum fl_outcome */
	uint8_t reason;	      /* enum fl_reason */
	uint8_t reset_reason; /* enum fl_reset_reason */
	char version[FL_VERSION_MAX];
	char prev_version[FL_VERSION_MAX];
};

struct fl_slots_config {
	struct fl_area meta; /* >= 4 erase units */
	struct fl_area slot[FL_SLOT_COUNT];
	struct fl_boot *boot; /* boot control backend */
	const struct fl_crypto_ops *crypto;
	uint8_t trial_tries; /* boots granted to a trial; 0 means 1 */
	/* Optional, borrowed: a larger buffer for reading images (verify,
	 * resume), for backends where every read is a system call. NULL or
	 * under 256 bytes: the 256-byte scratch below. */
	uint8_t *io_buf;
	uint32_t io_buf_bytes;
};

struct fl_slots {
	struct fl_slots_config cfg;
	struct fl_slot_info info[FL_SLOT_COUNT];
	uint8_t newest_copy[FL_SLOT_COUNT]; /* 0, 1, or 0xFF: no valid copy */
	uint64_t seq;			    /* highest sequence number seen */
	struct fl_boot_status boot;	    /* what the boot loader did */
	struct fl_hash_ctx hash;	    /* scratch for verification */
	uint8_t buf[256];		    /* scratch for records and reads */
};

/* Reads the records, asks the boot backend what it booted, and settles any
 * transition a power cut left half done between the records and an
 * external boot loader (see boot.h). Allocates nothing; s is caller-owned.
 * Returns 0, FL_EINVAL (bad config: areas too small, overlapping units),
 * FL_EIO, FL_ESTATE (the boot loader booted a slot whose record is not
 * bootable), or a flash error. */
int fl_slots_open(struct fl_slots *s, const struct fl_slots_config *cfg);

/* Reads the records only, without asking the boot loader anything: for
 * the boot loader itself and for factory tools (fl_slots_provision()).
 * Returns 0, FL_EINVAL, or a flash error. */
int fl_slots_init(struct fl_slots *s, const struct fl_slots_config *cfg);

/* The buffer image reads use (cfg.io_buf, else the scratch); for the
 * installer. */
void fl_slots__io_buf(struct fl_slots *s, uint8_t **buf, uint32_t *cap);

/* Current record of a slot. Returns 0 or FL_EINVAL. */
int fl_slots_info(const struct fl_slots *s, unsigned slot,
		  struct fl_slot_info *out);

/* Slot the running image was booted from. */
unsigned fl_slots_booted(const struct fl_slots *s);

/* The device's anti-rollback floor: the highest counter ever committed. */
uint64_t fl_slots_floor(const struct fl_slots *s);

/* The last attempt (the record with the highest sequence number that
 * carries an attempt). Returns 0, or FL_ENOENT if none was ever made. */
int fl_slots_attempt(const struct fl_slots *s, struct fl_attempt *out);

/* Factory provisioning (after fl_slots_init()): declares the image already in
 * `slot` (len bytes, digest sha256) CONFIRMED with the given version and
 * counter, after verifying it. Only on a device with no CONFIRMED slot. Returns
 * 0, FL_ESTATE, FL_EVERIFY, FL_EINVAL, or a flash error. */
int fl_slots_provision(struct fl_slots *s, unsigned slot, uint32_t len,
		       const uint8_t sha256[FL_SHA256_BYTES],
		       const char *version, uint64_t counter);

/* Activates the STAGED slot for a trial boot (tries from the config). Call
 * again after a power cut if fl_slots_info() still shows TRIAL and the
 * device did not boot it: activation is idempotent. Returns 0, FL_ESTATE
 * (slot not STAGED/TRIAL, or it is the booted slot), FL_EVERIFY (image no
 * longer matches), or a flash or boot backend error. */
int fl_slots_activate(struct fl_slots *s, unsigned slot);

/* The commit point, called by the new image once it is healthy: the
 * running TRIAL slot becomes CONFIRMED and the anti-rollback floor moves to
 * its counter. Idempotent on a CONFIRMED booted slot. Returns 0, FL_ESTATE
 * (not running a trial), or a flash or boot backend error. */
int fl_slots_confirm(struct fl_slots *s);

/* The running trial rejects itself (health check failed): its record
 * becomes BAD with `reason`, and the next boot returns to the confirmed
 * slot. Returns 0, FL_ESTATE, or a flash or boot backend error. */
int fl_slots_reject(struct fl_slots *s, uint8_t reason);

/* Rollback without download: the previous CONFIRMED slot (not the booted
 * one) is put on trial so the next boot returns to it; it must verify.
 * attempt_id names this rollback in the attempt record. Returns 0,
 * FL_ENOENT (no previous image), FL_ETRIAL (a trial is pending),
 * FL_EVERIFY, or a flash or boot backend error. */
int fl_slots_switch_to_previous(struct fl_slots *s, uint32_t attempt_id);

/* fl_slots_switch_to_previous() for a signed rollback: the previous
 * image's anti-rollback counter is raised to `counter` (the rollback
 * manifest's sequence number) in the same record write, so that the floor
 * moves past the abandoned version when the rollback is confirmed. A
 * counter at or below the image's own keeps it. Same returns. */
int fl_slots_rollback(struct fl_slots *s, uint32_t attempt_id,
		      uint64_t counter);

/* Verifies a slot's image against its record's length and digest.
 * Returns 0, FL_EVERIFY, FL_ESTATE (no image), or a flash or crypto
 * error. */
int fl_slots_verify(struct fl_slots *s, unsigned slot);

/* Verifies the first len bytes of a slot against sha256, whatever its
 * record says. Returns 0, FL_EVERIFY, FL_EINVAL, or a flash or crypto
 * error. */
int fl_slots_verify_image(struct fl_slots *s, unsigned slot, uint32_t len,
			  const uint8_t sha256[FL_SHA256_BYTES]);

/* Encodes/decodes one record (docs/formats.md). Exposed for the boot
 * loader, tests and tools. decode returns 0 or FL_ECORRUPT. */
#define FL_SLOT_RECORD_BYTES 144u
void fl_slot_record_encode(uint8_t out[FL_SLOT_RECORD_BYTES], unsigned slot,
			   const struct fl_slot_info *info);
int fl_slot_record_decode(const uint8_t in[FL_SLOT_RECORD_BYTES], unsigned slot,
			  struct fl_slot_info *info);

/* Lower layer shared with the installer and the boot loader: writes the
 * record of `slot` (seq is assigned here) to its older copy, erasing that
 * copy's unit first, then syncs. Returns 0 or a flash error. */
int fl_slots_write_record(struct fl_slots *s, unsigned slot,
			  struct fl_slot_info *info);

/* Re-reads both slots' records from flash. Returns 0 or a flash error. */
int fl_slots_load(struct fl_slots *s);

#endif
