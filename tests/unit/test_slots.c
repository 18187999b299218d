/*
 * test_slots.c -- the A/B slot manager: records, transitions, refusals,
 * anti-rollback, the attempt record, and reconciliation with an external
 * boot loader.
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

	fl_image_make(&f->a, 8192, 1, "1.0.0", 5);
	fl_image_make(&f->b, 10000, 2, "1.1.0", 6);
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

/* Installs f->b into the inactive slot and activates it. */
static void stage_b(struct fx *f, uint32_t attempt)
{
	struct fl_install in;
	struct fl_install_target t;

	fl_target_of(&t, &f->b, attempt);
	assert_int_equal(fl_install_begin(&in, &f->boot.slots, &t), 0);
	assert_int_equal(fl_stream(&in, &f->b, 0), 0);
	assert_int_equal(fl_install_finish(&in), 0);
}

static void test_slots__record_roundtrips_every_field(void **state)
{
	struct fl_slot_info in = {0}, out;
	uint8_t rec[FL_SLOT_RECORD_BYTES];

	(void)state;
	in.state = FL_SLOT_TRIAL;
	in.tries_left = 2;
	in.tries_total = 3;
	in.reason = FL_REASON_REJECTED;
	in.reset_reason = FL_RESET_BROWNOUT;
	in.flags = FL_SLOT_FLAG_ARMED;
	in.seq = 0x0102030405060708ull;
	in.image_len = 0xA1B2C3D4u;
	for (int i = 0; i < FL_SHA256_BYTES; i++)
		in.sha256[i] = (uint8_t)i;
	in.counter = 77;
	in.floor = 66;
	in.attempt_id = 0xDEADBEEF;
	strcpy(in.version, "2.4.0-rc.1");
	strcpy(in.prev_version, "2.3.9");
	fl_slot_record_encode(rec, 1, &in);
	/* Pinned layout (docs/formats.md): magic, little-endian fields. */
	assert_memory_equal(rec, "FLSR", 4);
	assert_int_equal(rec[4], 1);
	assert_int_equal(rec[5], 1);
	assert_int_equal(rec[8], 0x08);
	assert_int_equal(rec[15], 0x01);
	assert_int_equal(rec[16], 0xD4);
	assert_int_equal(fl_slot_record_decode(rec, 1, &out), 0);
	assert_memory_equal(&in, &out, sizeof(in));
	assert_int_equal(fl_slot_record_decode(rec, 0, &out), FL_ECORRUPT);
}

