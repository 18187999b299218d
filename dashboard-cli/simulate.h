/*
 * simulate.h -- a dry run of a rollout plan: the real engine over a
 * simulated fleet and a simulated clock, with no server and no devices.
 *
 * The model of a device (its delays, its failures, its windows) is written
 * out in docs/inventory-format.md and in `fleetctl plan simulate --help`;
 * everything random is drawn from a hash of (seed, device id, what), so a
 * run is a pure function of the plan, the inventory and the options.
 */
#ifndef FLEETCTL_SIMULATE_H
#define FLEETCTL_SIMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "fl/engine.h"
#include "fl/plan.h"
#include "inventory.h"

#define FL_SIM_MAX_FAILS     16	  /* --fail rules */
#define FL_SIM_MAX_HOLD_OKS  32	  /* --approve-hold */
#define FL_SIM_MAX_NAMES     32	  /* models or regions named in a breakdown */
#define FL_SIM_MAX_TIMELINE  1024 /* stage-level events kept */
#define FL_SIM_HORIZON_S     (90 * 86400) /* default --horizon */
#define FL_SIM_DEFAULT_FLEET 100   /* devices per model without --inventory */
#define FL_SIM_EXACT_DEVICES 20000 /* up to this many devices: 1 s batches */

enum fl_sim_fail_mode {
	FL_SIM_FAIL_HEALTH = 0,	 /* boots it, then breaches a metric */
	FL_SIM_FAIL_INSTALL = 1, /* the install fails, keeps the old one */
};

/* --fail SELECTOR:RATE[:MODE]: devices of a model (key "") or with a label
 * fail with this probability. */
struct fl_sim_fail {
	char key[FL_INV_STR_MAX + 1];
	char value[FL_INV_STR_MAX + 1];
	uint32_t rate_ppm; /* 0..FL_PPM */
	uint8_t mode;	   /* enum fl_sim_fail_mode */
};

struct fl_sim_hold_ok {
	char name[FL_PLAN_NAME_MAX + 1];
	int64_t at_s; /* when it is approved */
};

struct fl_sim_options {
	uint64_t seed;
	int64_t start_s;
	int64_t approve_after_s; /* stage approvals, after they are awaited */
	int64_t horizon_s;	 /* stop this long after start_s */
	unsigned nfail;
	struct fl_sim_fail fail[FL_SIM_MAX_FAILS];
	unsigned nhold_ok;
	struct fl_sim_hold_ok hold_ok[FL_SIM_MAX_HOLD_OKS];
	const struct fl_tz_ops *tz; /* NULL: every zone is UTC */
	/* Device events due within batch_s seconds of the first are applied
	   together before the engine is stepped (it is also stepped
	   whenever it asked to be), which bounds the number of steps on big
	   fleets; times in the report are then late by up to batch_s - 1.
	   0: 1 s up to FL_SIM_EXACT_DEVICES devices, 10 s up to ten times
	   that, 60 s beyond. */
	int64_t batch_s;
};

/* Stage-level things that happened, in order (no per-device decisions). */
enum fl_sim_event_kind {
	/* 1..18: enum fl_decision_kind (OFFER, CANCEL, ROLLBACK_DEVICE and
	   the DEVICE_* kinds are not kept) */
	FL_SIM_EV_APPROVED_STAGE = 100, /* the simulated operator approved */
	FL_SIM_EV_APPROVED_HOLD = 101,	/* ref: hold index */
};

struct fl_sim_event {
	uint8_t kind; /* enum fl_decision_kind or fl_sim_event_kind */
	uint8_t why;
	uint16_t stage;
	uint32_t ref, dev;
	int64_t at_s, until_s;
};

/* Named buckets: by[i] counts devices with names[i]; the last bucket,
 * FL_SIM_MAX_NAMES, counts every name past the table ("other"). */
struct fl_sim_breakdown {
	uint32_t by[FL_SIM_MAX_NAMES + 1];
};

struct fl_sim_stage {
	const char *name; /* borrowed from the plan */
	uint8_t state;	  /* enum fl_stage_state at the end */
	uint8_t fail_why; /* FL_WHY_* when it failed */
	uint8_t is_overridden;
	uint32_t members;
	uint32_t offers;
	uint32_t got_new; /* members that installed the new version */
	uint32_t on_new;  /* members running it at the end */
	uint32_t trip_failed, trip_judged;		   /* when it failed */
	int64_t awaited_at_s, approved_at_s, started_at_s; /* -1: never */
	int64_t first_offer_at_s, last_offer_at_s, ended_at_s;
	/* The first FL_DEC_WAIT of each kind, indexed by FL_WHY_HOLD,
	   FL_WHY_WINDOW, FL_WHY_RATE (index 0 unused): when it was given
	   and when it could end (FL_ENGINE_NEVER: on an approval); -1 none.
	   wait_hold: the hold's index for FL_WHY_HOLD. */
	int64_t wait_at_s[4], wait_until_s[4];
	uint32_t wait_hold;
	struct fl_engine_stage fin; /* engine's counts at the end */
	struct fl_sim_breakdown models, regions;
};

