/*
 * apply.c -- folds events into the engine's state.
 *
 * MQTT delivers reports late, twice, or out of order, and a restarted
 * server replays them; so every rule here is order-insensitive where it
 * can be and explicit where it cannot:
 *   - progress is a maximum (acked < downloading < ... < committed); the
 *     soak starts at the first commit report's time;
 *   - a verdict (succeeded, failed, skipped, cancelled) is final; the first
 *     one counts, later ones are ignored;
 *   - a rollback result only moves up (sent < failed < done), also
 *     after the rollout is rolled back (a late result is still its
 *     device's);
 *   - the two reports that move a device back and forth between "in
 *     flight" and "deferred" are ordered by their own time, and one older
 *     than the last such change is ignored; presence likewise.
 * Reports about devices that were never offered are ignored. Operator
 * actions that need decisions (rollback, cancel) are recorded here and
 * carried out by the next step, so that every decision comes from step.
 */
#include <math.h>
#include <string.h>

#include "engine_priv.h"
#include "fl/err.h"

static int is_final(unsigned status)
{
	return status == FL_DEV_SUCCEEDED || status == FL_DEV_FAILED ||
	       status == FL_DEV_SKIPPED || status == FL_DEV_CANCELLED;
}

static int is_waiting(unsigned status)
{
	return status == FL_DEV_PENDING || status == FL_DEV_HELD ||
	       status == FL_DEV_UNREACHED || status == FL_DEV_DEFERRED;
}

static void to_flight(struct fl_engine *e, uint32_t dev, int64_t at)
{
	struct eng_dev *d = &e->dev[dev];

	engine__set_status(e, dev, FL_DEV_IN_FLIGHT);
	if (d->t_offer == ENG_UNSET || at > d->t_offer)
		d->t_offer = at; /* it is working again: timeout from now */
	engine__list_push(&e->inflight, e, dev, DF_IN_FLIGHT);
}

static void progress(struct fl_engine *e, uint32_t dev, unsigned phase,
		     int64_t at)
{
	struct eng_dev *d = &e->dev[dev];
	unsigned old = d->phase;

	if (phase > old) {
		d->phase = (uint8_t)phase;
		if (old < FL_PROG_INSTALLED && phase >= FL_PROG_INSTALLED) {
			e->rb_dirty = 1;
			engine__owe_remedy(e, dev);
		}
		/* With activate: window the device waits for a window to
		 * reboot; that wait is not counted against health.timeout. */
		if (phase == FL_PROG_INSTALLED &&
		    e->plan->device.activate == FL_PLAN_ACTIVATE_WINDOW &&
		    e->plan->nwindows > 0 && d->status == FL_DEV_IN_FLIGHT) {
			int64_t open = window__open_at_or_after(e, d->zone, at);

			if (open != ENG_NEVER && open > d->t_offer)
				d->t_offer = open;
		}
	}
	if (phase == FL_PROG_COMMITTED && d->t_commit == ENG_UNSET)
		d->t_commit = at;
	if (d->status == FL_DEV_DEFERRED) {
		if (d->t_report != ENG_UNSET && at < d->t_report)
			return; /* older than its "retry later" */
		d->t_report = at;
		to_flight(e, dev, at);
	} else if (is_waiting(d->status)) {
		to_flight(e, dev, at);
	}
}

static void fail(struct fl_engine *e, uint32_t dev, unsigned reason,
		 int by_device)
{
	struct eng_dev *d = &e->dev[dev];

	if (is_final(d->status) || d->stage == ENG_NO_STAGE8)
		return;
	engine__set_status(e, dev, FL_DEV_FAILED);
	d->reason = (uint8_t)reason;
	if (by_device)
		d->flags &= (uint16_t)~DF_OFFER_LIVE; /* the agent stopped */
	engine__owe_remedy(e, dev);
}

static int metric_breached(const struct fl_plan_health *h,
			   const struct fl_metric_value *m)
{
	for (unsigned i = 0; i < h->nmetrics; i++) {
		const struct fl_plan_metric *r = &h->metrics[i];

		if (r->name == NULL || strcmp(r->name, m->name) != 0)
			continue;
		if (!isfinite(m->value))
			return 1;
		if ((r->has_min && m->value < r->min) ||
		    (r->has_max && m->value > r->max))
			return 1;
	}
	return 0;
}

static void health(struct fl_engine *e, uint32_t dev, const struct fl_event *ev)
{
	struct eng_dev *d = &e->dev[dev];

	if (d->status != FL_DEV_IN_FLIGHT || d->phase < FL_PROG_ACTIVATED)
		return;
	if (d->t_commit != ENG_UNSET &&
	    ev->at_s >= d->t_commit + engine__soak(e, d))
		return; /* the soak was over by then */
	for (unsigned i = 0; i < ev->nmetrics; i++) {
		if (metric_breached(&e->plan->health, &ev->metrics[i])) {
			fail(e, dev, FL_FAIL_METRIC, 0);
			return;
		}
	}
}

