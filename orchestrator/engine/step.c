/*
 * step.c -- one run of the engine at a given time: judge, gate, advance,
 * offer, roll back.
 *
 * Method: a step runs rounds of fixed phases, each of which turns state
 * into decisions one at a time, applying each decision to the state in the
 * same breath as it is written out:
 *   1. devices in flight: soak over -> succeeded; health.timeout -> failed;
 *   2. gates of every started stage: early failure, completion and pass;
 *   3. operator or gate rollback, cancel; pause and resume notes;
 *   4. remedies owed to single failed devices (cancel, rollback);
 *   5. rolling back or cancelled: a rollback to every device that
 *      received the new version, a cancel to every other live offer, then
 *      "rolled back" once no device owes its result, a device that is
 *      offline being waited for until health.rollback_timeout after the
 *      rollback started (an online one until it answers);
 *   6. running and not paused: start the next stage (or await its
 *      approval, or complete) as long as the current one passed;
 *   7. running and not paused: walk the devices waiting for an offer, in
 *      stage and selection order, past holds, windows, rate and presence,
 *      offering to those that may have one now; then "wait" notes when
 *      something new blocks offers.
 * Rounds repeat until one decides nothing and changes no status, so a
 * step leaves the engine at rest for its `now` (a later phase can enable
 * an earlier one: the offer scan may find the last pending member held,
 * which completes its stage). When the output is full, the phase stops
 * where it is, the engine remembers the phase, and the next step resumes
 * there before running whole rounds again; phases are idempotent at a
 * given time, so cutting a step's output into pieces of any size gives the
 * same decisions in the same order. Otherwise next_wake is the earliest
 * of: a soak's end, a timeout, a window's or hold's change for a blocked
 * device, a rate slot freeing up, a deferred device's retry time, the
 * rollback's deadline while a device owing its result is offline.
 */
#include <string.h>

#include "engine_priv.h"
#include "fl/err.h"

#define FULL 1 /* internal: the output is full */

struct out {
	struct fl_decision *d;
	size_t max, n;
	int64_t now, wake;
};

struct obs {
	int seen;
	uint16_t stage;
	uint32_t ref;
	int64_t until;
};

static int emit(struct out *o, unsigned kind, unsigned why, unsigned stage,
		uint32_t dev, uint32_t ref, int64_t until)
{
	struct fl_decision *x;

	if (o->n >= o->max)
		return 0;
	x = &o->d[o->n++];
	memset(x, 0, sizeof(*x));
	x->kind = (uint8_t)kind;
	x->why = (uint8_t)why;
	x->stage = (uint16_t)stage;
	x->dev = dev;
	x->ref = ref;
	x->at_s = o->now;
	x->until_s = until;
	return 1;
}

static void wake_at(struct out *o, int64_t t)
{
	if (t < o->wake)
		o->wake = t;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	return a + b;
}

static int rolling_back(const struct fl_engine *e)
{
	return e->state == FL_ROLLOUT_ROLLING_BACK ||
	       e->state == FL_ROLLOUT_ROLLED_BACK;
}

static int running(const struct fl_engine *e)
{
	return e->state == FL_ROLLOUT_RUNNING ||
	       e->state == FL_ROLLOUT_COMPLETE;
}

/* ---- rate ------------------------------------------------------------- */

static uint64_t rate_budget(struct fl_engine *e, unsigned k, int64_t now,
			    int64_t *free_at)
{
	const struct fl_plan_stage *ps = &e->plan->stages[k];
	struct eng_stage *st = &e->stages[k];

	if (!ps->has_rate)
		return UINT64_MAX;
	while (st->ring_len > 0 &&
	       st->ring[st->ring_head].t <= now - (int64_t)ps->rate_period_s) {
		st->ring_sum -= st->ring[st->ring_head].count;
		st->ring_head = (st->ring_head + 1) % st->ring_cap;
		st->ring_len--;
	}
	if (st->ring_sum < ps->rate_count)
		return ps->rate_count - st->ring_sum;
	*free_at = st->ring[st->ring_head].t + (int64_t)ps->rate_period_s;
	return 0;
}

