/*
 * engine.h -- the rollout engine: a pure, deterministic state machine that
 * runs one rollout plan over a fleet.
 *
 * fleetd feeds it the plan, the inventory, events and the time; it returns
 * decisions. It does no I/O, reads no clock and draws no random numbers;
 * local time comes in through a time-zone port (struct fl_tz_ops, Linux
 * implementation in fl/tzfile.h). It allocates through the hooks of its
 * configuration and reports how much it holds (fl_engine_memory).
 *
 * Use:
 *
 *     fl_engine_create(&e, plan, &cfg, inv, n);
 *     loop:
 *         fl_engine_sync_inventory(e, inv, n);   after appending devices
 *         fl_engine_apply(e, &ev);               for each event received
 *         fl_engine_step(e, now, out, max, &k, &wake);
 *         record out[0..k), then carry them out; call step again by `wake`
 *
 * DETERMINISM CONTRACT. The engine's state is a function of the plan, the
 * configuration (tz port answers), the inventory entries as they were at
 * each call, and the exact sequence of calls with their arguments
 * (create, sync_inventory, apply, step with its `now`). The same sequence
 * gives the same decisions, byte for byte, on any machine. `max` only
 * decides where the output is cut: calling step again at the same `now`
 * while it returns next_wake == now yields the same decisions in the same
 * order whatever the `max` of each call. A server that logs every event
 * it applied and every step call (or just re-applies its logged events and
 * calls step at the logged times) rebuilds the same engine after a crash.
 * Decisions returned by step are already applied to the engine's state:
 * the caller must record them before carrying them out, and must not
 * expect them again.
 *
 * TIME is in seconds since the Unix epoch (UTC); every instant and
 * duration (now, event times, plan instants and durations) must lie within
 * +-FL_ENGINE_TIME_LIMIT_S (some 34,000 years), else FL_EINVAL, so that no
 * sum of them overflows. The engine's clock never goes back: a step whose
 * `now` is earlier than a previous one's runs at the latest `now` seen. Events
 * carry their own time (when the device or operator did it); it orders reports
 * of one device and starts soaks.
 *
 * INVENTORY. An array of struct fl_inv_device, owned by the caller,
 * append-only: entries are never removed or reordered, new devices are
 * appended, and an entry's content is treated as immutable once the engine
 * has seen it (a device whose model or labels change is a new rollout's
 * business). The caller may move the array (realloc) but must then call
 * fl_engine_sync_inventory with the new address before any other call.
 * Everything an entry points to must stay valid as long as the array is
 * in use by the engine. Devices are named by their index in the array
 * (uint32_t dev); fl_engine_lookup maps an id to it. A duplicate id is
 * not a target (its first entry is).
 *
 * TARGETS (PLAN-LANGUAGE "Targets"), fixed when the engine first sees an
 * entry: model in artifact.hardware; labels match targets.match; not in
 * targets.exclude; if artifact.from is set, the version parses as semver
 * and satisfies it -- an unknown (NULL) or unparsable version is then not
 * a target; a device already running artifact.version is not a target
 * (nothing to install). Non-targets are never offered anything.
 *
 * STAGES run in order; a stage's members are chosen once, when it starts,
 * from the targets not yet member of an earlier stage (the pool):
 *   devices: exactly the listed ids that are pool targets; each entry that
 *            is unknown, not a target or already a member gets a
 *            FL_DEC_STAGE_SKIPPED_DEVICE note;
 *   count N: the next N pool devices in stratified order (fewer if the
 *            pool is smaller);
 *   match:   every pool device whose labels match;
 *   percent: cumulative: ceil(P * N_targets) devices must have been
 *            included by the end of this stage (N_targets counted when the
 *            stage starts, late joiners included); the stage takes the
 *            difference, never less than 0, in stratified order.
 * Stratified order: devices are grouped in strata (model, label "region";
 * no region label is a stratum of its own), ordered inside a stratum by a
 * 64-bit hash of (rollout name, device id) (FNV-1a and a murmur3
 * finalizer; ties by id), and strata are interleaved by the Webster
 * (Sainte-Lague) divisor method over the stratum sizes in the target set,
 * counting members already chosen by earlier stages. Webster is house-
 * monotone: a bigger cumulative stage never has fewer devices of a stratum
 * than a smaller one (largest remainder can, the Alabama paradox), so each
 * stage's cumulative membership stays proportional and no earlier member
 * is ever dropped. The order does not depend on the inventory's order.
 * Devices that join later (sync_inventory) become targets and are placed
 * in the next stage that starts; those that join after the last stage
 * started are not offered by this rollout (fl_engine_status: n_unplaced).
 *
 * A DEVICE'S STATUS (enum fl_dev_status) within its stage:
 *   pending -> in flight (offer sent) -> succeeded | failed | skipped
 * plus held (a hold blocks it), unreached (offline when it would have been
 * offered, or went offline before acknowledging an offer), deferred (its
 * precondition said "retry later": re-offered at the time it gave, by
 * default FL_ENGINE_RETRY_DEFAULT_S later) and cancelled (by a rollback or
 * cancel before it had a verdict). Held, unreached and deferred members
 * are retried when their reason goes away, also after their stage passed;
 * their late results still count in their stage's gate. Progress reports
 * (acked < downloading < installed < activated < committed) only ever
 * raise a device's progress, so a stale or repeated report changes
 * nothing; a verdict is final and counted once.
 *   succeeded: committed, then no metric breach for the stage's soak
 *              (stage soak, else health.soak) after the commit's time;
 *   failed:    a reported failure or boot-loader revert, a metric breach
 *              (health report with a rule's metric out of range) while it
 *              runs the new version before soak ended, or health.timeout
 *              after the last offer with no commit (the clock stops at
 *              commit; with activate: window it restarts at the first
 *              window opening after the device reported installed);
 *   skipped:   its precondition said "rejected": not judged, not retried.
 * A failed device that received the new version (installed or beyond) and
 * was not reverted by its boot loader gets a FL_DEC_ROLLBACK_DEVICE; one
 * that had not received it but has a live offer gets a FL_DEC_CANCEL.
 * A metric rule without a value in a report is not breached.
 *
 * THE GATE (PLAN-LANGUAGE "The gate") is checked at every step on every
 * running or passed stage, judged = succeeded + failed:
 *   fails as soon as failures > max_failures (when set), or
 *   failures/judged > max_failure_rate with judged >= min(min_devices,
 *   members) (rate rule active when max_failure_rate is set, or when
 *   neither limit is set: then any failure fails);
 *   passes when no member is pending or in flight (held, unreached,
 *   deferred, skipped do not hold it back), the rate and count limits
 *   hold -- the rate now whatever min_devices, so a complete stage over
 *   the rate fails -- and at least one member was judged (a stage whose
 *   members all stayed unreached or held waits rather than pass on no
 *   evidence; a stage with no members passes at once).
 * A stage that fails triggers health.on_failure: rollback, or pause. After
 * a pause for a failed gate, resume overrides that stage's gate (recorded
 * as overridden): it continues and passes once complete.
 *
 * ROLLBACK (gate with on_failure: rollback, or FL_EV_ROLLBACK at any time,
 * even after completion or cancel): no offer is ever made again; every
 * device that received the new version and was not reverted gets one
 * FL_DEC_ROLLBACK_DEVICE (again when it comes back online without having
 * reported a result); every other live offer gets a FL_DEC_CANCEL;
 * unjudged members become cancelled. Holds, windows and pause do not delay
 * a rollback. A device sent a rollback that has not reported its result
 * and is offline is "rollback unreached" (fl_engine_device().rollback
 * FL_RB_UNREACHED, fl_engine_status().n_rollback_unreached): it may be
 * rebooting into the old version, or away for a while. The rollout stays
 * rolling_back until every device sent a rollback has reported its result
 * (done or failed): an online device until it does, an offline one until
 * health.rollback_timeout after the rollback started (0: not waited for).
 * Then it is rolled_back (FL_DEC_ROLLED_BACK, ref: devices done; why
 * FL_WHY_TIMEOUT when some were still unreached). Results that arrive
 * later are still folded in (fl_engine_device, n_rollback_done), and a
 * device that comes back without a result is sent its rollback again.
 *
 * CANCEL (FL_EV_CANCEL): no further offers, live offers not yet installed
 * are cancelled, devices that installed keep the new version.
 *
 * PAUSE stops new offers and stage starts; devices in flight finish and are
 * judged, gates are still checked. RESUME continues.
 *
 * WINDOWS (activate: now only): an offer is made only while the device's
 * local time is inside a window: tz: device uses the entry's tz, else its
 * "tz" label, else UTC (a zone the port does not know, or one past the
 * first FL_ENGINE_MAX_ZONES distinct ones, also means UTC); an IANA
 * name uses that zone; no tz, UTC. Local time is computed through the tz
 * port at the instant in question, so windows follow daylight-saving
 * changes (a window hour that does not exist that day is skipped, one that
 * repeats is open twice as long). A window whose end is before its start
 * crosses midnight and belongs to the day it opens. With activate: window
 * or idle offers are made at any time; the agent gets the windows and the
 * zone to use in its offer (fl_engine_device_zone).
 *
 * HOLDS block offers (not rollbacks, not stage starts): a hold with a match
 * blocks matching devices (held, their stage can still pass), one without
 * blocks every device. A hold is active from `from` (inclusive; none:
 * always) to `until` (inclusive; none: forever) unless approved; approving
 * a hold (FL_EV_APPROVE with its name) lifts it for good, whatever its
 * bounds.
 *
 * APPROVAL: a stage with approval: required starts only after it is
 * approved; the approval is accepted once the previous stage passed
 * (FL_DEC_AWAIT_APPROVAL was given), earlier approvals are refused with
 * FL_ESTATE, repeated ones change nothing. FL_EV_APPROVE names a stage or
 * a hold (both, if a stage and a hold share the name). Every approval is
 * recorded with who and when (fl_engine_approvals).
 *
 * RATE: at most rate_count offers (first offers and retries alike) of a
 * stage in any interval of rate_period_s seconds: an offer at t is made
 * only if fewer than rate_count offers of that stage happened in
 * (t - rate_period_s, t].
 *
 * BOUNDS: at most FL_ENGINE_MAX_DEVICES devices; step returns at most
 * `max` decisions and, when it stopped for lack of room, next_wake = now.
 * Memory: about 100 bytes per device (a 72-byte state and its place in
 * four index lists and the id index), plus 32 per pool device while a
 * stage starts; bench/bench_engine prints the measured figures.
 *
 * Not thread-safe: one engine is used by one thread at a time.
 */