static void rollback_result(struct fl_engine *e, uint32_t dev, unsigned rb)
{
	struct eng_dev *d = &e->dev[dev];
	int was = engine__rb_unreached(d);

	if (rb <= d->rb)
		return;
	if (d->rb == FL_RB_FAILED)
		e->nrb_failed--;
	if (rb == FL_RB_DONE)
		e->nrb_done++;
	else
		e->nrb_failed++;
	d->rb = (uint8_t)rb;
	d->flags &= (uint16_t)~DF_RB_RESEND;
	engine__rb_recount(e, d, was);
	e->rb_dirty = 1;
}

static void presence(struct fl_engine *e, uint32_t dev, int online, int64_t at)
{
	struct eng_dev *d = &e->dev[dev];
	int was = engine__rb_unreached(d);

	if (d->t_presence != ENG_UNSET && at < d->t_presence)
		return;
	d->t_presence = at;
	e->rb_dirty = 1;
	if (online) {
		d->flags |= DF_ONLINE;
		engine__rb_recount(e, d, was);
		if (d->status == FL_DEV_UNREACHED) {
			engine__set_status(e, dev, FL_DEV_PENDING);
			engine__list_push(&e->pending, e, dev, DF_IN_PENDING);
		}
		if (d->rb == FL_RB_SENT) {
			d->flags |= DF_RB_RESEND;
			engine__list_push(&e->rbq, e, dev, DF_IN_RBQ);
		}
		return;
	}
	d->flags &= (uint16_t)~DF_ONLINE;
	engine__rb_recount(e, d, was);
	if (d->status == FL_DEV_IN_FLIGHT && d->phase == FL_PROG_NONE) {
		/* offline before acknowledging: unreached, offer outstanding,
		 * offered again when it returns */
		engine__set_status(e, dev, FL_DEV_UNREACHED);
		engine__list_push(&e->pending, e, dev, DF_IN_PENDING);
	}
}

static int device_event(struct fl_engine *e, const struct fl_event *ev)
{
	struct eng_dev *d;
	uint32_t dev = ev->dev;

	if (dev >= e->ndev)
		return FL_ENOENT;
	if (ev->kind == FL_EV_FAILED && ev->reason > FL_FAIL_NO_KEY)
		return FL_EINVAL;
	if (ev->kind == FL_EV_HEALTH &&
	    (ev->nmetrics > FL_ENGINE_MAX_METRICS ||
	     (ev->nmetrics > 0 && ev->metrics == NULL)))
		return FL_EINVAL;
	for (unsigned i = 0; ev->kind == FL_EV_HEALTH && i < ev->nmetrics; i++)
		if (ev->metrics[i].name == NULL)
			return FL_EINVAL;
	d = &e->dev[dev];
	if (ev->kind == FL_EV_ONLINE || ev->kind == FL_EV_OFFLINE) {
		presence(e, dev, ev->kind == FL_EV_ONLINE, ev->at_s);
		return 0;
	}
	if (!(d->flags & DF_OFFERED))
		return 0; /* not ours (yet): ignore */
	switch (ev->kind) {
	case FL_EV_ACKED:
	case FL_EV_DOWNLOADING:
	case FL_EV_INSTALLED:
	case FL_EV_ACTIVATED:
	case FL_EV_COMMITTED:
		progress(e, dev, ev->kind - FL_EV_ACKED + FL_PROG_ACKED,
			 ev->at_s);
		break;
	case FL_EV_FAILED: fail(e, dev, ev->reason, 1); break;
	case FL_EV_REVERTED:
		d->flags |= DF_REVERTED;
		if (d->phase < FL_PROG_ACTIVATED)
			d->phase = FL_PROG_ACTIVATED;
		/* back on its old version: that is what a rollback is for,
		 * also when one was refused or failed before */
		if (d->rb == FL_RB_SENT || d->rb == FL_RB_FAILED)
			rollback_result(e, dev, FL_RB_DONE);
		e->rb_dirty = 1;
		fail(e, dev, FL_FAIL_REVERTED, 1);
		break;
	case FL_EV_RETRY_LATER:
		if (is_final(d->status) ||
		    (d->t_report != ENG_UNSET && ev->at_s < d->t_report))
			break;
		d->t_report = ev->at_s;
		d->t_retry = ev->retry_at_s != 0
				     ? ev->retry_at_s
				     : ev->at_s + FL_ENGINE_RETRY_DEFAULT_S;
		engine__set_status(e, dev, FL_DEV_DEFERRED);
		engine__list_push(&e->pending, e, dev, DF_IN_PENDING);
		break;
	case FL_EV_REJECTED:
		if (is_final(d->status))
			break;
		engine__set_status(e, dev, FL_DEV_SKIPPED);
		d->flags &= (uint16_t)~DF_OFFER_LIVE;
		break;
	case FL_EV_ROLLBACK_DONE: rollback_result(e, dev, FL_RB_DONE); break;
	case FL_EV_ROLLBACK_FAILED:
		rollback_result(e, dev, FL_RB_FAILED);
		break;
	case FL_EV_HEALTH: health(e, dev, ev); break;
	default: return FL_EINVAL;
	}
	return 0;
}