static void rate_add(struct fl_engine *e, unsigned k, int64_t now)
{
	struct eng_stage *st = &e->stages[k];
	uint32_t last;

	if (!e->plan->stages[k].has_rate)
		return;
	last = (st->ring_head + st->ring_len + st->ring_cap - 1) % st->ring_cap;
	if (st->ring_len > 0 && st->ring[last].t == now) {
		st->ring[last].count++;
	} else {
		/* room: entries are distinct seconds of one period, and each
		 * holds at least one of at most rate_count offers */
		last = (st->ring_head + st->ring_len) % st->ring_cap;
		st->ring[last].t = now;
		st->ring[last].count = 1;
		st->ring_len++;
	}
	st->ring_sum++;
}

/* ---- 1. devices in flight --------------------------------------------- */

static int judge_flight(struct fl_engine *e, struct out *o)
{
	struct eng_list *l = &e->inflight;
	int64_t timeout = e->plan->health.timeout_s;
	uint32_t r, w = 0;
	int rc = 0;

	for (r = 0; r < l->n; r++) {
		uint32_t dev = l->v[r];
		struct eng_dev *d = &e->dev[dev];

		if (r + ENG_AHEAD < l->n)
			ENG_PREFETCH(&e->dev[l->v[r + ENG_AHEAD]]);
		if (d->status != FL_DEV_IN_FLIGHT) {
			d->flags &= (uint16_t)~DF_IN_FLIGHT;
			continue;
		}
		if (d->t_commit != ENG_UNSET) {
			int64_t end = add_sat(d->t_commit, engine__soak(e, d));

			if (o->now >= end) {
				if (!emit(o, FL_DEC_DEVICE_SUCCEEDED, 0,
					  d->stage, dev, 0, 0)) {
					rc = FULL;
					break;
				}
				engine__set_status(e, dev, FL_DEV_SUCCEEDED);
				d->flags &= (uint16_t) ~(DF_IN_FLIGHT |
							 DF_OFFER_LIVE);
				continue;
			}
			wake_at(o, end);
		} else if (timeout > 0) {
			int64_t dl = add_sat(d->t_offer, timeout);

			if (o->now >= dl) {
				if (!emit(o, FL_DEC_DEVICE_FAILED,
					  FL_WHY_TIMEOUT, d->stage, dev, 0,
					  0)) {
					rc = FULL;
					break;
				}
				engine__set_status(e, dev, FL_DEV_FAILED);
				d->reason = FL_FAIL_TIMEOUT;
				d->flags &= (uint16_t)~DF_IN_FLIGHT;
				engine__owe_remedy(e, dev);
				continue;
			}
			wake_at(o, dl);
		}
		l->v[w++] = dev;
	}
	for (; r < l->n; r++)
		l->v[w++] = l->v[r];
	l->n = w;
	return rc;
}

/* ---- 2. gates ---------------------------------------------------------- */

static uint64_t max_rate_ppm(const struct fl_engine *e)
{
	const struct fl_plan_health *h = &e->plan->health;

	return h->has_max_failure_rate ? h->max_failure_rate_ppm : 0;
}

static int rate_over(const struct fl_engine *e, uint64_t failed,
		     uint64_t judged)
{
	return e->rate_rule && failed > 0 &&
	       failed * FL_PPM > max_rate_ppm(e) * judged;
}

/* Why stage k fails now, FL_WHY_NONE if it does not. */
static unsigned gate_failure(const struct fl_engine *e, unsigned k,
			     int complete)
{
	const struct fl_plan_health *h = &e->plan->health;
	const struct eng_stage *st = &e->stages[k];
	uint64_t f = st->cnt[FL_DEV_FAILED];
	uint64_t j = f + st->cnt[FL_DEV_SUCCEEDED];
	uint64_t min_eff = 0;

	if (e->count_rule && f > h->max_failures)
		return FL_WHY_MAX_FAILURES;
	if (h->has_min_devices)
		min_eff = h->min_devices < st->members ? h->min_devices
						       : st->members;
	if (rate_over(e, f, j) && (j >= min_eff || complete))
		return FL_WHY_FAILURE_RATE;
	return FL_WHY_NONE;
}

static int is_complete(const struct eng_stage *st)
{
	uint32_t judged = st->cnt[FL_DEV_FAILED] + st->cnt[FL_DEV_SUCCEEDED];

	return st->cnt[FL_DEV_PENDING] == 0 && st->cnt[FL_DEV_IN_FLIGHT] == 0 &&
	       (st->members == 0 || judged > 0);
}