static void test_slots__any_flipped_bit_is_detected(void **state)
{
	struct fl_slot_info in = {0}, out;
	uint8_t rec[FL_SLOT_RECORD_BYTES];

	(void)state;
	in.state = FL_SLOT_CONFIRMED;
	strcpy(in.version, "1.0.0");
	fl_slot_record_encode(rec, 0, &in);
	for (unsigned i = 0; i < FL_SLOT_RECORD_BYTES * 8; i++) {
		rec[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(fl_slot_record_decode(rec, 0, &out),
				 FL_ECORRUPT);
		rec[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_int_equal(fl_slot_record_decode(rec, 0, &out), 0);
}

static void test_slots__newest_valid_copy_wins(void **state)
{
	struct fx *f = *state;
	struct fl_slots *s = &f->boot.slots;
	struct fl_slot_info in = s->info[1];
	uint32_t unit = lay->geom.erase_bytes;
	uint8_t *copy;

	in.state = FL_SLOT_BAD;
	strcpy(in.version, "first");
	assert_int_equal(fl_slots_write_record(s, 1, &in), 0);
	strcpy(in.version, "second");
	assert_int_equal(fl_slots_write_record(s, 1, &in), 0);
	assert_int_equal(fl_slots_load(s), 0);
	assert_string_equal(s->info[1].version, "second");
	/* Damage the newest copy: the previous record comes back. */
	copy = f->dev.mem + lay->meta_off + (2 + s->newest_copy[1]) * unit;
	copy[50] ^= 0x10;
	assert_int_equal(fl_slots_load(s), 0);
	assert_string_equal(s->info[1].version, "first");
}

static void test_slots__provision_verifies_the_image(void **state)
{
	struct fl_image img;
	struct fl_dev dev;
	struct fl_dev_boot *b = calloc(1, sizeof(*b));
	uint8_t wrong[FL_SHA256_BYTES] = {1};

	(void)state;
	fl_image_make(&img, 4096, 7, "1.0.0", 1);
	assert_int_equal(fl_dev_factory(&dev, lay, &img, 1), 0);
	/* A second provisioning is refused: a confirmed slot exists. */
	fl_sim_init(&b->sim, &lay->geom, dev.mem, NULL);
	fl_dev_config(&dev, b);
	assert_int_equal(fl_slots_init(&b->slots, &b->cfg), 0);
	assert_int_equal(
		fl_slots_provision(&b->slots, 1, 4096, img.sha256, "1.0.0", 1),
		FL_ESTATE);
	/* On a blank device, a wrong digest is refused and nothing written. */
	fl_sim_wipe(&b->sim);
	assert_int_equal(fl_slots_init(&b->slots, &b->cfg), 0);
	assert_int_equal(
		fl_slots_provision(&b->slots, 0, 4096, wrong, "1.0.0", 1),
		FL_EVERIFY);
	assert_int_equal(b->sim.count[FL_SIM_OP_WRITE], 0);
	free(dev.mem);
	free(b);
	fl_image_free(&img);
}

static void test_slots__config_errors_are_refused(void **state)
{
	struct fx *f = *state;
	struct fl_slots_config cfg = f->boot.cfg;
	struct fl_slots s;

	cfg.meta.size = 3 * lay->geom.erase_bytes;
	assert_int_equal(fl_slots_init(&s, &cfg), FL_EINVAL);
	cfg = f->boot.cfg;
	cfg.slot[1] = cfg.slot[0]; /* overlapping slots */
	assert_int_equal(fl_slots_init(&s, &cfg), FL_EINVAL);
	cfg = f->boot.cfg;
	cfg.slot[0].off = cfg.meta.off; /* slot over the records */
	assert_int_equal(fl_slots_init(&s, &cfg), FL_EINVAL);
	cfg = f->boot.cfg;
	cfg.crypto = NULL;
	assert_int_equal(fl_slots_init(&s, &cfg), FL_EINVAL);
}

static void test_slots__activate_needs_a_staged_inactive_slot(void **state)
{
	struct fx *f = *state;
	struct fl_slots *s = &f->boot.slots;

	assert_int_equal(fl_slots_activate(s, 1), FL_ESTATE); /* EMPTY */
	assert_int_equal(fl_slots_activate(s, 0), FL_ESTATE); /* booted */
	assert_int_equal(fl_slots_activate(s, 2), FL_EINVAL);
	stage_b(f, 1);
	assert_int_equal(fl_slots_activate(s, 1), 0);
	assert_int_equal(s->info[1].state, FL_SLOT_TRIAL);
	assert_int_equal(s->info[1].tries_left, 1);
	/* Activation is idempotent (resumed after a power cut). */
	assert_int_equal(fl_slots_activate(s, 1), 0);
}

static void test_slots__activation_refuses_a_corrupted_image(void **state)
{
	struct fx *f = *state;

	stage_b(f, 1);
	f->dev.mem[lay->slot_off[1] + 100] ^= 1; /* bit rot after staging */
	assert_int_equal(fl_slots_activate(&f->boot.slots, 1), FL_EVERIFY);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_STAGED);
}

static void test_slots__confirm_commits_and_moves_floor(void **state)
{
	struct fx *f = *state;
	struct fl_attempt att;

	assert_int_equal(fl_slots_floor(&f->boot.slots), 5);
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0); /* idempotent */
	stage_b(f, 9);
	assert_int_equal(fl_slots_activate(&f->boot.slots, 1), 0);
	assert_int_equal(fl_slots_floor(&f->boot.slots), 5);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 1);
	/* On trial the floor has not moved yet. */
	assert_int_equal(fl_slots_floor(&f->boot.slots), 5);
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0);
	assert_int_equal(fl_slots_floor(&f->boot.slots), 6);
	assert_int_equal(fl_slots_attempt(&f->boot.slots, &att), 0);
	assert_int_equal(att.id, 9);
	assert_int_equal(att.outcome, FL_OUTCOME_COMMITTED);
	assert_string_equal(att.version, "1.1.0");
	assert_string_equal(att.prev_version, "1.0.0");
	/* It is persistent, and every later record carries it. */
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 1);
	assert_int_equal(fl_slots_floor(&f->boot.slots), 6);
	assert_int_equal(fl_slots_switch_to_previous(&f->boot.slots, 10), 0);
	assert_int_equal(f->boot.slots.info[0].floor, 6);
}

