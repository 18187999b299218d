/*
 * test_engine_random.c -- drives the engine through thousands of random
 * plans, inventories, event sequences and clocks, and checks invariants
 * after every step against an independent oracle:
 *   - offers only to targets (model, labels, version, not excluded), to
 *     devices not held, online, and inside their window when the plan
 *     activates "now"; none while paused, none after a rollback or cancel;
 *   - each stage has exactly the members its kind allows (percent:
 *     ceil(P * targets) cumulative; count: N; match: only matching;
 *     devices: only listed), and never more offers in a rate period than
 *     its rate;
 *   - a stage never passes with failures over max_failures or its failure
 *     rate over max_failure_rate, and a running stage over either limit
 *     (the rate once min_devices are judged) has failed;
 *   - stage counters equal a recount of the devices; during a rollback
 *     every device that installed the new version has been told to go
 *     back;
 *   - replaying the same calls gives the same decisions, byte for byte,
 *     also when every step's output is cut into small pieces.
 * Seeded and reproducible: FL_RANDOM_SEED=S runs the one sequence S,
 * FL_RANDOM_ITERS=N sets how many run; a failure prints its seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "engine_fixture.h"

#define TICKS	90
#define MAX_DEV 160
#define MAX_OPS 4096
#define MAX_LOG 65536
#define BIG	4096

static unsigned long long g_seed;
static unsigned g_tick;
static unsigned long g_kinds[32], g_whys[32];

#define CHECK(c, ...)                                                          \
	do {                                                                   \
		if (!(c)) {                                                    \
			print_error("seed %llu tick %u: ", g_seed, g_tick);    \
			fail_msg(__VA_ARGS__);                                 \
		}                                                              \
	} while (0)

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* One recorded call. */
struct op {
	uint8_t type; /* 0 apply, 1 step, 2 sync */
	int rc;
	struct fl_event ev;
	struct fl_metric_value m[2];
	char name[16];
	int64_t now;
	size_t n_inv;
	size_t log_from, log_to; /* decisions of a step in the log */
};

struct sim {
	uint64_t rng;
	struct tplan tp;
	struct tinv inv;
	struct fake_tz fz;
	struct fl_tz_ops tz;
	struct fl_engine *e;
	size_t n0;
	int64_t now;
	struct op ops[MAX_OPS];
	unsigned nops;
	struct fl_decision *log;
	size_t nlog;
	/* oracle */
	uint8_t online[MAX_DEV];
	int64_t presence_t[MAX_DEV];
	uint8_t offered[MAX_DEV];
	uint8_t reverted[MAX_DEV];
	uint8_t hold_approved[FL_PLAN_MAX_HOLDS];
	int paused, ended;
	int64_t rb_start; /* when the rollback started; -1 not yet */
	uint32_t started_ref_sum;
	int64_t offer_times[FL_PLAN_MAX_STAGES][BIG];
	unsigned noffers[FL_PLAN_MAX_STAGES];
	char hold_names[FL_PLAN_MAX_HOLDS][16];
	char dev_ids[FL_PLAN_MAX_STAGES][4][16];
};

static uint64_t r(struct sim *S, uint64_t n)
{
	return n ? rng_next(&S->rng) % n : 0;
}

/* ---- generation ---------------------------------------------------------- */

