/*
 * test_bootsim.c -- the simulated boot loader's decision at power-on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hal_fixture.h"

static const struct fl_layout *lay = &fl_layouts[0];

struct fx {
	struct fl_image a, b;
	struct fl_dev dev;
	struct fl_dev_boot boot;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	fl_image_make(&f->a, 4096, 1, "1.0.0", 1);
	fl_image_make(&f->b, 9000, 2, "2.0.0", 2);
	assert_int_equal(fl_dev_factory(&f->dev, lay, &f->a, 1), 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fl_image_free(&f->a);
	fl_image_free(&f->b);
	free(f->dev.mem);
	free(f);
	return 0;
}

static void activate_b(struct fx *f)
{
	struct fl_install in;
	struct fl_install_target t;

	fl_target_of(&t, &f->b, 7);
	assert_int_equal(fl_install_begin(&in, &f->boot.slots, &t), 0);
	assert_int_equal(fl_stream(&in, &f->b, 0), 0);
	assert_int_equal(fl_install_finish(&in), 0);
	assert_int_equal(fl_install_activate(&in), 0);
}

static void test_bootsim__boots_the_newest_confirmed_slot(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->boot.handoff.booted_slot, 0);
	assert_int_equal(f->boot.handoff.is_trial, 0);
	activate_b(f);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(f->boot.handoff.booted_slot, 1);
	assert_int_equal(f->boot.handoff.is_trial, 1);
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0);
	/* Both slots are CONFIRMED now; the newer one boots. */
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(f->boot.slots.info[0].state, FL_SLOT_CONFIRMED);
	assert_int_equal(f->boot.handoff.booted_slot, 1);
	assert_int_equal(f->boot.handoff.is_trial, 0);
}

static void test_bootsim__corrupt_trial_image_is_not_booted(void **state)
{
	struct fx *f = *state;
	struct fl_attempt att;

	activate_b(f);
	f->dev.mem[lay->slot_off[1] + 5] ^= 0x80;
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(f->boot.handoff.booted_slot, 0);
	assert_int_equal(f->boot.handoff.is_reverted, 1);
	assert_int_equal(fl_slots_attempt(&f->boot.slots, &att), 0);
	assert_int_equal(att.outcome, FL_OUTCOME_REVERTED);
	assert_int_equal(att.reason, FL_REASON_BOOT_VERIFY);
}

static void test_bootsim__corrupt_confirmed_image_falls_back(void **state)
{
	struct fx *f = *state;

	activate_b(f);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0);
	f->dev.mem[lay->slot_off[1] + 5] ^= 0x80;
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(f->boot.handoff.booted_slot, 0);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_BAD);
	assert_int_equal(f->boot.slots.info[1].reason, FL_REASON_BOOT_VERIFY);
}

static void test_bootsim__nothing_bootable_is_reported(void **state)
{
	struct fx *f = *state;

	memset(f->dev.mem + lay->meta_off, 0xFF, 4 * lay->geom.erase_bytes);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0),
			 FL_EBRICK);
	/* Records fine, image gone: also nothing to boot. */
	free(f->dev.mem);
	assert_int_equal(fl_dev_factory(&f->dev, lay, &f->a, 1), 0);
	memset(f->dev.mem + lay->slot_off[0], 0, 64);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0),
			 FL_EBRICK);
}

static void
test_bootsim__cut_during_its_own_write_repeats_next_time(void **state)
{
	struct fx *f = *state;
	struct fl_sim_faults cut = {.cut_mode = FL_SIM_CUT_TORN, .seed = 1};
	uint8_t *copy = malloc(lay->geom.size_bytes);
	unsigned trial = 0, reverted = 0;
	int rc = FL_EPOWER;

	activate_b(f);
	memcpy(copy, f->dev.mem, lay->geom.size_bytes);
	/* Cut at every operation of the trial boot until one runs clean. */
	for (cut.cut_at = 1; rc == FL_EPOWER; cut.cut_at++) {
		memcpy(f->dev.mem, copy, lay->geom.size_bytes);
		rc = fl_dev_power_on(&f->dev, &f->boot, &cut, 0);
		if (rc == 0)
			break;
		assert_int_equal(rc, FL_EPOWER);
		/* The next boot: B on trial if the spent try did not land,
		 * else A with B reverted. Never nothing. */
		assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0),
				 0);
		if (f->boot.handoff.booted_slot == 1) {
			assert_int_equal(f->boot.handoff.is_trial, 1);
			trial++;
		} else {
			assert_int_equal(f->boot.slots.info[1].state,
					 FL_SLOT_BAD);
			reverted++;
		}
	}
	/* The try is spent by the boot loader's record write: cuts before it
	 * leave the trial, cuts after it (the rest of the boot) spend it. */
	assert_true(trial > 0);
	assert_true(reverted > 0);
	free(copy);
}

static void test_bootsim__native_backend_has_no_external_ops(void **state)
{
	struct fx *f = *state;

	assert_string_equal(f->boot.boot.ops->name, "native");
	assert_null(f->boot.boot.ops->set_trial);
	assert_null(f->boot.boot.ops->commit);
	assert_null(f->boot.boot.ops->set_permanent);
}

int main(void)
{
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_bootsim__boots_the_newest_confirmed_slot),
		T(test_bootsim__corrupt_trial_image_is_not_booted),
		T(test_bootsim__corrupt_confirmed_image_falls_back),
		T(test_bootsim__nothing_bootable_is_reported),
		T(test_bootsim__cut_during_its_own_write_repeats_next_time),
		T(test_bootsim__native_backend_has_no_external_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
