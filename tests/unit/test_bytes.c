/*
 * test_bytes.c -- the small portable helpers of fl/bytes.h: CRC-32 (check
 * value and continuation over chunks), fl_strlcpy (fits, truncates with
 * FL_ETOOBIG, always terminates) and the constant-time fl_memeq_ct, plus
 * the little-endian load/store pairs they sit beside; and the fl_f64_*
 * helpers of fl/f64.h, which must answer exactly as the C operators on
 * doubles do
 * (checked here on the host's FPU over edge cases and a million
 * pseudo-random bit patterns and integers).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/f64.h"

static const char CHECK[] = "123456789";

static void test_crc32__check_value(void **state)
{
	(void)state;
	assert_int_equal(fl_crc32(0, CHECK, 9), 0xCBF43926u);
}

static void test_crc32__empty_buffer_keeps_crc(void **state)
{
	(void)state;
	assert_int_equal(fl_crc32(0, NULL, 0), 0);
	assert_int_equal(fl_crc32(0xCBF43926u, "", 0), 0xCBF43926u);
}

static void test_crc32__continues_over_chunks(void **state)
{
	uint32_t crc;

	(void)state;
	for (size_t split = 0; split <= 9; split++) {
		crc = fl_crc32(0, CHECK, split);
		crc = fl_crc32(crc, CHECK + split, 9 - split);
		assert_int_equal(crc, 0xCBF43926u);
	}
	crc = 0;
	for (size_t i = 0; i < 9; i++)
		crc = fl_crc32(crc, CHECK + i, 1);
	assert_int_equal(crc, 0xCBF43926u);
}

static void test_crc32__detects_one_bit(void **state)
{
	char buf[9];

	(void)state;
	for (size_t i = 0; i < 9 * 8; i++) {
		memcpy(buf, CHECK, 9);
		buf[i / 8] ^= (char)(1u << (i % 8));
		assert_int_not_equal(fl_crc32(0, buf, 9), 0xCBF43926u);
	}
}

static void test_strlcpy__fits(void **state)
{
	char dst[8];

	(void)state;
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(fl_strlcpy(dst, "abc", sizeof(dst)), 0);
	assert_string_equal(dst, "abc");
	/* Exactly full: 7 characters and the terminator. */
	assert_int_equal(fl_strlcpy(dst, "abcdefg", sizeof(dst)), 0);
	assert_string_equal(dst, "abcdefg");
	assert_int_equal(fl_strlcpy(dst, "", sizeof(dst)), 0);
	assert_string_equal(dst, "");
}

static void test_strlcpy__truncates_with_etoobig(void **state)
{
	char dst[8];

	(void)state;
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(fl_strlcpy(dst, "abcdefgh", sizeof(dst)), FL_ETOOBIG);
	assert_string_equal(dst, "abcdefg");
	assert_int_equal(fl_strlcpy(dst, "a long string", 4), FL_ETOOBIG);
	assert_string_equal(dst, "a l");
	assert_int_equal(dst[4], 'e'); /* nothing written past dst_size */
	assert_int_equal(fl_strlcpy(dst, "a", 1), FL_ETOOBIG);
	assert_int_equal(dst[0], '\0');
}

static void test_strlcpy__zero_size_writes_nothing(void **state)
{
	char dst[2] = {'x', 'y'};

	(void)state;
	assert_int_equal(fl_strlcpy(dst, "a", 0), FL_ETOOBIG);
	assert_int_equal(dst[0], 'x');
	assert_int_equal(dst[1], 'y');
}

static void test_memeq_ct__equal_and_different(void **state)
{
	uint8_t a[64];
	uint8_t b[64];

	(void)state;
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 7 + 1);
	memcpy(b, a, sizeof(b));
	assert_int_equal(fl_memeq_ct(a, b, sizeof(a)), 0);
	assert_int_equal(fl_memeq_ct(a, b, 0), 0);
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x80;
		assert_int_not_equal(fl_memeq_ct(a, b, sizeof(a)), 0);
		/* Bytes past n are not compared. */
		assert_int_equal(fl_memeq_ct(a, b, i), 0);
		b[i] ^= 0x80;
	}
}

static void test_le__round_trips(void **state)
{
	uint8_t p[8];

	(void)state;
	fl_put_le16(p, 0xBEEFu);
	assert_int_equal(p[0], 0xEF);
	assert_int_equal(fl_get_le16(p), 0xBEEFu);
	fl_put_le32(p, 0x12345678u);
	assert_int_equal(p[0], 0x78);
	assert_int_equal(p[3], 0x12);
	assert_int_equal(fl_get_le32(p), 0x12345678u);
	fl_put_le64(p, 0x0102030405060708ull);
	assert_int_equal(p[0], 0x08);
	assert_int_equal(p[7], 0x01);
	assert_true(fl_get_le64(p) == 0x0102030405060708ull);
	fl_put_le32(p, 0xFFFFFFFFu);
	assert_int_equal(fl_get_le32(p), 0xFFFFFFFFu);
}