static void gen_plan(struct sim *S)
{
	struct tplan *tp = &S->tp;
	static const char *tzs[3] = {"Fake/Plus2", "Fake/DST", NULL};
	unsigned nst, pct = 0;

	tp_init(tp, "rnd");
	if (r(S, 3) == 0) {
		tp->p.artifact.from = ">=1.0.0 <2.0.0";
		fl_semver_range_parse(&tp->p.artifact.from_range,
				      tp->p.artifact.from);
	}
	if (r(S, 4) == 0)
		tp_match_add(&tp->p.targets.match, &tp->target_match, "region",
			     "eu", "us");
	if (r(S, 3) == 0) {
		tp->exclude[0] = "d3";
		tp->exclude[1] = "d7";
		tp->p.targets.nexclude = 2;
	}
	tp->p.health.soak_s = r(S, 2) ? 0 : (int64_t)r(S, 300);
	tp->p.health.timeout_s = r(S, 2) ? 0 : 100 + (int64_t)r(S, 2000);
	tp->p.health.rollback_timeout_s = r(S, 3) ? (int64_t)r(S, 3000) : 0;
	tp->p.health.has_max_failure_rate = (uint8_t)r(S, 2);
	tp->p.health.max_failure_rate_ppm = (uint32_t)r(S, 500001);
	tp->p.health.has_max_failures = r(S, 5) < 2;
	tp->p.health.max_failures = (uint32_t)r(S, 6);
	tp->p.health.has_min_devices = (uint8_t)r(S, 2);
	tp->p.health.min_devices = (uint32_t)r(S, 21);
	tp->p.health.on_failure = (uint8_t)r(S, 2);
	tp->metrics[0].name = "crash_count";
	tp->metrics[0].has_max = 1;
	tp->metrics[0].max = 0;
	tp->p.health.nmetrics = 1;
	tp->p.device.activate =
		(uint8_t)(r(S, 5) < 3 ? FL_PLAN_ACTIVATE_NOW : 1 + r(S, 2));
	if (r(S, 2)) {
		unsigned nw = 1 + (unsigned)r(S, 2);

		for (unsigned w = 0; w < nw; w++) {
			unsigned from = (unsigned)r(S, 96) * 15;
			unsigned to =
				(from + 15 + (unsigned)r(S, 95) * 15) % 1440;
			unsigned kind = (unsigned)r(S, 3);

			tp_window(tp, (uint8_t)(1 + r(S, 127)), from, to,
				  kind == 1 ? tzs[r(S, 3)] : NULL, kind == 0);
		}
	}
	for (unsigned h = 0, nh = (unsigned)r(S, 4); h < nh; h++) {
		struct fl_plan_hold *x;

		snprintf(S->hold_names[h], sizeof(S->hold_names[h]), "h%u", h);
		x = tp_hold(tp, S->hold_names[h]);
		if (r(S, 2))
			tp_match_add(&x->match, &tp->hold_match[h],
				     r(S, 2) ? "region" : "ring",
				     r(S, 2) ? "eu" : "canary", NULL);
		if (r(S, 2)) {
			x->until_approved = 1;
		} else {
			x->has_from = (uint8_t)r(S, 2);
			x->from_unix_s = S->now + (int64_t)r(S, 20000);
			x->has_until = 1;
			x->until_unix_s =
				(x->has_from ? x->from_unix_s : S->now) +
				(int64_t)r(S, 20000);
		}
	}
	nst = 1 + (unsigned)r(S, 5);
	for (unsigned k = 0; k < nst; k++) {
		struct fl_plan_stage *st;
		unsigned kind = (unsigned)r(S, 4);

		if (k == nst - 1 && r(S, 2))
			kind = FL_STAGE_PERCENT;
		if (kind == FL_STAGE_PERCENT && pct >= 100)
			kind = FL_STAGE_COUNT;
		switch (kind) {
		case FL_STAGE_PERCENT:
			pct += 1 + (unsigned)r(S, 100 - pct);
			if (k == nst - 1 && r(S, 2))
				pct = 100;
			st = tp_percent(tp, pct);
			break;
		case FL_STAGE_COUNT:
			st = tp_count(tp, 1 + (uint32_t)r(S, 30));
			break;
		case FL_STAGE_MATCH:
			st = tp_stage(tp, FL_STAGE_MATCH);
			tp_match_add(&st->match, &tp->stage_match[k], "ring",
				     "canary", NULL);
			break;
		default:
			st = tp_stage(tp, FL_STAGE_DEVICES);
			st->ndevices = 1 + (unsigned)r(S, 4);
			for (unsigned i = 0; i < st->ndevices; i++) {
				snprintf(S->dev_ids[k][i], 16, "d%u",
					 (unsigned)r(S, 150));
				st->devices[i] = S->dev_ids[k][i];
			}
			break;
		}
		st->approval_required = r(S, 5) == 0;
		if (r(S, 5) == 0) {
			st->has_soak = 1;
			st->soak_s = (int64_t)r(S, 600);
		}
		if (r(S, 10) < 3) {
			st->has_rate = 1;
			st->rate_count = 1 + (uint32_t)r(S, 10);
			st->rate_period_s = 10 + (uint32_t)r(S, 600);
		}
	}
}

