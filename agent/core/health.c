/*
 * health.c -- the trial: health samples against the offer's limits for the
 * health window, then the commit point (fl_slots_confirm, written by the
 * image on trial itself) or a reject and a reboot into the old image; and
 * the periodic health reports.
 *
 * The trial fails at once when the hook fails or a sampled metric leaves
 * its range, and at the end of the window unless the broker was reached,
 * the application said it booted fine, the hook (if any) passed, and every
 * limited metric had at least one value (no data is a failure, not a pass).
 * The reason names what failed: "health:<metric>", "health:broker",
 * "health:boot", "health:hook". It is persisted before the reject, so the
 * old image reports it after the reboot.
 */
#include <string.h>

#include "agent_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/f64.h"

void fl_agent__trial_begin(struct fl_agent *a)
{
	uint64_t now = fl_agent__mono(a);

	a->trial_start_ms = now;
	a->next_ms = now;
	a->limits_seen = 0;
	a->has_sample = false;
	a->health_ms = now; /* a report right after a trial starts */
}

int fl_agent__trial_reject(struct fl_agent *a, const char *reason)
{
	struct fl_agent_job *j = &a->st.job;
	int rc;

	fl_agent__token(j->reason, "health", reason);
	rc = fl_agent__enter(a, FL_AGENT_REJECTING);
	if (rc == 0)
		rc = fl_slots_reject(fl_agent__slots(a), FL_REASON_REJECTED);
	if (rc != 0)
		return rc;
	fl_agent__reported(a);
	fl_agent__request_reboot(a);
	return 0;
}

/* The value of a limited metric in the last sample. */
static bool value_of(const struct fl_agent *a, const char *name, uint64_t now,
		     double *v)
{
	const struct fl_agent_health_sample *s = &a->sample;

	if (fl_agent__streq(name, "crashes")) {
		*v = fl_f64_from_u64(s->crashes);
		return true;
	}
	if (fl_agent__streq(name, "uptime_s")) {
		*v = fl_f64_from_u64(fl_agent__udiv(now, 1000u, NULL));
		return true;
	}
	for (unsigned i = 0; i < s->n_metrics && i < FL_PROTO_METRICS_MAX;
	     i++) {
		if (fl_agent__streq(s->metrics[i].name, name)) {
			*v = s->metrics[i].value;
			return true;
		}
	}
	return false;
}

int fl_agent__trial_poll(struct fl_agent *a, uint64_t now)
{
	const struct fl_agent_device *d = &a->cfg.device;
	const struct fl_agent_job *j = &a->st.job;
	uint64_t window_ms =
		(uint64_t)(j->health_window_s != 0 ? j->health_window_s
						   : a->cfg.health_window_s) *
		1000u;
	int rc;

	if (now >= a->next_ms) {
		a->next_ms = now + a->cfg.health_sample_ms;
		memset(&a->sample, 0, sizeof(a->sample));
		a->has_sample = d->ops->health(d->ctx, true, &a->sample) == 0;
		if (a->has_sample && a->sample.hook == FL_AGENT_HOOK_FAIL)
			return fl_agent__trial_reject(a, ":hook");
		for (unsigned i = 0; a->has_sample && i < j->n_limits; i++) {
			const struct fl_health_limit *l = &j->limits[i];
			double v;

			if (!value_of(a, l->metric, now, &v))
				continue;
			a->limits_seen |= (uint8_t)(1u << i);
			/* fl_f64_le: no software floating point on an
			 * MCU; NaN fails both, as with the operators. */
			if ((l->has_min && !fl_f64_le(l->min, v)) ||
			    (l->has_max && !fl_f64_le(v, l->max))) {
				char why[FL_PROTO_REASON_MAX];

				fl_agent__token(why, ":", l->metric);
				return fl_agent__trial_reject(a, why);
			}
		}
	}
	if (now - a->trial_start_ms < window_ms)
		return 0;
	/* The window is over: every condition must hold now. */
	if (!a->is_broker_reached)
		return fl_agent__trial_reject(a, ":broker");
	if (!a->has_sample || !a->sample.is_boot_ok)
		return fl_agent__trial_reject(a, ":boot");
	if (a->sample.hook == FL_AGENT_HOOK_PENDING)
		return fl_agent__trial_reject(a, ":hook");
	for (unsigned i = 0; i < j->n_limits; i++) {
		if (!(a->limits_seen & (1u << i))) {
			char why[FL_PROTO_REASON_MAX];

			fl_agent__token(why, ":", j->limits[i].metric);
			return fl_agent__trial_reject(a, why);
		}
	}
	/* The commit point. */
	rc = fl_slots_confirm(fl_agent__slots(a));
	if (rc != 0)
		return rc;
	return fl_agent__finish(a,
				j->type == FL_CMD_ROLLBACK
					? FL_RESULT_ROLLED_BACK
					: FL_RESULT_SUCCESS,
				"");
}

void fl_agent__health_poll(struct fl_agent *a, uint64_t now, bool force)
{
	const struct fl_agent_device *d = &a->cfg.device;
	const struct fl_slots *s = fl_agent__slots(a);
	const struct fl_slot_info *run = &s->info[fl_slots_booted(s)];
	struct fl_health *h = &a->scratch.health;
	bool is_trial = run->state == FL_SLOT_TRIAL;

	if (!a->is_connected || (!force && now < a->health_ms))
		return;
	a->health_ms = now + (uint64_t)a->cfg.health_interval_s * 1000u;
	a->is_health_sent = true;
	/* During the health check, the trial's own last sample is reported;
	 * otherwise a fresh one. */
	if (a->st.job.phase != FL_AGENT_TRIAL || !a->has_sample) {
		memset(&a->sample, 0, sizeof(a->sample));
		if (d->ops->health(d->ctx, is_trial, &a->sample) != 0)
			memset(&a->sample, 0, sizeof(a->sample));
	}
	memset(h, 0, sizeof(*h));
	h->ts = fl_agent__wall(a);
	h->uptime_s = fl_agent__udiv(now, 1000u, NULL);
	h->boot = a->st.boot;
	h->reset = s->boot.reset_reason;
	h->crashes = a->sample.crashes;
	(void)fl_strlcpy(h->version, run->version, sizeof(h->version));
	h->slot = (uint8_t)fl_slots_booted(s);
	h->is_trial = is_trial;
	h->job = is_trial ? run->attempt_id : 0;
	/* The device's metrics as the message carries them (proto.h): a
	 * name that is not an ident or comes twice, or a value that is not
	 * finite, is left out, so the message needs no check when encoded
	 * (report.c). */
	for (unsigned i = 0;
	     i < a->sample.n_metrics && i < FL_PROTO_METRICS_MAX; i++) {
		const struct fl_metric *m = &a->sample.metrics[i];
		bool is_ok = m->name[0] != '\0' &&
			     fl_proto_check_str(m->name, sizeof(m->name),
						FL_CS_IDENT) == 0 &&
			     fl_f64_is_finite(m->value);

		for (unsigned k = 0; is_ok && k < h->n_metrics; k++)
			is_ok = !fl_agent__streq(m->name, h->metrics[k].name);
		if (is_ok)
			h->metrics[h->n_metrics++] = *m;
	}
	(void)a->cfg.transport.ops->publish_health(a->cfg.transport.ctx, h);
}
