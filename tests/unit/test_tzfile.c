/*
 * test_tzfile.c -- the TZif reader against glibc's localtime_r (TZ set in
 * this test only): offsets at many instants from 1901 to far in the
 * future, every change glibc shows is one we report no later than it
 * happens, POSIX footer strings, refused names, a bounded cache, $TZDIR,
 * and malformed files (every truncation, bad counts, unordered times).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fl/err.h"
#include "fl/tzfile.h"

#define Y1901 (-2177452800LL)
#define Y2100 4102444800LL

static long glibc_off(const char *tz, int64_t t)
{
	static char cur[160];
	struct tm tm;
	time_t tt = (time_t)t;

	if (strcmp(cur, tz) != 0) {
		snprintf(cur, sizeof(cur), "%s", tz);
		setenv("TZ", tz, 1);
		tzset();
	}
	assert_non_null(localtime_r(&tt, &tm));
	return tm.tm_gmtoff;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

typedef int (*offset_fn)(void *ctx, const char *zone, int64_t t, int32_t *off,
			 int64_t *next);

static int db_fn(void *ctx, const char *zone, int64_t t, int32_t *off,
		 int64_t *next)
{
	return fl_tzdb_offset(ctx, zone, t, off, next);
}

static int posix_fn(void *ctx, const char *zone, int64_t t, int32_t *off,
		    int64_t *next)
{
	(void)ctx;
	return fl_tz_posix_offset(zone, t, off, next);
}

/*
 * Walks [from, to) in steps of `step` seconds; wherever glibc's offset
 * differs between two samples, bisects to the exact change. Checks our
 * offset at every sample and on both sides of every change, and that our
 * "next change" from just before a change is not after it.
 */
static unsigned compare(offset_fn fn, void *ctx, const char *zone,
			const char *glibc_tz, int64_t from, int64_t to,
			int64_t step)
{
	int32_t off;
	int64_t next, t, prev_t = from;
	long prev = glibc_off(glibc_tz, from);
	unsigned changes = 0;

	for (t = from; t < to; t += step + (int64_t)(rnd() % 977)) {
		long g = glibc_off(glibc_tz, t);

		assert_int_equal(fn(ctx, zone, t, &off, &next), 0);
		if (off != g)
			fail_msg("%s at %lld: ours %d, glibc %ld", zone,
				 (long long)t, off, g);
		assert_true(next > t);
		if (g != prev) {
			int64_t lo = prev_t,
				hi = t; /* off(lo)=prev, off(hi)=g */

			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;

				if (glibc_off(glibc_tz, mid) == prev)
					lo = mid;
				else
					hi = mid;
			}
			assert_int_equal(fn(ctx, zone, lo, &off, &next), 0);
			if (off != prev || next > hi)
				fail_msg("%s before change at %lld: off %d "
					 "(glibc %ld), next %lld",
					 zone, (long long)hi, off, prev,
					 (long long)next);
			assert_int_equal(fn(ctx, zone, hi, &off, &next), 0);
			assert_int_equal(off, glibc_off(glibc_tz, hi));
			changes++;
		} else {
			/* no change seen: where we said the offset holds
			 * until, it still holds just before */
			int64_t probe = next - 1 < t + step ? next - 1 : t;

			assert_int_equal(fn(ctx, zone, probe, &off, &next), 0);
			assert_int_equal(off, glibc_off(glibc_tz, probe));
		}
		prev = g;
		prev_t = t;
	}
	return changes;
}

static void check_zone(const char *zone, unsigned min_changes)
{
	struct fl_tzdb *db;
	char tz[160];
	unsigned changes;

	snprintf(tz, sizeof(tz), ":%s", zone);
	assert_int_equal(fl_tzdb_open(&db, NULL, 0), 0);
	changes = compare(db_fn, db, zone, tz, Y1901, Y2100, 5 * 3600);
	assert_true(changes >= min_changes);
	/* far future: the footer rule */
	compare(db_fn, db, zone, tz, 253402300800LL - 86400 * 400LL,
		253402300800LL, 11 * 3600); /* the year 9999 */
	compare(db_fn, db, zone, tz, 32503680000LL,
		32503680000LL + 86400 * 800LL, 7 * 3600); /* 3000-3002 */
	fl_tzdb_free(db);
}