static void add_device(struct sim *S)
{
	static const char *models[5] = {"m1", "m2", "m3", "m4", NULL};
	static const char *regions[4] = {"eu", "us", "ap", NULL};
	static const char *versions[5] = {"1.0.0", "1.5.0", "2.0.0", NULL, "x"};
	static const char *tzs[5] = {NULL, "Fake/Plus2", "Fake/DST", "Mars/X",
				     "UTC"};
	char id[16];
	size_t n = S->inv.n;
	uint32_t i;

	if (n > 3 && r(S, 30) == 0)
		snprintf(id, sizeof(id), "%s", S->inv.d[r(S, n)].id);
	else
		snprintf(id, sizeof(id), "d%zu", n);
	i = ti_add(&S->inv, id, models[r(S, 10) < 9 ? r(S, 3) : 3 + r(S, 2)],
		   regions[r(S, 4)], versions[r(S, 10) < 6 ? 0 : r(S, 5)],
		   r(S, 3) ? tzs[r(S, 5)] : NULL,
		   r(S, 5) == 0 ? "canary" : "main", r(S, 100) < 85);
	if (S->inv.d[i].tz == NULL && r(S, 3) == 0)
		ti_tz_label(&S->inv, i, "Fake/Plus2");
	S->online[i] = S->inv.d[i].is_online;
	S->presence_t[i] = INT64_MIN;
}

/* ---- oracle
 * ------------------------------------------------------------------ */

static int o_match(const struct fl_plan_match *m, const struct fl_inv_device *d)
{
	for (unsigned k = 0; k < m->n; k++) {
		int ok = 0;

		for (unsigned l = 0; l < d->nlabels; l++)
			if (strcmp(d->labels[l].key, m->labels[k].key) == 0)
				for (unsigned v = 0; v < m->labels[k].nvalues;
				     v++)
					ok |= strcmp(d->labels[l].value,
						     m->labels[k].values[v]) ==
					      0;
		if (!ok)
			return 0;
	}
	return 1;
}

static int o_target(const struct sim *S, uint32_t i)
{
	const struct fl_plan *p = &S->tp.p;
	const struct fl_inv_device *d = &S->inv.d[i];
	struct fl_semver v;
	int model = 0, parsed;

	for (uint32_t j = 0; j < i; j++)
		if (strcmp(S->inv.d[j].id, d->id) == 0)
			return 0;
	for (unsigned m = 0; d->model && m < p->artifact.nhardware; m++)
		model |= strcmp(d->model, p->artifact.hardware[m]) == 0;
	if (!model || !o_match(&p->targets.match, d))
		return 0;
	for (unsigned x = 0; x < p->targets.nexclude; x++)
		if (strcmp(p->targets.exclude[x], d->id) == 0)
			return 0;
	parsed = d->version &&
		 fl_semver_parse(&v, d->version, strlen(d->version)) == 0;
	if (p->artifact.from &&
	    (!parsed || !fl_semver_range_match(&p->artifact.from_range, &v)))
		return 0;
	return !(parsed && fl_semver_cmp(&v, &p->artifact.semver) == 0);
}

static unsigned o_ntargets(const struct sim *S, size_t n)
{
	unsigned c = 0;

	for (uint32_t i = 0; i < n; i++)
		c += (unsigned)o_target(S, i);
	return c;
}

static int o_held(const struct sim *S, uint32_t i, int64_t now)
{
	const struct fl_plan *p = &S->tp.p;

	for (unsigned h = 0; h < p->nholds; h++) {
		const struct fl_plan_hold *x = &p->holds[h];

		if (S->hold_approved[h])
			continue;
		if ((x->has_from && now < x->from_unix_s) ||
		    (x->has_until && now > x->until_unix_s))
			continue;
		if (x->match.n == 0 || o_match(&x->match, &S->inv.d[i]))
			return 1;
	}
	return 0;
}

static int32_t o_offset(const struct sim *S, const char *zone, int64_t t)
{
	if (zone == NULL)
		return 0;
	if (strcmp(zone, "Fake/Plus2") == 0)
		return 7200;
	if (strcmp(zone, "Fake/DST") == 0)
		return t >= S->fz.dst_from && t < S->fz.dst_to ? 7200 : 3600;
	return 0;
}

static const char *o_device_zone(const struct fl_inv_device *d)
{
	if (d->tz && d->tz[0])
		return d->tz;
	for (unsigned l = 0; l < d->nlabels; l++)
		if (strcmp(d->labels[l].key, "tz") == 0)
			return d->labels[l].value;
	return NULL;
}

