/*
 * test_simulate.c -- the dry run behind `fleetctl plan simulate`
 * (dashboard-cli/simulate.c): option parsing, the deterministic draws,
 * windows in device time, the simulated device model's delays, and whole
 * runs of the example plans over the sample inventory: stage sizes by
 * hand, timings, approvals, holds, pause, rollback counts under injected
 * failures, unreached devices, the horizon, and determinism.
 *
 * Usage: test_simulate PLANS_EXAMPLES_DIR
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/tzfile.h"
#include "inventory.h"
#include "simulate.h"

#define T_DEC1 1796083200LL /* 2026-12-01T00:00:00Z, a Tuesday */
#define H      3600
#define D      86400

static const char *examples_dir;

struct fixture {
	struct fl_tzdb *db;
	struct fl_tz_ops tz;
	struct fl_plan_diags d;
	struct fl_inventory *sample; /* plans/examples/fleet/inventory.yaml */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[600];

	assert_non_null(f);
	assert_int_equal(fl_tzdb_open(&f->db, NULL, 0), 0);
	fl_tzdb_ops(f->db, &f->tz);
	snprintf(path, sizeof(path), "%s/fleet/inventory.yaml", examples_dir);
	assert_int_equal(
		fl_inventory_load(path, "firmware", &f->tz, &f->sample, &f->d),
		0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fl_inventory_free(f->sample);
	fl_tzdb_free(f->db);
	free(f);
	return 0;
}

static struct fl_plan *example(struct fixture *f, const char *name)
{
	struct fl_plan *p = NULL;
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", examples_dir, name);
	assert_int_equal(fl_plan_load(path, &p, &f->d), 0);
	return p;
}

/* A plan from text, as if it were a file in plans/examples/. */
static struct fl_plan *plan_text(struct fixture *f, const char *text)
{
	struct fl_plan *p = NULL;
	char path[600];

