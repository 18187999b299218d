/*
 * test_installer.c -- the streaming installer: chunking, bounds, digest
 * checks (with and without the read-back), refusals, invalidation order,
 * resume after a cut, cancel and flash errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hal_fixture.h"

struct fx {
	const struct fl_layout *lay;
	struct fl_image a, b;
	struct fl_dev dev;
	struct fl_dev_boot boot;
	struct fl_install in;
	struct fl_install_target t;
};

static int setup_on(void **state, const struct fl_layout *lay)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->lay = lay;
	fl_image_make(&f->a, 4096, 1, "1.0.0", 5);
	fl_image_make(&f->b, 3 * lay->geom.erase_bytes / 2 + 77, 2, "2.0.0", 6);
	assert_int_equal(fl_dev_factory(&f->dev, lay, &f->a, 1), 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	fl_target_of(&f->t, &f->b, 42);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_on(state, &fl_layouts[0]);
}

static int setup_w16(void **state)
{
	return setup_on(state, &fl_layouts[2]);
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

static void test_install__byte_by_byte_stream_is_exact(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(f->in.slot, 1);
	for (uint32_t i = 0; i < f->b.len; i++)
		assert_int_equal(fl_install_write(&f->in, f->b.data + i, 1), 0);
	assert_int_equal(fl_install_finish(&f->in), 0);
	assert_memory_equal(f->dev.mem + f->lay->slot_off[1], f->b.data,
			    f->b.len);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_STAGED);
}

static void test_install__irregular_chunks_on_16_byte_writes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_stream(&f->in, &f->b, 0), 0);
	assert_int_equal(fl_install_finish(&f->in), 0);
	assert_int_equal(fl_install_activate(&f->in), 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 1);
}

static void test_install__never_more_than_the_declared_length(void **state)
{
	struct fx *f = *state;
	uint8_t extra[2] = {0};

	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_install_write(&f->in, f->b.data, f->b.len - 1), 0);
	assert_int_equal(fl_install_write(&f->in, extra, 2), FL_ETOOBIG);
	assert_int_equal(f->in.written, f->b.len - 1);
	assert_int_equal(fl_install_finish(&f->in), FL_ESTATE); /* short */
	assert_int_equal(fl_install_write(&f->in, f->b.data + f->b.len - 1, 1),
			 0);
	assert_int_equal(fl_install_finish(&f->in), 0);
}

static void test_install__wrong_stream_fails_verification(void **state)
{
	struct fx *f = *state;
	struct fl_attempt att;

	f->b.data[1000] ^= 0x40; /* the download was tampered with */
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_stream(&f->in, &f->b, 0), 0);
	assert_int_equal(fl_install_finish(&f->in), FL_EVERIFY);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_BAD);
	assert_int_equal(fl_install_activate(&f->in), FL_ESTATE);
	assert_int_equal(fl_slots_attempt(&f->boot.slots, &att), 0);
	assert_int_equal(att.outcome, FL_OUTCOME_FAILED);
	assert_int_equal(att.reason, FL_REASON_VERIFY);
}

static void test_install__read_back_catches_what_the_flash_did(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_stream(&f->in, &f->b, 0), 0);
	/* A bit flips in flash after it was programmed. */
	f->dev.mem[f->lay->slot_off[1] + 10] ^= 0x01;
	assert_int_equal(fl_install_finish(&f->in), FL_EVERIFY);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_BAD);
}

/* A device whose reads return the system's copy of the writes (a file):
 * finish does not read the slot back, still refuses a wrong stream, and
 * a slot that changed after it was programmed is caught by activation. */