static void
test_slots__confirm_from_the_old_image_leaves_the_trial_pending(void **state)
{
	struct fx *f = *state;

	stage_b(f, 1);
	assert_int_equal(fl_slots_activate(&f->boot.slots, 1), 0);
	/* Still running A: confirming is not A's business. */
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_TRIAL);
	assert_int_equal(fl_slots_reject(&f->boot.slots, FL_REASON_REJECTED),
			 FL_ESTATE);
}

static void test_slots__reject_returns_to_the_old_image(void **state)
{
	struct fx *f = *state;
	struct fl_attempt att;

	stage_b(f, 4);
	assert_int_equal(fl_slots_activate(&f->boot.slots, 1), 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_reject(&f->boot.slots, FL_REASON_REJECTED),
			 0);
	assert_int_equal(fl_slots_reject(&f->boot.slots, FL_REASON_REJECTED),
			 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 0);
	assert_int_equal(fl_slots_attempt(&f->boot.slots, &att), 0);
	assert_int_equal(att.outcome, FL_OUTCOME_REVERTED);
	assert_int_equal(att.reason, FL_REASON_REJECTED);
	assert_int_equal(fl_slots_floor(&f->boot.slots), 5);
}

static void
test_slots__unconfirmed_trial_reverts_with_reset_reason(void **state)
{
	struct fx *f = *state;
	struct fl_attempt att;

	stage_b(f, 4);
	assert_int_equal(fl_slots_activate(&f->boot.slots, 1), 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 1);
	/* The trial crashes before it commits. */
	assert_int_equal(
		fl_dev_power_on(&f->dev, &f->boot, NULL, FL_RESET_WATCHDOG), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 0);
	assert_int_equal(fl_slots_attempt(&f->boot.slots, &att), 0);
	assert_int_equal(att.id, 4);
	assert_int_equal(att.outcome, FL_OUTCOME_REVERTED);
	assert_int_equal(att.reason, FL_REASON_NOT_CONFIRMED);
	assert_int_equal(att.reset_reason, FL_RESET_WATCHDOG);
}

static void test_slots__trial_tries_are_configurable(void **state)
{
	struct fx *f = *state;

	f->dev.trial_tries = 3;
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	stage_b(f, 4);
	assert_int_equal(fl_slots_activate(&f->boot.slots, 1), 0);
	assert_int_equal(f->boot.slots.info[1].tries_left, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0),
				 0);
		assert_int_equal(fl_slots_booted(&f->boot.slots), 1);
		assert_int_equal(f->boot.slots.info[1].tries_left, 2 - i);
	}
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 0);
	assert_int_equal(f->boot.slots.info[1].state, FL_SLOT_BAD);
}