static void test_tzfile__europe_berlin(void **s)
{
	(void)s;
	check_zone("Europe/Berlin", 150);
}

static void test_tzfile__america_new_york(void **s)
{
	(void)s;
	check_zone("America/New_York", 200);
}

static void test_tzfile__australia_lord_howe_half_hour_dst(void **s)
{
	(void)s;
	check_zone("Australia/Lord_Howe", 100);
}

static void test_tzfile__asia_kolkata_and_utc(void **s)
{
	(void)s;
	check_zone("Asia/Kolkata", 3);
	check_zone("UTC", 0);
	check_zone("Etc/GMT+5", 0);
}

static void test_tzfile__more_zones(void **s)
{
	static const char *const zones[] = {
		"Pacific/Chatham",   "America/St_Johns",  "Europe/Dublin",
		"Africa/Casablanca", "America/Sao_Paulo", "Antarctica/Troll",
		"Pacific/Apia",	     "Asia/Tehran",	  "America/Santiago",
		"Australia/Sydney",
	};

	(void)s;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		check_zone(zones[i], 1);
}

static void test_tzfile__posix_strings_match_glibc(void **s)
{
	static const char *const tzs[] = {
		"EST5EDT,M3.2.0,M11.1.0",
		"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
		"IST-5:30",
		"CET-1CEST,M3.5.0,M10.5.0/3",
		"NZST-12NZDT,M9.5.0,M4.1.0/3",
		"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
		"ABC3DEF,J60/2,J300/2",
		"ABC-2DEF-3,59/2,300/1:30",
		"XYZ-3:30XYT,M2.1.0/0,M11.5.6/23:59:59",
	};

	(void)s;
	for (size_t i = 0; i < sizeof(tzs) / sizeof(tzs[0]); i++) {
		compare(posix_fn, NULL, tzs[i], tzs[i], 0, 4102444800LL,
			13 * 3600);
		compare(posix_fn, NULL, tzs[i], tzs[i],
			253402300800LL - 86400 * 400LL, 253402300800LL,
			13 * 3600);
	}
}

/* RFC 8536: DST that starts Jan 1 00:00 and ends Dec 31 24:00 plus the
 * DST shift is in effect all year (glibc disagrees near New Year). */
static void test_tzfile__default_and_all_year_dst_rules(void **s)
{
	int32_t off;
	int64_t next;

	(void)s;
	/* no rule: the US one (glibc would consult its posixrules file) */
	for (int64_t t = 0; t < 4102444800LL; t += 3600 * 5 + 17) {
		int32_t o2;
		int64_t n2;

		assert_int_equal(fl_tz_posix_offset("AAA4BBB", t, &off, &next),
				 0);
		assert_int_equal(fl_tz_posix_offset("AAA4BBB,M3.2.0,M11.1.0", t,
						    &o2, &n2),
				 0);
		assert_int_equal(off, o2);
		assert_int_equal(next, n2);
	}
	for (int64_t t = 0; t < 4102444800LL; t += 3600 * 7 + 13) {
		assert_int_equal(fl_tz_posix_offset("EST5EDT,0/0,J365/25", t,
						    &off, &next),
				 0);
		assert_int_equal(off, -4 * 3600);
	}
}

