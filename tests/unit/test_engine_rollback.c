/*
 * test_engine_rollback.c -- how a fleet-wide rollback ends: devices that
 * owe their result and are offline ("rollback unreached") are waited for
 * until health.rollback_timeout; online ones until they answer; results
 * that arrive after the rollout is rolled back are still the device's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine_fixture.h"

#define T0 1767225600LL /* 2026-01-01T00:00:00Z */
#define RB 600		/* health.rollback_timeout of these plans */

struct rb {
	struct tplan tp;
	struct tinv v;
	struct tdrive t;
};

/* n devices in one stage, every one committed 2.0.0 at T0 + 1; then the
 * operator rolls back at T0 + 10 and the step at T0 + 11 sends the
 * rollbacks. */
static struct rb *rb_setup(unsigned n, int64_t rollback_timeout_s)
{
	struct rb *x = calloc(1, sizeof(*x));
	struct fl_engine_config cfg;
	char id[16];

	assert_non_null(x);
	tp_init(&x->tp, "r1");
	x->tp.p.health.rollback_timeout_s = rollback_timeout_s;
	tp_percent(&x->tp, 100);
	ti_init(&x->v, n + 4);
	for (unsigned i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "d%03u", i);
		ti_add(&x->v, id, "m1", NULL, "1.0.0", NULL, NULL, 1);
	}
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(
		fl_engine_create(&x->t.e, &x->tp.p, &cfg, x->v.d, x->v.n), 0);
	assert_int_equal(td_step(&x->t, T0), 0);
	assert_int_equal(td_count(&x->t, FL_DEC_OFFER), n);
	for (uint32_t i = 0; i < n; i++)
		ev_success_path(x->t.e, i, T0 + 1);
	assert_int_equal(td_step(&x->t, T0 + 2), 0);
	assert_non_null(td_find(&x->t, FL_DEC_COMPLETE, FL_ENGINE_NO_DEV));
	assert_int_equal(ev_op(x->t.e, FL_EV_ROLLBACK, NULL, "op", T0 + 10), 0);
	assert_int_equal(td_step(&x->t, T0 + 11), 0);
	assert_int_equal(td_count(&x->t, FL_DEC_ROLLBACK_DEVICE), n);
	return x;
}

static void rb_free(struct rb *x)
{
	fl_engine_free(x->t.e);
	ti_free(&x->v);
	free(x);
}

static struct fl_engine_status status(const struct rb *x)
{
	struct fl_engine_status s;

	fl_engine_status(x->t.e, &s);
	return s;
}

/* A device that reboots into the old version is offline for a moment:
 * the rollout is not over until it reports. */
static void test_engine_rollback__offline_device_is_waited_for(void **s)
{
	struct rb *x = rb_setup(3, RB);
	struct fl_engine_status st;

	(void)s;
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 0, T0 + 12);
	ev_dev(x->t.e, FL_EV_OFFLINE, 1, T0 + 12); /* rebooting */
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 2, T0 + 12);
	assert_int_equal(td_step(&x->t, T0 + 13), 0);
	assert_null(td_find(&x->t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	st = status(x);
	assert_int_equal(st.state, FL_ROLLOUT_ROLLING_BACK);
	assert_int_equal(st.n_rollback_sent, 3);
	assert_int_equal(st.n_rollback_done, 2);
	assert_int_equal(st.n_rollback_unreached, 1);
	assert_int_equal(td_dev(x->t.e, 1).rollback, FL_RB_UNREACHED);
	/* woken at the deadline, not before */
	assert_int_equal(x->t.wake, T0 + 11 + RB);
	/* it comes back on its old version and says so: rolled back */
	ev_dev(x->t.e, FL_EV_ONLINE, 1, T0 + 14);
	assert_int_equal(td_dev(x->t.e, 1).rollback, FL_RB_SENT);
	assert_int_equal(status(x).n_rollback_unreached, 0);
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 1, T0 + 14);
	assert_int_equal(td_step(&x->t, T0 + 15), 0);
	assert_null(td_find(&x->t, FL_DEC_ROLLBACK_DEVICE, 1)); /* answered */
	{
		const struct fl_decision *d =
			td_find(&x->t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV);

		assert_non_null(d);
		assert_int_equal(d->why, FL_WHY_NONE);
		assert_int_equal(d->ref, 3);
	}
	st = status(x);
	assert_int_equal(st.state, FL_ROLLOUT_ROLLED_BACK);
	assert_int_equal(st.n_rollback_done, 3);
	assert_int_equal(st.n_rollback_unreached, 0);
	assert_int_equal(x->t.wake, FL_ENGINE_NEVER);
	rb_free(x);
}

/* An online device that has not answered is waited for whatever the
 * deadline: it is reachable. */