static int o_in_window(const struct sim *S, uint32_t i, int64_t now)
{
	const struct fl_plan *p = &S->tp.p;

	if (p->nwindows == 0 || p->device.activate != FL_PLAN_ACTIVATE_NOW)
		return 1;
	for (unsigned w = 0; w < p->nwindows; w++) {
		const struct fl_plan_window *x = &p->windows[w];
		const char *z =
			x->is_device_tz ? o_device_zone(&S->inv.d[i]) : x->tz;
		time_t lt = (time_t)(now + o_offset(S, z, now));
		struct tm tm;
		unsigned dow, prev, min;

		gmtime_r(&lt, &tm);
		dow = (unsigned)(tm.tm_wday + 6) % 7;
		prev = (dow + 6) % 7;
		min = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
		if (x->from_min < x->to_min) {
			if ((x->days_mask >> dow & 1) && min >= x->from_min &&
			    min < x->to_min)
				return 1;
		} else if (((x->days_mask >> dow & 1) && min >= x->from_min) ||
			   ((x->days_mask >> prev & 1) && min < x->to_min)) {
			return 1;
		}
	}
	return 0;
}

/* ---- the run
 * ----------------------------------------------------------------- */

static struct op *new_op(struct sim *S, unsigned type)
{
	struct op *o;

	assert_true(S->nops < MAX_OPS);
	o = &S->ops[S->nops++];
	memset(o, 0, sizeof(*o));
	o->type = (uint8_t)type;
	return o;
}

static void apply_op(struct sim *S, struct op *o)
{
	o->rc = fl_engine_apply(S->e, &o->ev);
	if (o->ev.kind == FL_EV_ONLINE || o->ev.kind == FL_EV_OFFLINE) {
		uint32_t d = o->ev.dev;

		if (S->presence_t[d] == INT64_MIN ||
		    o->ev.at_s >= S->presence_t[d]) {
			S->presence_t[d] = o->ev.at_s;
			S->online[d] = o->ev.kind == FL_EV_ONLINE;
		}
	}
	if (o->ev.kind == FL_EV_REVERTED && o->ev.dev < S->inv.n &&
	    S->offered[o->ev.dev])
		S->reverted[o->ev.dev] = 1;
	if (o->rc == 0 && o->ev.kind == FL_EV_PAUSE)
		S->paused = 1;
	if (o->rc == 0 && o->ev.kind == FL_EV_RESUME)
		S->paused = 0;
	if (o->rc == 0 && o->ev.kind == FL_EV_APPROVE)
		for (unsigned h = 0; h < S->tp.p.nholds; h++)
			if (strcmp(S->tp.p.holds[h].name, o->name) == 0)
				S->hold_approved[h] = 1;
}

static void random_events(struct sim *S)
{
	unsigned k = (unsigned)r(S, 9);

	for (unsigned j = 0; j < k; j++) {
		struct op *o = new_op(S, 0);
		unsigned x = (unsigned)r(S, 100);

		o->ev.at_s = S->now - (int64_t)r(S, 40);
		o->ev.dev = (uint32_t)r(S, S->inv.n);
		if (x < 70) {
			static const uint8_t kinds[] = {
				FL_EV_ACKED,	       FL_EV_DOWNLOADING,
				FL_EV_INSTALLED,       FL_EV_ACTIVATED,
				FL_EV_COMMITTED,       FL_EV_COMMITTED,
				FL_EV_COMMITTED,       FL_EV_FAILED,
				FL_EV_REVERTED,	       FL_EV_RETRY_LATER,
				FL_EV_REJECTED,	       FL_EV_ROLLBACK_DONE,
				FL_EV_ROLLBACK_FAILED, FL_EV_HEALTH,
				FL_EV_ONLINE,	       FL_EV_OFFLINE,
			};
			/* mostly devices that have an offer */
			for (int tries = 0; tries < 8 && !S->offered[o->ev.dev];
			     tries++)
				o->ev.dev = (uint32_t)r(S, S->inv.n);
			o->ev.kind = kinds[r(S, sizeof(kinds))];
			o->ev.reason = (uint8_t)r(S, 6);
			if (o->ev.kind == FL_EV_RETRY_LATER && r(S, 2))
				o->ev.retry_at_s = S->now + (int64_t)r(S, 900);
			if (o->ev.kind == FL_EV_HEALTH) {
				o->m[0].name = "crash_count";
				o->m[0].value = r(S, 3) == 0 ? 1 : 0;
				o->m[1].name = "other";
				o->ev.metrics = o->m;
				o->ev.nmetrics = 2;
			}
			if (o->ev.kind == FL_EV_ONLINE ||
			    o->ev.kind == FL_EV_OFFLINE)
				o->ev.at_s = S->now - (int64_t)r(S, 3);
		} else if (x < 80) {
			o->ev.kind = r(S, 2) ? FL_EV_ONLINE : FL_EV_OFFLINE;
		} else if (x < 84) {
			o->ev.kind = FL_EV_PAUSE;
		} else if (x < 90) {
			o->ev.kind = FL_EV_RESUME;
		} else if (x < 98) {
			unsigned pick = (unsigned)r(S, 8);

			o->ev.kind = FL_EV_APPROVE;
			if (pick < 5)
				snprintf(o->name, sizeof(o->name), "s%u", pick);
			else
				snprintf(o->name, sizeof(o->name), "h%u",
					 pick - 5);
			o->ev.name = o->name;
			o->ev.who = "rnd";
		} else if (x < 99) {
			o->ev.kind = r(S, 3) ? FL_EV_ROLLBACK : FL_EV_CANCEL;
			if (r(S, 3))
				o->ev.kind = FL_EV_PAUSE; /* keep them rare */
		} else {
			o->ev.kind = FL_EV_RESUME;
		}
		apply_op(S, o);
	}
}