#ifndef FL_ENGINE_H
#define FL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "fl/plan.h"

#define FL_ENGINE_MAX_DEVICES	    (1u << 26) /* inventory entries */
#define FL_ENGINE_ID_MAX	    255	       /* device id length (chars) */
#define FL_ENGINE_MAX_DEV_LABELS    64	       /* labels of one device */
#define FL_ENGINE_MAX_ZONES	    1024       /* distinct device zones */
#define FL_ENGINE_MAX_METRICS	    64	       /* values in one health report */
#define FL_ENGINE_WHO_MAX	    64 /* approver name kept (chars+1) */
#define FL_ENGINE_MAX_RATE_PERIOD_S (7 * 86400)
#define FL_ENGINE_RETRY_DEFAULT_S   600 /* re-offer after "retry later" */
#define FL_ENGINE_TIME_LIMIT_S	    (1LL << 40) /* |any time or duration| */
#define FL_ENGINE_NEVER		    INT64_MAX /* next_wake: nothing scheduled */
#define FL_ENGINE_NO_DEV	    UINT32_MAX
#define FL_ENGINE_NO_STAGE	    UINT16_MAX

/* ---- ports ------------------------------------------------------------ */

/*
 * Time-zone rules. utc_offset sets *offset_s to local time minus UTC at the
 * instant utc_s in `zone` (an IANA name), and *next_change_s to an instant
 * > utc_s before which the offset does not change (FL_ENGINE_NEVER if it
 * never does; an earlier instant is allowed, only costs a recomputation).
 * Returns 0, FL_ENOENT (unknown zone) or FL_EINVAL. Must be a pure function
 * of its arguments for the engine to be deterministic.
 */
