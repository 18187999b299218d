/*
 * test_engine.c -- the rollout engine, one rule of PLAN-LANGUAGE.md
 * "Meaning" at a time: targets, membership (stable, stratified,
 * cumulative, every stage kind, late joiners), soak, the gate (pass, early
 * failure, min_devices, max_failures, unreached), timeouts, holds,
 * windows (device zone, IANA zone, daylight saving, midnight), rate,
 * approvals, pause and resume, rollback by hand and by gate, cancel,
 * idempotent events, determinism, bounded output and allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine_fixture.h"
#include "fl/tzfile.h"

#define T0 1767225600LL /* 2026-01-01T00:00:00Z, a Thursday */
#define H  3600
#define D  86400

static struct fl_engine *mk(struct tplan *t, struct tinv *v,
			    const struct fl_tz_ops *tz)
{
	struct fl_engine_config cfg;
	struct fl_engine *e = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.tz = tz;
	assert_int_equal(fl_engine_create(&e, &t->p, &cfg, v->d, v->n), 0);
	return e;
}

static struct tdrive *drive(struct fl_engine *e)
{
	struct tdrive *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->e = e;
	return t;
}

static void done(struct tdrive *t, struct tinv *v)
{
	fl_engine_free(t->e);
	free(t);
	ti_free(v);
}

/* n devices "d000".. of model m1, online, version 1.0.0, no labels. */
static void plain_inv(struct tinv *v, unsigned n)
{
	char id[16];

	ti_init(v, n + 64);
	for (unsigned i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "d%03u", i);
		ti_add(v, id, "m1", NULL, "1.0.0", NULL, NULL, 1);
	}
}

/* Every offer in t's last output goes through the happy path at `at`. */
static unsigned succeed_offers(struct tdrive *t, int64_t at)
{
	unsigned c = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->d[i].kind == FL_DEC_OFFER) {
			ev_success_path(t->e, t->d[i].dev, at);
			c++;
		}
	return c;
}

/* ---- targets ------------------------------------------------------------- */

static void test_engine__targets_follow_model_labels_version_exclude(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	unsigned nt[FL_NT_DUPLICATE + 1] = {0};

	(void)s;
	tp_init(&tp, "r1");
	tp.p.artifact.from = ">=1.0.0 <2.0.0";
	fl_semver_range_parse(&tp.p.artifact.from_range, tp.p.artifact.from);
	tp_match_add(&tp.p.targets.match, &tp.target_match, "region", "eu",
		     "us");
	tp.exclude[0] = "x-excluded";
	tp.p.targets.nexclude = 1;
	tp_percent(&tp, 100);
	ti_init(&v, 16);
	ti_add(&v, "ok", "m1", "eu", "1.0.0", NULL, NULL, 1);
	ti_add(&v, "bad-model", "mX", "eu", "1.0.0", NULL, NULL, 1);
	ti_add(&v, "bad-region", "m1", "ap", "1.0.0", NULL, NULL, 1);
	ti_add(&v, "no-region", "m1", NULL, "1.0.0", NULL, NULL, 1);
	ti_add(&v, "x-excluded", "m2", "us", "1.5.0", NULL, NULL, 1);
	ti_add(&v, "unknown-ver", "m1", "us", NULL, NULL, NULL, 1);
	ti_add(&v, "garbage-ver", "m1", "us", "one.two", NULL, NULL, 1);
	ti_add(&v, "old-ver", "m1", "us", "0.9.0", NULL, NULL, 1);
	ti_add(&v, "ok", "m2", "us", "1.1.0", NULL, NULL, 1); /* dup id */
	ti_add(&v, "no-model", NULL, "us", "1.1.0", NULL, NULL, 1);
	ti_add(&v, "ok2", "m3", "us", "1.9.9", NULL, NULL, 1);
	t = drive(mk(&tp, &v, NULL));
	for (uint32_t i = 0; i < v.n; i++)
		nt[td_dev(t->e, i).not_target]++;
	assert_int_equal(nt[FL_NT_NONE], 2);
	assert_int_equal(nt[FL_NT_MODEL], 2);
	assert_int_equal(nt[FL_NT_LABELS], 2);
	assert_int_equal(nt[FL_NT_EXCLUDED], 1);
	assert_int_equal(nt[FL_NT_VERSION], 3);
	assert_int_equal(nt[FL_NT_DUPLICATE], 1);
	assert_int_equal(td_step(t, T0), 0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	assert_non_null(td_find(t, FL_DEC_OFFER, 0));
	assert_non_null(td_find(t, FL_DEC_OFFER, 10));
	done(t, &v);
}

static void
test_engine__no_from_unknown_version_is_target_current_is_not(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;

	(void)s;
	tp_init(&tp, "r1");
	tp_percent(&tp, 100);
	ti_init(&v, 4);
	ti_add(&v, "a", "m1", NULL, NULL, NULL, NULL, 1);
	ti_add(&v, "b", "m1", NULL, "2.0.0", NULL, NULL, 1);
	ti_add(&v, "c", "m1", NULL, "2.0.0-rc.1", NULL, NULL, 1);
	t = drive(mk(&tp, &v, NULL));
	assert_int_equal(td_dev(t->e, 0).is_target, 1);
	assert_int_equal(td_dev(t->e, 1).not_target, FL_NT_CURRENT);
	assert_int_equal(td_dev(t->e, 2).is_target, 1);
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	assert_null(td_find(t, FL_DEC_OFFER, 1));
	done(t, &v);
}

/* ---- membership ------------------------------------------------------------
 */

static void test_engine__percent_is_cumulative_and_rounds_up(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;

	(void)s;
	tp_init(&tp, "r1");
	tp_percent(&tp, 10);
	tp_percent(&tp, 25);
	tp_percent(&tp, 100);
	plain_inv(&v, 10);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(
		td_find(t, FL_DEC_STAGE_STARTED, FL_ENGINE_NO_DEV)->ref, 1);
	assert_int_equal(succeed_offers(t, T0), 1);
	td_step(t, T0 + 1);
	assert_non_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	/* ceil(25% of 10) = 3 cumulative: 2 more */
	assert_int_equal(
		td_find(t, FL_DEC_STAGE_STARTED, FL_ENGINE_NO_DEV)->ref, 2);
	assert_int_equal(succeed_offers(t, T0 + 1), 2);
	td_step(t, T0 + 2);
	assert_int_equal(
		td_find(t, FL_DEC_STAGE_STARTED, FL_ENGINE_NO_DEV)->ref, 7);
	assert_int_equal(succeed_offers(t, T0 + 2), 7);
	td_step(t, T0 + 3);
	assert_non_null(td_find(t, FL_DEC_COMPLETE, FL_ENGINE_NO_DEV));
	assert_int_equal(t->wake, FL_ENGINE_NEVER);
	/* a rollback by hand still works after completion */
	assert_int_equal(ev_op(t->e, FL_EV_ROLLBACK, NULL, "op", T0 + 9), 0);
	td_step(t, T0 + 10);
	assert_int_equal(td_count(t, FL_DEC_ROLLBACK_DEVICE), 10);
	done(t, &v);
}

/* Members of stage 0 of a count-20 stage, as a sorted list of ids. */
static void members_of(struct tinv *v, const char *rollout, char out[][16],
		       unsigned n)
{
	struct tplan tp;
	struct tdrive *t;
	unsigned c = 0;

	tp_init(&tp, rollout);
	tp_count(&tp, n);
	tp_percent(&tp, 100);
	t = drive(mk(&tp, v, NULL));
	td_step(t, T0);
	for (size_t i = 0; i < t->n; i++)
		if (t->d[i].kind == FL_DEC_OFFER)
			snprintf(out[c++], 16, "%s", v->d[t->d[i].dev].id);
	assert_int_equal(c, n);
	qsort(out, n, 16, (int (*)(const void *, const void *))strcmp);
	fl_engine_free(t->e);
	free(t);
}

static void test_engine__membership_is_stable_and_order_independent(void **s)
{
	struct tinv a, b, c;
	char ma[20][16], mb[20][16], mc[20][16], mo[20][16];
	char id[16];

	(void)s;
	memset(ma, 0, sizeof(ma));
	memset(mb, 0, sizeof(mb));
	memset(mc, 0, sizeof(mc));
	memset(mo, 0, sizeof(mo));
	ti_init(&a, 300);
	ti_init(&b, 300);
	ti_init(&c, 300);
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "dev-%04d", i);
		ti_add(&a, id, i % 3 ? "m1" : "m2", i % 2 ? "eu" : "us",
		       "1.0.0", NULL, NULL, 1);
		snprintf(id, sizeof(id), "dev-%04d", 299 - i);
		ti_add(&b, id, (299 - i) % 3 ? "m1" : "m2",
		       (299 - i) % 2 ? "eu" : "us", "1.0.0", NULL, NULL, 1);
		snprintf(id, sizeof(id), "dev-%04d", i);
		ti_add(&c, id, i % 3 ? "m1" : "m2", i % 2 ? "eu" : "us",
		       "1.0.0", NULL, NULL, 1);
	}
	members_of(&a, "r1", ma, 20);
	members_of(&b, "r1", mb, 20);
	members_of(&c, "r1", mc, 20);
	assert_memory_equal(ma, mb, sizeof(ma));
	assert_memory_equal(ma, mc, sizeof(ma));
	/* another rollout name draws other devices */
	members_of(&a, "r2", mo, 20);
	assert_true(memcmp(ma, mo, sizeof(ma)) != 0);
	ti_free(&a);
	ti_free(&b);
	ti_free(&c);
}