static void check_offer(struct sim *S, const struct fl_decision *d)
{
	uint32_t i = d->dev;
	unsigned k = d->stage;
	const struct fl_plan_stage *ps = &S->tp.p.stages[k];

	CHECK(i < S->inv.n, "offer to dev %u of %zu", i, S->inv.n);
	CHECK(o_target(S, i), "offer to non-target %s", S->inv.d[i].id);
	CHECK(!o_held(S, i, S->now), "offer to held %s", S->inv.d[i].id);
	CHECK(o_in_window(S, i, S->now), "offer outside window to %s",
	      S->inv.d[i].id);
	CHECK(S->online[i], "offer to offline %s", S->inv.d[i].id);
	CHECK(!S->paused, "offer while paused");
	CHECK(!S->ended, "offer after rollback or cancel");
	CHECK(k < S->tp.p.nstages, "offer in stage %u", k);
	S->offered[i] = 1;
	if (ps->has_rate) {
		unsigned c = 1;

		for (unsigned j = 0; j < S->noffers[k]; j++)
			c += S->offer_times[k][j] >
			     S->now - (int64_t)ps->rate_period_s;
		CHECK(c <= ps->rate_count, "stage %u: %u offers in %u s", k, c,
		      ps->rate_period_s);
	}
	assert_true(S->noffers[k] < BIG);
	S->offer_times[k][S->noffers[k]++] = S->now;
}

static void check_started(struct sim *S, const struct fl_decision *d)
{
	const struct fl_plan_stage *ps = &S->tp.p.stages[d->stage];
	unsigned n = o_ntargets(S, S->inv.n), members = 0;
	uint64_t want;

	for (uint32_t i = 0; i < S->inv.n; i++) {
		struct fl_engine_device x = td_dev(S->e, i);

		if (x.stage != d->stage)
			continue;
		members++;
		CHECK(o_target(S, i), "member %s is no target", S->inv.d[i].id);
		if (ps->kind == FL_STAGE_MATCH)
			CHECK(o_match(&ps->match, &S->inv.d[i]),
			      "member does not match");
		if (ps->kind == FL_STAGE_DEVICES) {
			int listed = 0;

			for (unsigned j = 0; j < ps->ndevices; j++)
				listed |= strcmp(ps->devices[j],
						 S->inv.d[i].id) == 0;
			CHECK(listed, "member %s not listed", S->inv.d[i].id);
		}
	}
	CHECK(members == d->ref, "stage %u: %u members, said %u", d->stage,
	      members, d->ref);
	if (ps->kind == FL_STAGE_PERCENT) {
		want = ((uint64_t)ps->percent_ppm * n + FL_PPM - 1) / FL_PPM;
		want = want > S->started_ref_sum ? want - S->started_ref_sum
						 : 0;
		CHECK(d->ref == want, "percent stage %u: %u members, want %llu",
		      d->stage, d->ref, (unsigned long long)want);
	} else if (ps->kind == FL_STAGE_COUNT) {
		want = n - S->started_ref_sum;
		if (want > ps->count)
			want = ps->count;
		CHECK(d->ref == want, "count stage: %u members, want %llu",
		      d->ref, (unsigned long long)want);
	} else if (ps->kind == FL_STAGE_DEVICES) {
		CHECK(d->ref <= ps->ndevices, "devices stage too big");
	}
	S->started_ref_sum += d->ref;
}

/* Failures and judged of stage k, recounted from the devices. */
static void recount(struct sim *S, unsigned k, uint32_t cnt[FL_DEV_NSTATUS])
{
	memset(cnt, 0, sizeof(uint32_t) * FL_DEV_NSTATUS);
	for (uint32_t i = 0; i < S->inv.n; i++) {
		struct fl_engine_device x = td_dev(S->e, i);

		if (x.stage == k)
			cnt[x.status]++;
	}
}

