/*
 * sim_report.c -- the report of `fleetctl plan simulate`: the same facts
 * in words (one block per stage, then the outcome) or as one JSON document
 * (schema in docs/inventory-format.md, "Simulation report").
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "fl/err.h"

static const char *const rollout_state_names[] = {
	"running", "complete", "rolling_back", "rolled_back", "cancelled",
};
static const char *const stage_state_names[] = {
	"pending", "awaiting_approval", "running", "passed", "failed",
};
static const char *const dev_status_names[FL_DEV_NSTATUS] = {
	"none",	     "pending",	  "held",   "unreached", "deferred",
	"in_flight", "succeeded", "failed", "skipped",	 "cancelled",
};
static const char *const not_target_names[7] = {
	"none",	   "model",    "labels",    "version",
	"current", "excluded", "duplicate",
};
static const char *const fail_mode_names[] = {"health", "install"};

static const char *rollout_state(unsigned s)
{
	return s < 5 ? rollout_state_names[s] : "unknown";
}

static const char *stage_state(unsigned s)
{
	return s < 5 ? stage_state_names[s] : "unknown";
}

static const char *plural(unsigned long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static const char *ts(int64_t t, char *buf, size_t size)
{
	if (t < 0)
		snprintf(buf, size, "-");
	else
		fl_sim_format_instant(t, buf, size);
	return buf;
}

static const char *dur(int64_t s, char *buf, size_t size)
{
	fl_sim_format_duration(s, buf, size);
	return buf;
}

/* "10%", "0.5%", "100%" from parts per million. */
static const char *pct(uint32_t ppm, char *buf, size_t size)
{
	snprintf(buf, size, "%g%%", ppm / 10000.0);
	return buf;
}

static void match_text(const struct fl_plan_match *m, char *buf, size_t size)
{
	size_t k = 0;
	int n;

	n = snprintf(buf, size, "{");
	k = n > 0 ? (size_t)n : 0;
	for (unsigned i = 0; i < m->n && k < size; i++) {
		const struct fl_plan_label *l = &m->labels[i];

		n = snprintf(buf + k, size - k, "%s%s: ", i ? ", " : "",
			     l->key);
		k += n > 0 ? (size_t)n : 0;
		for (unsigned v = 0; v < l->nvalues && k < size; v++) {
			n = snprintf(buf + k, size - k, "%s%s%s%s",
				     v == 0 && l->nvalues > 1 ? "[" : "",
				     v ? ", " : "", l->values[v],
				     v + 1 == l->nvalues && l->nvalues > 1
					     ? "]"
					     : "");
			k += n > 0 ? (size_t)n : 0;
		}
	}
	if (k < size)
		snprintf(buf + k, size - k, "}");
}

static void selector_text(const struct fl_plan_stage *st, char *buf,
			  size_t size)
{
	char m[256];

	switch (st->kind) {
	case FL_STAGE_DEVICES:
		snprintf(buf, size, "devices: %u listed", st->ndevices);
		break;
	case FL_STAGE_COUNT:
		snprintf(buf, size, "count: %u", (unsigned)st->count);
		break;
	case FL_STAGE_MATCH:
		match_text(&st->match, m, sizeof(m));
		snprintf(buf, size, "match: %s", m);
		break;
	default:
		pct(st->percent_ppm, m, sizeof(m));
		snprintf(buf, size, "percent: %s of targets, cumulative", m);
		break;
	}
}

static int64_t stage_soak(const struct fl_plan *p, unsigned k)
{
	return p->stages[k].has_soak ? p->stages[k].soak_s : p->health.soak_s;
}

static const char *rate_text(const struct fl_plan_stage *st, char *buf,
			     size_t size)
{
	const char *unit = st->rate_period_s == 1      ? "s"
			   : st->rate_period_s == 60   ? "min"
			   : st->rate_period_s == 3600 ? "h"
						       : NULL;

	if (unit != NULL)
		snprintf(buf, size, "%u/%s", (unsigned)st->rate_count, unit);
	else
		snprintf(buf, size, "%u per %us", (unsigned)st->rate_count,
			 (unsigned)st->rate_period_s);
	return buf;
}