/* Four strata of sizes n[0..3]; checks each cumulative stage is within one
 * device of its exact proportional share per stratum, and never shrinks. */
static void check_strata(const unsigned n[4], const double pct[], unsigned npct)
{
	static const char *models[4] = {"m1", "m1", "m2", "m2"};
	static const char *regions[4] = {"eu", "us", "eu", "us"};
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	unsigned total = 0, prev[4] = {0}, cum[4] = {0};
	char id[32];

	tp_init(&tp, "strata");
	for (unsigned k = 0; k < npct; k++)
		tp_percent(&tp, pct[k]);
	for (int k = 0; k < 4; k++)
		total += n[k];
	ti_init(&v, total);
	for (int k = 0; k < 4; k++)
		for (unsigned i = 0; i < n[k]; i++) {
			snprintf(id, sizeof(id), "s%d-%u", k, i);
			ti_add(&v, id, models[k], regions[k], "1.0.0", NULL,
			       NULL, 1);
		}
	t = drive(mk(&tp, &v, NULL));
	for (unsigned k = 0; k < npct; k++) {
		unsigned c = 0;

		td_step(t, T0 + k);
		for (size_t i = 0; i < t->n; i++) {
			if (t->d[i].kind != FL_DEC_OFFER)
				continue;
			cum[v.d[t->d[i].dev].id[1] - '0']++;
			c++;
		}
		assert_int_equal(
			c, (unsigned)((pct[k] * total + 99.999) / 100) -
				   (prev[0] + prev[1] + prev[2] + prev[3]));
		for (int x = 0; x < 4; x++) {
			double q = (double)(cum[0] + cum[1] + cum[2] + cum[3]) *
				   n[x] / total;

			assert_true(cum[x] + 1.0 > q && cum[x] < q + 1.0);
			assert_true(cum[x] >= prev[x]);
			prev[x] = cum[x];
		}
		succeed_offers(t, T0 + k);
	}
	done(t, &v);
}

static void test_engine__stages_spread_across_models_and_regions(void **s)
{
	static const unsigned even[4] = {450, 450, 150, 150};
	static const unsigned odd[4] = {500, 300, 150, 50};
	static const unsigned tiny[4] = {97, 2, 1, 1};
	static const double p1[] = {10, 35, 50, 100};
	static const double p2[] = {1, 7, 33, 66, 100};

	(void)s;
	check_strata(even, p1, 4);
	check_strata(odd, p2, 5);
	check_strata(tiny, p2, 5);
}

static void
test_engine__devices_stage_takes_listed_targets_and_notes_others(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_plan_stage *st;
	const struct fl_decision *d;

	(void)s;
	tp_init(&tp, "r1");
	st = tp_stage(&tp, FL_STAGE_DEVICES);
	st->devices[0] = "d003";
	st->devices[1] = "nope";
	st->devices[2] = "x";
	st->devices[3] = "d003";
	st->ndevices = 4;
	st = tp_stage(&tp, FL_STAGE_DEVICES);
	st->devices[0] = "d003";
	st->devices[1] = "d005";
	st->ndevices = 2;
	tp_percent(&tp, 100);
	plain_inv(&v, 8);
	ti_add(&v, "x", "mX", NULL, "1.0.0", NULL, NULL, 1);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 1);
	assert_non_null(td_find(t, FL_DEC_OFFER, 3));
	assert_int_equal(td_count(t, FL_DEC_STAGE_SKIPPED_DEVICE), 2);
	d = td_find(t, FL_DEC_STAGE_SKIPPED_DEVICE, FL_ENGINE_NO_DEV);
	assert_int_equal(d->why, FL_WHY_UNKNOWN_DEVICE);
	assert_int_equal(d->ref, 1);
	assert_int_equal(d[1].why, FL_WHY_NOT_TARGET);
	assert_int_equal(d[1].ref, 2);
	succeed_offers(t, T0);
	td_step(t, T0 + 1);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 1);
	assert_non_null(td_find(t, FL_DEC_OFFER, 5));
	d = td_find(t, FL_DEC_STAGE_SKIPPED_DEVICE, FL_ENGINE_NO_DEV);
	assert_int_equal(d->why, FL_WHY_ALREADY_MEMBER);
	assert_int_equal(d->stage, 1);
	done(t, &v);
}

static void test_engine__count_and_match_stages(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_plan_stage *st;
	char id[16];

	(void)s;
	tp_init(&tp, "r1");
	st = tp_stage(&tp, FL_STAGE_MATCH);
	tp_match_add(&st->match, &tp.stage_match[0], "ring", "canary", NULL);
	tp_count(&tp, 3);
	tp_count(&tp, 1000);
	ti_init(&v, 32);
	for (int i = 0; i < 12; i++) {
		snprintf(id, sizeof(id), "d%02d", i);
		ti_add(&v, id, "m1", NULL, "1.0.0", NULL,
		       i % 4 == 0 ? "canary" : "main", 1);
	}
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 3);
	for (size_t i = 0; i < t->n; i++)
		if (t->d[i].kind == FL_DEC_OFFER)
			assert_int_equal(t->d[i].dev % 4, 0);
	succeed_offers(t, T0);
	td_step(t, T0 + 1);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 3);
	succeed_offers(t, T0 + 1);
	td_step(t, T0 + 2); /* the pool has 6 left: count 1000 takes them */
	assert_int_equal(td_count(t, FL_DEC_OFFER), 6);
	done(t, &v);
}

static void test_engine__empty_stage_passes_at_once(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_plan_stage *st;

	(void)s;
	tp_init(&tp, "r1");
	st = tp_stage(&tp, FL_STAGE_MATCH);
	tp_match_add(&st->match, &tp.stage_match[0], "ring", "nobody", NULL);
	tp_percent(&tp, 100);
	plain_inv(&v, 4);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(t->d[0].kind, FL_DEC_STAGE_STARTED);
	assert_int_equal(t->d[0].ref, 0);
	assert_int_equal(t->d[1].kind, FL_DEC_STAGE_PASSED);
	assert_int_equal(t->d[2].kind, FL_DEC_STAGE_STARTED);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 4);
	done(t, &v);
}

static void test_engine__late_joiners_go_to_the_next_stage(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_engine_status st;

	(void)s;
	tp_init(&tp, "r1");
	tp_count(&tp, 2);
	tp_percent(&tp, 100);
	plain_inv(&v, 10);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	ti_add(&v, "late1", "m2", NULL, "1.0.0", NULL, NULL, 1);
	ti_add(&v, "late2", "m9", NULL, "1.0.0", NULL, NULL, 1);
	assert_int_equal(fl_engine_sync_inventory(t->e, v.d, v.n), 0);
	assert_int_equal(td_dev(t->e, 10).is_target, 1);
	assert_int_equal(td_dev(t->e, 10).status, FL_DEV_NONE);
	succeed_offers(t, T0);
	td_step(t, T0 + 1);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 9);
	assert_non_null(td_find(t, FL_DEC_OFFER, 10));
	assert_null(td_find(t, FL_DEC_OFFER, 11));
	/* after the last stage started: counted, not placed */
	ti_add(&v, "late3", "m1", NULL, "1.0.0", NULL, NULL, 1);
	assert_int_equal(fl_engine_sync_inventory(t->e, v.d, v.n), 0);
	succeed_offers(t, T0 + 1);
	td_step(t, T0 + 2);
	assert_null(td_find(t, FL_DEC_OFFER, 12));
	fl_engine_status(t->e, &st);
	assert_int_equal(st.n_unplaced, 1);
	assert_int_equal(st.state, FL_ROLLOUT_COMPLETE);
	/* shrinking or bad entries are refused */
	assert_int_equal(fl_engine_sync_inventory(t->e, v.d, 3), FL_EINVAL);
	done(t, &v);
}

/* ---- soak, gate
 * -------------------------------------------------------------- */