static int rate_over(const struct fl_plan_health *h, uint64_t f, uint64_t j)
{
	int rule = h->has_max_failure_rate || !h->has_max_failures;
	uint64_t ppm = h->has_max_failure_rate ? h->max_failure_rate_ppm : 0;

	return rule && f > 0 && f * FL_PPM > ppm * j;
}

static void check_gates(struct sim *S, const struct fl_decision *d, size_t n)
{
	const struct fl_plan_health *h = &S->tp.p.health;
	struct fl_engine_status st;
	uint32_t cnt[FL_DEV_NSTATUS];

	for (size_t i = 0; i < n; i++) {
		if (d[i].kind != FL_DEC_STAGE_PASSED ||
		    d[i].why == FL_WHY_OVERRIDDEN)
			continue;
		recount(S, d[i].stage, cnt);
		CHECK(!(h->has_max_failures &&
			cnt[FL_DEV_FAILED] > h->max_failures),
		      "stage %u passed with %u failures", d[i].stage,
		      cnt[FL_DEV_FAILED]);
		CHECK(!rate_over(h, cnt[FL_DEV_FAILED],
				 cnt[FL_DEV_FAILED] + cnt[FL_DEV_SUCCEEDED]),
		      "stage %u passed with %u of %u failed", d[i].stage,
		      cnt[FL_DEV_FAILED],
		      cnt[FL_DEV_FAILED] + cnt[FL_DEV_SUCCEEDED]);
	}
	fl_engine_status(S->e, &st);
	for (unsigned k = 0; k < S->tp.p.nstages; k++) {
		struct fl_engine_stage sg = td_stage(S->e, k);
		uint32_t judged, min_eff;

		recount(S, k, cnt);
		for (unsigned x = 1; x < FL_DEV_NSTATUS; x++)
			CHECK(cnt[x] == sg.count[x],
			      "stage %u status %u: counted %u, engine %u", k, x,
			      cnt[x], sg.count[x]);
		if ((st.state != FL_ROLLOUT_RUNNING &&
		     st.state != FL_ROLLOUT_COMPLETE) ||
		    sg.is_overridden ||
		    (sg.state != FL_STAGE_RUNNING &&
		     sg.state != FL_STAGE_PASSED))
			continue;
		judged = cnt[FL_DEV_FAILED] + cnt[FL_DEV_SUCCEEDED];
		min_eff = h->has_min_devices ? h->min_devices : 0;
		if (min_eff > sg.members)
			min_eff = sg.members;
		CHECK(!(h->has_max_failures &&
			cnt[FL_DEV_FAILED] > h->max_failures),
		      "stage %u over max_failures, not failed", k);
		CHECK(!(judged >= min_eff &&
			rate_over(h, cnt[FL_DEV_FAILED], judged)),
		      "stage %u over the rate, not failed", k);
	}
}

static int owes_rb(const struct fl_engine_device *x)
{
	return x->rollback == FL_RB_SENT || x->rollback == FL_RB_UNREACHED;
}

/* After a step at S->now that was not cut short. */
static void check_rollback(struct sim *S, int64_t wake)
{
	struct fl_engine_status st;
	int64_t deadline = S->rb_start + S->tp.p.health.rollback_timeout_s;
	uint32_t unreached = 0, waited = 0, away = 0;

	fl_engine_status(S->e, &st);
	for (uint32_t i = 0; i < S->inv.n; i++) {
		struct fl_engine_device x = td_dev(S->e, i);

		/* "rollback unreached" is exactly: owed a result, offline */
		CHECK((x.rollback == FL_RB_UNREACHED) ==
			      (owes_rb(&x) && !S->online[i]),
		      "%s rollback %u online %u", S->inv.d[i].id, x.rollback,
		      S->online[i]);
		unreached += x.rollback == FL_RB_UNREACHED;
		if (owes_rb(&x) && (S->online[i] || S->now < deadline))
			waited++;
		if (owes_rb(&x) && !S->online[i])
			away++;
		if ((st.state == FL_ROLLOUT_ROLLING_BACK ||
		     st.state == FL_ROLLOUT_ROLLED_BACK) &&
		    x.progress >= FL_PROG_INSTALLED && !S->reverted[i])
			CHECK(x.rollback != FL_RB_NONE,
			      "%s installed, no rollback", S->inv.d[i].id);
	}
	CHECK(st.n_rollback_unreached == unreached, "unreached %u, counted %u",
	      st.n_rollback_unreached, unreached);
	if (st.state != FL_ROLLOUT_ROLLING_BACK)
		return;
	/* it does not linger: someone is still waited for ... */
	CHECK(waited > 0, "rolling back, nobody to wait for");
	/* ... and the deadline wakes it while someone is away */
	if (away > 0 && S->now < deadline)
		CHECK(wake <= deadline, "wake %lld after the deadline %lld",
		      (long long)wake, (long long)deadline);
}

