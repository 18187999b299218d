/*
 * test_powercut.c -- the power-cut sweep of the A/B slot manager.
 *
 * Method: a story (install, finish, activate, boot on trial, confirm or
 * reject or no confirm, boot; or a rollback to the previous slot) is first
 * run without faults. Its flash operations are numbered globally across
 * the reboots of the story, and after every step the flash contents are
 * copied and booted once, which gives what a boot observes before and
 * after each step. Then the story is run again with power cut during
 * operation N, for every N and, where the operation is a write or an
 * erase, in every cut mode (clean, torn, garbage). After each cut the
 * device boots from its flash contents alone, and the sweep checks:
 *
 *   - exactly one image boots and it verifies: the old or the new one,
 *     never none (FL_EBRICK) and never a third;
 *   - the step the cut fell in was atomic: what the boot observes (which
 *     image runs, the attempt's outcome and reason) is what it observes
 *     either before or after that step of the clean run;
 *   - the attempt record names the right attempt and versions;
 *   - an agent that follows the attempt record from there brings the
 *     device to the story's end (every boot again checked), or, when the
 *     cut spent the trial boot, to a revert that the attempt reports.
 *
 * It prints the number of cut points run per story and geometry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "hal_fixture.h"

enum step {
	ST_BEGIN,
	ST_WRITE,
	ST_FINISH,
	ST_ACTIVATE,
	ST_BOOT, /* power-on: the boot loader's decision */
	ST_CONFIRM,
	ST_REJECT,
	ST_SWITCH, /* rollback to the previous slot, no download */
	ST_END,
};

static const char *const step_names[] = {
	"begin",   "write",  "finish", "activate", "boot",
	"confirm", "reject", "switch", "end",
};

enum story { GOOD, REJECTED, UNCONFIRMED, ROLLBACK, OVER, STORY_COUNT };

static const char *const story_names[] = {
	"install+confirm",	"install+reject",	 "install+no-confirm",
	"rollback-to-previous", "install-over-previous",
};

/* Images: 0 = 1.0.0 (factory), 1 = 2.0.0, 2 = 3.0.0. Each story goes from
 * one image to another; OVER installs 3.0.0 into the slot that still holds
 * the committed 1.0.0, after 2.0.0 was committed. */
static const int story_from[STORY_COUNT] = {0, 0, 0, 1, 1};
static const int story_to[STORY_COUNT] = {1, 1, 1, 0, 2};

static const enum step stories[STORY_COUNT][10] = {
	[GOOD] = {ST_BEGIN, ST_WRITE, ST_FINISH, ST_ACTIVATE, ST_BOOT,
		  ST_CONFIRM, ST_BOOT, ST_END},
	[REJECTED] = {ST_BEGIN, ST_WRITE, ST_FINISH, ST_ACTIVATE, ST_BOOT,
		      ST_REJECT, ST_BOOT, ST_END},
	[UNCONFIRMED] = {ST_BEGIN, ST_WRITE, ST_FINISH, ST_ACTIVATE, ST_BOOT,
			 ST_BOOT, ST_END},
	[ROLLBACK] = {ST_SWITCH, ST_BOOT, ST_CONFIRM, ST_BOOT, ST_END},
	[OVER] = {ST_BEGIN, ST_WRITE, ST_FINISH, ST_ACTIVATE, ST_BOOT,
		  ST_CONFIRM, ST_BOOT, ST_END},
};

#define ATTEMPT_INSTALL	 0x1001u
#define ATTEMPT_ROLLBACK 0x2002u
#define ATTEMPT_OVER	 0x3003u

/* What one boot shows. */
struct obs {
	int image;	  /* index in w->img */
	uint32_t attempt; /* attempt id, 0 none */
	uint8_t outcome;
	uint8_t reason;
};

struct sweep {
	const struct fl_layout *lay;
	enum story story;
	struct fl_image img[3];
	uint8_t *base_mem; /* device before the story */
	struct fl_dev dev;
	struct fl_dev_boot *b;
	struct fl_install in;
	uint32_t ops_base;   /* operations of earlier boots of this run */
	uint32_t torn_bytes; /* fault plan: exact tear position, 0 random */
	int is_external;     /* boot through envsim: boot.h's external order */
	uint8_t revert_reason; /* how a boot loader's revert is recorded */
	/* the clean run */
	uint32_t total_ops;
	uint32_t step_start[12]; /* first global op index of each step */
	struct obs before[12], after[12];
	unsigned nsteps;
	/* counters */
	unsigned cut_points, reverts, resumes;
};

