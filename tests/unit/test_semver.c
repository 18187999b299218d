/*
 * test_semver.c -- semantic versions and ranges (fl/semver.h): what parses
 * and what does not, the precedence rules of semver.org 2.0.0 (including the
 * specification's own ordered list), comparators and their conjunction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fl/err.h"
#include "fl/semver.h"

static int parse(struct fl_semver *v, const char *s)
{
	return fl_semver_parse(v, s, strlen(s));
}

static int cmp(const char *a, const char *b)
{
	struct fl_semver va, vb;

	assert_int_equal(parse(&va, a), 0);
	assert_int_equal(parse(&vb, b), 0);
	return fl_semver_cmp(&va, &vb);
}

static int matches(const char *range, const char *version)
{
	struct fl_semver_range r;
	struct fl_semver v;

	assert_int_equal(fl_semver_range_parse(&r, range), 0);
	assert_int_equal(parse(&v, version), 0);
	return fl_semver_range_match(&r, &v);
}

static void test_semver__parses_release_and_fields(void **state)
{
	struct fl_semver v;

	(void)state;
	assert_int_equal(parse(&v, "2.4.0"), 0);
	assert_int_equal(v.major, 2);
	assert_int_equal(v.minor, 4);
	assert_int_equal(v.patch, 0);
	assert_string_equal(v.pre, "");
	assert_int_equal(parse(&v, "0.0.0"), 0);
	assert_int_equal(parse(&v, "4294967295.0.1"), 0);
	assert_int_equal(v.major, 4294967295u);
}

static void test_semver__keeps_prerelease_drops_build(void **state)
{
	struct fl_semver v;

	(void)state;
	assert_int_equal(parse(&v, "2.4.0-rc.1"), 0);
	assert_string_equal(v.pre, "rc.1");
	assert_int_equal(parse(&v, "1.0.0-alpha-1.0+build.5-x"), 0);
	assert_string_equal(v.pre, "alpha-1.0");
	assert_int_equal(parse(&v, "1.0.0+20130313144700"), 0);
	assert_string_equal(v.pre, "");
	assert_int_equal(parse(&v, "1.0.0+001"), 0); /* build: zeros allowed */
	assert_int_equal(parse(&v, "1.0.0-0A.is.legal"), 0);
}

static void test_semver__rejects_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"1",
		"1.2",
		"1.2.3.4",
		"01.2.3",
		"1.02.3",
		"1.2.03",
		"v1.2.3",
		"1.2.3-",
		"1.2.3+",
		"1.2.3-a..b",
		"1.2.3-01",
		"1.2.3-a_b",
		"1.2.3+a..b",
		" 1.2.3",
		"1.2.3 ",
		"4294967296.0.0",
		"1.2.-3",
		"1.2.3-a+b+c",
		"-1.2.3",
		"1..3",
		"1.2.x",
		"1.2.3-é",
	};
	struct fl_semver v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(&v, bad[i]) != FL_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(fl_semver_parse(NULL, "1.2.3", 5), FL_EINVAL);
	assert_int_equal(fl_semver_parse(&v, NULL, 0), FL_EINVAL);
}

static void test_semver__parses_only_the_given_length(void **state)
{
	struct fl_semver v;

	(void)state;
	assert_int_equal(fl_semver_parse(&v, "1.2.3garbage", 5), 0);
	assert_int_equal(v.patch, 3);
	assert_int_equal(fl_semver_parse(&v, "1.2.34", 5), 0);
	assert_int_equal(v.patch, 3);
}

static void test_semver__prerelease_too_long_is_etoobig(void **state)
{
	char s[8 + FL_SEMVER_PRE_MAX + 1];
	struct fl_semver v;
	size_t n;

	(void)state;
	memcpy(s, "1.0.0-", 6);
	n = FL_SEMVER_PRE_MAX - 1; /* fits exactly, NUL included */
	memset(s + 6, 'a', n);
	assert_int_equal(fl_semver_parse(&v, s, 6 + n), 0);
	assert_int_equal(strlen(v.pre), n);
	memset(s + 6, 'a', n + 1);
	assert_int_equal(fl_semver_parse(&v, s, 6 + n + 1), FL_ETOOBIG);
}