static void do_step(struct sim *S)
{
	struct op *o = new_op(S, 1);
	size_t n;
	int64_t wake;
	int rc;

	o->now = S->now;
	assert_true(S->nlog + BIG <= MAX_LOG);
	o->log_from = S->nlog;
	rc = fl_engine_step(S->e, S->now, S->log + S->nlog, BIG, &n, &wake);
	CHECK(rc == 0, "step: %d", rc);
	CHECK(n < BIG, "output full");
	CHECK(wake > S->now, "wake %lld <= now %lld", (long long)wake,
	      (long long)S->now);
	o->log_to = S->nlog + n;
	for (size_t i = 0; i < n; i++) {
		const struct fl_decision *d = &S->log[S->nlog + i];

		CHECK(d->at_s == S->now, "decision time");
		g_kinds[d->kind & 31]++;
		if (d->kind == FL_DEC_WAIT)
			g_whys[d->why & 31]++;
		switch (d->kind) {
		case FL_DEC_OFFER: check_offer(S, d); break;
		case FL_DEC_STAGE_STARTED: check_started(S, d); break;
		case FL_DEC_PAUSED: S->paused = 1; break;
		case FL_DEC_RESUMED: S->paused = 0; break;
		case FL_DEC_ROLLBACK_STARTED:
			S->rb_start = d->at_s;
			S->ended = 1;
			break;
		case FL_DEC_CANCELLED: S->ended = 1; break;
		case FL_DEC_ROLLED_BACK:
			/* every device still owing a result is offline, and
			 * its deadline has passed */
			for (uint32_t j = 0; j < S->inv.n; j++) {
				struct fl_engine_device x = td_dev(S->e, j);

				CHECK(!owes_rb(&x) ||
					      (!S->online[j] &&
					       S->now >=
						       S->rb_start +
							       S->tp.p.health
								       .rollback_timeout_s),
				      "rolled back while %s is due",
				      S->inv.d[j].id);
			}
			break;
		case FL_DEC_ROLLBACK_DEVICE:
		case FL_DEC_CANCEL:
			CHECK(d->dev < S->inv.n && S->offered[d->dev],
			      "remedy to a device never offered");
			break;
		default: break;
		}
	}
	if (getenv("FL_RANDOM_DEBUG"))
		for (unsigned k = 0; k < S->tp.p.nstages; k++) {
			struct fl_engine_stage sg = td_stage(S->e, k);

			print_message(
				"tick %u now %lld stage %u state %u ov %u "
				"members %u pend %u held %u unr %u def %u "
				"fl %u ok %u fail %u\n",
				g_tick, (long long)S->now, k, sg.state,
				sg.is_overridden, sg.members, sg.count[1],
				sg.count[2], sg.count[3], sg.count[4],
				sg.count[5], sg.count[6], sg.count[7]);
		}
	check_gates(S, S->log + S->nlog, n);
	check_rollback(S, wake);
	S->nlog += n;
}

static struct fl_engine *create(struct sim *S, size_t n)
{
	struct fl_engine_config cfg;
	struct fl_engine *e = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.tz = &S->tz;
	assert_int_equal(fl_engine_create(&e, &S->tp.p, &cfg, S->inv.d, n), 0);
	return e;
}

static void dump(const char *what, const struct fl_decision *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		print_message("%s %zu: %s %s stage %u dev %u ref %u\n", what, i,
			      fl_decision_kind_name(d[i].kind),
			      fl_why_name(d[i].why), d[i].stage, d[i].dev,
			      d[i].ref);
}

static void dump_diff(const struct fl_decision *a, size_t na,
		      const struct fl_decision *b, size_t nb)
{
	dump("replay", a, na);
	dump("first ", b, nb);
}

/* Replays the recorded calls; max_chunk 0: the same max as recorded, else
 * random pieces of at most max_chunk, checked against the log. */
