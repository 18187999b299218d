/*
 * engine_priv.h -- the rollout engine's state, shared by its files:
 * engine.c (life cycle, inventory, views), apply.c (events), step.c
 * (gates, stages, offers, rollback), select.c (stage membership) and
 * window.c (windows, holds, time zones).
 */
#ifndef FL_ENGINE_PRIV_H
#define FL_ENGINE_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "fl/engine.h"

#define ENG_NO_STAGE8  0xffu /* eng_dev.stage: not a member */
#define ENG_NEVER      FL_ENGINE_NEVER
#define ENG_UNSET      INT64_MIN /* a time not set yet */
#define ENG_ZONE_SLOTS 4096	 /* power of two >= 2 * FL_ENGINE_MAX_ZONES */

/* Walks over devices in hash order touch memory at random: asking for
 * the device a few places ahead hides most of the cache misses. */
#define ENG_AHEAD 16
#if defined(__GNUC__)
#define ENG_PREFETCH(p) __builtin_prefetch(p)
#else
#define ENG_PREFETCH(p) ((void)(p))
#endif

/* eng_dev.flags */
#define DF_TARGET      0x0001u
#define DF_ONLINE      0x0002u
#define DF_OFFERED     0x0004u /* ever offered */
#define DF_OFFER_LIVE  0x0008u /* an offer the agent may still act on */
#define DF_CANCEL_SENT 0x0010u
#define DF_REVERTED    0x0020u /* its boot loader went back */
#define DF_IN_PENDING  0x0040u /* in e->pending */
#define DF_IN_FLIGHT   0x0080u /* in e->inflight */
#define DF_IN_RBQ      0x0100u /* in e->rbq */
#define DF_TOUCHED     0x0200u /* in e->touched */
#define DF_RB_RESEND   0x0400u /* back online with a rollback unanswered */

/* One device: 72 bytes. Times are ENG_UNSET until set. */
struct eng_dev {
	uint64_t hash;	    /* of (rollout name, id): order and id index */
	int64_t t_offer;    /* last offer, or timeout base */
	int64_t t_commit;   /* soak start */
	int64_t t_report;   /* latest device report that changed status */
	int64_t t_presence; /* latest presence event applied */
	int64_t t_retry;    /* deferred: re-offer from */
	uint32_t stratum;
	uint32_t holdmask; /* device-scoped holds whose match it meets */
	uint16_t zone;	   /* zone id for "tz: device" windows (0: UTC) */
	uint16_t flags;	   /* DF_* */
	uint8_t stage;	   /* ENG_NO_STAGE8: not a member */
	uint8_t status;	   /* enum fl_dev_status */
	uint8_t phase;	   /* enum fl_dev_progress */
	uint8_t rb;	   /* enum fl_rb_state */
	uint8_t reason;	   /* enum fl_not_target, or enum fl_fail_reason */
	uint8_t model;	   /* index in artifact.hardware */
};

struct eng_stratum {
	uint64_t hash; /* tie-break between strata, order-independent */
	uint32_t model, region;
	uint32_t n_targets, n_members;
};

/* Bounded list of device indices; capacity follows the device count. */
struct eng_list {
	uint32_t *v;
	uint32_t n, cap;
};

/* Open-addressing table of uint32 values (value + 1; 0 = empty). */
struct eng_table {
	uint32_t *slot;
	uint32_t mask; /* capacity - 1; capacity a power of two */
	uint32_t n;
};

struct eng_rate_slot {
	int64_t t;
	uint32_t count;
};

struct eng_stage {
	uint8_t state; /* enum fl_stage_state */
	uint8_t is_approved, is_overridden, has_passed;
	uint32_t members;
	uint32_t cnt[FL_DEV_NSTATUS];
	int64_t started_at;
	int64_t soak_s;
	/* rate: offers per second of the last rate_period_s, a ring */
	struct eng_rate_slot *ring;
	uint32_t ring_cap, ring_head, ring_len;
	uint64_t ring_sum;
	/* devices: entries skipped at start, reported one note per step */
	uint8_t *note_why;
	uint32_t *note_dev;
	uint32_t note_cap, note_n, note_next;
};

struct eng_zone {
	const char *name; /* NULL for UTC; borrowed */
	int64_t from;	  /* cached window state valid in [from, until) */
	int64_t until;
	uint8_t is_valid, in_window;
};

