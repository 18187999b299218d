/*
 * test_fleetctl_render.c -- fleetctl's text building blocks (dashboard-
 * cli/render.c): aligned tables printed in batches, progress bars that
 * never hide a segment and are full only when done, human durations,
 * relative and absolute times, sizes, percentages, and the cleaning of
 * text from the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fl/err.h"
#include "render.h"

/* ---- helpers ------------------------------------------------------------ */

struct out {
	char *buf;
	size_t len;
	FILE *f;
};

static void out_open(struct out *o)
{
	o->buf = NULL;
	o->len = 0;
	o->f = open_memstream(&o->buf, &o->len);
	assert_non_null(o->f);
}

static void out_check(struct out *o, const char *want)
{
	fflush(o->f);
	assert_string_equal(o->buf, want);
	fclose(o->f);
	free(o->buf);
}

static const char *bar(unsigned width, uint64_t total, uint64_t a, uint64_t b,
		       uint64_t c)
{
	static char buf[FL_BAR_MAX_WIDTH + 3];
	struct fl_bar_seg segs[3] = {{a, '#'}, {b, 'X'}, {c, '>'}};

	fl_render_bar(buf, sizeof(buf), width, segs, 3, total, '.');
	return buf;
}

/* ---- tables ------------------------------------------------------------- */

static void test_table__aligns_columns_and_trims_line_ends(void **state)
{
	static const char *const head[] = {"NAME", "N", "NOTE"};
	const char *r1[] = {"canary", "15", ""};
	const char *r2[] = {"wave-10", "1468", "slow"};
	const char *r3[] = {NULL, "3", NULL};
	struct fl_table *t;
	struct out o;

	(void)state;
	assert_int_equal(fl_table_new(&t, 3, head, 10), 0);
	fl_table_right(t, 1);
	assert_int_equal(fl_table_add(t, r1), 0);
	assert_int_equal(fl_table_add(t, r2), 0);
	assert_int_equal(fl_table_add(t, r3), 0);
	assert_int_equal(fl_table_rows(t), 3);
	out_open(&o);
	assert_int_equal(fl_table_flush(t, o.f), 0);
	assert_int_equal(fl_table_rows(t), 0);
	out_check(&o, "NAME        N  NOTE\n"
		      "canary     15\n"
		      "wave-10  1468  slow\n"
		      "-           3  -\n");
	fl_table_free(t);
}

static void test_table__batches_print_one_header_and_never_narrow(void **state)
{
	static const char *const head[] = {"ID", "STATE"};
	const char *wide[] = {"thermo-000001", "online"};
	const char *narrow[] = {"a", "off"};
	struct fl_table *t;
	struct out o;

	(void)state;
	assert_int_equal(fl_table_new(&t, 2, head, 2), 0);
	out_open(&o);
	assert_int_equal(fl_table_add(t, wide), 0);
	assert_int_equal(fl_table_flush(t, o.f), 0);
	assert_int_equal(fl_table_add(t, narrow), 0);
	assert_int_equal(fl_table_flush(t, o.f), 0);
	assert_int_equal(fl_table_flush(t, o.f), 0); /* nothing waits */
	out_check(&o, "ID             STATE\n"
		      "thermo-000001  online\n"
		      "a              off\n");
	fl_table_free(t);
}

static void test_table__full_table_refuses_rows(void **state)
{
	const char *row[] = {"x"};
	struct fl_table *t;

	(void)state;
	assert_int_equal(fl_table_new(&t, 1, NULL, 2), 0);
	assert_int_equal(fl_table_add(t, row), 0);
	assert_int_equal(fl_table_add(t, row), 0);
	assert_int_equal(fl_table_add(t, row), FL_ETOOBIG);
	fl_table_free(t);
	fl_table_free(NULL);
}

