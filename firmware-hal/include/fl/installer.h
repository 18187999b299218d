/*
 * installer.h -- streaming install of an image into the inactive slot.
 *
 *   fl_install_begin()    the target slot's record is invalidated (WRITING,
 *                         with the new attempt) before its first byte is
 *                         touched; refused while a trial is unconfirmed or
 *                         below the anti-rollback floor
 *   fl_install_write()    chunks of any size; erase units are erased just
 *                         ahead of the data; never more than the declared
 *                         length; hashed as it streams
 *   fl_install_finish()   flush, sync, read the whole image back, compare
 *                         with the declared digest (no read-back on a
 *                         FL_FLASH_READS_CACHED device); STAGED or BAD
 *   fl_install_activate() the slot is put on trial (fl_slots_activate)
 *
 * then, after the reboot, the new image calls fl_slots_confirm() or
 * fl_slots_reject(). Between begin and confirm nothing is allocated: the
 * buffers below are all the memory the install needs.
 *
 * A power cut during the write phase loses only the unsynced tail:
 * fl_install_checkpoint() syncs and returns an offset that the caller may
 * store (with its download offset), and fl_install_resume() continues the
 * same attempt from it after a reboot.
 */
#ifndef FL_INSTALLER_H
#define FL_INSTALLER_H

#include <stdint.h>

#include "fl/slots.h"

#define FL_INSTALL_BUF_BYTES 256u /* >= the largest write unit supported */

struct fl_install_target {
	uint32_t attempt_id; /* non-zero, chosen by the caller */
	uint32_t image_len;
	uint8_t sha256[FL_SHA256_BYTES];
	uint64_t counter; /* anti-rollback sequence number */
	char version[FL_VERSION_MAX];
};

enum fl_install_state {
	FL_INSTALL_IDLE = 0,
	FL_INSTALL_WRITING = 1,
	FL_INSTALL_STAGED = 2,
	FL_INSTALL_FAILED = 3,
};

struct fl_install {
	struct fl_slots *slots; /* borrowed */
	uint8_t state;		/* enum fl_install_state */
	uint8_t slot;
	uint32_t image_len;
	uint32_t written; /* bytes accepted so far */
	uint32_t flushed; /* bytes programmed (write-unit aligned) */
	uint32_t erased;  /* slot bytes erased so far */
	uint8_t sha256[FL_SHA256_BYTES];
	struct fl_hash_ctx hash;
	uint32_t buf_fill;
	uint8_t buf[FL_INSTALL_BUF_BYTES];
};

/* Starts an install into the slot that is not booted. Returns 0 and sets
 * in->slot; FL_EINVAL (attempt_id 0, bad version), FL_ENOSPC (image larger
 * than the slot), FL_ETRIAL (a trial is pending), FL_EROLLBACK (counter
 * below the floor), or a flash or crypto error. */
int fl_install_begin(struct fl_install *in, struct fl_slots *s,
		     const struct fl_install_target *t);

/* Continues the attempt recorded in the target slot (state WRITING, same
 * attempt id, length and digest as t) from `offset`, as returned earlier
 * by fl_install_checkpoint(): the bytes before it are re-read and hashed,
 * and writing restarts at the start of the erase unit holding `offset`:
 * the caller sends the image again from in->written. Returns 0, FL_ESTATE (no
 * matching attempt: begin again), FL_EINVAL, or a flash or crypto error. */
int fl_install_resume(struct fl_install *in, struct fl_slots *s,
		      const struct fl_install_target *t, uint32_t offset);

/* Writes the next len bytes of the image. Returns 0, FL_ESTATE (not
 * writing), FL_ETOOBIG (more than image_len; nothing written), or a flash
 * or crypto error (the install is then FAILED). */
int fl_install_write(struct fl_install *in, const void *data, size_t len);

/* Syncs what was written and sets *offset to a position resume may use.
 * Returns 0, FL_ESTATE, or a flash error. */
int fl_install_checkpoint(struct fl_install *in, uint32_t *offset);

/* Flushes, syncs, checks the streamed digest, then reads the image back
 * and checks it again (not on a device flagged FL_FLASH_READS_CACHED,
 * whose reads would only return the system's copy). STAGED on success; on
 * mismatch the record becomes BAD (reason VERIFY) and FL_EVERIFY is returned.
 * Also FL_ESTATE (not writing, or fewer bytes than image_len), or a flash or
 * crypto error. */
int fl_install_finish(struct fl_install *in);

/* Puts the STAGED slot on trial for the next boot. See fl_slots_activate. */
int fl_install_activate(struct fl_install *in);

/* Abandons the install: the record becomes BAD (reason CANCELLED).
 * Returns 0, FL_ESTATE, or a flash error. */
int fl_install_cancel(struct fl_install *in);

#endif