static void on_failure(struct fl_engine *e, unsigned k)
{
	if (e->plan->health.on_failure == FL_ON_FAILURE_PAUSE) {
		e->is_paused = 1;
		e->pause_by_gate = 1;
		return;
	}
	if (!e->rollback_req) {
		e->rollback_req = 1;
		e->rb_why = FL_WHY_GATE;
		e->rb_stage = (uint16_t)k;
	}
}

static int gate_one(struct fl_engine *e, struct out *o, unsigned k)
{
	struct eng_stage *st = &e->stages[k];
	int complete;
	unsigned why;

	if (st->state != FL_STAGE_RUNNING && st->state != FL_STAGE_PASSED)
		return 0;
	complete = st->state == FL_STAGE_RUNNING && is_complete(st);
	if (!st->is_overridden) {
		why = gate_failure(e, k, complete);
		if (why != FL_WHY_NONE) {
			if (!emit(o, FL_DEC_STAGE_FAILED, why, k,
				  FL_ENGINE_NO_DEV, 0, 0))
				return FULL;
			st->state = FL_STAGE_FAILED;
			on_failure(e, k);
			return 0;
		}
	}
	if (complete) {
		if (!emit(o, FL_DEC_STAGE_PASSED,
			  st->is_overridden ? FL_WHY_OVERRIDDEN : 0, k,
			  FL_ENGINE_NO_DEV, st->members, 0))
			return FULL;
		st->state = FL_STAGE_PASSED;
		st->has_passed = 1;
	}
	return 0;
}

static int gates(struct fl_engine *e, struct out *o)
{
	for (int k = 0; k <= e->cur; k++) {
		if (e->rollback_req)
			return 0;
		if (gate_one(e, o, (unsigned)k) == FULL)
			return FULL;
	}
	return 0;
}

/* ---- 3. rollback, cancel, pause ----------------------------------------- */

/* Every member without a verdict is cancelled; waiting lists empty. */
static void cancel_unjudged(struct fl_engine *e)
{
	struct eng_list *lists[2] = {&e->pending, &e->inflight};

	for (int i = 0; i < 2; i++) {
		for (uint32_t r = 0; r < lists[i]->n; r++) {
			uint32_t dev = lists[i]->v[r];
			unsigned s = e->dev[dev].status;

			e->dev[dev].flags &=
				(uint16_t) ~(DF_IN_PENDING | DF_IN_FLIGHT);
			if (s == FL_DEV_PENDING || s == FL_DEV_HELD ||
			    s == FL_DEV_UNREACHED || s == FL_DEV_DEFERRED ||
			    s == FL_DEV_IN_FLIGHT)
				engine__set_status(e, dev, FL_DEV_CANCELLED);
		}
		lists[i]->n = 0;
	}
}

static int requests(struct fl_engine *e, struct out *o)
{
	if (e->rollback_req && !rolling_back(e)) {
		if (!emit(o, FL_DEC_ROLLBACK_STARTED, e->rb_why, e->rb_stage,
			  FL_ENGINE_NO_DEV, 0, 0))
			return FULL;
		e->state = FL_ROLLOUT_ROLLING_BACK;
		e->rb_deadline =
			add_sat(o->now, e->plan->health.rollback_timeout_s);
		e->rollback_req = 0;
		e->cancel_req = 0;
		e->rb_dirty = 1;
		cancel_unjudged(e);
	} else if (e->cancel_req && running(e)) {
		if (!emit(o, FL_DEC_CANCELLED, FL_WHY_OPERATOR,
			  FL_ENGINE_NO_STAGE, FL_ENGINE_NO_DEV, 0, 0))
			return FULL;
		e->state = FL_ROLLOUT_CANCELLED;
		e->cancel_req = 0;
		e->rb_dirty = 1;
		cancel_unjudged(e);
	}
	e->rollback_req = 0;
	e->cancel_req = 0;
	if (e->is_paused != e->paused_sent) {
		if (!emit(o, e->is_paused ? FL_DEC_PAUSED : FL_DEC_RESUMED,
			  e->is_paused ? (e->pause_by_gate ? FL_WHY_GATE
							   : FL_WHY_OPERATOR)
				       : FL_WHY_OPERATOR,
			  FL_ENGINE_NO_STAGE, FL_ENGINE_NO_DEV, 0, 0))
			return FULL;
		e->paused_sent = e->is_paused;
	}
	return 0;
}