static uint32_t attempt_of(enum story story)
{
	return story == ROLLBACK ? ATTEMPT_ROLLBACK
	       : story == OVER	 ? ATTEMPT_OVER
				 : ATTEMPT_INSTALL;
}

/* Which image the booted slot holds and verifies, or -1. */
static int booted_image(struct sweep *w, struct fl_dev_boot *b)
{
	unsigned s = b->handoff.booted_slot;

	for (int i = 0; i < 3; i++)
		if (memcmp(b->slots.info[s].sha256, w->img[i].sha256,
			   FL_SHA256_BYTES) == 0 &&
		    fl_slots_verify_image(&b->slots, s, w->img[i].len,
					  w->img[i].sha256) == 0)
			return i;
	return -1;
}

static struct obs observe_boot(struct sweep *w, struct fl_dev_boot *b, int rc)
{
	struct obs o = {-1, 0, 0, 0};
	struct fl_attempt att;

	assert_int_equal(rc, 0); /* never FL_EBRICK */
	o.image = booted_image(w, b);
	assert_true(o.image >= 0);
	if (fl_slots_attempt(&b->slots, &att) == 0) {
		/* The story's own attempt, or the one its base ended with. */
		int from = story_from[w->story], to = story_to[w->story];

		if (att.id != attempt_of(w->story)) {
			assert_true(w->story == ROLLBACK || w->story == OVER);
			assert_int_equal(att.id, ATTEMPT_INSTALL);
			from = 0;
			to = 1;
		}
		assert_string_equal(att.version, w->img[to].version);
		assert_string_equal(att.prev_version, w->img[from].version);
		o.attempt = att.id;
		o.outcome = att.outcome;
		o.reason = att.reason;
		/* The attempt tells the truth about what runs. */
		if (att.outcome == FL_OUTCOME_COMMITTED)
			assert_int_equal(o.image, to);
		if (att.outcome == FL_OUTCOME_REVERTED ||
		    att.outcome == FL_OUTCOME_WRITING ||
		    att.outcome == FL_OUTCOME_STAGED)
			assert_int_equal(o.image, from);
	}
	return o;
}

/* Boots a copy of the current flash contents once, without faults. */
static struct obs observe_copy(struct sweep *w)
{
	struct fl_dev copy = w->dev;
	struct fl_dev_boot *b = calloc(1, sizeof(*b));
	struct obs o;

	copy.mem = malloc(w->lay->geom.size_bytes);
	memcpy(copy.mem, w->dev.mem, w->lay->geom.size_bytes);
	o = observe_boot(w, b,
			 fl_dev_power_on(&copy, b, NULL, FL_RESET_POWER_ON));
	free(copy.mem);
	free(b);
	return o;
}

static int obs_eq(struct obs a, struct obs b)
{
	return a.image == b.image && a.attempt == b.attempt &&
	       a.outcome == b.outcome && a.reason == b.reason;
}

static uint32_t global_ops(const struct sweep *w)
{
	return w->ops_base + w->b->sim.ops;
}

/* Power-on within a run: the fault plan's cut index is global. */
static int run_power_on(struct sweep *w, uint32_t cut_at, uint8_t mode,
			uint64_t seed)
{
	struct fl_sim_faults f = {0};

	w->ops_base += w->b->sim.ops;
	if (cut_at > w->ops_base) {
		f.cut_at = cut_at - w->ops_base;
		f.cut_mode = mode;
		f.seed = seed;
		f.torn_bytes = w->torn_bytes;
	}
	return fl_dev_power_on(&w->dev, w->b, &f, FL_RESET_POWER_ON);
}

