/*
 * test_agent_powercut.c -- power cuts and kills at every flash operation of
 * an update driven through agent/core.
 *
 * Method: a story (an offer of 2.0.0 committed; the same offer failing its
 * health check; a rollback command switching back to 1.0.0) is run first
 * without faults, on the simulated device of agent_fixture.h: power-on
 * from flash alone, connect, the command, then the agent's poll loop with
 * the HTTP server serving a few KiB per step, reboots when the agent asks,
 * until the job's final status is out. Its flash operations are numbered
 * across all boots. Then the story is run again with power cut during
 * operation N, for every N, and for writes and erases in each cut mode
 * (clean, torn, garbage). After a cut the device boots from its flash
 * contents alone and the story goes on: fleetd's side sends the same
 * command again after every reconnect until it has a final status (a
 * duplicate must be harmless). A second sweep kills the agent process at
 * every operation instead (no reboot, the same boot; the agent restarts).
 *
 * Checked for every run:
 *   - every power-on boots an image that verifies (never FL_EBRICK);
 *   - the job ends, and its final status is the right one: the story's
 *     result, or, only when the cut came once the trial boot had started
 *     (a cut there spends the only boot try), the revert the boot loader
 *     made, with that reason; never another result;
 *   - every final status of the job says the same, nothing but the final
 *     status follows it, and the running image, the slot records and the
 *     retained inventory agree with it;
 *   - statuses are strictly ordered by (boot, n);
 *   - one more clean boot re-sends the same final status (it was persisted).
 *
 * It prints the number of cut points per story and geometry, and in all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "agent_fixture.h"

#define IMG_LEN	  (24 * 1024 + 5)
#define JOB	  200u
#define BASE_JOB  100u
#define MAX_BOOTS 16
#define MAX_STEPS 600

enum story { GOOD, HEALTH_FAIL, ROLLBACK, STORY_COUNT };

static const char *const story_names[] = {"offer+commit", "offer+health-fail",
					  "rollback-switch"};

struct sweep {
	const struct fl_layout *lay;
	enum story story;
	bool is_external;
	struct fx *f;
	struct fl_cmd cmd;
	uint8_t *base_mem;
	struct fx_world *base_world;
	uint32_t ops_base;
	bool is_kill;	 /* this run kills the process instead of power */
	uint32_t cut_at; /* global op index; 0: none (or already cut) */
	uint8_t mode;
	uint64_t seed;
	/* the clean run */
	uint32_t total_ops;
	uint32_t trial_op; /* first op of the boot into the trial */
	/* this run */
	uint32_t cut_op;    /* where the cut happened, 0 none */
	uint8_t cut_kind;   /* enum fl_sim_op of the cut operation */
	bool was_power_cut; /* the cut rebooted the device */
	unsigned boots;
	bool did_resume;
	/* counters */
	unsigned cut_points, kills, resumes, reverts;
};

static unsigned total_cut_points, total_kills, total_runs;

static bool is_cut(struct sweep *w)
{
	return !w->f->run->hal.sim.is_powered;
}

static void faults_for(struct sweep *w, struct fl_sim_faults *fp)
{
	memset(fp, 0, sizeof(*fp));
	if (w->cut_at > w->ops_base) {
		fp->cut_at = w->cut_at - w->ops_base;
		fp->cut_mode = w->mode;
		fp->seed = w->seed;
	}
}

/* Ends a segment of the run (a boot, or a process lifetime). */
static void end_segment(struct sweep *w)
{
	w->ops_base += w->f->run->hal.sim.ops;
	if (is_cut(w)) {
		w->cut_op = w->cut_at;
		w->cut_kind = w->f->run->hal.sim.last_cut_op;
		w->cut_at = 0;
	}
}

static const struct fl_status *final_of(const struct fx *f)
{
	const struct fl_status *s = fx_last(f, JOB);

	return s != NULL && s->state == FL_STATE_IDLE ? s : NULL;
}

/* One life of the agent: from power-on (or restart) to a reboot request,
 * a cut, or the end of the story. Returns true at the end. */