/* ---- 4./5. remedies and rollback ------------------------------------------
 */

static int send_rollback(struct fl_engine *e, struct out *o, uint32_t dev)
{
	struct eng_dev *d = &e->dev[dev];

	if (!emit(o, FL_DEC_ROLLBACK_DEVICE, 0,
		  d->stage == ENG_NO_STAGE8 ? FL_ENGINE_NO_STAGE : d->stage,
		  dev, 0, 0))
		return FULL;
	if (d->rb == FL_RB_NONE) {
		int was = engine__rb_unreached(d);

		d->rb = FL_RB_SENT;
		e->nrb_sent++;
		engine__rb_recount(e, d, was);
	}
	d->flags &= (uint16_t)~DF_RB_RESEND;
	return 0;
}

static int send_cancel(struct fl_engine *e, struct out *o, uint32_t dev)
{
	struct eng_dev *d = &e->dev[dev];

	if (!emit(o, FL_DEC_CANCEL, 0,
		  d->stage == ENG_NO_STAGE8 ? FL_ENGINE_NO_STAGE : d->stage,
		  dev, 0, 0))
		return FULL;
	d->flags |= DF_CANCEL_SENT;
	d->flags &= (uint16_t)~DF_OFFER_LIVE;
	return 0;
}

static int cancel_owed(const struct eng_dev *d)
{
	return (d->flags & DF_OFFER_LIVE) && !(d->flags & DF_CANCEL_SENT) &&
	       d->phase < FL_PROG_INSTALLED;
}

/* What one device is owed; 0 when nothing (any more), else FULL or sent. */
static int remedy(struct fl_engine *e, struct out *o, uint32_t dev,
		  int fleet_rollback, int *sent)
{
	struct eng_dev *d = &e->dev[dev];
	int may_rb = fleet_rollback || d->status == FL_DEV_FAILED;

	*sent = 0;
	if (d->rb == FL_RB_SENT && (d->flags & DF_RB_RESEND)) {
		*sent = 1;
		return send_rollback(e, o, dev);
	}
	d->flags &= (uint16_t)~DF_RB_RESEND;
	if (may_rb && engine__received_new(d) && d->rb == FL_RB_NONE) {
		*sent = 1;
		return send_rollback(e, o, dev);
	}
	if ((fleet_rollback || e->state == FL_ROLLOUT_CANCELLED ||
	     d->status == FL_DEV_FAILED) &&
	    cancel_owed(d)) {
		*sent = 1;
		return send_cancel(e, o, dev);
	}
	return 0;
}

static int remedies(struct fl_engine *e, struct out *o)
{
	struct eng_list *l = &e->rbq;
	uint32_t r, w = 0;
	int rc = 0, sent;

	for (r = 0; r < l->n; r++) {
		uint32_t dev = l->v[r];

		if (rolling_back(e)) {
			/* the fleet scan owns every device now */
			e->dev[dev].flags &= (uint16_t)~DF_IN_RBQ;
			continue;
		}
		/* at most two decisions (cancel, rollback) per device */
		do {
			rc = remedy(e, o, dev, 0, &sent);
		} while (rc == 0 && sent);
		if (rc == FULL)
			break;
		e->dev[dev].flags &= (uint16_t)~DF_IN_RBQ;
	}
	for (; r < l->n; r++)
		l->v[w++] = l->v[r];
	l->n = w;
	return rc;
}

static int fleet_scan(struct fl_engine *e, struct out *o)
{
	uint32_t waiting = 0;
	int sent, rc;

	/* Devices away with a rollback unanswered are waited for until the
	 * deadline; then once more a scan, which may end the rollback. */
	if (e->state == FL_ROLLOUT_ROLLING_BACK && !e->rb_timed_out) {
		if (o->now >= e->rb_deadline) {
			e->rb_timed_out = 1;
			e->rb_dirty = 1;
		} else if (e->nrb_unreached > 0) {
			wake_at(o, e->rb_deadline);
		}
	}
	if (!e->rb_dirty)
		return 0;
	for (uint32_t r = 0; r < e->touched.n; r++) {
		uint32_t dev = e->touched.v[r];
		const struct eng_dev *d = &e->dev[dev];

		if (r + ENG_AHEAD < e->touched.n)
			ENG_PREFETCH(&e->dev[e->touched.v[r + ENG_AHEAD]]);
		do {
			rc = remedy(e, o, dev, rolling_back(e), &sent);
		} while (rc == 0 && sent);
		if (rc == FULL)
			return FULL; /* rb_dirty stays: rescan next step */
		if (d->rb == FL_RB_SENT &&
		    ((d->flags & DF_ONLINE) || !e->rb_timed_out))
			waiting++;
	}
	if (e->state == FL_ROLLOUT_ROLLING_BACK && waiting == 0) {
		if (!emit(o, FL_DEC_ROLLED_BACK,
			  e->nrb_unreached > 0 ? FL_WHY_TIMEOUT : 0,
			  FL_ENGINE_NO_STAGE, FL_ENGINE_NO_DEV, e->nrb_done, 0))
			return FULL;
		e->state = FL_ROLLOUT_ROLLED_BACK;
	}
	e->rb_dirty = 0;
	return 0;
}