static void test_slots__switch_to_previous_needs_a_previous_image(void **state)
{
	struct fx *f = *state;
	struct fl_attempt att;

	assert_int_equal(fl_slots_switch_to_previous(&f->boot.slots, 3),
			 FL_ENOENT);
	stage_b(f, 4);
	assert_int_equal(fl_slots_activate(&f->boot.slots, 1), 0);
	assert_int_equal(fl_slots_switch_to_previous(&f->boot.slots, 3),
			 FL_ETRIAL);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_switch_to_previous(&f->boot.slots, 3),
			 FL_ETRIAL); /* unconfirmed trial */
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0);
	assert_int_equal(fl_slots_switch_to_previous(&f->boot.slots, 3), 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 0);
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0);
	assert_int_equal(fl_slots_attempt(&f->boot.slots, &att), 0);
	assert_int_equal(att.id, 3);
	assert_string_equal(att.version, "1.0.0");
	assert_string_equal(att.prev_version, "1.1.0");
	assert_int_equal(att.outcome, FL_OUTCOME_COMMITTED);
	/* The floor stays where the newer image put it. */
	assert_int_equal(fl_slots_floor(&f->boot.slots), 6);
}

static void test_slots__failed_record_write_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct fl_dev_boot *b = &f->boot;
	struct fl_sim_faults faults = {.eio_at = 1};
	struct fl_slot_info in = b->slots.info[1];
	uint8_t *before = malloc(lay->geom.size_bytes);

	memcpy(before, f->dev.mem, lay->geom.size_bytes);
	b->sim.faults = faults;
	b->sim.ops = 0;
	in.state = FL_SLOT_BAD;
	assert_int_equal(fl_slots_write_record(&b->slots, 1, &in), FL_EIO);
	assert_int_equal(b->slots.info[1].state, FL_SLOT_EMPTY);
	assert_memory_equal(before, f->dev.mem, lay->geom.size_bytes);
	free(before);
}

/* A fake external boot loader, to test reconciliation. */
struct fake_boot {
	struct fl_boot_status st;
	int trial_slot, permanent_slot, calls;
};

static int fake_status(struct fl_boot *b, struct fl_boot_status *st)
{
	*st = ((struct fake_boot *)b->priv)->st;
	return 0;
}

static int fake_set_trial(struct fl_boot *b, unsigned slot, unsigned tries)
{
	struct fake_boot *fb = b->priv;

	fb->trial_slot = (int)slot;
	fb->calls++;
	return tries > 0 ? 0 : FL_EINVAL;
}

static int fake_commit(struct fl_boot *b, unsigned slot)
{
	struct fake_boot *fb = b->priv;

	fb->permanent_slot = (int)slot;
	fb->calls++;
	return 0;
}

static int fake_set_permanent(struct fl_boot *b, unsigned slot)
{
	struct fake_boot *fb = b->priv;

	fb->permanent_slot = (int)slot;
	fb->trial_slot = -1;
	fb->calls++;
	return 0;
}

static const struct fl_boot_ops fake_ops = {
	FL_BOOT_OPS_VERSION, "fake",	  fake_status,
	fake_set_trial,	     fake_commit, fake_set_permanent,
};