struct fl_tz_ops {
	int (*utc_offset)(void *ctx, const char *zone, int64_t utc_s,
			  int32_t *offset_s, int64_t *next_change_s);
	void *ctx;
};

struct fl_engine_config {
	const struct fl_tz_ops *tz; /* NULL: every zone is UTC */
	/* Allocation hooks; both NULL: malloc and free. */
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p);
	void *alloc_ctx;
};

/* ---- inventory -------------------------------------------------------- */

struct fl_inv_label {
	const char *key;
	const char *value;
};

struct fl_inv_device {
	const char *id;	     /* required, 1..FL_ENGINE_ID_MAX chars */
	const char *model;   /* NULL: not a target */
	const char *tz;	     /* zone the device reports, or NULL */
	const char *version; /* installed version of artifact.component, or
				NULL when unknown */
	const struct fl_inv_label *labels;
	unsigned nlabels;  /* <= FL_ENGINE_MAX_DEV_LABELS */
	uint8_t is_online; /* presence when the engine first sees it */
};

/* Why a device is not a target (fl_engine_device().not_target). */
enum fl_not_target {
	FL_NT_NONE = 0, /* it is a target */
	FL_NT_MODEL = 1,
	FL_NT_LABELS = 2,
	FL_NT_VERSION = 3, /* outside artifact.from, or unknown/unparsable */
	FL_NT_CURRENT = 4, /* already runs artifact.version */
	FL_NT_EXCLUDED = 5,
	FL_NT_DUPLICATE = 6, /* a second entry with an id already seen */
};