/* ---- 6. stages and offers -------------------------------------------------
 */

static int notes(struct fl_engine *e, struct out *o)
{
	for (int k = 0; k <= e->cur; k++) {
		struct eng_stage *st = &e->stages[k];

		while (st->note_next < st->note_n) {
			uint32_t i = st->note_next;

			if (!emit(o, FL_DEC_STAGE_SKIPPED_DEVICE,
				  st->note_why[i], (unsigned)k,
				  FL_ENGINE_NO_DEV, st->note_dev[i], 0))
				return FULL;
			st->note_next++;
		}
	}
	return 0;
}

/* Starts the next stage (or awaits its approval, or completes) as long
 * as the current one has passed; an empty stage passes at once. */
static int advance(struct fl_engine *e, struct out *o)
{
	const struct fl_plan *p = e->plan;
	int rc;

	for (unsigned guard = 0; guard <= p->nstages + 1; guard++) {
		struct eng_stage *st;
		int k;

		rc = notes(e, o);
		if (rc != 0)
			return rc;
		if (e->cur >= 0 &&
		    e->stages[e->cur].state == FL_STAGE_RUNNING) {
			rc = gate_one(e, o, (unsigned)e->cur);
			if (rc != 0 || e->rollback_req || e->is_paused)
				return rc;
		}
		if (e->cur < 0)
			k = 0;
		else if (e->stages[e->cur].state == FL_STAGE_PASSED)
			k = e->cur + 1;
		else if (e->stages[e->cur].state == FL_STAGE_AWAITING)
			k = e->cur;
		else
			return 0;
		if (k == (int)p->nstages) {
			if (e->state == FL_ROLLOUT_RUNNING) {
				if (!emit(o, FL_DEC_COMPLETE, 0,
					  FL_ENGINE_NO_STAGE, FL_ENGINE_NO_DEV,
					  e->nmembers, 0))
					return FULL;
				e->state = FL_ROLLOUT_COMPLETE;
			}
			return 0;
		}
		st = &e->stages[k];
		if (p->stages[k].approval_required && !st->is_approved) {
			if (st->state != FL_STAGE_AWAITING) {
				if (!emit(o, FL_DEC_AWAIT_APPROVAL, 0,
					  (unsigned)k, FL_ENGINE_NO_DEV, 0, 0))
					return FULL;
				st->state = FL_STAGE_AWAITING;
				e->cur = k;
			}
			return 0;
		}
		if (o->n >= o->max)
			return FULL;
		rc = select__start_stage(e, (unsigned)k);
		if (rc != 0)
			return rc;
		st->state = FL_STAGE_RUNNING;
		st->started_at = o->now;
		e->cur = k;
		emit(o, FL_DEC_STAGE_STARTED, 0, (unsigned)k, FL_ENGINE_NO_DEV,
		     st->members, 0);
	}
	return 0;
}

/* The first active hold that blocks dev at now, -1 if none. */
static int blocking_hold(const struct fl_engine *e, const struct eng_dev *d,
			 uint32_t fleet_active, uint32_t scoped_active)
{
	uint32_t m = fleet_active | (d->holdmask & scoped_active);
	int h = 0;

	if (m == 0)
		return -1;
	while (!(m >> h & 1))
		h++;
	return h;
}

static void observe(struct obs *ob, unsigned stage, uint32_t ref, int64_t until)
{
	if (ob->seen)
		return;
	ob->seen = 1;
	ob->stage = (uint16_t)stage;
	ob->ref = ref;
	ob->until = until;
}

