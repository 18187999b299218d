/*
 * test_flash_sim.c -- the flash interface's checks and the NOR simulator:
 * rules, cut modes, I/O errors, reproducibility.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fl/err.h"
#include "fl/flash_sim.h"

#define SIZE (8 * 4096)

static const struct fl_flash_geom nor = {SIZE, 4096, 1, 0xFF};
static const struct fl_flash_geom w16 = {SIZE, 4096, 16, 0xFF};
static uint8_t mem[SIZE];
static uint8_t pattern[4096];

static void setup_sim(struct fl_sim *s, const struct fl_flash_geom *g,
		      const struct fl_sim_faults *f)
{
	assert_int_equal(fl_sim_init(s, g, mem, f), 0);
	fl_sim_wipe(s);
	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 37 + 11);
}

static void test_flash__geometry_is_checked(void **state)
{
	struct fl_flash_geom g = nor;
	struct fl_sim s;

	(void)state;
	g.erase_bytes = 3000; /* not a power of two */
	assert_int_equal(fl_sim_init(&s, &g, mem, NULL), FL_EINVAL);
	g = nor;
	g.write_bytes = 8192; /* larger than the erase unit */
	assert_int_equal(fl_sim_init(&s, &g, mem, NULL), FL_EINVAL);
	g = nor;
	g.size_bytes = 4096 * 3 + 1;
	assert_int_equal(fl_sim_init(&s, &g, mem, NULL), FL_EINVAL);
	assert_int_equal(fl_sim_init(&s, &nor, NULL, NULL), FL_EINVAL);
}

static void test_flash__area_must_be_erase_aligned_and_inside(void **state)
{
	struct fl_sim s;
	struct fl_area a;

	(void)state;
	setup_sim(&s, &nor, NULL);
	assert_int_equal(fl_area_init(&a, &s.flash, 100, 4096), FL_EALIGN);
	assert_int_equal(fl_area_init(&a, &s.flash, 4096, 100), FL_EALIGN);
	assert_int_equal(fl_area_init(&a, &s.flash, 4096, SIZE), FL_ERANGE);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, 0), FL_EINVAL);
	assert_int_equal(fl_area_init(&a, &s.flash, 4096, 2 * 4096), 0);
}

static void test_flash__ranges_and_alignment_checked_above_backend(void **state)
{
	struct fl_sim s;
	struct fl_area a;
	uint8_t buf[64];

	(void)state;
	setup_sim(&s, &w16, NULL);
	assert_int_equal(fl_area_init(&a, &s.flash, 4096, 2 * 4096), 0);
	assert_int_equal(fl_area_read(&a, 8192 - 10, buf, 11), FL_ERANGE);
	assert_int_equal(fl_area_read(&a, UINT32_MAX, buf, 1), FL_ERANGE);
	assert_int_equal(fl_area_write(&a, 8, buf, 16), FL_EALIGN);
	assert_int_equal(fl_area_write(&a, 16, buf, 15), FL_EALIGN);
	assert_int_equal(fl_area_write(&a, 8192, buf, 16), FL_ERANGE);
	assert_int_equal(fl_area_erase(&a, 100, 4096), FL_EALIGN);
	assert_int_equal(fl_area_erase(&a, 4096, 8192), FL_ERANGE);
	/* None of those reached the backend. */
	assert_int_equal(s.ops, 0);
	/* Offsets are relative to the area. */
	assert_int_equal(fl_area_write(&a, 16, pattern, 16), 0);
	assert_memory_equal(mem + 4096 + 16, pattern, 16);
}

static void test_flash_sim__erase_sets_erased_value(void **state)
{
	struct fl_sim s;
	struct fl_area a;

	(void)state;
	setup_sim(&s, &nor, NULL);
	memset(mem, 0x12, SIZE);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_erase(&a, 4096, 4096), 0);
	for (unsigned i = 4096; i < 8192; i++)
		assert_int_equal(mem[i], 0xFF);
	assert_int_equal(mem[4095], 0x12);
	assert_int_equal(mem[8192], 0x12);
}