static void test_install__cached_reads_are_not_read_back(void **state)
{
	struct fx *f = *state;
	struct fl_flash_ops cached = *f->boot.sim.flash.ops;
	uint32_t reads;

	cached.flags = FL_FLASH_READS_CACHED;
	f->boot.sim.flash.ops = &cached;
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_stream(&f->in, &f->b, 0), 0);
	reads = f->boot.sim.count[FL_SIM_OP_READ];
	f->dev.mem[f->lay->slot_off[1] + 10] ^= 0x01;
	assert_int_equal(fl_install_finish(&f->in), 0);
	assert_int_equal(f->boot.sim.count[FL_SIM_OP_READ], reads);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_STAGED);
	assert_int_equal(fl_install_activate(&f->in), FL_EVERIFY);
	assert_int_not_equal(f->boot.slots.info[1].state, FL_SLOT_TRIAL);

	f->b.data[1000] ^= 0x40; /* the download was tampered with */
	f->t.attempt_id = 43;
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_stream(&f->in, &f->b, 0), 0);
	assert_int_equal(fl_install_finish(&f->in), FL_EVERIFY);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_BAD);
}

static void test_install__refused_while_a_trial_is_unconfirmed(void **state)
{
	struct fx *f = *state;
	struct fl_install_target t2 = f->t;

	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_stream(&f->in, &f->b, 0), 0);
	assert_int_equal(fl_install_finish(&f->in), 0);
	assert_int_equal(fl_install_activate(&f->in), 0);
	t2.attempt_id = 43;
	/* Activated, not yet booted: installing now would destroy it. */
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &t2),
			 FL_ETRIAL);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	/* Running on trial: installing would destroy the rollback image. */
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &t2),
			 FL_ETRIAL);
	assert_int_equal(f->boot.slots.info[0].state, FL_SLOT_CONFIRMED);
}

static void test_install__refused_below_the_rollback_floor(void **state)
{
	struct fx *f = *state;

	f->t.counter = 4; /* floor is 5 */
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t),
			 FL_EROLLBACK);
	f->t.counter = 5; /* equal is allowed: same generation */
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
}

static void test_install__bad_targets_are_refused(void **state)
{
	struct fx *f = *state;
	struct fl_install_target t = f->t;

	t.image_len = f->lay->slot_size + 1;
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &t),
			 FL_ENOSPC);
	t = f->t;
	t.attempt_id = 0;
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &t),
			 FL_EINVAL);
	t = f->t;
	memset(t.version, 'x', sizeof(t.version)); /* unterminated */
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &t),
			 FL_EINVAL);
	assert_int_equal(f->boot.sim.count[FL_SIM_OP_WRITE], 0);
}

static void test_install__record_invalidated_before_first_byte(void **state)
{
	struct fx *f = *state;
	struct fl_sim *sim = &f->boot.sim;

	sim->ops = 0;
	memset(sim->count, 0, sizeof(sim->count));
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	/* begin wrote the WRITING record (erase, write, sync) and nothing
	 * else: the slot area is untouched until the first write. */
	assert_int_equal(sim->count[FL_SIM_OP_ERASE], 1);
	assert_int_equal(sim->count[FL_SIM_OP_WRITE], 1);
	assert_int_equal(fl_slots_load(&f->boot.slots), 0);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_WRITING);
	assert_int_equal(f->boot.slots.info[1].attempt_id, 42);
	assert_int_equal(fl_install_write(&f->in, f->b.data, 256), 0);
	assert_int_equal(sim->count[FL_SIM_OP_ERASE], 2);
}

static void test_install__resumes_from_a_checkpoint_after_a_cut(void **state)
{
	struct fx *f = *state;
	uint32_t saved = 0; /* what the agent keeps in its own storage */
	uint32_t unit = f->lay->geom.erase_bytes;
	struct fl_sim_faults cut = {.cut_at = 0, .cut_mode = FL_SIM_CUT_TORN};
	int rc = 0;

	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_install_write(&f->in, f->b.data, unit + 300), 0);
	assert_int_equal(fl_install_checkpoint(&f->in, &saved), 0);
	assert_true(saved > unit && saved <= unit + 300);
	/* Power is cut a few operations later, tearing a write. */
	f->boot.sim.faults = cut;
	f->boot.sim.faults.cut_at = f->boot.sim.ops + 3;
	for (uint32_t off = unit + 300; rc == 0 && off < f->b.len; off += 100)
		rc = fl_install_write(&f->in, f->b.data + off,
				      f->b.len - off < 100 ? f->b.len - off
							   : 100);
	assert_int_equal(rc, FL_EPOWER);

	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 0);
	assert_int_equal(
		fl_install_resume(&f->in, &f->boot.slots, &f->t, saved), 0);
	assert_int_equal(f->in.written, unit); /* back to the unit start */
	assert_int_equal(fl_stream(&f->in, &f->b, f->in.written), 0);
	assert_int_equal(fl_install_finish(&f->in), 0);
	assert_int_equal(fl_install_activate(&f->in), 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 1);
}

