/*
 * test_bytes.c -- the small portable helpers of fl/bytes.h: CRC-32 (check
 * value and continuation over chunks), fl_strlcpy (fits, truncates with
 * FL_ETOOBIG, always terminates) and the constant-time fl_memeq_ct, plus
 * the little-endian load/store pairs they sit beside.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fl/bytes.h"
#include "fl/err.h"

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
	};

	return cmocka_run_group_tests_name("bytes", tests, NULL, NULL);
}