static void fail_text(const struct fl_sim_fail *f, char *buf, size_t size)
{
	char p[32];

	pct(f->rate_ppm, p, sizeof(p));
	if (f->key[0] != '\0')
		snprintf(buf, size, "%s=%s: %s, %s", f->key, f->value, p,
			 fail_mode_names[f->mode & 1]);
	else
		snprintf(buf, size, "model %s: %s, %s", f->value, p,
			 fail_mode_names[f->mode & 1]);
}

/* Why a stage's gate failed, in words. */
static void gate_text(const struct fl_plan *p, const struct fl_sim_stage *st,
		      char *buf, size_t size)
{
	char a[32];

	switch (st->fail_why) {
	case FL_WHY_MAX_FAILURES:
		snprintf(buf, size, "%u failures > max_failures %u",
			 (unsigned)st->trip_failed,
			 (unsigned)p->health.max_failures);
		break;
	case FL_WHY_FAILURE_RATE:
		snprintf(buf, size,
			 "failure rate %u of %u judged (%.1f%%) > "
			 "max_failure_rate %s",
			 (unsigned)st->trip_failed, (unsigned)st->trip_judged,
			 st->trip_judged
				 ? 100.0 * st->trip_failed / st->trip_judged
				 : 0.0,
			 pct(p->health.max_failure_rate_ppm, a, sizeof(a)));
		break;
	default:
		snprintf(buf, size, "%s: %u failed of %u judged",
			 fl_why_name(st->fail_why), (unsigned)st->trip_failed,
			 (unsigned)st->trip_judged);
		break;
	}
}

/* " name n, name n" and a newline, after a label the caller printed. */
static void breakdown_text(FILE *f, const struct fl_sim_breakdown *b,
			   const char *const *names, unsigned n)
{
	int any = 0;

	for (unsigned i = 0; i <= FL_SIM_MAX_NAMES; i++) {
		if (b->by[i] == 0 || (i >= n && i < FL_SIM_MAX_NAMES))
			continue;
		fprintf(f, "%s%s %u", any ? ", " : " ",
			i < n ? names[i] : "(other)", (unsigned)b->by[i]);
		any = 1;
	}
	fprintf(f, "%s\n", any ? "" : " -");
}

static void status_text(FILE *f, const struct fl_engine_stage *s)
{
	static const uint8_t order[] = {
		FL_DEV_SUCCEEDED, FL_DEV_FAILED,  FL_DEV_IN_FLIGHT,
		FL_DEV_PENDING,	  FL_DEV_HELD,	  FL_DEV_UNREACHED,
		FL_DEV_DEFERRED,  FL_DEV_SKIPPED, FL_DEV_CANCELLED,
	};
	int any = 0;

	fprintf(f, "  %-10s", "devices");
	for (size_t i = 0; i < sizeof(order); i++) {
		uint32_t n = s->count[order[i]];

		if (n == 0 && order[i] != FL_DEV_SUCCEEDED &&
		    order[i] != FL_DEV_FAILED)
			continue;
		fprintf(f, "%s%u %s", any ? ", " : " ", (unsigned)n,
			dev_status_names[order[i]]);
		any = 1;
	}
	fputc('\n', f);
}

static const char *wait_name(unsigned why)
{
	return why == FL_WHY_HOLD     ? "hold"
	       : why == FL_WHY_WINDOW ? "window"
				      : "rate";
}