static void test_flash_sim__write_over_unerased_is_refused(void **state)
{
	struct fl_sim s;
	struct fl_area a;
	uint8_t one = 0x5A;

	(void)state;
	setup_sim(&s, &nor, NULL);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_write(&a, 10, &one, 1), 0);
	assert_int_equal(fl_area_write(&a, 10, &one, 1), FL_ENOTERASED);
	assert_int_equal(fl_area_erase(&a, 0, 4096), 0);
	assert_int_equal(fl_area_write(&a, 10, &one, 1), 0);
}

static void test_flash_sim__clean_cut_leaves_medium_untouched(void **state)
{
	struct fl_sim_faults f = {.cut_at = 2, .cut_mode = FL_SIM_CUT_CLEAN};
	struct fl_sim s;
	struct fl_area a;
	uint8_t buf[16];

	(void)state;
	setup_sim(&s, &nor, &f);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_write(&a, 0, pattern, 100), 0);
	assert_int_equal(fl_area_write(&a, 100, pattern, 100), FL_EPOWER);
	for (unsigned i = 100; i < 200; i++)
		assert_int_equal(mem[i], 0xFF);
	/* Power is off: everything fails, reads included. */
	assert_int_equal(fl_area_read(&a, 0, buf, 16), FL_EPOWER);
	assert_int_equal(fl_area_erase(&a, 0, 4096), FL_EPOWER);
	assert_int_equal(fl_area_sync(&a), FL_EPOWER);
	assert_int_equal(s.is_powered, 0);
	assert_int_equal(s.last_cut_op, FL_SIM_OP_WRITE);
	/* Reboot: a new simulator over the same memory. */
	assert_int_equal(fl_sim_init(&s, &nor, mem, NULL), 0);
	assert_int_equal(fl_area_read(&a, 0, buf, 16), 0);
	assert_memory_equal(buf, pattern, 16);
}

static void test_flash_sim__torn_write_programs_a_prefix(void **state)
{
	struct fl_sim_faults f = {
		.cut_at = 1, .cut_mode = FL_SIM_CUT_TORN, .torn_bytes = 40};
	struct fl_sim s;
	struct fl_area a;

	(void)state;
	setup_sim(&s, &nor, &f);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_write(&a, 0, pattern, 100), FL_EPOWER);
	assert_memory_equal(mem, pattern, 40);
	/* The byte being programmed has only some of its bits cleared:
	 * NOR can only go from 1 to 0, so it is a superset of the target. */
	assert_int_equal(mem[40] & pattern[40], pattern[40]);
	for (unsigned i = 41; i < 100; i++)
		assert_int_equal(mem[i], 0xFF);
}

static void test_flash_sim__torn_erase_leaves_a_partly_erased_unit(void **state)
{
	struct fl_sim_faults f = {
		.cut_at = 1, .cut_mode = FL_SIM_CUT_TORN, .seed = 3};
	struct fl_sim s;
	struct fl_area a;
	unsigned erased_units = 0, untouched_units = 0, partial_units = 0;

	(void)state;
	setup_sim(&s, &nor, &f);
	memset(mem, 0x00, SIZE);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_erase(&a, 0, SIZE), FL_EPOWER);
	for (unsigned u = 0; u < SIZE / 4096; u++) {
		unsigned ff = 0, zero = 0;

		for (unsigned i = 0; i < 4096; i++) {
			ff += mem[u * 4096 + i] == 0xFF;
			zero += mem[u * 4096 + i] == 0x00;
		}
		if (ff == 4096)
			erased_units++;
		else if (zero == 4096)
			untouched_units++;
		else
			partial_units++;
	}
	assert_int_equal(partial_units, 1);
	assert_int_equal(erased_units + untouched_units + partial_units,
			 SIZE / 4096);
}