static void test_engine__device_succeeds_after_stage_soak(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.soak_s = 600;
	tp_count(&tp, 1)->soak_s = 1800;
	tp.stages[0].has_soak = 1;
	tp_percent(&tp, 100);
	plain_inv(&v, 3);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	uint32_t d0 = td_find(t, FL_DEC_OFFER, FL_ENGINE_NO_DEV)->dev;

	ev_success_path(t->e, d0, T0 + 10);
	td_step(t, T0 + 20);
	assert_int_equal(t->n, 0);
	assert_int_equal(t->wake, T0 + 10 + 1800);
	td_step(t, T0 + 10 + 1799);
	assert_int_equal(t->n, 0);
	td_step(t, T0 + 10 + 1800);
	assert_non_null(td_find(t, FL_DEC_DEVICE_SUCCEEDED, d0));
	assert_non_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	/* stage 1 soaks health.soak */
	for (size_t i = 0; i < t->n; i++)
		if (t->d[i].kind == FL_DEC_OFFER)
			ev_success_path(t->e, t->d[i].dev, T0 + 2000);
	td_step(t, T0 + 2000);
	assert_int_equal(t->wake, T0 + 2600);
	td_step(t, T0 + 2600);
	assert_int_equal(td_count(t, FL_DEC_DEVICE_SUCCEEDED), 2);
	done(t, &v);
}

/* 100 devices, one stage; rate 5%, min_devices 10. */
static struct tdrive *gate_setup(struct tplan *tp, struct tinv *v)
{
	struct tdrive *t;

	tp_init(tp, "r1");
	tp->p.health.has_max_failure_rate = 1;
	tp->p.health.max_failure_rate_ppm = 50000;
	tp->p.health.has_min_devices = 1;
	tp->p.health.min_devices = 10;
	tp_percent(tp, 100);
	plain_inv(v, 100);
	t = drive(mk(tp, v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 100);
	return t;
}

static void test_engine__gate_fails_early_once_min_devices_judged(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t = gate_setup(&tp, &v);
	struct fl_engine_status st;
	const struct fl_decision *d;

	(void)s;
	ev_fail(t->e, 0, T0 + 1);
	td_step(t, T0 + 2);
	assert_null(td_find(t, FL_DEC_STAGE_FAILED, FL_ENGINE_NO_DEV));
	for (uint32_t i = 1; i <= 8; i++)
		ev_success_path(t->e, i, T0 + 3);
	td_step(t, T0 + 4); /* 1 of 9 judged: not yet */
	assert_int_equal(td_count(t, FL_DEC_DEVICE_SUCCEEDED), 8);
	assert_null(td_find(t, FL_DEC_STAGE_FAILED, FL_ENGINE_NO_DEV));
	ev_dev(t->e, FL_EV_INSTALLED, 9, T0 + 5);
	ev_success_path(t->e, 10, T0 + 5);
	td_step(t, T0 + 6); /* 1 of 10 = 10% > 5% */
	d = td_find(t, FL_DEC_STAGE_FAILED, FL_ENGINE_NO_DEV);
	assert_non_null(d);
	assert_int_equal(d->why, FL_WHY_FAILURE_RATE);
	d = td_find(t, FL_DEC_ROLLBACK_STARTED, FL_ENGINE_NO_DEV);
	assert_non_null(d);
	assert_int_equal(d->why, FL_WHY_GATE);
	assert_int_equal(d->stage, 0);
	/* 9 succeeded + 1 installed get a rollback; 89 live offers a cancel;
	 * the failed one had nothing installed and stopped by itself */
	assert_int_equal(td_count(t, FL_DEC_ROLLBACK_DEVICE), 10);
	assert_int_equal(td_count(t, FL_DEC_CANCEL), 89);
	assert_null(td_find(t, FL_DEC_CANCEL, 0));
	assert_null(td_find(t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	for (uint32_t i = 1; i <= 9; i++)
		ev_dev(t->e, FL_EV_ROLLBACK_DONE, i, T0 + 7);
	td_step(t, T0 + 8);
	assert_null(td_find(t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	ev_dev(t->e, FL_EV_ROLLBACK_FAILED, 10, T0 + 9);
	ev_dev(t->e, FL_EV_ROLLBACK_DONE, 10, T0 + 9);	 /* retried: done */
	ev_dev(t->e, FL_EV_ROLLBACK_FAILED, 10, T0 + 9); /* stale */
	td_step(t, T0 + 10);
	assert_non_null(td_find(t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	fl_engine_status(t->e, &st);
	assert_int_equal(st.state, FL_ROLLOUT_ROLLED_BACK);
	assert_int_equal(st.n_rollback_sent, 10);
	assert_int_equal(st.n_rollback_done, 10);
	assert_int_equal(st.n_rollback_failed, 0);
	assert_int_equal(td_dev(t->e, 10).rollback, FL_RB_DONE);
	done(t, &v);
}

static void test_engine__gate_fails_when_failures_exceed_max(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.has_max_failures = 1;
	tp.p.health.max_failures = 2;
	tp.p.health.on_failure = FL_ON_FAILURE_PAUSE;
	tp_percent(&tp, 100);
	plain_inv(&v, 50);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	ev_fail(t->e, 0, T0 + 1);
	ev_fail(t->e, 1, T0 + 1);
	ev_fail(t->e, 1, T0 + 2); /* counted once */
	td_step(t, T0 + 3);
	assert_null(td_find(t, FL_DEC_STAGE_FAILED, FL_ENGINE_NO_DEV));
	assert_int_equal(td_stage(t->e, 0).failed, 2);
	ev_fail(t->e, 2, T0 + 4);
	td_step(t, T0 + 5);
	assert_int_equal(td_find(t, FL_DEC_STAGE_FAILED, FL_ENGINE_NO_DEV)->why,
			 FL_WHY_MAX_FAILURES);
	assert_int_equal(td_find(t, FL_DEC_PAUSED, FL_ENGINE_NO_DEV)->why,
			 FL_WHY_GATE);
	assert_null(td_find(t, FL_DEC_ROLLBACK_STARTED, FL_ENGINE_NO_DEV));
	done(t, &v);
}

static void test_engine__small_stage_is_judged_on_all_members(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_plan_stage *st;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.has_max_failure_rate = 1;
	tp.p.health.max_failure_rate_ppm = 50000;
	tp.p.health.has_min_devices = 1;
	tp.p.health.min_devices = 10;
	st = tp_stage(&tp, FL_STAGE_DEVICES);
	st->devices[0] = "d000";
	st->devices[1] = "d001";
	st->devices[2] = "d002";
	st->ndevices = 3;
	tp_percent(&tp, 100);
	plain_inv(&v, 30);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	ev_fail(t->e, 0, T0 + 1);
	ev_success_path(t->e, 1, T0 + 1);
	td_step(t, T0 + 2);
	assert_null(td_find(t, FL_DEC_STAGE_FAILED, FL_ENGINE_NO_DEV));
	ev_success_path(t->e, 2, T0 + 3);
	td_step(t, T0 + 4);
	assert_non_null(td_find(t, FL_DEC_STAGE_FAILED, FL_ENGINE_NO_DEV));
	assert_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	done(t, &v);
}

static void test_engine__unreached_are_excluded_and_retried(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_engine_stage st;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.has_max_failure_rate = 1;
	tp.p.health.max_failure_rate_ppm = 200000;
	tp_percent(&tp, 100);
	plain_inv(&v, 10);
	v.d[7].is_online = v.d[8].is_online = v.d[9].is_online = 0;
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 7);
	assert_int_equal(td_count(t, FL_DEC_DEVICE_UNREACHED), 3);
	succeed_offers(t, T0);
	td_step(t, T0 + 1);
	assert_non_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	assert_non_null(td_find(t, FL_DEC_COMPLETE, FL_ENGINE_NO_DEV));
	st = td_stage(t->e, 0);
	assert_int_equal(st.judged, 7);
	assert_int_equal(st.count[FL_DEV_UNREACHED], 3);
	ev_dev(t->e, FL_EV_ONLINE, 8, T0 + 100);
	td_step(t, T0 + 101);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 1);
	assert_non_null(td_find(t, FL_DEC_OFFER, 8));
	ev_fail(t->e, 8, T0 + 102);
	td_step(t, T0 + 103); /* 1 of 8 = 12.5% <= 20%: still fine */
	st = td_stage(t->e, 0);
	assert_int_equal(st.judged, 8);
	assert_int_equal(st.failed, 1);
	assert_int_equal(t->n, 0);
	/* offered, then gone before acknowledging: unreached, offered again
	 * when back */
	ev_dev(t->e, FL_EV_ONLINE, 9, T0 + 200);
	td_step(t, T0 + 200);
	assert_non_null(td_find(t, FL_DEC_OFFER, 9));
	ev_dev(t->e, FL_EV_OFFLINE, 9, T0 + 201);
	assert_int_equal(td_dev(t->e, 9).status, FL_DEV_UNREACHED);
	ev_dev(t->e, FL_EV_ONLINE, 9, T0 + 150); /* stale presence */
	assert_int_equal(td_dev(t->e, 9).status, FL_DEV_UNREACHED);
	ev_dev(t->e, FL_EV_ONLINE, 9, T0 + 300);
	td_step(t, T0 + 300);
	assert_non_null(td_find(t, FL_DEC_OFFER, 9));
	done(t, &v);
}

static void test_engine__stage_of_only_unreached_waits(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;

	(void)s;
	tp_init(&tp, "r1");
	tp_count(&tp, 2);
	tp_percent(&tp, 100);
	plain_inv(&v, 2);
	v.d[0].is_online = v.d[1].is_online = 0;
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_DEVICE_UNREACHED), 2);
	td_step(t, T0 + 1000);
	assert_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	assert_int_equal(t->wake, FL_ENGINE_NEVER);
	ev_dev(t->e, FL_EV_ONLINE, 1, T0 + 2000);
	td_step(t, T0 + 2000);
	assert_non_null(td_find(t, FL_DEC_OFFER, 1));
	succeed_offers(t, T0 + 2000);
	td_step(t, T0 + 2001);
	assert_non_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	done(t, &v);
}

static void test_engine__timeout_fails_and_cancels_or_rolls_back(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	const struct fl_decision *d;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.timeout_s = H;
	tp.p.health.has_max_failures = 1;
	tp.p.health.max_failures = 10;
	tp_percent(&tp, 100);
	plain_inv(&v, 3);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	ev_dev(t->e, FL_EV_INSTALLED, 1, T0 + 60);
	ev_success_path(t->e, 2, T0 + 60);
	td_step(t, T0 + 61);
	assert_int_equal(t->wake, T0 + H);
	td_step(t, T0 + H - 1);
	assert_null(td_find(t, FL_DEC_DEVICE_FAILED, FL_ENGINE_NO_DEV));
	td_step(t, T0 + H);
	d = td_find(t, FL_DEC_DEVICE_FAILED, 0);
	assert_non_null(d);
	assert_int_equal(d->why, FL_WHY_TIMEOUT);
	assert_non_null(td_find(t, FL_DEC_CANCEL, 0));
	assert_non_null(td_find(t, FL_DEC_DEVICE_FAILED, 1));
	assert_non_null(td_find(t, FL_DEC_ROLLBACK_DEVICE, 1));
	assert_null(td_find(t, FL_DEC_DEVICE_FAILED, 2));
	assert_int_equal(td_dev(t->e, 0).fail_reason, FL_FAIL_TIMEOUT);
	/* a late report after the verdict changes nothing */
	ev_success_path(t->e, 0, T0 + H + 5);
	td_step(t, T0 + H + 10);
	assert_int_equal(td_dev(t->e, 0).status, FL_DEV_FAILED);
	assert_int_equal(td_stage(t->e, 0).failed, 2);
	done(t, &v);
}

/* ---- holds ------------------------------------------------------------------
 */

static void test_engine__device_hold_until_approved(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_plan_hold *h;
	const struct fl_engine_approval *ap;
	const struct fl_decision *d;
	unsigned n;
	char id[16];

	(void)s;
	tp_init(&tp, "r1");
	h = tp_hold(&tp, "eu-radio-cert");
	tp_match_add(&h->match, &tp.hold_match[0], "region", "eu", NULL);
	h->until_approved = 1;
	tp_percent(&tp, 100);
	ti_init(&v, 10);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		ti_add(&v, id, "m1", i < 4 ? "eu" : "us", "1.0.0", NULL, NULL,
		       1);
	}
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 6);
	for (uint32_t i = 0; i < 4; i++) {
		assert_null(td_find(t, FL_DEC_OFFER, i));
		assert_int_equal(td_dev(t->e, i).status, FL_DEV_HELD);
	}
	d = td_find(t, FL_DEC_WAIT, FL_ENGINE_NO_DEV);
	assert_int_equal(d->why, FL_WHY_HOLD);
	assert_int_equal(d->ref, 0);
	assert_int_equal(d->until_s, FL_ENGINE_NEVER);
	succeed_offers(t, T0);
	td_step(t, T0 + 1); /* held members do not hold the stage back */
	assert_non_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	assert_null(td_find(t, FL_DEC_WAIT, FL_ENGINE_NO_DEV)); /* said once */
	assert_int_equal(ev_op(t->e, FL_EV_APPROVE, "nope", "x", T0 + 2),
			 FL_ENOENT);
	assert_int_equal(
		ev_op(t->e, FL_EV_APPROVE, "eu-radio-cert", "alice", T0 + 50),
		0);
	assert_int_equal(
		ev_op(t->e, FL_EV_APPROVE, "eu-radio-cert", "bob", T0 + 60), 0);
	ap = fl_engine_approvals(t->e, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ap[0].is_hold, 1);
	assert_string_equal(ap[0].who, "alice");
	assert_int_equal(ap[0].at_s, T0 + 50);
	td_step(t, T0 + 61);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 4);
	done(t, &v);
}