struct fl_sim_result {
	const char *source; /* the inventory's */
	size_t n_devices;
	uint32_t n_targets;
	uint32_t not_target[7]; /* by enum fl_not_target */
	unsigned nmodels, nregions;
	const char *models[FL_SIM_MAX_NAMES];  /* borrowed: inventory */
	const char *regions[FL_SIM_MAX_NAMES]; /* "(none)": no region */
	struct fl_sim_breakdown target_models, target_regions;

	int64_t batch_s;	/* as used (fl_sim_batch_s) */
	int64_t start_s, end_s; /* end: last thing that happened */
	int64_t complete_at_s;	/* -1: never */
	uint8_t state;		/* enum fl_rollout_state at the end */
	uint8_t is_paused;
	uint8_t hit_horizon; /* stopped at start + horizon */
	int64_t paused_at_s; /* -1: never */
	uint16_t paused_stage;

	unsigned nstages;
	struct fl_sim_stage stages[FL_PLAN_MAX_STAGES];

	/* holds: when each was approved (-1 never), members held at the end
	   that it matches */
	unsigned nholds;
	int64_t hold_approved_at_s[FL_PLAN_MAX_HOLDS];
	uint32_t hold_blocked[FL_PLAN_MAX_HOLDS];

	/* the fleet-wide rollback, if any */
	uint8_t has_rollback, rollback_why;
	uint16_t rollback_stage; /* FL_ENGINE_NO_STAGE: by an operator */
	int64_t rollback_at_s, rolled_back_at_s;
	uint32_t had_new_at_rollback;	  /* installed the new version */
	uint32_t running_new_at_rollback; /* booted into it */
	uint32_t n_cancelled;
	struct fl_engine_status fin; /* rollback counts, offers, members */

	/* totals at the end */
	uint32_t n_got_new;    /* devices that ever installed it */
	uint32_t n_on_new;     /* devices running it at the end */
	uint32_t n_failed_dev; /* devices judged failed */
	uint32_t n_fail_drawn; /* targets that --fail makes fail if offered */

	unsigned nevents, nevents_dropped;
	struct fl_sim_event events[FL_SIM_MAX_TIMELINE];
};

/*
 * Runs `plan` over inv from opt->start_s until the rollout ends (complete
 * with nothing left to do, rolled back, cancelled or paused with nothing
 * in flight) or the horizon. *out is owned by the caller (free()). Returns
 * 0, FL_EINVAL (an engine refusal of the plan or inventory, or a bad
 * option), FL_ETOOBIG, FL_ENOMEM, FL_ESTATE (the engine did not settle:
 * a bug).
 */
/* Checks every id a `devices:` stage lists against the fleet: each must
 * be in it and be a target (PLAN-LANGUAGE "Stages"); adds an error at the
 * id's position to diags for each that is not. Returns 0, FL_EINVAL (some
 * id is not a target), or the engine's error (FL_ENOMEM ...). */
int fl_sim_check_devices(const struct fl_plan *plan,
			 const struct fl_inventory *inv,
			 const struct fl_tz_ops *tz,
			 struct fl_plan_diags *diags);

/* Without a fleet the same rule is a warning: adds one per `devices:`
 * stage, at its first id. */
void fl_sim_warn_unchecked_devices(const struct fl_plan *plan,
				   struct fl_plan_diags *diags);

int fl_sim_run(const struct fl_plan *plan, const struct fl_inventory *inv,
	       const struct fl_sim_options *opt, struct fl_sim_result **out);

/* The batch of device events used for a fleet of n_devices. */
int64_t fl_sim_batch_s(const struct fl_sim_options *opt, size_t n_devices);

/* Parses "thermo-v3:20%", "ring=canary:0.5", "region=eu:5%:install".
 * RATE is a percentage or a fraction in [0, 1]. Returns 0 or FL_EINVAL. */
int fl_sim_parse_fail(const char *arg, struct fl_sim_fail *out);

/* The --fail mode this target draws (enum fl_sim_fail_mode), or -1. */
int fl_sim_fail_draw(const struct fl_sim_options *opt,
		     const struct fl_inv_device *d);

/* A uniform draw in [lo, hi] from (seed, id, what, n). */
int64_t fl_sim_jitter(uint64_t seed, const char *id, unsigned what, unsigned n,
		      int64_t lo, int64_t hi);

/* The earliest instant >= t inside one of the plan's windows, in each
 * window's zone (`device_zone` for tz: device); t when the plan has none.
 * Local time goes through tz (NULL: UTC). */
int64_t fl_sim_window_next(const struct fl_plan *plan,
			   const struct fl_tz_ops *tz, const char *device_zone,
			   int64_t t);

/* "90s", "10m", "2h", "1d" (or several: "1h30m"). Returns 0 or FL_EINVAL. */
int fl_sim_parse_duration(const char *s, int64_t *out_s);

/* RFC 3339 with a zone: 2026-12-01T00:00:00Z, ...+01:00. 0 or FL_EINVAL. */
int fl_sim_parse_instant(const char *s, int64_t *out_s);

/* 2026-12-01T00:00:00Z. */
void fl_sim_format_instant(int64_t t, char *buf, size_t size);

/* 3d4h5m6s, 0s. */
void fl_sim_format_duration(int64_t s, char *buf, size_t size);

#endif