static void record_approval(struct fl_engine *e, int is_hold, unsigned index,
			    const struct fl_event *ev)
{
	struct fl_engine_approval *a;
	size_t len = 0;

	if (e->napprovals >= sizeof(e->approvals) / sizeof(e->approvals[0]))
		return; /* cannot happen: each is approved once */
	a = &e->approvals[e->napprovals++];
	memset(a, 0, sizeof(*a));
	a->is_hold = (uint8_t)is_hold;
	a->index = (uint16_t)index;
	a->at_s = ev->at_s;
	if (ev->who != NULL) {
		len = strlen(ev->who);
		if (len > sizeof(a->who) - 1)
			len = sizeof(a->who) - 1;
		memcpy(a->who, ev->who, len);
	}
	a->who[len] = '\0';
}

static int approve(struct fl_engine *e, const struct fl_event *ev)
{
	const struct fl_plan *p = e->plan;
	int found = 0, refused = 0;

	if (ev->name == NULL)
		return FL_EINVAL;
	for (unsigned h = 0; h < p->nholds; h++) {
		if (strcmp(p->holds[h].name, ev->name) != 0)
			continue;
		found = 1;
		if (!e->hold_approved[h]) {
			e->hold_approved[h] = 1;
			record_approval(e, 1, h, ev);
		}
	}
	for (unsigned k = 0; k < p->nstages; k++) {
		struct eng_stage *st = &e->stages[k];

		if (p->stages[k].name == NULL ||
		    strcmp(p->stages[k].name, ev->name) != 0)
			continue;
		found = 1;
		if (st->is_approved)
			continue; /* a repeat */
		if (st->state != FL_STAGE_AWAITING) {
			refused = 1;
			continue;
		}
		st->is_approved = 1;
		record_approval(e, 0, k, ev);
	}
	if (!found)
		return FL_ENOENT;
	return refused ? FL_ESTATE : 0;
}

static int has_ended(const struct fl_engine *e)
{
	return e->state == FL_ROLLOUT_ROLLED_BACK ||
	       e->state == FL_ROLLOUT_CANCELLED;
}

static void resume(struct fl_engine *e)
{
	e->is_paused = 0;
	if (!e->pause_by_gate)
		return;
	e->pause_by_gate = 0;
	for (unsigned k = 0; k < e->plan->nstages; k++) {
		struct eng_stage *st = &e->stages[k];

		if (st->state != FL_STAGE_FAILED)
			continue;
		st->is_overridden = 1;
		st->state = st->has_passed ? FL_STAGE_PASSED : FL_STAGE_RUNNING;
	}
}

int fl_engine_apply(struct fl_engine *e, const struct fl_event *ev)
{
	if (e == NULL || ev == NULL || !engine__time_ok(ev->at_s) ||
	    !engine__time_ok(ev->retry_at_s))
		return FL_EINVAL;
	if (ev->kind >= FL_EV_ACKED && ev->kind <= FL_EV_OFFLINE)
		return device_event(e, ev);
	switch (ev->kind) {
	case FL_EV_PAUSE:
		if (has_ended(e))
			return FL_ESTATE;
		e->is_paused = 1;
		return 0;
	case FL_EV_RESUME:
		if (has_ended(e))
			return FL_ESTATE;
		resume(e);
		return 0;
	case FL_EV_APPROVE: return approve(e, ev);
	case FL_EV_ROLLBACK:
		if (e->state != FL_ROLLOUT_ROLLING_BACK &&
		    e->state != FL_ROLLOUT_ROLLED_BACK && !e->rollback_req) {
			e->rollback_req = 1;
			e->rb_why = FL_WHY_OPERATOR;
			e->rb_stage = FL_ENGINE_NO_STAGE;
		}
		return 0;
	case FL_EV_CANCEL:
		if (e->state == FL_ROLLOUT_CANCELLED)
			return 0;
		if (has_ended(e) || e->state == FL_ROLLOUT_ROLLING_BACK ||
		    e->rollback_req)
			return FL_ESTATE;
		e->cancel_req = 1;
		return 0;
	default: return FL_EINVAL;
	}
}