static bool one_life(struct sweep *w, bool is_restart, uint8_t reset)
{
	struct fx *f = w->f;
	struct fl_sim_faults fp;
	int rc;

	faults_for(w, &fp);
	rc = is_restart ? fx_restart(f, &fp) : fx_power_on(f, &fp, reset);
	assert_int_not_equal(rc, FL_EBRICK);
	if (is_cut(w))
		return false;
	assert_int_equal(rc, 0);
	assert_int_equal(fx_connect(f), 0);
	if (final_of(f) == NULL) {
		/* fleetd sends the command (again: a duplicate is harmless) */
		rc = fl_agent_on_cmd(&f->run->agent, &w->cmd);
		if (is_cut(w))
			return false;
		assert_int_equal(rc, 0);
	}
	for (unsigned step = 0; step < MAX_STEPS; step++) {
		uint32_t next = 0;

		rc = fl_agent_poll(&f->run->agent, &next);
		if (is_cut(w))
			return false;
		assert_int_equal(rc, 0);
		if (f->w.dl_pending) {
			if (!f->w.dl_open && f->w.req.offset > 0)
				w->did_resume = true;
			rc = fx_serve(f, 3000, 1000, false);
			if (is_cut(w))
				return false;
			assert_true(rc == 0 || rc == FL_EINVAL);
		}
		if (f->w.reboot_requested)
			return false;
		if (f->run->agent.st.job.id == JOB &&
		    f->run->agent.st.job.phase == FL_AGENT_DONE &&
		    final_of(f) != NULL)
			return true;
		fx_advance(f, next > 0 ? next : 1);
	}
	fail_msg("%s: no end of the job within %u steps (phase %u)",
		 story_names[w->story], MAX_STEPS, f->run->agent.st.job.phase);
	return false;
}

/* Runs the story from the base. */
static void run_story(struct sweep *w, bool record)
{
	struct fx *f = w->f;
	bool is_restart = false;
	uint8_t reset = FL_RESET_POWER_ON;

	memcpy(f->dev.mem, w->base_mem, f->lay->geom.size_bytes);
	memcpy(&f->w, w->base_world, sizeof(f->w));
	w->ops_base = 0;
	w->cut_op = 0;
	w->was_power_cut = false;
	w->did_resume = false;
	for (w->boots = 0; w->boots < MAX_BOOTS; w->boots++) {
		bool is_end;

		if (record && reset == FL_RESET_SOFTWARE && w->trial_op == 0)
			w->trial_op = w->ops_base + 1;
		is_end = one_life(w, is_restart, reset);
		/* A kill inside the boot loader is a power cut there. */
		is_restart = w->is_kill && is_cut(w) &&
			     f->run->agent.cfg.slots != NULL;
		if (is_cut(w))
			w->was_power_cut = !is_restart;
		reset = is_cut(w) ? FL_RESET_POWER_ON : FL_RESET_SOFTWARE;
		end_segment(w);
		if (is_end)
			break;
	}
	assert_true(w->boots < MAX_BOOTS);
	if (record)
		w->total_ops = w->ops_base;
}

static bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* The end must be right, and every report of it must agree. */
static void check_end(struct sweep *w)
{
	struct fx *f = w->f;
	const struct fl_status *fin = final_of(f);
	const struct fl_slot_info *run;
	bool may_revert =
		w->cut_op != 0 && w->cut_op >= w->trial_op && w->was_power_cut;
	bool seen_final = false;
	const char *want_version;
	int want;

	assert_non_null(fin);
	for (unsigned i = 0; i < f->w.n_log; i++) {
		const struct fl_status *s = &f->w.log[i];

		if (i > 0)
			assert_true(s->boot > f->w.log[i - 1].boot ||
				    (s->boot == f->w.log[i - 1].boot &&
				     s->n > f->w.log[i - 1].n));
		if (s->job != JOB)
			continue;
		if (seen_final) {
			/* after the final: the same final, again */
			assert_int_equal(s->state, FL_STATE_IDLE);
			assert_int_equal(s->result, fin->result);
			assert_string_equal(s->reason, fin->reason);
		}
		seen_final |= s->state == FL_STATE_IDLE;
	}
	switch (w->story) {
	case GOOD:
		want = FL_RESULT_SUCCESS;
		want_version = "2.0.0";
		if (fin->result == FL_RESULT_REVERTED && may_revert) {
			want = FL_RESULT_REVERTED;
			want_version = "1.0.0";
			assert_true(streq(fin->reason, "not_confirmed") ||
				    streq(fin->reason, "bootloader"));
			w->reverts++;
		}
		break;
	case HEALTH_FAIL:
		want = FL_RESULT_REVERTED;
		want_version = "1.0.0";
		if (!streq(fin->reason, "health:crashes")) {
			if (!may_revert)
				fail_msg("%s/%s: cut at op %u (mode %u, %s; "
					 "trial from op %u) ended %s (%s)",
					 w->lay->name, story_names[w->story],
					 w->cut_op, w->mode,
					 w->was_power_cut ? "power" : "kill",
					 w->trial_op,
					 fl_result_name(fin->result),
					 fin->reason);
			assert_true(streq(fin->reason, "not_confirmed") ||
				    streq(fin->reason, "bootloader"));
			w->reverts++;
		}
		break;
	default:
		want = FL_RESULT_ROLLED_BACK;
		want_version = "1.0.0";
		if (fin->result == FL_RESULT_ROLLBACK_FAILED && may_revert) {
			want = FL_RESULT_ROLLBACK_FAILED;
			want_version = "2.0.0";
			assert_true(streq(fin->reason, "not_confirmed") ||
				    streq(fin->reason, "bootloader"));
			w->reverts++;
		}
		break;
	}
	if (fin->result != want)
		fail_msg("%s/%s: cut at op %u (mode %u, %s; trial from op %u) "
			 "ended %s (%s), want %s",
			 w->lay->name, story_names[w->story], w->cut_op,
			 w->mode, w->was_power_cut ? "power" : "kill",
			 w->trial_op, fl_result_name(fin->result), fin->reason,
			 fl_result_name(want));
	/* The device agrees with the report. */
	run = &fx_slots(f)->info[fl_slots_booted(fx_slots(f))];
	if (!streq(run->version, want_version) ||
	    run->state != FL_SLOT_CONFIRMED)
		fail_msg("%s/%s: cut at op %u (kind %u mode %u, %s; trial from "
			 "op %u): reported %s (%s) but runs %s in state %u",
			 w->lay->name, story_names[w->story], w->cut_op,
			 w->cut_kind, w->mode,
			 w->was_power_cut ? "power" : "kill", w->trial_op,
			 fl_result_name(fin->result), fin->reason, run->version,
			 run->state);
	assert_int_equal(f->w.reported.job, JOB);
	assert_int_equal(f->w.reported.result, want);
	if (want == FL_RESULT_SUCCESS)
		assert_int_equal(fl_slots_floor(fx_slots(f)), 2);
	if (want == FL_RESULT_ROLLED_BACK)
		assert_int_equal(fl_slots_floor(fx_slots(f)), 3);
	/* It was persisted: one more clean boot says the same. */
	f->w.n_log = 0;
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(f->w.n_log, 1);
	assert_int_equal(f->w.log[0].result, want);
	assert_string_equal(f->w.log[0].reason, fin->reason);
	assert_string_equal(fx_running(f), want_version);
}

/* Builds the base device and the story's command. */
static void setup_story(struct sweep *w)
{
	struct fx *f;
	struct fl_manifest m;
	struct fl_manifest_env env;

	w->f = f = fx_new(w->lay, 1, IMG_LEN);
	assert_non_null(f);
	f->dev.is_external = w->is_external;
	f->base.health_window_s = 10;
	f->base.checkpoint_bytes = 8192;
	f->base.health_sample_ms = 2000;
	if (w->story == ROLLBACK) {
		struct fl_cmd c;

		/* Base: 2.0.0 installed through the agent and committed. */
		assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
		assert_int_equal(fx_connect(f), 0);
		assert_int_equal(fx_offer(f, BASE_JOB, 1, 2, &c), 0);
		assert_int_equal(fx_run_for(f, 60000), 0);
		assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
		assert_int_equal(fx_connect(f), 0);
		assert_int_equal(fx_run_for(f, 60000), 0);
		assert_string_equal(fx_running(f), "2.0.0");
		assert_int_equal(fx_last(f, BASE_JOB)->result,
				 FL_RESULT_SUCCESS);
		fx_manifest_of(&m, &f->img[0], 3);
		m.is_rollback = true;
		assert_int_equal(fx_seal(&env, &m, &f->key), 0);
		fx_cmd(&w->cmd, FL_CMD_ROLLBACK, JOB, &env);
		f->w.content = f->img[0].data;
		f->w.content_len = f->img[0].len;
	} else {
		fx_manifest_of(&m, &f->img[1], 2);
		assert_int_equal(fx_seal(&env, &m, &f->key), 0);
		fx_cmd(&w->cmd, FL_CMD_OFFER, JOB, &env);
		f->w.content = f->img[1].data;
		f->w.content_len = f->img[1].len;
		if (w->story == HEALTH_FAIL) {
			w->cmd.n_limits = 1;
			strcpy(w->cmd.limits[0].metric, "crashes");
			w->cmd.limits[0].has_max = true;
			w->cmd.limits[0].max = 0;
			f->w.sample.crashes = 1;
		}
	}
	/* The command stays valid through hours of simulated retries. */
	w->cmd.expires = FX_T0 + 30 * 86400;
	f->w.n_log = 0;
	f->w.n_starts = 0;
	f->w.bytes_served = 0;
	w->base_mem = malloc(w->lay->geom.size_bytes);
	memcpy(w->base_mem, f->dev.mem, w->lay->geom.size_bytes);
	w->base_world = malloc(sizeof(*w->base_world));
	memcpy(w->base_world, &f->w, sizeof(f->w));
}