static int offer_one(struct fl_engine *e, struct out *o, uint32_t dev)
{
	struct eng_dev *d = &e->dev[dev];

	if (!emit(o, FL_DEC_OFFER, 0, d->stage, dev, 0, 0))
		return FULL;
	d->flags |= DF_OFFERED | DF_OFFER_LIVE;
	d->flags &= (uint16_t) ~(DF_CANCEL_SENT | DF_IN_PENDING);
	d->t_offer = o->now;
	engine__set_status(e, dev, FL_DEV_IN_FLIGHT);
	engine__list_push(&e->inflight, e, dev, DF_IN_FLIGHT);
	engine__list_push(&e->touched, e, dev, DF_TOUCHED);
	rate_add(e, d->stage, o->now);
	e->noffers++;
	return 0;
}

#define KEEP 2 /* consider(): the device stays in the waiting list */

/* Returns KEEP, 0 when the device left the list, or FULL. */
static int consider(struct fl_engine *e, struct out *o, uint32_t dev,
		    uint32_t fleet_active, uint32_t scoped_active,
		    struct obs ob[4])
{
	const struct fl_plan *p = e->plan;
	struct eng_dev *d = &e->dev[dev];
	unsigned st = d->status;
	int hold, in;
	int64_t until, free_at = 0;

	if (st != FL_DEV_PENDING && st != FL_DEV_HELD &&
	    st != FL_DEV_UNREACHED && st != FL_DEV_DEFERRED)
		return 0;
	if (st == FL_DEV_UNREACHED && !(d->flags & DF_ONLINE))
		return KEEP; /* until it comes back */
	if (st == FL_DEV_DEFERRED && o->now < d->t_retry) {
		wake_at(o, d->t_retry);
		return KEEP;
	}
	hold = blocking_hold(e, d, fleet_active, scoped_active);
	if (hold >= 0) {
		int64_t end = window__hold_end(e, (unsigned)hold);

		if (st != FL_DEV_UNREACHED)
			engine__set_status(e, dev, FL_DEV_HELD);
		wake_at(o, end);
		observe(&ob[FL_WHY_HOLD], d->stage, (uint32_t)hold, end);
		return KEEP;
	}
	if (st == FL_DEV_HELD)
		engine__set_status(e, dev, FL_DEV_PENDING);
	if (p->device.activate == FL_PLAN_ACTIVATE_NOW && p->nwindows > 0) {
		window__state(e, d->zone, o->now, &in, &until);
		if (!in) {
			wake_at(o, until);
			observe(&ob[FL_WHY_WINDOW], d->stage, 0, until);
			return KEEP;
		}
	}
	if (rate_budget(e, d->stage, o->now, &free_at) == 0) {
		wake_at(o, free_at);
		observe(&ob[FL_WHY_RATE], d->stage, 0, free_at);
		return KEEP;
	}
	if (!(d->flags & DF_ONLINE)) {
		if (st == FL_DEV_UNREACHED)
			return KEEP;
		if (!emit(o, FL_DEC_DEVICE_UNREACHED, 0, d->stage, dev, 0, 0))
			return FULL;
		engine__set_status(e, dev, FL_DEV_UNREACHED);
		return KEEP;
	}
	if (offer_one(e, o, dev) == FULL)
		return FULL;
	return 0;
}

static int offers(struct fl_engine *e, struct out *o, struct obs ob[4])
{
	const struct fl_plan *p = e->plan;
	struct eng_list *l = &e->pending;
	uint32_t fleet_active = 0, scoped_active = 0, r, w = 0;
	int rc = 0;

	for (unsigned h = 0; h < p->nholds; h++) {
		if (!window__hold_active(e, h, o->now))
			continue;
		if (e->scoped_holds >> h & 1)
			scoped_active |= 1u << h;
		else
			fleet_active |= 1u << h;
	}
	for (r = 0; r < l->n; r++) {
		uint32_t dev = l->v[r];

		if (r + ENG_AHEAD < l->n)
			ENG_PREFETCH(&e->dev[l->v[r + ENG_AHEAD]]);
		rc = consider(e, o, dev, fleet_active, scoped_active, ob);
		if (rc == FULL)
			break;
		if (rc == KEEP) {
			l->v[w++] = dev;
			rc = 0;
		} else {
			e->dev[dev].flags &= (uint16_t)~DF_IN_PENDING;
		}
	}
	for (; r < l->n; r++)
		l->v[w++] = l->v[r];
	l->n = w;
	return rc;
}