struct fl_engine {
	const struct fl_plan *plan;
	struct fl_tz_ops tz;
	int has_tz;
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p);
	void *alloc_ctx;
	size_t mem_now, mem_peak;

	const struct fl_inv_device *inv;
	uint32_t ndev, cap;
	struct eng_dev *dev;
	struct eng_table ids; /* device index by id */

	const char **exclude; /* sorted copy of targets.exclude (borrowed) */
	unsigned nexclude;

	struct eng_stratum *strata;
	uint32_t nstrata, cap_strata;
	struct eng_table strata_ix; /* by (model, region) */
	const char **regions;	    /* borrowed from the inventory */
	uint32_t nregions, cap_regions;
	struct eng_table regions_ix;

	struct eng_zone *zones; /* [0] is UTC */
	uint32_t nzones, cap_zones;
	uint32_t *zone_slots; /* ENG_ZONE_SLOTS: zone id + 1 by name */
	uint16_t win_zone[FL_PLAN_MAX_WINDOWS]; /* zone of fixed-tz windows */
	int uses_device_tz;

	struct eng_list pending;  /* members waiting for an offer */
	struct eng_list inflight; /* members with an offer out */
	struct eng_list touched;  /* every device ever offered */
	struct eng_list rbq;	  /* devices owed a cancel or rollback */

	struct eng_stage stages[FL_PLAN_MAX_STAGES];
	int cur; /* current stage, -1 before the first */

	uint8_t state;	      /* enum fl_rollout_state */
	uint8_t resume_phase; /* where a step that ran out of room stopped */
	uint8_t is_paused, pause_by_gate, paused_sent;
	uint8_t rollback_req, cancel_req, rb_why, rb_dirty;
	uint8_t rb_timed_out; /* health.rollback_timeout passed */
	uint16_t rb_stage;
	int64_t rb_deadline; /* rollback start + health.rollback_timeout */
	uint8_t hold_approved[FL_PLAN_MAX_HOLDS];
	uint32_t scoped_holds; /* bit h: hold h has a match */

	struct fl_engine_approval
		approvals[FL_PLAN_MAX_STAGES + FL_PLAN_MAX_HOLDS];
	unsigned napprovals;

	/* last FL_DEC_WAIT given per why (hold, window, rate) */
	int64_t wait_until[4];
	uint32_t wait_ref[4];

	int64_t now;
	uint64_t changes; /* bumped by every status change */
	uint32_t ntargets, nmembers, nunplaced, noffers;
	uint32_t nrb_sent, nrb_done, nrb_failed;
	uint32_t nrb_unreached;	   /* rollback sent, no result, offline */
	int rate_rule, count_rule; /* which gate limits apply */
};

/* engine.c */
void *engine__alloc(struct fl_engine *e, size_t size);
void engine__free(struct fl_engine *e, void *p, size_t size);
uint64_t engine__hash(const char *a, const char *b, const char *c);
const struct fl_inv_label *engine__label(const struct fl_inv_device *d,
					 const char *key);
int engine__match(const struct fl_plan_match *m, const struct fl_inv_device *d);
void engine__set_status(struct fl_engine *e, uint32_t dev, unsigned status);
void engine__list_push(struct eng_list *l, struct fl_engine *e, uint32_t dev,
		       uint16_t flag);
int64_t engine__soak(const struct fl_engine *e, const struct eng_dev *d);
int engine__received_new(const struct eng_dev *d);
/* A rollback sent, no result yet, and the device offline. Around any
 * change of a device's rb or DF_ONLINE: was = engine__rb_unreached(d)
 * before, engine__rb_recount(e, d, was) after. */
int engine__rb_unreached(const struct eng_dev *d);
void engine__rb_recount(struct fl_engine *e, const struct eng_dev *d, int was);
int engine__time_ok(int64_t t);
void engine__owe_remedy(struct fl_engine *e, uint32_t dev);

/* select.c */
int select__start_stage(struct fl_engine *e, unsigned k);

/* window.c */
int window__zone_intern(struct fl_engine *e, const char *name, uint16_t *id);
void window__state(struct fl_engine *e, uint16_t zone, int64_t t,
		   int *in_window, int64_t *until);
int64_t window__open_at_or_after(struct fl_engine *e, uint16_t zone, int64_t t);
int window__hold_active(const struct fl_engine *e, unsigned h, int64_t t);
int64_t window__hold_end(const struct fl_engine *e, unsigned h);
int window__validate(const struct fl_plan *plan);

#endif