static void stage_text(FILE *f, const struct fl_sim_report_ctx *c,
		       const struct fl_sim_result *r, unsigned k,
		       uint32_t cumulative)
{
	const struct fl_plan *p = c->plan;
	const struct fl_plan_stage *ps = &p->stages[k];
	const struct fl_sim_stage *st = &r->stages[k];
	char a[64], b[64], sel[320];
	int64_t soak = stage_soak(p, k);

	selector_text(ps, sel, sizeof(sel));
	fprintf(f, "\nstage %u/%u %s (%s; soak %s", k + 1, r->nstages, st->name,
		sel, dur(soak, a, sizeof(a)));
	if (ps->approval_required)
		fprintf(f, "; approval required");
	if (ps->has_rate)
		fprintf(f, "; rate %s", rate_text(ps, a, sizeof(a)));
	fprintf(f, ")\n");
	if (st->started_at_s < 0 && st->awaited_at_s < 0) {
		fprintf(f, "  %-10s never started (%s)\n", "state",
			r->has_rollback	 ? "the rollout was rolled back"
			: r->is_paused	 ? "the rollout is paused"
			: r->hit_horizon ? "the horizon was reached"
					 : "the rollout stopped");
		return;
	}
	fprintf(f, "  %-10s %u %s (%u of %u targets included so far)\n", "size",
		(unsigned)st->members, plural(st->members, "device", "devices"),
		(unsigned)cumulative, (unsigned)r->n_targets);
	fprintf(f, "  %-10s", "models");
	breakdown_text(f, &st->models, r->models, r->nmodels);
	fprintf(f, "  %-10s", "regions");
	breakdown_text(f, &st->regions, r->regions, r->nregions);
	if (st->awaited_at_s >= 0)
		fprintf(f, "  %-10s awaited %s, approved %s%s\n", "approval",
			ts(st->awaited_at_s, a, sizeof(a)),
			ts(st->approved_at_s, b, sizeof(b)),
			st->approved_at_s >= 0 ? " (simulated operator)" : "");
	if (st->started_at_s >= 0)
		fprintf(f, "  %-10s %s (+%s)\n", "started",
			ts(st->started_at_s, a, sizeof(a)),
			dur(st->started_at_s - r->start_s, b, sizeof(b)));
	if (st->first_offer_at_s >= 0)
		fprintf(f, "  %-10s %u, first %s, last %s\n", "offers",
			(unsigned)st->offers,
			ts(st->first_offer_at_s, a, sizeof(a)),
			ts(st->last_offer_at_s, b, sizeof(b)));
	else if (st->started_at_s >= 0)
		fprintf(f, "  %-10s none\n", "offers");
	for (unsigned w = FL_WHY_HOLD; w <= FL_WHY_RATE; w++) {
		if (st->wait_at_s[w] < 0)
			continue;
		fprintf(f, "  %-10s %s", "waited", wait_name(w));
		if (w == FL_WHY_HOLD && st->wait_hold < p->nholds)
			fprintf(f, " %s", p->holds[st->wait_hold].name);
		fprintf(f, " from %s", ts(st->wait_at_s[w], a, sizeof(a)));
		if (st->wait_until_s[w] == FL_ENGINE_NEVER)
			fprintf(f, " until approved\n");
		else
			fprintf(f, " until %s\n",
				ts(st->wait_until_s[w], a, sizeof(a)));
	}
	for (unsigned i = 0; i < r->nevents; i++) {
		const struct fl_sim_event *e = &r->events[i];

		if (e->kind != FL_DEC_STAGE_SKIPPED_DEVICE || e->stage != k)
			continue;
		fprintf(f, "  %-10s %s: %s\n", "skipped",
			e->ref < ps->ndevices ? ps->devices[e->ref] : "?",
			e->why == FL_WHY_UNKNOWN_DEVICE ? "not in the inventory"
			: e->why == FL_WHY_NOT_TARGET	? "not a target"
			: e->why == FL_WHY_ALREADY_MEMBER
				? "already in an earlier stage"
				: fl_why_name(e->why));
	}
	if (st->state == FL_STAGE_PASSED) {
		fprintf(f, "  %-10s %s, %s after it started%s\n", "passed",
			ts(st->ended_at_s, a, sizeof(a)),
			dur(st->ended_at_s - st->started_at_s, b, sizeof(b)),
			st->is_overridden ? " (gate overridden by resume)"
					  : "");
	} else if (st->state == FL_STAGE_FAILED) {
		char g[160];

		gate_text(p, st, g, sizeof(g));
		fprintf(f, "  %-10s %s, %s after it started: %s\n", "FAILED",
			ts(st->ended_at_s, a, sizeof(a)),
			dur(st->ended_at_s - st->started_at_s, b, sizeof(b)),
			g);
	} else {
		fprintf(f, "  %-10s %s\n", "state", stage_state(st->state));
	}
	status_text(f, &st->fin);
	fprintf(f, "  %-10s %u installed it, %u %s it at the end\n", "version",
		(unsigned)st->got_new, (unsigned)st->on_new,
		r->has_rollback ? "still run" : "run");
}