static void test_install__resume_refuses_another_attempt(void **state)
{
	struct fx *f = *state;
	struct fl_install_target other = f->t;

	assert_int_equal(fl_install_resume(&f->in, &f->boot.slots, &f->t, 0),
			 FL_ESTATE); /* nothing to resume */
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	other.attempt_id = 99;
	assert_int_equal(fl_install_resume(&f->in, &f->boot.slots, &other, 0),
			 FL_ESTATE);
	other = f->t;
	other.sha256[0] ^= 1;
	assert_int_equal(fl_install_resume(&f->in, &f->boot.slots, &other, 0),
			 FL_ESTATE);
	assert_int_equal(
		fl_install_resume(&f->in, &f->boot.slots, &f->t, f->b.len + 1),
		FL_ESTATE);
}

static void test_install__cancel_marks_the_attempt_failed(void **state)
{
	struct fx *f = *state;
	struct fl_attempt att;

	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_install_write(&f->in, f->b.data, 1000), 0);
	assert_int_equal(fl_install_cancel(&f->in), 0);
	assert_int_equal(fl_install_write(&f->in, f->b.data, 1), FL_ESTATE);
	assert_int_equal(fl_install_cancel(&f->in), FL_ESTATE);
	assert_int_equal(fl_slots_attempt(&f->boot.slots, &att), 0);
	assert_int_equal(att.outcome, FL_OUTCOME_FAILED);
	assert_int_equal(att.reason, FL_REASON_CANCELLED);
}

static void test_install__flash_error_fails_the_install(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	f->boot.sim.faults.eio_at = f->boot.sim.ops + 2;
	assert_int_equal(fl_install_write(&f->in, f->b.data, 2048), FL_EIO);
	assert_int_equal(f->in.state, FL_INSTALL_FAILED);
	assert_int_equal(fl_install_write(&f->in, f->b.data, 1), FL_ESTATE);
	assert_int_equal(fl_install_finish(&f->in), FL_ESTATE);
	/* The slot stays unbootable; a new attempt can begin. */
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_WRITING);
	f->t.attempt_id = 43;
	assert_int_equal(fl_install_begin(&f->in, &f->boot.slots, &f->t), 0);
	assert_int_equal(fl_stream(&f->in, &f->b, 0), 0);
	assert_int_equal(fl_install_finish(&f->in), 0);
}

int main(void)
{
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_install__byte_by_byte_stream_is_exact),
		cmocka_unit_test_setup_teardown(
			test_install__irregular_chunks_on_16_byte_writes,
			setup_w16, teardown),
		T(test_install__never_more_than_the_declared_length),
		T(test_install__wrong_stream_fails_verification),
		T(test_install__read_back_catches_what_the_flash_did),
		T(test_install__cached_reads_are_not_read_back),
		T(test_install__refused_while_a_trial_is_unconfirmed),
		T(test_install__refused_below_the_rollback_floor),
		T(test_install__bad_targets_are_refused),
		T(test_install__record_invalidated_before_first_byte),
		T(test_install__resumes_from_a_checkpoint_after_a_cut),
		T(test_install__resume_refuses_another_attempt),
		T(test_install__cancel_marks_the_attempt_failed),
		T(test_install__flash_error_fails_the_install),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