	snprintf(path, sizeof(path), "%s/test.yaml", examples_dir);
	if (fl_plan_parse(text, strlen(text), path, &p, &f->d) != 0) {
		fl_plan_diags_print(&f->d, stderr);
		fail();
	}
	return p;
}

static void opts(struct fixture *f, struct fl_sim_options *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->start_s = T_DEC1;
	o->horizon_s = FL_SIM_HORIZON_S;
	o->tz = &f->tz;
}

static void add_fail(struct fl_sim_options *o, const char *spec)
{
	assert_int_equal(fl_sim_parse_fail(spec, &o->fail[o->nfail]), 0);
	o->nfail++;
}

static void approve_hold(struct fl_sim_options *o, const char *name,
			 int64_t at_s)
{
	assert_int_equal(fl_strlcpy(o->hold_ok[o->nhold_ok].name, name,
				    sizeof(o->hold_ok[0].name)),
			 0);
	o->hold_ok[o->nhold_ok].at_s = at_s;
	o->nhold_ok++;
}

static struct fl_sim_result *run(const struct fl_plan *p,
				 const struct fl_inventory *inv,
				 const struct fl_sim_options *o)
{
	struct fl_sim_result *r = NULL;

	assert_int_equal(fl_sim_run(p, inv, o, &r), 0);
	assert_non_null(r);
	return r;
}

/* ---- options ------------------------------------------------------------- */

static void test_simulate__parse_fail(void **state)
{
	struct fl_sim_fail x;

	(void)state;
	assert_int_equal(fl_sim_parse_fail("thermo-v3:20%", &x), 0);
	assert_string_equal(x.key, "");
	assert_string_equal(x.value, "thermo-v3");
	assert_int_equal(x.rate_ppm, 200000);
	assert_int_equal(x.mode, FL_SIM_FAIL_HEALTH);
	assert_int_equal(fl_sim_parse_fail("ring=canary:0.5", &x), 0);
	assert_string_equal(x.key, "ring");
	assert_string_equal(x.value, "canary");
	assert_int_equal(x.rate_ppm, 500000);
	assert_int_equal(fl_sim_parse_fail("region=eu:0.5%:install", &x), 0);
	assert_int_equal(x.rate_ppm, 5000);
	assert_int_equal(x.mode, FL_SIM_FAIL_INSTALL);
	assert_int_equal(fl_sim_parse_fail("m:1", &x), 0);
	assert_int_equal(x.rate_ppm, FL_PPM);
	assert_int_equal(fl_sim_parse_fail("m:100%:health", &x), 0);
	assert_int_equal(x.rate_ppm, FL_PPM);
	assert_int_equal(fl_sim_parse_fail("m:0", &x), 0);
	assert_int_equal(x.rate_ppm, 0);

	assert_int_equal(fl_sim_parse_fail("thermo-v3", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("m:", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail(":5%", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("m:101%", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("m:1.5", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("m:-1%", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("m:5%x", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("=a:1", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("a=:1", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("m:5%:bogus", &x), FL_EINVAL);
	assert_int_equal(fl_sim_parse_fail("m:install", &x), FL_EINVAL);
}

static void test_simulate__parse_and_format_time(void **state)
{
	int64_t t;
	char buf[64];

	(void)state;
	assert_int_equal(fl_sim_parse_instant("2026-12-01T00:00:00Z", &t), 0);
	assert_int_equal(t, T_DEC1);
	assert_int_equal(fl_sim_parse_instant("2026-12-20T00:00:00+01:00", &t),
			 0);
	assert_int_equal(t, 1797721200LL);
	assert_int_equal(fl_sim_parse_instant("2026-12-01t01:00:00.250Z", &t),
			 0);
	assert_int_equal(t, T_DEC1 + H);
	assert_int_equal(fl_sim_parse_instant("2028-02-29T00:00:00Z", &t), 0);
	assert_int_equal(fl_sim_parse_instant("2026-02-29T00:00:00Z", &t),
			 FL_EINVAL);
	assert_int_equal(fl_sim_parse_instant("2026-12-01T00:00:00", &t),
			 FL_EINVAL);
	assert_int_equal(fl_sim_parse_instant("2026-12-01 00:00:00Z", &t),
			 FL_EINVAL);
	assert_int_equal(fl_sim_parse_instant("2026-13-01T00:00:00Z", &t),
			 FL_EINVAL);
	assert_int_equal(fl_sim_parse_instant("2026-12-01T24:00:00Z", &t),
			 FL_EINVAL);
	fl_sim_format_instant(T_DEC1 + 3 * H + 4 * 60 + 5, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-01T03:04:05Z");
	fl_sim_format_instant(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");

	assert_int_equal(fl_sim_parse_duration("90s", &t), 0);
	assert_int_equal(t, 90);
	assert_int_equal(fl_sim_parse_duration("1d2h30m", &t), 0);
	assert_int_equal(t, D + 2 * H + 1800);
	assert_int_equal(fl_sim_parse_duration("0s", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(fl_sim_parse_duration("", &t), FL_EINVAL);
	assert_int_equal(fl_sim_parse_duration("10", &t), FL_EINVAL);
	assert_int_equal(fl_sim_parse_duration("10w", &t), FL_EINVAL);
	assert_int_equal(fl_sim_parse_duration("h", &t), FL_EINVAL);
	assert_int_equal(fl_sim_parse_duration("99999999999s", &t), FL_EINVAL);
	fl_sim_format_duration(D + 2 * H + 61, buf, sizeof(buf));
	assert_string_equal(buf, "1d2h1m1s");
	fl_sim_format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
}

/* ---- draws ----------------------------------------------------------------
 */

static void test_simulate__jitter_is_deterministic_and_bounded(void **state)
{
	unsigned differ = 0;

	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		char id[16];
		int64_t a, b;

		snprintf(id, sizeof(id), "dev-%04u", i);
		a = fl_sim_jitter(7, id, 3, 1, 60, 180);
		b = fl_sim_jitter(7, id, 3, 1, 60, 180);
		assert_int_equal(a, b);
		assert_true(a >= 60 && a <= 180);
		differ += a != fl_sim_jitter(8, id, 3, 1, 60, 180);
	}
	assert_true(differ > 900); /* the seed matters */
	assert_int_equal(fl_sim_jitter(1, "x", 1, 1, 5, 5), 5);
}

static void test_simulate__fail_draws_follow_the_rate(void **state)
{
	struct fl_sim_options o;
	struct fl_inv_label lab[1] = {{"region", "eu"}};
	struct fl_inv_device d;
	char id[16];
	unsigned fails = 0, v3 = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.seed = 1;
	assert_int_equal(fl_sim_parse_fail("region=eu:30%", &o.fail[0]), 0);
	assert_int_equal(
		fl_sim_parse_fail("thermo-v3:100%:install", &o.fail[1]), 0);
	o.nfail = 2;
	memset(&d, 0, sizeof(d));
	d.id = id;
	d.model = "thermo-v2";
	d.labels = lab;
	d.nlabels = 1;
	for (unsigned i = 0; i < 10000; i++) {
		int m;

		snprintf(id, sizeof(id), "d%05u", i);
		m = fl_sim_fail_draw(&o, &d);
		assert_int_equal(m, fl_sim_fail_draw(&o, &d));
		if (m >= 0) {
			assert_int_equal(m, FL_SIM_FAIL_HEALTH);
			fails++;
		}
	}
	assert_true(fails > 2800 && fails < 3200);
	/* the first rule that draws a failure decides the mode */
	d.model = "thermo-v3";
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "d%05u", i);
		assert_true(fl_sim_fail_draw(&o, &d) >= 0);
		v3 += fl_sim_fail_draw(&o, &d) == FL_SIM_FAIL_INSTALL;
	}
	assert_true(v3 > 600 && v3 < 800);
	d.nlabels = 0;
	d.model = "thermo-v2";
	assert_int_equal(fl_sim_fail_draw(&o, &d), -1);
}

/* ---- windows ----------------------------------------------------------------
 */

static void test_simulate__windows_in_device_time(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "complete.yaml");
	struct fl_plan *mid = example(f, "windows-zone-midnight.yaml");
	struct fl_plan *none = example(f, "minimal.yaml");

	/* mon-fri 02:00-05:00 device time. Tue 00:00Z is 01:00 in Berlin. */
	assert_int_equal(fl_sim_window_next(p, &f->tz, "Europe/Berlin", T_DEC1),
			 T_DEC1 + H);
	/* inside the window: at once */
	assert_int_equal(
		fl_sim_window_next(p, &f->tz, "Europe/Berlin", T_DEC1 + 2 * H),
		T_DEC1 + 2 * H);
	/* New York (UTC-5 in December): 02:00 local is 07:00Z */
	assert_int_equal(
		fl_sim_window_next(p, &f->tz, "America/New_York", T_DEC1),
		T_DEC1 + 7 * H);
	/* no tz port: UTC */
	assert_int_equal(fl_sim_window_next(p, NULL, "Europe/Berlin", T_DEC1),
			 T_DEC1 + 2 * H);
	/* Friday Dec 4, after 05:00 Berlin: Monday Dec 7, 01:00Z */
	assert_int_equal(fl_sim_window_next(p, &f->tz, "Europe/Berlin",
					    T_DEC1 + 3 * D + 5 * H),
			 1796605200LL);
	/* summer time: Wed 2026-07-01 02:00 in Berlin is 00:00Z */
	assert_int_equal(fl_sim_window_next(p, &f->tz, "Europe/Berlin",
					    1782864000LL - H),
			 1782864000LL);
	/* fri-sat 22:00-02:00 New York: Friday Dec 4 22:00 is Sat 03:00Z,
	   and Saturday 01:00 local (06:00Z) is still inside */
	assert_int_equal(fl_sim_window_next(mid, &f->tz, NULL, T_DEC1),
			 1796439600LL);
	assert_int_equal(
		fl_sim_window_next(mid, &f->tz, NULL, 1796439600LL + 3 * H),
		1796439600LL + 3 * H);
	/* Saturday 02:30 local (07:30Z): next is Saturday 22:00 (Sun 03:00Z) */
	assert_int_equal(fl_sim_window_next(mid, &f->tz, NULL,
					    1796439600LL + 4 * H + 1800),
			 1796439600LL + D);
	/* no windows: any time */
	assert_int_equal(fl_sim_window_next(none, &f->tz, "UTC", T_DEC1),
			 T_DEC1);
	fl_plan_free(p);
	fl_plan_free(mid);
	fl_plan_free(none);
}

/* ---- whole runs
 * -------------------------------------------------------------- */

static void test_simulate__complete_example_stage_sizes(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "complete.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *r;
	const struct fl_sim_stage *s;

	opts(f, &o);
	r = run(p, f->sample, &o);
	/* By hand, from the sample's comment: 1000 targets */
	assert_int_equal(r->n_devices, 1468);
	assert_int_equal(r->n_targets, 1000);
	assert_int_equal(r->not_target[FL_NT_EXCLUDED], 1);
	assert_int_equal(r->not_target[FL_NT_LABELS], 20);
	assert_int_equal(r->not_target[FL_NT_VERSION], 15);
	assert_int_equal(r->nstages, 4);
	s = r->stages;
	assert_int_equal(s[0].members, 2);
	assert_int_equal(s[1].members, 98);
	assert_int_equal(s[2].members, 400);
	assert_int_equal(s[3].members, 500);
	for (unsigned k = 0; k < 4; k++)
		assert_int_equal(s[k].state, FL_STAGE_PASSED);
	assert_int_equal(r->state, FL_ROLLOUT_COMPLETE);
	assert_false(r->has_rollback);
	assert_false(r->hit_horizon);
	/* stratified: early is half v2, half v3, half eu, half us */
	assert_string_equal(r->models[0], "thermo-v2");
	assert_string_equal(r->models[1], "thermo-v3");
	assert_int_equal(s[1].models.by[0], 49);
	assert_int_equal(s[1].models.by[1], 49);
	assert_string_equal(r->regions[0], "eu");
	assert_int_equal(s[1].regions.by[0], 49);
	/* eu-radio-cert is never approved: every EU target stays held, and
	   every US target ends on 2.4.0 */
	assert_int_equal(r->hold_approved_at_s[0], -1);
	assert_int_equal(r->hold_blocked[0], 500);
	assert_int_equal(r->n_on_new, 500);
	assert_int_equal(r->n_got_new, 500);
	assert_int_equal(s[0].fin.count[FL_DEV_HELD], 1);
	assert_int_equal(s[0].fin.count[FL_DEV_SUCCEEDED], 1);
	assert_int_equal(s[0].wait_until_s[FL_WHY_HOLD], FL_ENGINE_NEVER);
	/* stages follow each other; the canary starts at once */
	assert_int_equal(s[0].started_at_s, T_DEC1);
	assert_int_equal(s[0].first_offer_at_s, T_DEC1);
	for (unsigned k = 1; k < 4; k++)
		assert_int_equal(s[k].started_at_s >= s[k - 1].ended_at_s, 1);
	/* dev-0019 (New York) activates in its window at 07:00Z at the
	   earliest, then soaks 30 min */
	assert_true(s[0].ended_at_s >= T_DEC1 + 7 * H + 30 * 60);
	assert_true(s[0].ended_at_s <= T_DEC1 + 7 * H + 30 * 60 + 15 * 60);
	/* the half stage's approval is given as soon as it is awaited */
	assert_int_equal(s[2].awaited_at_s, s[1].ended_at_s);
	assert_int_equal(s[2].approved_at_s, s[2].awaited_at_s);
	assert_true(s[2].started_at_s >= s[2].approved_at_s);
	/* everyone offers 251 US devices at 200/min: over one minute */
	assert_int_equal(s[3].offers, 251);
	assert_int_equal(s[3].last_offer_at_s - s[3].first_offer_at_s, 60);
	assert_true(s[3].wait_at_s[FL_WHY_RATE] >= 0);
	assert_int_equal(r->complete_at_s, s[3].ended_at_s);
	free(r);
	fl_plan_free(p);
}

static char *report(const struct fl_plan *p, const struct fl_inventory *inv,
		    const struct fl_sim_options *o,
		    const struct fl_sim_result *r, int json)
{
	struct fl_sim_report_ctx c;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	memset(&c, 0, sizeof(c));
	c.plan = p;
	c.inv = inv;
	c.opt = o;
	assert_int_equal(json ? fl_sim_print_json(&c, r, m)
			      : fl_sim_print_text(&c, r, m),
			 0);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void test_simulate__same_seed_same_run(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "complete.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *a, *b, *c;
	char *ta, *tb, *tc, *ja;

	opts(f, &o);
	add_fail(&o, "region=us:10%");
	a = run(p, f->sample, &o);
	b = run(p, f->sample, &o);
	ta = report(p, f->sample, &o, a, 0);
	tb = report(p, f->sample, &o, b, 0);
	assert_string_equal(ta, tb);
	ja = report(p, f->sample, &o, a, 1);
	assert_non_null(strstr(ja, "\"timeline\""));
	o.seed = 2;
	c = run(p, f->sample, &o);
	tc = report(p, f->sample, &o, c, 0);
	assert_true(strcmp(ta, tc) != 0);
	free(ta);
	free(tb);
	free(tc);
	free(ja);
	free(a);
	free(b);
	free(c);
	fl_plan_free(p);
}

static void test_simulate__v3_failing_trips_early_and_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "complete.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *r;
	const struct fl_sim_stage *s;

	opts(f, &o);
	add_fail(&o, "thermo-v3:100%");
	r = run(p, f->sample, &o);
	s = r->stages;
	assert_int_equal(r->n_fail_drawn, 500);
	/* the canary's v3 device is in the EU, held: it passes on dev-0019 */
	assert_int_equal(s[0].state, FL_STAGE_PASSED);
	/* early has US v3 devices: it trips on the failure rate once 10 are
	   judged (min_devices), long before 20 failures */
	assert_int_equal(s[1].state, FL_STAGE_FAILED);
	assert_int_equal(s[1].fail_why, FL_WHY_FAILURE_RATE);
	assert_true(s[1].trip_judged >= 10);
	assert_true(s[1].trip_failed * 20 > s[1].trip_judged);
	assert_int_equal(s[2].started_at_s, -1);
	assert_int_equal(s[3].started_at_s, -1);
	assert_int_equal(s[2].fin.members, 0);
	assert_int_equal(r->state, FL_ROLLOUT_ROLLED_BACK);
	assert_true(r->has_rollback);
	assert_int_equal(r->rollback_stage, 1);
	assert_int_equal(r->rollback_why, FL_WHY_GATE);
	assert_int_equal(r->rollback_at_s, s[1].ended_at_s);
	/* every device that had the new version was sent back, and made it */
	assert_true(r->had_new_at_rollback > 0);
	assert_int_equal(r->fin.n_rollback_sent, r->n_got_new);
	assert_int_equal(r->fin.n_rollback_done, r->fin.n_rollback_sent);
	assert_int_equal(r->fin.n_rollback_failed, 0);
	assert_int_equal(r->n_on_new, 0);
	assert_int_equal(r->n_got_new, s[0].got_new + s[1].got_new);
	assert_true(r->rolled_back_at_s > r->rollback_at_s);
	free(r);
	fl_plan_free(p);
}

static void test_simulate__canary_trips_when_its_v3_is_offered(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "complete.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *r;

	opts(f, &o);
	add_fail(&o, "thermo-v3:100%");
	approve_hold(&o, "eu-radio-cert", T_DEC1);
	r = run(p, f->sample, &o);
	/* by hand: canary = dev-0007 (v3, fails) + dev-0019 (v2, succeeds);
	   fewer members than min_devices, so judged on both: 1/2 > 5% */
	assert_int_equal(r->hold_approved_at_s[0], T_DEC1);
	assert_int_equal(r->stages[0].state, FL_STAGE_FAILED);
	assert_int_equal(r->stages[0].trip_failed, 1);
	assert_int_equal(r->stages[0].trip_judged, 2);
	assert_int_equal(r->rollback_stage, 0);
	assert_int_equal(r->had_new_at_rollback, 2);
	assert_int_equal(r->fin.n_rollback_sent, 2);
	assert_int_equal(r->fin.n_rollback_done, 2);
	assert_int_equal(r->n_on_new, 0);
	assert_int_equal(r->state, FL_ROLLOUT_ROLLED_BACK);
	for (unsigned k = 1; k < 4; k++)
		assert_int_equal(r->stages[k].started_at_s, -1);
	free(r);

	/* an install failure never gets the new version onto dev-0007 */
	o.nfail = 0;
	add_fail(&o, "thermo-v3:100%:install");
	r = run(p, f->sample, &o);
	assert_int_equal(r->stages[0].state, FL_STAGE_FAILED);
	assert_int_equal(r->had_new_at_rollback, 1);
	assert_int_equal(r->fin.n_rollback_sent, 1);
	assert_int_equal(r->n_got_new, 1);
	free(r);

	/* 0%: nothing fails, everyone is updated */
	o.nfail = 0;
	add_fail(&o, "thermo-v3:0%");
	r = run(p, f->sample, &o);
	assert_int_equal(r->state, FL_ROLLOUT_COMPLETE);
	assert_int_equal(r->n_on_new, 1000);
	assert_int_equal(r->hold_blocked[0], 0);
	free(r);
	fl_plan_free(p);
}

static void test_simulate__pause_instead_of_rollback(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "approval.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *r;

	opts(f, &o);
	add_fail(&o, "ring=dogfood:100%");
	r = run(p, f->sample, &o);
	/* 200 bells; early is 5% = 10, stratified over eu and us */
	assert_int_equal(r->n_targets, 200);
	assert_int_equal(r->stages[0].members, 10);
	assert_int_equal(r->stages[0].state, FL_STAGE_FAILED);
	assert_true(r->is_paused);
	assert_int_equal(r->paused_stage, 0);
	assert_false(r->has_rollback);
	assert_int_equal(r->stages[1].started_at_s, -1);
	assert_int_equal(r->stages[1].awaited_at_s, -1);
	assert_int_equal(r->state, FL_ROLLOUT_RUNNING);
	free(r);
	fl_plan_free(p);
}

static void test_simulate__approve_after(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "approval.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *r;
	const struct fl_sim_stage *s;

	opts(f, &o);
	o.approve_after_s = D;
	r = run(p, f->sample, &o);
	s = r->stages;
	assert_int_equal(r->state, FL_ROLLOUT_COMPLETE);
	assert_int_equal(s[1].awaited_at_s, s[0].ended_at_s);
	assert_int_equal(s[1].approved_at_s, s[1].awaited_at_s + D);
	assert_true(s[1].started_at_s >= s[1].approved_at_s);
	assert_int_equal(s[1].members, 190);
	free(r);
	fl_plan_free(p);
}

static void test_simulate__device_model_delays(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "minimal.yaml");
	struct fl_inventory *inv = NULL;
	struct fl_sim_options o;
	struct fl_sim_result *r;
	int64_t took;

	assert_int_equal(fl_inventory_from_plan(p, 100, &inv), 0);
	opts(f, &o);
	r = run(p, inv, &o);
	/* activate now, no soak: a device succeeds on commit, which comes
	   5-60 + 1-5 + 120-600 + 60-180 + 10-60 + 30-120 + 60-300 s after
	   its offer: 286 s at the soonest, 1325 s at the latest */
	took = r->stages[0].ended_at_s - r->stages[0].first_offer_at_s;
	assert_int_equal(r->stages[0].members, 100);
	assert_int_equal(r->stages[0].fin.count[FL_DEV_SUCCEEDED], 100);
	assert_true(took >= 286 && took <= 1325);
	/* with 100 devices the slowest is close to the bound */
	assert_true(took > 800);
	free(r);
	fl_inventory_free(inv);
	fl_plan_free(p);
}

static void test_simulate__health_failure_without_soak_reverts(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "minimal.yaml");
	struct fl_inventory *inv = NULL;
	struct fl_sim_options o;
	struct fl_sim_result *r;

	assert_int_equal(fl_inventory_from_plan(p, 100, &inv), 0);
	opts(f, &o);
	add_fail(&o, "sensor-v1:100%");
	r = run(p, inv, &o);
	/* any failure fails the stage; the boot loader had already reverted
	   the failed device, so only the others that got it go back */
	assert_int_equal(r->stages[0].state, FL_STAGE_FAILED);
	assert_int_equal(r->state, FL_ROLLOUT_ROLLED_BACK);
	assert_true(r->n_failed_dev >= 1);
	assert_int_equal(r->n_on_new, 0);
	assert_true(r->fin.n_rollback_sent < r->n_got_new);
	free(r);
	fl_inventory_free(inv);
	fl_plan_free(p);
}

static void test_simulate__offline_devices_are_unreached(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "minimal.yaml");
	struct fl_inventory *inv = NULL;
	struct fl_sim_options o;
	struct fl_sim_result *r;
	const char *text = "groups:\n"
			   "  - {prefix: on, count: 8, model: sensor-v1, "
			   "version: 0.9.1}\n"
			   "  - {prefix: off, count: 2, model: sensor-v1, "
			   "version: 0.9.1, online: false}\n";

	assert_int_equal(fl_inventory_parse(text, strlen(text), "i.yaml",
					    "firmware", &f->tz, &inv, &f->d),
			 0);
	opts(f, &o);
	r = run(p, inv, &o);
	assert_int_equal(r->stages[0].members, 10);
	assert_int_equal(r->stages[0].fin.count[FL_DEV_UNREACHED], 2);
	assert_int_equal(r->stages[0].fin.count[FL_DEV_SUCCEEDED], 8);
	assert_int_equal(r->state, FL_ROLLOUT_COMPLETE);
	free(r);
	fl_inventory_free(inv);
	fl_plan_free(p);
}

static void test_simulate__time_bounded_hold_and_horizon(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "holds.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *r;
	int64_t freeze_end = 1799020800LL + 7 * H; /* 2027-01-04T07:00Z */

	/* started inside the year-end freeze: nothing until it lifts */
	opts(f, &o);
	o.start_s = 1797721200LL; /* 2026-12-20T00:00:00+01:00 */
	approve_hold(&o, "eu-radio-cert", o.start_s);
	o.horizon_s = 2 * D;
	r = run(p, f->sample, &o);
	assert_true(r->hit_horizon);
	assert_int_equal(r->stages[0].first_offer_at_s, -1);
	assert_int_equal(r->stages[0].wait_at_s[FL_WHY_HOLD], o.start_s);
	assert_int_equal(r->hold_blocked[1], 10);
	free(r);
	o.horizon_s = 30 * D;
	r = run(p, f->sample, &o);
	assert_false(r->hit_horizon);
	assert_int_equal(r->state, FL_ROLLOUT_COMPLETE);
	assert_true(r->stages[0].first_offer_at_s > freeze_end);
	assert_true(r->stages[0].first_offer_at_s <= freeze_end + 1);
	assert_int_equal(r->n_on_new, r->n_targets);
	free(r);
	fl_plan_free(p);
}

static void test_simulate__window_plan_waits_for_the_window(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p =
		plan_text(f, "rollout: t-now\n"
			     "artifact:\n"
			     "  version: 2.4.0\n"
			     "  file: ../artifacts/thermostat-2.4.0.bin\n"
			     "  hardware: [thermo-v3]\n"
			     "device: {activate: now}\n"
			     "windows:\n"
			     "  - {days: [mon-sun], from: \"02:00\", "
			     "to: \"05:00\", tz: device}\n"
			     "targets: {match: {region: us}}\n"
			     "stages:\n"
			     "  - {name: all, percent: 100}\n");
	struct fl_sim_options o;
	struct fl_sim_result *r;

	/* activate: now gates the offers: the US v3 devices are in Los
	   Angeles (02:00 PST = 10:00Z) and Chicago (th3-new is current) */
	opts(f, &o);
	r = run(p, f->sample, &o);
	assert_int_equal(r->n_targets, 249 + 1);
	assert_int_equal(r->stages[0].wait_at_s[FL_WHY_WINDOW], T_DEC1);
	/* dev-0042 is in Chicago: 02:00 CST = 08:00Z */
	assert_int_equal(r->stages[0].first_offer_at_s, T_DEC1 + 8 * H);
	assert_int_equal(r->stages[0].last_offer_at_s, T_DEC1 + 10 * H);
	assert_int_equal(r->state, FL_ROLLOUT_COMPLETE);
	free(r);
	fl_plan_free(p);
}

static void test_simulate__batches_keep_sizes_and_rates(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "complete.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *r;
	const struct fl_sim_stage *s;

	opts(f, &o);
	assert_int_equal(fl_sim_batch_s(&o, 20000), 1);
	assert_int_equal(fl_sim_batch_s(&o, 20001), 10);
	assert_int_equal(fl_sim_batch_s(&o, 200001), 60);
	o.batch_s = 60;
	assert_int_equal(fl_sim_batch_s(&o, 5), 60);
	r = run(p, f->sample, &o);
	s = r->stages;
	assert_int_equal(r->batch_s, 60);
	assert_int_equal(s[0].members, 2);
	assert_int_equal(s[1].members, 98);
	assert_int_equal(s[2].members, 400);
	assert_int_equal(s[3].members, 500);
	assert_int_equal(r->state, FL_ROLLOUT_COMPLETE);
	/* stages start on the minute grid from the start ... */
	assert_int_equal((s[1].started_at_s - T_DEC1) % 60, 0);
	/* ... and the rate is kept exactly: 251 offers at 200/min */
	assert_int_equal(s[3].last_offer_at_s - s[3].first_offer_at_s, 60);
	free(r);
	fl_plan_free(p);
}

static void test_simulate__listed_devices_must_be_targets(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p =
		plan_text(f, "rollout: listed\n"
			     "artifact:\n"
			     "  version: 2.4.0\n"
			     "  file: ../artifacts/thermostat-2.4.0.bin\n"
			     "  hardware: [thermo-v2, thermo-v3]\n"
			     "  from: \">=2.0.0 <2.4.0\"\n"
			     "stages:\n"
			     "  - name: canary\n"
			     "    devices: [dev-0007, dev-9999, th2-old-0001,\n"
			     "              gw-lab-01, th3-new-0002]\n"
			     "  - percent: 100\n");

	memset(&f->d, 0, sizeof(f->d));
	assert_int_equal(fl_sim_check_devices(p, f->sample, &f->tz, &f->d),
			 FL_EINVAL);
	/* dev-0007 is a target; the four others are refused, each at its
	 * own line and column, with the reason. */
	assert_int_equal(f->d.n_errors, 4);
	assert_int_equal(f->d.d[0].pos.line, 9);
	assert_int_equal(f->d.d[0].pos.col, 25);
	assert_non_null(
		strstr(f->d.d[0].msg, "`dev-9999` is not in the fleet"));
	assert_non_null(strstr(f->d.d[1].msg, "artifact.from"));
	assert_int_equal(f->d.d[2].pos.line, 10);
	assert_int_equal(f->d.d[2].pos.col, 15);
	assert_non_null(strstr(f->d.d[2].msg, "artifact.hardware"));
	/* 2.4.0 is outside ">=2.0.0 <2.4.0" before it is "already runs". */
	assert_non_null(strstr(f->d.d[3].msg, "artifact.from"));

	/* Without a fleet: one warning for the stage, at its first id. */
	memset(&f->d, 0, sizeof(f->d));
	fl_sim_warn_unchecked_devices(p, &f->d);
	assert_int_equal(f->d.n_errors, 0);
	assert_int_equal(f->d.n_warnings, 1);
	assert_int_equal(f->d.d[0].pos.line, 9);
	assert_int_equal(f->d.d[0].pos.col, 15);
	fl_plan_free(p);
}

static void test_simulate__refuses_bad_options(void **state)
{
	struct fixture *f = *state;
	struct fl_plan *p = example(f, "complete.yaml");
	struct fl_sim_options o;
	struct fl_sim_result *r = NULL;

	opts(f, &o);
	approve_hold(&o, "no-such-hold", T_DEC1);
	assert_int_equal(fl_sim_run(p, f->sample, &o, &r), FL_EINVAL);
	assert_null(r);
	opts(f, &o);
	o.horizon_s = 0;
	assert_int_equal(fl_sim_run(p, f->sample, &o, &r), FL_EINVAL);
	fl_plan_free(p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simulate__parse_fail),
		cmocka_unit_test(test_simulate__parse_and_format_time),
		cmocka_unit_test(
			test_simulate__jitter_is_deterministic_and_bounded),
		cmocka_unit_test(test_simulate__fail_draws_follow_the_rate),
		cmocka_unit_test(test_simulate__windows_in_device_time),
		cmocka_unit_test(test_simulate__complete_example_stage_sizes),
		cmocka_unit_test(test_simulate__same_seed_same_run),
		cmocka_unit_test(
			test_simulate__v3_failing_trips_early_and_rolls_back),
		cmocka_unit_test(
			test_simulate__canary_trips_when_its_v3_is_offered),
		cmocka_unit_test(test_simulate__pause_instead_of_rollback),
		cmocka_unit_test(test_simulate__approve_after),
		cmocka_unit_test(test_simulate__device_model_delays),
		cmocka_unit_test(
			test_simulate__health_failure_without_soak_reverts),
		cmocka_unit_test(test_simulate__offline_devices_are_unreached),
		cmocka_unit_test(test_simulate__time_bounded_hold_and_horizon),
		cmocka_unit_test(
			test_simulate__window_plan_waits_for_the_window),
		cmocka_unit_test(test_simulate__batches_keep_sizes_and_rates),
		cmocka_unit_test(test_simulate__refuses_bad_options),
		cmocka_unit_test(test_simulate__listed_devices_must_be_targets),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PLANS_EXAMPLES_DIR\n", argv[0]);
		return 2;
	}
	examples_dir = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