int fl_sim_print_text(const struct fl_sim_report_ctx *c,
		      const struct fl_sim_result *r, FILE *f)
{
	const struct fl_plan *p = c->plan;
	char a[64], b[64];
	uint32_t cumulative = 0;
	int any;

	fprintf(f, "%-12s %s: rollout %s, %s %s\n", "plan", p->path, p->name,
		p->artifact.component, p->artifact.version);
	if (c->is_default_fleet)
		fprintf(f,
			"%-12s no --inventory: a default fleet of %u devices "
			"per model of artifact.hardware, spread over the "
			"plan's regions\n",
			"fleet", c->per_model);
	fprintf(f, "%-12s %s: %zu %s, %u %s\n",
		c->is_default_fleet ? "" : "fleet", r->source, r->n_devices,
		plural(r->n_devices, "device", "devices"),
		(unsigned)r->n_targets,
		plural(r->n_targets, "target", "targets"));
	any = 0;
	for (unsigned i = 1; i < 7; i++) {
		if (r->not_target[i] == 0)
			continue;
		fprintf(f, "%s%u %s", any ? ", " : "             not targets: ",
			(unsigned)r->not_target[i], not_target_names[i]);
		any = 1;
	}
	if (any)
		fputc('\n', f);
	fprintf(f, "%-12s targets by model:", "");
	breakdown_text(f, &r->target_models, r->models, r->nmodels);
	fprintf(f, "%-12s targets by region:", "");
	breakdown_text(f, &r->target_regions, r->regions, r->nregions);
	fprintf(f, "%-12s simulated from %s, seed %llu, horizon %s\n", "clock",
		ts(r->start_s, a, sizeof(a)), (unsigned long long)c->opt->seed,
		dur(c->opt->horizon_s, b, sizeof(b)));
	if (r->batch_s > 1)
		fprintf(f,
			"%-12s a big fleet: device reports are applied in "
			"batches of %llds, so times may be late by up to "
			"%llds\n",
			"", (long long)r->batch_s, (long long)r->batch_s - 1);
	fprintf(f,
		"%-12s a stage awaiting approval is approved %s after it is "
		"awaited (--approve-after)\n",
		"approvals", dur(c->opt->approve_after_s, a, sizeof(a)));
	for (unsigned h = 0; h < p->nholds; h++) {
		const struct fl_plan_hold *ph = &p->holds[h];

		int64_t asked = -1;

		for (unsigned i = 0; i < c->opt->nhold_ok; i++)
			if (strcmp(c->opt->hold_ok[i].name, ph->name) == 0 &&
			    (asked < 0 || c->opt->hold_ok[i].at_s < asked))
				asked = c->opt->hold_ok[i].at_s;
		if (r->hold_approved_at_s[h] >= 0)
			fprintf(f, "%-12s hold %s approved at %s\n", "",
				ph->name,
				ts(r->hold_approved_at_s[h], a, sizeof(a)));
		else if (asked >= 0)
			fprintf(f,
				"%-12s hold %s: to be approved at %s, but the "
				"simulation ended first\n",
				"", ph->name, ts(asked, a, sizeof(a)));
		else if (ph->until_approved)
			fprintf(f,
				"%-12s hold %s (until approved) is never "
				"approved: use --approve-hold %s[@WHEN]\n",
				"", ph->name, ph->name);
	}
	if (c->opt->nfail == 0)
		fprintf(f, "%-12s none injected (--fail)\n", "failures");
	for (unsigned i = 0; i < c->opt->nfail; i++) {
		fail_text(&c->opt->fail[i], a, sizeof(a));
		fprintf(f, "%-12s %s\n", i == 0 ? "failures" : "", a);
	}
	if (c->opt->nfail > 0)
		fprintf(f, "%-12s %u %s would fail if offered\n", "",
			(unsigned)r->n_fail_drawn,
			plural(r->n_fail_drawn, "target", "targets"));
	for (unsigned k = 0; k < r->nstages; k++) {
		cumulative += r->stages[k].members;
		stage_text(f, c, r, k, cumulative);
	}
	fputc('\n', f);
	if (r->has_rollback) {
		const struct fl_sim_stage *st =
			r->rollback_stage < r->nstages
				? &r->stages[r->rollback_stage]
				: NULL;
		char g[160];

		if (st != NULL) {
			gate_text(p, st, g, sizeof(g));
			fprintf(f,
				"%-12s ROLLED BACK: stage %s failed its gate "
				"at %s (%s)\n",
				"outcome", st->name,
				ts(r->rollback_at_s, a, sizeof(a)), g);
		} else {
			fprintf(f, "%-12s ROLLED BACK at %s (%s)\n", "outcome",
				ts(r->rollback_at_s, a, sizeof(a)),
				fl_why_name(r->rollback_why));
		}
		fprintf(f,
			"%-12s when it started, %u %s had installed %s and %u "
			"%s running it\n",
			"", (unsigned)r->had_new_at_rollback,
			plural(r->had_new_at_rollback, "device", "devices"),
			p->artifact.version,
			(unsigned)r->running_new_at_rollback,
			plural(r->running_new_at_rollback, "was", "were"));
		fprintf(f,
			"%-12s rolled back: %u sent, %u done, %u failed; %u "
			"%s cancelled\n",
			"", (unsigned)r->fin.n_rollback_sent,
			(unsigned)r->fin.n_rollback_done,
			(unsigned)r->fin.n_rollback_failed,
			(unsigned)r->n_cancelled,
			plural(r->n_cancelled, "offer", "offers"));
		if (r->rolled_back_at_s >= 0)
			fprintf(f,
				"%-12s rolled back at %s, %s after the start\n",
				"", ts(r->rolled_back_at_s, a, sizeof(a)),
				dur(r->rolled_back_at_s - r->start_s, b,
				    sizeof(b)));
		else
			fprintf(f, "%-12s state %s at the end\n", "",
				rollout_state(r->state));
	} else if (r->complete_at_s >= 0) {
		fprintf(f, "%-12s complete at %s, %s after the start\n",
			"outcome", ts(r->complete_at_s, a, sizeof(a)),
			dur(r->complete_at_s - r->start_s, b, sizeof(b)));
	} else if (r->is_paused) {
		fprintf(f,
			"%-12s PAUSED at %s%s%s: a person must resume or roll "
			"back\n",
			"outcome", ts(r->paused_at_s, a, sizeof(a)),
			r->paused_stage < r->nstages ? " after stage " : "",
			r->paused_stage < r->nstages
				? r->stages[r->paused_stage].name
				: "");
	} else {
		fprintf(f, "%-12s %s at the end%s\n", "outcome",
			rollout_state(r->state),
			r->hit_horizon ? " (the horizon was reached)" : "");
	}
	fprintf(f,
		"%-12s %u of %u targets run %s at the end; %u installed it "
		"at some point; %u failed\n",
		"", (unsigned)r->n_on_new, (unsigned)r->n_targets,
		p->artifact.version, (unsigned)r->n_got_new,
		(unsigned)r->n_failed_dev);
	for (unsigned h = 0; h < r->nholds; h++)
		if (r->hold_blocked[h] > 0)
			fprintf(f, "%-12s %u %s still held by %s\n", "",
				(unsigned)r->hold_blocked[h],
				plural(r->hold_blocked[h], "device", "devices"),
				p->holds[h].name);
	fprintf(f, "%-12s last event at %s, %s after the start%s\n", "",
		ts(r->end_s, a, sizeof(a)),
		dur(r->end_s - r->start_s, b, sizeof(b)),
		r->hit_horizon ? "; stopped at the horizon" : "");
	return ferror(f) ? FL_EIO : 0;
}

