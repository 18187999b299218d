/*
 * agent_priv.h -- what the files of agent/core share: port shorthands,
 * persisting, reporting, and the phase handlers each file owns. Not
 * installed, not public.
 *
 *   agent.c     init and settling after a reboot, commands, preconditions,
 *               activation, the poll loop
 *   download.c  the download: installer, ranges, checkpoints, retries
 *   health.c    the trial's health check, commit or reject; health reports
 *   report.c    status and reported messages
 *   sealed.c    encrypted images: the key at the offer, the download
 *               through the unseal stage (unseal.c)
 *   state.c     the persisted state's pinned format
 *   store_flash.c  the store port over a flash area
 */
#ifndef FL_AGENT_PRIV_H
#define FL_AGENT_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fl/agent.h"
#include "fl/err.h"

static inline uint64_t fl_agent__mono(const struct fl_agent *a)
{
	return a->cfg.clock.ops->mono_ms(a->cfg.clock.ctx);
}

/* Wall clock in Unix seconds; 0 when not trusted. */
static inline uint64_t fl_agent__wall(const struct fl_agent *a)
{
	return a->cfg.clock.ops->now_s(a->cfg.clock.ctx);
}

static inline struct fl_slots *fl_agent__slots(const struct fl_agent *a)
{
	return a->cfg.slots;
}

/* The slot an install writes: the one not booted. */
static inline unsigned fl_agent__inactive(const struct fl_agent *a)
{
	return 1u - fl_slots_booted(a->cfg.slots);
}

/* Equal NUL-terminated strings (the freestanding builds have no
 * strcmp). */
static inline bool fl_agent__streq(const char *x, const char *y)
{
	size_t n = strlen(x);

	return n == strlen(y) && memcmp(x, y, n) == 0;
}

/* The public entry points' guard: a store or flash error halts the agent
 * (its RAM may be ahead of what is persisted) until fl_agent_init(); the
 * downloader callbacks' own refusals (FL_EINVAL, FL_ETOOBIG, FL_ESTATE)
 * do not. */
static inline int fl_agent__guard(struct fl_agent *a, int rc)
{
	if (rc != 0 && rc != FL_EINVAL && rc != FL_ETOOBIG && rc != FL_ESTATE)
		a->halt_rc = rc;
	return rc;
}

/* agent.c */
/* n / d (and n % d in *rem, may be NULL) without the C runtime's 64-bit
 * division, which costs a microcontroller 3 KiB of code. d > 0. */
uint64_t fl_agent__udiv(uint64_t n, uint32_t d, uint32_t *rem);
int fl_agent__save(struct fl_agent *a);
/* Ends the current job with a final result: persisted, then reported;
 * a slot the job was writing or had staged is marked BAD (cancelled).
 * Returns 0 or a store or flash error. */
int fl_agent__finish(struct fl_agent *a, uint8_t result, const char *reason);
/* Persists the job's new phase, then reports it. */
int fl_agent__enter(struct fl_agent *a, uint8_t phase);
void fl_agent__request_reboot(struct fl_agent *a);
/* Marks the inactive slot BAD (cancelled) if it holds an unfinished
 * install (WRITING or STAGED) that no running job owns. */
int fl_agent__discard_inactive(struct fl_agent *a);

/* download.c */
int fl_agent__dl_poll(struct fl_agent *a, uint64_t now);
/* Stops a running transfer (the job is ending). */
void fl_agent__dl_abort(struct fl_agent *a);
/* After a reboot: the slot says the image failed its digest. */
int fl_agent__dl_digest_failed(struct fl_agent *a);
/* Ends the job after the installer refused or failed. */
int fl_agent__dl_install_failed(struct fl_agent *a, int err);

/* sealed.c */
bool fl_agent__is_sealed(const struct fl_agent *a);
/* What the transfer fetches (the container for an encrypted job), and how
 * far it has come. */
uint32_t fl_agent__dl_total(const struct fl_agent *a);
uint32_t fl_agent__dl_pos(const struct fl_agent *a);
/* At the offer, after the manifest verified: FL_RESULT_NONE when the
 * device can open the image (the content key is then in a->seal_key),
 * else the result that refuses it, with *reason. */
uint8_t fl_agent__seal_admit(struct fl_agent *a, const struct fl_cmd *c,
			     const struct fl_manifest *m, const char **reason);
/* Copies the manifest's container fields and the key into the new job. */
void fl_agent__seal_job(struct fl_agent *a, const struct fl_manifest *m);
/* Forgets the stage and wipes its key (another job is taken, the job
 * ends, or its image starts again at 0). */
void fl_agent__seal_reset(struct fl_agent *a);
/* The container offset to ask for, once the installer is ready; may
 * start the image again. *is_ended: the job ended (the return value is
 * then the store's). */
int fl_agent__seal_from(struct fl_agent *a, uint32_t *from, bool *is_ended);
/* Container bytes of the transfer: as fl_agent_on_dl_data returns. */
int fl_agent__seal_data(struct fl_agent *a, const void *data, size_t len);
bool fl_agent__seal_complete(const struct fl_agent *a);
bool fl_agent__seal_truncated(const struct fl_agent *a);

/* health.c */
void fl_agent__trial_begin(struct fl_agent *a);
int fl_agent__trial_poll(struct fl_agent *a, uint64_t now);
/* Sends a health report when one is due (or now, if force). */
void fl_agent__health_poll(struct fl_agent *a, uint64_t now, bool force);
/* Ends the running trial with reason: persisted, rejected, reboot. */
int fl_agent__trial_reject(struct fl_agent *a, const char *reason);

/* report.c */
/* Publishes the current job's latest status (reason_override may be
 * NULL). Nothing when there is no job. */
void fl_agent__status(struct fl_agent *a, const char *reason_override);
/* Answers a job that is not the current one with a final or waiting
 * status (version, reason and detail may be NULL). */
void fl_agent__answer(struct fl_agent *a, uint32_t job, uint8_t state,
		      uint8_t result, const char *reason, const char *detail,
		      const char *version);
void fl_agent__reported(struct fl_agent *a);
/* The configuration's strings against the charsets and bounds of the
 * messages that carry them (model, component, tz, agent version, labels:
 * keys unique). Returns 0 or FL_EINVAL. */
int fl_agent__check_identity(const struct fl_agent_config *c);
/* Copies s as a reason token (lowercase, [a-z0-9_.:-]; others become
 * '_'), truncated to the field. */
void fl_agent__token(char out[FL_PROTO_REASON_MAX], const char *prefix,
		     const char *s);

#endif