/* ---- events ----------------------------------------------------------- */

enum fl_event_kind {
	/* device progress on this rollout's offer (raise only) */
	FL_EV_ACKED = 1,
	FL_EV_DOWNLOADING = 2,
	FL_EV_INSTALLED = 3, /* written to the inactive slot, verified */
	FL_EV_ACTIVATED = 4, /* booted the new version on trial */
	FL_EV_COMMITTED = 5, /* confirmed it: soak starts at at_s */
	/* device results */
	FL_EV_FAILED = 6,      /* reason: enum fl_fail_reason */
	FL_EV_REVERTED = 7,    /* its boot loader went back to the old slot */
	FL_EV_RETRY_LATER = 8, /* precondition: not now (retry_at_s) */
	FL_EV_REJECTED = 9,    /* precondition: never (battery, storage) */
	FL_EV_ROLLBACK_DONE = 10,
	FL_EV_ROLLBACK_FAILED = 11,
	FL_EV_HEALTH = 12, /* metrics[0..nmetrics) */
	FL_EV_ONLINE = 13,
	FL_EV_OFFLINE = 14,
	/* operator actions (who) */
	FL_EV_PAUSE = 15,
	FL_EV_RESUME = 16,
	FL_EV_APPROVE = 17, /* name: a stage or a hold */
	FL_EV_ROLLBACK = 18,
	FL_EV_CANCEL = 19,
};