static void test_tzfile__bad_posix_strings_are_refused(void **s)
{
	static const char *const bad[] = {
		"",
		"E",
		"EST",
		"EST5EDT,",
		"EST5EDT,M3.2.0",
		"EST5EDT,M13.2.0,M11.1.0",
		"EST5EDT,M3.6.0,M11.1.0",
		"EST5EDT,M3.2.7,M11.1.0",
		"EST5EDT,J0,J5",
		"EST5EDT,366,5",
		"<>5",
		"<EST5",
		"EST25",
		"EST5EDT,M3.2.0/168,M11.1.0",
		"EST5EDT,M3.2.0,M11.1.0x",
		"EST5:60",
	};
	int32_t off;
	int64_t next;

	(void)s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fl_tz_posix_offset(bad[i], 0, &off, &next) != FL_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_tzfile__names_that_escape_are_refused(void **s)
{
	static const char *const bad[] = {
		"../etc/passwd",
		"/etc/passwd",
		"Europe/../../etc/passwd",
		"Europe//Berlin",
		".",
		"Europe/.",
		"right/Europe/Berlin",
		"localtime",
		"posixrules",
		"zone.tab",
		"Europe/",
		"-rf",
		"Europe/Berlin\n",
		"",
	};
	struct fl_tzdb *db;
	int32_t off;
	int64_t next;

	(void)s;
	assert_int_equal(fl_tzdb_open(&db, NULL, 0), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fl_tz_name_ok(bad[i]), 0);
		assert_int_equal(fl_tzdb_offset(db, bad[i], 0, &off, &next),
				 FL_ENOENT);
	}
	assert_int_equal(fl_tzdb_offset(db, "Europe", 0, &off, &next),
			 FL_ENOENT); /* a folder */
	assert_int_equal(
		fl_tzdb_offset(db, "Mars/Olympus_Mons", 0, &off, &next),
		FL_ENOENT);
	assert_int_equal(fl_tz_name_ok("America/Argentina/Buenos_Aires"), 1);
	assert_int_equal(fl_tz_name_ok("Etc/GMT-14"), 1);
	fl_tzdb_free(db);
}

static void test_tzfile__cache_is_bounded_and_stays_correct(void **s)
{
	static const char *const zones[] = {"Europe/Berlin", "Asia/Kolkata",
					    "America/New_York", "nope/zone",
					    "Australia/Lord_Howe"};
	struct fl_tzdb *db;
	int32_t off;
	int64_t next;

	(void)s;
	assert_int_equal(fl_tzdb_open(&db, NULL, 2), 0);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < 5; i++) {
			char tz[64];
			int64_t t = 1700000000 + round * 86400 * 37;
			int rc = fl_tzdb_offset(db, zones[i], t, &off, &next);

			if (i == 3) {
				assert_int_equal(rc, FL_ENOENT);
				continue;
			}
			assert_int_equal(rc, 0);
			snprintf(tz, sizeof(tz), ":%s", zones[i]);
			assert_int_equal(off, glibc_off(tz, t));
		}
	}
	fl_tzdb_free(db);
	assert_int_equal(fl_tzdb_open(&db, NULL, FL_TZ_CACHE_MAX + 1),
			 FL_EINVAL);
	assert_null(db);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;

	assert_non_null(f);
	b = malloc(FL_TZ_FILE_MAX);
	assert_non_null(b);
	*len = fread(b, 1, FL_TZ_FILE_MAX, f);
	fclose(f);
	return b;
}

static void test_tzfile__malformed_files_are_refused(void **s)
{
	size_t len;
	uint8_t *b = read_file("/usr/share/zoneinfo/Europe/Berlin", &len);
	uint8_t *c = malloc(len + 1);
	struct fl_tzif *z;
	int32_t off;
	int64_t next;
	int ok = 0;

	(void)s;
	assert_int_equal(fl_tzif_parse(b, len, &z), 0);
	assert_int_equal(fl_tzif_offset(z, 1700000000, &off, &next), 0);
	assert_int_equal(off, 3600);
	fl_tzif_free(z);
	/* every truncation: refused or (past the data) accepted; no crash */
	for (size_t n = 0; n < len; n++) {
		memcpy(c, b, n);
		if (fl_tzif_parse(c, n, &z) == 0) {
			ok++;
			fl_tzif_free(z);
		}
	}
	assert_true(ok <= 1); /* only without the final newline's byte */
	/* every single-byte corruption: whatever it says, it is bounded */
	for (size_t i = 0; i < len; i++) {
		memcpy(c, b, len);
		c[i] ^= 0xa5;
		if (fl_tzif_parse(c, len, &z) == 0) {
			fl_tzif_offset(z, (int64_t)rnd(), &off, &next);
			assert_true(off >= -89999 && off <= 93599);
			fl_tzif_free(z);
		}
	}
	/* huge counts */
	memcpy(c, b, len);
	c[32] = 0x7f; /* timecnt of the v1 header */
	assert_int_equal(fl_tzif_parse(c, len, &z), FL_ETOOBIG);
	/* not TZif */
	assert_int_equal(fl_tzif_parse((const uint8_t *)"TZjf", 4, &z),
			 FL_ECORRUPT);
	assert_int_equal(fl_tzif_parse(b, FL_TZ_FILE_MAX + 1, &z), FL_ETOOBIG);
	free(b);
	free(c);
}