static void test_engine__fleet_hold_bounded_in_time(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_plan_hold *h;
	const struct fl_decision *d;

	(void)s;
	tp_init(&tp, "r1");
	h = tp_hold(&tp, "black-friday");
	h->has_from = h->has_until = 1;
	h->from_unix_s = T0 + 100;
	h->until_unix_s = T0 + 200;
	tp_percent(&tp, 100);
	plain_inv(&v, 5);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0 + 150);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 0);
	d = td_find(t, FL_DEC_WAIT, FL_ENGINE_NO_DEV);
	assert_int_equal(d->why, FL_WHY_HOLD);
	assert_int_equal(d->until_s, T0 + 201);
	assert_int_equal(t->wake, T0 + 201);
	td_step(t, T0 + 200); /* until is inclusive */
	assert_int_equal(td_count(t, FL_DEC_OFFER), 0);
	td_step(t, T0 + 201);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 5);
	done(t, &v);
}

static void test_engine__hold_never_stops_a_rollback(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_plan_hold *h;

	(void)s;
	tp_init(&tp, "r1");
	h = tp_hold(&tp, "freeze");
	h->has_from = 1;
	h->from_unix_s = T0 + 100;
	tp_percent(&tp, 100);
	plain_inv(&v, 4);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	succeed_offers(t, T0 + 1);
	td_step(t, T0 + 200); /* the hold is active now */
	assert_int_equal(ev_op(t->e, FL_EV_ROLLBACK, NULL, "carol", T0 + 201),
			 0);
	td_step(t, T0 + 202);
	assert_int_equal(
		td_find(t, FL_DEC_ROLLBACK_STARTED, FL_ENGINE_NO_DEV)->why,
		FL_WHY_OPERATOR);
	assert_int_equal(td_count(t, FL_DEC_ROLLBACK_DEVICE), 4);
	done(t, &v);
}

/* ---- windows
 * ------------------------------------------------------------------ */

/* Offers made by a fresh engine over inv at t. */
static unsigned offers_at(struct tplan *tp, struct tinv *v,
			  const struct fl_tz_ops *tz, int64_t t, int64_t *wake)
{
	struct tdrive *d = drive(mk(tp, v, tz));
	unsigned n;

	td_step(d, t);
	n = (unsigned)td_count(d, FL_DEC_OFFER);
	if (wake)
		*wake = d->wake;
	fl_engine_free(d->e);
	free(d);
	return n;
}

static void test_engine__window_in_device_zone(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct fake_tz fz = {0, 0, 0};
	struct fl_tz_ops tz = {fake_tz_offset, &fz};
	struct tdrive *t;
	uint32_t a, b, c, d;

	(void)s;
	tp_init(&tp, "r1");
	tp_window(&tp, 0x7f, 2 * 60, 4 * 60, NULL, 1);
	tp_percent(&tp, 100);
	ti_init(&v, 8);
	a = ti_add(&v, "a", "m1", NULL, "1.0.0", "Fake/Plus2", NULL, 1);
	b = ti_add(&v, "b", "m1", NULL, "1.0.0", NULL, NULL, 1);
	ti_tz_label(&v, b, "Fake/Plus2");
	c = ti_add(&v, "c", "m1", NULL, "1.0.0", NULL, NULL, 1);
	d = ti_add(&v, "d", "m1", NULL, "1.0.0", "Mars/Base", NULL, 1);
	t = drive(mk(&tp, &v, &tz));
	assert_string_equal(fl_engine_device_zone(t->e, a), "Fake/Plus2");
	assert_string_equal(fl_engine_device_zone(t->e, b), "Fake/Plus2");
	assert_string_equal(fl_engine_device_zone(t->e, c), "UTC");
	assert_string_equal(fl_engine_device_zone(t->e, d), "UTC");
	td_step(t, T0); /* 00:00 UTC = 02:00 in Fake/Plus2 */
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	assert_non_null(td_find(t, FL_DEC_OFFER, a));
	assert_non_null(td_find(t, FL_DEC_OFFER, b));
	assert_int_equal(td_find(t, FL_DEC_WAIT, FL_ENGINE_NO_DEV)->why,
			 FL_WHY_WINDOW);
	assert_int_equal(t->wake, T0 + 2 * H);
	td_step(t, T0 + 2 * H - 1);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 0);
	td_step(t, T0 + 2 * H);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	done(t, &v);
}