static void test_engine_rollback__online_device_is_waited_for(void **s)
{
	struct rb *x = rb_setup(2, RB);

	(void)s;
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 0, T0 + 12);
	assert_int_equal(td_step(&x->t, T0 + 11 + RB + 100), 0);
	assert_null(td_find(&x->t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	assert_int_equal(status(x).state, FL_ROLLOUT_ROLLING_BACK);
	assert_int_equal(td_dev(x->t.e, 1).rollback, FL_RB_SENT);
	/* once it goes away past the deadline, it is not waited for */
	ev_dev(x->t.e, FL_EV_OFFLINE, 1, T0 + 11 + RB + 200);
	assert_int_equal(td_step(&x->t, T0 + 11 + RB + 201), 0);
	assert_non_null(td_find(&x->t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	rb_free(x);
}

/* Away past the deadline: rolled back (why: timeout), the device still
 * rollback-unreached; when it returns it is told again, and its late
 * result is its own, with the rollout's counts. */
static void test_engine_rollback__late_result_after_timeout(void **s)
{
	struct rb *x = rb_setup(3, RB);
	const struct fl_decision *d;
	struct fl_engine_status st;

	(void)s;
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 0, T0 + 12);
	ev_dev(x->t.e, FL_EV_ROLLBACK_FAILED, 1, T0 + 12);
	ev_dev(x->t.e, FL_EV_OFFLINE, 2, T0 + 12);
	assert_int_equal(td_step(&x->t, T0 + 13), 0);
	assert_int_equal(x->t.n, 0);
	assert_int_equal(x->t.wake, T0 + 11 + RB);
	/* one second early: nothing */
	assert_int_equal(td_step(&x->t, T0 + 11 + RB - 1), 0);
	assert_int_equal(x->t.n, 0);
	assert_int_equal(status(x).state, FL_ROLLOUT_ROLLING_BACK);
	assert_int_equal(td_step(&x->t, T0 + 11 + RB), 0);
	d = td_find(&x->t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV);
	assert_non_null(d);
	assert_int_equal(d->why, FL_WHY_TIMEOUT);
	assert_int_equal(d->ref, 1);
	st = status(x);
	assert_int_equal(st.state, FL_ROLLOUT_ROLLED_BACK);
	assert_int_equal(st.n_rollback_unreached, 1);
	assert_int_equal(td_dev(x->t.e, 2).rollback, FL_RB_UNREACHED);
	assert_int_equal(x->t.wake, FL_ENGINE_NEVER);
	/* a day later it returns: told again, its result recorded */
	ev_dev(x->t.e, FL_EV_ONLINE, 2, T0 + 86400);
	assert_int_equal(td_step(&x->t, T0 + 86401), 0);
	assert_int_equal(x->t.n, 1);
	assert_non_null(td_find(&x->t, FL_DEC_ROLLBACK_DEVICE, 2));
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 2, T0 + 86402);
	assert_int_equal(td_step(&x->t, T0 + 86403), 0);
	assert_int_equal(x->t.n, 0); /* no second "rolled back" */
	st = status(x);
	assert_int_equal(st.state, FL_ROLLOUT_ROLLED_BACK);
	assert_int_equal(st.n_rollback_done, 2);
	assert_int_equal(st.n_rollback_failed, 1);
	assert_int_equal(st.n_rollback_unreached, 0);
	assert_int_equal(td_dev(x->t.e, 2).rollback, FL_RB_DONE);
	rb_free(x);
}

/* rollback_timeout 0: a device offline is not waited for at all. */
static void test_engine_rollback__zero_timeout_waits_for_none_away(void **s)
{
	struct rb *x = rb_setup(2, 0);
	const struct fl_decision *d;

	(void)s;
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 0, T0 + 12);
	ev_dev(x->t.e, FL_EV_OFFLINE, 1, T0 + 12);
	assert_int_equal(td_step(&x->t, T0 + 13), 0);
	d = td_find(&x->t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV);
	assert_non_null(d);
	assert_int_equal(d->why, FL_WHY_TIMEOUT);
	assert_int_equal(td_dev(x->t.e, 1).rollback, FL_RB_UNREACHED);
	rb_free(x);
}

/* A device offline when the rollback starts is sent it anyway (the
 * command waits in its session) and counted unreached from the start;
 * one that reverted by itself while away is done. */