enum fl_fail_reason {
	FL_FAIL_OTHER = 0,
	FL_FAIL_DOWNLOAD = 1,
	FL_FAIL_VERIFY = 2,
	FL_FAIL_INSTALL = 3,
	FL_FAIL_ACTIVATE = 4,
	FL_FAIL_HEALTH = 5,   /* the agent's own health check */
	FL_FAIL_REVERTED = 6, /* set by FL_EV_REVERTED */
	FL_FAIL_METRIC = 7,   /* set by the engine: a metric rule breached */
	FL_FAIL_TIMEOUT = 8,  /* set by the engine: health.timeout */
	FL_FAIL_NO_KEY = 9,   /* an encrypted image and no wrap key for it */
};

struct fl_metric_value {
	const char *name;
	double value;
};

struct fl_event {
	uint8_t kind;	    /* enum fl_event_kind */
	uint8_t reason;	    /* FL_EV_FAILED: enum fl_fail_reason */
	uint32_t dev;	    /* device events: inventory index */
	int64_t at_s;	    /* when it happened */
	int64_t retry_at_s; /* FL_EV_RETRY_LATER; 0: at_s + default */
	const struct fl_metric_value *metrics; /* FL_EV_HEALTH */
	unsigned nmetrics;		       /* <= FL_ENGINE_MAX_METRICS */
	const char *name;		       /* FL_EV_APPROVE */
	const char *who;		       /* operator events; NULL: "" */
};

/* ---- decisions -------------------------------------------------------- */

enum fl_decision_kind {
	FL_DEC_OFFER = 1,	     /* dev, stage: send the offer */
	FL_DEC_CANCEL = 2,	     /* dev: cancel its offer */
	FL_DEC_ROLLBACK_DEVICE = 3,  /* dev: go back to the previous version */
	FL_DEC_DEVICE_SUCCEEDED = 4, /* dev, stage: soak done */
	FL_DEC_DEVICE_FAILED = 5,    /* dev, stage, why: FL_WHY_TIMEOUT */
	FL_DEC_DEVICE_UNREACHED = 6, /* dev, stage: offline when due */
	FL_DEC_STAGE_STARTED = 7,    /* stage, ref: member count */
	FL_DEC_STAGE_SKIPPED_DEVICE = 8, /* stage, ref: index in devices:,
					    why: enum fl_why, dev if known */
	FL_DEC_STAGE_PASSED = 9,    /* stage (why FL_WHY_OVERRIDDEN if so) */
	FL_DEC_STAGE_FAILED = 10,   /* stage, why */
	FL_DEC_AWAIT_APPROVAL = 11, /* stage */
	FL_DEC_WAIT = 12,	    /* why (hold/window/rate), until_s, ref
				       (hold index), stage */
	FL_DEC_PAUSED = 13,	    /* why: operator or gate */
	FL_DEC_RESUMED = 14,
	FL_DEC_ROLLBACK_STARTED = 15, /* why: gate (stage) or operator */
	FL_DEC_ROLLED_BACK = 16,      /* final; ref: rollbacks done; why:
					 timeout when some were unreached */
	FL_DEC_COMPLETE = 17,	      /* the last stage passed */
	FL_DEC_CANCELLED = 18,	      /* final */
};

enum fl_why {
	FL_WHY_NONE = 0,
	FL_WHY_HOLD = 1,
	FL_WHY_WINDOW = 2,
	FL_WHY_RATE = 3,
	FL_WHY_MAX_FAILURES = 4,
	FL_WHY_FAILURE_RATE = 5,
	FL_WHY_OPERATOR = 6,
	FL_WHY_GATE = 7,
	FL_WHY_UNKNOWN_DEVICE = 8,
	FL_WHY_NOT_TARGET = 9,
	FL_WHY_ALREADY_MEMBER = 10,
	FL_WHY_OVERRIDDEN = 11,
	FL_WHY_TIMEOUT = 12,
};

struct fl_decision {
	uint8_t kind;	 /* enum fl_decision_kind */
	uint8_t why;	 /* enum fl_why */
	uint16_t stage;	 /* FL_ENGINE_NO_STAGE when not about a stage */
	uint32_t dev;	 /* FL_ENGINE_NO_DEV when not about a device */
	uint32_t ref;	 /* see the kind */
	int64_t at_s;	 /* the step's now */
	int64_t until_s; /* FL_DEC_WAIT: when it may end (FL_ENGINE_NEVER:
			    on an approval) */
};