static void test_engine__window_crossing_midnight_belongs_to_its_day(void **s)
{
	struct tplan tp;
	struct tinv v;
	int64_t mon = T0 + 4 * D; /* 2026-01-05, a Monday */

	(void)s;
	tp_init(&tp, "r1");
	tp_window(&tp, 0x01 /* mon */, 22 * 60, 2 * 60, NULL, 0);
	tp_percent(&tp, 100);
	plain_inv(&v, 1);
	assert_int_equal(offers_at(&tp, &v, NULL, mon + 1 * H, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, NULL, mon + 22 * H - 1, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, NULL, mon + 22 * H, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, NULL, mon + 25 * H, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, NULL, mon + 26 * H - 1, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, NULL, mon + 26 * H, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, NULL, mon + D + 23 * H, NULL), 0);
	ti_free(&v);
}

/* Europe/Berlin from the system tz database: Sunday 02:00-04:00 local. */
static void test_engine__window_follows_daylight_saving(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct fl_tzdb *db;
	struct fl_tz_ops tz;
	int64_t wake;
	/* Sundays 2026-03-22 (CET), 03-29 (change at 01:00 UTC), 04-05
	 * (CEST), 10-25 (back at 01:00 UTC) at 00:00 UTC */
	const int64_t s22 = 1774137600, s29 = 1774742400, a05 = 1775347200,
		      o25 = 1792886400;

	(void)s;
	assert_int_equal(fl_tzdb_open(&db, NULL, 0), 0);
	fl_tzdb_ops(db, &tz);
	tp_init(&tp, "r1");
	tp_window(&tp, 0x40 /* sun */, 2 * 60, 4 * 60, "Europe/Berlin", 0);
	tp_percent(&tp, 100);
	plain_inv(&v, 1);
	/* CET: 01:00-03:00 UTC */
	assert_int_equal(offers_at(&tp, &v, &tz, s22 + H - 1, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, &tz, s22 + H, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, s22 + 3 * H - 1, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, s22 + 3 * H, NULL), 0);
	/* spring forward: 02:00-03:00 does not exist; open 03:00-04:00 CEST
	 * = 01:00-02:00 UTC, and the wake-up lands on it exactly */
	assert_int_equal(offers_at(&tp, &v, &tz, s29 - 12 * H, &wake), 0);
	assert_int_equal(wake, s29 + H);
	assert_int_equal(offers_at(&tp, &v, &tz, s29 + H - 1, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, &tz, s29 + H, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, s29 + 2 * H - 1, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, s29 + 2 * H, NULL), 0);
	/* CEST: 00:00-02:00 UTC */
	assert_int_equal(offers_at(&tp, &v, &tz, a05 - 1, &wake), 0);
	assert_int_equal(wake, a05);
	assert_int_equal(offers_at(&tp, &v, &tz, a05, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, a05 + 2 * H, NULL), 0);
	/* fall back: 02:00-03:00 happens twice; open 00:00-03:00 UTC */
	assert_int_equal(offers_at(&tp, &v, &tz, o25 - 1, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, &tz, o25, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, o25 + 2 * H + 1800, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, o25 + 3 * H, NULL), 0);
	ti_free(&v);
	fl_tzdb_free(db);
}

/* A device in America/New_York (its own tz), weekdays 09:00-10:00, across
 * the US change on 2026-03-08. */
static void test_engine__device_window_in_iana_zone_across_dst(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct fl_tzdb *db;
	struct fl_tz_ops tz;
	const int64_t fri = 1772755200, mon = 1773014400; /* 03-06, 03-09 */

	(void)s;
	assert_int_equal(fl_tzdb_open(&db, NULL, 0), 0);
	fl_tzdb_ops(db, &tz);
	tp_init(&tp, "r1");
	tp_window(&tp, 0x1f, 9 * 60, 10 * 60, NULL, 1);
	tp_percent(&tp, 100);
	ti_init(&v, 1);
	ti_add(&v, "ny", "m1", NULL, "1.0.0", "America/New_York", NULL, 1);
	assert_int_equal(offers_at(&tp, &v, &tz, fri + 14 * H - 1, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, &tz, fri + 14 * H, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, fri + 15 * H, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, &tz, mon + 13 * H - 1, NULL), 0);
	assert_int_equal(offers_at(&tp, &v, &tz, mon + 13 * H, NULL), 1);
	assert_int_equal(offers_at(&tp, &v, &tz, mon + 14 * H, NULL), 0);
	ti_free(&v);
	fl_tzdb_free(db);
}

static void test_engine__activate_window_offers_any_time(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.device.activate = FL_PLAN_ACTIVATE_WINDOW;
	tp.p.health.timeout_s = H;
	tp.p.health.has_max_failures = 1;
	tp.p.health.max_failures = 5;
	tp_window(&tp, 0x7f, 2 * 60, 3 * 60, NULL, 0);
	tp_percent(&tp, 100);
	plain_inv(&v, 2);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0 + 12 * H);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	/* d0 installs and waits for 02:00 to reboot: the timeout counts
	 * from the window's opening, not from the offer */
	ev_dev(t->e, FL_EV_INSTALLED, 0, T0 + 12 * H + 600);
	td_step(t, T0 + 14 * H);
	assert_non_null(td_find(t, FL_DEC_DEVICE_FAILED, 1));
	assert_null(td_find(t, FL_DEC_DEVICE_FAILED, 0));
	td_step(t, T0 + 27 * H - 1);
	assert_null(td_find(t, FL_DEC_DEVICE_FAILED, 0));
	td_step(t, T0 + 27 * H);
	assert_non_null(td_find(t, FL_DEC_DEVICE_FAILED, 0));
	done(t, &v);
}

/* ---- rate
 * ----------------------------------------------------------------------- */

static void test_engine__rate_is_a_sliding_window(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	int64_t times[200];
	unsigned n = 0;
	struct fl_plan_stage *st;

	(void)s;
	tp_init(&tp, "r1");
	st = tp_percent(&tp, 100);
	st->has_rate = 1;
	st->rate_count = 5;
	st->rate_period_s = 60;
	plain_inv(&v, 60);
	for (int i = 0; i < 60; i++)
		v.d[i].is_online = (i % 7) != 3; /* some come later */
	t = drive(mk(&tp, &v, NULL));
	for (int64_t now = T0; now < T0 + 1200; now += 1 + (now % 5 == 0)) {
		if (now == T0 + 95)
			for (uint32_t i = 3; i < 60; i += 7)
				ev_dev(t->e, FL_EV_ONLINE, i, now);
		td_step(t, now);
		for (size_t i = 0; i < t->n; i++)
			if (t->d[i].kind == FL_DEC_OFFER)
				times[n++] = now;
		if (now == T0) {
			assert_int_equal(n, 5);
			assert_int_equal(
				td_find(t, FL_DEC_WAIT, FL_ENGINE_NO_DEV)
					->until_s,
				T0 + 60);
			assert_int_equal(t->wake, T0 + 60);
		}
	}
	assert_int_equal(n, 60);
	/* never more than 5 in any 60 s, and never idle while allowed */
	for (unsigned i = 0; i + 5 < n; i++)
		assert_true(times[i + 5] >= times[i] + 60);
	for (unsigned i = 5; i < n; i++)
		assert_true(times[i] <= times[i - 5] + 61);
	done(t, &v);
}

/* ---- approvals, pause
 * ---------------------------------------------------------- */

static void test_engine__stage_waits_for_approval(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	const struct fl_engine_approval *ap;
	unsigned n;

	(void)s;
	tp_init(&tp, "r1");
	tp_count(&tp, 1);
	tp_percent(&tp, 100)->approval_required = 1;
	plain_inv(&v, 5);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(ev_op(t->e, FL_EV_APPROVE, "s1", "bob", T0 + 1),
			 FL_ESTATE);
	succeed_offers(t, T0);
	td_step(t, T0 + 2);
	assert_non_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	assert_int_equal(
		td_find(t, FL_DEC_AWAIT_APPROVAL, FL_ENGINE_NO_DEV)->stage, 1);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 0);
	td_step(t, T0 + 100);
	assert_int_equal(t->n, 0);
	assert_int_equal(td_stage(t->e, 1).state, FL_STAGE_AWAITING);
	assert_int_equal(ev_op(t->e, FL_EV_APPROVE, "s1", "bob", T0 + 200), 0);
	assert_int_equal(ev_op(t->e, FL_EV_APPROVE, "s1", "eve", T0 + 201), 0);
	ap = fl_engine_approvals(t->e, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ap[0].is_hold, 0);
	assert_int_equal(ap[0].index, 1);
	assert_string_equal(ap[0].who, "bob");
	td_step(t, T0 + 202);
	assert_non_null(td_find(t, FL_DEC_STAGE_STARTED, FL_ENGINE_NO_DEV));
	assert_int_equal(td_count(t, FL_DEC_OFFER), 4);
	done(t, &v);
}