static double from_bits(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static uint64_t to_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

/* xorshift64*: reproducible bit patterns. */
static uint64_t next_u64(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static const double EDGES[] = {0.0,
			       -0.0,
			       1.0,
			       -1.0,
			       0.5,
			       -0.5,
			       1.5,
			       2.0,
			       3.0,
			       1e15 - 1,
			       1e15,
			       999999999999999.5,
			       4503599627370496.0 /* 2^52 */,
			       9007199254740992.0 /* 2^53 */,
			       18446744073709549568.0 /* 2^64 - 2^11 */,
			       18446744073709551616.0 /* 2^64 */,
			       1e300,
			       -1e300,
			       5e-324,
			       -5e-324,
			       2.2250738585072014e-308,
			       HUGE_VAL,
			       -HUGE_VAL,
			       NAN,
			       -NAN};

/* The helpers against the operators, for one pair. */
static void check_pair(double a, double b)
{
	uint64_t got = 12345, want;
	bool exact = a >= 0.0 && a < 18446744073709551616.0 &&
		     (double)(uint64_t)a == a;

	assert_int_equal(fl_f64_is_finite(a), isfinite(a) != 0);
	assert_int_equal(fl_f64_is_nan(a), a != a);
	assert_int_equal(fl_f64_le(a, b), a <= b);
	assert_int_equal(fl_f64_le(b, a), b <= a);
	assert_int_equal(fl_f64_to_u64(&got, a, UINT64_MAX), exact);
	if (exact) {
		want = (uint64_t)a;
		assert_true(got == want);
		/* A bound: refused above max, with *out untouched. */
		if (want > 0) {
			got = 12345;
			assert_false(fl_f64_to_u64(&got, a, want - 1));
			assert_true(got == 12345);
		}
	} else {
		assert_true(got == 12345);
	}
}

static void test_f64__edges_match_the_operators(void **state)
{
	size_t n = sizeof(EDGES) / sizeof(EDGES[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			check_pair(EDGES[i], EDGES[j]);
}

static void test_f64__random_patterns_match_the_operators(void **state)
{
	uint64_t s = 0x9E3779B97F4A7C15ull;

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		uint64_t u = next_u64(&s), v = next_u64(&s);

		/* Half of them integers or near ones, whose bits are dense
		 * in the interesting exponents. */
		if (i & 1)
			u = to_bits((double)(u >> (u & 63)));
		if (i & 2)
			v = to_bits(-from_bits(u));
		check_pair(from_bits(u), from_bits(v));
	}
}

static void test_f64__from_u64_rounds_as_the_cast(void **state)
{
	static const uint64_t edges[] = {0,
					 1,
					 2,
					 3,
					 999999999999999ull,
					 (1ull << 53) - 1,
					 1ull << 53,
					 (1ull << 53) + 1,
					 (1ull << 53) + 2,
					 (1ull << 53) + 3,
					 (1ull << 54) + 2,
					 (1ull << 54) + 6,
					 UINT64_MAX,
					 UINT64_MAX - 1024,
					 UINT64_MAX - 1025,
					 1ull << 63,
					 (1ull << 63) + 1024,
					 (1ull << 63) + 1025,
					 (1ull << 63) + 3072};
	uint64_t s = 0x2545F4914F6CDD1Dull;

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		assert_true(to_bits(fl_f64_from_u64(edges[i])) ==
			    to_bits((double)edges[i]));
	for (int i = 0; i < 1000000; i++) {
		uint64_t v = next_u64(&s);

		v >>= v & 63;
		assert_true(to_bits(fl_f64_from_u64(v)) == to_bits((double)v));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32__check_value),
		cmocka_unit_test(test_crc32__empty_buffer_keeps_crc),
		cmocka_unit_test(test_crc32__continues_over_chunks),
		cmocka_unit_test(test_crc32__detects_one_bit),
		cmocka_unit_test(test_strlcpy__fits),
		cmocka_unit_test(test_strlcpy__truncates_with_etoobig),
		cmocka_unit_test(test_strlcpy__zero_size_writes_nothing),
		cmocka_unit_test(test_memeq_ct__equal_and_different),
		cmocka_unit_test(test_le__round_trips),
		cmocka_unit_test(test_f64__edges_match_the_operators),
		cmocka_unit_test(test_f64__random_patterns_match_the_operators),
		cmocka_unit_test(test_f64__from_u64_rounds_as_the_cast),
	};

	return cmocka_run_group_tests_name("bytes", tests, NULL, NULL);
}