static void replay(struct sim *S, unsigned max_chunk)
{
	struct fl_engine *e = create(S, S->n0);
	struct fl_decision *buf = malloc(sizeof(*buf) * BIG);
	uint64_t rr = g_seed ^ 0x5bd1e995;

	assert_non_null(buf);
	for (unsigned j = 0; j < S->nops; j++) {
		struct op *o = &S->ops[j];
		size_t got = 0, n;
		int64_t wake;

		g_tick = j;
		if (o->type == 0) {
			CHECK(fl_engine_apply(e, &o->ev) == o->rc,
			      "replay: apply differs");
			continue;
		}
		if (o->type == 2) {
			CHECK(fl_engine_sync_inventory(e, S->inv.d, o->n_inv) ==
				      0,
			      "replay: sync");
			continue;
		}
		do {
			size_t max = max_chunk == 0
					     ? BIG
					     : 1 + rng_next(&rr) % max_chunk;

			assert_int_equal(fl_engine_step(e, o->now, buf + got,
							max, &n, &wake),
					 0);
			got += n;
			assert_true(got <= BIG);
		} while (max_chunk != 0 && wake == o->now && n > 0);
		if (got != o->log_to - o->log_from ||
		    memcmp(buf, S->log + o->log_from, got * sizeof(*buf)) != 0)
			dump_diff(buf, got, S->log + o->log_from,
				  o->log_to - o->log_from);
		CHECK(got == o->log_to - o->log_from,
		      "replay (chunk %u) gave %zu decisions, not %zu",
		      max_chunk, got, o->log_to - o->log_from);
		CHECK(memcmp(buf, S->log + o->log_from, got * sizeof(*buf)) ==
			      0,
		      "replay (chunk %u) differs", max_chunk);
	}
	fl_engine_free(e);
	free(buf);
}

static void run_one(struct sim *S, unsigned long long seed,
		    struct fl_decision *log)
{
	size_t ndev;

	memset(S, 0, sizeof(*S));
	S->log = log;
	g_seed = seed;
	S->rng = seed;
	S->now = 1767225600LL + (int64_t)r(S, 86400 * 14);
	S->fz.dst_from = S->now + (int64_t)r(S, 86400);
	S->fz.dst_to = S->fz.dst_from + (int64_t)r(S, 86400 * 2);
	S->tz.utc_offset = fake_tz_offset;
	S->tz.ctx = &S->fz;
	gen_plan(S);
	ndev = 10 + (size_t)r(S, 100);
	ti_init(&S->inv, MAX_DEV);
	for (size_t i = 0; i < ndev; i++)
		add_device(S);
	S->n0 = S->inv.n;
	S->e = create(S, S->n0);
	for (g_tick = 0; g_tick < TICKS; g_tick++) {
		if (r(S, 30) == 0 && S->inv.n + 3 < MAX_DEV) {
			struct op *o = new_op(S, 2);

			for (unsigned j = 1 + (unsigned)r(S, 3); j > 0; j--)
				add_device(S);
			o->n_inv = S->inv.n;
			CHECK(fl_engine_sync_inventory(S->e, S->inv.d,
						       S->inv.n) == 0,
			      "sync");
		}
		random_events(S);
		do_step(S);
		S->now += r(S, 10) == 0 ? (int64_t)r(S, 7200)
					: (int64_t)r(S, 300);
	}
	fl_engine_free(S->e);
	replay(S, 0);
	replay(S, 1 + (unsigned)(seed % 5));
	ti_free(&S->inv);
}

static void test_engine_random__invariants_hold_and_replays_agree(void **s)
{
	struct sim *S = calloc(1, sizeof(*S));
	const char *env_seed = getenv("FL_RANDOM_SEED");
	const char *env_iters = getenv("FL_RANDOM_ITERS");
	unsigned long long base = 20260101;
	unsigned iters = 3000;
	struct fl_decision *log = malloc(sizeof(*log) * MAX_LOG);

	(void)s;
	assert_non_null(S);
	assert_non_null(log);
	if (env_iters != NULL)
		iters = (unsigned)strtoul(env_iters, NULL, 10);
	if (env_seed != NULL) {
		base = strtoull(env_seed, NULL, 10);
		iters = env_iters ? iters : 1;
	}
	for (unsigned it = 0; it < iters; it++) {
		run_one(S, base + it, log);
	}
	if (getenv("FL_RANDOM_STATS") != NULL) {
		for (unsigned k = 1; k <= FL_DEC_CANCELLED; k++)
			print_message("%-22s %lu\n", fl_decision_kind_name(k),
				      g_kinds[k]);
		for (unsigned w = FL_WHY_HOLD; w <= FL_WHY_RATE; w++)
			print_message("wait %-17s %lu\n", fl_why_name(w),
				      g_whys[w]);
	}
	free(log);
	free(S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_engine_random__invariants_hold_and_replays_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