static void test_engine__pause_stops_offers_in_flight_finish(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;

	(void)s;
	tp_init(&tp, "r1");
	tp_count(&tp, 2);
	tp_percent(&tp, 100);
	plain_inv(&v, 10);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(ev_op(t->e, FL_EV_PAUSE, NULL, "op", T0 + 1), 0);
	succeed_offers(t, T0 + 1);
	td_step(t, T0 + 2);
	assert_int_equal(t->d[0].kind, FL_DEC_DEVICE_SUCCEEDED);
	assert_non_null(td_find(t, FL_DEC_PAUSED, FL_ENGINE_NO_DEV));
	assert_non_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	assert_null(td_find(t, FL_DEC_STAGE_STARTED, FL_ENGINE_NO_DEV));
	td_step(t, T0 + 3);
	assert_int_equal(t->n, 0);
	assert_int_equal(ev_op(t->e, FL_EV_RESUME, NULL, "op", T0 + 4), 0);
	td_step(t, T0 + 5);
	assert_int_equal(t->d[0].kind, FL_DEC_RESUMED);
	assert_non_null(td_find(t, FL_DEC_STAGE_STARTED, FL_ENGINE_NO_DEV));
	assert_int_equal(td_count(t, FL_DEC_OFFER), 8);
	done(t, &v);
}

static void test_engine__pause_on_failure_and_resume_overrides(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_plan_stage *st;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.on_failure = FL_ON_FAILURE_PAUSE; /* any failure fails */
	st = tp_percent(&tp, 100);
	st->has_rate = 1;
	st->rate_count = 2;
	st->rate_period_s = H;
	plain_inv(&v, 4);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	ev_fail(t->e, t->d[1].dev, T0 + 1);
	td_step(t, T0 + 2);
	assert_int_equal(td_find(t, FL_DEC_STAGE_FAILED, FL_ENGINE_NO_DEV)->why,
			 FL_WHY_FAILURE_RATE);
	assert_int_equal(td_find(t, FL_DEC_PAUSED, FL_ENGINE_NO_DEV)->why,
			 FL_WHY_GATE);
	td_step(t, T0 + H);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 0);
	ev_op(t->e, FL_EV_RESUME, NULL, "op", T0 + H + 1);
	td_step(t, T0 + H + 2);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 2);
	assert_int_equal(td_stage(t->e, 0).is_overridden, 1);
	succeed_offers(t, T0 + H + 3);
	ev_success_path(t->e, t->d[0].dev, T0 + H + 3);
	ev_success_path(t->e, 0, T0 + H + 3);
	ev_success_path(t->e, 1, T0 + H + 3);
	ev_success_path(t->e, 2, T0 + H + 3);
	ev_success_path(t->e, 3, T0 + H + 3);
	td_step(t, T0 + H + 4);
	assert_int_equal(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV)->why,
			 FL_WHY_OVERRIDDEN);
	done(t, &v);
}

/* ---- rollback and cancel
 * ----------------------------------------------------------- */