/* ---- JSON ---------------------------------------------------------------- */

struct jb {
	int oom;
};

static cJSON *jchk(struct jb *j, cJSON *x)
{
	if (x == NULL)
		j->oom = 1;
	return x;
}

static void jnum(struct jb *j, cJSON *o, const char *k, double v)
{
	jchk(j, cJSON_AddNumberToObject(o, k, v));
}

static void jstr(struct jb *j, cJSON *o, const char *k, const char *v)
{
	if (v == NULL)
		jchk(j, cJSON_AddNullToObject(o, k));
	else
		jchk(j, cJSON_AddStringToObject(o, k, v));
}

static void jbool(struct jb *j, cJSON *o, const char *k, int v)
{
	jchk(j, cJSON_AddBoolToObject(o, k, v));
}

static void jtime(struct jb *j, cJSON *o, const char *k, int64_t t)
{
	char buf[64];

	if (t < 0 || t == FL_ENGINE_NEVER) {
		jchk(j, cJSON_AddNullToObject(o, k));
		return;
	}
	fl_sim_format_instant(t, buf, sizeof(buf));
	jstr(j, o, k, buf);
}

static cJSON *jobj(struct jb *j, cJSON *o, const char *k)
{
	return jchk(j, cJSON_AddObjectToObject(o, k));
}