static void test_slots__external_boot_loader_is_reconciled(void **state)
{
	struct fx *f = *state;
	struct fake_boot fb = {.trial_slot = -1, .permanent_slot = 0};
	struct fl_boot ext = {&fake_ops, &fb};
	struct fl_slots_config cfg = f->boot.cfg;
	struct fl_slots *s = calloc(1, sizeof(*s));
	struct fl_attempt att;

	cfg.boot = &ext;
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	stage_b(f, 8);
	assert_int_equal(fl_slots_load(s), 0);
	/* activate: record first, then the boot loader, then ARMED. */
	assert_int_equal(fl_slots_activate(s, 1), 0);
	assert_int_equal(fb.trial_slot, 1);
	assert_int_equal(s->info[1].flags, FL_SLOT_FLAG_ARMED);
	/* The boot loader boots B on trial; B commits in the boot loader,
	 * and power is cut before the record is written. */
	fb.st.booted_slot = 1;
	fb.st.is_trial = 1;
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(fake_commit(&ext, 1), 0);
	fb.st.is_trial = 0;
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(s->info[1].state, FL_SLOT_CONFIRMED);
	assert_int_equal(fl_slots_floor(s), 6);

	/* Rollback to A on trial; the boot loader reverts it to B. */
	assert_int_equal(fl_slots_switch_to_previous(s, 12), 0);
	assert_int_equal(fb.trial_slot, 0);
	fb.st.booted_slot = 1;
	fb.st.is_reverted = 1;
	fb.st.reset_reason = FL_RESET_PANIC;
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(s->info[0].state, FL_SLOT_BAD);
	assert_int_equal(fl_slots_attempt(s, &att), 0);
	assert_int_equal(att.id, 12);
	assert_int_equal(att.outcome, FL_OUTCOME_REVERTED);
	assert_int_equal(att.reason, FL_REASON_REVERTED);
	assert_int_equal(att.reset_reason, FL_RESET_PANIC);
	free(s);
}

static void test_slots__half_done_reject_is_finished_on_open(void **state)
{
	struct fx *f = *state;
	struct fake_boot fb = {.trial_slot = -1, .permanent_slot = 0};
	struct fl_boot ext = {&fake_ops, &fb};
	struct fl_slots_config cfg = f->boot.cfg;
	struct fl_slots *s = calloc(1, sizeof(*s));
	struct fl_slot_info in;

	cfg.boot = &ext;
	stage_b(f, 8);
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(fl_slots_activate(s, 1), 0);
	fb.st.booted_slot = 1;
	fb.st.is_trial = 1;
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	/* reject wrote the record, then power was cut. */
	in = s->info[1];
	in.state = FL_SLOT_BAD;
	in.reason = FL_REASON_REJECTED;
	assert_int_equal(fl_slots_write_record(s, 1, &in), 0);
	fb.calls = 0;
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(fb.permanent_slot, 0);
	assert_int_equal(fb.calls, 1);
	free(s);
}

static void
test_slots__committed_slot_on_external_trial_is_committed(void **state)
{
	struct fx *f = *state;
	struct fake_boot fb = {.trial_slot = -1, .permanent_slot = -1};
	struct fl_boot ext = {&fake_ops, &fb};
	struct fl_slots_config cfg = f->boot.cfg;
	struct fl_slots *s = calloc(1, sizeof(*s));

	/* The records say A is committed, the boot loader holds it on
	 * trial (ESP-IDF after a boot partition change): open commits it. */
	cfg.boot = &ext;
	fb.st.booted_slot = 0;
	fb.st.is_trial = 1;
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(fb.permanent_slot, 0);
	assert_int_equal(fb.calls, 1);
	free(s);
}

static void
test_slots__stale_revert_flag_does_not_fail_a_new_trial(void **state)
{
	struct fx *f = *state;
	struct fake_boot fb = {.trial_slot = -1, .permanent_slot = 0};
	struct fl_boot ext = {&fake_ops, &fb};
	struct fl_slots_config cfg = f->boot.cfg;
	struct fl_slots *s = calloc(1, sizeof(*s));
	struct fl_slot_info in;

	/* The boot loader still reports the revert of an earlier trial of
	 * B. A new image for B is activated, but power is cut after the
	 * TRIAL record and before set_trial(): the trial is not armed. */
	cfg.boot = &ext;
	fb.st.booted_slot = 0;
	fb.st.is_reverted = 1;
	stage_b(f, 8);
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	in = s->info[1];
	in.state = FL_SLOT_TRIAL;
	in.tries_total = in.tries_left = 1;
	assert_int_equal(fl_slots_write_record(s, 1, &in), 0);
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(s->info[1].state, FL_SLOT_TRIAL); /* not BAD */
	assert_int_equal(fb.calls, 0);
	/* Activation resumes: armed now, and a revert would now count. */
	assert_int_equal(fl_slots_activate(s, 1), 0);
	assert_int_equal(fb.trial_slot, 1);
	assert_int_equal(s->info[1].flags, FL_SLOT_FLAG_ARMED);
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(s->info[1].state, FL_SLOT_BAD);
	free(s);
}