static void test_table__bad_shapes_are_refused(void **state)
{
	struct fl_table *t = (struct fl_table *)1;

	(void)state;
	assert_int_equal(fl_table_new(&t, 0, NULL, 5), FL_EINVAL);
	assert_null(t);
	assert_int_equal(fl_table_new(&t, FL_TABLE_MAX_COLS + 1, NULL, 5),
			 FL_EINVAL);
	assert_int_equal(fl_table_new(&t, 2, NULL, 0), FL_EINVAL);
}

static void test_table__min_width_and_cleaned_long_cells(void **state)
{
	static const char *const head[] = {"A", "B"};
	char long_cell[FL_TABLE_CELL_MAX * 2];
	const char *row[] = {"x\033[2Jy", long_cell};
	struct fl_table *t;
	struct out o;

	(void)state;
	memset(long_cell, 'z', sizeof(long_cell) - 1);
	long_cell[sizeof(long_cell) - 1] = '\0';
	assert_int_equal(fl_table_new(&t, 2, head, 4), 0);
	fl_table_min_width(t, 0, 8);
	assert_int_equal(fl_table_add(t, row), 0);
	out_open(&o);
	assert_int_equal(fl_table_flush(t, o.f), 0);
	fflush(o.f);
	/* The escape is defused, the cell padded to 8, the long one cut. */
	assert_memory_equal(o.buf, "A         B\nx?[2Jy    zzz", 25);
	assert_int_equal(strlen(o.buf), strlen("A         B\n") + 10 +
						FL_TABLE_CELL_MAX - 1 + 1);
	fclose(o.f);
	free(o.buf);
	fl_table_free(t);
}

/* ---- bars --------------------------------------------------------------- */

static void test_bar__proportions(void **state)
{
	(void)state;
	assert_string_equal(bar(10, 100, 50, 0, 0), "[#####.....]");
	assert_string_equal(bar(10, 100, 50, 20, 30), "[#####XX>>>]");
	assert_string_equal(bar(20, 146, 68, 1, 30), "[#########X>>>>......]");
}

static void test_bar__one_failure_in_a_thousand_shows(void **state)
{
	(void)state;
	assert_string_equal(bar(10, 1000, 0, 1, 0), "[X.........]");
	assert_string_equal(bar(10, 1000, 998, 1, 1), "[########X>]");
}

static void test_bar__full_only_when_done(void **state)
{
	(void)state;
	assert_string_equal(bar(10, 1000, 999, 0, 0), "[#########.]");
	assert_string_equal(bar(10, 1000, 1000, 0, 0), "[##########]");
	assert_string_equal(bar(10, 3, 1, 1, 1), "[####XXX>>>]");
	assert_string_equal(bar(4, 0, 0, 0, 0), "[....]");
	/* a total below the segments is raised to them */
	assert_string_equal(bar(4, 1, 2, 2, 0), "[##XX]");
}

static void test_bar__more_segments_than_cells(void **state)
{
	(void)state;
	assert_string_equal(bar(2, 1000, 1, 1, 1), "[#X]");
	assert_string_equal(bar(1, 10, 5, 5, 0), "[#]");
}

static void test_bar__bad_widths(void **state)
{
	char small[5];
	struct fl_bar_seg s = {1, '#'};

	(void)state;
	assert_string_equal(bar(0, 10, 1, 0, 0), "[]");
	assert_string_equal(bar(FL_BAR_MAX_WIDTH + 1, 10, 1, 0, 0), "[]");
	fl_render_bar(small, sizeof(small), 10, &s, 1, 1, '.');
	assert_string_equal(small, "[]");
}

/* ---- times and sizes ---------------------------------------------------- */