/* ---- the engine ------------------------------------------------------- */

struct fl_engine;

/*
 * Creates an engine for `plan` (borrowed: it must outlive the engine) over
 * inv[0..n). cfg may be NULL. *out is owned by the caller
 * (fl_engine_free). Returns 0, FL_EINVAL (a plan the engine cannot run: no
 * stage, bad window or percentage, rate period 0 or over
 * FL_ENGINE_MAX_RATE_PERIOD_S, a time out of range; or a bad inventory
 * entry), FL_ETOOBIG (over
 * FL_ENGINE_MAX_DEVICES or FL_ENGINE_MAX_ZONES), FL_ENOMEM.
 */
int fl_engine_create(struct fl_engine **out, const struct fl_plan *plan,
		     const struct fl_engine_config *cfg,
		     const struct fl_inv_device *inv, size_t n);

/* Accepts NULL. */
void fl_engine_free(struct fl_engine *e);

/*
 * Takes the inventory's (possibly moved) address and its new length
 * n >= the previous one; entries past the previous length are new devices.
 * On error nothing changes. Returns 0, FL_EINVAL (n shrank, a bad entry),
 * FL_ETOOBIG, FL_ENOMEM.
 */
int fl_engine_sync_inventory(struct fl_engine *e,
			     const struct fl_inv_device *inv, size_t n);

/* Sets *dev to the index of the (first) entry with this id. Returns 0 or
 * FL_ENOENT. */
int fl_engine_lookup(const struct fl_engine *e, const char *id, uint32_t *dev);

/*
 * Folds one event into the state. Stale, repeated and reordered device
 * reports are harmless (see the top comment); reports about a device that
 * was never offered are ignored. Returns 0 (also when the event changed
 * nothing), FL_EINVAL (unknown kind, bad fields, a time out of range),
 * FL_ENOENT (dev out of
 * range; approval of an unknown name), FL_ESTATE (approval of a stage not
 * awaiting one; pause, resume or cancel after the rollout ended). On error
 * nothing changes.
 */
int fl_engine_apply(struct fl_engine *e, const struct fl_event *ev);

/*
 * Runs the rollout at `now_s`: judges soaks and timeouts, checks gates,
 * starts stages, makes offers, rolls back. Writes at most `max` decisions
 * to out[0..*n), already applied to the state, and sets *next_wake_s to
 * the latest time by which step must be called again (now_s if the output
 * was full, FL_ENGINE_NEVER if only an event can change anything). Calling
 * earlier is always allowed. Returns 0, FL_EINVAL (NULL arguments, now
 * out of range),
 * FL_ENOMEM (a stage could not start; nothing of it was applied, the
 * decisions already written are valid).
 */
int fl_engine_step(struct fl_engine *e, int64_t now_s, struct fl_decision *out,
		   size_t max, size_t *n, int64_t *next_wake_s);

/* ---- read-only views ---------------------------------------------------- */

enum fl_rollout_state {
	FL_ROLLOUT_RUNNING = 0,
	FL_ROLLOUT_COMPLETE = 1, /* last stage passed; stragglers go on */
	FL_ROLLOUT_ROLLING_BACK = 2,
	FL_ROLLOUT_ROLLED_BACK = 3,
	FL_ROLLOUT_CANCELLED = 4,
};

enum fl_stage_state {
	FL_STAGE_PENDING = 0,
	FL_STAGE_AWAITING = 1, /* approval */
	FL_STAGE_RUNNING = 2,
	FL_STAGE_PASSED = 3,
	FL_STAGE_FAILED = 4,
};