static cJSON *jarr(struct jb *j, cJSON *o, const char *k)
{
	return jchk(j, cJSON_AddArrayToObject(o, k));
}

static cJSON *jitem(struct jb *j, cJSON *arr)
{
	cJSON *x = jchk(j, cJSON_CreateObject());

	if (x != NULL && arr != NULL)
		cJSON_AddItemToArray(arr, x);
	else if (x != NULL)
		cJSON_Delete(x), x = NULL;
	return x;
}

static void jbreakdown(struct jb *j, cJSON *o, const char *k,
		       const struct fl_sim_breakdown *b,
		       const char *const *names, unsigned n)
{
	cJSON *x = jobj(j, o, k);

	if (x == NULL)
		return;
	for (unsigned i = 0; i <= FL_SIM_MAX_NAMES; i++) {
		if (b->by[i] == 0 || (i >= n && i < FL_SIM_MAX_NAMES))
			continue;
		jnum(j, x, i < n ? names[i] : "(other)", b->by[i]);
	}
}

static void jstage(struct jb *j, cJSON *arr, const struct fl_sim_report_ctx *c,
		   const struct fl_sim_result *r, unsigned k, uint32_t cum)
{
	const struct fl_plan *p = c->plan;
	const struct fl_plan_stage *ps = &p->stages[k];
	const struct fl_sim_stage *st = &r->stages[k];
	cJSON *o = jitem(j, arr), *x, *w;
	char buf[320];

	if (o == NULL)
		return;
	jstr(j, o, "name", st->name);
	selector_text(ps, buf, sizeof(buf));
	jstr(j, o, "selector", buf);
	jnum(j, o, "soak_s", (double)stage_soak(p, k));
	jbool(j, o, "approval_required", ps->approval_required);
	if (ps->has_rate)
		jstr(j, o, "rate", rate_text(ps, buf, sizeof(buf)));
	jstr(j, o, "state", stage_state(st->state));
	jnum(j, o, "size", st->members);
	jnum(j, o, "cumulative", cum);
	jbreakdown(j, o, "by_model", &st->models, r->models, r->nmodels);
	jbreakdown(j, o, "by_region", &st->regions, r->regions, r->nregions);
	jtime(j, o, "awaited_at", st->awaited_at_s);
	jtime(j, o, "approved_at", st->approved_at_s);
	jtime(j, o, "started_at", st->started_at_s);
	jtime(j, o, "first_offer_at", st->first_offer_at_s);
	jtime(j, o, "last_offer_at", st->last_offer_at_s);
	jtime(j, o, st->state == FL_STAGE_FAILED ? "failed_at" : "passed_at",
	      st->ended_at_s);
	if (st->ended_at_s >= 0 && st->started_at_s >= 0)
		jnum(j, o, "duration_s",
		     (double)(st->ended_at_s - st->started_at_s));
	else
		jchk(j, cJSON_AddNullToObject(o, "duration_s"));
	jnum(j, o, "offers", st->offers);
	w = jarr(j, o, "waits");
	for (unsigned i = FL_WHY_HOLD; w != NULL && i <= FL_WHY_RATE; i++) {
		if (st->wait_at_s[i] < 0)
			continue;
		x = jitem(j, w);
		if (x == NULL)
			break;
		jstr(j, x, "why", wait_name(i));
		if (i == FL_WHY_HOLD && st->wait_hold < p->nholds)
			jstr(j, x, "hold", p->holds[st->wait_hold].name);
		jtime(j, x, "at", st->wait_at_s[i]);
		jtime(j, x, "until", st->wait_until_s[i]);
	}
	x = jobj(j, o, "devices");
	for (unsigned s = 1; x != NULL && s < FL_DEV_NSTATUS; s++)
		jnum(j, x, dev_status_names[s], st->fin.count[s]);
	jnum(j, o, "judged", st->fin.judged);
	jnum(j, o, "failed", st->fin.failed);
	jnum(j, o, "installed_new_version", st->got_new);
	jnum(j, o, "running_new_version", st->on_new);
	if (st->state == FL_STAGE_FAILED) {
		x = jobj(j, o, "gate");
		if (x != NULL) {
			jstr(j, x, "why", fl_why_name(st->fail_why));
			jnum(j, x, "failed", st->trip_failed);
			jnum(j, x, "judged", st->trip_judged);
			gate_text(p, st, buf, sizeof(buf));
			jstr(j, x, "text", buf);
		}
	}
}