static void test_engine__manual_rollback(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.soak_s = D;
	tp.p.health.has_max_failures = 1;
	tp.p.health.max_failures = 5;
	tp_percent(&tp, 100);
	plain_inv(&v, 7);
	v.d[4].is_online = 0;
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	assert_int_equal(td_count(t, FL_DEC_OFFER), 6);
	ev_success_path(t->e, 0, T0 + 1);	    /* committed, soaking */
	ev_dev(t->e, FL_EV_INSTALLED, 1, T0 + 1);   /* installed */
	ev_dev(t->e, FL_EV_DOWNLOADING, 2, T0 + 1); /* downloading */
	ev_dev(t->e, FL_EV_ACKED, 3, T0 + 1);
	ev_fail(t->e, 5, T0 + 1); /* failed, nothing installed */
	ev_dev(t->e, FL_EV_ACTIVATED, 6, T0 + 1);
	ev_dev(t->e, FL_EV_REVERTED, 6, T0 + 2); /* back by itself */
	td_step(t, T0 + 3);
	assert_int_equal(ev_op(t->e, FL_EV_ROLLBACK, NULL, "carol", T0 + 4), 0);
	assert_int_equal(ev_op(t->e, FL_EV_CANCEL, NULL, "carol", T0 + 4),
			 FL_ESTATE);
	td_step(t, T0 + 5);
	assert_int_equal(t->d[0].kind, FL_DEC_ROLLBACK_STARTED);
	assert_int_equal(td_count(t, FL_DEC_ROLLBACK_DEVICE), 2);
	assert_non_null(td_find(t, FL_DEC_ROLLBACK_DEVICE, 0));
	assert_non_null(td_find(t, FL_DEC_ROLLBACK_DEVICE, 1));
	assert_int_equal(td_count(t, FL_DEC_CANCEL), 2);
	assert_non_null(td_find(t, FL_DEC_CANCEL, 2));
	assert_non_null(td_find(t, FL_DEC_CANCEL, 3));
	assert_int_equal(td_dev(t->e, 0).status, FL_DEV_CANCELLED);
	/* a cancelled device that had installed after all is rolled back */
	ev_dev(t->e, FL_EV_INSTALLED, 2, T0 + 6);
	ev_dev(t->e, FL_EV_ROLLBACK_DONE, 0, T0 + 6);
	td_step(t, T0 + 7);
	assert_int_equal(t->n, 1);
	assert_non_null(td_find(t, FL_DEC_ROLLBACK_DEVICE, 2));
	/* 1 goes offline: not waited for; 2 reports */
	ev_dev(t->e, FL_EV_OFFLINE, 1, T0 + 8);
	ev_dev(t->e, FL_EV_ROLLBACK_DONE, 2, T0 + 8);
	td_step(t, T0 + 9);
	assert_non_null(td_find(t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	/* nothing is offered any more; 1 is told again when it returns */
	ev_dev(t->e, FL_EV_ONLINE, 4, T0 + 10);
	ev_dev(t->e, FL_EV_ONLINE, 1, T0 + 10);
	td_step(t, T0 + 11);
	assert_int_equal(t->n, 1);
	assert_non_null(td_find(t, FL_DEC_ROLLBACK_DEVICE, 1));
	ev_dev(t->e, FL_EV_ROLLBACK_DONE, 1, T0 + 12);
	td_step(t, T0 + 13);
	assert_int_equal(t->n, 0);
	assert_int_equal(td_dev(t->e, 1).rollback, FL_RB_DONE);
	assert_int_equal(ev_op(t->e, FL_EV_PAUSE, NULL, "x", T0 + 14),
			 FL_ESTATE);
	done(t, &v);
}

static void test_engine__cancel_stops_offers_and_cancels_live_ones(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_engine_status st;

	(void)s;
	tp_init(&tp, "r1");
	tp_count(&tp, 3);
	tp_percent(&tp, 100);
	plain_inv(&v, 6);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	ev_dev(t->e, FL_EV_INSTALLED, t->d[1].dev, T0 + 1);
	ev_dev(t->e, FL_EV_ACKED, t->d[2].dev, T0 + 1);
	assert_int_equal(ev_op(t->e, FL_EV_CANCEL, NULL, "op", T0 + 2), 0);
	td_step(t, T0 + 3);
	assert_int_equal(t->d[0].kind, FL_DEC_CANCELLED);
	assert_int_equal(td_count(t, FL_DEC_CANCEL), 2);
	assert_int_equal(td_count(t, FL_DEC_ROLLBACK_DEVICE), 0);
	assert_int_equal(ev_op(t->e, FL_EV_CANCEL, NULL, "op", T0 + 4), 0);
	td_step(t, T0 + 5);
	assert_int_equal(t->n, 0);
	fl_engine_status(t->e, &st);
	assert_int_equal(st.state, FL_ROLLOUT_CANCELLED);
	done(t, &v);
}

/* ---- device events
 * ------------------------------------------------------------------ */

static void test_engine__metric_breach_during_soak_fails_the_device(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_event ev;
	struct fl_metric_value m[2] = {{"heap_free_kib", 50},
				       {"crash_count", 1}};

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.soak_s = 600;
	tp.p.health.has_max_failures = 1;
	tp.p.health.max_failures = 5;
	tp.metrics[0].name = "crash_count";
	tp.metrics[0].has_max = 1;
	tp.metrics[0].max = 0;
	tp.metrics[1].name = "heap_free_kib";
	tp.metrics[1].has_min = 1;
	tp.metrics[1].min = 20;
	tp.p.health.nmetrics = 2;
	tp_percent(&tp, 100);
	plain_inv(&v, 3);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	memset(&ev, 0, sizeof(ev));
	ev.kind = FL_EV_HEALTH;
	ev.metrics = m;
	ev.nmetrics = 2;
	/* d0: downloading only -- not running it yet: ignored */
	ev_dev(t->e, FL_EV_DOWNLOADING, 0, T0 + 1);
	ev.dev = 0;
	ev.at_s = T0 + 2;
	assert_int_equal(fl_engine_apply(t->e, &ev), 0);
	assert_int_equal(td_dev(t->e, 0).status, FL_DEV_IN_FLIGHT);
	/* d1: committed, breach inside the soak */
	ev_success_path(t->e, 1, T0 + 10);
	ev.dev = 1;
	ev.at_s = T0 + 100;
	assert_int_equal(fl_engine_apply(t->e, &ev), 0);
	assert_int_equal(td_dev(t->e, 1).status, FL_DEV_FAILED);
	assert_int_equal(td_dev(t->e, 1).fail_reason, FL_FAIL_METRIC);
	/* d2: committed, breach reported for after the soak: ignored */
	ev_success_path(t->e, 2, T0 + 10);
	ev.dev = 2;
	ev.at_s = T0 + 610;
	assert_int_equal(fl_engine_apply(t->e, &ev), 0);
	assert_int_equal(td_dev(t->e, 2).status, FL_DEV_IN_FLIGHT);
	td_step(t, T0 + 610);
	assert_non_null(td_find(t, FL_DEC_ROLLBACK_DEVICE, 1));
	assert_non_null(td_find(t, FL_DEC_DEVICE_SUCCEEDED, 2));
	/* a healthy report does not fail anyone */
	m[1].value = 0;
	ev.dev = 0;
	ev_dev(t->e, FL_EV_COMMITTED, 0, T0 + 620);
	ev.at_s = T0 + 630;
	assert_int_equal(fl_engine_apply(t->e, &ev), 0);
	assert_int_equal(td_dev(t->e, 0).status, FL_DEV_IN_FLIGHT);
	ev.nmetrics = FL_ENGINE_MAX_METRICS + 1;
	assert_int_equal(fl_engine_apply(t->e, &ev), FL_EINVAL);
	done(t, &v);
}

static void test_engine__retry_later_defers_and_rejected_skips(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_event ev;

	(void)s;
	tp_init(&tp, "r1");
	tp_count(&tp, 3);
	tp_percent(&tp, 100);
	plain_inv(&v, 6);
	t = drive(mk(&tp, &v, NULL));
	td_step(t, T0);
	uint32_t a = t->d[1].dev, b = t->d[2].dev, c = t->d[3].dev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = FL_EV_RETRY_LATER;
	ev.dev = a;
	ev.at_s = T0 + 10;
	ev.retry_at_s = T0 + 500;
	assert_int_equal(fl_engine_apply(t->e, &ev), 0);
	assert_int_equal(td_dev(t->e, a).status, FL_DEV_DEFERRED);
	ev_dev(t->e, FL_EV_ACKED, a, T0 + 5); /* older: ignored */
	assert_int_equal(td_dev(t->e, a).status, FL_DEV_DEFERRED);
	ev_dev(t->e, FL_EV_REJECTED, b, T0 + 10);
	ev_success_path(t->e, c, T0 + 10);
	td_step(t, T0 + 11); /* deferred and skipped do not hold it back */
	assert_non_null(td_find(t, FL_DEC_STAGE_PASSED, FL_ENGINE_NO_DEV));
	assert_null(td_find(t, FL_DEC_OFFER, a));
	assert_int_equal(td_stage(t->e, 0).judged, 1);
	assert_int_equal(td_stage(t->e, 0).count[FL_DEV_SKIPPED], 1);
	assert_true(t->wake <= T0 + 500);
	td_step(t, T0 + 499);
	assert_null(td_find(t, FL_DEC_OFFER, a));
	td_step(t, T0 + 500);
	assert_non_null(td_find(t, FL_DEC_OFFER, a));
	assert_int_equal(td_dev(t->e, a).status, FL_DEV_IN_FLIGHT);
	done(t, &v);
}

static void test_engine__duplicate_stale_reordered_events_are_harmless(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	struct fl_engine_device d;
	struct fl_event ev;

	(void)s;
	tp_init(&tp, "r1");
	tp.p.health.soak_s = 100;
	tp.p.health.has_max_failures = 1;
	tp.p.health.max_failures = 10;
	tp_percent(&tp, 100);
	plain_inv(&v, 5);
	ti_add(&v, "other", "m9", NULL, "1.0.0", NULL, NULL, 1);
	t = drive(mk(&tp, &v, NULL));
	/* before any offer: ignored */
	ev_success_path(t->e, 0, T0 - 10);
	assert_int_equal(td_dev(t->e, 0).progress, FL_PROG_NONE);
	td_step(t, T0);
	ev_dev(t->e, FL_EV_COMMITTED, 0, T0 + 10);
	ev_dev(t->e, FL_EV_DOWNLOADING, 0, T0 + 20);
	ev_dev(t->e, FL_EV_COMMITTED, 0, T0 + 30);
	d = td_dev(t->e, 0);
	assert_int_equal(d.progress, FL_PROG_COMMITTED);
	assert_int_equal(d.committed_at_s, T0 + 10);
	/* failed twice: once */
	ev_fail(t->e, 1, T0 + 5);
	ev_fail(t->e, 1, T0 + 6);
	assert_int_equal(td_stage(t->e, 0).failed, 1);
	/* the failure overtook the install report: still rolled back */
	ev_fail(t->e, 2, T0 + 5);
	ev_dev(t->e, FL_EV_ACTIVATED, 2, T0 + 4);
	td_step(t, T0 + 110);
	assert_non_null(td_find(t, FL_DEC_DEVICE_SUCCEEDED, 0));
	assert_non_null(td_find(t, FL_DEC_ROLLBACK_DEVICE, 2));
	assert_null(td_find(t, FL_DEC_ROLLBACK_DEVICE, 1));
	/* after the verdict, failures change nothing */
	ev_fail(t->e, 0, T0 + 120);
	assert_int_equal(td_dev(t->e, 0).status, FL_DEV_SUCCEEDED);
	assert_int_equal(td_stage(t->e, 0).failed, 2);
	/* the device that is not ours, bad arguments */
	ev_success_path(t->e, 5, T0 + 130);
	assert_int_equal(td_dev(t->e, 5).status, FL_DEV_NONE);
	assert_int_equal(ev_dev(t->e, FL_EV_ACKED, 99, T0), FL_ENOENT);
	memset(&ev, 0, sizeof(ev));
	ev.kind = 200;
	assert_int_equal(fl_engine_apply(t->e, &ev), FL_EINVAL);
	ev.kind = FL_EV_FAILED;
	ev.reason = 99;
	assert_int_equal(fl_engine_apply(t->e, &ev), FL_EINVAL);
	ev.kind = FL_EV_APPROVE;
	assert_int_equal(fl_engine_apply(t->e, &ev), FL_EINVAL);
	done(t, &v);
}

/* ---- determinism, bounds, memory
 * --------------------------------------------------- */

struct script_out {
	struct fl_decision d[2048];
	size_t n;
};

/* A fixed scenario; `chunk` bounds each step's output. */
static void script(struct script_out *o, size_t chunk)
{
	struct tplan tp;
	struct tinv v;
	struct fl_engine *e;
	struct fl_plan_stage *st;
	char id[16];
	size_t n;
	int64_t wake, now;

	tp_init(&tp, "det");
	tp.p.health.soak_s = 30;
	tp.p.health.timeout_s = 500;
	tp.p.health.has_max_failure_rate = 1;
	tp.p.health.max_failure_rate_ppm = 300000;
	tp.p.health.has_min_devices = 1;
	tp.p.health.min_devices = 10;
	tp_count(&tp, 5);
	st = tp_percent(&tp, 40);
	st->has_rate = 1;
	st->rate_count = 7;
	st->rate_period_s = 100;
	tp_percent(&tp, 100);
	ti_init(&v, 200);
	for (int i = 0; i < 150; i++) {
		snprintf(id, sizeof(id), "x%03d", i);
		ti_add(&v, id, i % 3 == 0 ? "m2" : "m1", i % 2 ? "eu" : "us",
		       "1.0.0", NULL, NULL, i % 11 != 0);
	}
	e = mk(&tp, &v, NULL);
	o->n = 0;
	for (now = T0; now < T0 + 4000; now += 17) {
		size_t first = o->n;

		do {
			assert_int_equal(fl_engine_step(e, now, o->d + o->n,
							chunk, &n, &wake),
					 0);
			o->n += n;
			assert_true(o->n < 2048 - chunk);
		} while (wake == now && n > 0);
		for (size_t i = first; i < o->n; i++) {
			uint32_t dv = o->d[i].dev;

			if (o->d[i].kind != FL_DEC_OFFER)
				continue;
			if (dv % 13 == 0)
				continue; /* silent: times out */
			if (dv % 17 == 0)
				ev_fail(e, dv, now + 3);
			else
				ev_success_path(e, dv, now + 5);
		}
		if (now == T0 + 17 * 20)
			for (uint32_t i = 0; i < 150; i += 11)
				ev_dev(e, FL_EV_ONLINE, i, now);
	}
	fl_engine_free(e);
	ti_free(&v);
}

static void test_engine__same_inputs_same_decisions_in_any_chunking(void **s)
{
	struct script_out *a = calloc(1, sizeof(*a)),
			  *b = calloc(1, sizeof(*b));
	struct script_out *c = calloc(1, sizeof(*c));

	(void)s;
	script(a, 500);
	script(b, 500);
	script(c, 1);
	assert_true(a->n > 150);
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->d, b->d, a->n * sizeof(a->d[0]));
	assert_int_equal(a->n, c->n);
	assert_memory_equal(a->d, c->d, a->n * sizeof(a->d[0]));
	free(a);
	free(b);
	free(c);
}

static void test_engine__output_is_bounded(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct fl_engine *e;
	struct fl_decision d[3];
	size_t n, total = 0;
	int64_t wake;

	(void)s;
	tp_init(&tp, "r1");
	tp_percent(&tp, 100);
	plain_inv(&v, 10);
	e = mk(&tp, &v, NULL);
	assert_int_equal(fl_engine_step(e, T0, d, 3, &n, &wake), 0);
	assert_int_equal(n, 3);
	assert_int_equal(wake, T0);
	total += n;
	while (wake == T0 && n > 0) {
		assert_int_equal(fl_engine_step(e, T0, d, 3, &n, &wake), 0);
		total += n;
	}
	assert_int_equal(total, 11); /* started + 10 offers */
	assert_int_equal(fl_engine_step(e, T0, NULL, 0, &n, &wake), 0);
	assert_int_equal(fl_engine_step(e, T0, NULL, 5, &n, &wake), FL_EINVAL);
	/* times too far out to add safely are refused */
	assert_int_equal(fl_engine_step(e, INT64_MAX, d, 3, &n, &wake),
			 FL_EINVAL);
	assert_int_equal(ev_dev(e, FL_EV_COMMITTED, 0, INT64_MIN), FL_EINVAL);
	tp.p.health.soak_s = INT64_MAX;
	fl_engine_free(e);
	assert_int_equal(fl_engine_create(&e, &tp.p, NULL, v.d, v.n),
			 FL_EINVAL);
	assert_null(e);
	ti_free(&v);
}

struct failing_alloc {
	long countdown; /* fail when it reaches 0; <0: never */
	long live;
};

static void *fa_alloc(void *ctx, size_t n)
{
	struct failing_alloc *f = ctx;

	if (f->countdown == 0)
		return NULL;
	if (f->countdown > 0)
		f->countdown--;
	f->live++;
	return malloc(n);
}

static void fa_free(void *ctx, void *p)
{
	struct failing_alloc *f = ctx;

	f->live--;
	free(p);
}

static void test_engine__every_allocation_failure_is_clean(void **s)
{
	struct tplan tp;
	struct tinv v;
	char id[16];
	long n;

	(void)s;
	tp_init(&tp, "r1");
	tp_count(&tp, 3)->has_rate = 1;
	tp.stages[0].rate_count = 2;
	tp.stages[0].rate_period_s = 10;
	tp_stage(&tp, FL_STAGE_DEVICES)->devices[0] = "zz";
	tp.stages[1].ndevices = 1;
	tp_percent(&tp, 100);
	tp_window(&tp, 0x7f, 0, 1439, NULL, 1);
	ti_init(&v, 64);
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "a%02d", i);
		ti_add(&v, id, "m1", i % 2 ? "eu" : "us", "1.0.0", NULL, NULL,
		       1);
	}
	for (n = 0;; n++) {
		struct failing_alloc fa = {n, 0};
		struct fl_engine_config cfg = {NULL, fa_alloc, fa_free, &fa};
		struct fl_engine *e = NULL;
		struct fl_decision d[64];
		struct fl_engine_status st;
		size_t k;
		int64_t wake, now = T0;
		int rc, steps = 0, failed = 0;

		v.n = 30;
		rc = fl_engine_create(&e, &tp.p, &cfg, v.d, v.n);
		if (rc != 0) {
			assert_int_equal(rc, FL_ENOMEM);
			assert_int_equal(fa.live, 0);
			continue;
		}
		v.n = 40;
		rc = fl_engine_sync_inventory(e, v.d, v.n);
		if (rc != 0) {
			/* refused whole; after it, allocations work again and
			 * the same sync succeeds */
			assert_int_equal(rc, FL_ENOMEM);
			failed = 1;
			assert_int_equal(
				fl_engine_device(e, 35,
						 &(struct fl_engine_device){0}),
				FL_ENOENT);
			fa.countdown = -1;
			assert_int_equal(fl_engine_sync_inventory(e, v.d, v.n),
					 0);
		}
		for (; steps < 40; steps++, now += 10) {
			rc = fl_engine_step(e, now, d, 64, &k, &wake);
			if (rc == FL_ENOMEM) {
				/* nothing of the stage was applied: the next
				 * step starts it when memory is back */
				failed = 1;
				fa.countdown = -1;
				continue;
			}
			assert_int_equal(rc, 0);
			for (size_t i = 0; i < k; i++)
				if (d[i].kind == FL_DEC_OFFER)
					ev_success_path(e, d[i].dev, now);
		}
		fl_engine_status(e, &st);
		assert_int_equal(st.state, FL_ROLLOUT_COMPLETE);
		assert_int_equal(st.n_offers, 40);
		fl_engine_free(e);
		assert_int_equal(fa.live, 0);
		if (!failed && fa.countdown != 0)
			break; /* got through with allocations to spare */
	}
	assert_true(n > 5);
	ti_free(&v);
}