static void test_semver__spec_precedence_list_is_ordered(void **state)
{
	/* The example of semver.org 2.0.0, section 11, plus releases. */
	static const char *order[] = {
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
		"1.0.0-beta",  "1.0.0-beta.2",	"1.0.0-beta.11",
		"1.0.0-rc.1",  "1.0.0",		"1.0.1",
		"1.1.0",       "1.10.0",	"2.0.0",
	};
	size_t n = sizeof(order) / sizeof(order[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = cmp(order[i], order[j]);
			int want = i < j ? -1 : i > j;

			if ((c < 0 ? -1 : c > 0) != want)
				fail_msg("%s vs %s gave %d", order[i], order[j],
					 c);
		}
}

static void test_semver__numeric_identifiers_compare_as_numbers(void **state)
{
	(void)state;
	assert_true(cmp("1.0.0-2", "1.0.0-10") < 0);
	assert_true(cmp("1.0.0-99999999999999999999",
			"1.0.0-100000000000000000000") < 0);
	assert_true(cmp("1.0.0-9", "1.0.0-a") < 0); /* numeric first */
	assert_true(cmp("1.0.0-B", "1.0.0-a") < 0); /* ASCII */
	assert_true(cmp("1.0.0-ab", "1.0.0-abc") < 0);
}

static void test_semver__build_metadata_does_not_order(void **state)
{
	(void)state;
	assert_int_equal(cmp("1.0.0+a", "1.0.0+b"), 0);
	assert_int_equal(cmp("1.0.0-rc.1+x", "1.0.0-rc.1"), 0);
}

static void test_semver__range_operators(void **state)
{
	(void)state;
	assert_true(matches(">=2.0.0 <2.4.0", "2.0.0"));
	assert_true(matches(">=2.0.0 <2.4.0", "2.3.99"));
	assert_false(matches(">=2.0.0 <2.4.0", "2.4.0"));
	assert_false(matches(">=2.0.0 <2.4.0", "1.9.9"));
	assert_true(matches(">=2.0.0 <2.4.0", "2.4.0-rc.1"));
	assert_true(matches("=1.2.3", "1.2.3"));
	assert_true(matches("1.2.3", "1.2.3+build"));
	assert_false(matches("1.2.3", "1.2.4"));
	assert_true(matches(">1.0.0-rc.1", "1.0.0"));
	assert_false(matches(">1.0.0", "1.0.0"));
	assert_true(matches("<=1.0.0", "1.0.0"));
	assert_false(matches("<1.0.0", "1.0.0"));
	assert_true(matches("  >=1.0.0   <=1.0.0 ", "1.0.0"));
}

static void test_semver__range_keeps_comparators(void **state)
{
	struct fl_semver_range r;

	(void)state;
	assert_int_equal(fl_semver_range_parse(&r, ">=2.0.0 <2.4.0"), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.cmp[0].op, FL_SEMVER_GE);
	assert_int_equal(r.cmp[0].v.major, 2);
	assert_int_equal(r.cmp[1].op, FL_SEMVER_LT);
	assert_int_equal(r.cmp[1].v.minor, 4);
}

static void test_semver__empty_range_struct_matches_all(void **state)
{
	struct fl_semver_range r;
	struct fl_semver v;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(parse(&v, "9.9.9"), 0);
	assert_int_equal(fl_semver_range_match(&r, &v), 1);
}

static void test_semver__range_rejects_malformed(void **state)
{
	static const char *bad[] = {
		"",	   "   ",    ">= 2.0.0",       "=>2.0.0",
		"==2.0.0", "^2.0.0", "~2.0.0",	       "2.x",
		">2",	   "<",	     ">=2.0.0,<3.0.0", ">=2.0.0 || <1.0.0",
		"!=1.0.0",
	};
	struct fl_semver_range r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fl_semver_range_parse(&r, bad[i]) != FL_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(r.n, 0);
	}
	assert_int_equal(fl_semver_range_parse(NULL, "1.0.0"), FL_EINVAL);
	assert_int_equal(fl_semver_range_parse(&r, NULL), FL_EINVAL);
}

static void test_semver__range_over_max_comparators_is_etoobig(void **state)
{
	char s[FL_SEMVER_RANGE_MAX * 8 + 16] = "";
	size_t len = 0;
	struct fl_semver_range r;

	(void)state;
	for (int i = 0; i < FL_SEMVER_RANGE_MAX; i++) {
		memcpy(s + len, ">=1.0.0 ", 8);
		len += 8;
	}
	s[len] = '\0';
	assert_int_equal(fl_semver_range_parse(&r, s), 0);
	assert_int_equal(r.n, FL_SEMVER_RANGE_MAX);
	memcpy(s + len, "<2.0.0", 7);
	assert_int_equal(fl_semver_range_parse(&r, s), FL_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semver__parses_release_and_fields),
		cmocka_unit_test(test_semver__keeps_prerelease_drops_build),
		cmocka_unit_test(test_semver__rejects_malformed),
		cmocka_unit_test(test_semver__parses_only_the_given_length),
		cmocka_unit_test(test_semver__prerelease_too_long_is_etoobig),
		cmocka_unit_test(test_semver__spec_precedence_list_is_ordered),
		cmocka_unit_test(
			test_semver__numeric_identifiers_compare_as_numbers),
		cmocka_unit_test(test_semver__build_metadata_does_not_order),
		cmocka_unit_test(test_semver__range_operators),
		cmocka_unit_test(test_semver__range_keeps_comparators),
		cmocka_unit_test(test_semver__empty_range_struct_matches_all),
		cmocka_unit_test(test_semver__range_rejects_malformed),
		cmocka_unit_test(
			test_semver__range_over_max_comparators_is_etoobig),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