static void sweep_one(const struct fl_layout *lay, enum story story,
		      bool is_external)
{
	struct sweep *w = calloc(1, sizeof(*w));

	w->lay = lay;
	w->story = story;
	w->is_external = is_external;
	setup_story(w);

	run_story(w, true); /* the clean run */
	check_end(w);
	assert_true(w->trial_op > 0 && w->trial_op <= w->total_ops);

	for (uint32_t n = 1; n <= w->total_ops; n++) {
		for (uint8_t mode = 0; mode < FL_SIM_CUT_MODES; mode++) {
			uint8_t op;

			w->is_kill = false;
			w->cut_at = n;
			w->mode = mode;
			w->seed = (uint64_t)n * 7919u + mode;
			run_story(w, false);
			assert_int_equal(w->cut_op, n);
			op = w->cut_kind;
			w->cut_points++;
			w->resumes += w->did_resume;
			check_end(w);
			if (op != FL_SIM_OP_WRITE && op != FL_SIM_OP_ERASE)
				break; /* reads and syncs: one mode */
		}
		/* The agent process is killed at operation n instead. */
		w->is_kill = true;
		w->cut_at = n;
		w->mode = FL_SIM_CUT_CLEAN;
		run_story(w, false);
		w->kills++;
		check_end(w);
	}
	printf("[ sweep    ] %-12s %-7s %-18s %5u flash ops, %6u cut points, "
	       "%5u kills, %4u resumed downloads, %4u ended in a boot-loader "
	       "revert, 0 bricked, 0 wrong reports\n",
	       lay->name, is_external ? "u-boot" : "native", story_names[story],
	       w->total_ops, w->cut_points, w->kills, w->resumes, w->reverts);
	fflush(stdout);
	total_cut_points += w->cut_points;
	total_kills += w->kills;
	total_runs++;
	free(w->base_mem);
	free(w->base_world);
	fx_free(w->f);
	free(w);
}

#define SWEEP(l, s, x)                                                         \
	static void test_agent_powercut__##s##_##l##_##x(void **state)         \
	{                                                                      \
		(void)state;                                                   \
		sweep_one(&fx_layouts[l], s, x);                               \
	}

SWEEP(0, GOOD, 0)
SWEEP(0, HEALTH_FAIL, 0)
SWEEP(0, ROLLBACK, 0)
SWEEP(1, GOOD, 0)
SWEEP(1, ROLLBACK, 0)
SWEEP(2, GOOD, 0)
SWEEP(2, HEALTH_FAIL, 0)
SWEEP(0, GOOD, 1)
SWEEP(0, HEALTH_FAIL, 1)
SWEEP(1, ROLLBACK, 1)
SWEEP(2, GOOD, 1)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_powercut__GOOD_0_0),
		cmocka_unit_test(test_agent_powercut__HEALTH_FAIL_0_0),
		cmocka_unit_test(test_agent_powercut__ROLLBACK_0_0),
		cmocka_unit_test(test_agent_powercut__GOOD_1_0),
		cmocka_unit_test(test_agent_powercut__ROLLBACK_1_0),
		cmocka_unit_test(test_agent_powercut__GOOD_2_0),
		cmocka_unit_test(test_agent_powercut__HEALTH_FAIL_2_0),
		cmocka_unit_test(test_agent_powercut__GOOD_0_1),
		cmocka_unit_test(test_agent_powercut__HEALTH_FAIL_0_1),
		cmocka_unit_test(test_agent_powercut__ROLLBACK_1_1),
		cmocka_unit_test(test_agent_powercut__GOOD_2_1),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	printf("agent power-cut sweep: %u cut points and %u kills over %u "
	       "stories (3 flash geometries, 2 boot loaders), %d failed\n",
	       total_cut_points, total_kills, total_runs, failed);
	return failed;
}