static void test_engine__memory_per_device_is_small(void **s)
{
	struct tplan tp;
	struct tinv v;
	struct tdrive *t;
	size_t now_b, peak_b;
	char id[16];

	(void)s;
	tp_init(&tp, "r1");
	tp_percent(&tp, 50);
	tp_percent(&tp, 100);
	ti_init(&v, 20000);
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "mem-%05d", i);
		ti_add(&v, id, i % 3 ? "m1" : "m2", i % 5 ? "eu" : "us",
		       "1.0.0", NULL, NULL, 1);
	}
	t = drive(mk(&tp, &v, NULL));
	fl_engine_step(t->e, T0, t->d, TD_MAX, &t->n, &t->wake);
	fl_engine_memory(t->e, &now_b, &peak_b);
	assert_true(peak_b / 20000 <= 256);
	done(t, &v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_engine__targets_follow_model_labels_version_exclude),
		cmocka_unit_test(
			test_engine__no_from_unknown_version_is_target_current_is_not),
		cmocka_unit_test(
			test_engine__percent_is_cumulative_and_rounds_up),
		cmocka_unit_test(
			test_engine__membership_is_stable_and_order_independent),
		cmocka_unit_test(
			test_engine__stages_spread_across_models_and_regions),
		cmocka_unit_test(
			test_engine__devices_stage_takes_listed_targets_and_notes_others),
		cmocka_unit_test(test_engine__count_and_match_stages),
		cmocka_unit_test(test_engine__empty_stage_passes_at_once),
		cmocka_unit_test(
			test_engine__late_joiners_go_to_the_next_stage),
		cmocka_unit_test(test_engine__device_succeeds_after_stage_soak),
		cmocka_unit_test(
			test_engine__gate_fails_early_once_min_devices_judged),
		cmocka_unit_test(
			test_engine__gate_fails_when_failures_exceed_max),
		cmocka_unit_test(
			test_engine__small_stage_is_judged_on_all_members),
		cmocka_unit_test(
			test_engine__unreached_are_excluded_and_retried),
		cmocka_unit_test(test_engine__stage_of_only_unreached_waits),
		cmocka_unit_test(
			test_engine__timeout_fails_and_cancels_or_rolls_back),
		cmocka_unit_test(test_engine__device_hold_until_approved),
		cmocka_unit_test(test_engine__fleet_hold_bounded_in_time),
		cmocka_unit_test(test_engine__hold_never_stops_a_rollback),
		cmocka_unit_test(test_engine__window_in_device_zone),
		cmocka_unit_test(
			test_engine__window_crossing_midnight_belongs_to_its_day),
		cmocka_unit_test(test_engine__window_follows_daylight_saving),
		cmocka_unit_test(
			test_engine__device_window_in_iana_zone_across_dst),
		cmocka_unit_test(test_engine__activate_window_offers_any_time),
		cmocka_unit_test(test_engine__rate_is_a_sliding_window),
		cmocka_unit_test(test_engine__stage_waits_for_approval),
		cmocka_unit_test(
			test_engine__pause_stops_offers_in_flight_finish),
		cmocka_unit_test(
			test_engine__pause_on_failure_and_resume_overrides),
		cmocka_unit_test(test_engine__manual_rollback),
		cmocka_unit_test(
			test_engine__cancel_stops_offers_and_cancels_live_ones),
		cmocka_unit_test(
			test_engine__metric_breach_during_soak_fails_the_device),
		cmocka_unit_test(
			test_engine__retry_later_defers_and_rejected_skips),
		cmocka_unit_test(
			test_engine__duplicate_stale_reordered_events_are_harmless),
		cmocka_unit_test(
			test_engine__same_inputs_same_decisions_in_any_chunking),
		cmocka_unit_test(test_engine__output_is_bounded),
		cmocka_unit_test(
			test_engine__every_allocation_failure_is_clean),
		cmocka_unit_test(test_engine__memory_per_device_is_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