/* ---- 7. wait notes ----------------------------------------------------------
 */

static int waits(struct fl_engine *e, struct out *o, struct obs ob[4])
{
	for (unsigned why = FL_WHY_HOLD; why <= FL_WHY_RATE; why++) {
		if (!ob[why].seen) {
			e->wait_until[why] = ENG_UNSET;
			continue;
		}
		if (e->wait_until[why] == ob[why].until &&
		    e->wait_ref[why] == ob[why].ref)
			continue;
		if (!emit(o, FL_DEC_WAIT, why, ob[why].stage, FL_ENGINE_NO_DEV,
			  ob[why].ref, ob[why].until))
			return FULL;
		e->wait_until[why] = ob[why].until;
		e->wait_ref[why] = ob[why].ref;
	}
	return 0;
}

enum phase {
	PH_FLIGHT = 0,
	PH_GATES,
	PH_REQUESTS,
	PH_REMEDIES,
	PH_FLEET,
	PH_ADVANCE,
	PH_OFFERS, /* and the wait notes: they need the scan's findings */
	PH_END,
};

/* One round of phases from *phase on; on FULL, *phase is where it
 * stopped. */
static int run(struct fl_engine *e, struct out *o, int *phase)
{
	struct obs ob[4];
	int rc = 0;

	for (; *phase < PH_END && rc == 0; ++*phase) {
		int offering = running(e) && !e->is_paused &&
			       !e->rollback_req && !e->cancel_req;

		switch (*phase) {
		case PH_FLIGHT: rc = judge_flight(e, o); break;
		case PH_GATES:
			if (running(e) && !e->rollback_req && !e->cancel_req)
				rc = gates(e, o);
			break;
		case PH_REQUESTS: rc = requests(e, o); break;
		case PH_REMEDIES: rc = remedies(e, o); break;
		case PH_FLEET:
			if (!running(e))
				rc = fleet_scan(e, o);
			break;
		case PH_ADVANCE:
			if (offering)
				rc = advance(e, o);
			break;
		default:
			if (!offering)
				break;
			memset(ob, 0, sizeof(ob));
			rc = offers(e, o, ob);
			if (rc == 0)
				rc = waits(e, o, ob);
			break;
		}
	}
	if (rc != 0)
		--*phase; /* the loop stepped past the phase that stopped */
	return rc;
}

int fl_engine_step(struct fl_engine *e, int64_t now_s, struct fl_decision *out,
		   size_t max, size_t *n, int64_t *next_wake_s)
{
	struct out o;
	int rc = 0, phase, partial;

	if (e == NULL || n == NULL || next_wake_s == NULL ||
	    (out == NULL && max > 0) || !engine__time_ok(now_s))
		return FL_EINVAL;
	if (now_s < e->now)
		now_s = e->now;
	e->now = now_s;
	memset(&o, 0, sizeof(o));
	o.d = out;
	o.max = max;
	o.now = now_s;
	/* Rounds of all phases to a fixed point: a later phase can change
	 * what an earlier one decides (an offer scan finds the last pending
	 * member held, which completes its stage), and the caller must not
	 * have to call again at the same time. Each round either decides
	 * something or changes a status; at a fixed time that ends after a
	 * few rounds. A step that stopped for room resumes at the phase
	 * where it stopped, then runs whole rounds: so cutting a step's
	 * output into pieces gives the same decisions in the same order. */
	phase = e->resume_phase;
	partial = phase != 0;
	e->resume_phase = 0;
	for (int round = 0; round < 64; round++) {
		size_t before = o.n;
		uint64_t changes = e->changes;

		o.wake = ENG_NEVER;
		rc = run(e, &o, &phase);
		if (rc != 0) {
			e->resume_phase = (uint8_t)phase;
			break;
		}
		phase = 0;
		if (!partial && o.n == before && e->changes == changes)
			break;
		partial = 0;
	}
	*n = o.n;
	if (rc == FULL || rc < 0) {
		*next_wake_s = now_s;
		return rc < 0 ? rc : 0;
	}
	*next_wake_s = o.wake <= now_s ? now_s + 1 : o.wake;
	if (o.wake == ENG_NEVER)
		*next_wake_s = ENG_NEVER;
	return 0;
}