static void test_flash_sim__garbage_cut_randomizes_the_range(void **state)
{
	struct fl_sim_faults f = {
		.cut_at = 1, .cut_mode = FL_SIM_CUT_GARBAGE, .seed = 9};
	struct fl_sim s;
	struct fl_area a;
	unsigned same = 0;

	(void)state;
	setup_sim(&s, &nor, &f);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_write(&a, 0, pattern, 1000), FL_EPOWER);
	for (unsigned i = 0; i < 1000; i++)
		same += mem[i] == pattern[i];
	assert_true(same < 50); /* about 4 expected by chance */
	assert_int_equal(mem[1000], 0xFF);
}

static void test_flash_sim__cuts_are_reproducible_by_seed(void **state)
{
	static uint8_t first[SIZE];
	struct fl_sim_faults f = {
		.cut_at = 1, .cut_mode = FL_SIM_CUT_TORN, .seed = 42};
	struct fl_sim s;
	struct fl_area a;

	(void)state;
	setup_sim(&s, &nor, &f);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_write(&a, 0, pattern, 4096), FL_EPOWER);
	memcpy(first, mem, SIZE);
	setup_sim(&s, &nor, &f);
	assert_int_equal(fl_area_write(&a, 0, pattern, 4096), FL_EPOWER);
	assert_memory_equal(first, mem, SIZE);
	f.seed = 43;
	setup_sim(&s, &nor, &f);
	assert_int_equal(fl_area_write(&a, 0, pattern, 4096), FL_EPOWER);
	assert_memory_not_equal(first, mem, SIZE);
}

static void test_flash_sim__io_error_once_then_recovers(void **state)
{
	struct fl_sim_faults f = {.eio_at = 2};
	struct fl_sim s;
	struct fl_area a;
	uint8_t buf[8];

	(void)state;
	setup_sim(&s, &nor, &f);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_read(&a, 0, buf, 8), 0);
	assert_int_equal(fl_area_write(&a, 0, pattern, 8), FL_EIO);
	assert_int_equal(mem[0], 0xFF); /* failed before touching the medium */
	assert_int_equal(fl_area_write(&a, 0, pattern, 8), 0);
	assert_int_equal(s.count[FL_SIM_OP_WRITE], 2);
	assert_int_equal(s.count[FL_SIM_OP_READ], 1);
}

static void test_flash_sim__io_error_for_good(void **state)
{
	struct fl_sim_faults f = {.eio_at = 2, .is_eio_sticky = 1};
	struct fl_sim s;
	struct fl_area a;
	uint8_t buf[8];

	(void)state;
	setup_sim(&s, &nor, &f);
	assert_int_equal(fl_area_init(&a, &s.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_read(&a, 0, buf, 8), 0);
	assert_int_equal(fl_area_read(&a, 0, buf, 8), FL_EIO);
	assert_int_equal(fl_area_erase(&a, 0, 4096), FL_EIO);
	assert_int_equal(fl_area_sync(&a), FL_EIO);
	assert_int_equal(s.ops, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flash__geometry_is_checked),
		cmocka_unit_test(
			test_flash__area_must_be_erase_aligned_and_inside),
		cmocka_unit_test(
			test_flash__ranges_and_alignment_checked_above_backend),
		cmocka_unit_test(test_flash_sim__erase_sets_erased_value),
		cmocka_unit_test(
			test_flash_sim__write_over_unerased_is_refused),
		cmocka_unit_test(
			test_flash_sim__clean_cut_leaves_medium_untouched),
		cmocka_unit_test(test_flash_sim__torn_write_programs_a_prefix),
		cmocka_unit_test(
			test_flash_sim__torn_erase_leaves_a_partly_erased_unit),
		cmocka_unit_test(
			test_flash_sim__garbage_cut_randomizes_the_range),
		cmocka_unit_test(test_flash_sim__cuts_are_reproducible_by_seed),
		cmocka_unit_test(test_flash_sim__io_error_once_then_recovers),
		cmocka_unit_test(test_flash_sim__io_error_for_good),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