static void
test_slots__armed_trial_booted_before_its_record_is_adopted(void **state)
{
	struct fx *f = *state;
	struct fake_boot fb = {.trial_slot = -1, .permanent_slot = 0};
	struct fl_boot ext = {&fake_ops, &fb};
	struct fl_slots_config cfg = f->boot.cfg;
	struct fl_slots *s = calloc(1, sizeof(*s));
	struct fl_slot_info in;

	cfg.boot = &ext;
	stage_b(f, 8);
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	in = s->info[1];
	in.state = FL_SLOT_TRIAL;
	in.tries_total = in.tries_left = 1;
	assert_int_equal(fl_slots_write_record(s, 1, &in), 0);
	/* set_trial() landed, the ARMED record did not; B boots on trial. */
	fb.st.booted_slot = 1;
	fb.st.is_trial = 1;
	assert_int_equal(fl_slots_open(s, &cfg), 0);
	assert_int_equal(s->info[1].flags, FL_SLOT_FLAG_ARMED);
	free(s);
}

static void
test_slots__signed_rollback_moves_the_floor_past_the_new(void **state)
{
	struct fx *f = *state;

	stage_b(f, 4);
	assert_int_equal(fl_slots_activate(&f->boot.slots, 1), 0);
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0);
	assert_int_equal(fl_slots_floor(&f->boot.slots), 6);
	/* A rollback manifest with seq 9 points back at A (counter 5). */
	assert_int_equal(fl_slots_rollback(&f->boot.slots, 11, 9), 0);
	assert_int_equal(f->boot.slots.info[0].counter, 9);
	assert_int_equal(fl_slots_floor(&f->boot.slots), 6); /* not yet */
	assert_int_equal(fl_dev_power_on(&f->dev, &f->boot, NULL, 0), 0);
	assert_int_equal(fl_slots_booted(&f->boot.slots), 0);
	assert_int_equal(fl_slots_confirm(&f->boot.slots), 0);
	/* Committed: B's 1.1.0 (counter 6) can no longer be installed. */
	assert_int_equal(fl_slots_floor(&f->boot.slots), 9);
}

int main(void)
{
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_slots__record_roundtrips_every_field),
		T(test_slots__any_flipped_bit_is_detected),
		T(test_slots__newest_valid_copy_wins),
		T(test_slots__provision_verifies_the_image),
		T(test_slots__config_errors_are_refused),
		T(test_slots__activate_needs_a_staged_inactive_slot),
		T(test_slots__activation_refuses_a_corrupted_image),
		T(test_slots__confirm_commits_and_moves_floor),
		T(test_slots__confirm_from_the_old_image_leaves_the_trial_pending),
		T(test_slots__reject_returns_to_the_old_image),
		T(test_slots__unconfirmed_trial_reverts_with_reset_reason),
		T(test_slots__trial_tries_are_configurable),
		T(test_slots__switch_to_previous_needs_a_previous_image),
		T(test_slots__failed_record_write_changes_nothing),
		T(test_slots__external_boot_loader_is_reconciled),
		T(test_slots__half_done_reject_is_finished_on_open),
		T(test_slots__committed_slot_on_external_trial_is_committed),
		T(test_slots__stale_revert_flag_does_not_fail_a_new_trial),
		T(test_slots__armed_trial_booted_before_its_record_is_adopted),
		T(test_slots__signed_rollback_moves_the_floor_past_the_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