enum fl_dev_status {
	FL_DEV_NONE = 0, /* not a member of any stage (yet) */
	FL_DEV_PENDING = 1,
	FL_DEV_HELD = 2,
	FL_DEV_UNREACHED = 3,
	FL_DEV_DEFERRED = 4,
	FL_DEV_IN_FLIGHT = 5,
	FL_DEV_SUCCEEDED = 6,
	FL_DEV_FAILED = 7,
	FL_DEV_SKIPPED = 8,
	FL_DEV_CANCELLED = 9,
	FL_DEV_NSTATUS = 10,
};

enum fl_dev_progress {
	FL_PROG_NONE = 0,
	FL_PROG_ACKED = 1,
	FL_PROG_DOWNLOADING = 2,
	FL_PROG_INSTALLED = 3,
	FL_PROG_ACTIVATED = 4,
	FL_PROG_COMMITTED = 5,
};

enum fl_rb_state {
	FL_RB_NONE = 0,
	FL_RB_SENT = 1,
	FL_RB_FAILED = 2,
	FL_RB_DONE = 3,
	FL_RB_UNREACHED = 4, /* views only: sent, no result, device offline */
};

struct fl_engine_status {
	uint8_t state; /* enum fl_rollout_state */
	uint8_t is_paused;
	uint16_t stage; /* current (last started or awaiting) stage, or
			   FL_ENGINE_NO_STAGE before the first */
	uint32_t n_devices, n_targets, n_members, n_unplaced;
	uint32_t n_offers; /* offer decisions so far */
	uint32_t n_rollback_sent, n_rollback_done, n_rollback_failed;
	uint32_t n_rollback_unreached; /* of those sent: no result, offline */
	int64_t now_s;		       /* the engine's clock */
};

struct fl_engine_stage {
	uint8_t state; /* enum fl_stage_state */
	uint8_t is_overridden;
	uint32_t members;
	uint32_t count[FL_DEV_NSTATUS]; /* members by enum fl_dev_status */
	uint32_t judged, failed;
	int64_t started_at_s; /* -1: not started */
};

struct fl_engine_device {
	uint8_t is_target;
	uint8_t not_target; /* enum fl_not_target */
	uint8_t is_online;
	uint8_t status;	     /* enum fl_dev_status */
	uint8_t progress;    /* enum fl_dev_progress */
	uint8_t rollback;    /* enum fl_rb_state */
	uint8_t fail_reason; /* enum fl_fail_reason when failed */
	uint8_t was_offered;
	uint16_t stage; /* FL_ENGINE_NO_STAGE when not a member */
	int64_t offered_at_s, committed_at_s; /* -1: never */
};

struct fl_engine_approval {
	uint8_t is_hold; /* 0: stage, 1: hold */
	uint16_t index;	 /* in plan->stages or plan->holds */
	int64_t at_s;
	char who[FL_ENGINE_WHO_MAX];
};

void fl_engine_status(const struct fl_engine *e, struct fl_engine_status *out);

/* Returns 0 or FL_ENOENT (no such stage). */
int fl_engine_stage(const struct fl_engine *e, unsigned stage,
		    struct fl_engine_stage *out);

/* Returns 0 or FL_ENOENT (dev out of range). */
int fl_engine_device(const struct fl_engine *e, uint32_t dev,
		     struct fl_engine_device *out);

/* The zone the plan's "tz: device" windows use for this device (its tz,
 * its "tz" label, or "UTC"); never NULL for a known dev, NULL otherwise.
 * Borrowed from the engine or the inventory. */
const char *fl_engine_device_zone(const struct fl_engine *e, uint32_t dev);

/* The approvals so far, in the order given (borrowed). */
const struct fl_engine_approval *fl_engine_approvals(const struct fl_engine *e,
						     unsigned *n);

/* Bytes the engine holds now and at most so far (its own allocations). */
void fl_engine_memory(const struct fl_engine *e, size_t *now_bytes,
		      size_t *peak_bytes);

/* Short English names, for logs; never NULL. */
const char *fl_decision_kind_name(unsigned kind);
const char *fl_why_name(unsigned why);

#endif