static void test_engine_rollback__away_at_start_counts_unreached(void **s)
{
	struct rb *x = calloc(1, sizeof(*x));
	struct fl_engine_config cfg;

	(void)s;
	assert_non_null(x);
	tp_init(&x->tp, "r1");
	x->tp.p.health.rollback_timeout_s = RB;
	tp_percent(&x->tp, 100);
	ti_init(&x->v, 4);
	ti_add(&x->v, "a", "m1", NULL, "1.0.0", NULL, NULL, 1);
	ti_add(&x->v, "b", "m1", NULL, "1.0.0", NULL, NULL, 1);
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(
		fl_engine_create(&x->t.e, &x->tp.p, &cfg, x->v.d, x->v.n), 0);
	td_step(&x->t, T0);
	ev_success_path(x->t.e, 0, T0 + 1);
	ev_success_path(x->t.e, 1, T0 + 1);
	ev_dev(x->t.e, FL_EV_OFFLINE, 1, T0 + 2);
	ev_op(x->t.e, FL_EV_ROLLBACK, NULL, "op", T0 + 3);
	assert_int_equal(td_step(&x->t, T0 + 4), 0);
	assert_non_null(td_find(&x->t, FL_DEC_ROLLBACK_DEVICE, 1));
	assert_int_equal(status(x).n_rollback_unreached, 1);
	assert_int_equal(td_dev(x->t.e, 1).rollback, FL_RB_UNREACHED);
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 0, T0 + 5);
	/* b's boot loader went back by itself: a revert answers it */
	ev_dev(x->t.e, FL_EV_REVERTED, 1, T0 + 6);
	assert_int_equal(status(x).n_rollback_unreached, 0);
	assert_int_equal(td_step(&x->t, T0 + 7), 0);
	assert_non_null(td_find(&x->t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	assert_int_equal(td_dev(x->t.e, 1).rollback, FL_RB_DONE);
	rb_free(x);
}

/* A rollback that failed (or that fleetd could not make: no image to go
 * back to) and then the device's own boot loader went back: it is back. */
static void test_engine_rollback__revert_after_failure_is_back(void **s)
{
	struct rb *x = rb_setup(2, RB);
	struct fl_engine_status st;

	(void)s;
	ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 0, T0 + 12);
	ev_dev(x->t.e, FL_EV_ROLLBACK_FAILED, 1, T0 + 12);
	assert_int_equal(td_step(&x->t, T0 + 13), 0);
	assert_non_null(td_find(&x->t, FL_DEC_ROLLED_BACK, FL_ENGINE_NO_DEV));
	st = status(x);
	assert_int_equal(st.n_rollback_failed, 1);
	ev_dev(x->t.e, FL_EV_REVERTED, 1, T0 + 20);
	st = status(x);
	assert_int_equal(st.n_rollback_done, 2);
	assert_int_equal(st.n_rollback_failed, 0);
	assert_int_equal(td_dev(x->t.e, 1).rollback, FL_RB_DONE);
	/* and a stale failure after that changes nothing */
	ev_dev(x->t.e, FL_EV_ROLLBACK_FAILED, 1, T0 + 21);
	assert_int_equal(status(x).n_rollback_done, 2);
	rb_free(x);
}

/* Replaying the same calls gives the same decisions (the deadline comes
 * from the step that started the rollback, not from a clock). */
static void test_engine_rollback__replay_is_identical(void **s)
{
	struct fl_decision a[64], b[64];
	size_t na = 0, nb = 0;

	(void)s;
	for (int pass = 0; pass < 2; pass++) {
		struct rb *x = rb_setup(3, RB);
		struct fl_decision *out = pass ? b : a;
		size_t *n = pass ? &nb : &na;
		static const int64_t at[] = {T0 + 20, T0 + 11 + RB, T0 + 90000};

		ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 0, T0 + 12);
		ev_dev(x->t.e, FL_EV_OFFLINE, 1, T0 + 12);
		ev_dev(x->t.e, FL_EV_ROLLBACK_DONE, 2, T0 + 13);
		for (unsigned i = 0; i < 3; i++) {
			if (i == 2)
				ev_dev(x->t.e, FL_EV_ONLINE, 1, T0 + 89999);
			assert_int_equal(td_step(&x->t, at[i]), 0);
			for (size_t k = 0; k < x->t.n && *n < 64; k++)
				out[(*n)++] = x->t.d[k];
		}
		rb_free(x);
	}
	assert_int_equal(na, nb);
	assert_true(na >= 2);
	assert_memory_equal(a, b, na * sizeof(a[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_engine_rollback__offline_device_is_waited_for),
		cmocka_unit_test(
			test_engine_rollback__online_device_is_waited_for),
		cmocka_unit_test(
			test_engine_rollback__late_result_after_timeout),
		cmocka_unit_test(
			test_engine_rollback__zero_timeout_waits_for_none_away),
		cmocka_unit_test(
			test_engine_rollback__away_at_start_counts_unreached),
		cmocka_unit_test(
			test_engine_rollback__revert_after_failure_is_back),
		cmocka_unit_test(test_engine_rollback__replay_is_identical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