static int do_step(struct sweep *w, enum step st, uint32_t cut_at, uint8_t mode,
		   uint64_t seed)
{
	struct fl_install_target t;

	switch (st) {
	case ST_BEGIN:
		fl_target_of(&t, &w->img[story_to[w->story]],
			     attempt_of(w->story));
		return fl_install_begin(&w->in, &w->b->slots, &t);
	case ST_WRITE: return fl_stream(&w->in, &w->img[story_to[w->story]], 0);
	case ST_FINISH: return fl_install_finish(&w->in);
	case ST_ACTIVATE: return fl_install_activate(&w->in);
	case ST_BOOT: return run_power_on(w, cut_at, mode, seed);
	case ST_CONFIRM: return fl_slots_confirm(&w->b->slots);
	case ST_REJECT:
		return fl_slots_reject(&w->b->slots, FL_REASON_REJECTED);
	case ST_SWITCH:
		return fl_slots_switch_to_previous(&w->b->slots,
						   ATTEMPT_ROLLBACK);
	default: return FL_EINVAL;
	}
}

#define CUT_IN_FIRST_BOOT (-2)

/* Totals over every story and geometry, printed at the end. */
static unsigned total_cut_points, total_stories;

/* Runs the story from the base image. Returns the index of the step in
 * which power was cut, CUT_IN_FIRST_BOOT, or -1 if it ran to the end. When
 * record is set (clean run), fills step boundaries and observations. */
static int run_story(struct sweep *w, uint32_t cut_at, uint8_t mode,
		     uint64_t seed, int record)
{
	const enum step *steps = stories[w->story];
	int rc;

	memcpy(w->dev.mem, w->base_mem, w->lay->geom.size_bytes);
	w->ops_base = 0;
	w->b->sim.ops = 0;
	rc = run_power_on(w, cut_at, mode, seed);
	if (rc == FL_EPOWER)
		return CUT_IN_FIRST_BOOT;
	assert_int_equal(rc, 0);
	for (unsigned i = 0; steps[i] != ST_END; i++) {
		if (record) {
			w->step_start[i] = global_ops(w) + 1;
			w->before[i] = observe_copy(w);
		}
		rc = do_step(w, steps[i], cut_at, mode, seed);
		if (rc == FL_EPOWER)
			return (int)i;
		assert_int_equal(rc, 0);
		if (record) {
			w->after[i] = observe_copy(w);
			w->nsteps = i + 1;
		}
	}
	if (record)
		w->total_ops = global_ops(w);
	return -1;
}

/* The agent's side after a boot: follow the attempt record to the end of
 * the story. Returns the final observation. Every boot is checked. */
static struct obs recover(struct sweep *w, struct obs o)
{
	const struct fl_image *to = &w->img[story_to[w->story]];
	uint32_t id = attempt_of(w->story);
	struct fl_install_target t;
	struct fl_slot_info booted;
	int rc;

	fl_target_of(&t, to, id);
	for (int boots = 0; boots < 8; boots++) {
		struct fl_slots *s = &w->b->slots;
		int is_trial;

		fl_slots_info(s, fl_slots_booted(s), &booted);
		is_trial = booted.state == FL_SLOT_TRIAL;
		if (o.attempt == id && is_trial) {
			/* The new image runs on trial: the story decides. */
			if (w->story == REJECTED)
				assert_int_equal(
					fl_slots_reject(s, FL_REASON_REJECTED),
					0);
			else if (w->story != UNCONFIRMED)
				assert_int_equal(fl_slots_confirm(s), 0);
		} else if (o.attempt == id &&
			   (o.outcome == FL_OUTCOME_COMMITTED ||
			    o.outcome == FL_OUTCOME_REVERTED)) {
			return o;
		} else if (o.attempt == id && (o.outcome == FL_OUTCOME_STAGED ||
					       o.outcome == FL_OUTCOME_TRIAL)) {
			/* Staged, or an activation cut short: (re)activate. */
			assert_int_equal(
				fl_slots_activate(s, 1u - fl_slots_booted(s)),
				0);
		} else if (w->story == ROLLBACK) {
			assert_int_equal(fl_slots_switch_to_previous(s, id), 0);
		} else {
			/* Nothing yet, or an interrupted write: continue the
			 * same attempt if it is recorded, else begin. */
			if (o.attempt == id) {
				assert_int_equal(o.outcome, FL_OUTCOME_WRITING);
				assert_int_equal(
					fl_install_resume(&w->in, s, &t, 0), 0);
				w->resumes++;
			} else {
				assert_int_equal(
					fl_install_begin(&w->in, s, &t), 0);
			}
			assert_int_equal(fl_stream(&w->in, to, w->in.written),
					 0);
			assert_int_equal(fl_install_finish(&w->in), 0);
			assert_int_equal(fl_install_activate(&w->in), 0);
		}
		rc = fl_dev_power_on(&w->dev, w->b, NULL, FL_RESET_SOFTWARE);
		o = observe_boot(w, w->b, rc);
	}
	fail_msg("no end after 8 boots");
	return o;
}