static void test_tzfile__unordered_transitions_are_refused(void **s)
{
	/* a v1 file: 2 transitions, 1 type, "X\0" */
	uint8_t f[44 + 8 + 2 + 6 + 2];

	(void)s;
	memset(f, 0, sizeof(f));
	memcpy(f, "TZif", 4);
	f[35] = 2; /* timecnt */
	f[39] = 1; /* typecnt */
	f[43] = 2; /* charcnt */
	f[44 + 3] = 100;
	f[48 + 3] = 100; /* same instant twice */
	f[60] = 'X';
	struct fl_tzif *z;

	assert_int_equal(fl_tzif_parse(f, sizeof(f), &z), FL_ECORRUPT);
	f[48 + 3] = 200;
	assert_int_equal(fl_tzif_parse(f, sizeof(f), &z), 0);
	fl_tzif_free(z);
	f[52] = 1; /* index 1 of 1 type */
	assert_int_equal(fl_tzif_parse(f, sizeof(f), &z), FL_ECORRUPT);
}

static void test_tzfile__tzdir_is_honoured(void **s)
{
	char dir[] = "/tmp/fl-tzdir-XXXXXX", path[128];
	struct fl_tzdb *db;
	FILE *f;
	size_t len;
	uint8_t *b = read_file("/usr/share/zoneinfo/Asia/Kolkata", &len);
	int32_t off;
	int64_t next;

	(void)s;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/Test", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/Test/Zone", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(b, 1, len, f);
	fclose(f);
	setenv("TZDIR", dir, 1);
	assert_int_equal(fl_tzdb_open(&db, NULL, 0), 0);
	unsetenv("TZDIR");
	assert_int_equal(
		fl_tzdb_offset(db, "Test/Zone", 1700000000, &off, &next), 0);
	assert_int_equal(off, 19800);
	/* no database there: UTC still works */
	assert_int_equal(fl_tzdb_offset(db, "UTC", 1700000000, &off, &next), 0);
	assert_int_equal(off, 0);
	assert_int_equal(next, FL_ENGINE_NEVER);
	assert_int_equal(fl_tzdb_offset(db, "Europe/Berlin", 0, &off, &next),
			 FL_ENOENT);
	fl_tzdb_free(db);
	unlink(path);
	snprintf(path, sizeof(path), "%s/Test", dir);
	rmdir(path);
	rmdir(dir);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tzfile__europe_berlin),
		cmocka_unit_test(test_tzfile__america_new_york),
		cmocka_unit_test(
			test_tzfile__australia_lord_howe_half_hour_dst),
		cmocka_unit_test(test_tzfile__asia_kolkata_and_utc),
		cmocka_unit_test(test_tzfile__more_zones),
		cmocka_unit_test(test_tzfile__posix_strings_match_glibc),
		cmocka_unit_test(test_tzfile__default_and_all_year_dst_rules),
		cmocka_unit_test(test_tzfile__bad_posix_strings_are_refused),
		cmocka_unit_test(test_tzfile__names_that_escape_are_refused),
		cmocka_unit_test(
			test_tzfile__cache_is_bounded_and_stays_correct),
		cmocka_unit_test(test_tzfile__malformed_files_are_refused),
		cmocka_unit_test(
			test_tzfile__unordered_transitions_are_refused),
		cmocka_unit_test(test_tzfile__tzdir_is_honoured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