static void test_duration__two_largest_units(void **state)
{
	static const struct {
		int64_t s;
		const char *want;
	} cases[] = {
		{-5, "0s"},	   {0, "0s"},	      {45, "45s"},
		{60, "1m"},	   {200, "3m 20s"},   {3600, "1h"},
		{7500, "2h 5m"},   {7259, "2h"},      {86400, "1d"},
		{273600, "3d 4h"}, {8640000, "100d"}, {35596800, "412d"},
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fl_render_duration(cases[i].s, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_ago__past_future_and_now(void **state)
{
	char buf[40];

	(void)state;
	fl_render_ago(1000, 1000, buf, sizeof(buf));
	assert_string_equal(buf, "just now");
	fl_render_ago(955, 1000, buf, sizeof(buf));
	assert_string_equal(buf, "45s ago");
	fl_render_ago(1000 + 7500, 1000, buf, sizeof(buf));
	assert_string_equal(buf, "in 2h 5m");
}

static void test_instant__rfc3339_utc(void **state)
{
	char buf[40];

	(void)state;
	fl_render_instant(1795440000, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23T13:20:00Z");
	fl_render_instant(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	fl_render_instant(-1, buf, sizeof(buf));
	assert_string_equal(buf, "-");
}

static void test_bytes_and_percent(void **state)
{
	char buf[32];

	(void)state;
	fl_render_bytes(0, buf, sizeof(buf));
	assert_string_equal(buf, "0 B");
	fl_render_bytes(1023, buf, sizeof(buf));
	assert_string_equal(buf, "1023 B");
	fl_render_bytes(1536, buf, sizeof(buf));
	assert_string_equal(buf, "1.5 KiB");
	fl_render_bytes(4u << 20, buf, sizeof(buf));
	assert_string_equal(buf, "4.0 MiB");
	fl_render_bytes(5ull << 40, buf, sizeof(buf));
	assert_string_equal(buf, "5.0 TiB");
	fl_render_percent(0.0, buf, sizeof(buf));
	assert_string_equal(buf, "0.0%");
	fl_render_percent(1.0 / 69, buf, sizeof(buf));
	assert_string_equal(buf, "1.4%");
	fl_render_percent(0.05, buf, sizeof(buf));
	assert_string_equal(buf, "5.0%");
	fl_render_percent(-1, buf, sizeof(buf));
	assert_string_equal(buf, "-");
}

/* ---- cleaning ----------------------------------------------------------- */

static void test_clean__control_characters_and_utf8_cuts(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(fl_render_clean(buf, sizeof(buf), "a\tb\nc\x7f"),
			    "a?b?c?");
	/* "héllo wörld" cut at 7 bytes: no half of the ö */
	assert_string_equal(fl_render_clean(buf, sizeof(buf),
					    "h\xc3\xa9llo"
					    "\xc3\xb6"),
			    "h\xc3\xa9llo");
	assert_string_equal(fl_render_clean(buf, 6, "abcd\xc3\xa9"), "abcd");
	assert_string_equal(fl_render_clean(buf, sizeof(buf), NULL), "");
	assert_int_equal(fl_render_width("h\xc3\xa9llo"), 5);
	assert_int_equal(fl_render_width(""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_table__aligns_columns_and_trims_line_ends),
		cmocka_unit_test(
			test_table__batches_print_one_header_and_never_narrow),
		cmocka_unit_test(test_table__full_table_refuses_rows),
		cmocka_unit_test(test_table__bad_shapes_are_refused),
		cmocka_unit_test(test_table__min_width_and_cleaned_long_cells),
		cmocka_unit_test(test_bar__proportions),
		cmocka_unit_test(test_bar__one_failure_in_a_thousand_shows),
		cmocka_unit_test(test_bar__full_only_when_done),
		cmocka_unit_test(test_bar__more_segments_than_cells),
		cmocka_unit_test(test_bar__bad_widths),
		cmocka_unit_test(test_duration__two_largest_units),
		cmocka_unit_test(test_ago__past_future_and_now),
		cmocka_unit_test(test_instant__rfc3339_utc),
		cmocka_unit_test(test_bytes_and_percent),
		cmocka_unit_test(test_clean__control_characters_and_utf8_cuts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