/* The end a story must reach from a cut in step `cut_step`. */
static void check_final(struct sweep *w, int cut_step, struct obs f)
{
	const enum step *steps = stories[w->story];
	int trial_spent = 0;

	/* Once the trial boot has started, a cut may spend the only try:
	 * then the device is back on the image it came from, and says why. */
	for (int i = 0; i <= cut_step; i++)
		if (steps[i] == ST_BOOT)
			trial_spent = 1;

	assert_int_equal(f.attempt, attempt_of(w->story));
	if (w->story == REJECTED || w->story == UNCONFIRMED) {
		assert_int_equal(f.image, story_from[w->story]);
		assert_int_equal(f.outcome, FL_OUTCOME_REVERTED);
		assert_true(f.reason == w->revert_reason ||
			    (w->story == REJECTED &&
			     f.reason == FL_REASON_REJECTED));
	} else if (f.image == story_from[w->story]) {
		assert_true(trial_spent);
		assert_int_equal(f.outcome, FL_OUTCOME_REVERTED);
		assert_int_equal(f.reason, w->revert_reason);
		w->reverts++;
	} else {
		assert_int_equal(f.image, story_to[w->story]);
		assert_int_equal(f.outcome, FL_OUTCOME_COMMITTED);
	}
}

/* With an external boot loader, activation is three writes in two stores
 * (record TRIAL, boot loader, record ARMED): a cut between the first two
 * leaves the old image running with the trial recorded but not armed,
 * which the next fl_slots_activate() resumes. That state is the one
 * allowed besides "before" and "after". */
static int is_activation_pending(const struct sweep *w, int cut, struct obs o)
{
	enum step st = cut >= 0 ? stories[w->story][cut] : ST_END;

	return w->is_external && (st == ST_ACTIVATE || st == ST_SWITCH) &&
	       o.image == story_from[w->story] &&
	       o.attempt == attempt_of(w->story) &&
	       o.outcome == FL_OUTCOME_TRIAL && o.reason == 0;
}