static const char *event_name(unsigned kind)
{
	if (kind == FL_SIM_EV_APPROVED_STAGE)
		return "approved stage";
	if (kind == FL_SIM_EV_APPROVED_HOLD)
		return "approved hold";
	return fl_decision_kind_name(kind);
}

int fl_sim_print_json(const struct fl_sim_report_ctx *c,
		      const struct fl_sim_result *r, FILE *f)
{
	const struct fl_plan *p = c->plan;
	struct jb j = {0};
	cJSON *doc = cJSON_CreateObject(), *o, *x, *arr;
	uint32_t cum = 0;
	char *s;
	int err = 0;

	if (doc == NULL)
		return FL_ENOMEM;
	o = jobj(&j, doc, "plan");
	if (o != NULL) {
		jstr(&j, o, "file", p->path);
		jstr(&j, o, "rollout", p->name);
		jstr(&j, o, "component", p->artifact.component);
		jstr(&j, o, "version", p->artifact.version);
	}
	o = jobj(&j, doc, "fleet");
	if (o != NULL) {
		jstr(&j, o, "source", r->source);
		jbool(&j, o, "is_default", c->is_default_fleet);
		jnum(&j, o, "devices", (double)r->n_devices);
		jnum(&j, o, "targets", r->n_targets);
		x = jobj(&j, o, "not_targets");
		for (unsigned i = 1; x != NULL && i < 7; i++)
			jnum(&j, x, not_target_names[i], r->not_target[i]);
		jbreakdown(&j, o, "targets_by_model", &r->target_models,
			   r->models, r->nmodels);
		jbreakdown(&j, o, "targets_by_region", &r->target_regions,
			   r->regions, r->nregions);
	}
	o = jobj(&j, doc, "options");
	if (o != NULL) {
		jnum(&j, o, "seed", (double)c->opt->seed);
		jtime(&j, o, "start", r->start_s);
		jnum(&j, o, "horizon_s", (double)c->opt->horizon_s);
		jnum(&j, o, "batch_s", (double)r->batch_s);
		jnum(&j, o, "approve_after_s", (double)c->opt->approve_after_s);
		arr = jarr(&j, o, "approve_holds");
		for (unsigned i = 0; arr != NULL && i < c->opt->nhold_ok; i++) {
			x = jitem(&j, arr);
			if (x == NULL)
				break;
			jstr(&j, x, "hold", c->opt->hold_ok[i].name);
			jtime(&j, x, "at", c->opt->hold_ok[i].at_s);
		}
		arr = jarr(&j, o, "fail");
		for (unsigned i = 0; arr != NULL && i < c->opt->nfail; i++) {
			const struct fl_sim_fail *fl = &c->opt->fail[i];

			x = jitem(&j, arr);
			if (x == NULL)
				break;
			jstr(&j, x, "label", fl->key[0] ? fl->key : NULL);
			jstr(&j, x, fl->key[0] ? "value" : "model", fl->value);
			jnum(&j, x, "rate", fl->rate_ppm / (double)FL_PPM);
			jstr(&j, x, "mode", fail_mode_names[fl->mode & 1]);
		}
		jnum(&j, o, "targets_drawn_to_fail", r->n_fail_drawn);
	}
	arr = jarr(&j, doc, "stages");
	for (unsigned k = 0; arr != NULL && k < r->nstages; k++) {
		cum += r->stages[k].members;
		jstage(&j, arr, c, r, k, cum);
	}
	arr = jarr(&j, doc, "holds");
	for (unsigned h = 0; arr != NULL && h < r->nholds; h++) {
		x = jitem(&j, arr);
		if (x == NULL)
			break;
		jstr(&j, x, "name", p->holds[h].name);
		jbool(&j, x, "until_approved", p->holds[h].until_approved);
		jtime(&j, x, "approved_at", r->hold_approved_at_s[h]);
		jnum(&j, x, "held_at_end", r->hold_blocked[h]);
	}
	o = jobj(&j, doc, "outcome");
	if (o != NULL) {
		jstr(&j, o, "state", rollout_state(r->state));
		jbool(&j, o, "paused", r->is_paused);
		jbool(&j, o, "hit_horizon", r->hit_horizon);
		jtime(&j, o, "complete_at", r->complete_at_s);
		jtime(&j, o, "paused_at", r->paused_at_s);
		jtime(&j, o, "last_event_at", r->end_s);
		jnum(&j, o, "duration_s", (double)(r->end_s - r->start_s));
		jnum(&j, o, "offers", r->fin.n_offers);
		jnum(&j, o, "members", r->fin.n_members);
		jnum(&j, o, "unplaced", r->fin.n_unplaced);
		jnum(&j, o, "installed_new_version", r->n_got_new);
		jnum(&j, o, "running_new_version", r->n_on_new);
		jnum(&j, o, "failed_devices", r->n_failed_dev);
		if (r->has_rollback) {
			x = jobj(&j, o, "rollback");
			if (x != NULL) {
				jstr(&j, x, "stage",
				     r->rollback_stage < r->nstages
					     ? r->stages[r->rollback_stage].name
					     : NULL);
				jstr(&j, x, "why",
				     fl_why_name(r->rollback_why));
				jtime(&j, x, "at", r->rollback_at_s);
				jnum(&j, x, "had_installed_new_version",
				     r->had_new_at_rollback);
				jnum(&j, x, "were_running_new_version",
				     r->running_new_at_rollback);
				jnum(&j, x, "sent", r->fin.n_rollback_sent);
				jnum(&j, x, "done", r->fin.n_rollback_done);
				jnum(&j, x, "failed", r->fin.n_rollback_failed);
				jnum(&j, x, "cancelled_offers", r->n_cancelled);
				jtime(&j, x, "rolled_back_at",
				      r->rolled_back_at_s);
			}
		} else {
			jchk(&j, cJSON_AddNullToObject(o, "rollback"));
		}
	}
	arr = jarr(&j, doc, "timeline");
	for (unsigned i = 0; arr != NULL && i < r->nevents; i++) {
		const struct fl_sim_event *e = &r->events[i];

		x = jitem(&j, arr);
		if (x == NULL)
			break;
		jtime(&j, x, "at", e->at_s);
		jstr(&j, x, "event", event_name(e->kind));
		jstr(&j, x, "stage",
		     e->stage < r->nstages ? r->stages[e->stage].name : NULL);
		if (e->kind == FL_SIM_EV_APPROVED_HOLD ||
		    (e->kind == FL_DEC_WAIT && e->why == FL_WHY_HOLD))
			jstr(&j, x, "hold",
			     e->ref < p->nholds ? p->holds[e->ref].name : NULL);
		if (e->why != 0 && e->kind < FL_SIM_EV_APPROVED_STAGE)
			jstr(&j, x, "why", fl_why_name(e->why));
		if (e->kind == FL_DEC_WAIT)
			jtime(&j, x, "until", e->until_s);
		if (e->kind == FL_DEC_STAGE_STARTED)
			jnum(&j, x, "members", e->ref);
		if (e->kind == FL_DEC_STAGE_SKIPPED_DEVICE &&
		    e->stage < p->nstages &&
		    e->ref < p->stages[e->stage].ndevices)
			jstr(&j, x, "device",
			     p->stages[e->stage].devices[e->ref]);
	}
	jnum(&j, doc, "timeline_dropped", r->nevents_dropped);
	if (j.oom) {
		cJSON_Delete(doc);
		return FL_ENOMEM;
	}
	s = cJSON_Print(doc);
	cJSON_Delete(doc);
	if (s == NULL)
		return FL_ENOMEM;
	if (fputs(s, f) < 0 || fputc('\n', f) == EOF)
		err = FL_EIO;
	cJSON_free(s);
	return err;
}
