/*
 * test_brownout.c -- repeated power cuts during the trial boot itself.
 *
 * RAUC #683: brown-outs spent boot attempts until both slots had none and
 * the device was stuck. Here a device with a trial pending is browned out
 * again and again, at random operations of its boots (the boot loader's
 * own record write included) or just after booting. At every power-on
 * that completes, an image boots and verifies, the confirmed slot's
 * records are untouched, and only trial boots spend tries; the trial ends
 * in a revert whose attempt record names the brown-out, or, if the device
 * gets one clean boot with tries left, in a commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "hal_fixture.h"

static uint32_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 11);
}

static void brownouts(const struct fl_layout *lay, uint8_t tries, uint64_t seed,
		      int commit_after)
{
	struct fl_image a, b;
	struct fl_dev dev;
	struct fl_dev_boot *bt = calloc(1, sizeof(*bt));
	struct fl_install in;
	struct fl_install_target t;
	struct fl_attempt att;
	uint32_t unit = lay->geom.erase_bytes;
	uint8_t *a_records = malloc(2 * unit);
	unsigned b_boots = 0, cuts = 0, power_ons = 0;
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	fl_image_make(&a, 4096, 1, "1.0.0", 1);
	fl_image_make(&b, 20000, 2, "2.0.0", 2);
	assert_int_equal(fl_dev_factory(&dev, lay, &a, tries), 0);
	assert_int_equal(fl_dev_power_on(&dev, bt, NULL, 0), 0);
	fl_target_of(&t, &b, 5);
	assert_int_equal(fl_install_begin(&in, &bt->slots, &t), 0);
	assert_int_equal(fl_stream(&in, &b, 0), 0);
	assert_int_equal(fl_install_finish(&in), 0);
	assert_int_equal(fl_install_activate(&in), 0);
	memcpy(a_records, dev.mem + lay->meta_off, 2 * unit);

	for (;;) {
		/* A brown-out at a random operation of this boot (a clean
		 * boot here does about a hundred), or none at all. */
		struct fl_sim_faults f = {.cut_mode = (uint8_t)(rnd(&x) % 3),
					  .seed = rnd(&x)};
		int is_last_chance =
			commit_after >= 0 && b_boots == (unsigned)commit_after;
		int rc;

		if (!is_last_chance && rnd(&x) % 4 != 0)
			f.cut_at = 1 + rnd(&x) % 100;
		rc = fl_dev_power_on(&dev, bt, &f, FL_RESET_BROWNOUT);
		power_ons++;
		assert_true(power_ons < 200);
		assert_memory_equal(a_records, dev.mem + lay->meta_off,
				    2 * unit);
		if (rc == FL_EPOWER) {
			cuts++;
			continue;
		}
		assert_int_equal(rc, 0); /* never FL_EBRICK */
		bt->sim.faults.cut_at =
			0; /* checks below are not the device's */
		if (bt->handoff.booted_slot == 0)
			break; /* reverted */
		assert_int_equal(bt->handoff.is_trial, 1);
		assert_int_equal(fl_slots_verify(&bt->slots, 1), 0);
		b_boots++;
		assert_true(b_boots <= tries);
		if (is_last_chance) {
			assert_int_equal(fl_slots_confirm(&bt->slots), 0);
			break;
		}
		/* ...and power drops before the new image confirms. */
	}
	assert_int_equal(
		fl_slots_verify(&bt->slots, fl_slots_booted(&bt->slots)), 0);
	assert_int_equal(fl_slots_attempt(&bt->slots, &att), 0);
	if (commit_after >= 0 && (unsigned)commit_after < tries) {
		assert_int_equal(att.outcome, FL_OUTCOME_COMMITTED);
	} else {
		assert_int_equal(fl_slots_booted(&bt->slots), 0);
		assert_int_equal(att.outcome, FL_OUTCOME_REVERTED);
		assert_int_equal(att.reason, FL_REASON_NOT_CONFIRMED);
		assert_int_equal(att.reset_reason, FL_RESET_BROWNOUT);
	}
	printf("[ brownout ] %-13s tries %u seed %2llu: %3u power-ons, %3u cut "
	       "during boot, %u trial boots, %s\n",
	       lay->name, tries, (unsigned long long)seed, power_ons, cuts,
	       b_boots,
	       att.outcome == FL_OUTCOME_COMMITTED ? "committed" : "reverted");
	fl_image_free(&a);
	fl_image_free(&b);
	free(a_records);
	free(dev.mem);
	free(bt);
}

static void test_brownout__never_both_slots_unbootable(void **state)
{
	(void)state;
	for (unsigned l = 0; l < 3; l++)
		for (uint8_t tries = 1; tries <= 3; tries++)
			for (uint64_t seed = 1; seed <= 20; seed++)
				brownouts(&fl_layouts[l], tries, seed, -1);
}

static void test_brownout__a_clean_boot_with_tries_left_commits(void **state)
{
	(void)state;
	for (unsigned l = 0; l < 3; l++)
		for (uint64_t seed = 1; seed <= 5; seed++) {
			brownouts(&fl_layouts[l], 3, seed, 2);
			brownouts(&fl_layouts[l], 3, seed, 0);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_brownout__never_both_slots_unbootable),
		cmocka_unit_test(
			test_brownout__a_clean_boot_with_tries_left_commits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