static void sweep_one(const struct fl_layout *lay, enum story story,
		      int is_external)
{
	struct sweep *w = calloc(1, sizeof(*w));
	uint32_t unit = lay->geom.write_bytes;
	unsigned per_step[12] = {0};
	unsigned first_boot_cuts = 0;

	w->lay = lay;
	w->story = story;
	w->is_external = is_external;
	w->revert_reason =
		is_external ? FL_REASON_REVERTED : FL_REASON_NOT_CONFIRMED;
	/* Images of a few erase units or 40 KiB, whichever is larger, and not
	 * aligned to anything but the write unit of the factory image. */
	uint32_t len = lay->geom.erase_bytes * 2 + 3 * 1024 + 5;

	if (len < 40 * 1024 + 5)
		len = 40 * 1024 + 5;
	if (len > lay->slot_size)
		len = lay->slot_size - 1000;
	fl_image_make(&w->img[0], fl_align_up(len / 2, unit), 1, "1.0.0", 1);
	fl_image_make(&w->img[1], len, 2, "2.0.0", 2);
	fl_image_make(&w->img[2], len - 999, 3, "3.0.0", 3);
	assert_int_equal(fl_dev_factory(&w->dev, lay, &w->img[0], 1), 0);
	w->dev.is_external = (uint8_t)is_external;
	w->b = calloc(1, sizeof(*w->b));
	w->base_mem = malloc(lay->geom.size_bytes);

	if (story == ROLLBACK || story == OVER) {
		/* Base: 2.0.0 installed and committed, cleanly. */
		struct fl_install_target t;

		assert_int_equal(fl_dev_power_on(&w->dev, w->b, NULL, 0), 0);
		fl_target_of(&t, &w->img[1], ATTEMPT_INSTALL);
		assert_int_equal(fl_install_begin(&w->in, &w->b->slots, &t), 0);
		assert_int_equal(fl_stream(&w->in, &w->img[1], 0), 0);
		assert_int_equal(fl_install_finish(&w->in), 0);
		assert_int_equal(fl_install_activate(&w->in), 0);
		assert_int_equal(fl_dev_power_on(&w->dev, w->b, NULL, 0), 0);
		assert_int_equal(fl_slots_confirm(&w->b->slots), 0);
	}
	memcpy(w->base_mem, w->dev.mem, lay->geom.size_bytes);

	/* The clean run: boundaries and observations. */
	assert_int_equal(run_story(w, 0, 0, 0, 1), -1);

	for (uint32_t n = 1; n <= w->total_ops; n++) {
		uint32_t tear = 0, tears = 0, rec_len = 0;

		for (uint8_t mode = 0; mode < FL_SIM_CUT_MODES; mode++) {
			uint64_t seed = (uint64_t)n * 7919u + mode;
			int cut;
			uint8_t op;
			struct obs o, want_before, want_after;

			w->torn_bytes = mode == FL_SIM_CUT_TORN ? tear : 0;
			cut = run_story(w, n, mode, seed, 0);
			op = w->b->sim.last_cut_op;
			assert_true(cut != -1); /* the cut happened */
			w->cut_points++;
			if (op == FL_SIM_OP_WRITE &&
			    w->b->sim.last_cut_off >= lay->meta_off &&
			    w->b->sim.last_cut_off <
				    lay->meta_off + 4 * lay->geom.erase_bytes)
				rec_len = w->b->sim.last_cut_len;
			o = observe_boot(w, w->b,
					 fl_dev_power_on(&w->dev, w->b, NULL,
							 FL_RESET_POWER_ON));
			if (cut == CUT_IN_FIRST_BOOT) {
				want_before = want_after = w->before[0];
				first_boot_cuts++;
			} else {
				want_before = w->before[cut];
				want_after = w->after[cut];
				per_step[cut]++;
			}
			if (!obs_eq(o, want_before) && !obs_eq(o, want_after) &&
			    !is_activation_pending(w, cut, o))
				fail_msg("%s/%s: cut at op %u (%s, mode %u, "
					 "torn %u) left image %d attempt %x "
					 "outcome %u reason %u",
					 lay->name, story_names[story], n,
					 cut < 0 ? "first boot"
						 : step_names[stories[story]
								     [cut]],
					 mode, w->torn_bytes, o.image,
					 o.attempt, o.outcome, o.reason);
			check_final(w, cut, recover(w, o));
			/* Only writes and erases differ by cut mode. */
			if (op != FL_SIM_OP_WRITE && op != FL_SIM_OP_ERASE)
				break;
			/* A record write is torn at many places, not one:
			 * every 16th byte and each of its last 16 bytes (a
			 * torn CRC is what sank mcuboot #1966). */
			if (mode == FL_SIM_CUT_TORN && rec_len > 0) {
				tear = tears < rec_len / 16
					       ? 1 + 16 * tears
					       : rec_len - 16 +
							 (tears - rec_len / 16);
				if (tear < rec_len) {
					tears++;
					mode--;
				}
			}
		}
	}
	printf("[ sweep    ] %-13s %-7s %-21s %5u flash ops, %6u cut points, "
	       "%4u resumed, %4u ended in revert, 0 bricked\n",
	       lay->name, is_external ? "u-boot" : "native", story_names[story],
	       w->total_ops, w->cut_points, w->resumes, w->reverts);
	total_cut_points += w->cut_points;
	total_stories++;
	printf("[          ]   first boot            : %5u cuts\n",
	       first_boot_cuts);
	for (unsigned i = 0; i < w->nsteps; i++)
		printf("[          ]   step %-9s ops %6u.. : %5u cuts\n",
		       step_names[stories[story][i]], w->step_start[i],
		       per_step[i]);
	fflush(stdout);
	for (int i = 0; i < 3; i++)
		fl_image_free(&w->img[i]);
	free(w->dev.mem);
	free(w->base_mem);
	free(w->b);
	free(w);
}

/* One test per (geometry, story, boot loader): native records or an
 * external boot loader modelled on U-Boot (envsim in hal_fixture.h). */
#define SWEEP(l, s, x)                                                         \
	static void test_powercut__##s##_##l##_##x(void **state)               \
	{                                                                      \
		(void)state;                                                   \
		sweep_one(&fl_layouts[l], s, x);                               \
	}

SWEEP(0, GOOD, 0)
SWEEP(0, REJECTED, 0)
SWEEP(0, UNCONFIRMED, 0)
SWEEP(0, ROLLBACK, 0)
SWEEP(0, OVER, 0)
SWEEP(1, GOOD, 0)
SWEEP(1, REJECTED, 0)
SWEEP(1, UNCONFIRMED, 0)
SWEEP(1, ROLLBACK, 0)
SWEEP(1, OVER, 0)
SWEEP(2, GOOD, 0)
SWEEP(2, REJECTED, 0)
SWEEP(2, UNCONFIRMED, 0)
SWEEP(2, ROLLBACK, 0)
SWEEP(2, OVER, 0)
SWEEP(0, GOOD, 1)
SWEEP(0, REJECTED, 1)
SWEEP(0, UNCONFIRMED, 1)
SWEEP(0, ROLLBACK, 1)
SWEEP(0, OVER, 1)
SWEEP(1, GOOD, 1)
SWEEP(1, REJECTED, 1)
SWEEP(1, UNCONFIRMED, 1)
SWEEP(1, ROLLBACK, 1)
SWEEP(1, OVER, 1)
SWEEP(2, GOOD, 1)
SWEEP(2, REJECTED, 1)
SWEEP(2, UNCONFIRMED, 1)
SWEEP(2, ROLLBACK, 1)
SWEEP(2, OVER, 1)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_powercut__GOOD_0_0),
		cmocka_unit_test(test_powercut__REJECTED_0_0),
		cmocka_unit_test(test_powercut__UNCONFIRMED_0_0),
		cmocka_unit_test(test_powercut__ROLLBACK_0_0),
		cmocka_unit_test(test_powercut__OVER_0_0),
		cmocka_unit_test(test_powercut__GOOD_1_0),
		cmocka_unit_test(test_powercut__REJECTED_1_0),
		cmocka_unit_test(test_powercut__UNCONFIRMED_1_0),
		cmocka_unit_test(test_powercut__ROLLBACK_1_0),
		cmocka_unit_test(test_powercut__OVER_1_0),
		cmocka_unit_test(test_powercut__GOOD_2_0),
		cmocka_unit_test(test_powercut__REJECTED_2_0),
		cmocka_unit_test(test_powercut__UNCONFIRMED_2_0),
		cmocka_unit_test(test_powercut__ROLLBACK_2_0),
		cmocka_unit_test(test_powercut__OVER_2_0),
		cmocka_unit_test(test_powercut__GOOD_0_1),
		cmocka_unit_test(test_powercut__REJECTED_0_1),
		cmocka_unit_test(test_powercut__UNCONFIRMED_0_1),
		cmocka_unit_test(test_powercut__ROLLBACK_0_1),
		cmocka_unit_test(test_powercut__OVER_0_1),
		cmocka_unit_test(test_powercut__GOOD_1_1),
		cmocka_unit_test(test_powercut__REJECTED_1_1),
		cmocka_unit_test(test_powercut__UNCONFIRMED_1_1),
		cmocka_unit_test(test_powercut__ROLLBACK_1_1),
		cmocka_unit_test(test_powercut__OVER_1_1),
		cmocka_unit_test(test_powercut__GOOD_2_1),
		cmocka_unit_test(test_powercut__REJECTED_2_1),
		cmocka_unit_test(test_powercut__UNCONFIRMED_2_1),
		cmocka_unit_test(test_powercut__ROLLBACK_2_1),
		cmocka_unit_test(test_powercut__OVER_2_1),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	printf("power-cut sweep: %u cut points over %u stories (3 flash "
	       "geometries, 2 boot loaders), %d failed, 0 bricked outcomes "
	       "tolerated\n",
	       total_cut_points, total_stories, failed);
	return failed;
}
